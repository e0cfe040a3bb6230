//! Properties of the metrics over any sequence of frames (proptest): loss adds up, the drops
//! the events list are the drops the summary counts, freezes are ordered and inside the
//! timeline, percentiles are ordered.

use metrics::loss::{ControlFrame, loss};
use metrics::stats::distribution;
use metrics::timeline::{Transport, timeline};
use metrics::{Classifier, Delivered, FrameArrival, StreamEnd};
use proptest::prelude::*;
use signal::Timecode;

const I: i64 = 33_333;

/// What the source does next: the next frame, a gap, a repeat, an older frame, an unreadable
/// code, a stale code, or a restart of its count.
#[derive(Debug, Clone, Copy)]
enum Step {
    Next,
    Skip(u8),
    Repeat,
    Back(u8),
    Unreadable(bool),
    Stale,
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => Just(Step::Next),
        2 => (1u8..20).prop_map(Step::Skip),
        1 => Just(Step::Repeat),
        1 => (1u8..5).prop_map(Step::Back),
        1 => any::<bool>().prop_map(Step::Unreadable),
        1 => Just(Step::Stale),
        1 => Just(Step::Restart),
    ]
}

/// Classified rows of a source following `steps`, arriving `delays` µs apart.
fn rows(steps: &[(Step, u16)]) -> Vec<Delivered> {
    let mut c = Classifier::new(0);
    let (mut frame, mut epoch, mut at) = (0u64, 0u64, 0i64);
    let mut out = Vec::new();
    for (i, &(s, delay)) in steps.iter().enumerate() {
        at += i64::from(delay) * 20;
        let (tc, changed) = match s {
            Step::Next => {
                frame += 1;
                (Some(frame), true)
            }
            Step::Skip(n) => {
                frame += u64::from(n) + 1;
                (Some(frame), true)
            }
            Step::Repeat => (Some(frame), false),
            Step::Back(n) => (Some(frame.saturating_sub(u64::from(n))), true),
            Step::Unreadable(changed) => (None, changed),
            Step::Stale => (Some(frame), true),
            Step::Restart => {
                epoch += 1;
                frame = 0;
                (Some(0), true)
            }
        };
        let row = c.push(FrameArrival {
            seq: i as u64,
            arrival_us: at,
            pts_us: None,
            timecode: tc.map(|f| Timecode {
                stream_id: 1,
                frame: f,
                // A restarted source captures later than anything before it.
                capture_us: epoch * 1_000_000_000 + f * I as u64,
            }),
            picture_changed: changed,
            source_size: None,
        });
        out.push(Delivered::from(&row));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn loss_adds_up_and_the_events_are_the_count(
        steps in proptest::collection::vec((step(), 0u16..5000), 1..300),
        stopped in any::<bool>(),
    ) {
        let rows = rows(&steps);
        let last = rows.last().unwrap().arrival_us;
        let end = if stopped { StreamEnd::Stopped { at_us: last + 5_000_000 } } else { StreamEnd::Finished };
        let control: Vec<ControlFrame> = (0..400)
            .map(|f| ControlFrame { frame: f as u64, capture_us: f * I, arrival_us: f * I })
            .collect();
        let l = loss(&rows, I, end, Some(&control), Some(100_000));
        prop_assert_eq!(l.expected, l.unique + l.filled + l.dropped + l.lost_at_end);
        prop_assert_eq!(l.dropped, l.drops.iter().map(|d| d.frames).sum::<u64>());
        prop_assert!(l.drops.iter().all(|d| d.frames > 0));
        if !stopped {
            prop_assert_eq!(l.lost_at_end, 0);
        }
    }

    #[test]
    fn in_order_frames_drop_exactly_the_numbers_missing(
        gaps in proptest::collection::vec(0u64..10, 1..200),
    ) {
        let mut numbers = Vec::new();
        let mut f = 0;
        for g in &gaps {
            f += g + 1;
            numbers.push(f);
        }
        let steps: Vec<(Step, u16)> = gaps
            .iter()
            .map(|&g| (if g == 0 { Step::Next } else { Step::Skip(g as u8) }, 1000))
            .collect();
        let rows = rows(&steps);
        let l = loss(&rows, I, StreamEnd::Finished, None, None);
        let span = numbers.last().unwrap() - numbers[0] + 1;
        prop_assert_eq!(l.dropped, span - numbers.len() as u64);
        prop_assert_eq!(l.expected, span);
    }

    #[test]
    fn freezes_are_ordered_and_inside_the_timeline(
        steps in proptest::collection::vec((step(), 0u16..5000), 2..300),
        segmented in any::<bool>(),
    ) {
        let rows = rows(&steps);
        let transport = if segmented { Transport::Segmented } else { Transport::Continuous };
        let t = timeline(&rows, I, transport, StreamEnd::Finished);
        prop_assert!(t.shown_us.windows(2).all(|w| w[0] <= w[1]));
        for w in t.freezes.windows(2) {
            prop_assert!(w[0].start_us + w[0].duration_us <= w[1].start_us);
        }
        for f in &t.freezes {
            prop_assert!(f.duration_us >= 3 * I && f.start_us + f.duration_us <= t.end_us);
        }
        if let Some((mean, min)) = metrics::timeline::fps(&t) {
            prop_assert!(mean >= 0.0 && min >= 0.0 && mean.is_finite());
        }
    }

    #[test]
    fn percentiles_are_ordered(samples in proptest::collection::vec(-1_000_000_000i64..1_000_000_000, 1..500)) {
        let d = distribution(&samples).unwrap();
        prop_assert!(d.min <= d.p50 && d.p50 <= d.p90 && d.p90 <= d.p95);
        prop_assert!(d.p95 <= d.p99 && d.p99 <= d.max);
        prop_assert!(d.min <= d.mean && d.mean <= d.max);
    }
}
