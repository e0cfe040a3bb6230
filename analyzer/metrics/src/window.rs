//! A period of a longer run (`analyze --rotate`): which of the rows given are the period's
//! (the rest is context before it and look-ahead after it, so that gaps, freezes and outages
//! across a boundary are seen whole) and how a timeline is cut to the period.

use crate::timeline::{Span, Timeline};

/// The periods of a rotated run: `length_us` each from `start_us` (the run's start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periods {
    pub start_us: i64,
    pub length_us: i64,
}

impl Periods {
    /// The period `us` falls in (times before the start are in the first).
    pub fn index(&self, us: i64) -> u64 {
        ((us - self.start_us).max(0) / self.length_us.max(1)) as u64
    }

    /// Where period `k` starts.
    pub fn start(&self, k: u64) -> i64 {
        self.start_us
            .saturating_add((k as i64).saturating_mul(self.length_us))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Rows `rows.0..rows.1` of those given belong to the period.
    pub rows: (usize, usize),
    /// The period's time (µs UTC on the arrival clock): spans are cut to `from_us..to_us`.
    pub from_us: i64,
    pub to_us: i64,
    /// Frame numbers up to this were counted in an earlier period's `lost_at_end`.
    pub lost_through: Option<u64>,
}

impl Window {
    pub fn has_row(&self, i: usize) -> bool {
        (self.rows.0..self.rows.1).contains(&i)
    }

    pub fn has_time(&self, us: i64) -> bool {
        (self.from_us..self.to_us).contains(&us)
    }

    /// The part of `span` inside the period.
    pub fn clip(&self, span: Span) -> Option<Span> {
        let start = span.start_us.max(self.from_us);
        let end = span
            .start_us
            .saturating_add(span.duration_us)
            .min(self.to_us);
        (end > start).then_some(Span {
            start_us: start,
            duration_us: end - start,
        })
    }
}

impl Timeline {
    /// The timeline of the period only: pictures shown in it, freezes and outages cut at its
    /// edges (one that runs across a boundary is in both periods, each with its own part, so
    /// durations add up). A period that starts with context runs from its start, so a stream
    /// dead throughout it shows 0 fps.
    pub fn within(&self, w: &Window) -> Timeline {
        let before = self.shown_us.first().is_some_and(|&s| s < w.from_us)
            || self.start_us.is_some_and(|s| s < w.from_us);
        let clip = |spans: &[Span]| spans.iter().filter_map(|&s| w.clip(s)).collect();
        Timeline {
            interval_us: self.interval_us,
            buffer_us: self.buffer_us,
            shown_us: self
                .shown_us
                .iter()
                .copied()
                .filter(|&s| w.has_time(s))
                .collect(),
            end_us: self.end_us.min(w.to_us),
            start_us: if before {
                Some(w.from_us)
            } else {
                self.start_us
            },
            freezes: clip(&self.freezes),
            outages: clip(&self.outages),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::{ControlFrame, loss, loss_in};
    use crate::timeline::{Delivered, StreamEnd, Transport, fps, timeline};
    use crate::{FrameKind, stats::frame_interval_us};

    const I: i64 = 33_333;

    fn new(frame: u64, arrival_us: i64) -> Delivered {
        Delivered {
            arrival_us,
            frame: Some(frame),
            capture_us: Some(frame as i64 * I),
            kind: FrameKind::New,
        }
    }

    /// Cut `rows` into periods of `period_us` by arrival, each computed with everything
    /// before it as context and one second after it as look-ahead, as the recorder does.
    fn periods(rows: &[Delivered], period_us: i64, end_us: i64) -> Vec<(Window, StreamEnd)> {
        let mut out = Vec::new();
        let mut from = 0;
        while from < end_us {
            let to = from + period_us;
            let last = to >= end_us;
            let a = rows.partition_point(|r| r.arrival_us < from);
            let b = rows.partition_point(|r| r.arrival_us < to);
            let window = Window {
                rows: (a, b),
                from_us: from,
                to_us: if last { i64::MAX } else { to },
                lost_through: None,
            };
            let seen_until = if last { end_us } else { to + 1_000_000 };
            out.push((window, StreamEnd::Stopped { at_us: seen_until }));
            from = to;
        }
        out
    }

    #[test]
    fn periods_add_up_to_the_whole_run() {
        // 30 s at 30 fps with gaps (one across the 10 s boundary), a 3 s outage across the
        // 20 s boundary and a stream dead for its last 2 s.
        let rows: Vec<Delivered> = (0..900u64)
            .filter(|f| !(295..305).contains(f) && !(40..43).contains(f))
            .filter(|f| !(585..675).contains(f) && *f < 840)
            .map(|f| new(f, f as i64 * I + 80_000))
            .collect();
        let end_us = 30_000_000;
        let whole_end = StreamEnd::Stopped { at_us: end_us };
        let control: Vec<ControlFrame> = (0..900)
            .map(|f| ControlFrame {
                frame: f,
                capture_us: f as i64 * I,
                arrival_us: f as i64 * I + 20_000,
            })
            .collect();
        let whole = loss(&rows, I, whole_end, Some(&control), Some(60_000));
        let whole_t = timeline(&rows, I, Transport::Continuous, whole_end);
        let (mut unique, mut dropped, mut lost) = (0, 0, 0);
        let (mut outage_us, mut freeze_us) = (0, 0);
        let mut lost_through = None;
        for (mut w, end) in periods(&rows, 10_000_000, end_us) {
            w.lost_through = lost_through;
            let seen = rows.partition_point(|r| {
                r.arrival_us
                    < match end {
                        StreamEnd::Stopped { at_us } => at_us,
                        StreamEnd::Finished => i64::MAX,
                    }
            });
            let l = loss_in(
                &rows[..seen],
                I,
                end,
                Some(&control),
                Some(60_000),
                Some(&w),
            );
            lost_through = l.lost_through.or(lost_through);
            unique += l.unique;
            dropped += l.dropped;
            lost += l.lost_at_end;
            let t = timeline(&rows[..seen], I, Transport::Continuous, end).within(&w);
            outage_us += t.outages.iter().map(|s| s.duration_us).sum::<i64>();
            freeze_us += t.freezes.iter().map(|s| s.duration_us).sum::<i64>();
        }
        // A period that closed while the stream was dead counted the control's frames of it
        // as lost; they are not dropped again when the stream came back.
        assert_eq!(
            (unique, dropped + lost),
            (whole.unique, whole.dropped + whole.lost_at_end)
        );
        assert!(
            lost > whole.lost_at_end,
            "the outage at 20 s closed a period"
        );
        assert_eq!((whole.dropped, whole.unique), (103, 737));
        let total = |s: &[Span]| s.iter().map(|s| s.duration_us).sum::<i64>();
        assert_eq!(outage_us, total(&whole_t.outages));
        assert_eq!(freeze_us, total(&whole_t.freezes));
    }

    #[test]
    fn periods_are_numbered_from_the_start() {
        let p = Periods {
            start_us: 1_000,
            length_us: 10,
        };
        assert_eq!((p.index(0), p.index(1_000), p.index(1_009)), (0, 0, 0));
        assert_eq!((p.index(1_010), p.start(2)), (1, 1_020));
    }

    #[test]
    fn a_period_the_stream_was_dead_throughout_is_an_outage_at_0_fps() {
        let rows: Vec<Delivered> = (0..150u64).map(|f| new(f, f as i64 * I)).collect();
        let end = StreamEnd::Stopped { at_us: 21_000_000 };
        let t = timeline(
            &rows,
            frame_interval_us(&rows).unwrap(),
            Transport::Continuous,
            end,
        );
        let w = Window {
            rows: (150, 150),
            from_us: 10_000_000,
            to_us: 20_000_000,
            lost_through: None,
        };
        let p = t.within(&w);
        assert_eq!(p.outages.len(), 1);
        assert_eq!(p.outages[0].duration_us, 10_000_000);
        assert_eq!(p.freezes[0].duration_us, 10_000_000);
        assert_eq!(fps(&p), Some((0.0, 0.0)));
    }
}
