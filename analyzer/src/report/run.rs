//! A finished run read back from its folder (`frames.csv`, `events.csv`, `summary.json`):
//! what plots and `report.html` are drawn from, so a report made at the end of a run and one
//! made later by `streamscope report DIR` are the same.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::Error;

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
    /// A first sighting of its frame number (no `event`).
    pub new_frame: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// `live` or `control`.
    pub role: String,
    pub points: Vec<Point>,
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

#[derive(Debug, Clone)]
pub struct Run {
    pub dir: PathBuf,
    /// The folder's name: how `compare` tells runs apart.
    pub label: String,
    pub summary: Value,
    /// In `summary.json` order; streams only in `frames.csv` come after.
    pub streams: Vec<Series>,
    pub events: Vec<EventRow>,
}

fn bad(path: &Path, reason: impl ToString) -> Error {
    Error::RunFolder {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Microseconds since the epoch of an RFC 3339 time.
pub fn parse_utc_us(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_micros())
}

impl Run {
    /// Read a run folder. `summary.json` and `frames.csv` must exist; `events.csv` is optional
    /// (the `vmaf` command writes none).
    pub fn load(dir: &Path) -> Result<Run, Error> {
        let summary_path = dir.join("summary.json");
        let text = std::fs::read_to_string(&summary_path).map_err(|e| {
            bad(
                &summary_path,
                format!("{e} (is this a streamscope run folder?)"),
            )
        })?;
        let summary: Value =
            serde_json::from_str(&text).map_err(|e| bad(&summary_path, e.to_string()))?;
        if !summary["schema"]
            .as_str()
            .is_some_and(|s| s.starts_with("streamscope.summary/"))
        {
            return Err(bad(&summary_path, "not a streamscope summary (no schema)"));
        }
        let origin_us = summary["started_at"].as_str().and_then(parse_utc_us);
        let mut streams: Vec<Series> = summary["streams"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|s| Series {
                name: s["name"].as_str().unwrap_or_default().to_owned(),
                role: s["role"].as_str().unwrap_or("live").to_owned(),
                points: Vec::new(),
            })
            .collect();
        read_frames(&dir.join("frames.csv"), origin_us, &mut streams)?;
        let events_path = dir.join("events.csv");
        let events = if events_path.exists() {
            read_events(&events_path, origin_us)?
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
            streams,
            events,
        })
    }

    /// The summary of stream `name`.
    pub fn stream_summary(&self, name: &str) -> Option<&Value> {
        self.summary["streams"]
            .as_array()?
            .iter()
            .find(|s| s["name"] == name)
    }

    /// The streams that are judged (everything but the control).
    pub fn live(&self) -> impl Iterator<Item = &Series> {
        self.streams.iter().filter(|s| s.role != "control")
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
                if let Some(v) = r.stream_summary(&s.name) {
                    let mut v = v.clone();
                    v["name"] = Value::String(name(&s.name));
                    summaries.push(v);
                }
            }
            events.extend(r.events.iter().map(|e| EventRow {
                stream: name(&e.stream),
                ..e.clone()
            }));
        }
        let first = runs.first().map(|r| &r.summary);
        let mut summary = serde_json::json!({
            "schema": first.and_then(|s| s["schema"].as_str()).unwrap_or("streamscope.summary/1"),
            "runs": runs.iter().map(|r| serde_json::json!({
                "label": r.label,
                "dir": r.dir.display().to_string(),
                "started_at": r.summary["started_at"],
                "ended_at": r.summary["ended_at"],
                "command": r.summary["command"],
                "clock": r.summary["clock"],
                "vmaf_model": r.summary["vmaf_model"],
            })).collect::<Vec<_>>(),
        });
        summary["streams"] = Value::Array(summaries);
        Run {
            dir: PathBuf::new(),
            label: "comparison".into(),
            summary,
            streams,
            events,
        }
    }
}

fn cell<'a>(rec: &'a csv::StringRecord, header: &csv::StringRecord, name: &str) -> &'a str {
    header
        .iter()
        .position(|h| h == name)
        .and_then(|i| rec.get(i))
        .unwrap_or("")
}

fn num(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn read_frames(
    path: &Path,
    origin_us: Option<i64>,
    streams: &mut Vec<Series>,
) -> Result<(), Error> {
    let mut r = csv::Reader::from_path(path).map_err(|e| bad(path, e))?;
    let header = r.headers().map_err(|e| bad(path, e))?.clone();
    if !header.iter().any(|h| h == "stream") {
        return Err(bad(
            path,
            "no `stream` column: not a streamscope frames.csv",
        ));
    }
    let mut origin = origin_us;
    let mut index: Option<(String, usize)> = None;
    for rec in r.records() {
        let rec = rec.map_err(|e| bad(path, e))?;
        let name = cell(&rec, &header, "stream");
        let arrival = parse_utc_us(cell(&rec, &header, "arrival_utc"));
        let t = match (arrival, origin) {
            (Some(a), Some(o)) => (a - o) as f64 / 1e6,
            (Some(a), None) => {
                origin = Some(a);
                0.0
            }
            _ => num(cell(&rec, &header, "pts_s")).unwrap_or(0.0),
        };
        let point = Point {
            t,
            frame: cell(&rec, &header, "frame").parse().ok(),
            latency_ms: num(cell(&rec, &header, "latency_ms")),
            relative_ms: num(cell(&rec, &header, "relative_latency_ms")),
            vmaf: num(cell(&rec, &header, "vmaf")),
            psnr_y: num(cell(&rec, &header, "psnr_y")),
            new_frame: cell(&rec, &header, "event").is_empty(),
        };
        // Rows come grouped by stream more often than not: remember the last one's index.
        let i = match &index {
            Some((n, i)) if n == name => *i,
            _ => {
                let i = match streams.iter().position(|s| s.name == name) {
                    Some(i) => i,
                    None => {
                        streams.push(Series {
                            name: name.to_owned(),
                            role: "live".into(),
                            points: Vec::new(),
                        });
                        streams.len() - 1
                    }
                };
                index = Some((name.to_owned(), i));
                i
            }
        };
        streams[i].points.push(point);
    }
    Ok(())
}

fn read_events(path: &Path, origin_us: Option<i64>) -> Result<Vec<EventRow>, Error> {
    let mut r = csv::Reader::from_path(path).map_err(|e| bad(path, e))?;
    let header = r.headers().map_err(|e| bad(path, e))?.clone();
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| bad(path, e))?;
        let start = parse_utc_us(cell(&rec, &header, "start_utc"));
        out.push(EventRow {
            stream: cell(&rec, &header, "stream").to_owned(),
            kind: cell(&rec, &header, "kind").to_owned(),
            t: match (start, origin_us) {
                (Some(s), Some(o)) => (s - o) as f64 / 1e6,
                _ => 0.0,
            },
            duration_s: num(cell(&rec, &header, "duration_ms")).unwrap_or(0.0) / 1e3,
            frames: cell(&rec, &header, "frames").parse().unwrap_or(0),
            detail: cell(&rec, &header, "detail").to_owned(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(frames: &str, events: Option<&str>) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("summary.json"),
            r#"{"schema":"streamscope.summary/1","started_at":"2026-01-01T00:00:00.000000Z",
               "streams":[{"name":"live1","role":"live"},{"name":"control","role":"control"}]}"#,
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
        assert!(live[0].new_frame && !live[1].new_frame);
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
        assert_eq!(m.summary["streams"].as_array().unwrap().len(), 4);
        assert_eq!(m.summary["runs"].as_array().unwrap().len(), 2);
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
