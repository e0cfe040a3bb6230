//! `streamscope serve`, the reference service: `app(state)` is the whole HTTP surface (tests
//! drive it with `oneshot` as well as over a socket), `serve` runs it on a listener.
//! Built so far: uploads streamed to storage, probed by ffprobe, assets in SQLite, an audit
//! log, a persistent transcode job per upload (timecoded master, ladder, DASH + HLS,
//! thumbnails), the files served from a folder or S3, webhooks, tus uploads and the pages.

pub mod audio_only;
pub mod db;
pub mod encrypt;
pub mod error;
pub mod files;
pub mod jobs;
pub mod ladder;
pub mod measure;
pub mod pages;
pub mod pipeline;
pub mod probe;
pub mod queue;
pub mod renditions;
pub mod routes;
pub mod storage;
pub mod storyboard;
pub mod tus;
pub mod upload;
pub mod webhook;

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};

pub use error::AppError;

/// What `serve` is started with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// `sqlite://PATH`.
    pub database: String,
    /// Where assets are kept: a folder, or S3 (never holds the database).
    pub storage: storage::Location,
    /// Largest upload accepted, bytes.
    pub max_upload: u64,
    /// The ffprobe to run.
    pub ffprobe: PathBuf,
    pub ffmpeg: PathBuf,
    /// The rendition ladder (`--ladder FILE`, else the default).
    pub ladder: Vec<ladder::Format>,
    /// In-process job workers (0: only serve).
    pub workers: usize,
    /// Where `asset.ready` / `asset.failed` go.
    pub webhook: Option<webhook::Webhook>,
    /// Shaka Packager (`--packager`), for encrypted DASH/HLS.
    pub packager: Option<PathBuf>,
    /// The analyzer for measurement jobs (none: measurements wait for a worker that has one).
    pub measurer: Option<measure::Handle>,
    /// This server's location label: its workers also run the measurements pinned to it.
    pub location: Option<String>,
}

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub db: db::Db,
    pub storage: storage::Storage,
    pub max_upload: u64,
    pub ffprobe: PathBuf,
    pub tools: pipeline::Tools,
    pub webhook: Option<webhook::Webhook>,
    /// The resumable-upload (tus) protocol handler over `storage`'s `tus/` folder.
    pub tus: tus::Tus,
    /// What runs measurement jobs here, if anything.
    pub measurer: Option<measure::Handle>,
}

impl AppState {
    /// The tus uploads' folder, as a store.
    pub fn tus_store(&self) -> tus::TusStore {
        tus::TusStore::new(self.storage.tus_dir())
    }

    /// Open the database (migrated) and the storage folder of `config`.
    pub async fn open(config: &Config) -> Result<Self, AppError> {
        let storage = storage::Storage::open(&config.storage).await?;
        if let Some(db) = config.database.strip_prefix("sqlite://")
            && let (Ok(db), Ok(root)) =
                (std::path::absolute(db), std::path::absolute(storage.root()))
            && db.starts_with(&root)
        {
            return Err(AppError::BadRequest(format!(
                "--database {} is inside {}: the database must never be served",
                config.database,
                storage.root().display()
            )));
        }
        Ok(Self {
            db: db::Db::open(&config.database).await?,
            max_upload: config.max_upload,
            ffprobe: config.ffprobe.clone(),
            tools: pipeline::Tools {
                ffmpeg: config.ffmpeg.clone(),
                ffprobe: config.ffprobe.clone(),
                ladder: config.ladder.clone(),
                packager: config.packager.clone(),
            },
            webhook: config.webhook.clone(),
            tus: tus::handler(storage.tus_dir(), config.max_upload),
            measurer: config.measurer.clone(),
            storage,
        })
    }
}

/// The service's routes.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route("/assets/{id}", get(pages::asset))
        .route("/static/{name}", get(pages::file))
        .route("/healthz", get(routes::healthz))
        .route(
            "/api/v1/assets",
            get(routes::list_assets)
                .post(routes::create_asset)
                // The upload enforces `--max-upload` itself, while it streams.
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/v1/assets/{id}",
            get(routes::get_asset).delete(routes::delete_asset),
        )
        .route("/api/v1/assets/{id}/renditions", post(renditions::add))
        .route("/api/v1/assets/{id}/encrypt", post(encrypt::encrypt))
        .route(
            "/api/v1/assets/{id}/renditions/{name}",
            get(files::download_rendition),
        )
        .route(
            "/api/v1/uploads",
            any(tus::collection).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/v1/uploads/{id}",
            any(tus::member).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/v1/measurements",
            get(measure::routes::list).post(measure::routes::create),
        )
        .route("/api/v1/measurements/compare", get(measure::compare::json))
        .route(
            "/api/v1/measurements/{id}",
            get(measure::routes::show).delete(measure::routes::delete),
        )
        .route("/measurements", get(pages::measurements))
        .route("/measurements/compare", get(measure::compare::page))
        .route("/api/v1/audit", get(routes::audit_log))
        .route("/api/v1/openapi.json", get(pages::openapi))
        .route("/files/{id}/{*path}", get(files::serve_file))
        .with_state(state)
}

/// Serve `app` on `config.listen` until `shutdown` resolves, with `config.workers` of each
/// job kind in-process; returns the bound address through `bound` first (port 0 picks a free
/// one).
pub async fn serve(
    config: Config,
    bound: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let state = AppState::open(&config).await?;
    tus::recover(&state).await;
    jobs::requeue_uploaded(&state).await?;
    encrypt::recover(&state).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| AppError::io(format!("listening on {}", config.listen), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| AppError::io("reading the bound address", e))?;
    bound(addr);
    let stop_rx = stop_on(shutdown);
    let background = tokio::spawn(run_jobs(
        state.clone(),
        config.clone(),
        Jobs::ALL,
        stop_rx.clone(),
    ));
    let served = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let mut rx = stop_rx;
        let _ = rx.wait_for(|s| *s).await;
    })
    .await
    .map_err(|e| AppError::io(format!("serving on {addr}"), e));
    let _ = background.await;
    served
}

/// Which job kinds a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jobs {
    pub transcode: bool,
    pub measure: bool,
}

impl Jobs {
    pub const ALL: Jobs = Jobs {
        transcode: true,
        measure: true,
    };
}

/// `streamscope worker`: no HTTP, only `config.workers` workers of each kind in `jobs` on the
/// shared database and storage (and the webhook deliveries, with a webhook) until `shutdown`.
/// Each stops at the shutdown: a transcode finishes, a measurement stops and keeps its rows.
pub async fn work(
    config: Config,
    jobs: Jobs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let state = AppState::open(&config).await?;
    if jobs.measure && state.measurer.is_none() {
        return Err(AppError::BadRequest(
            "this worker has no analyzer to run measurements with".into(),
        ));
    }
    run_jobs(state, config, jobs, stop_on(shutdown)).await;
    Ok(())
}

/// A watch that turns true once `shutdown` resolves: one stop for the server and its workers.
fn stop_on(
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::sync::watch::Receiver<bool> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    stop_rx
}

/// Run the job workers of `jobs` and the webhook deliveries until `stop`.
async fn run_jobs(
    state: AppState,
    config: Config,
    jobs: Jobs,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut running = Vec::new();
    if jobs.transcode {
        running.push(tokio::spawn(jobs::run_workers(
            state.clone(),
            config.workers,
            stop.clone(),
        )));
    }
    if jobs.measure
        && let Some(m) = state.measurer.clone()
    {
        running.push(tokio::spawn(measure::job::run_workers(
            state.clone(),
            m.0,
            config.workers,
            config.location.clone(),
            stop.clone(),
        )));
    }
    if let Some(hook) = state.webhook.clone() {
        running.push(tokio::spawn(webhook::run_worker(
            state.db.queue().clone(),
            hook,
            stop.clone(),
        )));
    }
    for r in running {
        let _ = r.await;
    }
}

/// Now, UTC, RFC 3339 with milliseconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
