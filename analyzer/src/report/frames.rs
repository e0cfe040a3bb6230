//! `frames.csv`: one row per received frame per stream, written as measured and flushed at
//! least every second, so an interrupted run leaves a valid file.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::Error;
use crate::metrics::FrameRow;

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

/// µs since the epoch as RFC 3339 UTC with microseconds.
pub fn utc(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us).map_or_else(
        || us.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    )
}

/// µs as milliseconds with three decimals (exact).
pub fn ms(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let a = us.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

/// The cells of one row, in `FRAMES_HEADER` order.
pub fn row_cells(stream: &str, row: &FrameRow) -> [String; 11] {
    let tc = row.arrival.timecode;
    [
        stream.to_owned(),
        tc.map_or(String::new(), |t| t.frame.to_string()),
        tc.map_or(String::new(), |t| utc(t.capture_us as i64)),
        utc(row.arrival.arrival_us),
        row.latency_us.map_or(String::new(), ms),
        row.relative_latency_us.map_or(String::new(), ms),
        row.arrival
            .pts_us
            .map_or(String::new(), |p| format!("{:.6}", p as f64 / 1e6)),
        String::new(),
        String::new(),
        String::new(),
        row.kind.event().to_owned(),
    ]
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
            .write_record(row_cells(stream, row))
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
            row_cells("live1", &row).join(","),
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
            row_cells("c", &row).join(","),
            "c,,,1970-01-01T00:00:00.000000Z,,,,,,,unreadable"
        );
    }
}
