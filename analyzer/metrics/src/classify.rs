//! Per-frame classification in arrival order: new, duplicate, stale code, out of order,
//! unreadable; and the latency sample each new frame yields.

use signal::Timecode;

/// One decoded frame as it left ffmpeg, after its code was read.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameArrival {
    /// Arrival order within the stream, from 0.
    pub seq: u64,
    /// Arrival time, µs since the Unix epoch (UTC): the realtime clock, or start + PTS.
    pub arrival_us: i64,
    /// Presentation time of the frame in the stream, µs, when known.
    pub pts_us: Option<i64>,
    /// The timecode read from the frame, if any.
    pub timecode: Option<Timecode>,
    /// Did the picture outside the code change since the previous frame?
    pub picture_changed: bool,
    /// The frame's size as decoded (before ffmpeg scales it to the stream's first size).
    pub source_size: Option<(u32, u32)>,
}

/// What a frame is, in the light of the frames before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// A frame number seen for the first time, in order: a latency sample.
    New,
    /// A frame number seen for the first time but lower than one already seen.
    OutOfOrder,
    /// The frame just shown again, picture unchanged: a repeated (duplicated) frame.
    Duplicate,
    /// A frame seen earlier, not the one just shown, delivered again (a demuxer re-reading
    /// overlapping segments, a source replaying): a player skips what it has played, so it is
    /// neither a repeat on screen nor a latency sample.
    Redelivered,
    /// The previous frame's code over a picture that moved: the encoder did not update the
    /// code area. Not a latency sample, not a duplicate.
    Stale,
    /// No valid timecode could be read, over a picture that moved.
    Unreadable,
    /// No valid timecode could be read, and the picture did not move: a repeat of the frame
    /// before (a slate, a frozen encoder).
    UnreadableRepeat,
}

impl FrameKind {
    /// The word in the `event` column of `frames.csv` (empty for new frames).
    pub fn event(&self) -> &'static str {
        match self {
            Self::New => "",
            Self::OutOfOrder => "out_of_order",
            Self::Duplicate => "duplicate",
            Self::Redelivered => "redelivered",
            Self::Stale => "stale_timecode",
            Self::Unreadable => "unreadable",
            Self::UnreadableRepeat => "unreadable_repeat",
        }
    }

    /// The kind named by a `frames.csv` `event` (empty: a new frame); None for words that
    /// are not a frame kind (e.g. `vmaf`'s reasons for not scoring).
    pub fn from_event(event: &str) -> Option<Self> {
        Some(match event {
            "" => Self::New,
            "out_of_order" => Self::OutOfOrder,
            "duplicate" => Self::Duplicate,
            "redelivered" => Self::Redelivered,
            "stale_timecode" => Self::Stale,
            "unreadable" => Self::Unreadable,
            "unreadable_repeat" => Self::UnreadableRepeat,
            _ => return None,
        })
    }

    /// No usable timecode (either kind of unreadable).
    pub fn is_unreadable(&self) -> bool {
        matches!(self, Self::Unreadable | Self::UnreadableRepeat)
    }

    /// Does this frame give a latency sample (first appearance of its frame number)?
    pub fn is_first_sighting(&self) -> bool {
        matches!(self, Self::New | Self::OutOfOrder)
    }
}

/// A classified frame with its absolute latency.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameRow {
    pub arrival: FrameArrival,
    pub kind: FrameKind,
    /// arrival − capture + clock offset, for first sightings.
    pub latency_us: Option<i64>,
    /// Frames missing just before this one (a gap in frame numbers, less the frames delivered
    /// without a usable number since the last new one), for new frames. Seen as the frame
    /// arrives: a later frame that fills the gap does not change it (the run's drops, in
    /// `loss`, are found with the whole run known).
    pub gap_before: u64,
    /// Arrival minus the control's arrival of the same frame number, when the control had it
    /// already (filled in by the session).
    pub relative_latency_us: Option<i64>,
}

/// A lower number captured after the highest one: the source restarted its count.
pub fn restarted(highest: u64, highest_capture_us: i64, frame: u64, capture_us: i64) -> bool {
    frame < highest && capture_us > highest_capture_us
}

pub use crate::seen::SEEN_WINDOW;
use crate::seen::SeenWindow;

/// Streaming classifier for one stream.
#[derive(Debug, Default)]
pub struct Classifier {
    clock_offset_us: i64,
    /// Frame numbers delivered, in a fixed window below the highest.
    seen: SeenWindow,
    last: Option<u64>,
    highest: Option<u64>,
    /// Capture time of the highest frame number.
    highest_capture_us: u64,
    /// Frames since the last new one that moved the picture without a usable number (stale or
    /// unreadable codes): each stands in for one number of the next gap.
    unidentified: u64,
}

impl Classifier {
    pub fn new(clock_offset_us: i64) -> Self {
        Self {
            clock_offset_us,
            ..Self::default()
        }
    }

    /// The offset added to absolute latencies from the next frame on (clock sync re-measured
    /// during the run).
    pub fn set_clock_offset(&mut self, us: i64) {
        self.clock_offset_us = us;
    }

    pub fn push(&mut self, a: FrameArrival) -> FrameRow {
        let Some(tc) = a.timecode else {
            self.unidentified += u64::from(a.picture_changed);
            return FrameRow {
                kind: if a.picture_changed {
                    FrameKind::Unreadable
                } else {
                    FrameKind::UnreadableRepeat
                },
                arrival: a,
                latency_us: None,
                gap_before: 0,
                relative_latency_us: None,
            };
        };
        let n = tc.frame;
        if self
            .highest
            .is_some_and(|h| restarted(h, self.highest_capture_us as i64, n, tc.capture_us as i64))
        {
            self.seen.clear();
            self.last = None;
            self.highest = None;
        }
        let (kind, gap_before) = if self.seen.contains(n) {
            match (self.last == Some(n), a.picture_changed) {
                (true, true) => (FrameKind::Stale, 0),
                (true, false) => (FrameKind::Duplicate, 0),
                (false, _) => (FrameKind::Redelivered, 0),
            }
        } else {
            match self.highest {
                Some(h) if n < h => (FrameKind::OutOfOrder, 0),
                Some(h) => {
                    let gap = n - h - 1;
                    (FrameKind::New, gap - gap.min(self.unidentified))
                }
                None => (FrameKind::New, 0),
            }
        };
        match kind {
            FrameKind::New => self.unidentified = 0,
            FrameKind::Stale => self.unidentified += 1,
            _ => {}
        }
        self.seen.insert(n);
        self.last = Some(n);
        if self.highest.is_none_or(|h| n >= h) {
            self.highest_capture_us = tc.capture_us;
        }
        self.highest = Some(self.highest.map_or(n, |h| h.max(n)));
        let latency_us = kind
            .is_first_sighting()
            .then(|| a.arrival_us - tc.capture_us as i64 + self.clock_offset_us);
        FrameRow {
            arrival: a,
            kind,
            latency_us,
            gap_before,
            relative_latency_us: None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn a_restarted_source_counts_from_zero_again_without_duplicates() {
        let mut c = Classifier::new(0);
        let tc = |frame, capture_us| {
            Some(Timecode {
                stream_id: 1,
                frame,
                capture_us,
            })
        };
        let push = |c: &mut Classifier, frame, capture_us| {
            c.push(FrameArrival {
                seq: 0,
                arrival_us: capture_us as i64 + 100,
                pts_us: None,
                timecode: tc(frame, capture_us),
                picture_changed: true,
                source_size: None,
            })
            .kind
        };
        assert_eq!(push(&mut c, 0, 1_000), FrameKind::New);
        assert_eq!(push(&mut c, 1, 2_000), FrameKind::New);
        assert_eq!(
            push(&mut c, 0, 500),
            FrameKind::Redelivered,
            "older capture: delivered again"
        );
        assert_eq!(push(&mut c, 0, 9_000), FrameKind::New, "restarted source");
        assert_eq!(push(&mut c, 1, 10_000), FrameKind::New);
    }

    #[test]
    fn memory_stays_bounded_and_recent_repeats_are_still_known() {
        let mut c = Classifier::new(0);
        let push = |c: &mut Classifier, frame: u64| {
            c.push(arrival(
                frame,
                Some(frame),
                frame as i64 * 33_333 + 50_000,
                true,
            ))
            .kind
        };
        for f in 0..5 * SEEN_WINDOW {
            push(&mut c, f);
        }
        assert_eq!(c.seen.heap_bytes() as u64, SEEN_WINDOW / 8);
        let h = 5 * SEEN_WINDOW - 1;
        assert_eq!(push(&mut c, h - 10), FrameKind::Redelivered);
        assert_eq!(push(&mut c, h + 1), FrameKind::New);
    }

    /// A frame carrying `frame` (None: unreadable), captured at frame × 33 333 µs and arriving
    /// `arrival_us` later than t = 0.
    pub fn arrival(seq: u64, frame: Option<u64>, arrival_us: i64, changed: bool) -> FrameArrival {
        FrameArrival {
            seq,
            arrival_us,
            pts_us: None,
            timecode: frame.map(|f| Timecode {
                stream_id: 1,
                frame: f,
                capture_us: f * 33_333,
            }),
            picture_changed: changed,
            source_size: None,
        }
    }

    fn kinds(frames: &[(Option<u64>, bool)]) -> Vec<FrameKind> {
        let mut c = Classifier::new(0);
        frames
            .iter()
            .enumerate()
            .map(|(i, &(f, ch))| c.push(arrival(i as u64, f, 0, ch)).kind)
            .collect()
    }

    #[test]
    fn new_duplicate_stale_out_of_order_unreadable() {
        use FrameKind::*;
        let k = kinds(&[
            (Some(0), true),
            (Some(1), true),
            (Some(1), false), // repeated picture
            (Some(1), true),  // same code, picture moved: stale
            (Some(4), true),  // 2 and 3 missing so far
            (Some(2), true),  // late
            (None, true),
            (Some(2), true), // the last code read, over a moving picture: stale
            (Some(4), true), // seen before, not the last one: delivered again
            (Some(5), true),
        ]);
        assert_eq!(
            k,
            [
                New,
                New,
                Duplicate,
                Stale,
                New,
                OutOfOrder,
                Unreadable,
                Stale,
                Redelivered,
                New
            ]
        );
    }

    #[test]
    fn latency_and_gaps() {
        let mut c = Classifier::new(12_000);
        let r = c.push(arrival(0, Some(10), 10 * 33_333 + 500_000, true));
        assert_eq!(r.latency_us, Some(512_000));
        let r = c.push(arrival(1, Some(14), 14 * 33_333 + 480_000, true));
        assert_eq!((r.gap_before, r.latency_us), (3, Some(492_000)));
        let r = c.push(arrival(2, Some(14), 0, false));
        assert_eq!((r.kind, r.latency_us), (FrameKind::Duplicate, None));
    }
}
