//! `frames.csv`: one row per received frame per stream, written as measured and flushed at
//! least every second, so an interrupted run leaves a valid file.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::Error;
use generator::Timecode;

use crate::metrics::FrameRow;
use crate::session::SessionResult;
use crate::vmaf::FrameScores;

pub const FRAMES_HEADER: [&str; 11] = [
    "stream",
    "frame",
    "capture_utc",
    "arrival_utc",
    "latency_ms",
    "relative_latency_ms",
    "pts_s",
    "vmaf",
    "psnr_y",
    "ssim",
    "event",
];

pub use generator::signal::utc_rfc3339 as utc;

/// µs as milliseconds with three decimals (exact).
pub fn ms(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let a = us.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

/// What one `frames.csv` row holds; `record` lays it out in `FRAMES_HEADER` order, the one
/// place that order is spelled out.
#[derive(Debug, Clone, Default)]
pub struct FrameCells<'a> {
    pub stream: &'a str,
    pub timecode: Option<Timecode>,
    pub arrival_us: Option<i64>,
    pub latency_us: Option<i64>,
    pub relative_latency_us: Option<i64>,
    pub pts_us: Option<i64>,
    pub scores: Option<FrameScores>,
    pub event: &'a str,
}

impl FrameCells<'_> {
    pub fn record(&self) -> [String; 11] {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let score =
            |f: fn(&FrameScores) -> f64| opt(self.scores.as_ref().map(|s| format!("{:.6}", f(s))));
        [
            self.stream.to_owned(),
            opt(self.timecode.map(|t| t.frame.to_string())),
            opt(self.timecode.map(|t| utc(t.capture_us as i64))),
            opt(self.arrival_us.map(utc)),
            opt(self.latency_us.map(ms)),
            opt(self.relative_latency_us.map(ms)),
            opt(self.pts_us.map(|p| format!("{:.6}", p as f64 / 1e6))),
            score(|s| s.vmaf),
            score(|s| s.psnr_y),
            score(|s| s.ssim),
            self.event.to_owned(),
        ]
    }
}

/// The cells of one measured row, in `FRAMES_HEADER` order.
pub fn row_cells(stream: &str, row: &FrameRow, scores: Option<FrameScores>) -> [String; 11] {
    FrameCells {
        stream,
        timecode: row.arrival.timecode,
        arrival_us: Some(row.arrival.arrival_us),
        latency_us: row.latency_us,
        relative_latency_us: row.relative_latency_us,
        pts_us: row.arrival.pts_us,
        scores,
        event: row.kind.event(),
    }
    .record()
}

pub struct FramesCsv {
    out: csv::Writer<BufWriter<File>>,
    last_flush: Instant,
    path: String,
}

impl FramesCsv {
    pub fn create(path: &Path) -> Result<Self, Error> {
        let io = |source| Error::Io {
            what: format!("writing {}", path.display()),
            source,
        };
        let file = File::create(path).map_err(io)?;
        let mut out = csv::Writer::from_writer(BufWriter::new(file));
        out.write_record(FRAMES_HEADER).map_err(|e| io(e.into()))?;
        out.flush().map_err(io)?;
        Ok(Self {
            out,
            last_flush: Instant::now(),
            path: path.display().to_string(),
        })
    }

    pub fn write(&mut self, stream: &str, row: &FrameRow) -> Result<(), Error> {
        self.out
            .write_record(row_cells(stream, row, None))
            .map_err(|e| self.io(e.into()))?;
        if self.last_flush.elapsed() >= Duration::from_secs(1) {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), Error> {
        self.last_flush = Instant::now();
        self.out.flush().map_err(|e| self.io(e))
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            what: format!("writing {}", self.path),
            source,
        }
    }
}

/// Rewrite `frames.csv` with the quality columns filled (per-frame scores exist only after
/// libvmaf's final flush). Rows in arrival order; written beside the file and renamed over
/// it, so a failed rewrite leaves the streamed file as it was.
pub fn rewrite_with_scores(path: &Path, result: &SessionResult) -> Result<(), Error> {
    let tmp = path.with_extension("csv.tmp");
    let io = |source| Error::Io {
        what: format!("writing {}", tmp.display()),
        source,
    };
    let mut rows: Vec<(&str, &FrameRow, Option<FrameScores>)> = result
        .streams
        .iter()
        .flat_map(|s| {
            s.rows.iter().map(move |r| {
                let scores = s
                    .quality
                    .as_ref()
                    .and_then(|q| q.scores.get(&r.arrival.seq).copied());
                (s.spec.name.as_str(), r, scores)
            })
        })
        .collect();
    rows.sort_by_key(|(_, r, _)| r.arrival.arrival_us);
    let mut out = csv::Writer::from_writer(BufWriter::new(File::create(&tmp).map_err(io)?));
    out.write_record(FRAMES_HEADER).map_err(|e| io(e.into()))?;
    for (stream, row, scores) in rows {
        out.write_record(row_cells(stream, row, scores))
            .map_err(|e| io(e.into()))?;
    }
    out.flush().map_err(io)?;
    drop(out);
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Classifier, FrameArrival};
    use generator::Timecode;

    #[test]
    fn cells_of_a_new_frame_and_an_unreadable_one() {
        let mut c = Classifier::new(0);
        let tc = Timecode {
            stream_id: 1,
            frame: 3,
            capture_us: 1_795_262_400_100_000,
        };
        let mut row = c.push(FrameArrival {
            seq: 0,
            arrival_us: 1_795_262_400_350_250,
            pts_us: Some(100_000),
            timecode: Some(tc),
            picture_changed: true,
            source_size: None,
        });
        row.relative_latency_us = Some(-1_500);
        assert_eq!(
            row_cells("live1", &row, None).join(","),
            "live1,3,2026-11-21T12:00:00.100000Z,2026-11-21T12:00:00.350250Z,250.250,-1.500,0.100000,,,,"
        );
        let row = c.push(FrameArrival {
            seq: 1,
            arrival_us: 0,
            pts_us: None,
            timecode: None,
            picture_changed: true,
            source_size: None,
        });
        assert_eq!(
            row_cells("c", &row, None).join(","),
            "c,,,1970-01-01T00:00:00.000000Z,,,,,,,unreadable"
        );
    }
}
