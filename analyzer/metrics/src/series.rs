//! Distributions over a run for charts: CDFs, histograms and percentiles of plain values.
//! Pure functions, no drawing. (Delivered fps per second is `timeline::fps_windows`.)

/// Empirical CDF of `values` as (value, fraction ≤ value), at most `max_points` points
/// (plus the last), from the sorted values.
pub fn cdf(values: &[f64], max_points: usize) -> Vec<(f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return Vec::new();
    }
    let step = n.div_ceil(max_points.max(1));
    let mut out: Vec<(f64, f64)> = (0..n)
        .step_by(step)
        .map(|i| (v[i], (i + 1) as f64 / n as f64))
        .collect();
    if out.last().map(|p| p.1) != Some(1.0) {
        out.push((v[n - 1], 1.0));
    }
    out
}

/// Nearest-rank percentile (as the summary computes them) of unsorted values.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    Some(v[rank.min(v.len()) - 1])
}

/// Counts of `values` in bins of `width` starting at `start`; values outside are clamped to
/// the first or last bin.
pub fn histogram(values: &[f64], start: f64, width: f64, bins: usize) -> Vec<u32> {
    let mut counts = vec![0u32; bins.max(1)];
    let last = counts.len() - 1;
    for &v in values.iter().filter(|v| v.is_finite()) {
        let b = ((v - start) / width).floor().max(0.0) as usize;
        counts[b.min(last)] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_is_monotone_ends_at_one_and_is_bounded() {
        let v: Vec<f64> = (0..10_000).rev().map(f64::from).collect();
        let c = cdf(&v, 500);
        assert!(c.len() <= 501);
        assert!(c.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1));
        assert_eq!(c.first().unwrap().0, 0.0);
        assert_eq!(*c.last().unwrap(), (9999.0, 1.0));
    }

    #[test]
    fn percentiles_are_nearest_rank_and_histograms_clamp() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 1.0), Some(1.0));
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&[], 50.0), None);
        let h = histogram(&[-5.0, 0.5, 1.5, 1.7, 250.0], 0.0, 1.0, 3);
        assert_eq!(h, [2, 2, 1]);
    }
}
