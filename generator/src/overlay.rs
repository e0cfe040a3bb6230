//! Where the timecode goes in a frame (placement rules of `docs/SIGNAL.md`) and stamping it:
//! the QR code on a white quiet zone plus the human-readable line, into a yuv420p frame.

use std::str::FromStr;

use qrcode::bits::Bits;
use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::{Color, EcLevel, QrCode, Version};

use crate::Error;
use crate::frame::{LUMA_BLACK, LUMA_WHITE, PictureSize, Rect, YuvFrameMut};
use crate::text;
use signal::{PAYLOAD_LEN, Timecode};

/// Quiet zone on each side, in modules.
pub const QUIET_MODULES: u32 = 2;

/// A QR symbol configuration: version (size in modules) and error-correction level.
#[derive(Debug, Clone, Copy)]
pub struct Symbol {
    pub version: i16,
    pub ec_level: EcLevel,
    /// A fixed mask pattern, or None for the lowest-penalty mask of each payload (the QR
    /// standard's choice, which changes from frame to frame).
    pub mask: Option<MaskPattern>,
}

impl Symbol {
    /// Signal v1's symbol: version 1 (21×21 modules, the largest modules for a given code
    /// size) at level M, the strongest level whose numeric capacity (34 digits) holds the
    /// 33-digit payload, with one fixed mask (pattern 4) so fewer modules change from frame
    /// to frame. Chosen by measurement: see `docs/SIGNAL.md`.
    pub const V1: Symbol = Symbol {
        version: 1,
        ec_level: EcLevel::M,
        mask: Some(MaskPattern::LargeCheckerboard),
    };

    /// Modules across the symbol, without quiet zone.
    pub fn modules(&self) -> u32 {
        17 + 4 * self.version.unsigned_abs() as u32
    }
}

/// Which corner of the frame holds the timecode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Corner {
    TopLeft,
    #[default]
    TopRight,
    BottomLeft,
    BottomRight,
}

impl std::fmt::Display for Corner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TopLeft => "top-left",
            Self::TopRight => "top-right",
            Self::BottomLeft => "bottom-left",
            Self::BottomRight => "bottom-right",
        })
    }
}

impl FromStr for Corner {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "top-left" => Ok(Self::TopLeft),
            "top-right" => Ok(Self::TopRight),
            "bottom-left" => Ok(Self::BottomLeft),
            "bottom-right" => Ok(Self::BottomRight),
            _ => Err(format!(
                "unknown corner {s:?}: use top-left, top-right, bottom-left or bottom-right"
            )),
        }
    }
}

/// User-facing placement settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub corner: Corner,
    /// Height of the code including its quiet zone, as a fraction of the frame height.
    pub height_fraction: f64,
    /// Distance of the code from the frame's edges, as a fraction of its width (left/right)
    /// and height (top/bottom). The default, 0.1, keeps it inside the title-safe area (SMPTE
    /// RP 2046-2, EBU R 95), so a player or TV that crops the edges still shows it whole.
    pub margin_fraction: f64,
    /// Draw the human-readable line under (or over) the code.
    pub human_line: bool,
}

/// The default distance from the edges: the title-safe area.
pub const TITLE_SAFE: f64 = 0.1;

impl Default for Placement {
    fn default() -> Self {
        Self {
            corner: Corner::TopRight,
            height_fraction: 1.0 / 3.0,
            margin_fraction: TITLE_SAFE,
            human_line: true,
        }
    }
}

/// Pixel layout of the overlay for one picture size, computed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The code with its quiet zone.
    pub qr_box: Rect,
    /// Pixels per module (even).
    pub module_px: u32,
    /// Box of the human-readable line and its font scale, when drawn.
    pub text: Option<(Rect, u32)>,
}

/// Characters in the human-readable line (`2026-11-21 12:34:56.789 UTC · #000123 · stream 1`)
/// for frame numbers below 10⁶ and two-digit stream ids; longer lines stay right-aligned.
const HUMAN_LINE_CHARS: u32 = 49;

impl Layout {
    /// Place the overlay in a picture, or say why it does not fit.
    pub fn new(size: PictureSize, p: &Placement) -> Result<Self, Error> {
        Self::for_symbol(size, p, Symbol::V1)
    }

    /// Layout for another symbol size (measurements only; streams use `Symbol::V1`).
    pub fn for_symbol(size: PictureSize, p: &Placement, symbol: Symbol) -> Result<Self, Error> {
        let side_modules = symbol.modules() + 2 * QUIET_MODULES;
        let too_small = |why: String| Error::FrameTooSmall { size, why };
        if !(0.05..=1.0).contains(&p.height_fraction) {
            return Err(Error::Placement(format!(
                "QR height fraction {} is outside 0.05–1.0",
                p.height_fraction
            )));
        }
        if !(0.0..0.5).contains(&p.margin_fraction) {
            return Err(Error::Placement(format!(
                "QR margin {} is outside 0–0.5 of the frame",
                p.margin_fraction
            )));
        }
        let target = (f64::from(size.height) * p.height_fraction) as u32;
        // Whole, even pixels per module: modules stay sharp and map onto whole chroma samples.
        let module_px = (target / side_modules) & !1;
        if module_px < 2 {
            let min_height = (f64::from(side_modules * 2 + 4) / p.height_fraction).ceil() as u32;
            return Err(too_small(format!(
                "the code needs a height of at least {min_height} px at --qr-size {}",
                p.height_fraction
            )));
        }
        let side = module_px * side_modules;
        let margin = module_px.max(2);
        // Distances from the edges: the margin fraction, at least a module, even.
        let edge = |extent: u32| ((f64::from(extent) * p.margin_fraction) as u32).max(margin) & !1;
        let (edge_x, edge_y) = (edge(size.width), edge(size.height));
        if side + 2 * edge_y > size.height || side + 2 * edge_x > size.width {
            return Err(too_small(format!(
                "the code is {side} px square at --qr-size {} and needs {} × {} px with its margins; use a smaller --qr-size or --qr-margin",
                p.height_fraction,
                side + 2 * edge_x,
                side + 2 * edge_y
            )));
        }
        let left = matches!(p.corner, Corner::TopLeft | Corner::BottomLeft);
        let top = matches!(p.corner, Corner::TopLeft | Corner::TopRight);
        let x = if left {
            edge_x
        } else {
            size.width - edge_x - side
        };
        let y = if top {
            edge_y
        } else {
            size.height - edge_y - side
        };
        let qr_box = Rect {
            x,
            y,
            w: side,
            h: side,
        };

        let text = p
            .human_line
            .then(|| text_box(size, qr_box, margin, (edge_x, edge_y), left, top))
            .flatten();
        Ok(Self {
            qr_box,
            module_px,
            text,
        })
    }
}

/// Largest whole font scale (≤ height/360) at which the line fits inside the margins,
/// placed under the code for top corners and over it for bottom corners.
fn text_box(
    size: PictureSize,
    qr: Rect,
    margin: u32,
    (edge_x, edge_y): (u32, u32),
    left: bool,
    top: bool,
) -> Option<(Rect, u32)> {
    let mut scale = (size.height / 360).max(1);
    loop {
        let (w, h) = text::box_size(HUMAN_LINE_CHARS, scale);
        let fits_w = w + 2 * edge_x <= size.width;
        let fits_h = qr.h + h + margin + 2 * edge_y <= size.height;
        if fits_w && fits_h {
            let x = if left {
                edge_x
            } else {
                size.width - edge_x - w
            };
            let y = if top {
                qr.bottom() + margin
            } else {
                qr.y - margin - h
            };
            return Some((
                Rect {
                    x: x & !1,
                    y: y & !1,
                    w,
                    h,
                },
                scale,
            ));
        }
        if scale == 1 {
            return None;
        }
        scale -= 1;
    }
}

/// Stamps timecodes into frames of one size. Reusable across files and live publishing.
#[derive(Debug, Clone)]
pub struct Compositor {
    size: PictureSize,
    layout: Layout,
    symbol: Symbol,
    row: Vec<u8>,
}

impl Compositor {
    pub fn new(size: PictureSize, placement: &Placement) -> Result<Self, Error> {
        Self::with_symbol(size, placement, Symbol::V1)
    }

    /// A compositor drawing another symbol configuration. Only for measuring alternatives:
    /// everything streamscope publishes uses `Symbol::V1`.
    pub fn with_symbol(
        size: PictureSize,
        placement: &Placement,
        symbol: Symbol,
    ) -> Result<Self, Error> {
        let layout = Layout::for_symbol(size, placement, symbol)?;
        Ok(Self {
            size,
            layout,
            symbol,
            row: vec![LUMA_WHITE; layout.qr_box.w as usize],
        })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn size(&self) -> PictureSize {
        self.size
    }

    /// Draw `tc` into `frame` (a whole yuv420p frame of this compositor's size).
    pub fn stamp(&mut self, frame: &mut [u8], tc: &Timecode) -> Result<(), Error> {
        let size = self.size;
        let got = frame.len();
        let mut f = YuvFrameMut::new(size, frame).ok_or(Error::FrameLength {
            expected: size.frame_len(),
            got,
        })?;
        let modules = qr_modules(tc, self.symbol)?;
        let per_row = self.symbol.modules() as usize;
        let Layout {
            qr_box,
            module_px,
            text,
        } = self.layout;
        let quiet = QUIET_MODULES * module_px;
        // Quiet-zone rows above and below, then each module row built once and copied.
        for y in (qr_box.y..qr_box.y + quiet).chain(qr_box.bottom() - quiet..qr_box.bottom()) {
            f.luma_row(qr_box.x, y, qr_box.w).fill(LUMA_WHITE);
        }
        for (my, row_modules) in modules.chunks(per_row).enumerate() {
            self.row.fill(LUMA_WHITE);
            for (mx, color) in row_modules.iter().enumerate() {
                if *color == Color::Dark {
                    let s = (quiet + mx as u32 * module_px) as usize;
                    self.row[s..s + module_px as usize].fill(LUMA_BLACK);
                }
            }
            let y0 = qr_box.y + quiet + my as u32 * module_px;
            for y in y0..y0 + module_px {
                f.luma_row(qr_box.x, y, qr_box.w).copy_from_slice(&self.row);
            }
        }
        f.neutral_chroma(qr_box);
        if let Some((r, scale)) = text {
            text::draw_line(&mut f, r, &tc.human_line(), scale);
        }
        Ok(())
    }
}

/// The module colours of `tc`'s code in `symbol`, row by row.
pub fn qr_modules(tc: &Timecode, symbol: Symbol) -> Result<Vec<Color>, Error> {
    let payload = tc.to_payload()?;
    debug_assert_eq!(payload.len(), PAYLOAD_LEN);
    let failed = |e: qrcode::types::QrError| Error::Placement(format!("QR encoding failed: {e}"));
    let version = Version::Normal(symbol.version);
    let Some(mask) = symbol.mask else {
        let code =
            QrCode::with_version(payload.as_bytes(), version, symbol.ec_level).map_err(failed)?;
        return Ok(code.into_colors());
    };
    // The same steps as `QrCode::with_version`, with the mask fixed.
    let mut bits = Bits::new(version);
    bits.push_numeric_data(payload.as_bytes()).map_err(failed)?;
    bits.push_terminator(symbol.ec_level).map_err(failed)?;
    let (data, ec) = qrcode::ec::construct_codewords(&bits.into_bytes(), version, symbol.ec_level)
        .map_err(failed)?;
    let mut canvas = Canvas::new(version, symbol.ec_level);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&data, &ec);
    canvas.apply_mask(mask);
    Ok(canvas.into_colors())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(w: u32, h: u32) -> PictureSize {
        PictureSize {
            width: w,
            height: h,
        }
    }

    #[test]
    fn default_layouts_for_common_sizes() {
        let p = Placement::default();
        // 360p: 120 px target / 25 modules → 4 px modules, 100 px box, 10% from the edges
        // (64 px from the right, 36 px from the top): inside the title-safe area.
        let l = Layout::new(size(640, 360), &p).unwrap();
        assert_eq!(l.module_px, 4);
        assert_eq!(
            l.qr_box,
            Rect {
                x: 476,
                y: 36,
                w: 100,
                h: 100
            }
        );
        let (t, scale) = l.text.unwrap();
        assert_eq!(scale, 1);
        assert_eq!((t.right(), t.y), (576, 140));
        // At the edge, as before title-safe placement: a 4 px margin.
        let edge = Placement {
            margin_fraction: 0.0,
            ..p
        };
        let l = Layout::new(size(640, 360), &edge).unwrap();
        assert_eq!((l.qr_box.x, l.qr_box.y), (536, 4));
        // 720p: 8 px modules (module edges on the 8×8 transform grid), 200 px box.
        let l = Layout::new(size(1280, 720), &p).unwrap();
        assert_eq!((l.module_px, l.qr_box.w), (8, 200));
        assert_eq!(l.text.unwrap().1, 2);
        // 1080p: 14 px modules, 350 px box, font ×3.
        let l = Layout::new(size(1920, 1080), &p).unwrap();
        assert_eq!((l.module_px, l.qr_box.w), (14, 350));
        assert_eq!(l.text.unwrap().1, 3);
    }

    #[test]
    fn every_rectangle_is_even_and_inside_the_frame() {
        for (w, h) in [
            (640, 360),
            (1280, 720),
            (1920, 1080),
            (320, 240),
            (320, 180),
        ] {
            for corner in [
                Corner::TopLeft,
                Corner::TopRight,
                Corner::BottomLeft,
                Corner::BottomRight,
            ] {
                let p = Placement {
                    corner,
                    ..Placement::default()
                };
                let l = Layout::new(size(w, h), &p).unwrap();
                let mut rects = vec![l.qr_box];
                rects.extend(l.text.map(|t| t.0));
                for r in rects {
                    assert!(r.x % 2 == 0 && r.y % 2 == 0 && r.w % 2 == 0 && r.h % 2 == 0);
                    assert!(
                        r.right() <= w && r.bottom() <= h,
                        "{w}x{h} {corner:?} {r:?}"
                    );
                    // Inside the title-safe area (10% in from every edge, within a pixel).
                    let (mx, my) = (w / 10 - 1, h / 10 - 1);
                    assert!(
                        r.x >= mx && r.y >= my && r.right() <= w - mx && r.bottom() <= h - my,
                        "{w}x{h} {corner:?} {r:?} leaves the title-safe area"
                    );
                }
                if let Some((t, _)) = l.text {
                    let overlap = t.x < l.qr_box.right()
                        && l.qr_box.x < t.right()
                        && t.y < l.qr_box.bottom()
                        && l.qr_box.y < t.bottom();
                    assert!(!overlap, "{w}x{h} {corner:?}");
                }
            }
        }
    }

    #[test]
    fn tiny_frames_are_refused_with_a_reason() {
        let err = Layout::new(size(64, 64), &Placement::default()).unwrap_err();
        assert!(err.to_string().contains("too small"), "{err}");
    }

    #[test]
    fn stamp_draws_the_modules_with_a_white_quiet_zone() {
        let sz = size(640, 360);
        let mut comp = Compositor::new(sz, &Placement::default()).unwrap();
        let mut buf = vec![90u8; sz.frame_len()];
        let tc = Timecode {
            stream_id: 3,
            frame: 42,
            capture_us: 1_795_264_496_000_000,
        };
        comp.stamp(&mut buf, &tc).unwrap();
        let l = *comp.layout();
        let px = |x: u32, y: u32| buf[(y * 640 + x) as usize];
        let q = QUIET_MODULES * l.module_px;
        // Quiet zone corners are white; the top-left finder pattern's corner module is dark.
        assert_eq!(px(l.qr_box.x, l.qr_box.y), LUMA_WHITE);
        assert_eq!(px(l.qr_box.x + q, l.qr_box.y + q), LUMA_BLACK);
        // Module centres match the encoder's matrix exactly.
        let modules = qr_modules(&tc, Symbol::V1).unwrap();
        const QR_MODULES: u32 = 21;
        for my in 0..QR_MODULES {
            for mx in 0..QR_MODULES {
                let cx = l.qr_box.x + q + mx * l.module_px + l.module_px / 2;
                let cy = l.qr_box.y + q + my * l.module_px + l.module_px / 2;
                let want = if modules[(my * QR_MODULES + mx) as usize] == Color::Dark {
                    LUMA_BLACK
                } else {
                    LUMA_WHITE
                };
                assert_eq!(px(cx, cy), want);
            }
        }
        // Outside the overlay the picture is untouched.
        assert_eq!(px(0, 359), 90);
        assert_eq!(px(l.qr_box.x - 1, l.qr_box.y), 90);
    }

    #[test]
    fn stamp_refuses_a_buffer_of_the_wrong_size() {
        let sz = size(640, 360);
        let mut comp = Compositor::new(sz, &Placement::default()).unwrap();
        let tc = Timecode {
            stream_id: 1,
            frame: 0,
            capture_us: 0,
        };
        assert!(matches!(
            comp.stamp(&mut [0u8; 10], &tc),
            Err(Error::FrameLength { .. })
        ));
    }
}
