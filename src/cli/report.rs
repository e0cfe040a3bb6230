//! `streamscope report DIR` (redraw a run folder's plots and report.html from its files) and
//! `streamscope compare DIR1 DIR2 …` (one report across runs).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use report::Written;

use super::analyze::EXIT_THRESHOLDS;
use super::values;

#[derive(clap::Args)]
pub struct ReportArgs {
    /// A run folder (frames.csv, events.csv, summary.json), e.g. from another machine.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Judge by these checks instead of the run's own --fail-if (exit code 3 when one holds).
    #[arg(long, value_parser = values::checks, value_name = "CHECKS")]
    fail_if: Option<values::Checks>,
}

#[derive(clap::Args)]
pub struct CompareArgs {
    /// Run folders to compare (the same test stream through different providers or days).
    #[arg(value_name = "DIR", required = true, num_args = 2..)]
    dirs: Vec<PathBuf>,
    /// Output folder (default: reports/compare-<UTC time>/).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Judge every stream by these checks (exit code 3 when one holds).
    #[arg(long, value_parser = values::checks, value_name = "CHECKS")]
    fail_if: Option<values::Checks>,
}

pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let written = report::write_run_report(&args.dir, args.fail_if.as_ref().map(|c| &c.0[..]))
        .with_context(|| format!("reporting {}", args.dir.display()))?;
    Ok(finish(&written))
}

pub fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| report::claim::fresh_dir("compare-"));
    let checks = args.fail_if.map(|c| c.0).unwrap_or_default();
    let written = report::write_comparison(&args.dirs, &out, &checks).context("comparing runs")?;
    Ok(finish(&written))
}

fn finish(w: &Written) -> ExitCode {
    for p in &w.problems {
        tracing::warn!("{p}");
    }
    println!("report: {} ({} plots)", w.html.display(), w.plots.len());
    if w.failures.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!("thresholds failed:");
    for f in &w.failures {
        eprintln!("  {f}");
    }
    ExitCode::from(EXIT_THRESHOLDS)
}
