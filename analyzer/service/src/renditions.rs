//! Adding a rendition to a ready asset (`POST /api/v1/assets/{id}/renditions`): the ladder's
//! rules (no upscaling, nothing richer than the upload), made later by a job from the master
//! with the others' GOP (keyframes aligned), then DASH + HLS packaged again in a new folder and
//! swapped in whole, so a player never reads half a presentation.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;

use crate::AppState;
use crate::db::Asset;
use crate::error::AppError;
use crate::ladder::{self, Format};
use crate::pipeline::{
    Outputs, SEGMENT_S, Tools, describe, frame_rate, gop_frames, master_size, run_ffmpeg,
};
use crate::probe::Probe;
use crate::routes::{Client, found};

/// Whether `format` can be added to `asset`: why not, as the answer to send.
pub fn refuse(asset: &Asset, format: &Format) -> Option<AppError> {
    if let Err(e) = format.check() {
        return Some(AppError::BadRequest(e));
    }
    let Some(outputs) = asset.outputs.as_ref().filter(|_| asset.status == "ready") else {
        return Some(AppError::Conflict(format!(
            "asset {} is {}: a rendition can be added once it is ready",
            asset.id, asset.status
        )));
    };
    let Some(video) = asset.probe.video.as_ref() else {
        return Some(AppError::NotMedia(
            "a sound without pictures has no picture renditions".into(),
        ));
    };
    if outputs.renditions.iter().any(|r| r.name == format.name) {
        return Some(AppError::Conflict(format!(
            "asset {} already has a rendition named {}",
            asset.id, format.name
        )));
    }
    let master = master_size(video.width, video.height);
    if format.height > master.height {
        return Some(AppError::NotMedia(format!(
            "no upscaling: the master is {} px high, {} asks for {}",
            master.height, format.name, format.height
        )));
    }
    if let Some(source) = asset.probe.bitrate_kbps
        && u64::from(format.video_kbps) > source
    {
        return Some(AppError::NotMedia(format!(
            "{} asks for {} kbit/s, more than the upload's {source} kbit/s",
            format.name, format.video_kbps
        )));
    }
    None
}

/// `POST /api/v1/assets/{id}/renditions` with a format (`{name, height, video_kbps,
/// audio_kbps?}`): 202 and the asset, `processing` until the rendition is made.
pub async fn add(
    State(s): State<AppState>,
    Client(client): Client,
    UrlPath(id): UrlPath<String>,
    body: Result<Json<Format>, JsonRejection>,
) -> Result<(StatusCode, Json<Asset>), AppError> {
    let asset = found(&s, &id).await?;
    let Json(format) = body.map_err(|e| AppError::BadRequest(e.body_text()))?;
    if let Some(e) = refuse(&asset, &format) {
        return Err(e);
    }
    s.db.audit(&client, "rendition", Some(&id), &format.name)
        .await?;
    s.db.set_status(&id, "processing", 0.0, None).await?;
    crate::jobs::enqueue_rendition(s.db.queue(), &id, format).await?;
    Ok((StatusCode::ACCEPTED, Json(found(&s, &id).await?)))
}

/// The job: the rendition from the master, then the presentation again with it; the asset's
/// outputs with the rendition added (renditions tallest first).
#[allow(clippy::too_many_arguments)]
pub async fn make(
    tools: &Tools,
    id: &str,
    dir: &Path,
    probe: &Probe,
    mut outputs: Outputs,
    format: Format,
    progress: Arc<AtomicU64>,
    cancel: Arc<AtomicBool>,
) -> Result<Outputs, AppError> {
    let video = probe.video.as_ref().ok_or_else(|| {
        AppError::Job("a sound without pictures has no picture renditions".into())
    })?;
    let rate = frame_rate(video.fps.unwrap_or(25.0))?;
    let size = master_size(video.width, video.height);
    let frames = rate
        .frames_in(Duration::from_secs_f64(probe.duration_s.max(0.0)))
        .max(1);
    let plan = ladder::plan(std::slice::from_ref(&format), size.width, size.height, None);
    let planned = plan
        .first()
        .filter(|p| p.name == format.name)
        .ok_or_else(|| AppError::Job(format!("{} cannot be made of this master", format.name)))?;
    let master = dir.join("reference.mp4").display().to_string();
    let r_dir = dir.join("r").display().to_string();
    let argv = ladder::ladder_args(
        &master,
        (size.width, size.height),
        std::slice::from_ref(planned),
        gop_frames(rate),
        usize::from(probe.audio.is_some()),
        &r_dir,
    );
    let p = progress.clone();
    run_ffmpeg(
        &tools.ffmpeg,
        argv,
        "making the rendition",
        Some(Box::new(move |frame: u32| {
            let f = 0.8 * f64::from(frame) / frames as f64;
            p.store(f.min(0.8).to_bits(), Ordering::Relaxed);
        })),
        &cancel,
    )
    .await?;
    let added = describe(
        &tools.ffprobe,
        id,
        planned,
        &dir.join(format!("r/{}.mp4", planned.name)),
    )
    .await?;
    outputs.renditions.push(added);
    outputs
        .renditions
        .sort_by_key(|r| std::cmp::Reverse(r.height));
    let files: Vec<String> = outputs
        .renditions
        .iter()
        .map(|r| format!("{r_dir}/{}.mp4", r.name))
        .collect();
    // Packaged beside the served presentation, then swapped in.
    let fresh = dir.join("stream.new");
    let _ = tokio::fs::remove_dir_all(&fresh).await;
    tokio::fs::create_dir_all(&fresh)
        .await
        .map_err(|e| AppError::io(format!("creating {}", fresh.display()), e))?;
    let argv = ladder::package_args(&files, true, SEGMENT_S, &fresh.display().to_string());
    run_ffmpeg(&tools.ffmpeg, argv, "packaging DASH and HLS", None, &cancel).await?;
    let (live, old) = (dir.join("stream"), dir.join("stream.old"));
    let _ = tokio::fs::remove_dir_all(&old).await;
    // (In an S3 job's scratch there is no old presentation here: it stays in the bucket.)
    match tokio::fs::rename(&live, &old).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(AppError::io("setting the old presentation aside", e));
        }
        _ => {}
    }
    tokio::fs::rename(&fresh, &live)
        .await
        .map_err(|e| AppError::io("putting the new presentation in place", e))?;
    let _ = tokio::fs::remove_dir_all(&old).await;
    progress.store(1f64.to_bits(), Ordering::Relaxed);
    Ok(outputs)
}
