//! A/V offset of a recorded run's streams: each file input's audio read for its beeps
//! (`ingest::audio`), or a live input's heard by its reader's tap (`ingest::tap`: `udp://`) or
//! receiver (`ingest::receiver`: other live inputs with `--live-av`),
//! paired with the video frames the session measured (their PTS).

use metrics::av::{AvPoint, AvSummary, frame_rate, pair, summarize};
use report::StreamSummary;
use report::av::AvRecord;

use crate::ingest::audio::{Beeps, beeps};
use crate::ingest::tap::LiveAv;
use crate::session::{SessionConfig, SessionResult};
use metrics::FrameRow;

/// Why a live input has no A/V offset.
pub const LIVE: &str = "not measured on this live input (udp:// inputs always are; RTMP, SRT, \
                        RTSP, HLS and DASH with --live-av; not in runs with --rotate): add \
                        --live-av, or record the stream and analyze the file";

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
            let fps = s.info.as_ref().map_or(0.0, |i| exact_fps(i.fps));
            let (onsets, start_us) = match beeps(&config.ffmpeg, &s.spec.input) {
                None if !s.received.av.is_empty() => return live(&s.rows, &s.received.av, fps),
                None => return none(LIVE.into()),
                Some(Err(e)) => return none(format!("reading the audio failed: {e}")),
                Some(Ok(Beeps::NoAudio)) => return none("no audio".into()),
                Some(Ok(Beeps::Heard(heard))) => {
                    // The audio's timeline moved onto the video reader's: the same first
                    // packet, listed by both.
                    let shift = match (heard.packets.first(), s.received.first_packet_us) {
                        (Some(&(audio_side, _)), Some(video_side)) => {
                            (audio_side - video_side) as f64
                        }
                        _ => 0.0,
                    };
                    let onsets = heard
                        .onsets_us
                        .iter()
                        .map(|o| o - shift)
                        .collect::<Vec<_>>();
                    (onsets, heard.start_us - shift)
                }
            };
            let frames: Vec<(u64, i64)> = s
                .rows
                .iter()
                .filter(|r| r.kind.is_first_sighting())
                .filter_map(|r| Some((r.arrival.timecode?.frame, r.arrival.pts_us?)))
                .collect();
            let points = pair(&onsets, &frames, fps, Some(start_us));
            finish(points, !onsets.is_empty(), None)
        })
        .collect()
}

/// The stream's A/V offset from its points; when there is none, why (`failed`: what a tap
/// said).
fn finish(points: Vec<AvPoint>, heard: bool, failed: Option<String>) -> StreamAv {
    let summary = summarize(&points);
    let error = summary.is_none().then(|| {
        if let Some(why) = failed {
            why
        } else if !heard {
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
}

/// A live stream's A/V offset: each reader's frames given their stream PTS by its tap
/// (`LiveAv::stream_pts`) and paired with the beeps that tap heard.
fn live(rows: &[FrameRow], readers: &[LiveAv], fps: f64) -> StreamAv {
    let (mut points, mut heard, mut failed) = (Vec::new(), false, None);
    for reader in readers {
        let tapped = match &reader.tapped {
            Ok(t) => t,
            Err(why) => {
                failed.get_or_insert_with(|| why.clone());
                continue;
            }
        };
        let pts = reader.stream_pts();
        let frames: Vec<(u64, i64)> = rows
            .iter()
            .filter(|r| r.kind.is_first_sighting())
            .filter_map(|r| Some((r.arrival.timecode?.frame, *pts.get(&r.arrival.seq)?)))
            .collect();
        heard |= !tapped.onsets_us.is_empty();
        // The frames' own numbers and stream PTS tell the frame rate; the reader's is
        // estimated from its arrival stamps (measured: 30.17 for a 30 fps RTMP stream read
        // through a receiver, which put its beeps 22–34 ms off), or missing when it started
        // before the video's parameters were known.
        let fps = match frame_rate(&frames) {
            f if f > 0.0 => f,
            _ => fps,
        };
        points.extend(pair(&tapped.onsets_us, &frames, fps, Some(tapped.start_us)));
    }
    // A reader that heard nothing says why only when no other reader measured.
    finish(points, heard, failed.filter(|_| !heard))
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
