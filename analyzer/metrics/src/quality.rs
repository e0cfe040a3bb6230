//! Pooling per-frame quality scores (VMAF, PSNR-Y, SSIM) into a stream's numbers: mean,
//! harmonic mean as libvmaf computes it, minimum and the 1%/5% lows.

/// Pooled statistics of per-frame VMAF scores.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VmafSummary {
    pub mean: f64,
    pub harmonic_mean: f64,
    pub min: f64,
    /// 1st and 5th percentile ("1% low").
    pub p1: f64,
    pub p5: f64,
    pub frames_scored: usize,
}

/// Mean and minimum of a per-frame metric.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MeanMin {
    pub mean: f64,
    pub min: f64,
}

pub fn mean_min(values: &[f64]) -> Option<MeanMin> {
    let min = values.iter().copied().min_by(f64::total_cmp)?;
    Some(MeanMin {
        mean: values.iter().sum::<f64>() / values.len() as f64,
        min,
    })
}

/// Pool per-frame VMAF scores (harmonic mean as libvmaf computes it: on score + 1).
pub fn pool(scores: &[f64]) -> Option<VmafSummary> {
    if scores.is_empty() {
        return None;
    }
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let pct = |p: f64| sorted[(((p / 100.0) * n).ceil() as usize).clamp(1, sorted.len()) - 1];
    Some(VmafSummary {
        mean: sorted.iter().sum::<f64>() / n,
        harmonic_mean: n / sorted.iter().map(|s| 1.0 / (s + 1.0)).sum::<f64>() - 1.0,
        min: sorted[0],
        p1: pct(1.0),
        p5: pct(5.0),
        frames_scored: sorted.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling() {
        let s = pool(&[100.0, 80.0, 90.0, 60.0]).unwrap();
        assert_eq!(
            (s.mean, s.min, s.p1, s.frames_scored),
            (82.5, 60.0, 60.0, 4)
        );
        let expected_hm = 4.0 / (1.0 / 101.0 + 1.0 / 81.0 + 1.0 / 91.0 + 1.0 / 61.0) - 1.0;
        assert!((s.harmonic_mean - expected_hm).abs() < 1e-9);
        assert!(pool(&[]).is_none());
    }
}
