//! Tests of the charts: every chart drawn whatever the run holds.

use super::*;
use crate::run::EventRow;

/// A replay against a clock hours behind the capture: negative latencies, an event off
/// the time axis. Every chart must still be drawn (plotters overflows on such input).
#[test]
fn negative_latencies_and_far_events_are_drawn() {
    const ORIGIN: i64 = 1_800_000_000_000_000;
    let points: Vec<Point> = (0..90u32)
        .map(|i| {
            let t = -10_314.0 + f64::from(i) / 30.0;
            let arrival = ORIGIN + (t * 1e6) as i64;
            Point {
                t,
                frame: Some(i.into()),
                latency_ms: Some(-10_314_000.0),
                relative_ms: Some(0.0),
                vmaf: Some(90.0),
                psnr_y: Some(40.0),
                kind: Some(metrics::FrameKind::New),
                arrival_us: Some(arrival),
                capture_us: Some(arrival + 10_314_000_000),
            }
        })
        .collect();
    let mut summary = crate::summary::Summary {
        schema: crate::summary::SCHEMA.into(),
        started_at: String::new(),
        ended_at: String::new(),
        command: String::new(),
        clock: None,
        interrupted: false,
        versions: Default::default(),
        fail_if: None,
        vmaf_model: None,
        vmaf_disabled: None,
        pairing: None,
        scaled_to: None,
        clock_sync: None,
        streams: vec![crate::summary::StreamSummary::new("live1", Role::Live, "x")],
    };
    summary.streams[0].dropped = 2;
    summary.streams[0].latency_ms = metrics::stats::distribution(&[-10_314_000_000]);
    let run = Run {
        dir: ".".into(),
        label: "r".into(),
        summary,
        compared: Vec::new(),
        streams: vec![Series {
            name: "live1".into(),
            role: Role::Live,
            points,
            origin_us: Some(ORIGIN),
            bitrate: Vec::new(),
            av: Vec::new(),
        }],
        events: vec![EventRow {
            stream: "live1".into(),
            kind: "drop".into(),
            t: 5.0,
            duration_s: 0.066,
            frames: 2,
            detail: String::new(),
        }],
        problems: Default::default(),
    };
    let plots = render(&run, PlotOptions::default()).unwrap();
    assert_eq!(plots.len(), 8);
    assert!(
        plots
            .iter()
            .all(|p| p.svg.starts_with("<svg") && p.png.starts_with(b"\x89PNG"))
    );
}
