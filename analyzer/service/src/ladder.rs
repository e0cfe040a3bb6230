//! The rendition ladder: its formats (default or `--ladder FILE`, TOML), which of them a
//! source gets (no upscaling, nothing above the source's bitrate, the smallest always), and the
//! ffmpeg commands that make them (pure: one decode split into every rendition, then a copy
//! into DASH + HLS over the same fMP4 segments, and thumbnails seeked before the input).

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One output format of the ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Format {
    pub name: String,
    /// Picture height; the width follows the source's aspect ratio (even).
    pub height: u32,
    pub video_kbps: u32,
    #[serde(default = "default_audio_kbps")]
    pub audio_kbps: u32,
}

impl Format {
    /// Whether the format can be made: a plain name, a height of 16–4320, non-zero bitrates.
    pub fn check(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 32
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(format!(
                "format name {:?} must be 1-32 of A-Z a-z 0-9 - _",
                self.name
            ));
        }
        if !(16..=4320).contains(&self.height) || self.video_kbps == 0 || self.audio_kbps == 0 {
            return Err(format!(
                "format {} needs a height of 16-4320 and non-zero bitrates",
                self.name
            ));
        }
        Ok(())
    }
}

fn default_audio_kbps() -> u32 {
    128
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LadderFile {
    #[serde(rename = "format", default)]
    formats: Vec<Format>,
}

/// 1080p, 720p, the iOS-compatible 960x540 and 360p: H.264 High + AAC stereo.
pub fn default_ladder() -> Vec<Format> {
    [
        ("1080p", 1080, 5000),
        ("720p", 720, 3000),
        ("540p", 540, 2000),
        ("360p", 360, 800),
    ]
    .into_iter()
    .map(|(name, height, video_kbps)| Format {
        name: name.into(),
        height,
        video_kbps,
        audio_kbps: 128,
    })
    .collect()
}

/// A ladder from TOML: `[[format]]` tables with `name`, `height`, `video_kbps`, `audio_kbps`.
pub fn parse_ladder(text: &str) -> Result<Vec<Format>, AppError> {
    let file: LadderFile =
        toml::from_str(text).map_err(|e| AppError::BadRequest(format!("ladder: {e}")))?;
    if file.formats.is_empty() {
        return Err(AppError::BadRequest("ladder: no [[format]] given".into()));
    }
    for f in &file.formats {
        f.check()
            .map_err(|e| AppError::BadRequest(format!("ladder: {e}")))?;
    }
    Ok(file.formats)
}

/// A rendition to make: a format sized for one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Planned {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub video_kbps: u32,
    pub audio_kbps: u32,
}

fn even(x: f64) -> u32 {
    ((x / 2.0).round() as u32).max(1) * 2
}

/// The renditions a `width`x`height` source of `source_kbps` gets: formats no taller than the
/// source and no richer than its bitrate; the smallest format always (at most the source's
/// size). Sorted from the largest.
pub fn plan(ladder: &[Format], width: u32, height: u32, source_kbps: Option<u64>) -> Vec<Planned> {
    let sized = |f: &Format, h: u32| Planned {
        name: f.name.clone(),
        width: even(f64::from(h) * f64::from(width) / f64::from(height.max(1))),
        height: even(f64::from(h)),
        video_kbps: f.video_kbps,
        audio_kbps: f.audio_kbps,
    };
    let mut out: Vec<Planned> = ladder
        .iter()
        .filter(|f| f.height <= height)
        .filter(|f| source_kbps.is_none_or(|s| u64::from(f.video_kbps) <= s))
        .map(|f| sized(f, f.height))
        .collect();
    if let Some(smallest) = ladder.iter().min_by_key(|f| f.height)
        && !out.iter().any(|p| p.name == smallest.name)
    {
        out.push(sized(smallest, smallest.height.min(height)));
    }
    out.sort_by(|a, b| b.height.cmp(&a.height).then(a.name.cmp(&b.name)));
    out
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// One decode of `master` (progressive: the master deinterlaced the source) split into every
/// rendition: H.264 High yuv420p at a fixed GOP of `gop_frames` (no scene-cut keyframes:
/// aligned across renditions), AAC stereo from the master's audio track `sound` (the upload's
/// own sound, folded to stereo in the master; the beeps when the upload had none),
/// `+faststart` MP4s at `out_dir/NAME.mp4`. Every rendition keeps the master's display aspect
/// `aspect` (width, height) exactly — an odd-sized one through its sample aspect — so DASH
/// puts them in one adaptation set.
pub fn ladder_args(
    master: &str,
    aspect: (u32, u32),
    renditions: &[Planned],
    gop_frames: u64,
    sound: usize,
    out_dir: &str,
) -> Vec<String> {
    let n = renditions.len();
    let mut graph = format!("[0:v]split={n}");
    for i in 0..n {
        graph.push_str(&format!("[s{i}]"));
    }
    for (i, r) in renditions.iter().enumerate() {
        graph.push_str(&format!(
            ";[s{i}]scale={}:{},setdar={}/{}[v{i}]",
            r.width, r.height, aspect.0, aspect.1
        ));
    }
    let mut args = strings(&["-hide_banner", "-nostdin", "-y", "-i"]);
    args.push(format!("file:{master}"));
    args.extend(strings(&["-filter_complex"]));
    args.push(graph);
    let gop = gop_frames.to_string();
    for (i, r) in renditions.iter().enumerate() {
        args.extend(strings(&["-map"]));
        args.push(format!("[v{i}]"));
        args.push("-map".into());
        args.push(format!("0:a:{sound}?"));
        args.extend(strings(&[
            "-c:v",
            "libx264",
            "-profile:v",
            "high",
            "-pix_fmt",
            "yuv420p",
            "-preset",
            "veryfast",
            "-b:v",
        ]));
        args.push(format!("{}k", r.video_kbps));
        args.push("-maxrate".into());
        args.push(format!("{}k", r.video_kbps * 11 / 10));
        args.push("-bufsize".into());
        args.push(format!("{}k", r.video_kbps * 2));
        args.extend(strings(&["-g", &gop, "-keyint_min", &gop]));
        args.extend(strings(&[
            "-sc_threshold",
            "0",
            "-c:a",
            "aac",
            "-ac",
            "2",
            "-b:a",
        ]));
        args.push(format!("{}k", r.audio_kbps));
        args.extend(strings(&["-movflags", "+faststart"]));
        args.push(format!("file:{out_dir}/{}.mp4", r.name));
    }
    args
}

/// The renditions' MP4s copied (no re-encode) into one DASH presentation whose fMP4
/// segments HLS plays too: `out_dir/manifest.mpd` and `out_dir/master.m3u8`, segments of
/// `segment_s` seconds (a multiple of the GOP).
pub fn package_args(
    rendition_files: &[String],
    has_audio: bool,
    segment_s: u32,
    out_dir: &str,
) -> Vec<String> {
    let mut args = strings(&["-hide_banner", "-nostdin", "-y"]);
    for f in rendition_files {
        args.push("-i".into());
        args.push(format!("file:{f}"));
    }
    for i in 0..rendition_files.len() {
        args.push("-map".into());
        args.push(format!("{i}:v"));
    }
    if has_audio {
        args.extend(strings(&["-map", "0:a"]));
    }
    let sets = if has_audio {
        "id=0,streams=v id=1,streams=a"
    } else {
        "id=0,streams=v"
    };
    dash_copy(&mut args, segment_s, sets, rendition_files.len(), out_dir);
    args
}

/// The packaging tail shared by every presentation: the mapped streams copied into
/// `out_dir/manifest.mpd` with `adaptation_sets`, and its HLS master (`master.m3u8`) over the
/// same fMP4 segments of `segment_s` seconds.
///
/// Segments are served as immutable (a CDN keeps them for a year), and a representation's id is
/// its index: adding a rendition later renumbers the ones after it. So the segment names carry
/// the number of `renditions` packaged (a ladder only grows): a presentation packaged again
/// never reuses a URL for other bytes.
pub fn dash_copy(
    args: &mut Vec<String>,
    segment_s: u32,
    adaptation_sets: &str,
    renditions: usize,
    out_dir: &str,
) {
    args.extend(strings(&["-c", "copy", "-f", "dash", "-seg_duration"]));
    args.push(segment_s.to_string());
    args.extend([
        "-init_seg_name".to_owned(),
        format!("init-r{renditions}-$RepresentationID$.$ext$"),
        "-media_seg_name".to_owned(),
        format!("chunk-r{renditions}-$RepresentationID$-$Number%05d$.$ext$"),
    ]);
    args.extend(strings(&[
        "-use_template",
        "1",
        "-use_timeline",
        "0",
        "-hls_playlist",
        "1",
        "-hls_master_name",
        "master.m3u8",
        "-adaptation_sets",
        adaptation_sets,
    ]));
    args.push(format!("file:{out_dir}/manifest.mpd"));
}

/// One JPEG of `master` at `at_s` seconds, seeked before the input (fast: from the nearest
/// keyframe), `width` wide.
pub fn thumbnail_args(master: &str, at_s: f64, width: u32, out: &str) -> Vec<String> {
    let mut args = strings(&["-hide_banner", "-nostdin", "-y", "-ss"]);
    args.push(format!("{at_s:.3}"));
    args.push("-i".into());
    args.push(format!("file:{master}"));
    args.extend(strings(&["-frames:v", "1", "-vf"]));
    args.push(format!("scale={width}:-2"));
    args.extend(strings(&["-q:v", "3"]));
    args.push(format!("file:{out}"));
    args
}

/// Several JPEGs of `master` from one ffmpeg: each `(at_s, width, out)` is its own input
/// seeked before it is opened (as `thumbnail_args`) mapped to its own one-frame output — one
/// process start instead of one per picture.
pub fn thumbnails_args(master: &str, shots: &[(f64, u32, String)]) -> Vec<String> {
    let mut args = strings(&["-hide_banner", "-nostdin", "-y"]);
    for (at_s, _, _) in shots {
        args.push("-ss".into());
        args.push(format!("{at_s:.3}"));
        args.push("-i".into());
        args.push(format!("file:{master}"));
    }
    for (i, (_, width, out)) in shots.iter().enumerate() {
        args.push("-map".into());
        args.push(format!("{i}:v:0"));
        args.extend(strings(&["-frames:v", "1", "-vf"]));
        args.push(format!("scale={width}:-2"));
        args.extend(strings(&["-q:v", "3"]));
        args.push(format!("file:{out}"));
    }
    args
}

/// Where `count` evenly spaced thumbnails of a `duration_s` clip are taken (the middle of
/// each of `count` equal parts, so neither the black first frame nor past the end).
pub fn thumbnail_times(duration_s: f64, count: u32) -> Vec<f64> {
    (0..count)
        .map(|i| duration_s * (f64::from(i) + 0.5) / f64::from(count))
        .collect()
}

#[cfg(test)]
#[path = "ladder_tests.rs"]
mod tests;
