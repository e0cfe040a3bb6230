//! One clock for everything that stamps frames: monotonic, anchored to UTC once, so times
//! never jump with NTP (the publisher's capture times, the analyzer's arrival times).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A monotonic clock anchored to UTC once, so arrival times never jump with NTP.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    anchor: Instant,
    anchor_utc_us: i64,
}

impl WallClock {
    pub fn start() -> Self {
        let utc = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            anchor: Instant::now(),
            anchor_utc_us: i64::try_from(utc.as_micros()).unwrap_or(i64::MAX),
        }
    }

    /// Now, in µs since the Unix epoch.
    pub fn now_us(&self) -> i64 {
        self.at_us(Instant::now())
    }

    /// The monotonic instant `t` in µs since the Unix epoch.
    pub fn at_us(&self, t: Instant) -> i64 {
        self.anchor_utc_us + t.saturating_duration_since(self.anchor).as_micros() as i64
    }

    /// The monotonic instant the clock was anchored at.
    pub fn anchor(&self) -> Instant {
        self.anchor
    }

    pub fn start_us(&self) -> i64 {
        self.anchor_utc_us
    }
}
