//! `streamscope analyze`: read live streams (and a control), measure every frame, write
//! `frames.csv` as it goes and `summary.json`/`summary.csv`/`events.csv` at the end.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use analyzer::ingest::Protocol;
use std::sync::{Arc, Mutex};

use analyzer::metrics::FrameRow;
use analyzer::metrics::live::LiveMetrics;
use analyzer::report::{self, FramesCsv, summary, thresholds};
use analyzer::session::{self, ClockMode, Role, SessionConfig, StreamSpec, Update};
use analyzer::vmaf::live::{LiveVmafConfig, ReferenceSource};
use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use super::{EXIT_INTERRUPTED, Global, values};

/// Exit code when `--fail-if` thresholds failed.
pub const EXIT_THRESHOLDS: u8 = 3;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Clock {
    /// Arrival = when the frame left ffmpeg.
    Realtime,
    /// Arrival = --start-time + the frame's PTS (deterministic replay of recordings).
    Pts,
}

#[derive(clap::Args)]
pub struct Args {
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
    #[arg(long)]
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
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let streams = stream_specs(&args)?;
    let clock = match (args.clock, args.start_time) {
        (Clock::Pts, Some(t)) => ClockMode::Pts {
            start_us: t.timestamp_micros(),
        },
        _ => ClockMode::Realtime,
    };
    let config = SessionConfig {
        ffmpeg: global.ffmpeg()?,
        streams,
        clock,
        clock_offset_us: args.clock_offset,
        duration: args.duration,
        max_frames: args.frames,
        open_timeout: args.open_timeout,
        timecode_timeout: Duration::from_secs(10),
        wechat: !args.no_wechat,
        vmaf: vmaf_config(&args, clock)?,
        hls_live_edge: args.hls_live_edge,
    };
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(Utc::now().format("%Y-%m-%dT%H-%M-%SZ").to_string())
    });
    let stop = super::interrupt_flag()?;
    let fail_if = args.fail_if.as_ref().map(|c| &c.0[..]).unwrap_or_default();
    let (result, summary) = measure(&config, &out, &stop, fail_if, args.metrics)?;
    let failed: Vec<_> = result
        .streams
        .iter()
        .filter_map(|s| s.error.as_ref().map(|e| (&s.spec.name, e)))
        .collect();
    for (name, e) in &failed {
        eprintln!("error: {name}: {e}");
    }
    if result.interrupted {
        eprintln!(
            "interrupted: the rows measured so far and the summary are in {}",
            out.display()
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if !failed.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    let failures = thresholds::evaluate(fail_if, &summary);
    if !failures.is_empty() {
        eprintln!("thresholds failed:");
        for f in &failures {
            eprintln!("  {f}");
        }
        return Ok(ExitCode::from(EXIT_THRESHOLDS));
    }
    Ok(ExitCode::SUCCESS)
}

fn vmaf_config(args: &Args, clock: ClockMode) -> anyhow::Result<Option<LiveVmafConfig>> {
    if !args.vmaf && args.reference.is_none() {
        return Ok(None);
    }
    let reference = match (&args.reference, &args.control) {
        (Some(file), _) => ReferenceSource::File(file.clone()),
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
        latest: args.metrics.map(|_| Default::default()),
    }))
}

/// Run a session and write everything it measured into `out`: `frames.csv` as rows come,
/// then (with scores filled when quality was scored) the summaries and events, then the plots
/// and `report.html` judged by `fail_if` — also after Ctrl-C. Also used by `demo`.
pub fn measure(
    config: &SessionConfig,
    out: &Path,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    fail_if: &[thresholds::Check],
    metrics_addr: Option<std::net::SocketAddr>,
) -> anyhow::Result<(session::SessionResult, summary::Summary)> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create --out folder {}", out.display()))?;
    // Counted row by row only when they are served.
    let served = metrics_addr
        .map(|addr| serve_metrics(addr, config))
        .transpose()?;
    let mut frames = FramesCsv::create(&out.join("frames.csv"))?;
    let mut status = Status::new(&config.streams);
    let mut write_error = None;
    let result = session::run(config, stop, &mut |u| {
        if let Update::Row { stream, row } = &u
            && write_error.is_none()
            && let Err(e) = frames.write(&config.streams[*stream].name, row)
        {
            // Disk full or gone: stop measuring, keep what is written.
            write_error = Some(e);
            stop.store(true, Ordering::SeqCst);
        }
        if let (Update::Row { stream, row }, Some((_, metrics))) = (&u, &served)
            && let Ok(mut m) = metrics.lock()
        {
            m.observe(*stream, row);
        }
        status.update(&u);
    });
    status.finish();
    let mut flushed = frames.flush();
    if flushed.is_ok() && result.vmaf.as_ref().is_some_and(|v| v.size.is_some()) {
        flushed = analyzer::report::frames::rewrite_with_scores(&out.join("frames.csv"), &result);
    }
    let command =
        generator::process::shell_line(Path::new("streamscope"), std::env::args_os().skip(1));
    let mut summary = report::summarize(
        &result,
        &command,
        config.clock,
        summary::Versions::of(&config.ffmpeg),
    );
    summary.fail_if = (!fail_if.is_empty()).then(|| {
        let texts: Vec<_> = fail_if.iter().map(|c| c.text.as_str()).collect();
        texts.join(",")
    });
    let events: Vec<_> = result
        .streams
        .iter()
        .flat_map(summary::stream_events)
        .collect();
    summary::write_json(&out.join("summary.json"), &summary)?;
    summary::write_csv(&out.join("summary.csv"), &summary)?;
    summary::write_events(&out.join("events.csv"), &events)?;
    // Drawn from the files just written, as `streamscope report` would.
    let report = report::write_run_report(out, Some(fail_if));
    print_summary(&summary, out);
    match &report {
        Ok(r) => println!("report: {}", r.html.display()),
        Err(e) => eprintln!("error: drawing the report: {e} (the measurements are written)"),
    }
    if let Some(e) = write_error {
        return Err(e)
            .context("frames.csv could not be written; the rows before the error are kept");
    }
    flushed?;
    report.context("drawing the report")?;
    Ok((result, summary))
}

/// Live metrics of `config`'s streams, served on `addr` (the scorers' newest VMAF copied in
/// at each scrape) until the server is dropped.
fn serve_metrics(
    addr: std::net::SocketAddr,
    config: &SessionConfig,
) -> anyhow::Result<(super::metrics::MetricsServer, Arc<Mutex<LiveMetrics>>)> {
    let metrics = Arc::new(Mutex::new(LiveMetrics::new(
        config
            .streams
            .iter()
            .map(|s| (s.name.as_str(), s.role == Role::Control)),
    )));
    let served = metrics.clone();
    let latest = config.vmaf.as_ref().and_then(|v| v.latest.clone());
    let streams = config.streams.len();
    let server = super::metrics::MetricsServer::start(addr, move || {
        let Ok(mut m) = served.lock() else {
            return String::new();
        };
        if let Some(l) = &latest {
            for i in 0..streams {
                if let Some(v) = l.get(i) {
                    m.set_vmaf(i, v);
                }
            }
        }
        m.render()
    })?;
    Ok((server, metrics))
}

/// `--live [NAME=]URL …` and `--control URL` as named streams, checked before any work.
fn stream_specs(args: &Args) -> anyhow::Result<Vec<StreamSpec>> {
    let mut specs = Vec::new();
    for (i, live) in args.live.iter().enumerate() {
        let (name, url) = match live.split_once('=') {
            Some((n, u))
                if !n.is_empty()
                    && n.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c)) =>
            {
                (n.to_owned(), u.to_owned())
            }
            _ => (format!("live{}", i + 1), live.clone()),
        };
        specs.push(StreamSpec {
            name,
            url,
            role: Role::Live,
        });
    }
    if let Some(url) = &args.control {
        specs.push(StreamSpec {
            name: "control".into(),
            url: url.clone(),
            role: Role::Control,
        });
    }
    for (i, s) in specs.iter().enumerate() {
        if specs[..i].iter().any(|o| o.name == s.name) {
            bail!(
                "stream name {:?} is used twice (\"control\" is reserved for --control)",
                s.name
            );
        }
        if Protocol::of(&s.url).is_none() {
            bail!(analyzer::Error::UnsupportedUrl(s.url.clone()));
        }
    }
    Ok(specs)
}

/// Per-stream progress: a status line each on a terminal, else a log line every 5 s.
struct Status {
    names: Vec<String>,
    rows: Vec<(u64, Option<i64>, Option<i64>)>,
    bars: Option<(indicatif::MultiProgress, Vec<indicatif::ProgressBar>)>,
    last: Instant,
}

impl Status {
    fn new(streams: &[StreamSpec]) -> Self {
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = indicatif::MultiProgress::new();
            let bars = streams
                .iter()
                .map(|_| {
                    let bar = multi.add(indicatif::ProgressBar::new_spinner());
                    bar.enable_steady_tick(Duration::from_millis(200));
                    bar
                })
                .collect();
            (multi, bars)
        });
        Self {
            names: streams.iter().map(|s| s.name.clone()).collect(),
            rows: vec![(0, None, None); streams.len()],
            bars,
            last: Instant::now(),
        }
    }

    fn update(&mut self, u: &Update<'_>) {
        match u {
            Update::Row { stream, row } => self.row(*stream, row),
            Update::Opened {
                stream,
                width,
                height,
                info,
            } => {
                let codec = info.map_or("?", |i| i.codec.as_str());
                tracing::info!(
                    "{}: receiving {codec} {width}x{height}",
                    self.names[*stream]
                );
            }
            Update::Ended { stream, error } => match error {
                Some(e) => tracing::warn!("{} ended: {e}", self.names[*stream]),
                None => tracing::info!("{}: ended", self.names[*stream]),
            },
        }
        if self.last.elapsed()
            >= Duration::from_millis(if self.bars.is_some() { 250 } else { 5000 })
        {
            self.last = Instant::now();
            for (i, line) in self.lines().into_iter().enumerate() {
                match &self.bars {
                    Some((_, bars)) => bars[i].set_message(line),
                    None => tracing::info!("{line}"),
                }
            }
        }
    }

    fn row(&mut self, stream: usize, row: &FrameRow) {
        let r = &mut self.rows[stream];
        r.0 += 1;
        r.1 = row.latency_us.or(r.1);
        r.2 = row.relative_latency_us.or(r.2);
    }

    fn lines(&self) -> Vec<String> {
        self.names
            .iter()
            .zip(&self.rows)
            .map(|(n, (count, lat, rel))| {
                let ms = |v: &Option<i64>| {
                    v.map_or("–".to_owned(), |us| format!("{:.0} ms", us as f64 / 1e3))
                };
                format!(
                    "{n}: {count} frames, latency {}, relative {}",
                    ms(lat),
                    ms(rel)
                )
            })
            .collect()
    }

    fn finish(&self) {
        if let Some((_, bars)) = &self.bars {
            bars.iter()
                .for_each(indicatif::ProgressBar::finish_and_clear);
        }
    }
}

fn print_summary(s: &summary::Summary, out: &Path) {
    for st in &s.streams {
        let lat = st.latency_ms.map_or("–".into(), |l| {
            format!("p50 {:.1} ms, p95 {:.1} ms", l.p50, l.p95)
        });
        let rel = st
            .relative_latency_ms
            .map_or(String::new(), |l| format!(", relative p50 {:.1} ms", l.p50));
        let fps = st.fps.map_or("–".into(), |f| format!("{:.2}", f.mean));
        println!(
            "{} ({}): {} frames, {} dropped, {} duplicated, {} unreadable, {} freezes, fps {fps}, latency {lat}{rel}",
            st.name,
            st.role,
            st.frames_received,
            st.dropped,
            st.duplicated,
            st.unreadable,
            st.freezes
        );
        if let Some(v) = st.vmaf {
            let scaled = st
                .scaled_to
                .as_ref()
                .map_or(String::new(), |s| format!(", scaled to {s}"));
            println!(
                "  VMAF mean {:.2}, 1% low {:.2}, min {:.2}; PSNR-Y {}; SSIM {}; {} frames scored{scaled}",
                v.mean,
                v.p1,
                v.min,
                st.psnr_y
                    .map_or("–".into(), |p| format!("{:.2} dB", p.mean)),
                st.ssim.map_or("–".into(), |p| format!("{:.4}", p.mean)),
                v.frames_scored
            );
        }
    }
    println!("wrote {}", out.display());
}
