//! Finished measurements side by side (the `compare` report): `GET /measurements/compare?ids=A,B`
//! draws it into a scratch folder from the runs' data (labelled by location and id, so one
//! stream measured from three regions reads `eu-west-1-1a2b3c4d/cdn`, …) and returns its
//! `report.html`; `GET /api/v1/measurements/compare?ids=A,B` returns its `comparison.json`.
//! Nothing is stored: the runs are.

use std::path::PathBuf;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::AppError;
use crate::storage::Need;

/// At most this many runs in one comparison.
const MAX_RUNS: usize = 8;

/// `GET /measurements/compare?ids=A,B[,…]`: the comparison report, as a page.
pub async fn page(State(s): State<AppState>, RawQuery(q): RawQuery) -> Result<Response, AppError> {
    let html = draw(&s, q.as_deref(), "report.html").await?;
    let mut r = html.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::files::REPORT_CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// `GET /api/v1/measurements/compare?ids=A,B[,…]`: the merged summaries.
pub async fn json(State(s): State<AppState>, RawQuery(q): RawQuery) -> Result<Response, AppError> {
    let text = draw(&s, q.as_deref(), "comparison.json").await?;
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// The measurement ids of a query `ids=A,B` (also `ids=A&ids=B`, as a form sends them).
pub fn ids_of(query: Option<&str>) -> Result<Vec<String>, AppError> {
    let mut ids = Vec::new();
    for pair in query.unwrap_or_default().split('&') {
        if let Some(v) = pair.strip_prefix("ids=") {
            ids.extend(
                v.split(',')
                    .flat_map(|p| p.split("%2C"))
                    .flat_map(|p| p.split("%2c"))
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    if !(2..=MAX_RUNS).contains(&ids.len()) {
        return Err(AppError::BadRequest(format!(
            "compare 2 to {MAX_RUNS} measurements: ?ids=ID,ID…"
        )));
    }
    for (i, id) in ids.iter().enumerate() {
        if !crate::upload::is_id(id) {
            return Err(AppError::BadRequest(format!(
                "ids: {:?} is not a measurement id",
                id.chars().take(40).collect::<String>()
            )));
        }
        if ids[..i].contains(id) {
            return Err(AppError::BadRequest(format!("ids: {id} is given twice")));
        }
    }
    Ok(ids)
}

/// Draw the comparison of the query's measurements and return its file `name`.
async fn draw(s: &AppState, query: Option<&str>, name: &str) -> Result<String, AppError> {
    let ids = ids_of(query)?;
    let mut labelled = Vec::new();
    for id in &ids {
        let m = super::routes::found(s, id).await?;
        if m.report.is_none() {
            return Err(AppError::Conflict(format!(
                "measurement {id} is {}: only finished runs compare",
                m.status
            )));
        }
        let place = m.location.as_deref().unwrap_or("any");
        labelled.push((id.clone(), format!("{place}-{}", &id[..8])));
    }
    let scratch = s
        .storage
        .root()
        .join("scratch")
        .join(format!("compare-{}", uuid::Uuid::new_v4().simple()));
    let drawn = async {
        let mut dirs = Vec::new();
        for (id, label) in &labelled {
            dirs.push(fetch(s, id, &scratch.join(label)).await?);
        }
        let out = scratch.join("out");
        let to = out.clone();
        tokio::task::spawn_blocking(move || report::write_comparison(&dirs, &to, &[]))
            .await
            .map_err(|e| AppError::Internal(format!("drawing the comparison: {e}")))?
            .map_err(|e| AppError::Internal(format!("drawing the comparison: {e}")))?;
        let file = out.join(name);
        tokio::fs::read_to_string(&file)
            .await
            .map_err(|e| AppError::io(format!("reading {}", file.display()), e))
    };
    let drawn = drawn.await;
    let _ = tokio::fs::remove_dir_all(&scratch).await;
    drawn
}

/// Copy measurement `id`'s run data into `to`.
async fn fetch(s: &AppState, id: &str, to: &std::path::Path) -> Result<PathBuf, AppError> {
    let work = s.storage.checkout(id, Need::Run).await?;
    let copied = async {
        tokio::fs::create_dir_all(to)
            .await
            .map_err(|e| AppError::io(format!("creating {}", to.display()), e))?;
        let run = work.dir.join(super::RUN);
        let mut entries = tokio::fs::read_dir(&run)
            .await
            .map_err(|e| AppError::io(format!("reading {}", run.display()), e))?;
        while let Ok(Some(e)) = entries.next_entry().await {
            let name = e.file_name().to_string_lossy().into_owned();
            let data = name.ends_with(".json") || name.ends_with(".csv");
            if data && e.file_type().await.is_ok_and(|t| t.is_file()) {
                tokio::fs::copy(e.path(), to.join(&name))
                    .await
                    .map_err(|err| AppError::io(format!("copying {name} of {id}"), err))?;
            }
        }
        Ok(to.to_owned())
    };
    let copied = copied.await;
    s.storage.abandon(work).await;
    copied
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn ids_come_comma_separated_or_repeated() {
        let both = vec![A.to_owned(), B.to_owned()];
        assert_eq!(ids_of(Some(&format!("ids={A},{B}"))).unwrap(), both);
        assert_eq!(ids_of(Some(&format!("ids={A}%2C{B}"))).unwrap(), both);
        assert_eq!(ids_of(Some(&format!("ids={A}&x=1&ids={B}"))).unwrap(), both);
        for bad in [
            None,
            Some(format!("ids={A}")),
            Some(format!("ids={A},{A}")),
            Some(format!("ids={A},../etc")),
        ] {
            assert!(ids_of(bad.as_deref()).is_err(), "{bad:?}");
        }
    }
}
