//! The metadata database: assets, measurements and the audit log, in SQLite (`--database
//! sqlite://PATH`, one machine) or PostgreSQL (`postgres://…`, servers and workers on many),
//! with the migrations of `migrations/sqlite/` or `migrations/postgres/` applied at start. Our
//! queries are written once (sqlx's `Any` driver, `$N` parameters both understand); the job
//! queues use the same database through apalis (`queue.rs`).

use std::str::FromStr;

use serde::Serialize;
use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use crate::queue::Queue;

use crate::error::AppError;
use crate::pipeline::Outputs;
use crate::probe::Probe;

#[derive(Debug, Clone)]
pub struct Db {
    /// Our queries.
    pool: AnyPool,
    /// The same database for apalis's job queues.
    queue: Queue,
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
    /// Open the database at `url` (`sqlite://PATH`, created if needed, or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=require]`) and migrate it.
    pub async fn open(url: &str) -> Result<Self, AppError> {
        sqlx::any::install_default_drivers();
        let queue = if let Some(path) = url.strip_prefix("sqlite://") {
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
            let mut ours = sqlx::migrate!("./migrations/sqlite");
            ours.set_ignore_missing(true);
            ours.run(&pool)
                .await
                .map_err(|e| AppError::Internal(format!("migrating {url}: {e}")))?;
            Queue::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(std::time::Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(|e| {
                    AppError::BadRequest(format!(
                        "--database {}: cannot connect ({e})",
                        redact_password(url)
                    ))
                })?;
            let mut ours = sqlx::migrate!("./migrations/postgres");
            ours.set_ignore_missing(true);
            ours.run(&pool).await.map_err(|e| {
                AppError::Internal(format!("migrating {}: {e}", redact_password(url)))
            })?;
            Queue::Postgres(pool)
        } else {
            return Err(AppError::BadRequest(format!(
                "--database {}: give sqlite://PATH or postgres://USER@HOST/DB",
                redact_password(url)
            )));
        };
        queue.migrate().await.map_err(|e| {
            AppError::Internal(format!(
                "migrating the job queue of {}: {e}",
                redact_password(url)
            ))
        })?;
        // The same database for our queries (SQLite: WAL is a property of the file, set above).
        let pool = AnyPoolOptions::new()
            .max_connections(if matches!(queue, Queue::Sqlite(_)) {
                4
            } else {
                8
            })
            .connect(url)
            .await?;
        Ok(Self { pool, queue })
    }

    pub async fn insert_asset(&self, a: &Asset) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO assets (id, status, created_at, original_name, size_bytes, sha256, probe, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
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
        let row = sqlx::query("SELECT * FROM assets WHERE id = $1")
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
        let done = sqlx::query("DELETE FROM assets WHERE id = $1")
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
        sqlx::query("UPDATE assets SET status = $1, progress = $2, error = $3 WHERE id = $4")
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
            sqlx::query("UPDATE assets SET progress = $1 WHERE id = $2 AND status = 'processing'")
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
            "UPDATE assets SET status = $1, progress = $2, error = NULL, outputs = $3 WHERE id = $4",
        )
        .bind(status)
        .bind(progress)
        .bind(json)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The job queues, in the same database.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    pub async fn audit(
        &self,
        client: &str,
        action: &str,
        asset: Option<&str>,
        detail: &str,
    ) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO audit (at, client, action, asset, detail) VALUES ($1, $2, $3, $4, $5)",
        )
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
        let rows = sqlx::query("SELECT * FROM audit ORDER BY seq DESC LIMIT $1")
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

fn asset_of(r: &AnyRow) -> Result<Asset, AppError> {
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

/// `url` with its password (if any) replaced by `***`, for messages.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(parts) => parts,
        None => return url.to_owned(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            redact_password("postgres://app:s3cr3t@db.example:5432/streamscope?sslmode=require"),
            "postgres://app:***@db.example:5432/streamscope?sslmode=require"
        );
        assert_eq!(
            redact_password("postgres://app@h/db"),
            "postgres://app@h/db"
        );
        assert_eq!(redact_password("sqlite://a.db"), "sqlite://a.db");
    }
}
