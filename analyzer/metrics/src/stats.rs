//! Stream statistics over classified frames: percentiles, drops, freezes, delivered fps,
//! startup time and latency relative to the control.

use std::collections::HashMap;

use super::classify::{FrameKind, FrameRow};

/// Nearest-rank percentiles and extremes of a sample, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Distribution {
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    #[serde(skip)]
    pub count: usize,
}

/// Nearest-rank percentile `p` (0–100] of sorted values.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Distribution of µs samples, reported in ms.
pub fn distribution(samples_us: &[i64]) -> Option<Distribution> {
    let mut v = samples_us.to_vec();
    v.sort_unstable();
    let ms = |p: f64| percentile(&v, p).map(|x| x as f64 / 1e3);
    Some(Distribution {
        p50: ms(50.0)?,
        p90: ms(90.0)?,
        p95: ms(95.0)?,
        p99: ms(99.0)?,
        min: *v.first()? as f64 / 1e3,
        max: *v.last()? as f64 / 1e3,
        mean: v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64 / 1e3,
        count: v.len(),
    })
}

/// The capture interval between frames, from the timecodes of new frames (median of
/// capture-time steps per frame number), in µs.
pub fn frame_interval_us(rows: &[FrameRow]) -> Option<i64> {
    let mut steps = Vec::new();
    let mut prev: Option<(u64, u64)> = None;
    for r in rows.iter().filter(|r| r.kind == FrameKind::New) {
        let tc = r.arrival.timecode?;
        if let Some((f, t)) = prev
            && tc.frame > f
            && tc.capture_us >= t
        {
            steps.push(((tc.capture_us - t) / (tc.frame - f)) as i64);
        }
        prev = Some((tc.frame, tc.capture_us));
    }
    steps.sort_unstable();
    percentile(&steps, 50.0)
}

/// A freeze is this many frame intervals without a new frame.
pub const FREEZE_INTERVALS: i64 = 3;

/// A period in which no new frame number arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freeze {
    /// Arrival of the last new frame before the freeze, µs UTC.
    pub start_us: i64,
    pub duration_us: i64,
}

/// Freezes: gaps between consecutive new frames of at least `min_intervals` frame intervals.
pub fn freezes(rows: &[FrameRow], interval_us: i64, min_intervals: i64) -> Vec<Freeze> {
    let mut out = Vec::new();
    let mut prev: Option<i64> = None;
    for r in rows.iter().filter(|r| r.kind == FrameKind::New) {
        let t = r.arrival.arrival_us;
        if let Some(p) = prev
            && t - p >= min_intervals * interval_us
        {
            out.push(Freeze {
                start_us: p,
                duration_us: t - p,
            });
        }
        prev = Some(t);
    }
    out
}

/// Shortest gap in arrivals that counts as an outage (the source dropped or reconnected).
pub const OUTAGE_MIN_US: i64 = 1_000_000;

/// Outages: gaps between consecutive arrivals (of any frame) of at least `OUTAGE_MIN_US` and
/// at least 5 frame intervals. Unlike a freeze, nothing arrived at all.
pub fn outages(rows: &[FrameRow], interval_us: i64) -> Vec<Freeze> {
    let min = OUTAGE_MIN_US.max(5 * interval_us);
    rows.windows(2)
        .filter_map(|w| {
            let (a, b) = (w[0].arrival.arrival_us, w[1].arrival.arrival_us);
            (b - a >= min).then_some(Freeze {
                start_us: a,
                duration_us: b - a,
            })
        })
        .collect()
}

/// Delivered fps: new frames per whole 1 s window of arrival time, from the first new frame.
/// Returns (mean over the whole span, min over complete windows).
pub fn delivered_fps(rows: &[FrameRow]) -> Option<(f64, f64)> {
    let times: Vec<i64> = rows
        .iter()
        .filter(|r| r.kind.is_first_sighting())
        .map(|r| r.arrival.arrival_us)
        .collect();
    let (&first, &last) = (times.first()?, times.last()?);
    let windows = ((last - first) / 1_000_000) as usize;
    let mut counts = vec![0u32; windows + 1];
    for t in &times {
        counts[((t - first) / 1_000_000) as usize] += 1;
    }
    let span_s = (last - first) as f64 / 1e6;
    let mean = if span_s > 0.0 {
        (times.len() - 1) as f64 / span_s
    } else {
        0.0
    };
    // The last window is partial; without a complete window, the minimum is the mean.
    let min = counts[..windows]
        .iter()
        .min()
        .map_or(mean, |&c| f64::from(c));
    Some((mean, min))
}

/// Drops: frame numbers missing between the lowest and highest first-seen numbers, per run
/// of the source (a source that restarts its count — a lower number captured after the
/// highest — starts a new run). Returns (frames expected, frames dropped).
pub fn drops(rows: &[FrameRow]) -> (u64, u64) {
    let (mut expected, mut dropped) = (0u64, 0u64);
    // Current run: lowest, highest, capture time of the highest, first sightings.
    let mut run: Option<(u64, u64, u64, u64)> = None;
    let mut close = |run: Option<(u64, u64, u64, u64)>| {
        if let Some((lo, hi, _, unique)) = run {
            let e = hi - lo + 1;
            expected += e;
            dropped += e.saturating_sub(unique);
        }
    };
    for r in rows.iter().filter(|r| r.kind.is_first_sighting()) {
        let Some(tc) = r.arrival.timecode else {
            continue;
        };
        let (f, cap) = (tc.frame, tc.capture_us);
        run = match run {
            Some((_, hi, hi_cap, _)) if f < hi && cap > hi_cap => {
                close(run);
                Some((f, f, cap, 1))
            }
            Some((lo, hi, hi_cap, unique)) => {
                let (hi, hi_cap) = if f >= hi { (f, cap) } else { (hi, hi_cap) };
                Some((lo.min(f), hi, hi_cap, unique + 1))
            }
            None => Some((f, f, cap, 1)),
        };
    }
    close(run);
    (expected, dropped)
}

/// The decoded picture size changed at a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolutionChange {
    /// Index of the first row at the new size.
    pub row: usize,
    pub from: (u32, u32),
    pub to: (u32, u32),
}

/// Where the decoded picture size changed.
pub fn resolution_changes(rows: &[FrameRow]) -> Vec<ResolutionChange> {
    let mut out = Vec::new();
    let mut prev: Option<(u32, u32)> = None;
    for (i, r) in rows.iter().enumerate() {
        if let Some(size) = r.arrival.source_size {
            if let Some(p) = prev
                && p != size
            {
                out.push(ResolutionChange {
                    row: i,
                    from: p,
                    to: size,
                });
            }
            prev = Some(size);
        }
    }
    out
}

/// Count of rows of one kind.
pub fn count(rows: &[FrameRow], kind: FrameKind) -> u64 {
    rows.iter().filter(|r| r.kind == kind).count() as u64
}

/// Arrival of each frame number's first sighting in the control, for relative latency.
pub fn first_arrivals(rows: &[FrameRow]) -> HashMap<u64, i64> {
    rows.iter()
        .filter(|r| r.kind.is_first_sighting())
        .filter_map(|r| Some((r.arrival.timecode?.frame, r.arrival.arrival_us)))
        .collect()
}

/// Relative latency of one live frame: its arrival minus the control's arrival of the same
/// frame number.
pub fn relative_latency_us(row: &FrameRow, control: &HashMap<u64, i64>) -> Option<i64> {
    if !row.kind.is_first_sighting() {
        return None;
    }
    let frame = row.arrival.timecode?.frame;
    Some(row.arrival.arrival_us - control.get(&frame)?)
}

#[cfg(test)]
mod tests {
    use super::super::classify::Classifier;
    use super::super::classify::tests::arrival;
    use super::*;

    const I: i64 = 33_333;

    /// Arrival of frame `f` at exactly 30 fps, 100 ms after frame 0's capture.
    fn t(f: u64) -> i64 {
        (f * 1_000_000 / 30) as i64 + 100_000
    }

    /// Frames 0..n arriving at 30 fps, except those in `skip`.
    fn rows(n: u64, skip: &[u64]) -> Vec<FrameRow> {
        let mut c = Classifier::new(0);
        (0..n)
            .filter(|f| !skip.contains(f))
            .enumerate()
            .map(|(i, f)| c.push(arrival(i as u64, Some(f), t(f), true)))
            .collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&[7], 1.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
        let d = distribution(&[1_000, 3_000, 2_000]).unwrap();
        assert_eq!(
            (d.p50, d.min, d.max, d.mean, d.count),
            (2.0, 1.0, 3.0, 2.0, 3)
        );
    }

    #[test]
    fn a_restarted_source_is_a_new_run_and_its_gap_an_outage() {
        use crate::classify::tests::arrival;
        let mut c = crate::Classifier::new(0);
        let mut rows: Vec<FrameRow> = (0..60u64)
            .map(|f| c.push(arrival(f, Some(f), f as i64 * I, true)))
            .collect();
        // Back 2 s later, counting from 0 with later capture times; frame 5 lost.
        for f in (0..30u64).filter(|&f| f != 5) {
            let mut a = arrival(100 + f, Some(f), 4_000_000 + f as i64 * I, true);
            a.timecode.as_mut().unwrap().capture_us += 3_900_000;
            rows.push(c.push(a));
        }
        assert_eq!(drops(&rows), (90, 1));
        let o = outages(&rows, I);
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].start_us, 59 * I);
        assert_eq!(o[0].duration_us, 4_000_000 - 59 * I);
        assert!(outages(&rows[..60], I).is_empty());
    }

    #[test]
    fn drops_are_gaps_in_frame_numbers() {
        let skip: Vec<u64> = (30..40).collect();
        let r = rows(90, &skip);
        assert_eq!(drops(&r), (90, 10));
        assert_eq!(r.iter().map(|r| r.gap_before).sum::<u64>(), 10);
        assert_eq!(frame_interval_us(&r), Some(I));
    }

    #[test]
    fn freezes_are_long_gaps_between_new_frames() {
        // 10 missing frames = an 11-interval gap in arrivals.
        let skip: Vec<u64> = (30..40).collect();
        let r = rows(90, &skip);
        let f = freezes(&r, I, 3);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].start_us, t(29));
        assert_eq!(f[0].duration_us, t(40) - t(29));
        // Two missing frames (a 3-interval gap) are a freeze too; one is not.
        assert_eq!(freezes(&rows(20, &[5, 6]), I, 3).len(), 1);
        assert_eq!(freezes(&rows(20, &[5]), I, 3).len(), 0);
    }

    #[test]
    fn delivered_fps_in_one_second_windows() {
        let r = rows(91, &[]);
        let (mean, min) = delivered_fps(&r).unwrap();
        assert!((mean - 30.0).abs() < 0.01, "{mean}");
        assert_eq!(min, 30.0);
        let skip: Vec<u64> = (30..45).collect();
        let (_, min) = delivered_fps(&rows(91, &skip)).unwrap();
        assert_eq!(min, 15.0);
    }

    #[test]
    fn resolution_changes_are_found_between_known_sizes() {
        let mut r = rows(6, &[]);
        let sizes = [
            Some((640, 360)),
            None,
            Some((640, 360)),
            Some((320, 180)),
            Some((320, 180)),
            Some((640, 360)),
        ];
        for (row, size) in r.iter_mut().zip(sizes) {
            row.arrival.source_size = size;
        }
        let found: Vec<_> = resolution_changes(&r)
            .iter()
            .map(|c| (c.row, c.from, c.to))
            .collect();
        assert_eq!(
            found,
            [(3, (640, 360), (320, 180)), (5, (320, 180), (640, 360))]
        );
    }

    #[test]
    fn relative_latency_pairs_by_frame_number() {
        let control = rows(10, &[]);
        let mut c = Classifier::new(0);
        let live: Vec<FrameRow> = [(0u64, 0i64), (2, 2), (1, 3)]
            .iter()
            .map(|&(f, i)| c.push(arrival(i as u64, Some(f), t(f) + 250_000, true)))
            .collect();
        let map = first_arrivals(&control);
        let rel: Vec<_> = live.iter().map(|r| relative_latency_us(r, &map)).collect();
        assert_eq!(rel, [Some(250_000), Some(250_000), Some(250_000)]);
    }
}
