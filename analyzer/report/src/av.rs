//! `av.csv`: each second's beep against its video frame, per stream (runs whose streams had
//! audio the analyzer could time: files and replays).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, writing};

const HEADER: [&str; 5] = [
    "stream",
    "second",
    "video_pts_us",
    "audio_pts_us",
    "offset_ms",
];

/// One second of one stream: the video frame's presentation time, the beep's onset (empty
/// when missed) and audio − video in ms (positive: the sound comes late).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvRecord {
    pub stream: String,
    pub second: i64,
    pub video_pts_us: i64,
    pub audio_pts_us: Option<f64>,
    pub offset_ms: Option<f64>,
}

impl AvRecord {
    pub fn new(stream: &str, p: &metrics::av::AvPoint) -> Self {
        AvRecord {
            stream: stream.to_owned(),
            second: p.second,
            video_pts_us: p.video_us,
            audio_pts_us: p.audio_us.map(|a| a.round()),
            offset_ms: p.offset_ms().map(|o| (o * 1e3).round() / 1e3),
        }
    }
}

pub fn write(path: &Path, rows: &[AvRecord]) -> Result<(), Error> {
    let io = writing(path);
    let mut w = csv::Writer::from_writer(Vec::new());
    if rows.is_empty() {
        w.write_record(HEADER).map_err(|e| io(e.into()))?;
    }
    for r in rows {
        w.serialize(r).map_err(|e| io(e.into()))?;
    }
    let bytes = w.into_inner().map_err(|e| io(e.into_error()))?;
    crate::write_file(path, bytes)
}

pub fn read(path: &Path) -> Result<Vec<AvRecord>, Error> {
    let bad = |reason: String| Error::RunFolder {
        path: path.display().to_string(),
        reason,
    };
    let mut r = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    r.deserialize()
        .collect::<Result<_, _>>()
        .map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn av_rows_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("av.csv");
        let p = metrics::av::AvPoint {
            second: 3,
            video_us: 3_000_000,
            audio_us: Some(3_012_345.6),
        };
        let missed = metrics::av::AvPoint {
            audio_us: None,
            ..p
        };
        let rows = vec![AvRecord::new("live1", &p), AvRecord::new("live1", &missed)];
        write(&path, &rows).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "stream,second,video_pts_us,audio_pts_us,offset_ms\n\
             live1,3,3000000,3012346.0,12.346\nlive1,3,3000000,,\n"
        );
        assert_eq!(read(&path).unwrap(), rows);
        write(&path, &[]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", HEADER.join(","))
        );
    }
}
