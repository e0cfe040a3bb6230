//! libvmaf for streamscope: a safe `Scorer` (VMAF, PSNR-Y and SSIM per pair, in the order
//! pairs are pushed) over the FFI wrapper in `ffi.rs`, the one file of the workspace with
//! `unsafe` code. Pairing frames and pooling scores are the callers' business.

mod ffi;

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
    #[error("the scoring thread panicked; this stream's scores are lost")]
    Panicked,
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
    /// libvmaf scores every `subsample`th pair (by the index it was read at).
    subsample: u32,
}

impl Scorer {
    pub fn new(model: &str, threads: u32, subsample: u32) -> Result<Self, VmafError> {
        Ok(Self {
            ctx: ffi::Context::new(model, threads, subsample)?,
            keys: Vec::new(),
            model: model.to_owned(),
            subsample: subsample.max(1),
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

    /// The keys pushed into this context, in order.
    pub fn keys(&self) -> &[u64] {
        &self.keys
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
        let step = self.subsample as usize;
        (2..10 * step)
            .filter_map(|back| n.checked_sub(back))
            .filter(|i| i.is_multiple_of(step))
            .find_map(|i| Some((self.keys[i], self.ctx.vmaf_at(i as u32).ok()?)))
    }

    /// Flush libvmaf (the motion feature needs the frame after each one) and collect the
    /// scores of every scored pair (with a subsample of N, every Nth pair pushed; the others
    /// have none).
    pub fn finish(mut self) -> Result<Vec<(u64, FrameScores)>, VmafError> {
        if self.keys.is_empty() {
            return Ok(Vec::new());
        }
        self.ctx.flush()?;
        let keys = std::mem::take(&mut self.keys);
        let step = self.subsample as usize;
        keys.into_iter()
            .enumerate()
            .step_by(step)
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_subsample_of_n_scores_every_nth_pair() {
        let (w, h) = (64, 48);
        let mut s = Scorer::new("vmaf_v0.6.1", 1, 3).unwrap();
        for i in 0..10u64 {
            let f = gray_frame(w, h, i as u8);
            let pic = Yuv420 {
                width: w,
                height: h,
                data: &f,
            };
            s.push(100 + i, &pic, &pic).unwrap();
        }
        let keys: Vec<u64> = s.finish().unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, [100, 103, 106, 109]);
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
