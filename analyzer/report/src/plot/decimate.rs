//! Per-pixel-column min/max decimation of long lines, so an hour-long series is drawn with a
//! few thousand points and every spike stays visible.

/// At most four points per pixel column (first, min, max, last, in time order) of a line
/// sorted (or nearly sorted) by x, so a 108k-point series is drawn with a few thousand points
/// and every spike stays visible. `x` outside `[x0, x1]` is clamped to the edge columns.
pub fn decimate(points: &[(f64, f64)], x0: f64, x1: f64, columns: usize) -> Vec<(f64, f64)> {
    let columns = columns.max(1);
    if points.len() <= 4 * columns {
        return points.to_vec();
    }
    let span = (x1 - x0).max(f64::MIN_POSITIVE);
    let column =
        |x: f64| (((x - x0) / span * columns as f64).floor().max(0.0) as usize).min(columns - 1);
    let mut out = Vec::with_capacity(4 * columns);
    let mut start = 0;
    while start < points.len() {
        let c = column(points[start].0);
        let mut end = start + 1;
        while end < points.len() && column(points[end].0) == c {
            end += 1;
        }
        let bucket = &points[start..end];
        let (mut lo, mut hi) = (0, 0);
        for (i, p) in bucket.iter().enumerate() {
            if p.1 < bucket[lo].1 {
                lo = i;
            }
            if p.1 > bucket[hi].1 {
                hi = i;
            }
        }
        let mut picks = [0, lo.min(hi), lo.max(hi), bucket.len() - 1];
        picks.sort_unstable();
        let mut last = None;
        for i in picks {
            if last != Some(i) {
                out.push(bucket[i]);
                last = Some(i);
            }
        }
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimation_keeps_every_extreme_and_bounds_the_points() {
        // 108k samples of a 30 fps hour with one spike and one dip.
        let mut pts: Vec<(f64, f64)> = (0..108_000)
            .map(|i| (i as f64 / 30.0, 500.0 + (i % 7) as f64))
            .collect();
        pts[54_321].1 = 4000.0;
        pts[77_777].1 = -20.0;
        let d = decimate(&pts, 0.0, 3600.0, 900);
        assert!(d.len() <= 3600, "{}", d.len());
        assert!(d.iter().any(|p| p.1 == 4000.0) && d.iter().any(|p| p.1 == -20.0));
        assert!(d.windows(2).all(|w| w[0].0 <= w[1].0), "time order kept");
        assert_eq!(d.first(), pts.first());
        assert_eq!(d.last(), pts.last());
        // Per column, the drawn range equals the data's range.
        let col = |x: f64| ((x / 3600.0 * 900.0) as usize).min(899);
        for c in [0, 123, 452, 899] {
            let range = |v: &[(f64, f64)]| {
                v.iter()
                    .filter(|p| col(p.0) == c)
                    .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)))
            };
            assert_eq!(range(&d), range(&pts));
        }
    }

    #[test]
    fn short_series_are_drawn_as_they_are() {
        let pts = vec![(0.0, 1.0), (1.0, 3.0), (2.0, 2.0)];
        assert_eq!(decimate(&pts, 0.0, 2.0, 900), pts);
    }
}
