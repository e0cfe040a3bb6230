//! The storyboard a player's scrub bar shows: one sprite of small tiles, one per interval of
//! the master, and the WebVTT that maps each interval to its tile (`sprite.jpg#xywh=…`). Made
//! from the master's keyframes only (`-skip_frame nokey`: the fixed GOP puts one at every
//! `SEGMENT_S`), so an hour costs a fraction of decoding it. Pure: plan, argv, VTT.

/// At most this many tiles; longer assets get a longer interval.
pub const MAX_TILES: u32 = 100;
/// Tiles per row of the sprite.
pub const COLUMNS: u32 = 10;
/// A tile's width, pixels (its height follows the picture's aspect, even).
pub const TILE_WIDTH: u32 = 160;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Storyboard {
    /// Seconds each tile stands for: a multiple of the GOP.
    pub interval_s: u32,
    pub tiles: u32,
    pub columns: u32,
    pub rows: u32,
    pub tile_width: u32,
    pub tile_height: u32,
}

/// The storyboard of a `duration_s` master of `width`x`height` with a keyframe every `gop_s`.
pub fn plan(duration_s: f64, gop_s: u32, width: u32, height: u32) -> Storyboard {
    let gop_s = gop_s.max(1);
    let duration = duration_s.max(0.0);
    let per_gop = (duration / f64::from(gop_s)).ceil().max(1.0);
    let step = (per_gop / f64::from(MAX_TILES)).ceil().max(1.0) as u32;
    let interval_s = gop_s * step;
    let tiles = ((duration / f64::from(interval_s)).ceil() as u32).clamp(1, MAX_TILES);
    let columns = tiles.min(COLUMNS);
    let tile_height = ((f64::from(TILE_WIDTH) * f64::from(height) / f64::from(width.max(1)) / 2.0)
        .round() as u32
        * 2)
    .max(2);
    Storyboard {
        interval_s,
        tiles,
        columns,
        rows: tiles.div_ceil(columns),
        tile_width: TILE_WIDTH,
        tile_height,
    }
}

/// ffmpeg's argv: the first keyframe of each interval, scaled and tiled into one JPEG.
pub fn args(master: &str, s: &Storyboard, out: &str) -> Vec<String> {
    let select = format!(
        "select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{}.0-0.001)'",
        s.interval_s
    );
    [
        "-hide_banner",
        "-nostdin",
        "-y",
        "-skip_frame",
        "nokey",
        "-i",
        &format!("file:{master}"),
        "-an",
        "-vf",
        &format!(
            "{select},scale={}:{},tile={}x{}",
            s.tile_width, s.tile_height, s.columns, s.rows
        ),
        "-fps_mode",
        "passthrough",
        "-frames:v",
        "1",
        "-q:v",
        "4",
        &format!("file:{out}"),
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect()
}

/// The WebVTT of the storyboard: tile `i` for `[i × interval, (i + 1) × interval)`, the last
/// ending at `duration_s`; `sprite` is the sprite's URL relative to the VTT's.
pub fn vtt(s: &Storyboard, duration_s: f64, sprite: &str) -> String {
    let mut out = String::from("WEBVTT\n");
    for i in 0..s.tiles {
        let from = f64::from(i * s.interval_s);
        let to = (f64::from((i + 1) * s.interval_s)).min(duration_s.max(from));
        let (x, y) = (
            (i % s.columns) * s.tile_width,
            (i / s.columns) * s.tile_height,
        );
        out.push_str(&format!(
            "\n{} --> {}\n{sprite}#xywh={x},{y},{},{}\n",
            timestamp(from),
            timestamp(to),
            s.tile_width,
            s.tile_height
        ));
    }
    out
}

/// `HH:MM:SS.mmm`.
fn timestamp(s: f64) -> String {
    let ms = (s * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_long_and_odd_assets_get_at_most_a_hundred_tiles_on_keyframes() {
        let s = plan(3.0, 2, 640, 360);
        assert_eq!(
            s,
            Storyboard {
                interval_s: 2,
                tiles: 2,
                columns: 2,
                rows: 1,
                tile_width: 160,
                tile_height: 90
            }
        );
        let hour = plan(3600.0, 2, 1920, 1080);
        assert_eq!(
            (hour.interval_s, hour.tiles, hour.columns, hour.rows),
            (36, 100, 10, 10)
        );
        let minute = plan(61.0, 2, 720, 576);
        assert_eq!((minute.interval_s, minute.tiles, minute.rows), (2, 31, 4));
        assert_eq!(minute.tile_height, 128);
        // Nothing degenerate for an empty or unknown duration.
        assert_eq!(plan(0.0, 2, 640, 360).tiles, 1);
    }

    #[test]
    fn argv_and_vtt_are_exact() {
        let s = plan(3.0, 2, 640, 360);
        assert_eq!(
            args("/a/reference.mp4", &s, "/a/thumbs/storyboard.jpg").join(" "),
            "-hide_banner -nostdin -y -skip_frame nokey -i file:/a/reference.mp4 -an -vf \
             select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,2.0-0.001)',scale=160:90,\
             tile=2x1 -fps_mode passthrough -frames:v 1 -q:v 4 file:/a/thumbs/storyboard.jpg"
        );
        assert_eq!(
            vtt(&s, 3.0, "storyboard.jpg"),
            "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nstoryboard.jpg#xywh=0,0,160,90\n\n\
             00:00:02.000 --> 00:00:03.000\nstoryboard.jpg#xywh=160,0,160,90\n"
        );
        let hour = plan(3725.5, 2, 1920, 1080);
        let text = vtt(&hour, 3725.5, "s.jpg");
        assert!(
            text.ends_with("01:02:04.000 --> 01:02:05.500\ns.jpg#xywh=1280,810,160,90\n"),
            "{text}"
        );
    }
}
