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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_logging(&cli.global);
    let result = match cli.command {
        Command::Generate(args) => cli::generate::run(&cli.global, args),
        Command::Analyze(args) => cli::analyze::run(&cli.global, args),
        Command::Vmaf(args) => cli::vmaf::run(&cli.global, args),
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
