//! A raw yuv420p picture in one buffer, and the few drawing primitives the overlay needs.

/// Luma and chroma values of video (limited) range, the range x264 encodes by default.
pub const LUMA_BLACK: u8 = 16;
pub const LUMA_WHITE: u8 = 235;
pub const CHROMA_NEUTRAL: u8 = 128;

/// Size of a yuv420p picture: width × height luma, then quarter-size U and V planes.
/// Both dimensions are even so that every chroma sample covers exactly 2×2 luma samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PictureSize {
    pub width: u32,
    pub height: u32,
}

impl PictureSize {
    pub fn luma_len(&self) -> usize {
        self.width as usize * self.height as usize
    }

    pub fn chroma_len(&self) -> usize {
        self.luma_len() / 4
    }

    /// Bytes in one yuv420p frame.
    pub fn frame_len(&self) -> usize {
        self.luma_len() + 2 * self.chroma_len()
    }
}

impl std::fmt::Display for PictureSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// A rectangle in luma coordinates with even origin and size (so it maps onto whole chroma
/// samples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    pub fn right(&self) -> u32 {
        self.x + self.w
    }

    pub fn bottom(&self) -> u32 {
        self.y + self.h
    }
}

/// Mutable view of one yuv420p frame.
pub struct YuvFrameMut<'a> {
    size: PictureSize,
    data: &'a mut [u8],
}

impl<'a> YuvFrameMut<'a> {
    /// Wrap a buffer of exactly `size.frame_len()` bytes; None if the length is wrong.
    pub fn new(size: PictureSize, data: &'a mut [u8]) -> Option<Self> {
        (data.len() == size.frame_len()).then_some(Self { size, data })
    }

    pub fn size(&self) -> PictureSize {
        self.size
    }

    /// One luma row segment `[x, x + len)` of row `y`.
    pub fn luma_row(&mut self, x: u32, y: u32, len: u32) -> &mut [u8] {
        let start = y as usize * self.size.width as usize + x as usize;
        &mut self.data[start..start + len as usize]
    }

    /// Set the chroma of `r` to neutral grey, so the overlay is black and white whatever lay
    /// beneath it.
    pub fn neutral_chroma(&mut self, r: Rect) {
        let cw = self.size.width as usize / 2;
        let luma = self.size.luma_len();
        let chroma = self.size.chroma_len();
        for plane in [luma, luma + chroma] {
            for cy in (r.y / 2)..(r.bottom() / 2) {
                let start = plane + cy as usize * cw + (r.x / 2) as usize;
                self.data[start..start + (r.w / 2) as usize].fill(CHROMA_NEUTRAL);
            }
        }
    }

    /// Fill `r` with a flat luma value and neutral chroma.
    pub fn fill(&mut self, r: Rect, luma: u8) {
        for y in r.y..r.bottom() {
            self.luma_row(r.x, y, r.w).fill(luma);
        }
        self.neutral_chroma(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_touches_only_its_rectangle_in_all_planes() {
        let size = PictureSize {
            width: 8,
            height: 4,
        };
        let mut buf = vec![7u8; size.frame_len()];
        let mut f = YuvFrameMut::new(size, &mut buf).unwrap();
        f.fill(
            Rect {
                x: 2,
                y: 2,
                w: 4,
                h: 2,
            },
            200,
        );
        let (y, uv) = buf.split_at(32);
        for row in 0..4 {
            for col in 0..8 {
                let inside = row >= 2 && (2..6).contains(&col);
                assert_eq!(y[row * 8 + col], if inside { 200 } else { 7 });
            }
        }
        // Chroma planes are 4x2 each; the rectangle covers columns 1..3 of row 1.
        for plane in uv.chunks(8) {
            assert_eq!(plane, [7, 7, 7, 7, 7, CHROMA_NEUTRAL, CHROMA_NEUTRAL, 7]);
        }
    }

    #[test]
    fn wrong_buffer_length_is_refused() {
        let size = PictureSize {
            width: 8,
            height: 4,
        };
        assert!(YuvFrameMut::new(size, &mut [0u8; 47]).is_none());
    }
}
