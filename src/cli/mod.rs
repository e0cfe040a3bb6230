//! Options shared by every subcommand, logging, Ctrl-C, progress, and the value parsers.

pub mod analyze;
pub mod demo;
pub mod deploy;
pub mod generate;
pub mod measurer;
pub mod publish;
pub mod relay;
pub mod report;
pub mod serve;
pub mod status;
pub mod values;
pub mod vmaf;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

/// Exit code when the user interrupted the run (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(clap::Args)]
pub struct Global {
    /// More logging on stderr (-v debug, -vv trace incl. ffmpeg's own log).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// `--ffmpeg`, on the commands that run it.
#[derive(clap::Args, Clone, Debug)]
pub struct FfmpegArg {
    /// ffmpeg binary to use (default: `ffmpeg` on PATH).
    #[arg(long, env = "STREAMSCOPE_FFMPEG", value_name = "PATH")]
    pub ffmpeg: Option<PathBuf>,
}

impl FfmpegArg {
    /// The ffmpeg to run, or the error that tells the user how to install it.
    pub fn locate(&self) -> anyhow::Result<PathBuf> {
        Ok(generator::process::locate(
            "ffmpeg",
            self.ffmpeg.as_deref(),
        )?)
    }
}

pub fn init_logging(g: &Global) {
    let default = match g.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

/// Where the timecode goes in the picture (`generate`, `publish`, `demo`).
#[derive(clap::Args, Clone, Debug)]
pub struct QrArgs {
    /// Corner holding the code: top-left, top-right, bottom-left, bottom-right.
    #[arg(long, default_value = "top-right")]
    pub qr_corner: generator::Corner,
    /// Height of the code (with its quiet zone) as a fraction of the frame height.
    #[arg(long, default_value = "0.333", value_parser = values::fraction)]
    pub qr_size: f64,
    /// Distance of the code from the frame's edges as a fraction of its width and height.
    /// The default keeps it in the title-safe area, so a player or TV that crops the edges
    /// (overscan) still shows it whole; 0 puts it at the edge.
    #[arg(long, default_value = "0.1", value_parser = values::margin)]
    pub qr_margin: f64,
}

impl QrArgs {
    pub fn placement(&self) -> generator::Placement {
        generator::Placement {
            corner: self.qr_corner,
            height_fraction: self.qr_size,
            margin_fraction: self.qr_margin,
            human_line: true,
        }
    }
}

/// Exit code for a usage error (as clap's own), after saying why.
pub const EXIT_USAGE: u8 = 2;

/// Report a usage error found after parsing (a value clap could not judge alone).
pub fn usage(e: &dyn std::fmt::Display) -> std::process::ExitCode {
    eprintln!("error: {e}");
    std::process::ExitCode::from(EXIT_USAGE)
}

/// This run's command line as a shell would read it (recorded in `summary.json`).
pub fn command_line() -> String {
    generator::process::shell_line(
        std::path::Path::new("streamscope"),
        std::env::args_os().skip(1),
    )
}

/// A flag set by Ctrl-C (SIGINT) or SIGTERM; work loops poll it and stop cleanly.
pub fn interrupt_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = Arc::clone(&flag);
    ctrlc::set_handler(move || {
        if f.swap(true, Ordering::SeqCst) {
            // A second Ctrl-C: the user really wants out.
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    })
    .context("installing the Ctrl-C handler")?;
    Ok(flag)
}

/// Progress for a known number of steps: a bar on a terminal, else a log line every 5 s.
pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    last_log: Instant,
    what: &'static str,
}

impl Progress {
    pub fn new(total: u64, what: &'static str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:40}] {pos}/{len} frames ({fps} fps, eta {eta})",
                )
                .expect("valid template")
                .with_key(
                    "fps",
                    |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0}", s.per_sec());
                    },
                )
                .progress_chars("=> "),
            );
            bar.set_message(what);
            bar
        });
        Self {
            bar,
            total,
            last_log: Instant::now(),
            what,
        }
    }

    pub fn set(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        } else if self.last_log.elapsed() >= Duration::from_secs(5) {
            self.last_log = Instant::now();
            tracing::info!("{}: {done}/{} frames", self.what, self.total);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
