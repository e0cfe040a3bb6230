//! Smoothness as a viewer sees it: every delivered frame placed on a **player timeline**, from
//! which freezes, outages and delivered fps are read — the same way for a live run, a replay
//! and a run folder read back.
//!
//! A player shows frame `k` at `capture_k + L`, where the playback delay `L` starts at the
//! first frame's latency plus the transport's buffer `B` and grows whenever a frame arrives
//! after it was due (a stall: the player waits). `B` is 0 for continuous transports (RTMP,
//! SRT, UDP, RTSP, files) and one burst period for segmented ones (HLS, DASH: segments arrive
//! whole, so frames come in bursts). On this timeline a clean HLS stream read as segments
//! appear plays evenly, while missing frames, repeated pictures and late deliveries hold the
//! picture.

use serde::{Deserialize, Serialize};

use crate::classify::FrameKind;
use crate::stats::FREEZE_INTERVALS;

/// Shortest gap in arrivals, beyond the transport's own rhythm, that counts as an outage.
pub const OUTAGE_MIN_US: i64 = 1_000_000;
/// An outage also lasts at least this many frame intervals.
pub const OUTAGE_MIN_INTERVALS: i64 = 5;

/// How a transport delivers frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Frame by frame (RTMP, SRT, UDP, RTSP, files).
    #[default]
    Continuous,
    /// In whole segments (HLS, DASH): frames arrive in bursts.
    Segmented,
}

/// One delivered frame as the timeline needs it (from a measured row or a `frames.csv` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub arrival_us: i64,
    pub frame: Option<u64>,
    pub capture_us: Option<i64>,
    pub kind: FrameKind,
}

impl From<&crate::FrameRow> for Delivered {
    fn from(r: &crate::FrameRow) -> Self {
        Delivered {
            arrival_us: r.arrival.arrival_us,
            frame: r.arrival.timecode.map(|t| t.frame),
            capture_us: r.arrival.timecode.map(|t| t.capture_us as i64),
            kind: r.kind,
        }
    }
}

/// How a stream's delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StreamEnd {
    /// The stream ended by itself (a file's end, a finished playlist, a frame limit): its
    /// timeline ends with its last frame.
    Finished,
    /// The run stopped at `at_us` while the stream was still expected to deliver: everything
    /// it did not deliver until then is missing (a dead source is judged to the end).
    Stopped { at_us: i64 },
}

/// A span of the timeline (µs UTC on the arrival clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start_us: i64,
    pub duration_us: i64,
}

/// A stream's frames on the player timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub interval_us: i64,
    /// The transport's buffer `B` (µs).
    pub buffer_us: i64,
    /// Display times of the frames that advance the picture, in order.
    pub shown_us: Vec<i64>,
    /// Where the timeline ends (the last picture stays until then).
    pub end_us: i64,
    /// Where it starts when not at its first picture (a period of a rotated run that began
    /// with an earlier picture on screen).
    pub start_us: Option<i64>,
    /// No new picture for at least `FREEZE_INTERVALS` frame intervals (including at the end).
    pub freezes: Vec<Span>,
    /// No frame at all beyond the transport's rhythm for at least `OUTAGE_MIN_US` (and
    /// `OUTAGE_MIN_INTERVALS` intervals), including a stream that stopped before the run did.
    pub outages: Vec<Span>,
}

/// Does this frame move the picture on? New frames, late (out-of-order) ones, stale codes
/// over a moving picture and unreadable codes over a moving picture do; repeats do not.
pub fn advances(kind: FrameKind) -> bool {
    matches!(
        kind,
        FrameKind::New | FrameKind::OutOfOrder | FrameKind::Stale | FrameKind::Unreadable
    )
}

/// The transport's buffer: for segmented delivery the burst period — the median of the gaps
/// between arrivals that are longer than `OUTAGE_MIN_INTERVALS` frame intervals — else 0.
pub fn buffer_us(rows: &[Delivered], interval_us: i64, transport: Transport) -> i64 {
    if transport == Transport::Continuous {
        return 0;
    }
    let mut gaps: Vec<i64> = rows
        .windows(2)
        .map(|w| w[1].arrival_us - w[0].arrival_us)
        .filter(|&g| g >= OUTAGE_MIN_INTERVALS * interval_us)
        .collect();
    gaps.sort_unstable();
    crate::stats::percentile(&gaps, 50.0).unwrap_or(0)
}

/// The player, frame by frame: where each picture is shown and the freeze before it. Used on
/// a whole run (`timeline`) and live, row by row (`analyze --metrics`).
#[derive(Debug, Clone)]
pub struct Player {
    interval_us: i64,
    buffer_us: i64,
    /// The playback delay `L`.
    delay: Option<i64>,
    last_capture: Option<i64>,
    last_shown: Option<i64>,
}

impl Player {
    pub fn new(interval_us: i64, buffer_us: i64) -> Self {
        Player {
            interval_us: interval_us.max(1),
            buffer_us,
            delay: None,
            last_capture: None,
            last_shown: None,
        }
    }

    /// Show `r` if it moves the picture on: its display time, and the freeze it ends (no new
    /// picture for at least `FREEZE_INTERVALS` intervals before it).
    pub fn show(&mut self, r: &Delivered) -> Option<(i64, Option<Span>)> {
        if !advances(r.kind) {
            return None;
        }
        // A frame without a (trusted) capture time is the one after the last shown.
        let capture = match (r.kind, r.capture_us, self.last_capture) {
            (FrameKind::New | FrameKind::OutOfOrder, Some(c), _) => c,
            (_, _, Some(c)) => c + self.interval_us,
            // Nothing to count from yet (the first frames' codes were unreadable): shown as
            // it arrives. The arrival clock is not the capture clock (a file's PTS against
            // UTC), so it sets neither the playback delay nor a capture to count from.
            (_, _, None) => {
                let at = (r.arrival_us + self.buffer_us).max(self.last_shown.unwrap_or(i64::MIN));
                self.last_shown = Some(at);
                return Some((at, None));
            }
        };
        let l = self
            .delay
            .get_or_insert(r.arrival_us - capture + self.buffer_us);
        // Late: the player waits for it, and everything after shifts as well.
        *l = (*l).max(r.arrival_us - capture);
        // A late frame of an older capture is shown after the current picture, not before it.
        let at = (capture + *l).max(self.last_shown.unwrap_or(i64::MIN));
        let freeze = self
            .last_shown
            .filter(|&prev| at - prev >= FREEZE_INTERVALS * self.interval_us)
            .map(|prev| Span {
                start_us: prev,
                duration_us: at - prev,
            });
        self.last_shown = Some(at);
        self.last_capture = Some(self.last_capture.map_or(capture, |c| c.max(capture)));
        Some((at, freeze))
    }
}

/// Place `rows` (one stream, arrival order) on the player timeline.
pub fn timeline(
    rows: &[Delivered],
    interval_us: i64,
    transport: Transport,
    end: StreamEnd,
) -> Timeline {
    let interval_us = interval_us.max(1);
    let buffer = buffer_us(rows, interval_us, transport);
    let mut player = Player::new(interval_us, buffer);
    let mut shown = Vec::new();
    let mut freezes = Vec::new();
    for r in rows {
        if let Some((at, freeze)) = player.show(r) {
            shown.push(at);
            freezes.extend(freeze);
        }
    }
    let last_arrival = rows.last().map(|r| r.arrival_us);
    let last_shown = shown.last().copied();
    let end_us = match end {
        // The last picture (or its repeats) stays one interval after the last frame came.
        StreamEnd::Finished => last_shown.max(last_arrival).map_or(0, |t| t + interval_us),
        StreamEnd::Stopped { at_us } => at_us.max(last_shown.map_or(at_us, |t| t + interval_us)),
    };
    if let Some(prev) = last_shown
        && end_us - prev >= FREEZE_INTERVALS * interval_us
    {
        freezes.push(Span {
            start_us: prev,
            duration_us: end_us - prev,
        });
    }
    let outages = outages(rows, interval_us, buffer, end);
    Timeline {
        interval_us,
        buffer_us: buffer,
        shown_us: shown,
        end_us,
        start_us: None,
        freezes,
        outages,
    }
}

/// Gaps between arrivals (of any frame) longer than the transport's rhythm plus
/// `OUTAGE_MIN_US`, and a stream that stopped delivering before the run stopped.
fn outages(rows: &[Delivered], interval_us: i64, buffer_us: i64, end: StreamEnd) -> Vec<Span> {
    let min = buffer_us + OUTAGE_MIN_US.max(OUTAGE_MIN_INTERVALS * interval_us);
    let mut out: Vec<Span> = rows
        .windows(2)
        .filter_map(|w| {
            let (a, b) = (w[0].arrival_us, w[1].arrival_us);
            (b - a >= min).then_some(Span {
                start_us: a,
                duration_us: b - a,
            })
        })
        .collect();
    if let StreamEnd::Stopped { at_us } = end {
        // A stream that never delivered is not an outage of its own: its error says why.
        if let Some(last) = rows.last().map(|r| r.arrival_us)
            && at_us - last >= min
        {
            out.push(Span {
                start_us: last,
                duration_us: at_us - last,
            });
        }
    }
    out
}

/// Delivered frames per second as the viewer sees them: (mean over the timeline, minimum
/// over its complete 1 s windows). The timeline runs from the first picture to its end, so a
/// stream that died early has windows of 0.
pub fn fps(t: &Timeline) -> Option<(f64, f64)> {
    let first = t.start_us.or(t.shown_us.first().copied())?;
    let span_us = t.end_us - first;
    if span_us <= 0 {
        return None;
    }
    let mean = t.shown_us.len() as f64 / (span_us as f64 / 1e6);
    let windows = fps_windows(t);
    let min = windows.iter().map(|w| w.1).reduce(f64::min).unwrap_or(mean);
    Some((mean, min))
}

/// Pictures shown per complete 1 s window of the timeline: (window start µs, count).
pub fn fps_windows(t: &Timeline) -> Vec<(i64, f64)> {
    let Some(first) = t.start_us.or(t.shown_us.first().copied()) else {
        return Vec::new();
    };
    // Bounded: a timeline of absurd length (a corrupt folder) gets no windows, not 1 TB.
    let windows = ((t.end_us - first) / 1_000_000).clamp(0, 10_000_000) as usize;
    let mut counts = vec![0u32; windows];
    for &s in &t.shown_us {
        let w = ((s - first) / 1_000_000) as usize;
        if w < windows {
            counts[w] += 1;
        }
    }
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| (first + i as i64 * 1_000_000, f64::from(c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const I: i64 = 33_333;

    fn new(frame: u64, arrival_us: i64) -> Delivered {
        Delivered {
            arrival_us,
            frame: Some(frame),
            capture_us: Some(frame as i64 * I),
            kind: FrameKind::New,
        }
    }

    fn repeat(arrival_us: i64) -> Delivered {
        Delivered {
            arrival_us,
            frame: None,
            capture_us: None,
            kind: FrameKind::Duplicate,
        }
    }

    /// 0..n at 30 fps with a fixed latency, minus `skip`.
    fn steady(n: u64, skip: &[u64]) -> Vec<Delivered> {
        (0..n)
            .filter(|f| !skip.contains(f))
            .map(|f| new(f, f as i64 * I + 200_000))
            .collect()
    }

    #[test]
    fn a_steady_stream_plays_evenly() {
        let rows = steady(90, &[]);
        let t = timeline(&rows, I, Transport::Continuous, StreamEnd::Finished);
        assert!(t.freezes.is_empty() && t.outages.is_empty());
        let (mean, min) = fps(&t).unwrap();
        assert!((mean - 30.0).abs() < 0.01, "{mean}");
        assert_eq!(min, 30.0);
    }

    #[test]
    fn missing_frames_and_repeats_hold_the_picture() {
        let t = timeline(
            &steady(90, &(30..40).collect::<Vec<_>>()),
            I,
            Transport::Continuous,
            StreamEnd::Finished,
        );
        assert_eq!(t.freezes.len(), 1);
        assert_eq!(t.freezes[0].duration_us, 11 * I);
        // Frame 10 shown, then 5 repeats: 6 intervals without a new picture.
        let mut rows = steady(11, &[]);
        rows.extend((1..=5).map(|k| repeat(10 * I + 200_000 + k * I)));
        rows.extend((11..20).map(|f| new(f, (f as i64 + 5) * I + 200_000)));
        let t = timeline(&rows, I, Transport::Continuous, StreamEnd::Finished);
        assert_eq!(t.freezes.len(), 1);
        assert_eq!(t.freezes[0].duration_us, 6 * I);
    }

    #[test]
    fn a_trailing_freeze_and_a_stream_that_died_are_judged_to_the_end() {
        // 30 repeats of the last frame: the picture stayed for 31 intervals.
        let mut rows = steady(60, &[]);
        rows.extend((1..=30).map(|k| repeat(59 * I + 200_000 + k * I)));
        let t = timeline(&rows, I, Transport::Continuous, StreamEnd::Finished);
        assert_eq!(t.freezes.len(), 1);
        assert_eq!(t.freezes[0].duration_us, 31 * I);
        // Dead after 2 s of a 10 s run: a freeze and an outage to the end, fps windows of 0.
        let rows = steady(60, &[]);
        let stop = 10_000_000;
        let t = timeline(
            &rows,
            I,
            Transport::Continuous,
            StreamEnd::Stopped { at_us: stop },
        );
        let last = 59 * I + 200_000;
        assert_eq!(t.freezes.last().unwrap().duration_us, stop - last);
        assert_eq!(
            t.outages,
            [Span {
                start_us: last,
                duration_us: stop - last
            }]
        );
        let (mean, min) = fps(&t).unwrap();
        assert_eq!(min, 0.0);
        assert!(mean < 7.0, "{mean}");
        // Stopped while healthy: nothing.
        let t = timeline(
            &rows,
            I,
            Transport::Continuous,
            StreamEnd::Stopped {
                at_us: last + 20_000,
            },
        );
        assert!(t.freezes.is_empty() && t.outages.is_empty());
    }

    /// 2 s segments of 60 frames, each arriving whole 0.2 s after its last capture plus a
    /// playlist-polling jitter of up to 0.3 s.
    fn segmented(n: u64) -> Vec<Delivered> {
        (0..n)
            .map(|f| {
                let segment = (f / 60) as i64;
                let jitter = (segment * 7919 % 300) * 1000;
                new(
                    f,
                    (segment + 1) * 2_000_000 + 200_000 + jitter + (f % 60) as i64 * 100,
                )
            })
            .collect()
    }

    #[test]
    fn segments_arriving_whole_are_not_freezes_or_outages() {
        let rows = segmented(600);
        let t = timeline(&rows, I, Transport::Segmented, StreamEnd::Finished);
        assert!(t.buffer_us > 1_500_000, "{}", t.buffer_us);
        assert!(t.freezes.is_empty(), "{:?}", t.freezes);
        assert!(t.outages.is_empty());
        let (mean, min) = fps(&t).unwrap();
        assert!((mean - 30.0).abs() < 0.1, "{mean}");
        assert!(min >= 29.0, "{min}");
        // Judged as a continuous stream, the polling jitter stalls it and every segment's
        // wait is an outage.
        let t = timeline(&rows, I, Transport::Continuous, StreamEnd::Finished);
        assert!(!t.freezes.is_empty());
        assert!(t.outages.len() >= 8, "{:?}", t.outages);
        // A segment 3 s late is an outage and a freeze even so.
        let mut late = rows.clone();
        for r in late.iter_mut().skip(300) {
            r.arrival_us += 3_000_000;
        }
        let t = timeline(&late, I, Transport::Segmented, StreamEnd::Finished);
        assert_eq!(t.outages.len(), 1);
        assert_eq!(t.freezes.len(), 1);
    }

    #[test]
    fn stale_and_unreadable_frames_with_motion_are_shown() {
        let mut rows = steady(10, &[]);
        for k in 10..20 {
            rows.push(Delivered {
                arrival_us: k * I + 200_000,
                frame: Some(9),
                capture_us: Some(9 * I),
                kind: if k % 2 == 0 {
                    FrameKind::Stale
                } else {
                    FrameKind::Unreadable
                },
            });
        }
        rows.extend((20..30).map(|f| new(f, f as i64 * I + 200_000)));
        let t = timeline(&rows, I, Transport::Continuous, StreamEnd::Finished);
        assert!(t.freezes.is_empty(), "{:?}", t.freezes);
        assert_eq!(t.shown_us.len(), 30);
    }

    #[test]
    fn unreadable_first_frames_on_another_clock_are_no_freeze() {
        // A file scored by `vmaf`: arrivals are PTS from 0, captures are UTC (2026).
        let utc = 1_796_091_596_000_000;
        let mut rows = vec![Delivered {
            arrival_us: 0,
            frame: None,
            capture_us: None,
            kind: FrameKind::Unreadable,
        }];
        rows.extend((1..30).map(|f| Delivered {
            capture_us: Some(utc + f as i64 * I),
            ..new(f, f as i64 * I)
        }));
        let t = timeline(&rows, I, Transport::Continuous, StreamEnd::Finished);
        assert!(t.freezes.is_empty(), "{:?}", t.freezes);
        assert_eq!(t.shown_us.len(), 30);
        assert!(
            t.shown_us.windows(2).all(|w| w[1] - w[0] == I),
            "{:?}",
            t.shown_us
        );
    }
}
