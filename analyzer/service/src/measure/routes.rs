//! `/api/v1/measurements`: queue one (checked first: 400 with the reason), list them, show
//! one (status, summary, verdict, report URL), delete one (its run folder too; a running one
//! is stopped by its worker).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::{Measurement, Request};
use crate::AppState;
use crate::error::AppError;
use crate::routes::Client;

/// `POST /api/v1/measurements` (the body is JSON whatever its Content-Type) → 202 with the
/// queued measurement.
pub async fn create(
    State(s): State<AppState>,
    Client(client): Client,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, AppError> {
    let request: Request = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("a measurement request: {e}")))?;
    request.check().map_err(AppError::BadRequest)?;
    if let Some(a) = &request.reference_asset {
        let asset = crate::routes::found(&s, a).await?;
        if asset.status != "ready" || asset.outputs.is_none() {
            return Err(AppError::Conflict(format!(
                "reference asset {a} is {}: wait until it is ready",
                asset.status
            )));
        }
    }
    let m = Measurement {
        id: uuid::Uuid::new_v4().simple().to_string(),
        status: "queued".into(),
        verdict: None,
        location: request.location.clone(),
        request,
        created_at: crate::now_rfc3339(),
        started_at: None,
        finished_at: None,
        worker: None,
        summary: None,
        failures: Vec::new(),
        error: None,
        report: None,
    };
    s.db.insert_measurement(&m).await?;
    super::job::enqueue(s.db.queue(), &m.id, m.location.as_deref()).await?;
    let streams: Vec<&str> = m.request.live.iter().map(|l| l.name.as_str()).collect();
    let detail = format!(
        "measure {} at {}",
        streams.join(","),
        m.location.as_deref().unwrap_or("any location")
    );
    s.db.audit(&client, "measure", Some(&m.id), &detail).await?;
    Ok((StatusCode::ACCEPTED, Json(m)))
}

#[derive(Deserialize)]
pub struct ListQuery {
    /// At most this many, newest first (default 100, at most 1000).
    limit: Option<u32>,
}

/// `GET /api/v1/measurements`.
pub async fn list(
    State(s): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Measurement>>, AppError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(s.db.measurements(limit).await?))
}

/// The measurement `id`, or a 404 that names it.
pub async fn found(s: &AppState, id: &str) -> Result<Measurement, AppError> {
    if !crate::upload::is_id(id) {
        return Err(AppError::NotFound(format!("measurement {id}")));
    }
    s.db.measurement(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("measurement {id}")))
}

/// `GET /api/v1/measurements/{id}`.
pub async fn show(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Measurement>, AppError> {
    Ok(Json(found(&s, &id).await?))
}

/// `DELETE /api/v1/measurements/{id}`: the row and the stored run; a running measurement's
/// worker sees it gone within half a second, stops the analyzer and drops what it made.
pub async fn delete(
    State(s): State<AppState>,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    found(&s, &id).await?;
    s.db.delete_measurement(&id).await?;
    s.storage.remove(&id).await?;
    s.db.audit(&client, "delete", Some(&id), "measurement")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
