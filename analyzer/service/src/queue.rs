//! The persistent job queues on either database: apalis's SQLite backend (one machine) or its
//! PostgreSQL backend (servers and workers on many machines) behind one `push` and one worker
//! runner (`run_worker!`), so the transcode, measurement and webhook jobs are written once.

use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::{PgPool, PostgresStorage};
use apalis_sqlite::{SqlitePool, SqliteStorage};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// The database the queues live in.
#[derive(Debug, Clone)]
pub enum Queue {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// One queue: its name and how its workers show they are alive (a worker silent for
/// `missed` beats has died; its job goes to another).
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub heartbeat: Duration,
    pub missed: usize,
}

impl Spec {
    /// `name`, beating every 2 s, dead after 3 missed beats; one job fetched at a time, so
    /// none is held locked while another runs.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            heartbeat: Duration::from_secs(2),
            missed: 3,
        }
    }

    pub fn sqlite(&self) -> apalis_sqlite::Config {
        apalis_sqlite::Config::default()
            .queue(self.name.clone())
            .heartbeat_interval(self.heartbeat)
            .missed_heartbeats(self.missed)
            .batch_size(1)
    }

    pub fn postgres(&self) -> apalis_postgres::Config {
        apalis_postgres::Config::default()
            .queue(self.name.clone())
            .heartbeat_interval(self.heartbeat)
            .missed_heartbeats(self.missed)
            .batch_size(1)
    }
}

impl Queue {
    /// Create or update apalis's tables (beside ours, each migrator ignoring the other's).
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        let mut m = match self {
            Self::Sqlite(_) => SqliteStorage::<()>::migrations(),
            Self::Postgres(_) => PostgresStorage::<()>::migrations(),
        };
        m.set_ignore_missing(true);
        match self {
            Self::Sqlite(p) => m.run(p).await,
            Self::Postgres(p) => m.run(p).await,
        }
    }

    /// Queue `job` on `spec`'s queue, to be tried `attempts` times; `what` names it in an
    /// error. With a `key`, a job already queued (or run) under that key makes this a no-op
    /// (apalis's idempotency key: a unique index on the jobs table).
    pub async fn push<T>(
        &self,
        spec: &Spec,
        job: T,
        attempts: usize,
        key: Option<&str>,
        what: &str,
    ) -> Result<(), AppError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static,
    {
        let failed = |e: String| AppError::Internal(format!("queueing {what}: {e}"));
        macro_rules! push_with {
            ($storage:expr) => {{
                let mut storage = $storage;
                let task = TaskBuilder::new(job).max_attempts(attempts);
                let task = match key {
                    Some(k) => task.idempotency_key(k),
                    None => task,
                }
                .build();
                storage
                    .push_task(task)
                    .await
                    .map_err(|e| failed(e.to_string()))
            }};
        }
        match self {
            Self::Sqlite(p) => push_with!(SqliteStorage::<T>::new(p).with_config(spec.sqlite())),
            Self::Postgres(p) => {
                push_with!(PostgresStorage::<T>::new(p).with_config(spec.postgres()))
            }
        }
    }
}

/// Run one worker named `$name` for jobs of type `$ty` on `$spec`'s queue of `$queue` with
/// `$data` and `$handler`, one job at a time, until `$stop` (a watch) turns true; a failure is
/// logged. SQLite is polled every `$poll`; PostgreSQL also wakes at once on LISTEN/NOTIFY.
#[macro_export]
macro_rules! run_worker {
    ($queue:expr, $spec:expr, $ty:ty, $name:expr, $data:expr, $handler:expr, $poll:expr, $stop:expr) => {{
        use apalis::prelude::*;
        let mut stop = $stop;
        let signal = async move {
            let _ = stop.wait_for(|s| *s).await;
            Ok::<(), std::io::Error>(())
        };
        let name: String = $name;
        let ran = match $queue {
            $crate::queue::Queue::Sqlite(p) => $crate::worker_on!(
                apalis_sqlite::SqliteStorage::<$ty>::new(&p)
                    .with_config($spec.sqlite())
                    .poll_with_interval($poll),
                name.clone(),
                $data,
                $handler,
                signal
            ),
            $crate::queue::Queue::Postgres(p) => $crate::worker_on!(
                apalis_postgres::PostgresStorage::<$ty>::new(&p)
                    .with_config($spec.postgres())
                    .with_pubsub(),
                name.clone(),
                $data,
                $handler,
                signal
            ),
        };
        if let Err(e) = ran {
            tracing::error!("worker {name} stopped: {e}");
        }
    }};
}

/// `run_worker!`'s worker on one backend: one job at a time, until `signal` (expanded inside
/// `run_worker!`, where apalis's prelude is in scope).
#[doc(hidden)]
#[macro_export]
macro_rules! worker_on {
    ($backend:expr, $name:expr, $data:expr, $handler:expr, $signal:expr) => {
        WorkerBuilder::new($name)
            .backend($backend)
            .concurrency(1)
            .data($data)
            .build($handler)
            .run_until($signal)
            .await
            .map_err(|e| e.to_string())
    };
}
