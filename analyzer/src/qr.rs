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
type Quad = [(f64, f64); 4];

/// `decode_timecode`, also returning where the code was found.
pub fn locate_timecode(frame: GrayFrame<'_>) -> Result<(Timecode, Region), QrMiss> {
    locate(frame).map(|(tc, quad)| (tc, region_of(&quad)))
}

fn region_of(quad: &Quad) -> Region {
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

fn locate(frame: GrayFrame<'_>) -> Result<(Timecode, Quad), QrMiss> {
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

/// Follows the code from frame to frame. Once found, the code's geometry is known, so the
/// next frames are read by sampling the 21×21 module centres directly and handing the grid to
/// rqrr's decoder (tens of µs; Reed–Solomon and the payload CRC reject a bad sample). When that
/// fails, a crop around the last position is searched, box-downscaled to about 4 px per module,
/// then the whole frame: at half size for frames of 720 lines or more, then at full size.
#[derive(Debug, Default)]
pub struct QrTracker {
    last: Option<Region>,
    quad: Option<Quad>,
    buf: Vec<u8>,
    #[cfg(feature = "wechat")]
    wechat: Option<crate::wechat::WechatReader>,
}

/// Pixels per module the downscaled picture aims for.
const TARGET_MODULE_PX: usize = 4;
/// Modules across a signal-v1 code.
const MODULES: usize = 21;

impl QrTracker {
    /// A tracker using rqrr and, when built with the `wechat` feature and `wechat` is set,
    /// OpenCV's wechat_qrcode on crops.
    pub fn new(wechat: bool) -> Self {
        let _ = wechat;
        Self {
            #[cfg(feature = "wechat")]
            wechat: if wechat {
                crate::wechat::WechatReader::new()
            } else {
                None
            },
            ..Self::default()
        }
    }

    pub fn decode(&mut self, frame: GrayFrame<'_>) -> Result<Timecode, QrMiss> {
        if let Some(quad) = self.quad
            && let Some(tc) = sample_grid(frame, &quad)
        {
            return Ok(tc);
        }
        if let Some(r) = self.last {
            // The code plus an eighth of its size around it: room for the quiet zone and a
            // small shift; the code does not move within a stream.
            let m = r.w.max(r.h) / 8 + 8;
            let region = Region {
                x: r.x.saturating_sub(m),
                y: r.y.saturating_sub(m),
                w: (r.x + r.w + m).min(frame.width) - r.x.saturating_sub(m),
                h: (r.y + r.h + m).min(frame.height) - r.y.saturating_sub(m),
            };
            let factor = (r.w / (MODULES + 1) / TARGET_MODULE_PX).clamp(1, 4);
            if let Ok(tc) = self.try_region(frame, region, factor) {
                return Ok(tc);
            }
            #[cfg(feature = "wechat")]
            if let Some(tc) = self.try_wechat(frame, region) {
                return Ok(tc);
            }
        }
        let whole = Region {
            x: 0,
            y: 0,
            w: frame.width,
            h: frame.height,
        };
        if frame.height >= 720
            && let Ok(tc) = self.try_region(frame, whole, 2)
        {
            return Ok(tc);
        }
        self.try_region(frame, whole, 1)
    }

    /// wechat_qrcode on the crop around the code's last place (never on whole frames, where it
    /// can take 0.4 s on a 1080p frame without a readable code).
    #[cfg(feature = "wechat")]
    fn try_wechat(&mut self, frame: GrayFrame<'_>, region: Region) -> Option<Timecode> {
        let reader = self.wechat.as_mut()?;
        let (w, h) = downscale(frame, region, 1, &mut self.buf);
        reader.decode(GrayFrame::new(w, h, &self.buf)?).ok()
    }

    /// Decode `region` of `frame` shrunk by `factor`; remember where the code was.
    fn try_region(
        &mut self,
        frame: GrayFrame<'_>,
        region: Region,
        factor: usize,
    ) -> Result<Timecode, QrMiss> {
        let (w, h) = downscale(frame, region, factor, &mut self.buf);
        let small = GrayFrame::new(w, h, &self.buf).ok_or(QrMiss::NotFound)?;
        let (tc, quad) = locate(small)?;
        let f = factor as f64;
        let quad = quad.map(|(x, y)| (region.x as f64 + x * f, region.y as f64 + y * f));
        self.last = Some(region_of(&quad));
        self.quad = Some(quad);
        Ok(tc)
    }
}

/// Read the code at a known position: sample each module's centre (a 5-pixel cross), split
/// dark from light at the midpoint of the 20th and 80th percentiles, decode the grid.
fn sample_grid(frame: GrayFrame<'_>, quad: &Quad) -> Option<Timecode> {
    let [tl, tr, br, bl] = *quad;
    let span = (MODULES + 1) as f64;
    let at = |x: f64, y: f64| -> Option<u32> {
        let (px, py) = (x.round(), y.round());
        if px < 1.0 || py < 1.0 || px >= (frame.width - 1) as f64 || py >= (frame.height - 1) as f64
        {
            return None;
        }
        let (px, py) = (px as usize, py as usize);
        let v = |dx: isize, dy: isize| {
            u32::from(
                frame.data[(py as isize + dy) as usize * frame.width + (px as isize + dx) as usize],
            )
        };
        Some(v(0, 0) + v(-1, 0) + v(1, 0) + v(0, -1) + v(0, 1))
    };
    let mut samples = [0u32; MODULES * MODULES];
    for my in 0..MODULES {
        for mx in 0..MODULES {
            let (u, v) = ((mx as f64 + 0.5) / span, (my as f64 + 0.5) / span);
            let x = (1.0 - u) * (1.0 - v) * tl.0
                + u * (1.0 - v) * tr.0
                + u * v * br.0
                + (1.0 - u) * v * bl.0;
            let y = (1.0 - u) * (1.0 - v) * tl.1
                + u * (1.0 - v) * tr.1
                + u * v * br.1
                + (1.0 - u) * v * bl.1;
            samples[my * MODULES + mx] = at(x, y)?;
        }
    }
    let mut sorted = samples;
    sorted.sort_unstable();
    let n = sorted.len();
    let threshold = (sorted[n / 5] + sorted[n * 4 / 5]) / 2;
    let grid = rqrr::SimpleGrid::from_func(MODULES, |x, y| samples[y * MODULES + x] < threshold);
    let (_, content) = rqrr::Grid::new(grid).decode().ok()?;
    Timecode::from_payload(&content).ok()
}

/// Copy `region` of `frame` into `out`, averaging `factor`×`factor` blocks; returns its size.
fn downscale(
    frame: GrayFrame<'_>,
    region: Region,
    factor: usize,
    out: &mut Vec<u8>,
) -> (usize, usize) {
    let (w, h) = (region.w / factor, region.h / factor);
    out.clear();
    if factor == 1 {
        for y in region.y..region.y + h {
            let row = y * frame.width + region.x;
            out.extend_from_slice(&frame.data[row..row + w]);
        }
        return (w, h);
    }
    let mut sums = vec![0u32; w];
    let area = (factor * factor) as u32;
    for by in 0..h {
        sums.fill(0);
        for dy in 0..factor {
            let row = (region.y + by * factor + dy) * frame.width + region.x;
            for (bx, chunk) in frame.data[row..row + w * factor]
                .chunks_exact(factor)
                .enumerate()
            {
                sums[bx] += chunk.iter().map(|&v| u32::from(v)).sum::<u32>();
            }
        }
        out.extend(sums.iter().map(|s| (s / area) as u8));
    }
    (w, h)
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
    fn sampling_a_stale_position_fails_safely() {
        let size = PictureSize {
            width: 640,
            height: 360,
        };
        let tc = Timecode {
            stream_id: 1,
            frame: 7,
            capture_us: 70,
        };
        let luma = stamped(size, &Placement::default(), &tc);
        // The code as it sits top-right, but looked for bottom-left: no timecode, no panic.
        let quad = [(10.0, 250.0), (110.0, 250.0), (110.0, 350.0), (10.0, 350.0)];
        assert_eq!(
            sample_grid(GrayFrame::new(640, 360, &luma).unwrap(), &quad),
            None
        );
        // Off the frame: refused.
        let quad = [
            (600.0, 300.0),
            (700.0, 300.0),
            (700.0, 400.0),
            (600.0, 400.0),
        ];
        assert_eq!(
            sample_grid(GrayFrame::new(640, 360, &luma).unwrap(), &quad),
            None
        );
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
    fn tracker_follows_the_code_and_finds_it_again_after_a_move() {
        let size = PictureSize {
            width: 640,
            height: 360,
        };
        let mut t = QrTracker::default();
        for (i, corner) in [Corner::TopRight, Corner::TopRight, Corner::BottomLeft]
            .into_iter()
            .enumerate()
        {
            let tc = Timecode {
                stream_id: 2,
                frame: i as u64,
                capture_us: 1_000 * i as u64,
            };
            let p = Placement {
                corner,
                ..Placement::default()
            };
            let luma = stamped(size, &p, &tc);
            assert_eq!(t.decode(GrayFrame::new(640, 360, &luma).unwrap()), Ok(tc));
            let r = t.last.unwrap();
            let right = matches!(corner, Corner::TopRight);
            assert_eq!(r.x > 320, right, "{r:?} for {corner:?}");
        }
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
    fn downscale_averages_blocks() {
        let data: Vec<u8> = (0..16).collect();
        let frame = GrayFrame::new(4, 4, &data).unwrap();
        let mut out = Vec::new();
        let r = Region {
            x: 0,
            y: 0,
            w: 4,
            h: 4,
        };
        assert_eq!(downscale(frame, r, 2, &mut out), (2, 2));
        assert_eq!(out, [2, 4, 10, 12]);
        let r = Region {
            x: 1,
            y: 1,
            w: 2,
            h: 3,
        };
        assert_eq!(downscale(frame, r, 1, &mut out), (2, 3));
        assert_eq!(out, [5, 6, 9, 10, 13, 14]);
    }

    #[test]
    fn tracker_reads_1080p_through_the_downscaled_crop() {
        let size = PictureSize {
            width: 1920,
            height: 1080,
        };
        let mut t = QrTracker::default();
        for frame in 0..3 {
            let tc = Timecode {
                stream_id: 1,
                frame,
                capture_us: frame * 33_333,
            };
            let luma = stamped(size, &Placement::default(), &tc);
            assert_eq!(t.decode(GrayFrame::new(1920, 1080, &luma).unwrap()), Ok(tc));
        }
        // 14 px modules: found once, then read by sampling the known grid.
        let r = t.last.unwrap();
        assert!(r.w / 22 >= 12, "{r:?}");
        let quad = t.quad.unwrap();
        let tc = Timecode {
            stream_id: 1,
            frame: 99,
            capture_us: 5,
        };
        let luma = stamped(size, &Placement::default(), &tc);
        assert_eq!(
            sample_grid(GrayFrame::new(1920, 1080, &luma).unwrap(), &quad),
            Some(tc)
        );
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
