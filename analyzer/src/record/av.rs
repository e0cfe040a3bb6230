//! A/V offset of a recorded run's streams: each file input's audio read for its beeps
//! (`ingest::audio`), paired with the video frames the session measured (their PTS).

use metrics::av::{AvPoint, AvSummary, pair, summarize};
use report::StreamSummary;
use report::av::AvRecord;

use crate::ingest::audio::{Beeps, beeps};
use crate::session::{ClockMode, SessionConfig, SessionResult};

/// Why a live input has no A/V offset.
pub const LIVE: &str = "not measured on a live input (its frames are stamped on arrival, not \
                        with the stream's timestamps): record the stream and analyze the file";

/// One stream's A/V offset, or why there is none.
pub struct StreamAv {
    pub points: Vec<AvPoint>,
    pub summary: Option<AvSummary>,
    pub error: Option<String>,
}

/// The frame rate as a number, snapped to the NTSC rates it stands for (29.97 → 30000/1001).
fn exact_fps(fps: f32) -> f64 {
    let f = f64::from(fps);
    [24.0, 30.0, 60.0]
        .into_iter()
        .map(|n| n * 1000.0 / 1001.0)
        .find(|ntsc| (f - ntsc).abs() < 0.01)
        .unwrap_or(f)
}

/// Measure every stream's A/V offset (one ffmpeg per file input, after the session).
pub fn measure(config: &SessionConfig, result: &SessionResult) -> Vec<StreamAv> {
    let with_pts = matches!(config.clock, ClockMode::Pts { .. });
    result
        .streams
        .iter()
        .map(|s| {
            if s.rows.is_empty() {
                // Nothing was read (its error says why): no audio pass either.
                return StreamAv {
                    points: Vec::new(),
                    summary: None,
                    error: None,
                };
            }
            let none = |why: String| StreamAv {
                points: Vec::new(),
                summary: None,
                error: Some(why),
            };
            let (onsets, start_us) = match beeps(&config.ffmpeg, &s.spec.input, with_pts) {
                None => return none(LIVE.into()),
                Some(Err(e)) => return none(format!("reading the audio failed: {e}")),
                Some(Ok(Beeps::NoAudio)) => return none("no audio".into()),
                Some(Ok(Beeps::Onsets { onsets, start_us })) => (onsets, start_us),
            };
            let frames: Vec<(u64, i64)> = s
                .rows
                .iter()
                .filter(|r| r.kind.is_first_sighting())
                .filter_map(|r| Some((r.arrival.timecode?.frame, r.arrival.pts_us?)))
                .collect();
            let fps = s.info.as_ref().map_or(0.0, |i| exact_fps(i.fps));
            let points = pair(&onsets, &frames, fps, Some(start_us));
            let summary = summarize(&points);
            let error = summary.is_none().then(|| {
                if onsets.is_empty() {
                    "no beep in the audio (was it made with streamscope generate/publish?)".into()
                } else {
                    "no beep near a video frame of its second".into()
                }
            });
            StreamAv {
                points,
                summary,
                error,
            }
        })
        .collect()
}

/// Put each stream's A/V offset in its summary; the rows of `av.csv`.
pub fn apply(measured: &[StreamAv], streams: &mut [StreamSummary]) -> Vec<AvRecord> {
    let mut rows = Vec::new();
    for (m, st) in measured.iter().zip(streams) {
        st.av = m.summary;
        st.av_error = m.error.clone();
        rows.extend(m.points.iter().map(|p| AvRecord::new(&st.name, p)));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::exact_fps;

    #[test]
    fn ntsc_rates_are_snapped_to_their_exact_value() {
        assert_eq!(exact_fps(29.97), 30_000.0 / 1_001.0);
        assert_eq!(exact_fps(59.94), 60_000.0 / 1_001.0);
        assert_eq!(exact_fps(25.0), 25.0);
        assert_eq!(exact_fps(30.0), 30.0);
    }
}
