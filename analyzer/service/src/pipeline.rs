//! The transcode job's work on one asset: the timecoded master (the upload's pictures with a
//! streamscope code on every frame, through the generator's compositor), the rendition ladder
//! from one decode of it, DASH + HLS over the same segments, thumbnails; progress into the
//! database. ffmpeg runs on blocking threads (the generator's process module: stderr drained,
//! killed on drop and when the server dies).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use generator::argv::{Content, EncodeSpec, RateControl, SourceAudio};
use generator::process::FfmpegProcess;
use generator::render::{RenderSpec, render_file};
use generator::{FrameRate, PictureSize, Placement};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::ladder::{self, Format, Planned};
use crate::probe::Probe;
use crate::storyboard;

/// What an asset's job made; URLs relative to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outputs {
    /// The code's stream id in this asset's frames (none for a sound without pictures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<u8>,
    /// The timecoded master (source size, beep track): what `publish --source` and
    /// `analyze --reference` take. For a sound without pictures, the sound in stereo AAC.
    pub reference: String,
    pub renditions: Vec<Rendition>,
    pub hls: String,
    pub dash: String,
    pub poster: String,
    pub thumbnails: Vec<String>,
    /// The scrub bar's WebVTT (tiles of `thumbs/storyboard.jpg`); absent for assets made
    /// before storyboards were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storyboard: Option<String>,
    /// Encrypted copies (`POST …/encrypt`), when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<crate::encrypt::Encrypted>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rendition {
    pub name: String,
    /// Absent (0) for an audio-only rendition, as are `height` and `video_codec`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub width: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub height: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub video_codec: String,
    pub audio_codec: Option<String>,
    pub audio_channels: Option<u32>,
    pub bitrate_kbps: Option<u64>,
    pub url: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Tools and settings the job runs with.
#[derive(Debug, Clone)]
pub struct Tools {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    pub ladder: Vec<Format>,
    /// Shaka Packager, for encrypted DASH/HLS (none: `POST …/encrypt` says so).
    pub packager: Option<PathBuf>,
}

/// Seconds per GOP and per segment (every rendition's keyframes at the same times).
pub(crate) const SEGMENT_S: u32 = 2;
/// The largest master: a taller source is scaled down to this height (the ladder's top).
const MASTER_MAX: (u32, u32) = (1920, 1080);
const THUMBNAILS: u32 = 5;
const THUMB_WIDTH: u32 = 320;

/// The frame rate nearest to ffprobe's `fps`: NTSC rates exactly (30000/1001 …).
pub fn frame_rate(fps: f64) -> Result<FrameRate, AppError> {
    let ntsc = (fps * 1.001).round();
    let rate = if (fps - ntsc * 1000.0 / 1001.0).abs() < 0.005 && (fps - fps.round()).abs() > 0.005
    {
        FrameRate::new(ntsc as u32 * 1000, 1001)
    } else {
        FrameRate::new(fps.round().max(1.0) as u32, 1)
    };
    rate.map_err(|e| AppError::NotMedia(e.to_string()))
}

/// The master's size: the source's, fitted into 1920x1080 (aspect kept), even.
pub fn master_size(width: u32, height: u32) -> PictureSize {
    let scale = (f64::from(MASTER_MAX.0) / f64::from(width))
        .min(f64::from(MASTER_MAX.1) / f64::from(height))
        .min(1.0);
    let even = |x: f64| ((x / 2.0).floor() as u32).max(1) * 2;
    PictureSize {
        width: even(f64::from(width) * scale),
        height: even(f64::from(height) * scale),
    }
}

/// Frames per GOP (and segment) at `rate`: `SEGMENT_S` seconds, rounded up.
pub fn gop_frames(rate: FrameRate) -> u64 {
    u64::from(rate.num() * SEGMENT_S).div_ceil(u64::from(rate.den()))
}

/// A stream id for the asset `id` (1–99, the signal's range; 0 is left to `generate`'s
/// default), stable across re-runs.
pub fn stream_id(id: &str) -> u8 {
    let h = id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    (h % 99) as u8 + 1
}

/// Make everything of asset `id` (its upload at `dir/source`, probed as `probe`) in `dir`.
/// `progress` gets 0–1. Anything an earlier, interrupted run left is made again.
pub async fn build(
    tools: &Tools,
    id: &str,
    dir: &Path,
    probe: &Probe,
    created_us: u64,
    progress: Arc<AtomicU64>,
    cancel: Arc<AtomicBool>,
) -> Result<Outputs, AppError> {
    let Some(video) = probe.video.as_ref() else {
        return crate::audio_only::build(tools, id, dir, probe, progress, cancel).await;
    };
    let rate = frame_rate(video.fps.unwrap_or(25.0))?;
    let size = master_size(video.width, video.height);
    let frames = rate
        .frames_in(Duration::from_secs_f64(probe.duration_s.max(0.0)))
        .max(1);
    let gop_frames = gop_frames(rate);
    for sub in ["r", "stream", "thumbs"] {
        let d = dir.join(sub);
        let _ = tokio::fs::remove_dir_all(&d).await;
        tokio::fs::create_dir_all(&d)
            .await
            .map_err(|e| AppError::io(format!("creating {}", d.display()), e))?;
    }
    let master = dir.join("reference.mp4");
    let spec = RenderSpec {
        content: Content::Source(dir.join("source").display().to_string()),
        stream_id: stream_id(id),
        start_us: created_us,
        placement: Placement::default(),
        encode: EncodeSpec {
            size,
            rate,
            frames,
            rate_control: RateControl::Crf(18),
            preset: "veryfast".into(),
            gop_frames,
            audio: true,
            // The upload's own sound beside the beeps (a video without sound gets none).
            source_audio: probe.audio.as_ref().map(|_| SourceAudio {
                path: dir.join("source").display().to_string(),
                video_start_us: (video.start_s * 1e6).round() as u64,
            }),
            out: master.display().to_string(),
        },
        hls_dir: None,
    };
    // Stage weights: master 60 %, ladder 30 %, packaging and thumbnails 10 %.
    let set = |p: f64| progress.store(p.to_bits(), Ordering::Relaxed);
    let ffmpeg = tools.ffmpeg.clone();
    let p = progress.clone();
    let stop = cancel.clone();
    blocking(move || {
        let mut on_frame = |n: u64| {
            p.store(
                (0.6 * n as f64 / frames as f64).to_bits(),
                Ordering::Relaxed,
            );
        };
        match render_file(&ffmpeg, &spec, &mut on_frame, &stop) {
            Ok(done) if done.interrupted => Err(AppError::Job(CANCELLED.into())),
            Ok(_) => Ok(()),
            Err(e) => Err(AppError::Job(format!("making the timecoded master: {e}"))),
        }
    })
    .await?;

    let plan = ladder::plan(&tools.ladder, size.width, size.height, probe.bitrate_kbps);
    let r_dir = dir.join("r").display().to_string();
    let argv = ladder::ladder_args(
        &master.display().to_string(),
        (size.width, size.height),
        &plan,
        gop_frames,
        usize::from(probe.audio.is_some()),
        &r_dir,
    );
    let p = progress.clone();
    run_ffmpeg(
        &tools.ffmpeg,
        argv,
        "making the renditions",
        Some(Box::new(move |frame: u32| {
            let f = 0.6 + 0.3 * f64::from(frame) / frames as f64;
            p.store(f.min(0.9).to_bits(), Ordering::Relaxed);
        })),
        &cancel,
    )
    .await?;
    set(0.9);

    let files: Vec<String> = plan
        .iter()
        .map(|r| format!("{r_dir}/{}.mp4", r.name))
        .collect();
    let stream_dir = dir.join("stream").display().to_string();
    let argv = ladder::package_args(&files, true, SEGMENT_S, &stream_dir);
    run_ffmpeg(&tools.ffmpeg, argv, "packaging DASH and HLS", None, &cancel).await?;
    set(0.95);

    let master_s = master.display().to_string();
    // The poster and the thumbnails: one ffmpeg, each picture seeked before its input.
    let at = (probe.duration_s / 10.0).min(1.0);
    let mut shots = vec![(
        at,
        size.width.min(1280),
        dir.join("thumbs/poster.jpg").display().to_string(),
    )];
    let mut thumbnails = Vec::new();
    for (i, t) in ladder::thumbnail_times(probe.duration_s, THUMBNAILS)
        .into_iter()
        .enumerate()
    {
        let name = format!("thumbs/{i:02}.jpg");
        shots.push((t, THUMB_WIDTH, dir.join(&name).display().to_string()));
        thumbnails.push(url(id, &name));
    }
    let argv = ladder::thumbnails_args(&master_s, &shots);
    run_ffmpeg(
        &tools.ffmpeg,
        argv,
        "making the poster and thumbnails",
        None,
        &cancel,
    )
    .await?;

    let board = storyboard::plan(probe.duration_s, SEGMENT_S, size.width, size.height);
    let sprite = dir.join("thumbs/storyboard.jpg").display().to_string();
    let argv = storyboard::args(&master_s, &board, &sprite);
    run_ffmpeg(&tools.ffmpeg, argv, "making the storyboard", None, &cancel).await?;
    let vtt = dir.join("thumbs/storyboard.vtt");
    tokio::fs::write(
        &vtt,
        storyboard::vtt(&board, probe.duration_s, "storyboard.jpg"),
    )
    .await
    .map_err(|e| AppError::io(format!("writing {}", vtt.display()), e))?;

    // Each rendition as ffprobe reads it, all at once.
    let renditions = futures_util::future::try_join_all(
        plan.iter()
            .zip(&files)
            .map(|(r, file)| describe(&tools.ffprobe, id, r, Path::new(file))),
    )
    .await?;
    Ok(Outputs {
        stream_id: Some(stream_id(id)),
        reference: url(id, "reference.mp4"),
        renditions,
        hls: url(id, "stream/master.m3u8"),
        dash: url(id, "stream/manifest.mpd"),
        poster: url(id, "thumbs/poster.jpg"),
        thumbnails,
        storyboard: Some(url(id, "thumbs/storyboard.vtt")),
        encrypted: None,
    })
}

/// The error of a job whose asset was deleted while it ran.
pub const CANCELLED: &str = "cancelled: the asset was deleted";

/// Where the server serves an asset's file.
pub fn url(id: &str, path: &str) -> String {
    format!("/files/{id}/{path}")
}

/// A rendition as ffprobe reads the file made (not as planned).
pub(crate) async fn describe(
    ffprobe: &Path,
    id: &str,
    planned: &Planned,
    file: &Path,
) -> Result<Rendition, AppError> {
    let p = crate::probe::probe(ffprobe, file)
        .await
        .map_err(|e| AppError::Job(format!("reading back rendition {}: {e}", planned.name)))?;
    let v = p.video.as_ref();
    Ok(Rendition {
        name: planned.name.clone(),
        width: v.map_or(planned.width, |v| v.width),
        height: v.map_or(planned.height, |v| v.height),
        video_codec: v.map_or_else(String::new, |v| v.codec.clone()),
        audio_codec: p.audio.as_ref().map(|a| a.codec.clone()),
        audio_channels: p.audio.as_ref().map(|a| a.channels),
        bitrate_kbps: p.bitrate_kbps,
        url: url(id, &format!("r/{}.mp4", planned.name)),
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(format!("a job thread ended: {e}")))?
}

/// Run one ffmpeg to its end on a blocking thread; `on_frame` sees its progress lines.
pub(crate) async fn run_ffmpeg(
    ffmpeg: &Path,
    argv: Vec<String>,
    stage: &'static str,
    on_frame: Option<Box<dyn Fn(u32) + Send>>,
    cancel: &Arc<AtomicBool>,
) -> Result<(), AppError> {
    let ffmpeg = ffmpeg.to_owned();
    let cancel = cancel.clone();
    blocking(move || {
        let hook: Option<generator::process::EventHook> = on_frame.map(|f| {
            Box::new(move |e: &ffmpeg_sidecar::event::FfmpegEvent| {
                // Taken: progress lines only; everything else (the log tail, the end of
                // stderr) stays with the process module.
                if let ffmpeg_sidecar::event::FfmpegEvent::Progress(p) = e {
                    f(p.frame);
                    return true;
                }
                false
            }) as generator::process::EventHook
        });
        FfmpegProcess::spawn_with_hook(&ffmpeg, &argv, hook)
            .and_then(|p| p.finish_unless(&cancel, CANCELLED))
            .map_err(|e| AppError::Job(format!("{stage}: {}", e.context(stage))))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_sizes_and_ids() {
        assert_eq!(
            frame_rate(29.97).unwrap(),
            FrameRate::new(30000, 1001).unwrap()
        );
        assert_eq!(
            frame_rate(59.94).unwrap(),
            FrameRate::new(60000, 1001).unwrap()
        );
        assert_eq!(frame_rate(25.0).unwrap(), FrameRate::new(25, 1).unwrap());
        assert_eq!(frame_rate(30.0).unwrap(), FrameRate::new(30, 1).unwrap());
        assert!(frame_rate(1000.0).is_err());
        let s = master_size(3840, 2160);
        assert_eq!((s.width, s.height), (1920, 1080));
        let s = master_size(641, 361);
        assert_eq!((s.width, s.height), (640, 360));
        let s = master_size(1080, 1920);
        assert_eq!((s.width, s.height), (606, 1080));
        assert_eq!(stream_id("abc"), stream_id("abc"));
        assert!((1..=99).contains(&stream_id("x")));
        assert_eq!(url("i", "r/a.mp4"), "/files/i/r/a.mp4");
    }
}
