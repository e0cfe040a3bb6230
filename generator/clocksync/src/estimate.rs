//! The pure part: from a burst of SNTP samples to one offset and its uncertainty.

use serde::{Deserialize, Serialize};

/// One SNTP exchange, in µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Server time minus local time (θ of RFC 5905).
    pub offset_us: i64,
    /// Round trip, the server's processing time taken out (δ).
    pub delay_us: i64,
    /// The server's own distance to its reference (root delay and root dispersion).
    pub root_delay_us: i64,
    pub root_dispersion_us: i64,
    pub stratum: u8,
}

/// The clock's offset from one server: the burst's minimum-delay sample (its offset is the
/// least disturbed by queueing), with the bound on its error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Estimate {
    /// `HOST:PORT` as given.
    pub server: String,
    /// Add to a local time to get the server's (µs).
    pub offset_us: i64,
    /// |true offset − offset_us| ≤ this: half the round trip (the exchange cannot tell how it
    /// split between the two directions) plus the server's root distance (root delay / 2 +
    /// root dispersion: how far the server itself may be from UTC).
    pub uncertainty_us: i64,
    /// Round trip of the kept sample.
    pub delay_us: i64,
    /// Samples that answered in the burst.
    pub samples: u32,
    pub stratum: u8,
    /// When it was measured, on the local clock (µs since the Unix epoch).
    pub at_us: i64,
}

/// The minimum-delay sample of a burst as an [`Estimate`]; None for an empty burst.
pub fn best_of(server: &str, samples: &[Sample], at_us: i64) -> Option<Estimate> {
    let s = samples.iter().min_by_key(|s| s.delay_us)?;
    let half_trip = (s.delay_us.max(0) + 1) / 2;
    Some(Estimate {
        server: server.to_owned(),
        offset_us: s.offset_us,
        uncertainty_us: half_trip + s.root_delay_us.max(0) / 2 + s.root_dispersion_us.max(0),
        delay_us: s.delay_us,
        samples: samples.len() as u32,
        stratum: s.stratum,
        at_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(offset_us: i64, delay_us: i64) -> Sample {
        Sample {
            offset_us,
            delay_us,
            root_delay_us: 0,
            root_dispersion_us: 0,
            stratum: 2,
        }
    }

    #[test]
    fn the_minimum_delay_sample_is_kept_and_its_half_trip_bounds_it() {
        // A queued reply (delay 9 ms) skews its offset by up to 4.5 ms; the quick one is kept.
        let burst = [
            sample(5_004_000, 9_000),
            sample(5_000_100, 200),
            sample(5_001_000, 2_000),
        ];
        let e = best_of("ntp:123", &burst, 7).unwrap();
        assert_eq!(e.offset_us, 5_000_100);
        assert_eq!(e.delay_us, 200);
        assert_eq!(e.uncertainty_us, 100);
        assert_eq!(e.samples, 3);
        assert_eq!((e.server.as_str(), e.at_us), ("ntp:123", 7));
    }

    #[test]
    fn the_servers_root_distance_adds_to_the_bound() {
        let s = Sample {
            root_delay_us: 10_000,
            root_dispersion_us: 1_500,
            ..sample(-3_000, 301)
        };
        // ⌈301 / 2⌉ + 10 000 / 2 + 1 500
        assert_eq!(
            best_of("s", &[s], 0).unwrap().uncertainty_us,
            151 + 5_000 + 1_500
        );
    }

    #[test]
    fn an_empty_burst_is_no_estimate() {
        assert_eq!(best_of("s", &[], 0), None);
    }
}
