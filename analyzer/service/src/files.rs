//! Serving an asset's outputs (`/files/{id}/…`): only what the job made (the master, the
//! renditions, the DASH/HLS presentation, thumbnails), never the upload itself or anything
//! outside the asset's folder; each with its Content-Type and Cache-Control, streamed.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio_util::io::ReaderStream;

use crate::AppState;
use crate::error::AppError;
use crate::storage::{cache_control, content_type};

/// Whether `path` (relative to an asset's folder) names something served: one of the job's
/// folders or the master, plain names only (no `..`, no hidden files, no empty parts).
pub fn servable(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let plain = parts.iter().all(|p| {
        !p.is_empty()
            && !p.starts_with('.')
            && p.len() <= 128
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    });
    plain
        && matches!(
            parts.as_slice(),
            ["reference.mp4"] | ["r" | "stream" | "thumbs", _]
        )
}

pub async fn serve_file(
    State(s): State<AppState>,
    Path((id, path)): Path<(String, String)>,
) -> Result<Response, AppError> {
    if !crate::upload::is_id(&id) || !servable(&path) {
        return Err(AppError::NotFound(format!("{id}/{path}")));
    }
    let file = s.storage.asset_dir(&id).join(&path);
    let f = match tokio::fs::File::open(&file).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AppError::NotFound(format!("{id}/{path}")));
        }
        Err(e) => return Err(AppError::io(format!("opening {}", file.display()), e)),
    };
    let len = f
        .metadata()
        .await
        .map_err(|e| AppError::io(format!("reading {}", file.display()), e))?
        .len();
    let mut r = Body::from_stream(ReaderStream::new(f)).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&path)),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control(&path)),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    // Players on other origins (a CDN test page) may fetch segments.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::servable;

    #[test]
    fn only_the_jobs_outputs_are_served() {
        for ok in [
            "reference.mp4",
            "r/360p.mp4",
            "stream/master.m3u8",
            "stream/chunk-stream0-00001.m4s",
            "thumbs/00.jpg",
        ] {
            assert!(servable(ok), "{ok}");
        }
        for bad in [
            "source",
            "../x",
            "r/../../source",
            "r/.hidden",
            "r/a/b.mp4",
            "",
            "r/",
            "/etc/passwd",
            "stream/a%2f..",
            "r//a",
        ] {
            assert!(!servable(bad), "{bad}");
        }
    }
}
