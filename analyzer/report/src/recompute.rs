//! A summary recomputed from `frames.csv` alone, for a run folder whose `summary.json` never
//! got written (streamscope killed with SIGKILL, a disk that filled up first): `report DIR`
//! still works on what is there. The numbers come from the same `metrics` functions; what
//! only the run knew (how it ended, the URLs, codecs, bitrate) is missing and said so.

use metrics::quality::{mean_min, pool};
use metrics::stats::distribution;
use metrics::{Delivered, FrameKind, StreamContext, StreamEnd, Transport};

use crate::frames::{FrameRecord, utc};
use crate::summary::{Fps, Role, SCHEMA, StreamSummary, Summary, Versions};

/// What the recomputed summary says about itself.
pub const NOTE: &str = "summary.json was missing: these numbers are recomputed from frames.csv; how the run ended is unknown, so a stream that stopped before the run did is not judged to the end";

/// The summary of `rows` (a `frames.csv`, file order). Streams in order of appearance; the
/// one named `control` (a name no live stream may take) is the control.
pub fn summary(rows: &[FrameRecord]) -> Summary {
    let mut names: Vec<&str> = Vec::new();
    for r in rows {
        if !names.contains(&r.stream.as_str()) {
            names.push(&r.stream);
        }
    }
    let arrivals = rows.iter().filter_map(|r| r.arrival_us);
    let (first, last) = (arrivals.clone().min(), arrivals.max());
    Summary {
        schema: SCHEMA.to_owned(),
        started_at: utc(first.unwrap_or(0)),
        ended_at: utc(last.unwrap_or(0)),
        command: format!("({NOTE})"),
        clock: None,
        interrupted: false,
        versions: Versions::default(),
        fail_if: None,
        vmaf_model: None,
        vmaf_disabled: None,
        pairing: None,
        scaled_to: None,
        clock_sync: None,
        streams: names
            .into_iter()
            .map(|n| stream(n, rows.iter().filter(|r| r.stream == n)))
            .collect(),
    }
}

fn stream<'a>(name: &str, rows: impl Iterator<Item = &'a FrameRecord> + Clone) -> StreamSummary {
    let role = if name == "control" {
        Role::Control
    } else {
        Role::Live
    };
    let mut st = StreamSummary::new(name, role, "");
    st.warnings.push(NOTE.to_owned());
    let kinds: Vec<FrameKind> = rows
        .clone()
        .filter_map(|r| FrameKind::from_event(&r.event))
        .collect();
    let count = |k: FrameKind| kinds.iter().filter(|&&x| x == k).count() as u64;
    st.frames_received = kinds.len() as u64;
    st.duplicated = count(FrameKind::Duplicate);
    st.redelivered = count(FrameKind::Redelivered);
    st.out_of_order = count(FrameKind::OutOfOrder);
    st.stale = count(FrameKind::Stale);
    st.unreadable = kinds.iter().filter(|k| k.is_unreadable()).count() as u64;
    let deliveries: Vec<Delivered> = rows
        .clone()
        .filter_map(|r| {
            Some(Delivered {
                arrival_us: r.arrival_us?,
                frame: r.frame,
                capture_us: r.capture_us,
                kind: FrameKind::from_event(&r.event)?,
            })
        })
        .collect();
    let s = metrics::smoothness(
        &deliveries,
        StreamContext {
            transport: Transport::Continuous,
            end: StreamEnd::Finished,
            control: None,
            max_relative_us: None,
            window: None,
        },
    );
    st.frames_expected = s.loss.expected;
    st.dropped = s.loss.dropped;
    if let Some(t) = &s.timeline {
        let total = |v: &[metrics::timeline::Span]| {
            v.iter().map(|x| x.duration_us).sum::<i64>() as f64 / 1e3
        };
        st.freezes = t.freezes.len() as u64;
        st.freeze_ms_total = total(&t.freezes);
        st.outages = t.outages.len() as u64;
        st.outage_ms_total = total(&t.outages);
    }
    st.fps = s.fps().map(|(mean, min)| Fps { mean, min });
    let col = |f: fn(&FrameRecord) -> Option<i64>| rows.clone().filter_map(f).collect::<Vec<_>>();
    st.latency_ms = distribution(&col(|r| r.latency_us));
    st.relative_latency_ms = distribution(&col(|r| r.relative_latency_us));
    let score = |f: fn(&FrameRecord) -> Option<f64>| rows.clone().filter_map(f).collect::<Vec<_>>();
    st.vmaf = pool(&score(|r| r.vmaf));
    st.psnr_y = mean_min(&score(|r| r.psnr_y));
    st.ssim = mean_min(&score(|r| r.ssim));
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(stream: &str, frame: u64, event: &str) -> FrameRecord {
        let capture = 1_700_000_000_000_000 + frame as i64 * 33_333;
        FrameRecord {
            stream: stream.into(),
            frame: Some(frame),
            capture_us: Some(capture),
            arrival_us: Some(capture + 80_000),
            latency_us: Some(80_000),
            relative_latency_us: None,
            pts_us: None,
            vmaf: None,
            psnr_y: None,
            ssim: None,
            event: event.into(),
        }
    }

    #[test]
    fn counts_drops_and_roles_come_back_from_the_rows() {
        let mut rows: Vec<FrameRecord> = (0..90)
            .filter(|f| !(30..40).contains(f))
            .map(|f| row("cdn", f, ""))
            .collect();
        rows.push(row("cdn", 89, "duplicate"));
        rows.extend((0..90).map(|f| row("control", f, "")));
        let s = summary(&rows);
        let cdn = s.stream("cdn").unwrap();
        assert_eq!(
            (
                cdn.frames_received,
                cdn.dropped,
                cdn.duplicated,
                cdn.frames_expected
            ),
            (81, 10, 1, 90)
        );
        assert_eq!(cdn.role, Role::Live);
        assert_eq!(cdn.latency_ms.unwrap().p50, 80.0);
        assert_eq!(s.stream("control").unwrap().role, Role::Control);
        assert!(cdn.warnings[0].contains("recomputed"));
    }
}
