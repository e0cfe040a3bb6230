//! A finished session turned into the run folder's summary and events: the numbers come
//! from `metrics`, the types from `report`; this module only assembles them.

use std::path::Path;

use metrics::quality::{mean_min, pool};
use metrics::stats::{self, FREEZE_INTERVALS};
use metrics::{FrameKind, FrameRow, MeanMin, VmafSummary};
use report::summary::{Fps, SCHEMA, StreamSummary, Summary, Unscored, Versions};
use report::{Event, Role};

use crate::quality::FrameScores;
use crate::session::{ClockMode, SessionResult, StreamResult, VmafRun};

/// What measured: streamscope's version and ffmpeg's `-version` line.
pub fn versions(ffmpeg: &Path) -> Versions {
    Versions {
        streamscope: env!("CARGO_PKG_VERSION").to_owned(),
        ffmpeg: generator::process::version_line(ffmpeg),
    }
}

/// VMAF, PSNR-Y and SSIM pooled over the scored frames of a stream.
pub struct Pooled {
    pub vmaf: Option<VmafSummary>,
    pub psnr_y: Option<MeanMin>,
    pub ssim: Option<MeanMin>,
}

pub fn pool_scores(scores: &[FrameScores]) -> Pooled {
    let pick = |f: fn(&FrameScores) -> f64| scores.iter().map(f).collect::<Vec<_>>();
    Pooled {
        vmaf: pool(&pick(|s| s.vmaf)),
        psnr_y: mean_min(&pick(|s| s.psnr_y)),
        ssim: mean_min(&pick(|s| s.ssim)),
    }
}

/// Quality of one stream: scores pooled in delivery order.
struct QualityCells {
    vmaf: Option<VmafSummary>,
    psnr_y: Option<MeanMin>,
    ssim: Option<MeanMin>,
    unscored: Option<Unscored>,
    scaled_to: Option<String>,
    error: Option<String>,
}

fn quality_cells(s: &StreamResult, vmaf: Option<&VmafRun>) -> QualityCells {
    let Some(q) = &s.quality else {
        return QualityCells {
            vmaf: None,
            psnr_y: None,
            ssim: None,
            unscored: None,
            scaled_to: None,
            error: None,
        };
    };
    let scores: Vec<_> = s
        .rows
        .iter()
        .filter_map(|r| q.scores.get(&r.arrival.seq).copied())
        .collect();
    let pooled = pool_scores(&scores);
    let size = vmaf.and_then(|v| v.size);
    let scaled = size.filter(|&(w, h)| {
        s.rows.iter().any(|r| {
            r.arrival
                .source_size
                .is_some_and(|z| z != (w as u32, h as u32))
        })
    });
    QualityCells {
        vmaf: pooled.vmaf,
        psnr_y: pooled.psnr_y,
        ssim: pooled.ssim,
        unscored: Some(q.unscored),
        scaled_to: scaled.map(|(w, h)| format!("{w}x{h}")),
        error: q.error.as_ref().map(ToString::to_string),
    }
}

fn stream_summary(
    started_us: i64,
    s: &StreamResult,
    control: Option<&[FrameRow]>,
    vmaf: Option<&VmafRun>,
) -> StreamSummary {
    let quality = quality_cells(s, vmaf);
    let rows = &s.rows;
    let (expected, dropped) = stats::drops(rows);
    let interval = stats::frame_interval_us(rows);
    let freezes = interval
        .map(|i| stats::freezes(rows, i, FREEZE_INTERVALS))
        .unwrap_or_default();
    let outages = stats::outages(rows, interval.unwrap_or(0));
    let latencies: Vec<i64> = rows.iter().filter_map(|r| r.latency_us).collect();
    let relative = control.map(|c| {
        let map = stats::first_arrivals(c);
        rows.iter()
            .filter_map(|r| stats::relative_latency_us(r, &map))
            .collect::<Vec<_>>()
    });
    StreamSummary {
        name: s.spec.name.clone(),
        role: s.spec.role,
        url: s.spec.input.url().to_owned(),
        error: s.error.as_ref().map(ToString::to_string),
        codec: s.info.as_ref().map(|i| i.codec.clone()),
        width: s.info.as_ref().map(|i| i.width),
        height: s.info.as_ref().map(|i| i.height),
        fps_nominal: s.info.as_ref().map(|i| i.fps).filter(|f| *f > 0.0),
        bitrate_kbps: s.info.as_ref().and_then(|i| i.bitrate_kbps),
        frames_received: rows.len() as u64,
        frames_expected: expected,
        dropped,
        duplicated: stats::count(rows, FrameKind::Duplicate),
        out_of_order: stats::count(rows, FrameKind::OutOfOrder),
        unreadable: stats::count(rows, FrameKind::Unreadable),
        stale: stats::count(rows, FrameKind::Stale),
        freezes: freezes.len() as u64,
        freeze_ms_total: freezes.iter().map(|f| f.duration_us).sum::<i64>() as f64 / 1e3,
        resolution_changes: stats::resolution_changes(rows).len() as u64,
        outages: outages.len() as u64,
        outage_ms_total: outages.iter().map(|o| o.duration_us).sum::<i64>() as f64 / 1e3,
        startup_ms: rows
            .first()
            .map(|r| (r.arrival.arrival_us - started_us) as f64 / 1e3),
        fps: stats::delivered_fps(rows).map(|(mean, min)| Fps { mean, min }),
        latency_ms: stats::distribution(&latencies),
        relative_latency_ms: relative.as_deref().and_then(stats::distribution),
        vmaf: quality.vmaf,
        psnr_y: quality.psnr_y,
        ssim: quality.ssim,
        vmaf_unscored: quality.unscored,
        scaled_to: quality.scaled_to,
        vmaf_error: quality.error,
        frames_scored: None,
        unscored: None,
    }
}

/// Drops and freezes of one stream as events.
pub fn stream_events(s: &StreamResult) -> Vec<Event> {
    let interval = stats::frame_interval_us(&s.rows).unwrap_or(0);
    let mut events: Vec<Event> = s
        .rows
        .iter()
        .filter(|r| r.gap_before > 0)
        .map(|r| Event {
            stream: s.spec.name.clone(),
            kind: "drop",
            start_us: r.arrival.arrival_us,
            duration_us: r.gap_before as i64 * interval,
            frames: r.gap_before,
            detail: String::new(),
        })
        .collect();
    if interval > 0 {
        events.extend(
            stats::freezes(&s.rows, interval, FREEZE_INTERVALS)
                .into_iter()
                .map(|f| Event {
                    stream: s.spec.name.clone(),
                    kind: "freeze",
                    start_us: f.start_us,
                    duration_us: f.duration_us,
                    frames: (f.duration_us / interval) as u64,
                    detail: String::new(),
                }),
        );
    }
    events.extend(
        stats::outages(&s.rows, interval)
            .into_iter()
            .map(|o| Event {
                stream: s.spec.name.clone(),
                kind: "outage",
                start_us: o.start_us,
                duration_us: o.duration_us,
                frames: 0,
                detail: String::new(),
            }),
    );
    events.extend(
        stats::resolution_changes(&s.rows)
            .into_iter()
            .map(|c| Event {
                stream: s.spec.name.clone(),
                kind: "resolution_change",
                start_us: s.rows[c.row].arrival.arrival_us,
                duration_us: 0,
                frames: 0,
                detail: format!("{}x{}→{}x{}", c.from.0, c.from.1, c.to.0, c.to.1),
            }),
    );
    events.sort_by_key(|e| e.start_us);
    events
}

/// The whole summary of a session.
pub fn summarize(
    result: &SessionResult,
    command: &str,
    clock: ClockMode,
    versions: Versions,
) -> Summary {
    use report::frames::utc;
    let control = result
        .streams
        .iter()
        .find(|s| s.spec.role == Role::Control)
        .map(|s| s.rows.as_slice());
    Summary {
        schema: SCHEMA.to_owned(),
        started_at: utc(result.started_us),
        ended_at: utc(result.ended_us),
        command: command.to_owned(),
        clock: Some(clock.name().to_owned()),
        interrupted: result.interrupted,
        versions,
        fail_if: None,
        vmaf_model: result
            .vmaf
            .as_ref()
            .filter(|v| v.disabled.is_none())
            .map(|v| v.model.clone()),
        vmaf_disabled: result.vmaf.as_ref().and_then(|v| v.disabled.clone()),
        pairing: None,
        scaled_to: None,
        streams: result
            .streams
            .iter()
            .map(|s| {
                stream_summary(
                    result.started_us,
                    s,
                    control.filter(|_| s.spec.role == Role::Live),
                    result.vmaf.as_ref(),
                )
            })
            .collect(),
    }
}
