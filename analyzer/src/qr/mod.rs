//! Finding and decoding the signal-v1 QR timecode in a gray (luma) frame with rqrr; `track`
//! follows it from frame to frame.

mod guard;
mod track;
#[cfg(feature = "wechat")]
pub mod wechat;

pub use track::QrTracker;

use signal::{PayloadError, Timecode};

/// A borrowed 8-bit luma picture, rows packed (stride = width).
#[derive(Debug, Clone, Copy)]
pub struct GrayFrame<'a> {
    pub width: usize,
    pub height: usize,
    pub data: &'a [u8],
}

impl<'a> GrayFrame<'a> {
    /// None when `data` is not exactly `width × height` bytes.
    pub fn new(width: usize, height: usize, data: &'a [u8]) -> Option<Self> {
        (width * height == data.len() && width > 0).then_some(Self {
            width,
            height,
            data,
        })
    }
}

/// Why a frame yielded no timecode. Kept apart so unreadable frames are counted, never guessed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrMiss {
    #[error("no QR code found in the frame")]
    NotFound,
    #[error("a QR code was found but could not be decoded: {0}")]
    Undecodable(String),
    #[error("a QR code was read but is not a streamscope timecode: {0}")]
    Payload(PayloadError),
}

/// A rectangle in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

/// Find the QR codes in `frame` and return the first that carries a valid v1 timecode.
/// When none does, the most informative miss is returned (a bad payload beats a failed decode,
/// which beats nothing found).
pub fn decode_timecode(frame: GrayFrame<'_>) -> Result<Timecode, QrMiss> {
    locate_timecode(frame).map(|(tc, _)| tc)
}

/// The code's corners in frame pixels (rqrr's bounds: grid (0,0), (22,0), (22,22), (0,22)).
pub(crate) type Quad = [(f64, f64); 4];

/// `decode_timecode`, also returning where the code was found.
pub fn locate_timecode(frame: GrayFrame<'_>) -> Result<(Timecode, Region), QrMiss> {
    locate(frame).map(|(tc, quad)| (tc, region_of(&quad)))
}

pub(crate) fn region_of(quad: &Quad) -> Region {
    let xs = quad.iter().map(|p| p.0.max(0.0) as usize);
    let ys = quad.iter().map(|p| p.1.max(0.0) as usize);
    let (x0, x1) = (xs.clone().min().unwrap_or(0), xs.max().unwrap_or(0));
    let (y0, y1) = (ys.clone().min().unwrap_or(0), ys.max().unwrap_or(0));
    Region {
        x: x0,
        y: y0,
        w: x1.saturating_sub(x0) + 1,
        h: y1.saturating_sub(y0) + 1,
    }
}

pub(crate) fn locate(frame: GrayFrame<'_>) -> Result<(Timecode, Quad), QrMiss> {
    // rqrr can panic on a hostile picture (an assertion in its perspective fit); that frame
    // is then unreadable, like any other frame it cannot decode.
    guard::guarded(|| locate_unguarded(frame)).unwrap_or_else(|why| {
        Err(QrMiss::Undecodable(format!(
            "the QR reader gave up on this picture ({why})"
        )))
    })
}

fn locate_unguarded(frame: GrayFrame<'_>) -> Result<(Timecode, Quad), QrMiss> {
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(frame.width, frame.height, |x, y| {
        frame.data[y * frame.width + x]
    });
    let mut miss = QrMiss::NotFound;
    for grid in img.detect_grids() {
        let bounds = grid.bounds;
        match grid.decode() {
            Ok((_, content)) => match Timecode::from_payload(&content) {
                Ok(tc) => return Ok((tc, bounds.map(|p| (f64::from(p.x), f64::from(p.y))))),
                Err(e) => miss = QrMiss::Payload(e),
            },
            Err(e) => {
                if miss == QrMiss::NotFound {
                    miss = QrMiss::Undecodable(e.to_string());
                }
            }
        }
    }
    Err(miss)
}

/// Mean luma change (levels) above which a picture counts as changed.
pub const PICTURE_CHANGE_LEVELS: f64 = 1.0;

/// Did the picture move since `previous` (None: the first frame, which does)?
pub fn picture_changed(previous: Option<&[u8]>, luma: &[u8], width: usize) -> bool {
    previous.is_none_or(|p| {
        mean_abs_diff(&p[..luma.len().min(p.len())], luma, width) > PICTURE_CHANGE_LEVELS
    })
}

/// Mean absolute luma difference between two frames of equal size, sampled on a 4×4 grid.
pub fn mean_abs_diff(a: &[u8], b: &[u8], width: usize) -> f64 {
    if a.len() != b.len() || width == 0 {
        return f64::INFINITY;
    }
    let (mut sum, mut n) = (0u64, 0u64);
    for (ra, rb) in a.chunks(width).zip(b.chunks(width)).step_by(4) {
        for (pa, pb) in ra.iter().zip(rb).step_by(4) {
            sum += u64::from(pa.abs_diff(*pb));
            n += 1;
        }
    }
    if n == 0 { 0.0 } else { sum as f64 / n as f64 }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use generator::{Compositor, Corner, PictureSize, Placement};

    /// A synthetic yuv420p frame with a busy luma pattern, stamped by the generator.
    pub(crate) fn stamped(size: PictureSize, placement: &Placement, tc: &Timecode) -> Vec<u8> {
        let mut buf: Vec<u8> = (0..size.frame_len())
            .map(|i| ((i * 7 + i / 640 * 13) % 200 + 20) as u8)
            .collect();
        Compositor::new(size, placement)
            .unwrap()
            .stamp(&mut buf, tc)
            .unwrap();
        buf.truncate(size.luma_len());
        buf
    }

    #[test]
    fn reads_back_what_the_generator_stamped_in_every_corner_and_size() {
        let tc = Timecode {
            stream_id: 7,
            frame: 123_456,
            capture_us: 1_795_264_496_789_012,
        };
        for (w, h) in [(640, 360), (1280, 720), (320, 240)] {
            for corner in [
                Corner::TopLeft,
                Corner::TopRight,
                Corner::BottomLeft,
                Corner::BottomRight,
            ] {
                let size = PictureSize {
                    width: w,
                    height: h,
                };
                let p = Placement {
                    corner,
                    ..Placement::default()
                };
                let luma = stamped(size, &p, &tc);
                let frame = GrayFrame::new(w as usize, h as usize, &luma).unwrap();
                assert_eq!(decode_timecode(frame), Ok(tc), "{w}x{h} {corner:?}");
            }
        }
    }

    #[test]
    fn a_frame_without_a_code_is_a_miss_not_a_timecode() {
        let luma = vec![128u8; 640 * 360];
        let frame = GrayFrame::new(640, 360, &luma).unwrap();
        assert_eq!(decode_timecode(frame), Err(QrMiss::NotFound));
    }

    #[test]
    fn a_damaged_code_is_rejected() {
        let tc = Timecode {
            stream_id: 1,
            frame: 5,
            capture_us: 1_000_000,
        };
        let size = PictureSize {
            width: 640,
            height: 360,
        };
        let mut luma = stamped(size, &Placement::default(), &tc);
        // Paint over the middle third of the code (beyond what ECC level M recovers).
        let l = Compositor::new(size, &Placement::default()).unwrap();
        let b = l.layout().qr_box;
        for y in b.y + b.h / 3..b.y + 2 * b.h / 3 {
            for x in b.x + 12..b.x + b.w - 12 {
                luma[y as usize * 640 + x as usize] = 16;
            }
        }
        let frame = GrayFrame::new(640, 360, &luma).unwrap();
        assert!(decode_timecode(frame).is_err());
    }

    #[test]
    fn stamped_symbol_is_version_1_level_m_mask_4() {
        let size = PictureSize {
            width: 640,
            height: 360,
        };
        for frame in 0..20 {
            let tc = Timecode {
                stream_id: 1,
                frame,
                capture_us: 1_795_262_400_000_000 + frame * 33_333,
            };
            let luma = stamped(size, &Placement::default(), &tc);
            let mut img =
                rqrr::PreparedImage::prepare_from_greyscale(640, 360, |x, y| luma[y * 640 + x]);
            let grids = img.detect_grids();
            let (meta, _) = grids[0].decode().unwrap();
            // Format-information EC bits: M is 00.
            assert_eq!(
                (meta.version.0, meta.ecc_level, meta.mask),
                (1, 0, 4),
                "frame {frame}"
            );
        }
    }

    #[test]
    fn picture_difference() {
        let a = vec![10u8; 64 * 8];
        let mut b = a.clone();
        assert_eq!(mean_abs_diff(&a, &b, 64), 0.0);
        b.iter_mut().for_each(|v| *v = 13);
        assert_eq!(mean_abs_diff(&a, &b, 64), 3.0);
        assert_eq!(mean_abs_diff(&a, &b[1..], 64), f64::INFINITY);
    }

    #[test]
    fn gray_frame_checks_its_length() {
        assert!(GrayFrame::new(4, 4, &[0; 15]).is_none());
        assert!(GrayFrame::new(4, 4, &[0; 16]).is_some());
    }
}
