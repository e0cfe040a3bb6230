//! The `streamscope` command: parses the subcommand and dispatches; each lives in `cli/`.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Measure how late, how smooth and how good a live video stream is.
#[derive(Parser)]
#[command(name = "streamscope", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: cli::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render a browser-playable video whose every frame carries a QR timecode.
    Generate(cli::generate::Args),
    /// Measure latency, frame loss and smoothness of streams carrying streamscope timecodes.
    Analyze(cli::analyze::Args),
    /// Score a distorted stream against its reference (VMAF, PSNR-Y, SSIM), frames paired by
    /// their embedded frame number.
    Vmaf(cli::vmaf::Args),
    /// Forward a stream between local addresses with delay, jitter, loss and outages (a
    /// provider simulator).
    Relay(cli::relay::Args),
    /// Render timecoded video in real time and publish it (RTMP/SRT/UDP/RTSP/HLS) with an
    /// untouched control stream.
    Publish(cli::publish::Args),
    /// The whole job on one machine: publish with a control, a simulated provider (delay +
    /// transcode), and latency/smoothness/VMAF measured against the control.
    Demo(cli::demo::Args),
    /// Redraw the plots and report.html of a run folder from its files (e.g. after editing
    /// thresholds, or for a run from another machine).
    Report(cli::report::ReportArgs),
    /// One report across several run folders, streams side by side.
    Compare(cli::report::CompareArgs),
    /// The reference service: upload your own content over HTTP (API + storage + database).
    Serve(cli::serve::Args),
    /// Run the service's jobs (transcodes, measurements) from the shared database, without
    /// HTTP: more machines, or measurements from another region (--location).
    Worker(cli::serve::WorkerArgs),
    /// Copy a folder (clip + HLS, an asset's outputs, a run folder) to S3, every object with
    /// its Content-Type and Cache-Control.
    Deploy(cli::deploy::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_logging(&cli.global);
    let result = match cli.command {
        Command::Generate(args) => cli::generate::run(args),
        Command::Analyze(args) => cli::analyze::run(args),
        Command::Vmaf(args) => cli::vmaf::run(args),
        Command::Relay(args) => cli::relay::run(args),
        Command::Publish(args) => cli::publish::run(args),
        Command::Demo(args) => cli::demo::run(args),
        Command::Report(args) => cli::report::report(args),
        Command::Compare(args) => cli::report::compare(args),
        Command::Serve(args) => cli::serve::run(args),
        Command::Worker(args) => cli::serve::worker(args),
        Command::Deploy(args) => cli::deploy::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
