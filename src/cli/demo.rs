//! `streamscope demo`: the whole job on one machine — publish a timecoded stream with a
//! control, pass it through a simulated provider (relay with delay + a real transcode), and
//! measure latency, smoothness and quality against the control.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use analyzer::quality::live::{LiveVmafConfig, ReferenceSource};
use analyzer::record::RecordOptions;
use analyzer::session::{ClockMode, Handles, SessionConfig, StreamSpec};
use anyhow::Context;
use generator::outputs::transcode_args;
use generator::process::FfmpegProcess;
use generator::publish::publish;
use relay::impair::Impairment;
use relay::{Endpoint, RelaySpec, RelayStats};
use report::Role;

use super::publish::{StreamArgs, schedule_error_ms};
use super::{EXIT_INTERRUPTED, values};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    ffmpeg: super::FfmpegArg,
    /// How long to publish.
    #[arg(long, default_value = "20s", value_parser = values::duration)]
    duration: Duration,
    /// The simulated provider's delay (added by the relay).
    #[arg(long, default_value = "500ms", value_parser = values::delay)]
    delay: Duration,
    /// The provider's transcode bitrate, or `copy` to pass the stream through untouched.
    #[arg(long, default_value = "800k", value_parser = provider_bitrate)]
    provider_bitrate: ProviderBitrate,
    /// Output folder (default: reports/demo-<UTC time>/).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    stream: StreamArgs,
}

#[derive(Clone, Copy)]
struct ProviderBitrate(Option<u64>);

fn provider_bitrate(s: &str) -> Result<ProviderBitrate, String> {
    if s == "copy" {
        Ok(ProviderBitrate(None))
    } else {
        values::bitrate(s).map(|b| ProviderBitrate(Some(b)))
    }
}

fn free_udp_port() -> anyhow::Result<u16> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").context("finding a free UDP port")?;
    Ok(s.local_addr()?.port())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let ffmpeg = args.ffmpeg.locate()?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| report::claim::fresh_dir("demo-"));
    let [control, relay_in, provider_in, live] = [(); 4].map(|_| free_udp_port());
    let (control, relay_in, provider_in, live) = (control?, relay_in?, provider_in?, live?);
    let udp_out = |p: u16| format!("udp://127.0.0.1:{p}?pkt_size=1316");
    let udp_in = |p: u16| format!("udp://127.0.0.1:{p}?fifo_size=100000&overrun_nonfatal=1");
    let spec = args.stream.spec(
        vec![udp_out(relay_in), udp_out(control)],
        1,
        Some(args.duration),
    )?;
    let gop = spec.encode.gop_frames;
    let stop = super::interrupt_flag()?;

    // 1. The analyzer listens first: control direct, provider output after relay + transcode.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let config = SessionConfig {
        ffmpeg: ffmpeg.clone(),
        streams: vec![
            StreamSpec::new("provider", &udp_in(live), Role::Live)?,
            StreamSpec::new("control", &udp_in(control), Role::Control)?,
        ],
        clock: ClockMode::Realtime,
        clock_offset_us: 0,
        ntp: Vec::new(),
        ntp_interval: Duration::from_secs(300),
        duration: Some(args.duration + args.delay + Duration::from_secs(3)),
        max_frames: None,
        open_timeout: Duration::from_secs(15),
        timecode_timeout: Duration::from_secs(10),
        wechat: true,
        vmaf: Some(LiveVmafConfig {
            model: "vmaf_v0.6.1".into(),
            threads,
            subsample: 1,
            window: Duration::from_secs(10),
            reference: ReferenceSource::Control,
            exhaustive: false,
        }),
        hls_live_edge: None,
        rotate: None,
        live_av: false,
        code_window: None,
    };
    let opts = RecordOptions {
        out: out.clone(),
        command: super::command_line(),
        ..RecordOptions::default()
    };
    let handles = Handles {
        stop: stop.clone(),
        latest: None,
    };
    let analyzer = std::thread::Builder::new()
        .name("demo-analyzer".into())
        .spawn(move || super::analyze::measure(&config, &opts, &handles))?;

    // 2. The simulated provider: relay (delay) → transcode (or copy) → the analyzer.
    let relay_stop = Arc::new(AtomicBool::new(false));
    let relay_stats = Arc::new(RelayStats::default());
    let relay_spec = RelaySpec {
        listen: Endpoint::Udp(([127, 0, 0, 1], relay_in).into()),
        to: Endpoint::Udp(
            (
                [127, 0, 0, 1],
                if args.provider_bitrate.0.is_some() {
                    provider_in
                } else {
                    live
                },
            )
                .into(),
        ),
        impairment: Impairment {
            delay: args.delay,
            ..Impairment::default()
        },
        seed: 1,
    };
    let (rs, rst) = (relay_stop.clone(), relay_stats.clone());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let relay_thread = std::thread::Builder::new()
        .name("demo-relay".into())
        .spawn(move || {
            relay::run(&relay_spec, &rs, &rst, move || {
                let _ = ready_tx.send(());
            })
        })?;
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .context("the relay did not start")?;
    let transcoder = match args.provider_bitrate.0 {
        Some(b) => Some(FfmpegProcess::spawn(
            &ffmpeg,
            &transcode_args(&udp_in(provider_in), &udp_out(live), Some(b), gop),
        )?),
        None => None,
    };
    std::thread::sleep(Duration::from_millis(700));

    // 3. Publish in real time to the provider path and the control.
    tracing::info!(
        "demo: publishing {} @ {} fps for {:?} through a provider with {:?} delay and {}",
        spec.encode.size,
        spec.encode.rate,
        args.duration,
        args.delay,
        args.provider_bitrate
            .0
            .map_or("no transcode".into(), |b| format!(
                "a {} kbit/s transcode",
                b / 1000
            ))
    );
    let published = publish(&ffmpeg, &spec, &stop, &mut |_| {});
    let measured = analyzer
        .join()
        .map_err(|_| anyhow::anyhow!("the analyzer thread panicked"))?;
    relay_stop.store(true, Ordering::SeqCst);
    drop(transcoder);
    let _ = relay_thread.join();
    let published = published.context("publishing")?;
    let summary = measured?.summary;

    let (p50, p99, _) = schedule_error_ms(&published);
    println!(
        "publisher: {} frames, schedule error p50 {p50:.2} ms, p99 {p99:.2} ms, {} late, {} skipped; relay: {}",
        published.frames_sent,
        published.late,
        published.skipped,
        relay_stats.line()
    );
    if let Some(p) = summary.streams.iter().find(|s| s.name == "provider") {
        let rel = p
            .relative_latency_ms
            .map_or("–".into(), |r| format!("{:.1} ms", r.p50));
        println!(
            "demo: the provider added {rel} (median, relative to the control; the relay's delay was {:?}); open {}/report.html",
            args.delay,
            out.display()
        );
    }
    Ok(if published.interrupted || stop.load(Ordering::SeqCst) {
        ExitCode::from(EXIT_INTERRUPTED)
    } else {
        ExitCode::SUCCESS
    })
}
