//! What an uploaded file is, as ffprobe says (never its name or the client's Content-Type):
//! the ffprobe command (pure), running it, and the rules that make a file a usable source.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// What is kept of a probe, per asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// ffprobe's format name (`mov,mp4,m4a,3gp,3g2,mj2`, `mpegts`, …).
    pub container: String,
    pub duration_s: f64,
    pub bitrate_kbps: Option<u64>,
    pub video: Option<VideoInfo>,
    pub audio: Option<AudioInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoInfo {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub fps: Option<f64>,
    /// `progressive`, `tt`, `bb`, … when ffprobe knows.
    pub field_order: Option<String>,
    /// Where the first picture is on the file's timeline (its start is 0): what the file's
    /// own audio is shifted by to stay in sync with the pictures.
    #[serde(default)]
    pub start_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioInfo {
    pub codec: String,
    pub channels: u32,
    pub channel_layout: Option<String>,
    pub sample_rate: Option<u32>,
}

/// ffprobe's argv for `path`: JSON of the container and every stream, local files only.
pub fn probe_args(path: &str) -> Vec<String> {
    [
        "-hide_banner",
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        "-protocol_whitelist",
        "file",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([format!("file:{path}")])
    .collect()
}

/// The longest a probe may take: a file that keeps ffprobe busy longer is refused.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// Probe `path` with `ffprobe` and decide whether it can be a reference's source.
pub async fn probe(ffprobe: &Path, path: &Path) -> Result<Probe, AppError> {
    let mut cmd = tokio::process::Command::new(ffprobe);
    cmd.args(probe_args(&path.to_string_lossy()))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let run = cmd.output();
    let out = tokio::time::timeout(PROBE_TIMEOUT, run)
        .await
        .map_err(|_| {
            AppError::NotMedia("ffprobe did not finish reading the file within 60 s".into())
        })?
        .map_err(|e| AppError::io(format!("running {}", ffprobe.display()), e))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if !out.status.success() {
        return Err(AppError::NotMedia(format!(
            "not a media file ffmpeg can read ({})",
            reason(tail)
        )));
    }
    judge(&String::from_utf8_lossy(&out.stdout))
}

/// ffprobe's message without the `file:/path:` it starts with (the path is the server's).
fn reason(line: &str) -> &str {
    match line.strip_prefix("file:") {
        Some(rest) => rest.split_once(": ").map_or(rest, |(_, why)| why),
        None => line,
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    streams: Vec<RawStream>,
    format: Option<RawFormat>,
}

#[derive(Deserialize)]
struct RawFormat {
    format_name: String,
    duration: Option<String>,
    bit_rate: Option<String>,
    start_time: Option<String>,
}

#[derive(Deserialize)]
struct RawStream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    field_order: Option<String>,
    channels: Option<u32>,
    channel_layout: Option<String>,
    sample_rate: Option<String>,
    start_time: Option<String>,
    #[serde(default)]
    disposition: std::collections::HashMap<String, i64>,
}

/// Still-image containers: a picture is not a video, whatever it is named.
const STILL: &[&str] = &["image2", "_pipe", "gif", "webp"];

/// The rules, on ffprobe's JSON: a duration, and a video or an audio stream that is not a
/// still picture.
pub fn judge(json: &str) -> Result<Probe, AppError> {
    let raw: Raw = serde_json::from_str(json)
        .map_err(|e| AppError::NotMedia(format!("ffprobe's answer could not be read: {e}")))?;
    let format = raw
        .format
        .ok_or_else(|| AppError::NotMedia("not a media file ffmpeg can read".into()))?;
    let still = STILL.iter().any(|s| format.format_name.contains(s));
    let video = raw.streams.iter().find(|s| {
        s.codec_type.as_deref() == Some("video")
            && s.disposition.get("attached_pic").copied().unwrap_or(0) == 0
    });
    if still {
        let codec = video.and_then(|v| v.codec_name.clone()).unwrap_or_default();
        return Err(AppError::NotMedia(format!(
            "a still image ({codec}), not a video"
        )));
    }
    let audio = raw
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("audio"));
    if video.is_none() && audio.is_none() {
        return Err(AppError::NotMedia(
            "no video or audio stream in the file".into(),
        ));
    }
    let duration_s = format
        .duration
        .as_deref()
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d > 0.0)
        .ok_or_else(|| {
            AppError::NotMedia("the file has no duration (empty, truncated or a still)".into())
        })?;
    Ok(Probe {
        container: format.format_name,
        duration_s,
        bitrate_kbps: format
            .bit_rate
            .as_deref()
            .and_then(|b| b.parse::<u64>().ok())
            .map(|b| b / 1000),
        video: video.map(|v| VideoInfo {
            codec: v.codec_name.clone().unwrap_or_default(),
            width: v.width.unwrap_or(0),
            height: v.height.unwrap_or(0),
            fps: rate(v.avg_frame_rate.as_deref()).or_else(|| rate(v.r_frame_rate.as_deref())),
            field_order: v.field_order.clone(),
            start_s: (seconds(v.start_time.as_deref()) - seconds(format.start_time.as_deref()))
                .max(0.0),
        }),
        audio: audio.map(|a| AudioInfo {
            codec: a.codec_name.clone().unwrap_or_default(),
            channels: a.channels.unwrap_or(0),
            channel_layout: a.channel_layout.clone(),
            sample_rate: a.sample_rate.as_deref().and_then(|r| r.parse().ok()),
        }),
    })
}

/// ffprobe's `"0.021333"` as seconds (0 when absent or not a number).
fn seconds(t: Option<&str>) -> f64 {
    t.and_then(|t| t.parse::<f64>().ok())
        .filter(|t| t.is_finite())
        .unwrap_or(0.0)
}

/// `30000/1001` → 29.97; `0/0` → None.
fn rate(r: Option<&str>) -> Option<f64> {
    let (n, d) = r?.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (n > 0.0 && d > 0.0).then(|| n / d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_reads_local_files_only() {
        assert_eq!(
            probe_args("/d/incoming/x.part").join(" "),
            "-hide_banner -v error -print_format json -show_format -show_streams \
             -protocol_whitelist file file:/d/incoming/x.part"
        );
    }

    #[test]
    fn a_video_with_audio_is_described() {
        let p = judge(
            r#"{"streams":[
              {"codec_type":"video","codec_name":"h264","width":160,"height":120,
               "avg_frame_rate":"30000/1001","field_order":"progressive","disposition":{"attached_pic":0},
               "start_time":"1.433367"},
              {"codec_type":"audio","codec_name":"aac","channels":6,"channel_layout":"5.1","sample_rate":"48000",
               "start_time":"1.400000"}],
             "format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"2.5","bit_rate":"132832",
               "start_time":"1.400000"}}"#,
        )
        .unwrap();
        assert_eq!(p.duration_s, 2.5);
        assert_eq!(p.bitrate_kbps, Some(132));
        let v = p.video.unwrap();
        assert_eq!((v.width, v.height), (160, 120));
        assert!((v.fps.unwrap() - 29.97).abs() < 0.01);
        // The first picture 33.367 ms after the file's start (the audio's).
        assert!((v.start_s - 0.033367).abs() < 1e-9, "{}", v.start_s);
        let a = p.audio.unwrap();
        assert_eq!((a.channels, a.channel_layout.as_deref()), (6, Some("5.1")));
    }

    #[test]
    fn stills_cover_art_and_empty_files_are_refused_with_a_reason() {
        let png = r#"{"streams":[{"codec_type":"video","codec_name":"png","width":1,"height":1}],
                      "format":{"format_name":"png_pipe"}}"#;
        assert!(
            judge(png)
                .unwrap_err()
                .to_string()
                .contains("still image (png)")
        );
        // An audio file's cover art is not its video.
        let art = r#"{"streams":[{"codec_type":"video","codec_name":"mjpeg","disposition":{"attached_pic":1}}],
                      "format":{"format_name":"mp3","duration":"3.0"}}"#;
        assert!(
            judge(art)
                .unwrap_err()
                .to_string()
                .contains("no video or audio")
        );
        let none = r#"{"streams":[{"codec_type":"audio","codec_name":"aac","channels":2}],
                       "format":{"format_name":"aac"}}"#;
        assert!(judge(none).unwrap_err().to_string().contains("no duration"));
        assert_eq!(
            reason("file:/srv/x.part: Invalid data found when processing input"),
            "Invalid data found when processing input"
        );
    }
}
