//! Clock sync in the run folder: each side's sync (`--ntp`) and the bound it puts on every
//! absolute latency, in `summary.json` and on the page.

use clocksync::SyncReport;
use serde::{Deserialize, Serialize};

/// `summary.json`'s `clock_sync`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClockSync {
    /// The analyzer's arrival clock (`analyze --ntp`); None: not asked.
    #[serde(default)]
    pub analyzer: Option<SyncReport>,
    /// The publisher's capture clock (`publish --ntp --sync-out FILE`, given to `analyze
    /// --publisher-sync FILE`); None: not known.
    #[serde(default)]
    pub publisher: Option<SyncReport>,
    /// Every absolute latency is within ± this of the true one (ms): the sum of both sides'
    /// largest uncertainty. None unless both sides were synced.
    #[serde(default)]
    pub latency_uncertainty_ms: Option<f64>,
    /// The same in words, including what absolute latency assumes when it is not bounded.
    pub note: String,
}

fn synced(r: &Option<SyncReport>) -> Option<(&str, i64)> {
    let r = r.as_ref()?;
    Some((r.latest.as_ref()?.server.as_str(), r.max_uncertainty_us?))
}

fn ms(us: i64) -> f64 {
    us as f64 / 1e3
}

/// Combine both sides' sync into the run's statement about absolute latency.
pub fn clock_sync(analyzer: Option<SyncReport>, publisher: Option<SyncReport>) -> ClockSync {
    let (a, p) = (synced(&analyzer), synced(&publisher));
    let side = |who: &str, s: Option<(&str, i64)>, r: &Option<SyncReport>| match (s, r) {
        (Some((server, u)), _) => format!("{who} synced to {server} (± {:.3} ms)", ms(u)),
        (None, Some(r)) => format!(
            "{who} not synced ({})",
            r.last_error.as_deref().unwrap_or("no NTP server answered")
        ),
        (None, None) => format!("{who} not synced"),
    };
    let (bound, note) = match (a, p) {
        (Some((_, ua)), Some((_, up))) => (
            Some(ms(ua + up)),
            format!(
                "absolute latency ± {:.3} ms: {}, {}",
                ms(ua + up),
                side("analyzer", a, &analyzer),
                side("publisher", p, &publisher)
            ),
        ),
        _ => (
            None,
            format!(
                "absolute latency assumes synced clocks: {}, {}{}",
                side("analyzer", a, &analyzer),
                side("publisher", p, &publisher),
                if publisher.is_none() {
                    " (publish --ntp --sync-out FILE, then analyze --publisher-sync FILE)"
                } else {
                    ""
                }
            ),
        ),
    };
    ClockSync {
        analyzer,
        publisher,
        latency_uncertainty_ms: bound,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clocksync::Estimate;

    fn report(server: &str, uncertainty_us: i64) -> SyncReport {
        let e = Estimate {
            server: server.into(),
            offset_us: 1_000,
            uncertainty_us,
            delay_us: 2 * uncertainty_us,
            samples: 8,
            stratum: 3,
            at_us: 0,
        };
        SyncReport {
            servers: vec![server.into()],
            first: Some(e.clone()),
            latest: Some(e),
            measurements: 1,
            max_uncertainty_us: Some(uncertainty_us),
            ..SyncReport::default()
        }
    }

    #[test]
    fn both_sides_synced_bound_latency_by_the_sum() {
        let c = clock_sync(Some(report("a:123", 400)), Some(report("b:123", 1_100)));
        assert_eq!(c.latency_uncertainty_ms, Some(1.5));
        assert_eq!(
            c.note,
            "absolute latency ± 1.500 ms: analyzer synced to a:123 (± 0.400 ms), publisher synced to b:123 (± 1.100 ms)"
        );
    }

    #[test]
    fn one_side_unsynced_leaves_latency_unbounded_and_says_so() {
        let c = clock_sync(Some(report("a:123", 400)), None);
        assert_eq!(c.latency_uncertainty_ms, None);
        assert!(
            c.note
                .starts_with("absolute latency assumes synced clocks: analyzer synced")
        );
        assert!(c.note.contains("publisher not synced (publish --ntp"));
        let failed = SyncReport {
            last_error: Some("no NTP server answered: x:123: Network".into()),
            failures: 1,
            ..SyncReport::default()
        };
        let c = clock_sync(Some(failed), Some(report("b:123", 10)));
        assert_eq!(c.latency_uncertainty_ms, None);
        assert!(
            c.note
                .contains("analyzer not synced (no NTP server answered: x:123"),
            "{}",
            c.note
        );
        let c = clock_sync(None, None);
        assert_eq!(
            c.note,
            "absolute latency assumes synced clocks: analyzer not synced, publisher not synced (publish --ntp --sync-out FILE, then analyze --publisher-sync FILE)"
        );
    }
}
