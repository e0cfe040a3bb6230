//! Serving an asset's outputs (`/files/{id}/…`): only what the job made (the master, the
//! renditions, the DASH/HLS presentation, thumbnails), never the upload itself or anything
//! outside the asset's folder; each with its Content-Type and Cache-Control, streamed.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
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

/// A `Range: bytes=…` header against a `len`-byte file: `Some(Ok((first, last)))` inclusive,
/// `Some(Err(()))` unsatisfiable (416), `None` to send the whole file (no header, or one this
/// server does not take: several ranges, another unit — RFC 9110 lets it ignore those).
pub fn byte_range(header: Option<&str>, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = header?.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        // The last `b` bytes.
        let n: u64 = b.parse().ok()?;
        if n == 0 || len == 0 {
            return Some(Err(()));
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let first: u64 = a.parse().ok()?;
        let last = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            b.parse::<u64>().ok()?.min(len.saturating_sub(1))
        };
        if first >= len || last < first {
            return Some(Err(()));
        }
        (first, last)
    };
    Some(Ok(range))
}

pub async fn serve_file(
    State(s): State<AppState>,
    Path((id, path)): Path<(String, String)>,
    request: axum::http::HeaderMap,
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
    let asked = request
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut r = match byte_range(asked.as_deref(), len) {
        None => {
            let mut r = Body::from_stream(ReaderStream::new(f)).into_response();
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            r
        }
        Some(Err(())) => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
        Some(Ok((first, last))) => {
            let mut f = f;
            f.seek(std::io::SeekFrom::Start(first))
                .await
                .map_err(|e| AppError::io(format!("reading {}", file.display()), e))?;
            let n = last - first + 1;
            let mut r = (
                StatusCode::PARTIAL_CONTENT,
                Body::from_stream(ReaderStream::new(f.take(n))),
            )
                .into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{len}")) {
                h.insert(header::CONTENT_RANGE, v);
            }
            r
        }
    };
    let h = r.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&path)),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control(&path)),
    );
    // Players on other origins (a CDN test page) may fetch segments.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::{byte_range, servable};

    #[test]
    fn ranges_as_players_ask_for_them() {
        let r = |h: &str| byte_range(Some(h), 1000);
        assert_eq!(r("bytes=0-99"), Some(Ok((0, 99))));
        assert_eq!(r("bytes=500-"), Some(Ok((500, 999))));
        assert_eq!(r("bytes=-100"), Some(Ok((900, 999))));
        assert_eq!(r("bytes=-5000"), Some(Ok((0, 999))));
        assert_eq!(r("bytes=990-2000"), Some(Ok((990, 999))));
        assert_eq!(r("bytes=1000-"), Some(Err(())));
        assert_eq!(r("bytes=5-4"), Some(Err(())));
        assert_eq!(r("bytes=-0"), Some(Err(())));
        // Whole file: no header, several ranges, another unit, nonsense.
        assert_eq!(byte_range(None, 1000), None);
        assert_eq!(r("bytes=0-1,5-6"), None);
        assert_eq!(r("items=0-1"), None);
        assert_eq!(r("bytes=x-y"), None);
        assert_eq!(byte_range(Some("bytes=0-"), 0), Some(Err(())));
    }

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
