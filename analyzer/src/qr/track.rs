//! Following the code from frame to frame: sampling its known module grid, then searching a
//! downscaled crop, wechat_qrcode on the crop, and finally the whole frame.

use signal::Timecode;

use super::{GrayFrame, QrMiss, Quad, Region, locate, region_of};

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
    wechat: Option<super::wechat::WechatReader>,
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
                super::wechat::WechatReader::new()
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
    let (_, content) = super::guard::guarded(|| rqrr::Grid::new(grid).decode())
        .ok()?
        .ok()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qr::tests::stamped;
    use generator::{Corner, PictureSize, Placement};

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
}
