//! The relay's impairment model: fixed delay, jitter (packet order kept), random loss and
//! scheduled outages, as a pure function of arrival times and a seeded PRNG.

use std::time::Duration;

/// A scheduled outage: nothing passes from `start` (after the relay starts) for `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    pub start: Duration,
    pub duration: Duration,
}

impl std::str::FromStr for Outage {
    type Err = String;

    /// `5s@30s`: five seconds of outage, thirty seconds after the start.
    fn from_str(s: &str) -> Result<Self, String> {
        let (d, at) = s
            .split_once('@')
            .ok_or_else(|| format!("outage {s:?}: expected DURATION@START, e.g. 5s@30s"))?;
        let parse = |v: &str| {
            let d = humantime::parse_duration(v.trim())
                .map_err(|e| format!("outage {s:?}: {v:?}: {e}"))?;
            if d > MAX_SCHEDULE {
                return Err(format!("outage {s:?}: {v:?} is more than a year"));
            }
            Ok(d)
        };
        Ok(Self {
            duration: parse(d)?,
            start: parse(at)?,
        })
    }
}

/// Parse a loss rate: `0.5%` or `0.005`.
pub fn parse_loss(s: &str) -> Result<f64, String> {
    let (v, scale) = match s.strip_suffix('%') {
        Some(p) => (p, 100.0),
        None => (s, 1.0),
    };
    let p: f64 = v
        .trim()
        .parse()
        .map_err(|_| format!("loss {s:?}: expected a rate such as 0.5% or 0.005"))?;
    let p = p / scale;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("loss {s:?} is not between 0 and 100%"))
    }
}

/// The longest delay or jitter the relay applies: a packet held longer is a lost one.
pub const MAX_DELAY: Duration = Duration::from_secs(3600);
/// How far ahead an outage can be scheduled (and how long it can last).
pub const MAX_SCHEDULE: Duration = Duration::from_secs(366 * 24 * 3600);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Impairment {
    pub delay: Duration,
    /// Each packet's delay varies uniformly by up to ± this much (never reordering).
    pub jitter: Duration,
    /// Probability that a packet is lost (UDP only).
    pub loss: f64,
    pub outages: Vec<Outage>,
}

impl Impairment {
    /// Refuse values the relay's µs arithmetic could not hold (they wrapped around).
    pub fn check(&self) -> Result<(), String> {
        for (what, d) in [("delay", self.delay), ("jitter", self.jitter)] {
            if d > MAX_DELAY {
                return Err(format!("--{what} {d:?} is more than an hour"));
            }
        }
        if let Some(o) = self
            .outages
            .iter()
            .find(|o| o.start > MAX_SCHEDULE || o.duration > MAX_SCHEDULE)
        {
            return Err(format!("--outage {o:?} is more than a year away or long"));
        }
        Ok(())
    }
}

/// What happens to a packet (or TCP chunk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Send it this many µs after the relay started.
    SendAt(i64),
    Lost,
    /// Arrived during an outage: dropped (UDP) or held until its end (TCP).
    InOutage {
        ends_us: i64,
    },
}

/// SplitMix64: tiny, seeded, good enough to draw jitter and loss reproducibly.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Decides each packet's fate in arrival order.
#[derive(Debug, Clone)]
pub struct Shaper {
    imp: Impairment,
    rng: SplitMix64,
    last_due_us: i64,
}

impl Shaper {
    pub fn new(imp: Impairment, seed: u64) -> Self {
        Self {
            imp,
            rng: SplitMix64(seed),
            last_due_us: 0,
        }
    }

    pub fn fate(&mut self, arrival_us: i64) -> Fate {
        for o in &self.imp.outages {
            let start = o.start.as_micros() as i64;
            let end = start + o.duration.as_micros() as i64;
            if (start..end).contains(&arrival_us) {
                return Fate::InOutage { ends_us: end };
            }
        }
        if self.imp.loss > 0.0 && self.rng.unit() < self.imp.loss {
            return Fate::Lost;
        }
        let jitter = self.imp.jitter.as_micros() as i64;
        let offset = if jitter > 0 {
            (self.rng.unit() * (2 * jitter + 1) as f64) as i64 - jitter
        } else {
            0
        };
        let due = (arrival_us + self.imp.delay.as_micros() as i64 + offset).max(arrival_us);
        // Never before the previous packet: jitter delays, it does not reorder.
        self.last_due_us = due.max(self.last_due_us);
        Fate::SendAt(self.last_due_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn fixed_delay_is_exact() {
        let mut s = Shaper::new(
            Impairment {
                delay: ms(300),
                ..Impairment::default()
            },
            1,
        );
        for t in [0, 1_000, 1_000, 52_345] {
            assert_eq!(s.fate(t), Fate::SendAt(t + 300_000));
        }
    }

    #[test]
    fn jitter_stays_in_bounds_keeps_order_and_centres_on_the_delay() {
        let mut s = Shaper::new(
            Impairment {
                delay: ms(100),
                jitter: ms(20),
                ..Impairment::default()
            },
            7,
        );
        let mut last = 0;
        let mut sum = 0i64;
        let n = 10_000;
        for i in 0..n {
            let t = i * 33_333; // far apart: order-keeping never kicks in
            let Fate::SendAt(due) = s.fate(t) else {
                panic!("no loss configured")
            };
            let d = due - t;
            assert!((80_000..=120_000).contains(&d), "delay {d}");
            assert!(due >= last);
            last = due;
            sum += d;
        }
        let mean = sum / n;
        assert!((mean - 100_000).abs() < 1_000, "mean delay {mean}");
        // Packets 1 µs apart: a later one never leaves before an earlier one.
        let mut last = 0;
        for t in 0..1000 {
            let Fate::SendAt(due) = s.fate(10_000_000 + t) else {
                panic!()
            };
            assert!(due >= last);
            last = due;
        }
    }

    #[test]
    fn loss_rate_and_outages() {
        let mut s = Shaper::new(
            Impairment {
                loss: 0.05,
                outages: vec!["2s@10s".parse().unwrap()],
                ..Impairment::default()
            },
            42,
        );
        let lost = (0..100_000).filter(|&i| s.fate(i) == Fate::Lost).count();
        assert!(
            (4_500..5_500).contains(&lost),
            "{lost} of 100000 lost at 5%"
        );
        assert_eq!(
            s.fate(10_000_000),
            Fate::InOutage {
                ends_us: 12_000_000
            }
        );
        assert_eq!(
            s.fate(11_999_999),
            Fate::InOutage {
                ends_us: 12_000_000
            }
        );
        assert!(matches!(s.fate(12_000_000), Fate::SendAt(_) | Fate::Lost));
    }

    #[test]
    fn parsing() {
        assert_eq!(parse_loss("0.5%"), Ok(0.005));
        assert_eq!(parse_loss("0.25"), Ok(0.25));
        assert!(parse_loss("150%").is_err() && parse_loss("x").is_err());
        assert_eq!(
            "5s@30s".parse::<Outage>(),
            Ok(Outage {
                duration: ms(5000),
                start: ms(30_000)
            })
        );
        assert!("5s".parse::<Outage>().is_err());
    }
}
