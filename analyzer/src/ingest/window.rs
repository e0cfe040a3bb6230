//! `--code-window`: a reader asks ffmpeg only for the corner where the code sits, and ffmpeg
//! says how much the whole picture moved, instead of handing over the whole luma plane (the
//! pipe's bytes were ~20% of a stream's CPU). The filters (pure) and their stderr lines.

use generator::Corner;

/// The window's side in ffmpeg's expression language (`iw`, `ih`: the luma plane's size): a
/// square of `0.12 × width + 0.4 × height` (even, at most the picture's height and width) in
/// the code's corner. It holds the code of `generate`'s default placement (a third of the
/// height, 10% margins: at 16:9 the code's far edge is 0.51 × height from the side, 0.43 ×
/// height from the top, the window 0.61) with room for a provider's overscan crop.
const SIDE: &str = "trunc(min(min(iw\\,ih)\\,0.12*iw+0.4*ih)/2)*2";

/// Filters appended to a reader's chain after `extractplanes=y`: `scdet` measures how much
/// the whole picture moved since the previous frame (its mean absolute difference, SIMD over
/// every pixel, the previous frame kept by reference), `metadata` prints it on stderr (one
/// `frame:N` line and one `lavfi.scd.mafd=P` line per frame, P in % of the 8-bit range), and
/// `crop` keeps the corner (a pointer offset: no copy). Only the window goes through the pipe.
pub fn filters(corner: Corner) -> String {
    let x = match corner {
        Corner::TopLeft | Corner::BottomLeft => "0",
        Corner::TopRight | Corner::BottomRight => "iw-ow",
    };
    let y = match corner {
        Corner::TopLeft | Corner::TopRight => "0",
        Corner::BottomLeft | Corner::BottomRight => "ih-oh",
    };
    format!(",scdet,metadata=mode=print:key={MAFD},crop=w={SIDE}:h={SIDE}:x={x}:y={y}")
}

/// The metadata key `scdet` puts each frame's mean absolute frame difference in.
const MAFD: &str = "lavfi.scd.mafd";

/// A line of the `metadata` filter's print.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ChangeLine {
    /// `frame:N …`: the frame (numbered from 0 in each filter graph) the next lines are about.
    Frame(u64),
    /// `lavfi.scd.mafd=P`: its mean absolute difference from the previous frame, in luma
    /// levels (P % of 256).
    Levels(f64),
}

/// Parse a `metadata` filter line of a windowed reader's stderr.
pub fn parse_change(line: &str) -> Option<ChangeLine> {
    if !line.contains("Parsed_metadata") {
        return None;
    }
    if let Some(rest) = line.split("] frame:").nth(1) {
        return rest
            .split_whitespace()
            .next()?
            .parse()
            .ok()
            .map(ChangeLine::Frame);
    }
    let percent: f64 = line
        .split(&format!("{MAFD}="))
        .nth(1)?
        .trim()
        .parse()
        .ok()?;
    Some(ChangeLine::Levels(percent * 256.0 / 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_exact() {
        assert_eq!(
            filters(Corner::TopRight),
            ",scdet,metadata=mode=print:key=lavfi.scd.mafd,\
             crop=w=trunc(min(min(iw\\,ih)\\,0.12*iw+0.4*ih)/2)*2:\
             h=trunc(min(min(iw\\,ih)\\,0.12*iw+0.4*ih)/2)*2:x=iw-ow:y=0"
        );
        assert!(filters(Corner::BottomLeft).ends_with(":x=0:y=ih-oh"));
        assert!(filters(Corner::TopLeft).ends_with(":x=0:y=0"));
        assert!(filters(Corner::BottomRight).ends_with(":x=iw-ow:y=ih-oh"));
    }

    #[test]
    fn metadata_lines_captured_from_ffmpeg_5_1() {
        let frame =
            "[Parsed_metadata_4 @ 0x55ff76e21a80] [info] frame:12   pts:36000   pts_time:0.4";
        assert_eq!(parse_change(frame), Some(ChangeLine::Frame(12)));
        let mafd = "[Parsed_metadata_4 @ 0x55ff76e21a80] [info] lavfi.scd.mafd=0.625";
        assert_eq!(parse_change(mafd), Some(ChangeLine::Levels(1.6)));
        assert_eq!(
            parse_change("[Parsed_showinfo_1 @ 0x1] [info] n:   0 pts:0"),
            None
        );
        assert_eq!(
            parse_change("[Parsed_metadata_4 @ 0x1] [info] lavfi.scd.mafd=x"),
            None
        );
    }

    #[test]
    fn corners_are_named_alike_on_the_command_line_and_in_a_job() {
        for c in [
            Corner::TopLeft,
            Corner::TopRight,
            Corner::BottomLeft,
            Corner::BottomRight,
        ] {
            assert_eq!(c.to_string().parse::<Corner>(), Ok(c));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{c}\""));
        }
    }
}
