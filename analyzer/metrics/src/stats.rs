//! Stream statistics over classified frames: percentiles, drops, freezes, delivered fps,
//! startup time and latency relative to the control.

use std::collections::HashMap;

use super::classify::{FrameKind, FrameRow};
use super::timeline::Delivered;

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

/// A freeze is this many frame intervals without a new picture.
pub const FREEZE_INTERVALS: i64 = 3;

/// Nearest-rank percentile `p` (0–100] of sorted values.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Nearest-rank percentile `p` of sorted non-empty values (the same rank as [`percentile`]).
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
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
pub fn frame_interval_us(rows: &[Delivered]) -> Option<i64> {
    let mut steps = Vec::new();
    let mut prev: Option<(u64, i64)> = None;
    for r in rows.iter().filter(|r| r.kind == FrameKind::New) {
        let (Some(f), Some(c)) = (r.frame, r.capture_us) else {
            continue;
        };
        if let Some((pf, pc)) = prev
            && f > pf
            && c >= pc
        {
            steps.push((c - pc) / (f - pf) as i64);
        }
        prev = Some((f, c));
    }
    steps.sort_unstable();
    percentile(&steps, 50.0)
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

/// Count of rows of some kinds.
pub fn count(rows: &[FrameRow], kind: impl Fn(FrameKind) -> bool) -> u64 {
    rows.iter().filter(|r| kind(r.kind)).count() as u64
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
    fn the_frame_interval_is_the_median_capture_step() {
        let r = rows(90, &[30, 31, 32]);
        let d: Vec<Delivered> = r.iter().map(Delivered::from).collect();
        assert_eq!(frame_interval_us(&d), Some(I));
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
