//! The metadata database: assets and the audit log, in SQLite (`--database sqlite://PATH`),
//! with the migrations in `migrations/` applied at start.

use std::str::FromStr;

use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::error::AppError;
use crate::pipeline::Outputs;
use crate::probe::Probe;

#[derive(Debug, Clone)]
pub struct Db {
    pool: SqlitePool,
}

/// An asset as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Asset {
    pub id: String,
    /// `uploaded`, `processing`, `ready`, `failed`.
    pub status: String,
    pub created_at: String,
    /// The client's file name, cleaned, for display only: nothing is stored under it.
    pub original_name: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub probe: Probe,
    pub error: Option<String>,
    /// 0–1 while processing.
    pub progress: f64,
    /// What the transcode job made, once ready (its fields appear in the asset's JSON).
    #[serde(flatten)]
    pub outputs: Option<Outputs>,
}

/// One line of the audit log.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub client: String,
    pub action: String,
    pub asset: Option<String>,
    pub detail: String,
}

impl Db {
    /// Open (creating it if needed) the database at `url` (`sqlite://PATH`) and migrate it.
    pub async fn open(url: &str) -> Result<Self, AppError> {
        let Some(path) = url.strip_prefix("sqlite://") else {
            return Err(AppError::BadRequest(format!(
                "--database {url}: only sqlite://PATH is supported by this build"
            )));
        };
        if path.is_empty() {
            return Err(AppError::BadRequest(
                "--database sqlite:// needs a path".into(),
            ));
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        // apalis's job tables share the database: each migrator leaves the other's alone.
        let mut ours = sqlx::migrate!("./migrations");
        ours.set_ignore_missing(true);
        ours.run(&pool)
            .await
            .map_err(|e| AppError::Internal(format!("migrating {url}: {e}")))?;
        crate::jobs::migrate(&pool)
            .await
            .map_err(|e| AppError::Internal(format!("migrating the job queue of {url}: {e}")))?;
        Ok(Self { pool })
    }

    pub async fn insert_asset(&self, a: &Asset) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO assets (id, status, created_at, original_name, size_bytes, sha256, probe, error)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&a.id)
        .bind(&a.status)
        .bind(&a.created_at)
        .bind(&a.original_name)
        .bind(a.size_bytes as i64)
        .bind(&a.sha256)
        .bind(serde_json::to_string(&a.probe).map_err(|e| AppError::Internal(e.to_string()))?)
        .bind(&a.error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn asset(&self, id: &str) -> Result<Option<Asset>, AppError> {
        let row = sqlx::query("SELECT * FROM assets WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| asset_of(&r)).transpose()
    }

    /// Every asset, newest first.
    pub async fn assets(&self) -> Result<Vec<Asset>, AppError> {
        let rows = sqlx::query("SELECT * FROM assets ORDER BY created_at DESC, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(asset_of).collect()
    }

    /// Remove an asset's row; whether there was one.
    pub async fn delete_asset(&self, id: &str) -> Result<bool, AppError> {
        let done = sqlx::query("DELETE FROM assets WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A transcode job started, progressed or ended.
    pub async fn set_status(
        &self,
        id: &str,
        status: &str,
        progress: f64,
        error: Option<&str>,
    ) -> Result<(), AppError> {
        sqlx::query("UPDATE assets SET status = ?, progress = ?, error = ? WHERE id = ?")
            .bind(status)
            .bind(progress)
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether the asset is still there (deleted, its job should stop).
    pub async fn set_progress(&self, id: &str, progress: f64) -> Result<bool, AppError> {
        let r =
            sqlx::query("UPDATE assets SET progress = ? WHERE id = ? AND status = 'processing'")
                .bind(progress)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(r.rows_affected() > 0)
    }

    /// The job's results: the asset is ready.
    pub async fn set_ready(&self, id: &str, outputs: &Outputs) -> Result<(), AppError> {
        self.set_outputs(id, "ready", 1.0, outputs).await
    }

    /// The asset's status and outputs at once (error cleared).
    pub async fn set_outputs(
        &self,
        id: &str,
        status: &str,
        progress: f64,
        outputs: &Outputs,
    ) -> Result<(), AppError> {
        let json = serde_json::to_string(outputs).map_err(|e| AppError::Internal(e.to_string()))?;
        sqlx::query(
            "UPDATE assets SET status = ?, progress = ?, error = NULL, outputs = ? WHERE id = ?",
        )
        .bind(status)
        .bind(progress)
        .bind(json)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn audit(
        &self,
        client: &str,
        action: &str,
        asset: Option<&str>,
        detail: &str,
    ) -> Result<(), AppError> {
        sqlx::query("INSERT INTO audit (at, client, action, asset, detail) VALUES (?, ?, ?, ?, ?)")
            .bind(crate::now_rfc3339())
            .bind(client)
            .bind(action)
            .bind(asset)
            .bind(detail)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The audit log, newest first, at most `limit` entries.
    pub async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, AppError> {
        let rows = sqlx::query("SELECT * FROM audit ORDER BY seq DESC LIMIT ?")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: r.try_get("seq")?,
                    at: r.try_get("at")?,
                    client: r.try_get("client")?,
                    action: r.try_get("action")?,
                    asset: r.try_get("asset")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}

fn asset_of(r: &sqlx::sqlite::SqliteRow) -> Result<Asset, AppError> {
    let probe: String = r.try_get("probe")?;
    Ok(Asset {
        id: r.try_get("id")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        original_name: r.try_get("original_name")?,
        size_bytes: r.try_get::<i64, _>("size_bytes")? as u64,
        sha256: r.try_get("sha256")?,
        probe: serde_json::from_str(&probe)
            .map_err(|e| AppError::Internal(format!("asset probe in the database: {e}")))?,
        error: r.try_get("error")?,
        progress: r.try_get("progress")?,
        outputs: match r.try_get::<Option<String>, _>("outputs")? {
            Some(o) => {
                Some(serde_json::from_str(&o).map_err(|e| {
                    AppError::Internal(format!("asset outputs in the database: {e}"))
                })?)
            }
            None => None,
        },
    })
}
