//! `frames.csv`: one row per received frame per stream, as a typed record written as measured
//! (flushed at least every second, so an interrupted run leaves a valid file) and read back
//! the same way. Times are RFC 3339 UTC with µs, latencies milliseconds with three decimals.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{Error, writing};

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

pub use signal::utc_rfc3339 as utc;

/// µs as milliseconds with three decimals (exact).
pub fn ms(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let a = us.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

/// Microseconds since the epoch of an RFC 3339 time.
pub fn parse_utc_us(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_micros())
}

/// One row of `frames.csv`, in `FRAMES_HEADER` order (the one place that order is spelled
/// out is the field order here).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FrameRecord {
    pub stream: String,
    pub frame: Option<u64>,
    #[serde(rename = "capture_utc", with = "cell::utc")]
    pub capture_us: Option<i64>,
    #[serde(rename = "arrival_utc", with = "cell::utc")]
    pub arrival_us: Option<i64>,
    #[serde(rename = "latency_ms", with = "cell::ms")]
    pub latency_us: Option<i64>,
    #[serde(rename = "relative_latency_ms", with = "cell::ms")]
    pub relative_latency_us: Option<i64>,
    #[serde(rename = "pts_s", with = "cell::seconds")]
    pub pts_us: Option<i64>,
    #[serde(with = "cell::score")]
    pub vmaf: Option<f64>,
    #[serde(with = "cell::score")]
    pub psnr_y: Option<f64>,
    #[serde(with = "cell::score")]
    pub ssim: Option<f64>,
    /// Empty for a new frame; else what the frame was (`duplicate`, `unreadable`, …).
    pub event: String,
}

/// How each typed cell is spelled in the file.
mod cell {
    use serde::{Deserialize, Deserializer, Serializer};

    fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        String::deserialize(d)
    }

    fn parse<'de, D: Deserializer<'de>, T>(
        d: D,
        what: &str,
        f: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, D::Error> {
        let s = text(d)?;
        if s.is_empty() {
            return Ok(None);
        }
        f(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not {what}")))
    }

    pub mod utc {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&v.map(crate::frames::utc).unwrap_or_default())
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            parse(d, "an RFC 3339 time", crate::frames::parse_utc_us)
        }
    }

    pub mod ms {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&v.map(crate::frames::ms).unwrap_or_default())
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            // Out of range saturates: the reader reports it as implausible (`plausible`).
            parse(d, "a number of milliseconds", |s| {
                let v = s.parse::<f64>().ok()? * 1e3;
                (!v.is_nan()).then(|| v.clamp(-9.2e18, 9.2e18).round() as i64)
            })
        }
    }

    pub mod seconds {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(
                &v.map(|p| format!("{:.6}", p as f64 / 1e6))
                    .unwrap_or_default(),
            )
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            parse(d, "a number of seconds", |s| {
                let v = s.parse::<f64>().ok()? * 1e6;
                (!v.is_nan()).then(|| v.clamp(-9.2e18, 9.2e18).round() as i64)
            })
        }
    }

    pub mod score {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&v.map(|x| format!("{x:.6}")).unwrap_or_default())
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
            parse(d, "a number", |s| {
                s.parse::<f64>().ok().filter(|v| !v.is_nan())
            })
        }
    }
}

/// `frames.csv` written row by row while measuring.
fn row_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new())
}

pub struct FramesWriter {
    /// Complete rows serialized, not yet on disk.
    rows: csv::Writer<Vec<u8>>,
    file: File,
    /// Bytes of whole rows on disk: what a failed write is cut back to, so the file never
    /// ends in half a row (a full disk writes part of a buffer).
    committed: u64,
    last_flush: Instant,
    path: PathBuf,
}

impl FramesWriter {
    /// Create the file with its header (a run with no rows still leaves a valid file).
    pub fn create(path: &Path) -> Result<Self, Error> {
        let file = File::create(path).map_err(writing(path))?;
        let mut w = Self {
            rows: row_writer(),
            file,
            committed: 0,
            last_flush: Instant::now(),
            path: path.to_owned(),
        };
        w.rows
            .write_record(FRAMES_HEADER)
            .map_err(|e| writing(path)(e.into()))?;
        w.flush()?;
        Ok(w)
    }

    pub fn write(&mut self, record: &FrameRecord) -> Result<(), Error> {
        self.rows
            .serialize(record)
            .map_err(|e| writing(&self.path)(e.into()))?;
        if self.last_flush.elapsed() >= Duration::from_secs(1) {
            self.flush()?;
        }
        Ok(())
    }

    /// Put the rows written so far on disk, whole: a write that fails part-way is cut back to
    /// the last whole row, and those rows are dropped with the error.
    pub fn flush(&mut self) -> Result<(), Error> {
        use std::io::{Seek, SeekFrom, Write};
        self.last_flush = Instant::now();
        let full = std::mem::replace(&mut self.rows, row_writer());
        let bytes = full
            .into_inner()
            .map_err(|e| writing(&self.path)(e.into_error()))?;
        if bytes.is_empty() {
            return Ok(());
        }
        match self.file.write_all(&bytes) {
            Ok(()) => {
                self.committed += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.committed);
                let _ = self.file.seek(SeekFrom::Start(self.committed));
                Err(writing(&self.path)(e))
            }
        }
    }
}

/// Write a whole `frames.csv` beside `path` and rename it over it, so a failed write leaves
/// the previous file as it was.
pub fn write_all<'a>(
    path: &Path,
    records: impl IntoIterator<Item = &'a FrameRecord>,
) -> Result<(), Error> {
    let tmp = path.with_extension("csv.tmp");
    let mut w = FramesWriter::create(&tmp)?;
    for r in records {
        w.write(r)?;
    }
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(writing(path))
}

/// Every row of a `frames.csv`, in file order.
pub fn read(path: &Path) -> Result<Vec<FrameRecord>, Error> {
    let bad = |reason: String| Error::RunFolder {
        path: path.display().to_string(),
        reason,
    };
    let mut r = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    let header = r.headers().map_err(|e| bad(e.to_string()))?.clone();
    if !header.iter().any(|h| h == "stream") {
        return Err(bad(
            "no `stream` column: not a streamscope frames.csv".into()
        ));
    }
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        let row: FrameRecord = rec
            .deserialize(Some(&header))
            .map_err(|e| bad(format!("row {}: {e}", i + 2)))?;
        out.push(row);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> FrameRecord {
        FrameRecord {
            stream: "live1".into(),
            frame: Some(3),
            capture_us: Some(1_795_262_400_100_000),
            arrival_us: Some(1_795_262_400_350_250),
            latency_us: Some(250_250),
            relative_latency_us: Some(-1_500),
            pts_us: Some(100_000),
            ..FrameRecord::default()
        }
    }

    fn line(r: &FrameRecord) -> String {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        w.serialize(r).unwrap();
        String::from_utf8(w.into_inner().unwrap())
            .unwrap()
            .trim_end()
            .to_owned()
    }

    #[test]
    fn cells_of_a_new_frame_and_an_unreadable_one() {
        assert_eq!(
            line(&record()),
            "live1,3,2026-11-21T12:00:00.100000Z,2026-11-21T12:00:00.350250Z,250.250,-1.500,0.100000,,,,"
        );
        let unreadable = FrameRecord {
            stream: "c".into(),
            arrival_us: Some(0),
            event: "unreadable".into(),
            ..FrameRecord::default()
        };
        assert_eq!(
            line(&unreadable),
            "c,,,1970-01-01T00:00:00.000000Z,,,,,,,unreadable"
        );
    }

    #[test]
    fn rows_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frames.csv");
        let scored = FrameRecord {
            vmaf: Some(91.5),
            psnr_y: Some(40.25),
            ssim: Some(0.99),
            event: "duplicate".into(),
            ..record()
        };
        write_all(&path, &[record(), scored.clone()]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&FRAMES_HEADER.join(",")));
        assert_eq!(read(&path).unwrap(), [record(), scored]);
    }
}
