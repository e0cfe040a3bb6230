//! `streamscope vmaf`: offline VMAF/PSNR/SSIM of a distorted file or URL against its reference,
//! frames paired by their embedded frame number.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use analyzer::ingest::Input;
use analyzer::quality::offline::{OfflineConfig, Pairing};
use analyzer::record;
use anyhow::Context;

use super::values;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    ffmpeg: super::FfmpegArg,
    /// The reference (the untouched control or source file).
    #[arg(long, value_name = "FILE|URL")]
    reference: String,
    /// The distorted stream (what the provider delivered).
    #[arg(long, value_name = "FILE|URL")]
    distorted: String,
    /// Output folder (default: reports/vmaf-<UTC time>/).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// CENC content key (32 hex digits) of --distorted, for an encrypted MP4 (ffmpeg's
    /// -decryption_key). Never logged or written to the run folder.
    #[arg(long, value_name = "KEY", value_parser = clap::value_parser!(analyzer::ingest::ContentKey))]
    decryption_key: Option<analyzer::ingest::ContentKey>,
    #[command(flatten)]
    vmaf: VmafOptions,
}

/// libvmaf settings shared by `vmaf` and `analyze --vmaf`.
#[derive(clap::Args, Clone)]
pub struct VmafOptions {
    /// Built-in VMAF model.
    #[arg(long, default_value = "vmaf_v0.6.1", value_parser = analyzer::quality::MODELS)]
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

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let threads = args.vmaf.threads();
    let config = OfflineConfig {
        ffmpeg: args.ffmpeg.locate()?,
        reference: Input::parse(&args.reference)?,
        distorted: Input::parse(&args.distorted)?.with_decryption_key(args.decryption_key),
        model: args.vmaf.vmaf_model.clone(),
        threads,
        subsample: args.vmaf.vmaf_subsample,
        window: args.vmaf.vmaf_window,
        open_timeout: Duration::from_secs(15),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| report::claim::fresh_dir("vmaf-"));
    let recorded =
        record::offline::record(&config, &out, &super::command_line()).context("scoring")?;
    let (result, summary) = (&recorded.result, &recorded.summary);
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
    let s = &summary.streams[0];
    let vmaf = s.vmaf.map_or("–".into(), |v| {
        format!(
            "mean {:.2}, harmonic {:.2}, min {:.2}, 1% low {:.2}",
            v.mean, v.harmonic_mean, v.min, v.p1
        )
    });
    println!(
        "VMAF ({}, paired by {}): {vmaf}; PSNR-Y mean {}; SSIM mean {}; {} of {} frames scored",
        summary.vmaf_model.as_deref().unwrap_or("–"),
        summary.pairing.as_deref().unwrap_or("–").replace('_', " "),
        s.psnr_y.map_or("–".into(), |p| format!("{:.2} dB", p.mean)),
        s.ssim.map_or("–".into(), |p| format!("{:.4}", p.mean)),
        s.frames_scored.unwrap_or(0),
        s.frames_received
    );
    println!("wrote {}", out.display());
    let report = recorded
        .report
        .context("drawing the report (the scores are written)")?;
    println!("report: {}", report.html.display());
    Ok(ExitCode::SUCCESS)
}
