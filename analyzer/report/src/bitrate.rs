//! `bitrate.csv`: bytes of video each stream received per second, as kbit/s (live runs).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::frames::{parse_utc_us, utc};
use crate::{Error, writing};

/// One second of one stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BitrateRecord {
    pub stream: String,
    /// The second's start, RFC 3339 UTC.
    pub second_utc: String,
    pub kbps: f64,
}

impl BitrateRecord {
    pub fn new(stream: &str, second: i64, kbps: f64) -> Self {
        BitrateRecord {
            stream: stream.to_owned(),
            second_utc: utc(second * 1_000_000),
            kbps,
        }
    }

    pub fn start_us(&self) -> Option<i64> {
        parse_utc_us(&self.second_utc)
    }
}

pub fn write(path: &Path, rows: &[BitrateRecord]) -> Result<(), Error> {
    let io = writing(path);
    let mut w = csv::Writer::from_writer(Vec::new());
    if rows.is_empty() {
        w.write_record(["stream", "second_utc", "kbps"])
            .map_err(|e| io(e.into()))?;
    }
    for r in rows {
        w.serialize(r).map_err(|e| io(e.into()))?;
    }
    let bytes = w.into_inner().map_err(|e| io(e.into_error()))?;
    crate::write_file(path, bytes)
}

pub fn read(path: &Path) -> Result<Vec<BitrateRecord>, Error> {
    let bad = |reason: String| Error::RunFolder {
        path: path.display().to_string(),
        reason,
    };
    let mut r = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    r.deserialize()
        .enumerate()
        .map(|(i, rec)| rec.map_err(|e| bad(format!("row {}: {e}", i + 2))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bitrate.csv");
        let rows = vec![BitrateRecord::new("live1", 1_795_262_400, 1999.5)];
        write(&path, &rows).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back, rows);
        assert_eq!(back[0].start_us(), Some(1_795_262_400_000_000));
    }
}
