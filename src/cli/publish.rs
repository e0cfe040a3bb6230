//! `streamscope publish`: render timecoded frames in real time and send one low-latency
//! encode to every --to URL and to an untouched control.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use generator::argv::{Content, Pattern};
use generator::outputs::{LiveEncode, muxer_for};
use generator::publish::{PublishOutcome, PublishSpec, publish};
use generator::{FrameRate, PictureSize};

use super::{EXIT_INTERRUPTED, values};

/// The control's address when `--control` is given without one.
pub const DEFAULT_CONTROL: &str = "udp://127.0.0.1:9000?pkt_size=1316";

#[derive(clap::Args, Clone)]
pub struct Args {
    #[command(flatten)]
    ffmpeg: super::FfmpegArg,
    /// A destination: rtmp://, srt://, udp://, rtp://, rtsp:// or a folder (live HLS). Repeat
    /// for several; all get the same encode.
    #[arg(long, value_name = "URL", value_parser = values::destination)]
    to: Vec<String>,
    /// Also send the same frames, untouched by any provider, here (the reference for relative
    /// latency and VMAF). Without a value: udp://127.0.0.1:9000.
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = DEFAULT_CONTROL)]
    control: Option<String>,
    #[command(flatten)]
    stream: StreamArgs,
    /// Stop after this long (default: until Ctrl-C).
    #[arg(long, value_parser = values::duration)]
    duration: Option<Duration>,
    #[command(flatten)]
    sync: SyncArgs,
}

/// Clock sync of the publisher's capture clock.
#[derive(clap::Args, Clone)]
pub struct SyncArgs {
    /// Sync the capture clock with this NTP server, HOST[:PORT] (repeat for several; the one
    /// with the smallest uncertainty is used): every timecode carries UTC as the server tells
    /// it. A server that does not answer is a warning.
    #[arg(long, value_name = "HOST[:PORT]")]
    ntp: Vec<clocksync::Server>,
    /// How often --ntp is measured again while publishing.
    #[arg(long, value_parser = values::duration, default_value = "5m", requires = "ntp")]
    ntp_interval: Duration,
    /// Write the sync state (server, offset, uncertainty, samples) to this JSON file, and
    /// again after each measurement: give it to `analyze --publisher-sync` for a stated bound
    /// on absolute latency.
    #[arg(long, value_name = "FILE", requires = "ntp")]
    sync_out: Option<std::path::PathBuf>,
}

impl SyncArgs {
    /// Start syncing (None without --ntp).
    fn start(&self) -> Option<clocksync::ClockSync> {
        if self.ntp.is_empty() {
            return None;
        }
        let clock = generator::clock::WallClock::start();
        Some(clocksync::ClockSync::start(
            self.ntp.clone(),
            analyzer::session::NTP_SAMPLES,
            self.ntp_interval,
            std::sync::Arc::new(move || clock.now_us()),
        ))
    }
}

/// Write the sync state whole (temp + rename: an analyzer never reads half a file).
fn write_sync(path: &std::path::Path, report: &clocksync::SyncReport) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(report)?)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("writing the clock sync state to {}", path.display()))
}

/// What is rendered and how it is encoded (shared with `demo`).
#[derive(clap::Args, Clone)]
pub struct StreamArgs {
    /// Frame rate.
    #[arg(long, default_value = "30")]
    pub fps: FrameRate,
    /// Picture size WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x720", value_parser = values::size)]
    pub size: PictureSize,
    /// Moving test pattern under the code.
    #[arg(long, default_value = "testsrc2", conflicts_with = "source")]
    pub pattern: Pattern,
    /// Use this video (looped) as content instead.
    #[arg(long, value_name = "FILE|URL")]
    pub source: Option<String>,
    /// Video bitrate of the published encode.
    #[arg(long, default_value = "2M", value_parser = values::bitrate)]
    pub bitrate: u64,
    /// Keyframe interval (fixed).
    #[arg(long, default_value = "1s", value_parser = values::duration)]
    pub gop: Duration,
    /// x264 preset (low-latency: veryfast or faster).
    #[arg(long, default_value = "veryfast", value_parser = ["ultrafast", "superfast", "veryfast"])]
    pub preset: String,
    /// Stream id carried in every timecode (0–99).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=99))]
    pub stream_id: u8,
    /// Send the beep track along (AAC, a 1 kHz beep starting with the frame of every whole
    /// second, as in `generate`), for A/V offset. Off by default: with audio, ffmpeg's muxing
    /// holds each video packet about two AAC frames (measured: UDP latency p50 3.5 ms without,
    /// 44 ms with).
    #[arg(long)]
    pub audio: bool,
    #[command(flatten)]
    pub qr: super::QrArgs,
}

impl StreamArgs {
    /// The publish job; the last `controls` of `outputs` are controls.
    pub fn spec(
        &self,
        outputs: Vec<String>,
        controls: usize,
        duration: Option<Duration>,
    ) -> anyhow::Result<PublishSpec> {
        for url in &outputs {
            muxer_for(url).map_err(anyhow::Error::msg)?;
        }
        let placement = self.qr.placement();
        generator::Layout::new(self.size, &placement)?;
        Ok(PublishSpec {
            content: match &self.source {
                Some(s) => Content::Source(s.clone()),
                None => Content::Pattern(self.pattern),
            },
            stream_id: self.stream_id,
            placement,
            encode: LiveEncode {
                size: self.size,
                rate: self.fps,
                bitrate: self.bitrate,
                preset: self.preset.clone(),
                gop_frames: self.fps.frames_rounded(self.gop).max(1),
                audio: self.audio,
            },
            frames: duration.map(|d| self.fps.frames_in(d)),
            outputs,
            controls,
            clock_offset: None,
        })
    }
}

/// Schedule error (ms) of a publish run: p50, p99, max — the analyzer's nearest-rank
/// percentiles over render time − due time.
pub fn schedule_error_ms(o: &PublishOutcome) -> (f64, f64, f64) {
    metrics::stats::distribution(&o.schedule_error_us)
        .map_or((0.0, 0.0, 0.0), |d| (d.p50, d.p99, d.max))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut outputs = args.to.clone();
    outputs.extend(args.control.clone());
    if outputs.is_empty() {
        anyhow::bail!("nothing to publish to: give --to URL and/or --control [URL]");
    }
    let controls = usize::from(args.control.is_some());
    let mut spec = match args.stream.spec(outputs, controls, args.duration) {
        Ok(s) => s,
        Err(e) => return Ok(super::usage(&e)),
    };
    let sync = args.sync.start();
    spec.clock_offset = sync.as_ref().map(clocksync::ClockSync::reader);
    let sync_out = args.sync.sync_out.as_deref();
    let mut written = None;
    let mut write_state = |sync: &clocksync::ClockSync| -> anyhow::Result<()> {
        let r = sync.report();
        if let Some(path) = sync_out
            && written != Some(r.measurements + r.failures)
        {
            write_sync(path, &r)?;
            written = Some(r.measurements + r.failures);
        }
        Ok(())
    };
    if let Some(s) = &sync {
        write_state(s)?;
    }
    let ffmpeg = args.ffmpeg.locate()?;
    let cancel = super::interrupt_flag()?;
    tracing::info!(
        "publishing {} @ {} fps, {} kbit/s, to {}",
        spec.encode.size,
        spec.encode.rate,
        spec.encode.bitrate / 1000,
        spec.outputs.join(", ")
    );
    let mut last_log = std::time::Instant::now();
    let mut write_error = None;
    let outcome = publish(&ffmpeg, &spec, &cancel, &mut |n| {
        if last_log.elapsed() >= Duration::from_secs(5) {
            last_log = std::time::Instant::now();
            tracing::info!("{n} frames sent");
            if let Some(s) = &sync
                && let Err(e) = write_state(s)
            {
                write_error.get_or_insert(e);
            }
        }
    })
    .context("publishing")?;
    if let Some(e) = write_error {
        return Err(e);
    }
    let (p50, p99, max) = schedule_error_ms(&outcome);
    println!(
        "published {} frames in {:.1} s; schedule error p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms; {} late, {} skipped",
        outcome.frames_sent,
        outcome.elapsed.as_secs_f64(),
        outcome.late,
        outcome.skipped
    );
    for (url, why) in &outcome.failed_outputs {
        eprintln!("error: output {url} failed: {why} (publishing went on to the other outputs)");
    }
    Ok(if outcome.interrupted {
        ExitCode::from(EXIT_INTERRUPTED)
    } else if !outcome.failed_outputs.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
