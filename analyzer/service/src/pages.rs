//! The web pages: `/` (upload form and asset list), `/assets/{id}` (player, metadata,
//! downloads, embed snippet), `/measurements` (runs, reports, comparison) and their static
//! files (`static/`, compiled in; hls.js vendored from the npm registry by
//! `scripts/vendor-js.sh`), each with a strict Content-Security-Policy
//! and an ETag so the 389 kB player is fetched once. tus-js-client (vendored the same way)
//! makes the form's uploads resumable.

use std::sync::LazyLock;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::AppError;

/// The pages' scripts come from this server only; hls.js feeds the video element from `blob:`
/// URLs and may run its demuxer in a `blob:` worker.
const CSP: &str = "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; \
     worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// One compiled-in file: its name under `/static/` (or the page it is), bytes and type.
struct Static {
    name: &'static str,
    body: &'static [u8],
    content_type: &'static str,
}

const FILES: &[Static] = &[
    Static {
        name: "index.html",
        body: include_bytes!("../static/index.html"),
        content_type: "text/html; charset=utf-8",
    },
    Static {
        name: "asset.html",
        body: include_bytes!("../static/asset.html"),
        content_type: "text/html; charset=utf-8",
    },
    Static {
        name: "measurements.html",
        body: include_bytes!("../static/measurements.html"),
        content_type: "text/html; charset=utf-8",
    },
    Static {
        name: "dom.js",
        body: include_bytes!("../static/dom.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    Static {
        name: "measurements.js",
        body: include_bytes!("../static/measurements.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    Static {
        name: "app.css",
        body: include_bytes!("../static/app.css"),
        content_type: "text/css; charset=utf-8",
    },
    Static {
        name: "index.js",
        body: include_bytes!("../static/index.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    Static {
        name: "asset.js",
        body: include_bytes!("../static/asset.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    Static {
        name: "openapi.json",
        body: include_bytes!("../../../docs/openapi.json"),
        content_type: "application/json",
    },
    Static {
        name: "tus.min.js",
        body: include_bytes!("../static/tus.min.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    Static {
        name: "encrypted.js",
        body: include_bytes!("../static/encrypted.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    Static {
        name: "shaka-player.compiled.js",
        body: include_bytes!("../static/shaka-player.compiled.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    Static {
        name: "hls.light.min.js",
        body: include_bytes!("../static/hls.light.min.js"),
        content_type: "text/javascript; charset=utf-8",
    },
];

/// Each file's ETag: a strong validator from its contents, computed once.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|f| {
            let d = Sha256::digest(f.body);
            let hex: String = d[..12].iter().map(|b| format!("{b:02x}")).collect();
            format!("\"{hex}\"")
        })
        .collect()
});

/// The response for compiled-in file `name` (304 when the client holds this version).
fn send(name: &str, request: &HeaderMap) -> Option<Response> {
    let i = FILES.iter().position(|f| f.name == name)?;
    let (file, etag) = (&FILES[i], &ETAGS[i]);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        file.body.into_response()
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    // Revalidated on every use: a new build's files are seen at once, unchanged ones cost a 304.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if file.content_type.starts_with("text/html") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    Some(r)
}

/// `GET /`: the upload form and the asset list.
pub async fn index(request: HeaderMap) -> Response {
    send("index.html", &request).unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// `GET /assets/{id}`: the asset's page; 404 (as JSON's sentence) for an asset that is not there.
pub async fn asset(
    State(s): State<AppState>,
    Path(id): Path<String>,
    request: HeaderMap,
) -> Result<Response, AppError> {
    crate::routes::found(&s, &id).await?;
    send("asset.html", &request).ok_or_else(|| AppError::NotFound(id))
}

/// `GET /measurements`: the measurement runs, their reports, a comparison of those ticked.
pub async fn measurements(request: HeaderMap) -> Response {
    send("measurements.html", &request).unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// `GET /api/v1/openapi.json`: the API's description (`docs/openapi.json`).
pub async fn openapi(request: HeaderMap) -> Response {
    send("openapi.json", &request).unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// `GET /static/{name}`: the pages' scripts, style sheet and the vendored player.
pub async fn file(Path(name): Path<String>, request: HeaderMap) -> Result<Response, AppError> {
    match name.as_str() {
        "index.html" | "asset.html" | "measurements.html" | "openapi.json" => None,
        _ => send(&name, &request),
    }
    .ok_or_else(|| {
        AppError::NotFound(format!(
            "/static/{}",
            name.chars().take(64).collect::<String>()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_names_only_files_that_are_served() {
        for page in ["index.html", "asset.html", "measurements.html"] {
            let html = FILES.iter().find(|f| f.name == page).unwrap().body;
            let html = std::str::from_utf8(html).unwrap();
            for part in html.split("/static/").skip(1) {
                let name = part.split('"').next().unwrap();
                assert!(
                    FILES.iter().any(|f| f.name == name),
                    "{page} names /static/{name}"
                );
            }
            // No inline script: the policy forbids it.
            assert!(!html.contains("<script>"), "{page}");
        }
    }

    /// Every route of `app()` is in `docs/openapi.json` and nothing else is.
    #[test]
    fn the_openapi_file_describes_every_route() {
        let spec: serde_json::Value = serde_json::from_slice(
            FILES
                .iter()
                .find(|f| f.name == "openapi.json")
                .unwrap()
                .body,
        )
        .unwrap();
        let mut documented: Vec<String> =
            spec["paths"].as_object().unwrap().keys().cloned().collect();
        let mut routed: Vec<String> = include_str!("lib.rs")
            .split(".route(")
            .skip(1)
            .filter_map(|r| r.split('"').nth(1))
            .map(|p| p.replace("{*", "{"))
            .collect();
        documented.sort();
        routed.sort();
        assert_eq!(documented, routed);
        assert_eq!(spec["openapi"], "3.1.0");
    }

    #[test]
    fn an_unchanged_file_is_a_304_and_a_changed_one_is_sent() {
        let mut h = HeaderMap::new();
        let first = send("app.css", &h).unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        let etag = first.headers()[header::ETAG].clone();
        h.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(
            send("app.css", &h).unwrap().status(),
            StatusCode::NOT_MODIFIED
        );
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"old\""));
        assert_eq!(send("app.css", &h).unwrap().status(), StatusCode::OK);
        assert!(send("../Cargo.toml", &h).is_none());
    }
}
