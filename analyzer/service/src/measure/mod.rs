//! Measurement jobs: `POST /api/v1/measurements` queues the analyzer on live URLs
//! (`request.rs` checks them), a worker runs it (`job.rs`) through the [`Measurer`] the binary
//! provides (the analyzer's run recorder: this crate stays free of OpenCV and libvmaf) and
//! stores the whole run folder beside the assets; the API (`routes.rs`) shows status, summary
//! and the report; comparisons of several runs (`compare.rs`); rows in `db.rs`.

pub mod compare;
mod db;
pub mod job;
pub mod request;
pub mod routes;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde::Serialize;

pub use request::{Live, Request};

/// A measurement as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Measurement {
    pub id: String,
    /// `queued`, `running`, `done` (measured; see `verdict`), `error` (could not measure
    /// every stream), `interrupted` (the worker was stopped: what was measured is stored).
    pub status: String,
    /// `passed` or `failed` (a `fail_if` check held, or a stream could not be measured), once
    /// finished.
    pub verdict: Option<String>,
    pub location: Option<String>,
    pub request: Request,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The worker that ran (or runs) it.
    pub worker: Option<String>,
    /// The run's `summary.json`.
    pub summary: Option<serde_json::Value>,
    /// The `fail_if` checks that held.
    pub failures: Vec<String>,
    pub error: Option<String>,
    /// `report.html` and the run folder, once stored.
    pub report: Option<String>,
}

impl Measurement {
    /// Whether it ended (nothing will change it again).
    pub fn finished(&self) -> bool {
        matches!(self.status.as_str(), "done" | "error" | "interrupted")
    }
}

/// The run folder inside a measurement's storage folder (`/files/{id}/run/…`).
pub const RUN: &str = "run";

/// What a worker is asked to measure, resolved: durations parsed, the reference file local.
#[derive(Debug, Clone)]
pub struct Job {
    /// `(name, url)` per live stream.
    pub live: Vec<(String, String)>,
    pub control: Option<String>,
    /// The VMAF reference file, when not the control.
    pub reference: Option<PathBuf>,
    pub vmaf: bool,
    /// `analyze --live-av`.
    pub live_av: bool,
    /// `analyze --code-window CORNER`.
    pub code_window: Option<generator::Corner>,
    pub duration: Duration,
    pub fail_if: Vec<report::thresholds::Check>,
    /// The equivalent `streamscope analyze …` line, recorded in `summary.json`.
    pub command: String,
}

/// What a measurement found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub summary: report::Summary,
    /// `fail_if` checks that held.
    pub failures: Vec<String>,
    /// Streams that could not be measured (or scored), one sentence each.
    pub errors: Vec<String>,
    /// Stopped before its duration.
    pub interrupted: bool,
}

/// Runs the analyzer: provided by the binary (`streamscope serve`, `streamscope worker`).
pub trait Measurer: Send + Sync + 'static {
    /// Measure `job` into the run folder `out` (blocking, for up to the job's duration and a
    /// little more); return early when `stop` turns true, with what was measured so far. `Err`
    /// when not even a summary could be written.
    fn measure(&self, job: &Job, out: &Path, stop: Arc<AtomicBool>) -> Result<Outcome, String>;
}

/// The analyzer as `serve` holds it (printable, so `Config` stays `Debug`).
#[derive(Clone)]
pub struct Handle(pub Arc<dyn Measurer>);

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Measurer")
    }
}

/// The `streamscope analyze` command line that measures what `r` asks (recorded in the run's
/// `summary.json`, so the run can be repeated by hand).
pub fn command_line(r: &Request, duration: Duration, reference: Option<&Path>) -> String {
    let mut args: Vec<String> = vec!["analyze".into()];
    for l in &r.live {
        args.extend(["--live".into(), format!("{}={}", l.name, l.url)]);
    }
    if let Some(c) = &r.control {
        args.extend(["--control".into(), c.clone()]);
    }
    if let Some(f) = reference {
        args.extend(["--reference".into(), f.display().to_string()]);
    } else if r.vmaf {
        args.push("--vmaf".into());
    }
    if r.live_av {
        args.push("--live-av".into());
    }
    if let Some(c) = r.code_window {
        args.extend(["--code-window".into(), c.to_string()]);
    }
    args.extend([
        "--duration".into(),
        humantime::format_duration(duration).to_string(),
    ]);
    if let Some(f) = &r.fail_if {
        args.extend(["--fail-if".into(), f.clone()]);
    }
    generator::process::shell_line(Path::new("streamscope"), args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_command_repeats_the_request() {
        let r: Request = serde_json::from_str(
            r#"{"live":[{"name":"a","url":"http://h/x.m3u8?t=1&u=2"}],"control":"udp://h:1",
                "duration":"90s","vmaf":true,"fail_if":"dropped>0"}"#,
        )
        .unwrap();
        assert_eq!(
            command_line(&r, Duration::from_secs(90), None),
            "streamscope analyze --live 'a=http://h/x.m3u8?t=1&u=2' --control udp://h:1 \
             --vmaf --duration '1m 30s' --fail-if 'dropped>0'"
        );
        let av: Request = serde_json::from_str(
            r#"{"live":[{"name":"a","url":"rtmp://h/live/a"}],"duration":5,"live_av":true,
                "code_window":"bottom-left"}"#,
        )
        .unwrap();
        assert_eq!(av.check(), Ok(Duration::from_secs(5)));
        assert_eq!(
            command_line(&av, Duration::from_secs(5), None),
            "streamscope analyze --live a=rtmp://h/live/a --live-av --code-window bottom-left \
             --duration 5s"
        );
        let mut scored = av.clone();
        scored.control = Some("udp://h:1".into());
        scored.vmaf = true;
        assert!(scored.check().unwrap_err().starts_with("code_window:"));
        scored.code_window = None;
        assert!(scored.check().is_ok());
        // Stored requests from before the field read as without it, and it is not written
        // when off.
        assert!(!r.live_av && r.code_window.is_none());
        let text = serde_json::to_string(&r).unwrap();
        assert!(
            !text.contains("live_av") && !text.contains("code_window"),
            "{text}"
        );
    }
}
