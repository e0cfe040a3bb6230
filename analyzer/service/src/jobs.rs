//! The persistent job queue (apalis on the same SQLite database): a transcode job per
//! upload, run by `--workers N` in-process workers. A server killed mid-job leaves the job
//! locked by a worker that stops beating; the next server's workers take it up again. A job
//! that keeps failing ends with the asset `failed`, ffmpeg's command and stderr tail in its
//! `error`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use apalis::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::AppError;
use crate::queue::{Queue, Spec};

/// Turn an uploaded asset into its reference ladder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transcode {
    pub asset: String,
    /// Only add this rendition to the ready asset (`POST …/renditions`) instead of making it
    /// all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendition: Option<crate::ladder::Format>,
}

/// Attempts before an asset is `failed`.
pub const ATTEMPTS: usize = 2;

/// How often an idle worker looks for a new job (SQLite; PostgreSQL is told at once).
const POLL: Duration = Duration::from_millis(100);

/// The transcode queue: workers beat every 2 s, a worker silent for 3 beats has died and its
/// job is taken by another.
fn spec() -> Spec {
    Spec::new("transcode")
}

/// Queue the transcode of `asset`.
pub async fn enqueue(queue: &Queue, asset: &str) -> Result<(), AppError> {
    let job = Transcode {
        asset: asset.to_owned(),
        rendition: None,
    };
    queue
        .push(
            &spec(),
            job,
            ATTEMPTS,
            Some(&format!("transcode:{asset}")),
            &format!("the transcode of {asset}"),
        )
        .await
}

/// On start: queue the transcode of every asset still `uploaded` — a no-op for those whose job
/// is queued (the key), the job for one whose server stopped between storing its row and
/// queueing its job.
pub async fn requeue_uploaded(state: &AppState) -> Result<(), AppError> {
    for asset in state.db.assets().await? {
        if asset.status == "uploaded" {
            enqueue(state.db.queue(), &asset.id).await?;
        }
    }
    Ok(())
}

/// Queue making `format` for the ready `asset`.
pub async fn enqueue_rendition(
    queue: &Queue,
    asset: &str,
    format: crate::ladder::Format,
) -> Result<(), AppError> {
    let what = format!("rendition {} of {asset}", format.name);
    let job = Transcode {
        asset: asset.to_owned(),
        rendition: Some(format),
    };
    queue.push(&spec(), job, ATTEMPTS, None, &what).await
}

/// Run `n` workers (one job each at a time) until `stop` turns true.
pub async fn run_workers(state: AppState, n: usize, stop: tokio::sync::watch::Receiver<bool>) {
    let mut running = Vec::new();
    for i in 0..n {
        // A unique name: a restarted server must not pose as its dead predecessor, whose
        // jobs it takes over once that one's heartbeat is stale.
        let name = format!("serve-{}-{i}-{}", std::process::id(), uuid::Uuid::new_v4());
        // Polled every 100 ms (one indexed query): apalis-sqlite alone looks for new jobs
        // only on its heartbeat, which left an upload waiting 1.6-1.9 s for its transcode.
        let (state, stop) = (state.clone(), stop.clone());
        running.push(tokio::spawn(async move {
            let queue = state.db.queue().clone();
            crate::run_worker!(queue, spec(), Transcode, name, state, transcode, POLL, stop);
        }));
    }
    for r in running {
        let _ = r.await;
    }
}

/// The job: build the asset's outputs, with progress in the database every half second.
async fn transcode(
    job: Transcode,
    state: Data<AppState>,
    attempt: Attempt,
) -> Result<(), BoxDynError> {
    let id = job.asset;
    let Some(asset) = state.db.asset(&id).await? else {
        // Deleted while queued: nothing to do.
        return Ok(());
    };
    state.db.set_status(&id, "processing", 0.0, None).await?;
    let created_us = chrono::DateTime::parse_from_rfc3339(&asset.created_at)
        .map(|t| u64::try_from(t.timestamp()).unwrap_or(0) * 1_000_000)
        .unwrap_or(0);
    let progress = Arc::new(AtomicU64::new(0f64.to_bits()));
    let cancel = Arc::new(AtomicBool::new(false));
    let adding = job.rendition.as_ref().map(|f| f.name.clone());
    let need = match adding {
        Some(_) => crate::storage::Need::Outputs,
        None => crate::storage::Need::Source,
    };
    let work = match state.storage.checkout(&id, need).await {
        Ok(work) => work,
        Err(e) => return failed(&state, &id, adding, &attempt, e).await,
    };
    let dir = work.dir.clone();
    let build = async {
        match (job.rendition, asset.outputs.clone()) {
            (Some(format), Some(outputs)) => {
                crate::renditions::make(
                    &state.tools,
                    &id,
                    &dir,
                    &asset.probe,
                    outputs,
                    format,
                    progress.clone(),
                    cancel.clone(),
                )
                .await
            }
            (Some(_), None) => Err(AppError::Job("the asset has no outputs to add to".into())),
            (None, _) => {
                crate::pipeline::build(
                    &state.tools,
                    &id,
                    &dir,
                    &asset.probe,
                    created_us,
                    progress.clone(),
                    cancel.clone(),
                )
                .await
            }
        }
    };
    tokio::pin!(build);
    let result = loop {
        tokio::select! {
            r = &mut build => break r,
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                let p = f64::from_bits(progress.load(Ordering::Relaxed));
                // Deleted meanwhile (by any server of the database): stop its ffmpeg.
                if let Ok(false) = state.db.set_progress(&id, p).await {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        }
    };
    // Deleted while it ran: whatever the job wrote after the deletion goes too.
    if state.db.asset(&id).await?.is_none() {
        state.storage.abandon(work).await;
        state.storage.remove(&id).await?;
        tracing::info!("asset {id} was deleted while its job ran; the job stopped");
        return Ok(());
    }
    let result = match result {
        Ok(outputs) => state.storage.commit(&id, work).await.map(|()| outputs),
        Err(e) => {
            state.storage.abandon(work).await;
            Err(e)
        }
    };
    match result {
        Ok(_) if state.db.asset(&id).await?.is_none() => {
            // Deleted while its files were being stored: they go too.
            state.storage.remove(&id).await?;
            tracing::info!("asset {id} was deleted while its job stored its files");
            Ok(())
        }
        Ok(outputs) => {
            state.db.set_ready(&id, &outputs).await?;
            tracing::info!("asset {id} is ready");
            notify(&state, "asset.ready", &id).await?;
            Ok(())
        }
        Err(e) => failed(&state, &id, adding, &attempt, e).await,
    }
}

/// A job's attempt failed with `e`: retried while attempts remain (the asset back to
/// `uploaded`, or still ready when adding a rendition); at the last, the asset `failed` (or,
/// adding a rendition, ready and saying what could not be added), audited and notified.
async fn failed(
    state: &AppState,
    id: &str,
    adding: Option<String>,
    attempt: &Attempt,
    e: AppError,
) -> Result<(), BoxDynError> {
    // apalis counts attempts from 1.
    let last = attempt.current() >= ATTEMPTS;
    tracing::warn!("asset {id}: attempt {} failed: {e}", attempt.current());
    let retried_rendition = adding.is_some() && !last;
    if let Some(name) = adding.filter(|_| last) {
        // The asset itself is fine: it stays ready, saying what could not be added.
        let why = format!("adding rendition {name}: {e}");
        state.db.set_status(id, "ready", 1.0, Some(&why)).await?;
        let _ = state.db.audit("worker", "failed", Some(id), &why).await;
    } else if last {
        state.storage.clear_outputs(id).await;
        state
            .db
            .set_status(id, "failed", 0.0, Some(&e.to_string()))
            .await?;
        let _ = state
            .db
            .audit("worker", "failed", Some(id), &e.to_string())
            .await;
        notify(state, "asset.failed", id).await?;
    } else if !retried_rendition {
        state.db.set_status(id, "uploaded", 0.0, None).await?;
    }
    Err(e.into())
}

/// Queue `event` with the asset as the API shows it now (when a webhook is set).
async fn notify(state: &AppState, event: &str, id: &str) -> Result<(), AppError> {
    if state.webhook.is_none() {
        return Ok(());
    }
    let Some(asset) = state.db.asset(id).await? else {
        return Ok(());
    };
    let json = serde_json::to_value(&asset).map_err(|e| AppError::Internal(e.to_string()))?;
    crate::webhook::enqueue(state.db.queue(), event, "asset", &json).await
}
