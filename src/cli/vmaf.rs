//! `streamscope vmaf`: offline VMAF/PSNR/SSIM of a distorted file or URL against its reference,
//! frames paired by their embedded frame number.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use analyzer::ingest::WallClock;
use analyzer::report::quality;
use analyzer::vmaf::offline::{self, OfflineConfig, Pairing};
use anyhow::Context;
use chrono::Utc;

use super::{Global, values};

#[derive(clap::Args)]
pub struct Args {
    /// The reference (the untouched control or source file).
    #[arg(long, value_name = "FILE|URL")]
    reference: String,
    /// The distorted stream (what the provider delivered).
    #[arg(long, value_name = "FILE|URL")]
    distorted: String,
    /// Output folder (default: reports/vmaf-<UTC time>/).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    vmaf: VmafOptions,
}

/// libvmaf settings shared by `vmaf` and `analyze --vmaf`.
#[derive(clap::Args, Clone)]
pub struct VmafOptions {
    /// Built-in VMAF model.
    #[arg(long, default_value = "vmaf_v0.6.1", value_parser = analyzer::vmaf::MODELS)]
    pub vmaf_model: String,
    /// libvmaf threads (default: all cores).
    #[arg(long)]
    pub vmaf_threads: Option<u32>,
    /// Score every Nth frame (libvmaf's n_subsample).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub vmaf_subsample: u32,
    /// Reference video kept for pairing; bounds memory.
    #[arg(long, default_value = "10s", value_parser = values::duration)]
    pub vmaf_window: Duration,
}

impl VmafOptions {
    pub fn threads(&self) -> u32 {
        self.vmaf_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32))
    }
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let threads = args.vmaf.threads();
    let config = OfflineConfig {
        ffmpeg: global.ffmpeg()?,
        reference: args.reference.clone(),
        distorted: args.distorted.clone(),
        model: args.vmaf.vmaf_model.clone(),
        threads,
        subsample: args.vmaf.vmaf_subsample,
        window: args.vmaf.vmaf_window,
        open_timeout: Duration::from_secs(15),
    };
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(format!("vmaf-{}", Utc::now().format("%Y-%m-%dT%H-%M-%SZ")))
    });
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create --out folder {}", out.display()))?;
    let clock = WallClock::start();
    let result = offline::score(&config).context("scoring")?;
    if result.pairing == Pairing::Index {
        tracing::warn!(
            "no timecodes in the inputs: frames are paired by position (a dropped frame shifts every pair after it)"
        );
    }
    if let Some((w, h)) = result.scaled_to {
        tracing::info!(
            "distorted frames were scaled (bicubic) to the reference size {w}x{h} before scoring"
        );
    }
    let command =
        generator::process::shell_line(Path::new("streamscope"), std::env::args_os().skip(1));
    let summary = quality::summarize(
        &result,
        &args.distorted,
        &command,
        clock.start_us(),
        clock.now_us(),
        analyzer::report::summary::Versions::of(&config.ffmpeg),
    );
    quality::write(&out, &result, &summary)?;
    let report = analyzer::report::write_run_report(&out, Some(&[]));
    let s = &summary.streams[0];
    let vmaf = s.vmaf.map_or("–".into(), |v| {
        format!(
            "mean {:.2}, harmonic {:.2}, min {:.2}, 1% low {:.2}",
            v.mean, v.harmonic_mean, v.min, v.p1
        )
    });
    println!(
        "VMAF ({}, paired by {}): {vmaf}; PSNR-Y mean {}; SSIM mean {}; {} of {} frames scored",
        summary.vmaf_model,
        summary.pairing.replace('_', " "),
        s.psnr_y.map_or("–".into(), |p| format!("{:.2} dB", p.mean)),
        s.ssim.map_or("–".into(), |p| format!("{:.4}", p.mean)),
        s.frames_scored,
        s.frames_received
    );
    println!("wrote {}", out.display());
    let report = report.context("drawing the report (the scores are written)")?;
    println!("report: {}", report.html.display());
    Ok(ExitCode::SUCCESS)
}
