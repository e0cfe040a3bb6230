//! The measurement queue and its workers (apalis, beside the transcodes): one queue for
//! measurements any worker may run and one per location label (`measure@eu-west-1`), taken
//! only by workers started with that label. A worker runs the [`Measurer`] on a blocking
//! thread, stops it (keeping what it measured) when the server stops or the measurement is
//! deleted, stores the run folder and tells the webhook the verdict.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use apalis::prelude::*;
use serde::{Deserialize, Serialize};

use super::db::Finish;
use super::{Job, Measurement, Outcome, RUN};
use crate::AppState;
use crate::error::AppError;
use crate::storage::Need;

/// Measure the measurement `id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measure {
    pub id: String,
}

/// Tries of one measurement (a worker killed mid-run counts as one).
const ATTEMPTS: usize = 3;

/// The queue of measurements pinned to `location`, or of those any worker may run.
pub fn queue_name(location: Option<&str>) -> String {
    match location {
        Some(l) => format!("measure@{l}"),
        None => "measure".to_owned(),
    }
}

fn spec(location: Option<&str>) -> crate::queue::Spec {
    crate::queue::Spec::new(queue_name(location))
}

/// Queue measurement `id` (once: a second push of the same id is a no-op).
pub async fn enqueue(
    queue: &crate::queue::Queue,
    id: &str,
    location: Option<&str>,
) -> Result<(), AppError> {
    queue
        .push(
            &spec(location),
            Measure { id: id.to_owned() },
            ATTEMPTS,
            Some(&format!("measure:{id}")),
            &format!("measurement {id}"),
        )
        .await
}

/// What each measurement worker holds.
#[derive(Clone)]
struct Ctx {
    state: AppState,
    measurer: Arc<dyn super::Measurer>,
    /// This worker's name, written on the measurements it runs.
    worker: String,
    stop: tokio::sync::watch::Receiver<bool>,
}

/// Run `n` measurement workers on the shared queue and, with a `location`, `n` more on that
/// location's, until `stop` turns true (each running measurement is stopped and stored).
pub async fn run_workers(
    state: AppState,
    measurer: Arc<dyn super::Measurer>,
    n: usize,
    location: Option<String>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut queues = vec![None];
    if location.is_some() {
        queues.push(location);
    }
    let mut running = Vec::new();
    for pinned in queues {
        for i in 0..n {
            let name = format!(
                "{}-{i}-{}",
                queue_name(pinned.as_deref()),
                uuid::Uuid::new_v4().simple()
            );
            let ctx = Ctx {
                state: state.clone(),
                measurer: measurer.clone(),
                worker: name.clone(),
                stop: stop.clone(),
            };
            let (queue, spec, stop) = (
                state.db.queue().clone(),
                spec(pinned.as_deref()),
                stop.clone(),
            );
            running.push(tokio::spawn(async move {
                crate::run_worker!(
                    queue,
                    spec,
                    Measure,
                    name,
                    ctx,
                    measure,
                    Duration::from_millis(250),
                    stop
                );
            }));
        }
    }
    for r in running {
        let _ = r.await;
    }
}

async fn measure(job: Measure, ctx: Data<Ctx>) -> Result<(), BoxDynError> {
    let (s, id) = (&ctx.state, job.id);
    let Some(m) = s.db.measurement(&id).await? else {
        return Ok(()); // deleted while queued
    };
    if m.finished() || !s.db.start_measurement(&id, &ctx.worker).await? {
        return Ok(()); // never twice
    }
    tracing::info!("measurement {id}: started by {}", ctx.worker);
    let measured = run(&ctx, &id, &m).await;
    if !s.db.runs_measurement(&id, &ctx.worker).await? {
        // Deleted while it ran (or taken over after a lost lease): its files are not ours.
        if s.db.measurement(&id).await?.is_none() {
            s.storage.remove(&id).await?;
        }
        tracing::info!("measurement {id}: no longer this worker's; its results are dropped");
        return Ok(());
    }
    let (outcome, error) = match measured {
        Ok(o) => (Some(o), None),
        Err(e) => (None, Some(e)),
    };
    let summary = outcome
        .as_ref()
        .map(|o| serde_json::to_value(&o.summary))
        .transpose()?;
    let mut why: Vec<String> = error.into_iter().collect();
    let (status, failures) = match &outcome {
        None => ("error", Vec::new()),
        Some(o) => {
            why.extend(o.errors.iter().cloned());
            let status = if o.interrupted {
                why.push("interrupted: the worker was stopped before the duration ended".into());
                "interrupted"
            } else if o.errors.is_empty() {
                "done"
            } else {
                "error"
            };
            (status, o.failures.clone())
        }
    };
    let passed = status == "done" && failures.is_empty();
    let error = (!why.is_empty()).then(|| why.join("; "));
    let finish = Finish {
        status,
        verdict: if passed { "passed" } else { "failed" },
        summary: summary.as_ref(),
        failures: &failures,
        error: error.as_deref(),
    };
    if !s.db.finish_measurement(&id, &ctx.worker, &finish).await? {
        return Ok(());
    }
    tracing::info!("measurement {id}: {status}, {}", finish.verdict);
    let _ =
        s.db.audit(&ctx.worker, "measured", Some(&id), finish.verdict)
            .await;
    notify(s, &id, passed).await?;
    Ok(())
}

/// Measure into the measurement's storage folder and store it; `Err` when nothing could be
/// measured (the sentence says why).
async fn run(ctx: &Ctx, id: &str, m: &Measurement) -> Result<Outcome, String> {
    let s = &ctx.state;
    let duration = m.request.check()?;
    let reference = match &m.request.reference_asset {
        Some(asset) => Some(
            s.storage
                .checkout(asset, Need::Master)
                .await
                .map_err(|e| format!("reading reference asset {asset}: {e}"))?,
        ),
        None => None,
    };
    let work = match s.storage.checkout(id, Need::Nothing).await {
        Ok(w) => w,
        Err(e) => {
            if let Some(r) = reference {
                s.storage.abandon(r).await;
            }
            return Err(format!("preparing the run folder: {e}"));
        }
    };
    let out = work.dir.join(RUN);
    // A run cut short by a dead worker left its rows: this attempt starts afresh.
    let _ = tokio::fs::remove_dir_all(&out).await;
    let reference_file = reference.as_ref().map(|w| w.dir.join("reference.mp4"));
    let job = Job {
        live: m
            .request
            .live
            .iter()
            .map(|l| (l.name.clone(), l.url.clone()))
            .collect(),
        control: m.request.control.clone(),
        vmaf: m.request.scores_quality(),
        live_av: m.request.live_av,
        code_window: m.request.code_window,
        command: super::command_line(&m.request, duration, reference_file.as_deref()),
        reference: reference_file,
        duration,
        fail_if: match &m.request.fail_if {
            Some(f) => report::thresholds::parse(f)?,
            None => Vec::new(),
        },
    };
    let stop = Arc::new(AtomicBool::new(false));
    let measurer = ctx.measurer.clone();
    let (flag, dir) = (stop.clone(), out.clone());
    let mut task = tokio::task::spawn_blocking(move || measurer.measure(&job, &dir, flag));
    let result = loop {
        tokio::select! {
            r = &mut task => break r.unwrap_or_else(|e| Err(format!("the measurement thread died: {e}"))),
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                let stopping = *ctx.stop.borrow();
                let ours = s.db.runs_measurement(id, &ctx.worker).await.unwrap_or(true);
                if stopping || !ours {
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
    };
    if let Some(r) = reference {
        s.storage.abandon(r).await;
    }
    // Deleted, or taken over by another worker after a lost lease: its folder is not ours to
    // write (the caller says so).
    if !s
        .db
        .runs_measurement(id, &ctx.worker)
        .await
        .unwrap_or(false)
    {
        s.storage.abandon(work).await;
        return result;
    }
    let stored = s.storage.commit(id, work).await;
    let outcome = result?;
    stored.map_err(|e| format!("storing the run folder: {e}"))?;
    Ok(outcome)
}

/// `measurement.passed` / `measurement.failed` with the measurement as the API shows it.
async fn notify(s: &AppState, id: &str, passed: bool) -> Result<(), AppError> {
    if s.webhook.is_none() {
        return Ok(());
    }
    let Some(m) = s.db.measurement(id).await? else {
        return Ok(());
    };
    let json = serde_json::to_value(&m).map_err(|e| AppError::Internal(e.to_string()))?;
    let event = if passed {
        "measurement.passed"
    } else {
        "measurement.failed"
    };
    crate::webhook::enqueue(s.db.queue(), event, "measurement", &json).await
}
