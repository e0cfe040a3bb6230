//! Serving an asset's outputs (`/files/{id}/…`): only what the job made (the master, the
//! renditions, the DASH/HLS presentation, thumbnails; a measurement's run folder), never the
//! upload itself or anything outside the asset's folder; each with its Content-Type and Cache-Control, streamed (from
//! the folder or from S3), whole or in a byte range.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

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
            ["reference.mp4"]
                | ["r" | "stream" | "thumbs", _]
                | ["enc", _, "r" | "stream", _]
                | ["run", _]
                | ["run", _, _]
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

/// Reports and plots: their own styles and pictures, nothing else (they need no script).
pub const REPORT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

pub async fn serve_file(
    State(s): State<AppState>,
    Path((id, path)): Path<(String, String)>,
    request: axum::http::HeaderMap,
) -> Result<Response, AppError> {
    respond(&s, id, path, &request).await
}

/// `GET /api/v1/assets/{id}/renditions/{name}`: the rendition's MP4 as a download named after
/// the upload (`match-360p.mp4`), byte ranges as for `/files`.
pub async fn download_rendition(
    State(s): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    request: axum::http::HeaderMap,
) -> Result<Response, AppError> {
    let asset = crate::routes::found(&s, &id).await?;
    let prefix = format!("/files/{id}/");
    let path = asset
        .outputs
        .as_ref()
        .and_then(|o| o.renditions.iter().find(|r| r.name == name))
        .and_then(|r| r.url.strip_prefix(&prefix))
        .ok_or_else(|| AppError::NotFound(format!("rendition {name} of {id}")))?
        .to_owned();
    let file = download_name(&asset.original_name, &name, &path);
    let mut r = respond(&s, id, path, &request).await?;
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `STEM-NAME.EXT` from the upload's (cleaned) name, in the characters every browser and
/// shell takes: others become `_`, at most 100 of them.
pub fn download_name(original: &str, rendition: &str, path: &str) -> String {
    let stem = original.rsplit_once('.').map_or(original, |(s, _)| s);
    let ext = path.rsplit_once('.').map_or("mp4", |(_, e)| e);
    let safe: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let safe = safe.trim_start_matches('.');
    if safe.is_empty() {
        format!("{rendition}.{ext}")
    } else {
        format!("{safe}-{rendition}.{ext}")
    }
}

async fn respond(
    s: &AppState,
    id: String,
    path: String,
    request: &axum::http::HeaderMap,
) -> Result<Response, AppError> {
    if !crate::upload::is_id(&id) || !servable(&path) {
        return Err(AppError::NotFound(format!("{id}/{path}")));
    }
    let Some(object) = s.storage.object(&id, &path).await? else {
        return Err(AppError::NotFound(format!("{id}/{path}")));
    };
    let len = object.size();
    let asked = request
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut r = match byte_range(asked.as_deref(), len) {
        None => {
            let mut r = object.body(0, len).await?.into_response();
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
            let n = last - first + 1;
            let mut r = (StatusCode::PARTIAL_CONTENT, object.body(first, n).await?).into_response();
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
    // A run's report holds names and URLs a client chose: no script of any kind runs in it.
    if path.ends_with(".html") || path.ends_with(".svg") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(REPORT_CSP),
        );
    }
    // Players on other origins (a CDN test page) may fetch segments.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::{byte_range, download_name, servable};

    #[test]
    fn downloads_are_named_after_the_upload_in_safe_characters() {
        assert_eq!(
            download_name("match.mp4", "360p", "r/360p.mp4"),
            "match-360p.mp4"
        );
        assert_eq!(
            download_name("Final \"cut\"; v2.mov", "720p", "r/720p.mp4"),
            "Final__cut___v2-720p.mp4"
        );
        assert_eq!(
            download_name("été.mkv", "aac-64k", "r/aac-64k.m4a"),
            "_t_-aac-64k.m4a"
        );
        assert_eq!(download_name(".mp4", "360p", "r/360p.mp4"), "360p.mp4");
        assert_eq!(
            download_name(&"x".repeat(300), "360p", "r/360p.mp4").len(),
            100 + 9
        );
    }

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
            "stream/chunk-r3-0-00001.m4s",
            "thumbs/00.jpg",
            "run/report.html",
            "run/plots/latency.svg",
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
            "run/../source",
            "run/a/b/c.csv",
            "run/.claim",
        ] {
            assert!(!servable(bad), "{bad}");
        }
    }
}
