//! `summary.json` (schema `streamscope.summary/1`), `summary.csv` and `events.csv` from a
//! finished session. The numbers come from `metrics`; this module only assembles and formats.

use std::path::Path;

use serde::Serialize;

use super::frames::{ms, utc};
use super::writing as io;
use crate::Error;
use crate::metrics::stats::{self, Distribution};
use crate::metrics::{FrameKind, FrameRow};
use crate::session::{ClockMode, Role, SessionResult, StreamResult, VmafRun};
use crate::vmaf::live::Unscored;
use crate::vmaf::{MeanMin, VmafSummary, pool_scores};

pub const SCHEMA: &str = "streamscope.summary/1";
/// A freeze is this many frame intervals without a new frame.
pub const FREEZE_INTERVALS: i64 = 3;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub schema: &'static str,
    pub started_at: String,
    pub ended_at: String,
    pub command: String,
    pub clock: &'static str,
    pub interrupted: bool,
    pub versions: Versions,
    /// The `--fail-if` checks the run was judged by (what `streamscope report` judges by).
    pub fail_if: Option<String>,
    /// The VMAF model, when quality was scored.
    pub vmaf_model: Option<String>,
    /// Why quality was not scored although `--vmaf` asked for it.
    pub vmaf_disabled: Option<String>,
    pub streams: Vec<StreamSummary>,
}

/// What measured: streamscope's version and ffmpeg's `-version` line.
#[derive(Debug, Clone, Serialize)]
pub struct Versions {
    pub streamscope: &'static str,
    pub ffmpeg: Option<String>,
}

impl Versions {
    pub fn of(ffmpeg: &Path) -> Versions {
        Versions {
            streamscope: env!("CARGO_PKG_VERSION"),
            ffmpeg: generator::process::version_line(ffmpeg),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Fps {
    pub mean: f64,
    pub min: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StreamSummary {
    pub name: String,
    pub role: &'static str,
    pub url: String,
    pub error: Option<String>,
    pub codec: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Frame rate the stream declares (delivered fps is `fps`).
    pub fps_nominal: Option<f32>,
    pub bitrate_kbps: Option<u32>,
    pub frames_received: u64,
    pub frames_expected: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub unreadable: u64,
    pub stale: u64,
    pub freezes: u64,
    pub freeze_ms_total: f64,
    pub resolution_changes: u64,
    /// Gaps of ≥ 1 s with no frame at all (source dropped, reader reconnected).
    pub outages: u64,
    pub outage_ms_total: f64,
    pub startup_ms: Option<f64>,
    pub fps: Option<Fps>,
    pub latency_ms: Option<Distribution>,
    pub relative_latency_ms: Option<Distribution>,
    pub vmaf: Option<VmafSummary>,
    pub psnr_y: Option<MeanMin>,
    pub ssim: Option<MeanMin>,
    /// Frames not scored, by reason (live streams of a `--vmaf` run).
    pub vmaf_unscored: Option<Unscored>,
    /// The stream's frames were scaled (bicubic) to this reference size before scoring.
    pub scaled_to: Option<String>,
    /// libvmaf failed for this stream.
    pub vmaf_error: Option<String>,
}

/// One row of `events.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub stream: String,
    pub kind: &'static str,
    pub start_us: i64,
    pub duration_us: i64,
    pub frames: u64,
    /// Free text, e.g. `640x360→320x180` for a resolution change.
    pub detail: String,
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
        role: match s.spec.role {
            Role::Live => "live",
            Role::Control => "control",
        },
        url: s.spec.url.clone(),
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
    let control = result
        .streams
        .iter()
        .find(|s| s.spec.role == Role::Control)
        .map(|s| s.rows.as_slice());
    Summary {
        schema: SCHEMA,
        started_at: utc(result.started_us),
        ended_at: utc(result.ended_us),
        command: command.to_owned(),
        clock: match clock {
            ClockMode::Realtime => "realtime",
            ClockMode::Pts { .. } => "pts",
        },
        interrupted: result.interrupted,
        versions,
        fail_if: None,
        vmaf_model: result
            .vmaf
            .as_ref()
            .filter(|v| v.disabled.is_none())
            .map(|v| v.model.clone()),
        vmaf_disabled: result.vmaf.as_ref().and_then(|v| v.disabled.clone()),
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

pub fn write_json(path: &Path, summary: &Summary) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(summary).map_err(|e| io(path)(e.into()))?;
    std::fs::write(path, text + "\n").map_err(io(path))
}

/// The summary flattened: one row per stream, dotted column names (`latency_ms.p95`); the
/// columns are the union over all streams, empty where a stream has no value.
pub fn write_csv(path: &Path, summary: &Summary) -> Result<(), Error> {
    let mut header: Vec<String> = Vec::new();
    let mut rows: Vec<std::collections::HashMap<String, String>> = Vec::new();
    for s in &summary.streams {
        let value = serde_json::to_value(s).map_err(|e| io(path)(e.into()))?;
        let mut cells = Vec::new();
        flatten("", &value, &mut cells);
        for (k, _) in &cells {
            if !header.contains(k) {
                header.push(k.clone());
            }
        }
        rows.push(cells.into_iter().collect());
    }
    // A key that is a null object in one stream and expanded in another keeps only the
    // expanded columns.
    let expanded: Vec<String> = header.clone();
    header.retain(|k| !expanded.iter().any(|e| e.starts_with(&format!("{k}."))));
    let mut w = csv::Writer::from_path(path).map_err(|e| io(path)(e.into()))?;
    w.write_record(&header).map_err(|e| io(path)(e.into()))?;
    for r in rows {
        let cells: Vec<&str> = header
            .iter()
            .map(|k| r.get(k).map_or("", String::as_str))
            .collect();
        w.write_record(&cells).map_err(|e| io(path)(e.into()))?;
    }
    w.flush().map_err(io(path))
}

/// Nested objects become dotted keys; nulls become empty cells.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Null => out.push((prefix.to_owned(), String::new())),
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

pub fn write_events(path: &Path, events: &[Event]) -> Result<(), Error> {
    let mut w = csv::Writer::from_path(path).map_err(|e| io(path)(e.into()))?;
    w.write_record([
        "stream",
        "kind",
        "start_utc",
        "duration_ms",
        "frames",
        "detail",
    ])
    .map_err(|e| io(path)(e.into()))?;
    for e in events {
        w.write_record([
            e.stream.clone(),
            e.kind.to_owned(),
            utc(e.start_us),
            ms(e.duration_us),
            e.frames.to_string(),
            e.detail.clone(),
        ])
        .map_err(|e| io(path)(e.into()))?;
    }
    w.flush().map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Classifier, FrameArrival};
    use crate::session::StreamSpec;
    use generator::Timecode;

    fn result(name: &str, frames: &[u64]) -> StreamResult {
        let mut c = Classifier::new(0);
        let rows = frames
            .iter()
            .enumerate()
            .map(|(i, &f)| {
                c.push(FrameArrival {
                    seq: i as u64,
                    arrival_us: f as i64 * 33_333 + 100_000,
                    pts_us: None,
                    timecode: Some(Timecode {
                        stream_id: 1,
                        frame: f,
                        capture_us: f * 33_333,
                    }),
                    picture_changed: true,
                    source_size: None,
                })
            })
            .collect();
        StreamResult {
            spec: StreamSpec {
                name: name.into(),
                url: format!("{name}.ts"),
                role: Role::Live,
            },
            info: None,
            rows,
            error: None,
            quality: None,
        }
    }

    #[test]
    fn csv_columns_are_the_union_over_streams() {
        let session = SessionResult {
            started_us: 0,
            ended_us: 1,
            streams: vec![result("broken", &[]), result("good", &[0, 1, 2, 4])],
            interrupted: false,
            vmaf: None,
        };
        let summary = summarize(
            &session,
            "streamscope analyze",
            ClockMode::Realtime,
            Versions::of(std::path::Path::new("ffmpeg")),
        );
        let dir = std::env::temp_dir().join(format!("ss-summary-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("summary.csv");
        write_csv(&path, &summary).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert!(
            header.contains(&"latency_ms.p95") && !header.contains(&"latency_ms"),
            "{header:?}"
        );
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert!(rows.iter().all(|r| r.len() == header.len()));
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        assert_eq!(rows[0][col("latency_ms.p95")], "");
        assert_eq!(rows[1][col("latency_ms.p95")], "100.0");
        assert_eq!(rows[1][col("dropped")], "1");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
