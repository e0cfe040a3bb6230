//! The `measurements` table: a row per measurement from queued to finished. A worker writes
//! its results only while the row still says it runs it, so a job taken over after a lost
//! lease never finishes twice.

use sqlx::Row;

use super::{Measurement, RUN, Request};
use crate::db::Db;
use crate::error::AppError;

/// What a finished run wrote.
pub struct Finish<'a> {
    pub status: &'a str,
    pub verdict: &'a str,
    pub summary: Option<&'a serde_json::Value>,
    pub failures: &'a [String],
    pub error: Option<&'a str>,
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, AppError> {
    serde_json::to_string(v).map_err(|e| AppError::Internal(e.to_string()))
}

impl Db {
    pub async fn insert_measurement(&self, m: &Measurement) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO measurements (id, status, location, request, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&m.id)
        .bind(&m.status)
        .bind(&m.location)
        .bind(json(&m.request)?)
        .bind(&m.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn measurement(&self, id: &str) -> Result<Option<Measurement>, AppError> {
        let row = sqlx::query("SELECT * FROM measurements WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| measurement_of(&r)).transpose()
    }

    /// The newest `limit` measurements, newest first.
    pub async fn measurements(&self, limit: u32) -> Result<Vec<Measurement>, AppError> {
        let rows = sqlx::query("SELECT * FROM measurements ORDER BY created_at DESC, id LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(measurement_of).collect()
    }

    /// `worker` takes the measurement (queued, or running on a worker whose lease the queue
    /// gave up on); false when it has finished or was deleted.
    pub async fn start_measurement(&self, id: &str, worker: &str) -> Result<bool, AppError> {
        let r = sqlx::query(
            "UPDATE measurements SET status = 'running', worker = $1, started_at = $2
             WHERE id = $3 AND status IN ('queued', 'running')",
        )
        .bind(worker)
        .bind(crate::now_rfc3339())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Whether `worker` still runs it (not deleted, not taken over).
    pub async fn runs_measurement(&self, id: &str, worker: &str) -> Result<bool, AppError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM measurements WHERE id = $1 AND worker = $2 AND status = 'running'",
        )
        .bind(id)
        .bind(worker)
        .fetch_one(self.pool())
        .await?;
        Ok(n > 0)
    }

    /// The run's results, written only by the worker running it: false if another took it or
    /// it was deleted meanwhile.
    pub async fn finish_measurement(
        &self,
        id: &str,
        worker: &str,
        f: &Finish<'_>,
    ) -> Result<bool, AppError> {
        let r = sqlx::query(
            "UPDATE measurements SET status = $1, verdict = $2, summary = $3, failures = $4,
             error = $5, finished_at = $6 WHERE id = $7 AND worker = $8 AND status = 'running'",
        )
        .bind(f.status)
        .bind(f.verdict)
        .bind(f.summary.map(json).transpose()?)
        .bind(json(&f.failures)?)
        .bind(f.error)
        .bind(crate::now_rfc3339())
        .bind(id)
        .bind(worker)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn delete_measurement(&self, id: &str) -> Result<bool, AppError> {
        let r = sqlx::query("DELETE FROM measurements WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() > 0)
    }
}

fn measurement_of(r: &sqlx::any::AnyRow) -> Result<Measurement, AppError> {
    let bad = |what: &str, e: serde_json::Error| {
        AppError::Internal(format!("measurement {what} in the database: {e}"))
    };
    let id: String = r.try_get("id")?;
    let request: String = r.try_get("request")?;
    let request: Request = serde_json::from_str(&request).map_err(|e| bad("request", e))?;
    let summary = match r.try_get::<Option<String>, _>("summary")? {
        Some(s) => Some(serde_json::from_str(&s).map_err(|e| bad("summary", e))?),
        None => None,
    };
    let failures = match r.try_get::<Option<String>, _>("failures")? {
        Some(s) => serde_json::from_str(&s).map_err(|e| bad("failures", e))?,
        None => Vec::new(),
    };
    let status: String = r.try_get("status")?;
    let stored = matches!(status.as_str(), "done" | "error" | "interrupted") && summary.is_some();
    Ok(Measurement {
        report: stored.then(|| format!("/files/{id}/{RUN}/report.html")),
        id,
        status,
        verdict: r.try_get("verdict")?,
        location: r.try_get("location")?,
        request,
        created_at: r.try_get("created_at")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        worker: r.try_get("worker")?,
        summary,
        failures,
        error: r.try_get("error")?,
    })
}
