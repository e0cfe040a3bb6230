//! Parsers for command-line values: picture sizes, durations, bitrates, times, paths.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use generator::PictureSize;

/// `1280x720`: both even (yuv420p), 64–7680 wide, 64–4320 high.
pub fn size(s: &str) -> Result<PictureSize, String> {
    let bad = || format!("invalid size {s:?}: expected WIDTHxHEIGHT, e.g. 1280x720");
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let width: u32 = w.trim().parse().map_err(|_| bad())?;
    let height: u32 = h.trim().parse().map_err(|_| bad())?;
    if !(64..=7680).contains(&width) || !(64..=4320).contains(&height) {
        return Err(format!(
            "invalid size {s:?}: width must be 64–7680 and height 64–4320"
        ));
    }
    if !width.is_multiple_of(2) || !height.is_multiple_of(2) {
        return Err(format!(
            "invalid size {s:?}: width and height must be even (yuv420p)"
        ));
    }
    Ok(PictureSize { width, height })
}

/// The longest duration any option takes (a year): every time computed from one stays far
/// inside what clocks and counters can hold.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

fn bounded(s: &str, d: Duration) -> Result<Duration, String> {
    if d > MAX_DURATION {
        return Err(format!("invalid duration {s:?}: at most a year (366d)"));
    }
    Ok(d)
}

/// A positive duration such as `10s`, `500ms`, `1h 30m`, at most a year.
pub fn duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("invalid duration {s:?} ({e}): expected e.g. 10s, 500ms, 1h"))?;
    if d.is_zero() {
        return Err(format!("invalid duration {s:?}: must be greater than zero"));
    }
    bounded(s, d)
}

/// A duration that may be zero (a delay, a jitter), at most a year.
pub fn delay(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("invalid duration {s:?} ({e}): expected e.g. 0s, 300ms, 1s"))?;
    bounded(s, d)
}

/// A duration that may be negative (`-3ms`), in µs.
pub fn signed_duration_us(s: &str) -> Result<i64, String> {
    let (neg, body) = s.strip_prefix('-').map_or((false, s), |b| (true, b));
    let d = humantime::parse_duration(body.trim())
        .map_err(|e| format!("invalid duration {s:?} ({e}): expected e.g. 12ms or -3ms"))?;
    let d = bounded(s, d)?;
    let us = i64::try_from(d.as_micros()).map_err(|_| format!("duration {s:?} is too long"))?;
    Ok(if neg { -us } else { us })
}

/// Bits per second from `3M`, `800k`, `2500000` (k = 1000, M = 1 000 000); 10 kbit/s–1 Gbit/s.
pub fn bitrate(s: &str) -> Result<u64, String> {
    let bad = || format!("invalid bitrate {s:?}: expected e.g. 3M, 800k or 2500000");
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1_000.0),
        Some((i, 'm' | 'M')) => (&t[..i], 1_000_000.0),
        _ => (t, 1.0),
    };
    let v: f64 = num.parse().map_err(|_| bad())?;
    let bps = (v * mult).round();
    if !(10_000.0..=1e9).contains(&bps) {
        return Err(format!(
            "invalid bitrate {s:?}: must be between 10k and 1000M"
        ));
    }
    Ok(bps as u64)
}

/// Bytes from `10GiB`, `500MiB`, `1G`, `4096` (k/M/G = 1000s, KiB/MiB/GiB = 1024s); at least 1.
pub fn byte_size(s: &str) -> Result<u64, String> {
    let bad = || format!("invalid size {s:?}: expected e.g. 10GiB, 500M or 4096");
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "k" | "K" | "kB" | "KB" => 1_000,
        "M" | "MB" => 1_000_000,
        "G" | "GB" => 1_000_000_000,
        "T" | "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return Err(bad()),
    };
    let n: u64 = num.trim().parse().map_err(|_| bad())?;
    match n.checked_mul(mult) {
        Some(0) => Err(format!("invalid size {s:?}: must be at least 1 byte")),
        Some(b) => Ok(b),
        None => Err(format!("invalid size {s:?}: too large")),
    }
}

/// A margin fraction from the frame's edges: 0 to 0.4.
pub fn margin(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("invalid margin {s:?}: expected a fraction such as 0.1"))?;
    if !(0.0..=0.4).contains(&v) {
        return Err(format!("invalid margin {s:?}: must be between 0 and 0.4"));
    }
    Ok(v)
}

/// A `publish` destination: a URL it can send to, or a folder for live HLS (not empty).
pub fn destination(s: &str) -> Result<String, String> {
    generator::outputs::muxer_for(s).map(|_| s.to_owned())
}

/// An RFC 3339 time such as `2026-11-21T12:00:00Z` or `2026-11-21T13:00:00.5+01:00`.
pub fn utc_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("invalid time {s:?} ({e}): expected RFC 3339, e.g. 2026-11-21T12:00:00Z")
        })
}

/// A fraction in (0, 1], e.g. `0.33`.
pub fn fraction(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("invalid fraction {s:?}: expected e.g. 0.33"))?;
    if !(0.05..=1.0).contains(&v) {
        return Err(format!(
            "invalid fraction {s:?}: must be between 0.05 and 1"
        ));
    }
    Ok(v)
}

/// The UTF-8 text of a path (ffmpeg arguments are passed as text).
pub fn utf8_path<'a>(p: &'a Path, flag: &str) -> anyhow::Result<&'a str> {
    p.to_str()
        .ok_or_else(|| anyhow::anyhow!("{flag} {}: the path is not valid UTF-8", p.display()))
}

/// A parsed `--fail-if` list (one clap value).
#[derive(Clone)]
pub struct Checks(pub Vec<report::thresholds::Check>);

/// `--fail-if "latency.p95>2s,dropped>0"`.
pub fn checks(s: &str) -> Result<Checks, String> {
    report::thresholds::parse(s).map(Checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!(byte_size("10GiB"), Ok(10 << 30));
        assert_eq!(byte_size("500M"), Ok(500_000_000));
        assert_eq!(byte_size("4096"), Ok(4096));
        assert_eq!(byte_size("2 KiB"), Ok(2048));
        assert!(byte_size("0").unwrap_err().contains("at least 1"));
        assert!(byte_size("99999999TiB").unwrap_err().contains("too large"));
        assert!(byte_size("1.5G").is_err() && byte_size("10 parsecs").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(
            size("1280x720"),
            Ok(PictureSize {
                width: 1280,
                height: 720
            })
        );
        assert!(size("641x360").unwrap_err().contains("even"));
        assert!(size("32x32").unwrap_err().contains("64–7680"));
        assert!(size("big").unwrap_err().contains("WIDTHxHEIGHT"));
    }

    #[test]
    fn durations() {
        assert_eq!(duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(duration("0s").unwrap_err().contains("greater than zero"));
        assert!(duration("ten").unwrap_err().contains("invalid duration"));
    }

    #[test]
    fn signed_durations() {
        assert_eq!(signed_duration_us("12ms"), Ok(12_000));
        assert_eq!(signed_duration_us("-3ms"), Ok(-3_000));
        assert_eq!(signed_duration_us("0s"), Ok(0));
        assert!(signed_duration_us("-x").is_err());
    }

    #[test]
    fn bitrates() {
        assert_eq!(bitrate("3M"), Ok(3_000_000));
        assert_eq!(bitrate("800k"), Ok(800_000));
        assert_eq!(bitrate("1.5M"), Ok(1_500_000));
        assert_eq!(bitrate("2500000"), Ok(2_500_000));
        assert!(bitrate("fast").is_err());
        assert!(bitrate("5").unwrap_err().contains("between"));
    }

    #[test]
    fn times() {
        let t = utc_time("2026-11-21T13:00:00.5+01:00").unwrap();
        assert_eq!(t.timestamp_micros(), 1_795_262_400_500_000);
        assert!(utc_time("yesterday").is_err());
    }
}
