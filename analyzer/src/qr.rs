//! Finding and decoding the signal-v1 QR timecode in a gray (luma) frame with rqrr.

use generator::signal::{PayloadError, Timecode};

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

/// Find the QR codes in `frame` and return the first that carries a valid v1 timecode.
/// When none does, the most informative miss is returned (a bad payload beats a failed decode,
/// which beats nothing found).
pub fn decode_timecode(frame: GrayFrame<'_>) -> Result<Timecode, QrMiss> {
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(frame.width, frame.height, |x, y| {
        frame.data[y * frame.width + x]
    });
    let mut miss = QrMiss::NotFound;
    for grid in img.detect_grids() {
        match grid.decode() {
            Ok((_, content)) => match Timecode::from_payload(&content) {
                Ok(tc) => return Ok(tc),
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

#[cfg(test)]
mod tests {
    use super::*;
    use generator::{Compositor, Corner, PictureSize, Placement};

    /// A synthetic yuv420p frame with a busy luma pattern, stamped by the generator.
    fn stamped(size: PictureSize, placement: &Placement, tc: &Timecode) -> Vec<u8> {
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
    fn gray_frame_checks_its_length() {
        assert!(GrayFrame::new(4, 4, &[0; 15]).is_none());
        assert!(GrayFrame::new(4, 4, &[0; 16]).is_some());
    }
}
