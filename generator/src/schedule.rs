//! Frame rates as exact rationals and the timecode schedule t(n) = start + n × frame duration.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A frame rate `num/den` frames per second, kept exact (30000/1001 stays 30000/1001).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRate {
    num: u32,
    den: u32,
}

/// Why a frame rate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameRateError {
    #[error("invalid frame rate {0:?}: expected e.g. 30, 29.97 or 30000/1001")]
    Syntax(String),
    #[error("frame rate {0} is out of range: it must be between 1 and 240 fps")]
    Range(String),
}

impl FrameRate {
    /// A frame rate of `num/den` fps, reduced; 1–240 fps.
    pub fn new(num: u32, den: u32) -> Result<Self, FrameRateError> {
        let text = format!("{num}/{den}");
        if den == 0 || num == 0 {
            return Err(FrameRateError::Range(text));
        }
        let g = gcd(num, den);
        let (num, den) = (num / g, den / g);
        // 1 ≤ num/den ≤ 240, compared without rounding.
        if u64::from(num) < u64::from(den) || u64::from(num) > 240 * u64::from(den) {
            return Err(FrameRateError::Range(text));
        }
        Ok(Self { num, den })
    }

    pub fn num(&self) -> u32 {
        self.num
    }

    pub fn den(&self) -> u32 {
        self.den
    }

    /// The rate as a float, for display and progress only — never for timestamps.
    pub fn as_f64(&self) -> f64 {
        f64::from(self.num) / f64::from(self.den)
    }

    /// Number of whole frames that start within `d` (frame n starts at n × den/num s).
    pub fn frames_in(&self, d: Duration) -> u64 {
        // ceil(d × num / den), in nanoseconds, exact.
        let n = d.as_nanos() * u128::from(self.num);
        let per = 1_000_000_000u128 * u128::from(self.den);
        u64::try_from(n.div_ceil(per)).unwrap_or(u64::MAX)
    }

    /// Frames in `d`, rounded to nearest, at least 1 (used for GOP lengths).
    pub fn frames_rounded(&self, d: Duration) -> u64 {
        let n = d.as_nanos() * u128::from(self.num);
        let per = 1_000_000_000u128 * u128::from(self.den);
        u64::try_from((n + per / 2) / per)
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Offset of frame `n` from the stream start, in µs, rounded to nearest.
    pub fn offset_us(&self, n: u64) -> u64 {
        let num = u128::from(self.num);
        let t = (u128::from(n) * 1_000_000 * u128::from(self.den) + num / 2) / num;
        u64::try_from(t).unwrap_or(u64::MAX)
    }

    /// True when frame `n` starts exactly on a whole second of media time.
    pub fn on_whole_second(&self, n: u64) -> bool {
        (u128::from(n) * u128::from(self.den)) % u128::from(self.num) == 0
    }
}

impl fmt::Display for FrameRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

impl FromStr for FrameRate {
    type Err = FrameRateError;

    /// Accepts `30`, `30000/1001`, and the usual decimal shorthands `23.976`, `29.97`,
    /// `59.94` (meaning the NTSC rates ×1000/1001) or any other decimal (made exact).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || FrameRateError::Syntax(s.to_owned());
        let s = s.trim();
        if let Some((n, d)) = s.split_once('/') {
            let n = n.trim().parse().map_err(|_| syntax())?;
            let d = d.trim().parse().map_err(|_| syntax())?;
            return Self::new(n, d);
        }
        match s {
            "23.976" | "23.98" => return Self::new(24000, 1001),
            "29.97" => return Self::new(30000, 1001),
            "47.952" => return Self::new(48000, 1001),
            "59.94" => return Self::new(60000, 1001),
            "119.88" => return Self::new(120000, 1001),
            _ => {}
        }
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty()
            || frac.len() > 3
            || !(int.chars().chain(frac.chars())).all(|c| c.is_ascii_digit())
        {
            return Err(syntax());
        }
        let scale = 10u32.pow(frac.len() as u32);
        let int: u32 = int.parse().map_err(|_| syntax())?;
        let frac: u32 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| syntax())?
        };
        let num = int
            .checked_mul(scale)
            .and_then(|v| v.checked_add(frac))
            .ok_or_else(|| FrameRateError::Range(s.to_owned()))?;
        Self::new(num, scale)
    }
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// When each frame was captured: frame n at `start_us + n × frame duration`, computed from n
/// alone (no accumulation), so there is no drift over any run length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub start_us: u64,
    pub rate: FrameRate,
}

impl Schedule {
    pub fn new(start_us: u64, rate: FrameRate) -> Self {
        Self { start_us, rate }
    }

    /// Capture time of frame `n` in µs since the Unix epoch.
    pub fn capture_us(&self, n: u64) -> u64 {
        self.start_us.saturating_add(self.rate.offset_us(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fr(s: &str) -> FrameRate {
        s.parse().unwrap()
    }

    #[test]
    fn parses_integer_rational_and_ntsc_shorthands() {
        assert_eq!(fr("30"), FrameRate::new(30, 1).unwrap());
        assert_eq!(fr("30000/1001"), FrameRate::new(30000, 1001).unwrap());
        assert_eq!(fr("29.97"), FrameRate::new(30000, 1001).unwrap());
        assert_eq!(fr("59.94").to_string(), "60000/1001");
        assert_eq!(fr("12.5"), FrameRate::new(25, 2).unwrap());
        assert_eq!(fr("60/2").to_string(), "30");
    }

    #[test]
    fn rejects_nonsense_and_out_of_range() {
        for bad in ["", "abc", "30fps", "1/0", "-5", "1.2345", "30/"] {
            assert!(bad.parse::<FrameRate>().is_err(), "accepted {bad:?}");
        }
        assert!(matches!(
            "0".parse::<FrameRate>(),
            Err(FrameRateError::Range(_))
        ));
        assert!(matches!(
            "241".parse::<FrameRate>(),
            Err(FrameRateError::Range(_))
        ));
        assert!(matches!(
            "1/2".parse::<FrameRate>(),
            Err(FrameRateError::Range(_))
        ));
    }

    #[test]
    fn integer_rate_schedule_is_exact() {
        let s = Schedule::new(1_000_000, fr("30"));
        assert_eq!(s.capture_us(0), 1_000_000);
        assert_eq!(s.capture_us(1), 1_033_333);
        assert_eq!(s.capture_us(2), 1_066_667);
        assert_eq!(s.capture_us(30), 2_000_000);
        assert_eq!(s.capture_us(89), 1_000_000 + 2_966_667);
    }

    #[test]
    fn ntsc_schedule_has_no_drift_over_days() {
        let s = Schedule::new(0, fr("30000/1001"));
        // Every 30000 frames are exactly 1001 s, at any distance from the start.
        for k in [1u64, 10, 1_000, 86_400 / 1001 * 3] {
            assert_eq!(s.capture_us(30_000 * k), 1_001_000_000 * k);
        }
        // Three days of frames: each step is 33366 or 33367 µs, and every timecode is the
        // exactly rounded value of n × 1001/30 ms.
        let frames = 3 * 86_400 * 30_000 / 1001;
        let mut prev = s.capture_us(0);
        for n in (frames - 100_000)..frames {
            let t = s.capture_us(n);
            let exact_x30 = u128::from(n) * 1_001_000; // t × 30, in µs
            assert!((u128::from(t) * 30).abs_diff(exact_x30) <= 15, "frame {n}");
            if n > frames - 100_000 {
                assert!(
                    matches!(t - prev, 33_366 | 33_367),
                    "frame {n} step {}",
                    t - prev
                );
            }
            prev = t;
        }
    }

    #[test]
    fn frame_counts_for_durations() {
        assert_eq!(fr("30").frames_in(Duration::from_secs(3)), 90);
        assert_eq!(
            fr("30000/1001").frames_in(Duration::from_secs(1001)),
            30_000
        );
        assert_eq!(fr("30000/1001").frames_in(Duration::from_secs(10)), 300);
        assert_eq!(fr("30").frames_in(Duration::from_millis(10)), 1);
        assert_eq!(fr("30").frames_rounded(Duration::from_secs(2)), 60);
        assert_eq!(fr("30000/1001").frames_rounded(Duration::from_secs(2)), 60);
        assert_eq!(fr("25").frames_rounded(Duration::from_millis(1)), 1);
    }

    #[test]
    fn whole_seconds_of_media_time() {
        let r = fr("30");
        assert!(r.on_whole_second(0) && r.on_whole_second(30) && !r.on_whole_second(31));
        let r = fr("25/2");
        assert!(r.on_whole_second(25) && !r.on_whole_second(12) && !r.on_whole_second(13));
        let ntsc = fr("30000/1001");
        assert!(ntsc.on_whole_second(30_000) && !ntsc.on_whole_second(30));
    }
}
