//! A finished run read back from its folder (`frames.csv`, `events.csv`, `summary.json`):
//! what plots and `report.html` are drawn from, so a report made at the end of a run and one
//! made later by `streamscope report DIR` are the same.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use metrics::{Delivered, FrameKind};

use crate::Error;
use crate::events;
use crate::frames::{self, FrameRecord, parse_utc_us};
use crate::summary::{Role, StreamSummary, Summary};

/// One `frames.csv` row as the plots need it. `t` is seconds since the run started (arrival
/// time; the PTS for files scored by `streamscope vmaf`, which have no arrival).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    pub t: f64,
    pub frame: Option<u64>,
    pub latency_ms: Option<f64>,
    pub relative_ms: Option<f64>,
    pub vmaf: Option<f64>,
    pub psnr_y: Option<f64>,
    /// What the frame was (None for words of `vmaf`'s that are not a frame kind).
    pub kind: Option<FrameKind>,
    pub arrival_us: Option<i64>,
    pub capture_us: Option<i64>,
}

impl Point {
    /// The frame as the player timeline needs it (rows with an arrival and a kind).
    pub fn delivered(&self) -> Option<Delivered> {
        Some(Delivered {
            arrival_us: self.arrival_us?,
            frame: self.frame,
            capture_us: self.capture_us,
            kind: self.kind?,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub role: Role,
    pub points: Vec<Point>,
    /// Time 0 of `points` (µs UTC): the run's start.
    pub origin_us: Option<i64>,
    /// Received kbit/s per second: (seconds since the start, kbit/s), from `bitrate.csv`.
    pub bitrate: Vec<(f64, f64)>,
    /// A/V offset per beep: (the video frame's PTS in s, audio − video in ms), from `av.csv`.
    pub av: Vec<(f64, f64)>,
}

/// One `events.csv` row, times in seconds since the run started.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub stream: String,
    pub kind: String,
    pub t: f64,
    pub duration_s: f64,
    pub frames: u64,
    pub detail: String,
}

/// One run of a comparison (`streamscope compare`): where it came from and how it was run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub label: String,
    pub dir: String,
    pub started_at: String,
    pub ended_at: String,
    pub command: String,
    pub clock: Option<String>,
    pub vmaf_model: Option<String>,
}

/// `comparison.json`: the runs compared and every stream's summary under `<run>/<stream>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub schema: String,
    pub runs: Vec<RunInfo>,
    pub streams: Vec<StreamSummary>,
}

#[derive(Debug, Clone)]
pub struct Run {
    pub dir: PathBuf,
    /// The folder's name: how `compare` tells runs apart.
    pub label: String,
    pub summary: Summary,
    /// The runs merged into this one (`compare`); empty for a single run.
    pub compared: Vec<RunInfo>,
    /// In `summary.json` order; streams only in `frames.csv` come after.
    pub streams: Vec<Series>,
    pub events: Vec<EventRow>,
    /// Values left out as implausible.
    pub problems: crate::plausible::Problems,
}

impl Run {
    /// Read a run folder. `frames.csv` must exist; `events.csv` is optional (the `vmaf`
    /// command writes none); without `summary.json` the summary is recomputed from the rows.
    pub fn load(dir: &Path) -> Result<Run, Error> {
        let summary_path = dir.join("summary.json");
        let frames_path = dir.join("frames.csv");
        // A run cut off before its summary was written: recomputed from its rows.
        let summary = if !summary_path.exists() && frames_path.exists() {
            let mut rows = frames::read(&frames_path)?;
            let mut ignored = crate::plausible::Problems::default();
            for (i, rec) in rows.iter_mut().enumerate() {
                crate::plausible::frame(rec, i, None, &mut ignored);
            }
            crate::recompute::summary(&rows)
        } else {
            Summary::load(&summary_path)?
        };
        let origin_us = parse_utc_us(&summary.started_at);
        let mut streams: Vec<Series> = summary
            .streams
            .iter()
            .map(|s| Series {
                name: s.name.clone(),
                role: s.role,
                points: Vec::new(),
                origin_us,
                bitrate: Vec::new(),
                av: Vec::new(),
            })
            .collect();
        let mut problems = crate::plausible::Problems::default();
        let mut rows = frames::read(&dir.join("frames.csv"))?;
        for (i, rec) in rows.iter_mut().enumerate() {
            crate::plausible::frame(rec, i, origin_us, &mut problems);
        }
        add_points(rows, origin_us, &mut streams);
        let bitrate_path = dir.join("bitrate.csv");
        if bitrate_path.exists() {
            for b in crate::bitrate::read(&bitrate_path)? {
                let kbps_ok = (0.0..1e7).contains(&b.kbps);
                if let (true, Some(s), Some(at), Some(o)) = (
                    kbps_ok,
                    streams.iter_mut().find(|s| s.name == b.stream),
                    b.start_us().filter(|&t| {
                        origin_us.is_none_or(|o| (t - o).abs() < 366 * 86_400_000_000)
                    }),
                    origin_us,
                ) {
                    s.bitrate.push(((at - o) as f64 / 1e6 + 0.5, b.kbps));
                }
            }
        }
        let av_path = dir.join("av.csv");
        if av_path.exists() {
            // Bounded like every value read back: a week of media time, offsets within 10 s.
            for a in crate::av::read(&av_path)? {
                let t = a.video_pts_us as f64 / 1e6;
                if let (Some(o), Some(s)) = (
                    a.offset_ms.filter(|o| o.abs() < 10_000.0),
                    streams.iter_mut().find(|s| s.name == a.stream),
                ) && t.abs() < 7.0 * 86_400.0
                {
                    s.av.push((t, o));
                }
            }
        }
        let events_path = dir.join("events.csv");
        let events = if events_path.exists() {
            events::read(&events_path)?
                .into_iter()
                .enumerate()
                .filter(|(i, e)| crate::plausible::event(e, *i, origin_us, &mut problems))
                .map(|(_, e)| EventRow {
                    t: match (e.start_us(), origin_us) {
                        (Some(s), Some(o)) => (s - o) as f64 / 1e6,
                        _ => 0.0,
                    },
                    duration_s: e.duration_s(),
                    stream: e.stream,
                    kind: e.kind,
                    frames: e.frames,
                    detail: e.detail,
                })
                .collect()
        } else {
            Vec::new()
        };
        let label = dir
            .canonicalize()
            .unwrap_or_else(|_| dir.to_owned())
            .file_name()
            .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
        Ok(Run {
            dir: dir.to_owned(),
            label,
            summary,
            compared: Vec::new(),
            streams,
            events,
            problems,
        })
    }

    /// The streams that are judged (everything but the control).
    pub fn live(&self) -> impl Iterator<Item = &Series> {
        self.streams.iter().filter(|s| s.role != Role::Control)
    }

    /// What this run was, as one entry of a comparison.
    pub fn info(&self) -> RunInfo {
        let s = &self.summary;
        RunInfo {
            label: self.label.clone(),
            dir: self.dir.display().to_string(),
            started_at: s.started_at.clone(),
            ended_at: s.ended_at.clone(),
            command: s.command.clone(),
            clock: s.clock.clone(),
            vmaf_model: s.vmaf_model.clone(),
        }
    }

    /// Several runs as one, for `compare`: every stream is named `<run label>/<stream>`, so
    /// the same plots and tables draw them side by side; times stay relative to each run's
    /// own start.
    pub fn merge(runs: &[Run]) -> Run {
        let mut streams = Vec::new();
        let mut summaries = Vec::new();
        let mut events = Vec::new();
        for r in runs {
            let name = |s: &str| format!("{}/{s}", r.label);
            for s in &r.streams {
                streams.push(Series {
                    name: name(&s.name),
                    ..s.clone()
                });
                if let Some(v) = r.summary.stream(&s.name) {
                    summaries.push(StreamSummary {
                        name: name(&s.name),
                        ..v.clone()
                    });
                }
            }
            events.extend(r.events.iter().map(|e| EventRow {
                stream: name(&e.stream),
                ..e.clone()
            }));
        }
        let mut summary = match runs.first() {
            Some(r) => r.summary.clone(),
            None => return Run::empty_comparison(),
        };
        summary.streams = summaries;
        summary.fail_if = None;
        Run {
            dir: PathBuf::new(),
            label: "comparison".into(),
            summary,
            compared: runs.iter().map(Run::info).collect(),
            streams,
            events,
            problems: Default::default(),
        }
    }

    fn empty_comparison() -> Run {
        Run {
            dir: PathBuf::new(),
            label: "comparison".into(),
            summary: Summary {
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
                streams: Vec::new(),
            },
            compared: Vec::new(),
            streams: Vec::new(),
            events: Vec::new(),
            problems: Default::default(),
        }
    }

    /// `comparison.json` of a merged run.
    pub fn comparison(&self) -> Comparison {
        Comparison {
            schema: self.summary.schema.clone(),
            runs: self.compared.clone(),
            streams: self.summary.streams.clone(),
        }
    }
}

/// Sort the rows into their streams' points, times in seconds since `origin_us` (the run's
/// start; the PTS for files scored by `streamscope vmaf`, which have no arrival).
fn add_points(rows: Vec<FrameRecord>, origin_us: Option<i64>, streams: &mut Vec<Series>) {
    let mut origin = origin_us;
    let mut index: Option<(String, usize)> = None;
    for rec in rows {
        let t = match (rec.arrival_us, origin) {
            (Some(a), Some(o)) => (a - o) as f64 / 1e6,
            (Some(a), None) => {
                origin = Some(a);
                0.0
            }
            _ => rec.pts_us.map_or(0.0, |p| p as f64 / 1e6),
        };
        let ms = |us: Option<i64>| us.map(|v| v as f64 / 1e3);
        let point = Point {
            t,
            frame: rec.frame,
            latency_ms: ms(rec.latency_us),
            relative_ms: ms(rec.relative_latency_us),
            vmaf: rec.vmaf,
            psnr_y: rec.psnr_y,
            kind: FrameKind::from_event(&rec.event),
            arrival_us: rec.arrival_us,
            capture_us: rec.capture_us,
        };
        // Rows come grouped by stream more often than not: remember the last one's index.
        let i = match &index {
            Some((n, i)) if *n == rec.stream => *i,
            _ => {
                let i = match streams.iter().position(|s| s.name == rec.stream) {
                    Some(i) => i,
                    None => {
                        streams.push(Series {
                            name: rec.stream.clone(),
                            role: Role::Live,
                            points: Vec::new(),
                            origin_us: origin,
                            bitrate: Vec::new(),
                            av: Vec::new(),
                        });
                        streams.len() - 1
                    }
                };
                index = Some((rec.stream.clone(), i));
                i
            }
        };
        streams[i].points.push(point);
    }
    for s in streams.iter_mut() {
        s.origin_us = s.origin_us.or(origin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(frames: &str, events: Option<&str>) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("summary.json"),
            r#"{"schema":"streamscope.summary/1","started_at":"2026-01-01T00:00:00.000000Z",
               "ended_at":"2026-01-01T00:00:09.000000Z","command":"streamscope analyze",
               "versions":{"streamscope":"0.1.0"},
               "streams":[{"name":"live1","role":"live","url":"a","frames_received":2},
                          {"name":"control","role":"control","url":"b","frames_received":1}]}"#,
        )
        .unwrap();
        std::fs::write(d.path().join("frames.csv"), frames).unwrap();
        if let Some(e) = events {
            std::fs::write(d.path().join("events.csv"), e).unwrap();
        }
        d
    }

    const HEADER: &str = "stream,frame,capture_utc,arrival_utc,latency_ms,relative_latency_ms,pts_s,vmaf,psnr_y,ssim,event\n";

    #[test]
    fn rows_land_in_their_stream_with_times_from_the_start() {
        let frames = format!(
            "{HEADER}control,0,,2026-01-01T00:00:01.000000Z,20.000,,0,,,,\n\
             live1,0,,2026-01-01T00:00:01.500000Z,520.000,500.000,0,91.5,40.1,0.99,\n\
             live1,0,,2026-01-01T00:00:01.533000Z,,,0.033,,,,duplicate\n\
             extra,,,,,,,,,,unreadable\n"
        );
        let d = folder(
            &frames,
            Some(
                "stream,kind,start_utc,duration_ms,frames,detail\nlive1,freeze,2026-01-01T00:00:02.000000Z,400.000,12,\n",
            ),
        );
        let run = Run::load(d.path()).unwrap();
        let names: Vec<_> = run.streams.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["live1", "control", "extra"]);
        let live = &run.streams[0].points;
        assert_eq!(live.len(), 2);
        assert!((live[0].t - 1.5).abs() < 1e-9);
        assert_eq!(live[0].relative_ms, Some(500.0));
        assert_eq!(live[0].vmaf, Some(91.5));
        assert_eq!(live[0].kind, Some(FrameKind::New));
        assert_eq!(live[1].kind, Some(FrameKind::Duplicate));
        assert_eq!(run.streams[1].points[0].latency_ms, Some(20.0));
        assert_eq!(run.events.len(), 1);
        assert!((run.events[0].t - 2.0).abs() < 1e-9);
        assert!((run.events[0].duration_s - 0.4).abs() < 1e-9);
        assert_eq!(run.live().count(), 2);
    }

    #[test]
    fn merged_runs_keep_every_stream_under_its_run_label() {
        let d = folder(&format!("{HEADER}live1,0,,,,,0.5,80,,,\n"), None);
        let a = Run::load(d.path()).unwrap();
        let mut b = a.clone();
        b.label = "other".into();
        let m = Run::merge(&[a.clone(), b]);
        let names: Vec<_> = m.streams.iter().map(|s| s.name.clone()).collect();
        assert_eq!(
            names,
            [
                format!("{}/live1", a.label),
                format!("{}/control", a.label),
                "other/live1".into(),
                "other/control".into()
            ]
        );
        assert_eq!(m.summary.streams.len(), 4);
        assert_eq!(m.comparison().runs.len(), 2);
        // No arrival: the PTS is the time axis.
        assert!((a.streams[0].points[0].t - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_folder_without_a_summary_is_a_clear_error() {
        let d = tempfile::tempdir().unwrap();
        let e = Run::load(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("summary.json") && e.contains("run folder"),
            "{e}"
        );
    }
}
