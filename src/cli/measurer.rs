//! The analyzer as the service's measurement jobs run it: a job's request becomes the same
//! `SessionConfig` and `RecordOptions` as `streamscope analyze` (realtime clock, wechat on,
//! default VMAF settings) and `analyzer::record` writes the run folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use analyzer::ingest::Input;
use analyzer::quality::live::{LiveVmafConfig, ReferenceSource};
use analyzer::record::{self, RecordOptions};
use analyzer::session::{ClockMode, Handles, SessionConfig, StreamSpec};
use service::measure::{Job, Measurer, Outcome};

/// Measures with the ffmpeg at `ffmpeg`.
pub struct Analyzer {
    pub ffmpeg: PathBuf,
}

impl Analyzer {
    fn config(&self, job: &Job) -> Result<SessionConfig, String> {
        let live: Vec<String> = job.live.iter().map(|(n, u)| format!("{n}={u}")).collect();
        let streams =
            StreamSpec::parse_all(&live, job.control.as_deref()).map_err(|e| e.to_string())?;
        let vmaf = if job.vmaf {
            let reference = match (&job.reference, &job.control) {
                (Some(file), _) => ReferenceSource::File(
                    Input::parse(&file.to_string_lossy()).map_err(|e| e.to_string())?,
                ),
                (None, Some(_)) => ReferenceSource::Control,
                (None, None) => return Err("vmaf needs a control or a reference asset".into()),
            };
            Some(LiveVmafConfig {
                model: "vmaf_v0.6.1".into(),
                threads: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
                subsample: 1,
                window: Duration::from_secs(10),
                reference,
                exhaustive: false,
            })
        } else {
            None
        };
        Ok(SessionConfig {
            ffmpeg: self.ffmpeg.clone(),
            streams,
            clock: ClockMode::Realtime,
            clock_offset_us: 0,
            ntp: Vec::new(),
            ntp_interval: Duration::from_secs(300),
            duration: Some(job.duration),
            max_frames: None,
            open_timeout: Duration::from_secs(15),
            timecode_timeout: Duration::from_secs(10),
            wechat: true,
            vmaf,
            hls_live_edge: None,
            rotate: None,
            live_av: job.live_av,
            code_window: job.code_window,
        })
    }
}

impl Measurer for Analyzer {
    fn measure(&self, job: &Job, out: &Path, stop: Arc<AtomicBool>) -> Result<Outcome, String> {
        let config = self.config(job)?;
        let opts = RecordOptions {
            out: out.to_owned(),
            command: job.command.clone(),
            fail_if: job.fail_if.clone(),
            metrics: None,
            publisher_sync: None,
        };
        let handles = Handles { stop, latest: None };
        let recorded = record::record(&config, &opts, &handles, &mut |_| {})
            .map_err(|e| format!("recording the run: {e}"))?;
        let summary = recorded.summary;
        let errors = summary
            .errors()
            .into_iter()
            .chain(
                recorded
                    .report
                    .err()
                    .map(|e| format!("drawing the report: {e}")),
            )
            .collect();
        Ok(Outcome {
            failures: recorded.failures.iter().map(ToString::to_string).collect(),
            errors,
            interrupted: recorded.result.interrupted,
            summary,
        })
    }
}
