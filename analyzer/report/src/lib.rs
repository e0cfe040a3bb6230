//! streamscope's run folder: `frames.csv`, `events.csv`, `summary.json` and `summary.csv` as
//! typed records (written while a run is recorded, read back by `report` and `compare`), the
//! `--fail-if` thresholds, and the plots and `report.html` drawn from those files — so a
//! report made at the end of a run and one made later from a copied folder are the same.
//! Formatting only: every number comes from the `metrics` crate. No ffmpeg, libvmaf or OpenCV.

pub mod av;
pub mod bitrate;
pub mod claim;
pub mod events;
pub mod frames;
pub mod html;
pub mod plausible;
pub mod plot;
pub mod recompute;
pub mod rollup;
pub mod run;
pub mod summary;
pub mod sync;
pub mod thresholds;

use std::path::{Path, PathBuf};

pub use events::Event;
pub use frames::{FrameRecord, FramesWriter};
pub use run::Run;
pub use summary::{Role, StreamSummary, Summary};

use plot::PlotOptions;
use thresholds::{Check, Failure};

/// Everything that can go wrong reading or writing a run folder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A run folder could not be read back (`report`, `compare`).
    #[error("{path}: {reason}")]
    RunFolder { path: String, reason: String },
    /// A plot could not be drawn.
    #[error("drawing {plot}: {reason}")]
    Plot { plot: String, reason: String },
    /// Another run is writing the folder.
    #[error("{dir} is being written by another streamscope run: choose another --out")]
    Busy { dir: String },
    /// The folder holds a run already.
    #[error("{dir} already holds a run ({files}): choose another --out, or remove them")]
    HoldsRun { dir: String, files: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// The error of a failed write to `path`.
pub fn writing(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        what: format!("writing {}", path.display()),
        source,
    }
}

/// Write a whole file, the error naming it: written beside it and renamed over it, so a
/// failed write (a full disk) leaves the previous file whole, never an empty or cut one.
pub fn write_file(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), Error> {
    let tmp = temp_path(path);
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(writing(path))
}

/// Where `write_file` writes before renaming: `.NAME.tmp` beside it.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp"))
}

/// Write a file made by `fill` (a CSV writer, say) the way `write_file` does.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut Vec<u8>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut bytes = Vec::new();
    fill(&mut bytes)?;
    write_file(path, bytes)
}

/// Where a run goes when no folder is given: `reports/<prefix><UTC time>` (prefix e.g. `demo-`).
pub fn default_out_dir(prefix: &str) -> PathBuf {
    PathBuf::from("reports").join(format!(
        "{prefix}{}",
        chrono::Utc::now().format("%Y-%m-%dT%H-%M-%SZ")
    ))
}

/// What a report wrote.
#[derive(Debug)]
pub struct Written {
    pub html: PathBuf,
    /// File stems of the plots (`latency` → `latency.svg`, `latency.png`).
    pub plots: Vec<&'static str>,
    /// Threshold checks that failed.
    pub failures: Vec<Failure>,
    /// Values of the folder left out as implausible (file, row, column, value).
    pub problems: Vec<String>,
}

/// The checks a run was judged by: `--fail-if` as recorded in its `summary.json`.
pub fn recorded_checks(run: &Run) -> Result<Vec<Check>, Error> {
    match &run.summary.fail_if {
        None => Ok(Vec::new()),
        Some(spec) => thresholds::parse(spec).map_err(|reason| Error::RunFolder {
            path: run.dir.join("summary.json").display().to_string(),
            reason,
        }),
    }
}

/// Draw the plots and `report.html` of `run` into `out`, judged by `checks`.
pub fn write_report(run: &Run, out: &Path, checks: &[Check]) -> Result<Written, Error> {
    let plots = plot::render(run, PlotOptions::default())?;
    plot::write(out, &plots)?;
    let failures = thresholds::evaluate(checks, &run.summary);
    let page = html::page(
        run,
        &plots,
        &html::Verdicts {
            checks,
            failures: &failures,
        },
    );
    let path = out.join("report.html");
    write_file(&path, page)?;
    Ok(Written {
        html: path,
        plots: plots.iter().map(|p| p.name).collect(),
        failures,
        problems: run.problems.lines(),
    })
}

/// Read the run folder `dir` back and write its plots and `report.html` into it, judged by
/// `checks` or, when `None`, by the `--fail-if` the run recorded.
pub fn write_run_report(dir: &Path, checks: Option<&[Check]>) -> Result<Written, Error> {
    let run = Run::load(dir)?;
    let recorded;
    let checks = match checks {
        Some(c) => c,
        None => {
            recorded = recorded_checks(&run)?;
            &recorded
        }
    };
    write_report(&run, dir, checks)
}

/// One report across several run folders (`streamscope compare`), written into `out` with the
/// merged summaries as `comparison.json`.
pub fn write_comparison(dirs: &[PathBuf], out: &Path, checks: &[Check]) -> Result<Written, Error> {
    let mut runs = dirs
        .iter()
        .map(|d| Run::load(d))
        .collect::<Result<Vec<_>, _>>()?;
    // Two folders with the same name (e.g. `a/run`, `b/run`) get numbered labels.
    for i in 1..runs.len() {
        if runs[..i].iter().any(|r| r.label == runs[i].label) {
            runs[i].label = format!("{}#{}", runs[i].label, i + 1);
        }
    }
    let merged = Run::merge(&runs);
    std::fs::create_dir_all(out).map_err(writing(out))?;
    let path = out.join("comparison.json");
    let text =
        serde_json::to_string_pretty(&merged.comparison()).map_err(|e| writing(&path)(e.into()))?;
    write_file(&path, text + "\n")?;
    write_report(&merged, out, checks)
}
