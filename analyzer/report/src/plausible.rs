//! What a run folder read back may hold: a folder edited by hand, corrupted, or made by a
//! machine whose clock was wrong can say anything, and plots must neither allocate nor draw
//! without bound. Each cell outside what a run can produce is left out and reported (file,
//! row, column, value), never followed.

use crate::events::EventRecord;
use crate::frames::FrameRecord;

/// Times more than this far from the run's start are not of this run.
const SPAN_US: i64 = 366 * 24 * 3600 * 1_000_000;
/// Latencies beyond a week are a clock or a file gone wrong.
const LATENCY_US: i64 = 7 * 24 * 3600 * 1_000_000;
/// Without a start, times outside 2000–2100 (µs UTC).
const EARLIEST_US: i64 = 946_684_800_000_000;
const LATEST_US: i64 = 4_102_444_800_000_000;

/// Problems found, the first `MAX_LISTED` of them in full.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Problems {
    pub listed: Vec<String>,
    pub total: usize,
}

const MAX_LISTED: usize = 20;

impl Problems {
    fn add(&mut self, what: impl FnOnce() -> String) {
        self.total += 1;
        if self.listed.len() < MAX_LISTED {
            self.listed.push(what());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// One line per problem listed, and how many more there were.
    pub fn lines(&self) -> Vec<String> {
        let mut out = self.listed.clone();
        if self.total > self.listed.len() {
            out.push(format!("… and {} more", self.total - self.listed.len()));
        }
        out
    }
}

fn time_ok(us: i64, origin: Option<i64>) -> bool {
    match origin {
        Some(o) => (us - o).abs() <= SPAN_US,
        None => (EARLIEST_US..=LATEST_US).contains(&us),
    }
}

/// Leave the implausible cells of the `frames.csv` row at index `row` (0: the first after the
/// header, on line 2) out of `rec`.
pub fn frame(rec: &mut FrameRecord, row: usize, origin: Option<i64>, p: &mut Problems) {
    let mut check_time = |name: &str, v: &mut Option<i64>| {
        if let Some(us) = *v
            && !time_ok(us, origin)
        {
            p.add(|| {
                format!(
                    "frames.csv line {}: {name} {} is not a time of this run; left out",
                    row + 2,
                    crate::frames::utc(us)
                )
            });
            *v = None;
        }
    };
    check_time("arrival_utc", &mut rec.arrival_us);
    check_time("capture_utc", &mut rec.capture_us);
    let mut check_span = |name: &str, v: &mut Option<i64>, limit: i64| {
        if let Some(us) = *v
            && us.abs() > limit
        {
            p.add(|| {
                format!(
                    "frames.csv line {}: {name} {} s is implausible; left out",
                    row + 2,
                    us / 1_000_000
                )
            });
            *v = None;
        }
    };
    check_span("latency_ms", &mut rec.latency_us, LATENCY_US);
    check_span(
        "relative_latency_ms",
        &mut rec.relative_latency_us,
        LATENCY_US,
    );
    check_span("pts_s", &mut rec.pts_us, SPAN_US);
    let mut check_score = |name: &str, v: &mut Option<f64>, lo: f64, hi: f64| {
        if let Some(x) = *v
            && !(lo..=hi).contains(&x)
        {
            p.add(|| {
                format!(
                    "frames.csv line {}: {name} {x:.4e} is out of range; left out",
                    row + 2
                )
            });
            *v = None;
        }
    };
    check_score("vmaf", &mut rec.vmaf, 0.0, 110.0);
    check_score("psnr_y", &mut rec.psnr_y, 0.0, 200.0);
    check_score("ssim", &mut rec.ssim, -1.0, 1.0001);
}

/// Whether the `events.csv` row at index `row` (on line `row + 2`) can be drawn (a time of this run, a duration within it).
pub fn event(e: &EventRecord, row: usize, origin: Option<i64>, p: &mut Problems) -> bool {
    let ok = e.start_us().is_some_and(|t| time_ok(t, origin))
        && (0.0..=SPAN_US as f64 / 1e6).contains(&e.duration_s());
    if !ok {
        p.add(|| {
            format!(
                "events.csv line {}: {} at {} lasting {} ms is not of this run; left out",
                row + 2,
                e.kind,
                e.start_utc,
                e.duration_ms
            )
        });
    }
    ok
}

/// A number from `summary.json` drawn in a chart (finite and of a size a run can produce).
pub fn drawable(v: f64) -> Option<f64> {
    (v.is_finite() && v.abs() < 1e12).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_times_and_huge_values_are_left_out_and_reported() {
        let origin = 1_795_262_400_000_000;
        let mut rec = FrameRecord {
            stream: "live1".into(),
            arrival_us: Some(253_402_300_799_000_000), // 9999-12-31
            capture_us: Some(origin),
            latency_us: Some(i64::MAX / 2),
            relative_latency_us: Some(250_000),
            vmaf: Some(1e308),
            ..FrameRecord::default()
        };
        let mut p = Problems::default();
        frame(&mut rec, 2, Some(origin), &mut p);
        assert_eq!(rec.arrival_us, None);
        assert_eq!(rec.capture_us, Some(origin));
        assert_eq!(rec.latency_us, None);
        assert_eq!(rec.relative_latency_us, Some(250_000));
        assert_eq!(rec.vmaf, None);
        assert_eq!(p.total, 3);
        assert!(
            p.listed[0].contains("line 4") && p.listed[0].contains("arrival_utc"),
            "{p:?}"
        );
        assert_eq!(drawable(-1e308), None);
        assert_eq!(drawable(512.0), Some(512.0));
    }
}
