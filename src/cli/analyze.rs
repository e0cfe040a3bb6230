//! `streamscope analyze`: read live streams (and a control), measure every frame and record
//! the run folder (`analyzer::record`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use analyzer::ingest::Input;
use analyzer::quality::live::{LiveVmafConfig, ReferenceSource};
use analyzer::record::{self, RecordOptions, Recorded};
use analyzer::session::{ClockMode, Handles, SessionConfig, StreamSpec};
use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use super::status::{Status, print_summary};
use super::{EXIT_INTERRUPTED, values};

/// The shortest `--rotate` period.
const MIN_ROTATE: Duration = Duration::from_secs(5);

/// Exit code when `--fail-if` thresholds failed.
pub const EXIT_THRESHOLDS: u8 = 3;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Clock {
    /// Arrival = when the frame's packet was received (live inputs: stamped by ffmpeg's
    /// demuxer, before decoding or any analysis).
    Realtime,
    /// Arrival = --start-time + the frame's PTS (deterministic replay of recordings).
    Pts,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    ffmpeg: super::FfmpegArg,
    /// A stream to measure: [NAME=]URL (file, HLS/DASH over HTTP(S), RTMP, SRT, RTSP, UDP).
    /// Repeat for several; names default to live1, live2, …
    #[arg(long, required = true, value_name = "[NAME=]URL")]
    live: Vec<String>,
    /// The untouched control stream, reference for relative latency.
    #[arg(long, value_name = "URL")]
    control: Option<String>,
    /// Stop after this long (realtime clock: from the start; pts clock: of stream time).
    #[arg(long, value_parser = values::duration, conflicts_with = "frames")]
    duration: Option<Duration>,
    /// Stop each stream after this many frames.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    frames: Option<u64>,
    /// Output folder (default: reports/<UTC time>/).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Arrival clock.
    #[arg(long, value_enum, default_value = "realtime")]
    clock: Clock,
    /// With --clock pts: the arrival time of PTS 0 (RFC 3339).
    #[arg(long, value_parser = values::utc_time, required_if_eq("clock", "pts"))]
    start_time: Option<DateTime<Utc>>,
    /// Added to every absolute latency (a known offset between the capture and this clock),
    /// e.g. 12ms or -3ms.
    #[arg(long, value_parser = values::signed_duration_us, default_value = "0s", allow_hyphen_values = true)]
    clock_offset: i64,
    /// Sync the arrival clock with this NTP server, HOST[:PORT] (repeat for several; the one
    /// with the smallest uncertainty is used): absolute latency is corrected by the measured
    /// offset and stated as value ± uncertainty. A server that does not answer is a warning.
    #[arg(long, value_name = "HOST[:PORT]")]
    ntp: Vec<clocksync::Server>,
    /// How often --ntp is measured again during the run.
    #[arg(long, value_parser = values::duration, default_value = "5m", requires = "ntp")]
    ntp_interval: Duration,
    /// The publisher's clock sync, as `publish --ntp --sync-out FILE` writes it (read when the
    /// summary is written): with --ntp, absolute latency gets a stated bound.
    #[arg(long, value_name = "FILE")]
    publisher_sync: Option<PathBuf>,
    /// Fail (exit code 3) when a live stream meets any of these, e.g. "latency.p95>2s,dropped>0".
    #[arg(long, value_parser = values::checks, value_name = "CHECKS")]
    fail_if: Option<values::Checks>,
    /// Read codes with rqrr only (skip OpenCV's wechat_qrcode on blurred codes: less CPU,
    /// fewer reads at low bitrates).
    #[arg(long)]
    no_wechat: bool,
    /// Give up on a stream that delivers no video within this time.
    #[arg(long, value_parser = values::duration, default_value = "15s")]
    open_timeout: Duration,
    /// Score quality (VMAF, PSNR-Y, SSIM) of every live stream against the control (or
    /// --reference), frames paired by their embedded frame number.
    #[arg(long)]
    vmaf: bool,
    /// Reference file for --vmaf instead of the control (e.g. the clip being published); read
    /// on demand. Implies --vmaf.
    #[arg(long, value_name = "FILE|URL")]
    reference: Option<String>,
    #[command(flatten)]
    vmaf_options: super::vmaf::VmafOptions,
    /// Serve live metrics for Prometheus at http://ADDR/metrics while running (per stream a
    /// latency histogram, relative-latency and fps gauges, frame/drop/duplicate/freeze
    /// counters, the newest VMAF).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
    /// HLS inputs: play like a player N segments behind the live edge (hls.js keeps 3), paced
    /// in real time. Default: read each segment as soon as it exists (the lowest latency a
    /// player could reach).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    hls_live_edge: Option<u32>,
    /// Cut the run into periods this long (e.g. 1h), each a complete run folder inside --out,
    /// with index.html and index.json listing them and their verdicts. Memory stays flat
    /// however long the run (24/7 monitoring). Realtime clock; at least 5s.
    #[arg(long, value_parser = values::duration, value_name = "DURATION")]
    rotate: Option<Duration>,
    /// Measure the A/V offset of RTMP, SRT, RTSP, HLS and DASH inputs too (udp:// inputs always
    /// are): each is opened by a receiver ffmpeg that keeps the stream's timestamps, hears the
    /// audio and hands the video packets on to the reader, which stamps them as they come. One
    /// more ffmpeg per input; the frames of its ~100 ms probe are stamped when it hands them on.
    #[arg(long)]
    live_av: bool,
    /// The code sits in this corner (top-left, top-right, bottom-left, bottom-right), where
    /// `generate` puts it by default (top-right, a third of the height): ffmpeg hands over only
    /// that corner (a square of 0.12 × width + 0.4 × height) and says how much the whole
    /// picture moved, instead of piping whole pictures — less CPU per stream when monitoring
    /// many.
    /// Not with VMAF/PSNR/SSIM, which read whole pictures.
    #[arg(long, value_name = "CORNER")]
    code_window: Option<generator::Corner>,
    /// CENC content key (32 hex digits) of the --live streams, for encrypted MP4 outputs
    /// (ffmpeg's -decryption_key); the control and --reference are read in the clear. The key
    /// is never logged or written to the run folder.
    #[arg(long, value_name = "KEY", value_parser = clap::value_parser!(analyzer::ingest::ContentKey))]
    decryption_key: Option<analyzer::ingest::ContentKey>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // A stream that cannot be named or read as given is a usage error, found before any work.
    let mut streams = match StreamSpec::parse_all(&args.live, args.control.as_deref()) {
        Ok(s) => s,
        Err(e) => return Ok(super::usage(&e)),
    };
    for s in streams.iter_mut().filter(|s| s.role == report::Role::Live) {
        s.input = s.input.clone().with_decryption_key(args.decryption_key);
    }
    if let Some(r) = args.rotate {
        if r < MIN_ROTATE {
            return Ok(super::usage(&format!(
                "--rotate {} is too short: periods are at least 5s (use 1h or so for 24/7 monitoring)",
                humantime::format_duration(r)
            )));
        }
        if args.clock == Clock::Pts {
            return Ok(super::usage(
                &"--rotate cuts a live run by the time frames arrive; with --clock pts there is nothing to cut by: leave one of them out",
            ));
        }
        if args.live_av {
            return Ok(super::usage(
                &"--live-av measures the A/V offset over the whole run, and a rotated run keeps no whole run: leave one of them out",
            ));
        }
    }
    if args.code_window.is_some() && (args.vmaf || args.reference.is_some()) {
        return Ok(super::usage(
            &"--code-window hands over only the code's corner, and VMAF/PSNR/SSIM score whole pictures: leave one of them out",
        ));
    }
    if args.clock == Clock::Pts && (!args.ntp.is_empty() || args.publisher_sync.is_some()) {
        return Ok(super::usage(
            &"--ntp and --publisher-sync correct clock reads; with --clock pts arrivals come from the stream's PTS, not a clock: leave them out",
        ));
    }
    let clock = match (args.clock, args.start_time) {
        (Clock::Pts, Some(t)) => ClockMode::Pts {
            start_us: t.timestamp_micros(),
        },
        _ => ClockMode::Realtime,
    };
    let config = SessionConfig {
        ffmpeg: args.ffmpeg.locate()?,
        streams,
        clock,
        clock_offset_us: args.clock_offset,
        ntp: args.ntp.clone(),
        ntp_interval: args.ntp_interval,
        duration: args.duration,
        max_frames: args.frames,
        open_timeout: args.open_timeout,
        timecode_timeout: Duration::from_secs(10),
        wechat: !args.no_wechat,
        vmaf: vmaf_config(&args, clock)?,
        hls_live_edge: args.hls_live_edge,
        rotate: args.rotate,
        live_av: args.live_av,
        code_window: args.code_window,
    };
    let handles = Handles {
        stop: super::interrupt_flag()?,
        latest: (config.vmaf.is_some() && args.metrics.is_some()).then(Default::default),
    };
    let opts = RecordOptions {
        out: args
            .out
            .clone()
            .unwrap_or_else(|| report::claim::fresh_dir("")),
        command: super::command_line(),
        fail_if: args.fail_if.map(|c| c.0).unwrap_or_default(),
        metrics: args.metrics,
        publisher_sync: args.publisher_sync.clone(),
    };
    let recorded = measure(&config, &opts, &handles)?;
    // A stream that failed, or quality asked for and not scored, fails the run.
    let failed = recorded.summary.errors();
    for e in &failed {
        eprintln!("error: {e}");
    }
    if recorded.result.interrupted {
        eprintln!(
            "interrupted: the rows measured so far and the summary are in {}",
            opts.out.display()
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if !failed.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    if !recorded.failures.is_empty() {
        eprintln!("thresholds failed:");
        for f in &recorded.failures {
            eprintln!("  {f}");
        }
        return Ok(ExitCode::from(EXIT_THRESHOLDS));
    }
    Ok(ExitCode::SUCCESS)
}

/// Record a run with a progress display, print its summary and where its report is. Also
/// used by `demo`.
pub fn measure(
    config: &SessionConfig,
    opts: &RecordOptions,
    handles: &Handles,
) -> anyhow::Result<Recorded> {
    let mut status = Status::new(&config.streams);
    let recorded = record::record(config, opts, handles, &mut |u| status.update(u));
    status.finish();
    let recorded =
        recorded.with_context(|| format!("recording the run into {}", opts.out.display()))?;
    print_summary(&recorded.summary, &opts.out);
    match &recorded.report {
        Ok(r) => println!("report: {}", r.html.display()),
        Err(e) => bail!("drawing the report: {e} (the measurements are written)"),
    }
    if config.rotate.is_some() {
        println!(
            "periods: {} (the summary above is the last)",
            opts.out.join("index.html").display()
        );
    }
    Ok(recorded)
}

fn vmaf_config(args: &Args, clock: ClockMode) -> anyhow::Result<Option<LiveVmafConfig>> {
    if !args.vmaf && args.reference.is_none() {
        return Ok(None);
    }
    let reference = match (&args.reference, &args.control) {
        (Some(file), _) => ReferenceSource::File(Input::parse(file)?),
        (None, Some(_)) => ReferenceSource::Control,
        (None, None) => bail!("--vmaf needs a reference: --control URL or --reference FILE"),
    };
    let o = &args.vmaf_options;
    Ok(Some(LiveVmafConfig {
        model: o.vmaf_model.clone(),
        threads: o.threads(),
        subsample: o.vmaf_subsample,
        window: o.vmaf_window,
        reference,
        // Replays are not live: score every frame, deterministically.
        exhaustive: matches!(clock, ClockMode::Pts { .. }),
    }))
}
