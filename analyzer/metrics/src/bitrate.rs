//! Received bitrate: bytes of video per whole second, as the reader received the packets,
//! turned into kbit/s over time and a stream's mean, lowest and highest second.

use std::collections::BTreeMap;

/// kbit/s of one second.
pub fn kbps(bytes: u64) -> f64 {
    bytes as f64 * 8.0 / 1000.0
}

/// (mean, min, max) kbit/s over the complete seconds — every second but the first and the
/// last, which the run cut — or over all of them when there are fewer than three. A stream
/// the run stopped in second `stopped` is judged to that second: a dead stream's rate falls
/// to 0.
pub fn summary(per_second: &BTreeMap<i64, u64>, stopped: Option<i64>) -> Option<(f64, f64, f64)> {
    let first = *per_second.keys().next()?;
    let last = (*per_second.keys().next_back()?).max(stopped.unwrap_or(i64::MIN));
    // Work on the seconds that had packets; a second without any counts as 0 (a stall is part
    // of the rate). Nothing here grows with the span, however far apart the seconds are.
    let (inner, span): (Vec<f64>, i64) = if last - first >= 2 {
        let inner = per_second
            .range(first + 1..last)
            .map(|(_, &b)| kbps(b))
            .collect();
        (inner, last - first - 1)
    } else {
        let all: Vec<f64> = per_second.values().map(|&b| kbps(b)).collect();
        let n = all.len() as i64;
        (all, n)
    };
    let silent = span > inner.len() as i64;
    let mean = inner.iter().sum::<f64>() / span as f64;
    let min = if silent {
        0.0
    } else {
        inner.iter().copied().fold(f64::INFINITY, f64::min)
    };
    let max = inner.iter().copied().fold(0.0, f64::max);
    Some((mean, min, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_seconds_make_the_rate_and_a_silent_second_is_zero() {
        let mut s = BTreeMap::new();
        s.insert(100, 1_000); // cut by the start
        s.insert(101, 250_000);
        s.insert(103, 125_000); // 102: nothing came
        s.insert(104, 10); // cut by the end
        let (mean, min, max) = summary(&s, None).unwrap();
        assert_eq!((min, max), (0.0, 2000.0));
        assert!((mean - 1000.0).abs() < 1e-9, "{mean}");
        assert!(summary(&BTreeMap::new(), None).is_none());
        let one = BTreeMap::from([(5, 1000u64)]);
        assert_eq!(summary(&one, None), Some((8.0, 8.0, 8.0)));
        // Stopped at second 110: 105–109 received nothing.
        let (mean, min, _) = summary(&s, Some(110)).unwrap();
        assert_eq!(min, 0.0);
        assert!(mean < 500.0, "{mean}");
        // Seconds centuries apart (a corrupt clock) cost nothing.
        let far = BTreeMap::from([(0, 1000u64), (1, 1000), (2, 1000)]);
        let (mean, min, _) = summary(&far, Some(1_800_000_000)).unwrap();
        assert_eq!(min, 0.0);
        assert!(mean < 1e-3);
    }
}
