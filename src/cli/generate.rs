//! `streamscope generate`: render a QR-timecoded, browser-playable MP4 (and optional HLS).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, SubsecRound, Utc};
use generator::argv::{self, Content, EncodeSpec, Pattern, RateControl};
use generator::render::{RenderSpec, render_file};
use generator::signal::utc_rfc3339;
use generator::{FrameRate, PictureSize};

use super::{EXIT_INTERRUPTED, Progress, values};

const PRESETS: [&str; 10] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];
/// Longest file `generate` will render.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    ffmpeg: super::FfmpegArg,
    /// Output MP4 (H.264 High yuv420p, AAC, +faststart).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Length of the clip.
    #[arg(long, default_value = "10s", value_parser = values::duration)]
    duration: Duration,
    /// Frame rate: 30, 25, 29.97, 30000/1001, …
    #[arg(long, default_value = "30")]
    fps: FrameRate,
    /// Picture size WIDTHxHEIGHT (even numbers).
    #[arg(long, default_value = "1280x720", value_parser = values::size)]
    size: PictureSize,
    /// Moving ffmpeg test pattern under the code: testsrc2, testsrc, smptebars, smptehdbars,
    /// mandelbrot, life, cellauto, gradients, rgbtestsrc.
    #[arg(long, default_value = "testsrc2", conflicts_with = "source")]
    pattern: Pattern,
    /// Use this video (file or URL) as content instead: scaled/padded to --size, looped or cut
    /// to --duration.
    #[arg(long, value_name = "FILE|URL")]
    source: Option<String>,
    /// Stream id carried in every timecode (0–99).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=99))]
    stream_id: u8,
    /// Capture time of frame 0 (RFC 3339). Default: now, rounded down to a whole second.
    #[arg(long, value_parser = values::utc_time)]
    start_time: Option<DateTime<Utc>>,
    /// Also write an HLS rendition (index.m3u8 + segments, one segment per GOP) into DIR.
    #[arg(long, value_name = "DIR")]
    hls: Option<PathBuf>,
    /// x264 constant quality (default 20 unless --bitrate is given).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=51), conflicts_with = "bitrate")]
    crf: Option<u8>,
    /// Target video bitrate, e.g. 3M or 800k (capped VBV).
    #[arg(long, value_parser = values::bitrate)]
    bitrate: Option<u64>,
    /// x264 preset.
    #[arg(long, default_value = "veryfast", value_parser = PRESETS)]
    preset: String,
    /// Keyframe interval (fixed; also the HLS segment length).
    #[arg(long, default_value = "2s", value_parser = values::duration)]
    gop: Duration,
    /// Leave out the audio track (1 kHz beeps at every whole second).
    #[arg(long)]
    no_audio: bool,
    #[command(flatten)]
    qr: super::QrArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Arguments that parse but cannot make a video (too long, too small for the code) are
    // usage errors too, found before anything is written.
    let spec = match render_spec(&args) {
        Ok(s) => s,
        Err(e) => return Ok(super::usage(&e)),
    };
    let ffmpeg = args.ffmpeg.locate()?;
    prepare_outputs(&args)?;
    let cancel = super::interrupt_flag()?;

    let enc = &spec.encode;
    tracing::info!(
        "rendering {} frames {} @ {} fps, stream {}, into {}",
        enc.frames,
        enc.size,
        enc.rate,
        spec.stream_id,
        args.out.display()
    );
    let mut progress = Progress::new(enc.frames, "generate");
    let outcome = render_file(&ffmpeg, &spec, &mut |n| progress.set(n), &cancel);
    progress.finish();
    if outcome.is_err() && fs::metadata(&args.out).is_ok_and(|m| m.len() == 0) {
        // Only the empty file made by the writability check: do not leave it behind.
        let _ = fs::remove_file(&args.out);
    }
    let outcome = outcome.with_context(|| format!("generating {}", args.out.display()))?;

    let per_frame =
        outcome.composite_time.as_secs_f64() * 1e3 / outcome.frames_written.max(1) as f64;
    tracing::info!(
        "{} frames in {:.2} s; timecode stamping {:.3} ms/frame",
        outcome.frames_written,
        outcome.elapsed.as_secs_f64(),
        per_frame
    );
    if outcome.interrupted || cancel.load(Ordering::SeqCst) {
        eprintln!(
            "interrupted: {} holds the first {} of {} frames (a complete, playable file){}",
            args.out.display(),
            outcome.frames_written,
            enc.frames,
            if args.hls.is_some() {
                "; HLS was not written"
            } else {
                ""
            }
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    let last = outcome.frames_written.saturating_sub(1);
    let schedule = generator::Schedule::new(spec.start_us, enc.rate);
    println!(
        "wrote {}: {} frames, {} @ {} fps, {} s, stream {}, timecodes {} … {}",
        args.out.display(),
        outcome.frames_written,
        enc.size,
        enc.rate,
        argv::seconds(enc.rate, outcome.frames_written),
        spec.stream_id,
        utc_rfc3339(spec.start_us as i64),
        utc_rfc3339(schedule.capture_us(last) as i64),
    );
    if let Some(dir) = &args.hls {
        println!("wrote {}", dir.join("index.m3u8").display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Turn validated arguments into the generator's spec (no I/O).
fn render_spec(args: &Args) -> anyhow::Result<RenderSpec> {
    if args.duration > MAX_DURATION {
        bail!(
            "--duration {:?} is longer than the 24 h limit of generate",
            args.duration
        );
    }
    let frames = args.fps.frames_in(args.duration);
    let gop_frames = args.fps.frames_rounded(args.gop);
    let start = args
        .start_time
        .unwrap_or_else(|| Utc::now().trunc_subsecs(0));
    let start_us = u64::try_from(start.timestamp_micros())
        .map_err(|_| anyhow::anyhow!("--start-time must be after 1970-01-01"))?;
    let out = values::utf8_path(&args.out, "--out")?.to_owned();
    let hls_dir = match &args.hls {
        Some(d) => {
            let d = values::utf8_path(d, "--hls")?;
            if d.contains('%') {
                bail!(
                    "--hls {d}: the folder name must not contain '%' (ffmpeg reads it as a pattern)"
                );
            }
            Some(d.to_owned())
        }
        None => None,
    };
    let content = match &args.source {
        Some(s) => Content::Source(s.clone()),
        None => Content::Pattern(args.pattern),
    };
    let rate_control = match (args.crf, args.bitrate) {
        (_, Some(b)) => RateControl::Bitrate(b),
        (Some(c), None) => RateControl::Crf(c),
        (None, None) => RateControl::Crf(20),
    };
    let placement = args.qr.placement();
    // Refuse a frame too small for the code before anything is written.
    generator::Layout::new(args.size, &placement)?;
    Ok(RenderSpec {
        content,
        stream_id: args.stream_id,
        start_us,
        placement,
        encode: EncodeSpec {
            size: args.size,
            rate: args.fps,
            frames,
            rate_control,
            preset: args.preset.clone(),
            gop_frames,
            audio: !args.no_audio,
            source_audio: None,
            out,
        },
        hls_dir,
    })
}

/// Check the source is readable and the outputs writable before starting any ffmpeg.
fn prepare_outputs(args: &Args) -> anyhow::Result<()> {
    if let Some(src) = &args.source
        && !argv::is_url(src)
    {
        fs::File::open(src).with_context(|| format!("cannot read --source {src}"))?;
        if Path::new(src).is_dir() {
            bail!("cannot read --source {src}: it is a directory");
        }
    }
    if args.out.is_dir() {
        bail!(
            "cannot write --out {}: it is a directory",
            args.out.display()
        );
    }
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&args.out)
        .with_context(|| format!("cannot write --out {}", args.out.display()))?;
    if let Some(dir) = &args.hls {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create --hls folder {}", dir.display()))?;
        let probe = dir.join(".streamscope-write-test");
        fs::write(&probe, b"")
            .with_context(|| format!("cannot write into --hls folder {}", dir.display()))?;
        let _ = fs::remove_file(probe);
    }
    Ok(())
}
