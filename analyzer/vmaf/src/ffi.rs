//! The libvmaf FFI wrapper: every `unsafe` block of the workspace lives in this file. A context
//! and its model are owned through non-null handles, every call's return code is checked in one
//! place, pictures are handed to libvmaf by value (it takes ownership), and `Drop` frees
//! without panicking.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::ptr::{self, NonNull};

use libvmaf_sys as sys;

use crate::VmafError;

/// One yuv420p picture borrowed from a frame buffer: Y (w×h), then U and V (w/2×h/2).
#[derive(Debug, Clone, Copy)]
pub struct Yuv420<'a> {
    pub width: usize,
    pub height: usize,
    pub data: &'a [u8],
}

impl Yuv420<'_> {
    pub fn is_valid(&self) -> bool {
        self.width.is_multiple_of(2)
            && self.height.is_multiple_of(2)
            && self.data.len() == self.width * self.height * 3 / 2
    }
}

/// The single return-code check: libvmaf returns 0 or a negative errno.
fn check(call: &'static str, rc: i32) -> Result<(), VmafError> {
    if rc == 0 {
        Ok(())
    } else {
        Err(VmafError::Call { call, code: rc })
    }
}

/// A libvmaf context with one model and the PSNR and SSIM extractors registered.
pub struct Context {
    ctx: NonNull<sys::VmafContext>,
    model: NonNull<sys::VmafModel>,
}

// SAFETY: a VmafContext is used from one thread at a time (`&mut self` on every call); libvmaf
// runs its own worker threads internally and does not tie the context to the creating thread.
unsafe impl Send for Context {}

impl Context {
    /// `model`: a built-in model version such as `vmaf_v0.6.1`.
    pub fn new(model: &str, threads: u32, subsample: u32) -> Result<Self, VmafError> {
        let cfg = sys::VmafConfiguration {
            log_level: sys::VmafLogLevel::VMAF_LOG_LEVEL_NONE,
            n_threads: threads,
            n_subsample: subsample.max(1),
            cpumask: 0,
        };
        let mut raw_ctx: *mut sys::VmafContext = ptr::null_mut();
        // SAFETY: `raw_ctx` is a valid out-pointer; `cfg` is passed by value.
        check("vmaf_init", unsafe { sys::vmaf_init(&mut raw_ctx, cfg) })?;
        let ctx = NonNull::new(raw_ctx).ok_or(VmafError::Call {
            call: "vmaf_init",
            code: 0,
        })?;

        let name = CString::new(model).map_err(|_| VmafError::Model(model.to_owned()))?;
        let mut model_cfg = sys::VmafModelConfig {
            name: name.as_ptr(),
            flags: 0,
        };
        let mut raw_model: *mut sys::VmafModel = ptr::null_mut();
        // SAFETY: out-pointer and config are valid for the call; `name` outlives it (libvmaf
        // copies what it keeps).
        let rc = unsafe { sys::vmaf_model_load(&mut raw_model, &mut model_cfg, name.as_ptr()) };
        let Some(model_ptr) = NonNull::new(raw_model).filter(|_| rc == 0) else {
            // SAFETY: `ctx` came from a successful vmaf_init and is closed exactly once here.
            unsafe { sys::vmaf_close(ctx.as_ptr()) };
            return Err(VmafError::Model(model.to_owned()));
        };
        let this = Self {
            ctx,
            model: model_ptr,
        };
        // SAFETY: both handles are live; libvmaf copies the feature list it needs.
        check("vmaf_use_features_from_model", unsafe {
            sys::vmaf_use_features_from_model(this.ctx.as_ptr(), this.model.as_ptr())
        })?;
        for feature in [c"psnr", c"float_ssim"] {
            // SAFETY: live context, NUL-terminated static name, no options dictionary.
            check("vmaf_use_feature", unsafe {
                sys::vmaf_use_feature(this.ctx.as_ptr(), feature.as_ptr(), ptr::null_mut())
            })?;
        }
        Ok(this)
    }

    /// Copy a frame into a picture libvmaf allocated.
    fn picture(frame: &Yuv420<'_>) -> Result<sys::VmafPicture, VmafError> {
        if !frame.is_valid() {
            return Err(VmafError::FrameSize);
        }
        // SAFETY: VmafPicture is a plain C struct; all-zero is its "unallocated" state.
        let mut pic: sys::VmafPicture = unsafe { std::mem::zeroed() };
        let (w, h) = (frame.width as u32, frame.height as u32);
        // SAFETY: `pic` is a valid out-parameter; libvmaf allocates the planes.
        check("vmaf_picture_alloc", unsafe {
            sys::vmaf_picture_alloc(
                &mut pic,
                sys::VmafPixelFormat::VMAF_PIX_FMT_YUV420P,
                8,
                w,
                h,
            )
        })?;
        let mut offset = 0;
        for plane in 0..3 {
            let (pw, ph) = (pic.w[plane] as usize, pic.h[plane] as usize);
            let stride = pic.stride[plane] as usize;
            for row in 0..ph {
                let src = &frame.data[offset + row * pw..offset + (row + 1) * pw];
                // SAFETY: libvmaf allocated `ph` rows of `stride ≥ pw` bytes for this plane;
                // the source slice is `pw` bytes long and does not overlap it.
                unsafe {
                    let dst = pic.data[plane].cast::<u8>().add(row * stride);
                    ptr::copy_nonoverlapping(src.as_ptr(), dst, pw);
                }
            }
            offset += pw * ph;
        }
        Ok(pic)
    }

    /// Score one pair at `index` (strictly increasing). The pictures' ownership passes to
    /// libvmaf, which frees them.
    pub fn read(
        &mut self,
        reference: &Yuv420<'_>,
        distorted: &Yuv420<'_>,
        index: u32,
    ) -> Result<(), VmafError> {
        let mut r = Self::picture(reference)?;
        let mut d = match Self::picture(distorted) {
            Ok(d) => d,
            Err(e) => {
                // SAFETY: `r` was allocated above and never handed to libvmaf.
                unsafe { sys::vmaf_picture_unref(&mut r) };
                return Err(e);
            }
        };
        // SAFETY: live context; libvmaf takes ownership of both pictures (by value).
        check("vmaf_read_pictures", unsafe {
            sys::vmaf_read_pictures(self.ctx.as_ptr(), &mut r, &mut d, index)
        })
    }

    /// Signal the end of input, so the scores of the last frames can be computed.
    pub fn flush(&mut self) -> Result<(), VmafError> {
        // SAFETY: a NULL pair is libvmaf's documented flush.
        check("vmaf_read_pictures(flush)", unsafe {
            sys::vmaf_read_pictures(self.ctx.as_ptr(), ptr::null_mut(), ptr::null_mut(), 0)
        })
    }

    /// The model's VMAF score of the pair read at `index`.
    pub fn vmaf_at(&mut self, index: u32) -> Result<f64, VmafError> {
        let mut score = 0.0;
        // SAFETY: live handles, valid out-pointer.
        check("vmaf_score_at_index", unsafe {
            sys::vmaf_score_at_index(self.ctx.as_ptr(), self.model.as_ptr(), &mut score, index)
        })?;
        Ok(score)
    }

    /// A feature's score (`psnr_y`, `float_ssim`, …) at `index`.
    pub fn feature_at(&mut self, name: &CStr, index: u32) -> Result<f64, VmafError> {
        let mut score = 0.0;
        // SAFETY: live context, NUL-terminated name, valid out-pointer.
        check("vmaf_feature_score_at_index", unsafe {
            sys::vmaf_feature_score_at_index(self.ctx.as_ptr(), name.as_ptr(), &mut score, index)
        })?;
        Ok(score)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: both handles are live and owned by `self`; each is freed exactly once.
        let rc = unsafe { sys::vmaf_close(self.ctx.as_ptr()) };
        if rc != 0 {
            tracing::warn!("vmaf_close returned {rc}");
        }
        // SAFETY: as above; the context that used the model is already closed.
        unsafe { sys::vmaf_model_destroy(self.model.as_ptr()) };
    }
}
