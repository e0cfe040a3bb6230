//! `events.csv`: drops, freezes, outages and resolution changes of every stream, one typed row
//! each, written at the end of a run and read back for the plots and `report.html`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::frames::{ms, parse_utc_us, utc};
use crate::{Error, writing};

/// One event of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub stream: String,
    /// `drop`, `freeze`, `outage` or `resolution_change`.
    pub kind: &'static str,
    pub start_us: i64,
    pub duration_us: i64,
    pub frames: u64,
    /// Free text, e.g. `640x360→320x180` for a resolution change.
    pub detail: String,
}

/// An `events.csv` row as spelled in the file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub stream: String,
    pub kind: String,
    pub start_utc: String,
    pub duration_ms: String,
    pub frames: u64,
    pub detail: String,
}

impl From<&Event> for EventRecord {
    fn from(e: &Event) -> Self {
        EventRecord {
            stream: e.stream.clone(),
            kind: e.kind.to_owned(),
            start_utc: utc(e.start_us),
            duration_ms: ms(e.duration_us),
            frames: e.frames,
            detail: e.detail.clone(),
        }
    }
}

impl EventRecord {
    pub fn start_us(&self) -> Option<i64> {
        parse_utc_us(&self.start_utc)
    }

    pub fn duration_s(&self) -> f64 {
        self.duration_ms
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .unwrap_or(0.0)
            / 1e3
    }
}

pub fn write(path: &Path, events: &[Event]) -> Result<(), Error> {
    let io = writing(path);
    let mut w = csv::Writer::from_writer(Vec::new());
    if events.is_empty() {
        // serde writes the header with the first row; an empty file still gets one.
        w.write_record([
            "stream",
            "kind",
            "start_utc",
            "duration_ms",
            "frames",
            "detail",
        ])
        .map_err(|e| io(e.into()))?;
    }
    for e in events {
        w.serialize(EventRecord::from(e))
            .map_err(|e| io(e.into()))?;
    }
    let bytes = w.into_inner().map_err(|e| io(e.into_error()))?;
    crate::write_file(path, bytes)
}

pub fn read(path: &Path) -> Result<Vec<EventRecord>, Error> {
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
    fn events_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.csv");
        let e = Event {
            stream: "live1".into(),
            kind: "freeze",
            start_us: 1_795_262_400_100_000,
            duration_us: 400_000,
            frames: 12,
            detail: String::new(),
        };
        write(&path, std::slice::from_ref(&e)).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back, [EventRecord::from(&e)]);
        assert_eq!(back[0].start_us(), Some(e.start_us));
        assert!((back[0].duration_s() - 0.4).abs() < 1e-12);
        write(&path, &[]).unwrap();
        assert!(read(&path).unwrap().is_empty());
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .starts_with("stream,kind")
        );
    }
}
