//! The HTTP API, `/api/v1/…`: assets (upload, list, show, delete), the audit log, health.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Multipart, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;

use crate::AppState;
use crate::db::{Asset, AuditEntry};
use crate::error::AppError;
use crate::upload::{self, is_id};

/// Who made the request, for the audit log: the peer address, when served over a socket.
pub struct Client(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "local".to_owned(), |c| c.0.to_string()),
        ))
    }
}

pub async fn healthz(State(s): State<AppState>) -> Result<&'static str, AppError> {
    s.db.audit_log(1).await?;
    Ok("ok\n")
}

/// `POST /api/v1/assets`: the form's `file`, streamed to storage, probed, kept only if it is a
/// video or audio file.
pub async fn create_asset(
    State(s): State<AppState>,
    Client(client): Client,
    headers: axum::http::HeaderMap,
    form: Multipart,
) -> Result<impl IntoResponse, AppError> {
    // A body announced larger than the limit is refused before a byte is stored.
    let announced = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > s.max_upload.saturating_add(FORM_OVERHEAD)) {
        let e = AppError::TooLarge {
            limit: s.max_upload,
        };
        s.db.audit(&client, "refused", None, &e.to_string()).await?;
        return Err(e);
    }
    let up = match upload::receive(&s.storage, form, s.max_upload).await {
        Ok(up) => up,
        Err(e) => return Err(refused(&s, &client, e.to_string(), e).await),
    };
    let asset = admit(&s, &client, up).await?;
    Ok((
        StatusCode::CREATED,
        [(
            axum::http::header::LOCATION,
            format!("/api/v1/assets/{}", asset.id),
        )],
        Json(asset),
    ))
}

/// Make an asset of an upload written whole to `Storage::incoming(id)` (a form's or a tus
/// upload's): ffprobe decides; refused, it is removed and the refusal audited; accepted, it
/// moves to its asset's folder, gets its row and its transcode job.
pub(crate) async fn admit(
    s: &AppState,
    client: &str,
    up: upload::Upload,
) -> Result<Asset, AppError> {
    // The file must be there (a server's own fault otherwise, not the client's media).
    tokio::fs::metadata(s.storage.incoming(&up.id))
        .await
        .map_err(|e| AppError::io("reading an upload that arrived", e))?;
    let probe = match crate::probe::probe(&s.ffprobe, &s.storage.incoming(&up.id)).await {
        Ok(p) => p,
        Err(e) => {
            s.storage.discard(&up.id).await;
            return Err(refused(s, client, format!("{}: {e}", up.original_name), e).await);
        }
    };
    s.storage.accept(&up.id).await?;
    let asset = Asset {
        id: up.id,
        status: "uploaded".into(),
        created_at: crate::now_rfc3339(),
        original_name: up.original_name,
        size_bytes: up.size_bytes,
        sha256: up.sha256,
        probe,
        error: None,
        progress: 0.0,
        outputs: None,
    };
    if let Err(e) = s.db.insert_asset(&asset).await {
        let _ = s.storage.remove(&asset.id).await;
        return Err(e);
    }
    s.db.audit(client, "upload", Some(&asset.id), &asset.original_name)
        .await?;
    crate::jobs::enqueue(s.db.queue(), &asset.id).await?;
    tracing::info!("asset {} uploaded ({} bytes)", asset.id, asset.size_bytes);
    Ok(asset)
}

/// Log a refused upload in the audit log and give back why it was refused: a failing audit
/// write is logged, never put in place of the client's answer.
pub(crate) async fn refused(s: &AppState, client: &str, detail: String, e: AppError) -> AppError {
    if let Err(audit) = s.db.audit(client, "refused", None, &detail).await {
        tracing::error!("audit log: {audit}");
    }
    e
}

/// Room for the multipart framing around the file in a body's announced length.
const FORM_OVERHEAD: u64 = 64 * 1024;

pub async fn list_assets(State(s): State<AppState>) -> Result<Json<Vec<Asset>>, AppError> {
    Ok(Json(s.db.assets().await?))
}

pub async fn get_asset(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Asset>, AppError> {
    found(&s, &id).await.map(Json)
}

/// `DELETE /api/v1/assets/{id}`: its files, then its row.
pub async fn delete_asset(
    State(s): State<AppState>,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let asset = found(&s, &id).await?;
    // The row first: a job running on it sees it gone, stops, and clears what it wrote since.
    s.db.delete_asset(&asset.id).await?;
    s.storage.remove(&asset.id).await?;
    s.db.audit(&client, "delete", Some(&asset.id), &asset.original_name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn audit_log(State(s): State<AppState>) -> Result<Json<Vec<AuditEntry>>, AppError> {
    Ok(Json(s.db.audit_log(1000).await?))
}

pub(crate) async fn found(s: &AppState, id: &str) -> Result<Asset, AppError> {
    if !is_id(id) {
        return Err(AppError::NotFound(id.chars().take(64).collect()));
    }
    s.db.asset(id)
        .await?
        .ok_or_else(|| AppError::NotFound(id.to_owned()))
}
