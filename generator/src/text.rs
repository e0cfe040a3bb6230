//! The human-readable timecode line: 8×8 bitmap glyphs (font8x8), scaled by whole pixels.

use font8x8::UnicodeFonts;

use crate::frame::{LUMA_BLACK, LUMA_WHITE, Rect, YuvFrameMut};

/// Glyph cell size in font pixels.
pub const GLYPH: u32 = 8;
/// Padding around the text, in font pixels.
const PAD: u32 = 2;

/// Size of the box that holds `chars` characters at `scale` (even, for chroma alignment).
pub fn box_size(chars: u32, scale: u32) -> (u32, u32) {
    let w = (chars * GLYPH + 2 * PAD) * scale;
    let h = (GLYPH + 2 * PAD) * scale;
    (w.next_multiple_of(2), h.next_multiple_of(2))
}

fn glyph(c: char) -> [u8; 8] {
    font8x8::BASIC_FONTS
        .get(c)
        .or_else(|| font8x8::LATIN_FONTS.get(c))
        .unwrap_or([0; 8])
}

/// Draw `text` in white on a black box at `r` (sized by `box_size`), right-aligned so the
/// end of the line stays put when the line gets shorter.
pub fn draw_line(frame: &mut YuvFrameMut<'_>, r: Rect, text: &str, scale: u32) {
    frame.fill(r, LUMA_BLACK);
    let chars = text.chars().count() as u32;
    let text_w = chars * GLYPH * scale;
    let right = r.right() - PAD * scale;
    let Some(x0) = right.checked_sub(text_w) else {
        return;
    };
    let y0 = r.y + PAD * scale;
    for (i, c) in text.chars().enumerate() {
        let bits = glyph(c);
        let gx = x0 + i as u32 * GLYPH * scale;
        for (row, byte) in bits.iter().enumerate() {
            if *byte == 0 {
                continue;
            }
            for sy in 0..scale {
                let y = y0 + row as u32 * scale + sy;
                let line = frame.luma_row(gx, y, GLYPH * scale);
                // font8x8 stores the leftmost pixel in the least significant bit.
                for col in 0..GLYPH {
                    if byte & (1 << col) != 0 {
                        let s = (col * scale) as usize;
                        line[s..s + scale as usize].fill(LUMA_WHITE);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::PictureSize;

    #[test]
    fn every_character_of_the_human_line_has_a_glyph() {
        for c in "0123456789-:. UTC·#stream".chars() {
            if c != ' ' {
                assert_ne!(glyph(c), [0; 8], "no glyph for {c:?}");
            }
        }
    }

    #[test]
    fn draws_white_on_black_inside_the_box_only() {
        let size = PictureSize {
            width: 64,
            height: 32,
        };
        let mut buf = vec![100u8; size.frame_len()];
        let (w, h) = box_size(3, 2);
        assert_eq!((w, h), (56, 24));
        let r = Rect { x: 4, y: 4, w, h };
        draw_line(&mut YuvFrameMut::new(size, &mut buf).unwrap(), r, "1#1", 2);
        let luma = &buf[..size.luma_len()];
        let mut white = 0;
        for y in 0..32u32 {
            for x in 0..64u32 {
                let v = luma[(y * 64 + x) as usize];
                let inside = x >= r.x && x < r.right() && y >= r.y && y < r.bottom();
                if !inside {
                    assert_eq!(v, 100);
                } else {
                    assert!(v == LUMA_BLACK || v == LUMA_WHITE);
                    white += usize::from(v == LUMA_WHITE);
                }
            }
        }
        // Each font pixel is a 2×2 block.
        assert!(white > 0 && white % 4 == 0, "white = {white}");
    }
}
