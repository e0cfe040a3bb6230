//! Frame loss, defined once: drops (frame numbers missing between delivered ones, found with
//! the whole run known, so a late frame that fills a gap is not a drop), frames a stream
//! never delivered because it stopped before the run did (`lost_at_end`), and the expected
//! count they add up to. Events and summary read the same list.

use std::collections::BTreeSet;
use std::ops::Bound::Excluded;

use crate::classify::{FrameKind, restarted};
use crate::timeline::{Delivered, StreamEnd};
use crate::window::Window;

/// A frame the control delivered (its first sighting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlFrame {
    pub frame: u64,
    pub capture_us: i64,
    pub arrival_us: i64,
}

/// Frame numbers missing before the frame that arrived at `at_us`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drop {
    pub at_us: i64,
    pub frames: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loss {
    pub drops: Vec<Drop>,
    /// Σ `drops`.
    pub dropped: u64,
    /// Distinct frame numbers delivered.
    pub unique: u64,
    /// Frames delivered without a usable number (a stale or unreadable code over a moving
    /// picture) standing in for a missing number: delivered, so not dropped.
    pub filled: u64,
    /// Frames the control delivered that this stream had not by the end of the run, although
    /// the run went on longer than its largest relative latency (plus 3 frame intervals).
    pub lost_at_end: u64,
    /// `unique + filled + dropped + lost_at_end`.
    pub expected: u64,
    /// The highest frame number counted in `lost_at_end` (a later period of a rotated run
    /// does not count those numbers again as drops when the stream comes back).
    pub lost_through: Option<u64>,
}

/// Loss of one stream (rows in arrival order). `control` holds the control's first
/// sightings; `max_relative_us` is the stream's largest relative latency.
pub fn loss(
    rows: &[Delivered],
    interval_us: i64,
    end: StreamEnd,
    control: Option<&[ControlFrame]>,
    max_relative_us: Option<i64>,
) -> Loss {
    loss_in(rows, interval_us, end, control, max_relative_us, None)
}

/// [`loss`] of the rows of `window` (a period of a rotated run): the rows around it are
/// context. A frame number counts where it was delivered, a missing one where the frame after
/// the gap arrived, a frame the control had where the control delivered it.
pub fn loss_in(
    rows: &[Delivered],
    interval_us: i64,
    end: StreamEnd,
    control: Option<&[ControlFrame]>,
    max_relative_us: Option<i64>,
    window: Option<&Window>,
) -> Loss {
    let mut out = Loss::default();
    let inside = |i: usize| window.is_none_or(|w| w.has_row(i));
    for (k, (offset, run)) in source_runs(rows).into_iter().enumerate() {
        // Numbers counted lost in an earlier period belong to the run then in progress.
        let counted = window.and_then(|w| w.lost_through).filter(|_| k == 0);
        run_loss(run, &|i| inside(offset + i), counted, &mut out);
    }
    if let (StreamEnd::Stopped { at_us }, Some(control)) = (end, control) {
        let newest = rows
            .iter()
            .filter(|r| r.kind.is_first_sighting())
            .filter_map(|r| r.capture_us)
            .max();
        let grace =
            max_relative_us.unwrap_or(0).max(0) + crate::stats::FREEZE_INTERVALS * interval_us;
        let counted = window.and_then(|w| w.lost_through);
        let lost = control.iter().filter(|c| {
            newest.is_none_or(|n| c.capture_us > n)
                && c.arrival_us + grace <= at_us
                && window.is_none_or(|w| w.has_time(c.arrival_us))
                && counted.is_none_or(|t| c.frame > t)
        });
        for c in lost {
            out.lost_at_end += 1;
            out.lost_through = out.lost_through.max(Some(c.frame));
        }
    }
    out.expected = out.unique + out.filled + out.dropped + out.lost_at_end;
    out
}

/// The rows of each run of the source: a source that restarts its count (a lower number
/// captured after the highest) starts a new run.
fn source_runs(rows: &[Delivered]) -> Vec<(usize, &[Delivered])> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut highest: Option<(u64, i64)> = None;
    for (i, r) in rows.iter().enumerate() {
        let (Some(f), Some(c)) = (r.frame, r.capture_us) else {
            continue;
        };
        if let Some((h, hc)) = highest
            && restarted(h, hc, f, c)
        {
            runs.push((start, &rows[start..i]));
            start = i;
            highest = None;
        }
        if highest.is_none_or(|(h, _)| f >= h) {
            highest = Some((f, c));
        }
    }
    runs.push((start, &rows[start..]));
    runs
}

/// Loss of one run of the source; only rows `inside` count. Numbers up to `counted` were
/// already counted lost.
fn run_loss(
    rows: &[Delivered],
    inside: &dyn Fn(usize) -> bool,
    counted: Option<u64>,
    out: &mut Loss,
) {
    let first_sightings = || {
        rows.iter()
            .enumerate()
            .filter(|(_, r)| r.kind.is_first_sighting())
            .filter_map(|(i, r)| Some((i, r.frame?)))
    };
    let seen: BTreeSet<u64> = first_sightings().map(|(_, f)| f).collect();
    let (Some(&lo), Some(&hi)) = (seen.first(), seen.last()) else {
        return;
    };
    out.unique += first_sightings()
        .filter(|&(i, _)| inside(i))
        .map(|(_, f)| f)
        .collect::<BTreeSet<u64>>()
        .len() as u64;
    let missing_between = |a: u64, b: u64| {
        // Numbers strictly between a and b that never arrived (none counted before).
        let a = counted.map_or(a, |c| a.max(c));
        if b <= a + 1 {
            return 0;
        }
        (b - a - 1) - seen.range((Excluded(a), Excluded(b))).count() as u64
    };
    let mut highest: Option<u64> = None;
    let mut unidentified = 0u64;
    for (i, r) in rows.iter().enumerate() {
        match r.kind {
            FrameKind::New => {
                let Some(n) = r.frame else { continue };
                let missing = match highest {
                    Some(h) if n > h => missing_between(h, n),
                    // Numbers below the first frame: some arrived later, the rest never did.
                    None if n > lo => missing_between(lo, n),
                    _ => 0,
                };
                let filled = missing.min(unidentified);
                if inside(i) {
                    out.filled += filled;
                    if missing > filled {
                        out.drops.push(Drop {
                            at_us: r.arrival_us,
                            frames: missing - filled,
                        });
                        out.dropped += missing - filled;
                    }
                }
                unidentified = 0;
                highest = Some(highest.map_or(n, |h| h.max(n)));
            }
            FrameKind::Stale | FrameKind::Unreadable => unidentified += 1,
            _ => {}
        }
    }
    debug_assert!(highest.is_none_or(|h| h == hi));
}

#[cfg(test)]
mod tests {
    use super::*;

    const I: i64 = 33_333;

    fn row(frame: u64, kind: FrameKind) -> Delivered {
        Delivered {
            arrival_us: frame as i64 * I + 100_000,
            frame: Some(frame),
            capture_us: Some(frame as i64 * I),
            kind,
        }
    }

    fn new(frames: impl IntoIterator<Item = u64>) -> Vec<Delivered> {
        frames.into_iter().map(|f| row(f, FrameKind::New)).collect()
    }

    #[test]
    fn gaps_are_drops_and_add_up() {
        let l = loss(
            &new((0..90).filter(|f| !(30..40).contains(f))),
            I,
            StreamEnd::Finished,
            None,
            None,
        );
        assert_eq!((l.dropped, l.unique, l.expected), (10, 80, 90));
        assert_eq!(
            l.drops,
            [Drop {
                at_us: row(40, FrameKind::New).arrival_us,
                frames: 10
            }]
        );
    }

    #[test]
    fn a_swapped_pair_is_no_drop_in_events_or_counts() {
        let mut rows = new([0, 1, 2, 3, 5]);
        rows.push(row(4, FrameKind::OutOfOrder));
        rows.extend(new([6, 7]));
        let l = loss(&rows, I, StreamEnd::Finished, None, None);
        assert_eq!(
            (l.dropped, l.drops.len(), l.expected, l.unique),
            (0, 0, 8, 8)
        );
    }

    #[test]
    fn stale_and_unreadable_frames_stand_in_for_numbers() {
        // 0..9, then 5 frames whose code was not updated or unreadable, then 15..20.
        let mut rows = new(0..10);
        for k in 0..5 {
            rows.push(Delivered {
                frame: Some(9),
                kind: if k < 3 {
                    FrameKind::Stale
                } else {
                    FrameKind::Unreadable
                },
                ..row(10 + k, FrameKind::New)
            });
        }
        rows.extend(new(15..20));
        let l = loss(&rows, I, StreamEnd::Finished, None, None);
        assert_eq!((l.dropped, l.filled, l.expected), (0, 5, 20));
        // Fewer stand-ins than missing numbers: the rest are drops.
        rows.retain(|r| r.kind != FrameKind::Unreadable);
        let l = loss(&rows, I, StreamEnd::Finished, None, None);
        assert_eq!((l.dropped, l.filled, l.expected), (2, 3, 20));
    }

    #[test]
    fn a_restarted_source_is_counted_per_run() {
        let mut rows = new(0..60);
        for f in (0..30u64).filter(|&f| f != 5) {
            rows.push(Delivered {
                arrival_us: 4_000_000 + f as i64 * I,
                frame: Some(f),
                capture_us: Some(3_900_000 + f as i64 * I),
                kind: FrameKind::New,
            });
        }
        let l = loss(&rows, I, StreamEnd::Finished, None, None);
        assert_eq!((l.dropped, l.expected), (1, 90));
    }

    #[test]
    fn frames_the_control_got_after_a_stream_died_are_lost_at_end() {
        let control: Vec<ControlFrame> = (0..300)
            .map(|f| ControlFrame {
                frame: f as u64,
                capture_us: f * I,
                arrival_us: f * I + 20_000,
            })
            .collect();
        let live = new(0..60); // died after 2 s, 80 ms behind the control
        let stop = 300 * I;
        let l = loss(
            &live,
            I,
            StreamEnd::Stopped { at_us: stop },
            Some(&control),
            Some(80_000),
        );
        // Control frames 60.. that arrived more than 80 ms + 3 intervals before the stop.
        let due = |f: i64| f * I + 20_000 + 80_000 + 3 * I <= stop;
        let expected = (60..300).filter(|&f| due(f)).count() as u64;
        assert_eq!(l.lost_at_end, expected);
        assert_eq!(l.expected, 60 + expected);
        // A stream alive to the end loses nothing: its frames in flight are not lost.
        let alive = new(0..296);
        let l = loss(
            &alive,
            I,
            StreamEnd::Stopped { at_us: stop },
            Some(&control),
            Some(80_000),
        );
        assert_eq!(l.lost_at_end, 0);
        // A file that ended by itself is not judged against the control.
        let l = loss(&live, I, StreamEnd::Finished, Some(&control), Some(80_000));
        assert_eq!(l.lost_at_end, 0);
    }
}
