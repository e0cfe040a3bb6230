//! Quality metrics through libvmaf (VMAF, PSNR-Y, SSIM) with frames paired by their embedded
//! frame number, and a reference window whose size never grows with run length.

mod ffi;
pub mod live;
pub mod offline;
mod reference;
mod subsample;

use std::collections::BTreeMap;

pub use ffi::Yuv420;

/// Built-in models.
pub const MODELS: [&str; 3] = ["vmaf_v0.6.1", "vmaf_4k_v0.6.1", "vmaf_v0.6.1neg"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VmafError {
    #[error("libvmaf: {call} failed with code {code}")]
    Call { call: &'static str, code: i32 },
    #[error(
        "libvmaf has no built-in model {0:?} (built in: vmaf_v0.6.1, vmaf_4k_v0.6.1, vmaf_v0.6.1neg)"
    )]
    Model(String),
    #[error("frame buffer is not a whole yuv420p picture")]
    FrameSize,
}

/// Scores of one scored pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameScores {
    pub vmaf: f64,
    pub psnr_y: f64,
    pub ssim: f64,
}

/// Feeds pairs to libvmaf in delivery order and returns their scores at the end.
pub struct Scorer {
    ctx: ffi::Context,
    /// Caller's key (e.g. the distorted frame's row) of each pair read, by libvmaf index.
    keys: Vec<u64>,
    pub model: String,
}

impl Scorer {
    pub fn new(model: &str, threads: u32, subsample: u32) -> Result<Self, VmafError> {
        Ok(Self {
            ctx: ffi::Context::new(model, threads, subsample)?,
            keys: Vec::new(),
            model: model.to_owned(),
        })
    }

    /// Score `distorted` against `reference` (same size). `key` comes back with its scores.
    pub fn push(
        &mut self,
        key: u64,
        reference: &Yuv420<'_>,
        distorted: &Yuv420<'_>,
    ) -> Result<(), VmafError> {
        if (reference.width, reference.height) != (distorted.width, distorted.height) {
            return Err(VmafError::FrameSize);
        }
        self.ctx
            .read(reference, distorted, self.keys.len() as u32)?;
        self.keys.push(key);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The VMAF of the newest pair libvmaf can already score without a flush (a frame is
    /// scored once the next frame's motion is in, later with a thread pool): (key, score).
    pub fn latest(&mut self) -> Option<(u64, f64)> {
        let n = self.keys.len();
        (2..10)
            .filter_map(|back| n.checked_sub(back))
            .find_map(|i| Some((self.keys[i], self.ctx.vmaf_at(i as u32).ok()?)))
    }

    /// Flush libvmaf (the motion feature needs the frame after each one) and collect every
    /// pair's scores.
    pub fn finish(mut self) -> Result<Vec<(u64, FrameScores)>, VmafError> {
        if self.keys.is_empty() {
            return Ok(Vec::new());
        }
        self.ctx.flush()?;
        let keys = std::mem::take(&mut self.keys);
        keys.into_iter()
            .enumerate()
            .map(|(i, key)| {
                let i = i as u32;
                Ok((
                    key,
                    FrameScores {
                        vmaf: self.ctx.vmaf_at(i)?,
                        psnr_y: self.ctx.feature_at(c"psnr_y", i)?,
                        ssim: self.ctx.feature_at(c"float_ssim", i)?,
                    },
                ))
            })
            .collect()
    }
}

/// The newest VMAF score of each live stream (by session index), published by the scorers
/// while they run, for live metrics (`analyze --metrics`).
#[derive(Debug, Default)]
pub struct LatestScores(std::sync::Mutex<std::collections::HashMap<usize, f64>>);

impl LatestScores {
    pub fn get(&self, stream: usize) -> Option<f64> {
        self.0.lock().ok()?.get(&stream).copied()
    }

    pub fn set(&self, stream: usize, score: f64) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(stream, score);
        }
    }
}

/// Reference frames keyed by frame number, at most `capacity` of them: inserting beyond that
/// evicts the lowest frame number, so memory stays flat whatever the delay between streams.
#[derive(Debug)]
pub struct ReferenceWindow<T> {
    frames: BTreeMap<u64, T>,
    capacity: usize,
}

impl<T> ReferenceWindow<T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            frames: BTreeMap::new(),
            capacity: capacity.max(1),
        }
    }

    pub fn insert(&mut self, frame: u64, data: T) {
        self.frames.insert(frame, data);
        while self.frames.len() > self.capacity {
            self.frames.pop_first();
        }
    }

    pub fn get(&self, frame: u64) -> Option<&T> {
        self.frames.get(&frame)
    }

    /// Lowest frame number held.
    pub fn oldest(&self) -> Option<u64> {
        self.frames.first_key_value().map(|(k, _)| *k)
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Highest frame number held.
    pub fn newest(&self) -> Option<u64> {
        self.frames.last_key_value().map(|(k, _)| *k)
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// Pooled statistics of per-frame VMAF scores.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
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

/// VMAF, PSNR-Y and SSIM pooled over the scored frames of a stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pooled {
    pub vmaf: Option<VmafSummary>,
    pub psnr_y: Option<MeanMin>,
    pub ssim: Option<MeanMin>,
}

pub fn pool_scores(scores: &[FrameScores]) -> Pooled {
    let pick = |f: fn(&FrameScores) -> f64| scores.iter().map(f).collect::<Vec<_>>();
    Pooled {
        vmaf: pool(&pick(|s| s.vmaf)),
        psnr_y: mean_min(&pick(|s| s.psnr_y)),
        ssim: mean_min(&pick(|s| s.ssim)),
    }
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
    fn window_is_bounded_and_evicts_the_oldest() {
        let mut w = ReferenceWindow::new(300);
        for f in 0..100_000u64 {
            w.insert(f, vec![0; 4]);
            assert!(w.len() <= 300);
        }
        assert_eq!(w.len(), 300);
        assert!(w.get(99_699).is_none() && w.get(99_700).is_some());
        assert_eq!(w.newest(), Some(99_999));
    }

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

    fn gray_frame(w: usize, h: usize, seed: u8) -> Vec<u8> {
        let mut f: Vec<u8> = (0..w * h)
            .map(|i| {
                ((i % w) as u8)
                    .wrapping_mul(3)
                    .wrapping_add(seed ^ (i / w) as u8)
            })
            .collect();
        f.extend(std::iter::repeat_n(128u8, w * h / 2));
        f
    }

    #[test]
    fn identical_pictures_score_at_the_top_and_noise_lowers_them() {
        let (w, h) = (64, 48);
        let mut s = Scorer::new("vmaf_v0.6.1", 1, 1).unwrap();
        for i in 0..4u64 {
            let f = gray_frame(w, h, i as u8);
            let pic = Yuv420 {
                width: w,
                height: h,
                data: &f,
            };
            s.push(i, &pic, &pic).unwrap();
        }
        for i in 4..8u64 {
            let r = gray_frame(w, h, i as u8);
            let mut d = r.clone();
            d.iter_mut()
                .take(w * h)
                .enumerate()
                .for_each(|(j, v)| *v = v.wrapping_add((j * 7 % 23) as u8));
            s.push(
                i,
                &Yuv420 {
                    width: w,
                    height: h,
                    data: &r,
                },
                &Yuv420 {
                    width: w,
                    height: h,
                    data: &d,
                },
            )
            .unwrap();
        }
        let scores = s.finish().unwrap();
        assert_eq!(scores.len(), 8);
        for (k, sc) in &scores[..4] {
            assert_eq!(
                sc.psnr_y, 60.0,
                "pair {k}: PSNR-Y of identical pictures is libvmaf's 8-bit cap"
            );
            assert!((sc.ssim - 1.0).abs() < 1e-6, "pair {k}: ssim {}", sc.ssim);
        }
        for (k, sc) in &scores[4..] {
            assert!(sc.psnr_y < 40.0 && sc.ssim < 0.99, "pair {k}: {sc:?}");
        }
    }

    #[test]
    fn unknown_model_and_size_mismatch_are_errors() {
        assert!(matches!(
            Scorer::new("vmaf_nope", 1, 1).err(),
            Some(VmafError::Model(_))
        ));
        let mut s = Scorer::new("vmaf_v0.6.1", 1, 1).unwrap();
        let a = gray_frame(64, 48, 0);
        let b = gray_frame(32, 24, 0);
        let r = s.push(
            0,
            &Yuv420 {
                width: 64,
                height: 48,
                data: &a,
            },
            &Yuv420 {
                width: 32,
                height: 24,
                data: &b,
            },
        );
        assert_eq!(r, Err(VmafError::FrameSize));
    }
}
