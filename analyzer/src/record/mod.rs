//! Recording a run into its folder: `frames.csv` row by row as the session measures, then
//! (with quality scores filled in) `summary.json`, `summary.csv`, `events.csv`, the plots and
//! `report.html`, judged by `--fail-if` — also after Ctrl-C. The CLI (`analyze`, `demo`), the
//! service and workers all record through here; nothing sits between a row and its file.

pub mod av;
pub mod offline;
pub mod prometheus;
mod rotate;
pub mod summarize;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use metrics::FrameRow;
use metrics::live::LiveMetrics;
use report::thresholds::{self, Check, Failure};
use report::{FrameRecord, FramesWriter, Role, Summary, Written};

use crate::Error;
use crate::quality::FrameScores;
use crate::session::{self, ClockMode, Handles, SessionConfig, SessionResult, Update};
use prometheus::MetricsServer;
pub use summarize::versions;

/// How a run is recorded.
#[derive(Debug, Clone, Default)]
pub struct RecordOptions {
    /// The run folder (created if missing).
    pub out: PathBuf,
    /// The command line recorded in `summary.json`.
    pub command: String,
    /// `--fail-if`: the checks the run is judged by (recorded for `streamscope report`).
    pub fail_if: Vec<Check>,
    /// Serve live Prometheus metrics here while running.
    pub metrics: Option<SocketAddr>,
    /// The publisher's clock sync (`publish --sync-out`), read whenever a summary is written.
    pub publisher_sync: Option<PathBuf>,
}

/// The run's statement on absolute latency: the analyzer's sync as it stands and the
/// publisher's from its file (realtime runs only: a replay's arrivals are not clock reads).
pub(crate) fn clock_sync_summary(
    config: &SessionConfig,
    opts: &RecordOptions,
    analyzer: Option<clocksync::SyncReport>,
) -> Option<report::sync::ClockSync> {
    if config.clock != ClockMode::Realtime {
        return None;
    }
    let publisher = opts.publisher_sync.as_ref().map(|p| {
        std::fs::read(p)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            .unwrap_or_else(|e| clocksync::SyncReport {
                last_error: Some(format!("reading {}: {e}", p.display())),
                ..Default::default()
            })
    });
    Some(report::sync::clock_sync(analyzer, publisher))
}

/// A recorded run.
#[derive(Debug)]
pub struct Recorded {
    pub result: SessionResult,
    pub summary: Summary,
    /// The `--fail-if` checks that held.
    pub failures: Vec<Failure>,
    /// The plots and `report.html`, or why they could not be drawn (the measurements are
    /// written either way).
    pub report: Result<Written, report::Error>,
}

/// One frame's row as `frames.csv` spells it.
pub fn frame_record(stream: &str, row: &FrameRow, scores: Option<FrameScores>) -> FrameRecord {
    FrameRecord {
        stream: stream.to_owned(),
        frame: row.arrival.timecode.map(|t| t.frame),
        capture_us: row.arrival.timecode.map(|t| t.capture_us as i64),
        arrival_us: Some(row.arrival.arrival_us),
        latency_us: row.latency_us,
        relative_latency_us: row.relative_latency_us,
        pts_us: row.arrival.pts_us,
        vmaf: scores.map(|s| s.vmaf),
        psnr_y: scores.map(|s| s.psnr_y),
        ssim: scores.map(|s| s.ssim),
        event: row.kind.event().to_owned(),
    }
}

/// Where rows go: one `frames.csv`, or the periods of a rotated run.
enum Frames {
    Whole(Box<FramesWriter>),
    Rotated(Box<rotate::Rotator>),
}

/// Receives a session's updates and writes the run folder.
pub struct Recorder {
    /// The folder is this run's until the recorder is dropped.
    _claim: report::claim::Claim,
    out: PathBuf,
    names: Vec<String>,
    frames: Frames,
    /// The run's clock at the last tick.
    now_us: i64,
    /// The first failed write: measuring stops, the rows before it are kept.
    write_error: Option<Error>,
    metrics: Option<(MetricsServer, Arc<Mutex<LiveMetrics>>)>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    clock_sync: Option<Arc<clocksync::ClockSync>>,
}

impl Recorder {
    /// Create the folder and `frames.csv`, and start serving live metrics if asked.
    pub fn create(
        config: &SessionConfig,
        opts: &RecordOptions,
        handles: &Handles,
    ) -> Result<Self, Error> {
        let claim = report::claim::claim(&opts.out)?;
        let metrics = opts
            .metrics
            .map(|addr| serve_metrics(addr, config, handles))
            .transpose()?;
        Ok(Recorder {
            _claim: claim,
            out: opts.out.clone(),
            names: config.streams.iter().map(|s| s.name.clone()).collect(),
            frames: match config.rotate {
                Some(every) => Frames::Rotated(Box::new(rotate::Rotator::new(config, opts, every))),
                None => Frames::Whole(Box::new(FramesWriter::create(
                    &opts.out.join("frames.csv"),
                )?)),
            },
            now_us: 0,
            write_error: None,
            metrics,
            stop: handles.stop.clone(),
            clock_sync: None,
        })
    }

    /// Take one update: a row goes to `frames.csv` (and the live metrics) at once; a rotated
    /// run writes each period as it closes.
    pub fn observe(&mut self, update: &Update<'_>) {
        let written = match (update, &mut self.frames) {
            (Update::Row { stream, row }, Frames::Whole(w)) => w
                .write(&frame_record(&self.names[*stream], row, None))
                .map_err(Error::from),
            (Update::Row { stream, row }, Frames::Rotated(r)) => r.row(*stream, row),
            (Update::Tick { now_us }, Frames::Rotated(r)) => {
                self.now_us = *now_us;
                if self.write_error.is_some() {
                    Ok(())
                } else {
                    r.tick(*now_us)
                }
            }
            (
                Update::Started {
                    started_us,
                    scores,
                    vmaf,
                    clock_sync,
                },
                frames,
            ) => {
                self.clock_sync = clock_sync.cloned();
                if let Frames::Rotated(r) = frames {
                    r.started(*started_us, *scores, *vmaf, *clock_sync);
                }
                Ok(())
            }
            (Update::Opened { stream, info, .. }, Frames::Rotated(r)) => {
                r.opened(*stream, *info);
                Ok(())
            }
            (Update::Received { stream, received }, Frames::Rotated(r)) => {
                r.received(*stream, received);
                Ok(())
            }
            (Update::Ended { stream, error }, Frames::Rotated(r)) => {
                r.ended(*stream, *error, self.now_us);
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = written
            && self.write_error.is_none()
        {
            // Disk full or gone: stop measuring, keep what is written.
            self.write_error = Some(e);
            self.stop.store(true, Ordering::SeqCst);
        }
        let Update::Row { stream, row } = update else {
            return;
        };
        if let Some((_, metrics)) = &self.metrics
            && let Ok(mut m) = metrics.lock()
        {
            m.observe(*stream, row);
        }
    }

    /// Write everything that needs the whole run: scores into `frames.csv`, the summaries,
    /// the events, the plots and `report.html`.
    pub fn finish(
        mut self,
        result: SessionResult,
        config: &SessionConfig,
        opts: &RecordOptions,
    ) -> Result<Recorded, Error> {
        self.metrics = None;
        let mut writer = match self.frames {
            Frames::Whole(w) => w,
            Frames::Rotated(r) => {
                let (closed, failures) = r.finish(&result)?;
                if let Some(e) = self.write_error.take() {
                    return Err(e);
                }
                return Ok(Recorded {
                    result,
                    summary: closed.summary,
                    failures,
                    report: closed.report,
                });
            }
        };
        // The first failure is the one reported (a full disk fails frames.csv first); the
        // rest is still attempted, each file written whole or not at all.
        let mut first_error: Option<Error> = self.write_error.take();
        let mut note = |r: Result<(), Error>| {
            if let Err(e) = r {
                first_error.get_or_insert(e);
            }
        };
        note(writer.flush().map_err(Error::from));
        if result.vmaf.as_ref().is_some_and(|v| v.size.is_some()) {
            note(rewrite_with_scores(&self.out.join("frames.csv"), &result));
        }
        let (mut summary, events) = summarize::summarize(
            &result,
            &[],
            &opts.command,
            config.clock,
            versions(&config.ffmpeg),
        );
        summary.clock_sync = clock_sync_summary(config, opts, result.clock_sync.clone());
        let av_rows = av::apply(&av::measure(config, &result), &mut summary.streams);
        note(report::av::write(&self.out.join("av.csv"), &av_rows).map_err(Error::from));
        summary.fail_if = (!opts.fail_if.is_empty()).then(|| {
            let texts: Vec<_> = opts.fail_if.iter().map(|c| c.text.as_str()).collect();
            texts.join(",")
        });
        note(
            summary
                .write_json(&self.out.join("summary.json"))
                .map_err(Error::from),
        );
        note(
            summary
                .write_csv(&self.out.join("summary.csv"))
                .map_err(Error::from),
        );
        note(report::events::write(&self.out.join("events.csv"), &events).map_err(Error::from));
        note(
            report::bitrate::write(
                &self.out.join("bitrate.csv"),
                &summarize::bitrate_rows(&result, config.clock),
            )
            .map_err(Error::from),
        );
        // Drawn from the files just written, as `streamscope report` would.
        let report = report::write_run_report(&self.out, Some(&opts.fail_if));
        if let Some(e) = first_error {
            return Err(e);
        }
        let failures = thresholds::evaluate(&opts.fail_if, &summary);
        Ok(Recorded {
            result,
            summary,
            failures,
            report,
        })
    }
}

/// Run a session and record it into `opts.out`; `observe` sees every update too (progress).
pub fn record(
    config: &SessionConfig,
    opts: &RecordOptions,
    handles: &Handles,
    observe: &mut dyn FnMut(&Update<'_>),
) -> Result<Recorded, Error> {
    let mut recorder = Recorder::create(config, opts, handles)?;
    let result = session::run(config, handles, &mut |u| {
        recorder.observe(&u);
        observe(&u);
    });
    recorder.finish(result, config, opts)
}

/// Rewrite `frames.csv` with the quality columns filled (per-frame scores exist only after
/// libvmaf's final flush). Rows in arrival order; written beside the file and renamed over
/// it, so a failed rewrite leaves the streamed file as it was.
fn rewrite_with_scores(path: &Path, result: &SessionResult) -> Result<(), Error> {
    let mut rows: Vec<FrameRecord> = result
        .streams
        .iter()
        .flat_map(|s| {
            s.rows.iter().map(move |r| {
                let scores = s
                    .quality
                    .as_ref()
                    .and_then(|q| q.scores.get(&r.arrival.seq).copied());
                frame_record(&s.spec.name, r, scores)
            })
        })
        .collect();
    rows.sort_by_key(|r| r.arrival_us);
    Ok(report::frames::write_all(path, &rows)?)
}

/// Live metrics of `config`'s streams, served on `addr` (the scorers' newest VMAF copied in
/// at each scrape) until the server is dropped.
fn serve_metrics(
    addr: SocketAddr,
    config: &SessionConfig,
    handles: &Handles,
) -> Result<(MetricsServer, Arc<Mutex<LiveMetrics>>), Error> {
    let metrics = Arc::new(Mutex::new(LiveMetrics::new(config.streams.iter().map(
        |s| {
            (
                s.name.as_str(),
                s.role == Role::Control,
                s.input.transport(),
            )
        },
    ))));
    let served = metrics.clone();
    let latest = handles.latest.clone();
    let streams = config.streams.len();
    let server = MetricsServer::start(addr, move || {
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
