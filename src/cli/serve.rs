//! `streamscope serve` (the reference service on a socket) and `streamscope worker` (its job
//! workers alone, on the same database and storage) until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;

use super::values;

/// What `serve` and `worker` share: where things are kept and what jobs do.
#[derive(clap::Args)]
pub struct Shared {
    /// Metadata database and job queues: sqlite://PATH (created if missing; never inside
    /// --storage).
    #[arg(
        long,
        value_name = "URL",
        default_value = "sqlite://streamscope.sqlite"
    )]
    database: String,
    /// Where uploads, everything made from them and measurement runs are kept: a folder, or
    /// s3://BUCKET[/PREFIX] (credentials and region from AWS_* variables or the machine's role).
    #[arg(
        long,
        value_name = "DIR|s3://BUCKET/PREFIX",
        default_value = "streamscope-data"
    )]
    storage: String,
    /// An S3-compatible endpoint for --storage s3://… (e.g. http://127.0.0.1:9000).
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// With S3 storage: the local folder for uploads arriving and jobs' scratch copies.
    #[arg(long, value_name = "DIR", default_value = "streamscope-scratch")]
    scratch: PathBuf,
    /// Rendition ladder, TOML: [[format]] tables with name, height, video_kbps, audio_kbps
    /// (default: 1080p 5000k, 720p 3000k, 540p 2000k, 360p 800k; AAC 128k).
    #[arg(long, value_name = "FILE")]
    ladder: Option<PathBuf>,
    /// POST asset.ready / asset.failed / measurement.passed / measurement.failed here
    /// (http://HOST[:PORT]/PATH), retried with backoff.
    #[arg(long, value_name = "URL")]
    webhook: Option<String>,
    /// Sign each webhook body with HMAC-SHA256 (header X-Streamscope-Signature: sha256=HEX).
    #[arg(
        long,
        value_name = "S",
        env = "STREAMSCOPE_WEBHOOK_SECRET",
        hide_env_values = true,
        requires = "webhook"
    )]
    webhook_secret: Option<String>,
    /// This process's location label (e.g. eu-west-1): besides the measurements any worker
    /// may run, its workers run those that ask for this location.
    #[arg(long, value_name = "LABEL")]
    location: Option<String>,
}

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    shared: Shared,
    /// Largest upload accepted (413 past it), e.g. 10GiB, 500M.
    #[arg(long, value_name = "SIZE", value_parser = values::byte_size, default_value = "10GiB")]
    max_upload: u64,
    /// In-process job workers: N transcodes and N measurements at a time (and N more
    /// measurements pinned to --location); 0 only serves.
    #[arg(long, value_name = "N", default_value_t = 1)]
    workers: usize,
    /// Shaka Packager, for encrypted DASH/HLS (POST /api/v1/assets/ID/encrypt); default:
    /// `packager` on PATH. Without one, the server serves everything else.
    #[arg(long, value_name = "PATH", env = "STREAMSCOPE_PACKAGER")]
    packager: Option<PathBuf>,
}

/// The job kinds `worker --jobs` takes.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum JobKind {
    Transcode,
    Measure,
}

#[derive(clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    shared: Shared,
    /// The job kinds to run.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "transcode,measure"
    )]
    jobs: Vec<JobKind>,
    /// Jobs of each kind at a time (and as many more measurements pinned to --location).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: u64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let packager = match &args.packager {
        Some(p) => Some(generator::process::locate("packager", Some(p))?),
        None => generator::process::locate("packager", None).ok(),
    };
    if packager.is_none() {
        tracing::warn!(
            "no Shaka Packager (--packager or `packager` on PATH): assets cannot be encrypted"
        );
    }
    let config = match config(&args.shared, args.workers, packager)? {
        Ok(mut c) => {
            c.listen = args.listen;
            c.max_upload = args.max_upload;
            c
        }
        Err(code) => return Ok(code),
    };
    run_until_stopped(|shutdown| {
        service::serve(
            config,
            |addr| {
                // The address on stdout (a script or test waits for this line), the rest in
                // the log.
                println!("serving on http://{addr}");
            },
            shutdown,
        )
    })
}

pub fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let workers = usize::try_from(args.concurrency).unwrap_or(usize::MAX);
    let config = match config(&args.shared, workers, None)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let jobs = service::Jobs {
        transcode: args.jobs.contains(&JobKind::Transcode),
        measure: args.jobs.contains(&JobKind::Measure),
    };
    // Started: a script or test waits for this line.
    println!(
        "worker: {} on {} at {}",
        args.jobs
            .iter()
            .map(|j| match j {
                JobKind::Transcode => "transcode",
                JobKind::Measure => "measure",
            })
            .collect::<Vec<_>>()
            .join(","),
        config.database,
        config.location.as_deref().unwrap_or("any location")
    );
    run_until_stopped(|shutdown| service::work(config, jobs, shutdown))
}

/// The service's configuration from the shared arguments (`Err`: a usage error's exit code).
fn config(
    a: &Shared,
    workers: usize,
    packager: Option<PathBuf>,
) -> anyhow::Result<Result<service::Config, ExitCode>> {
    let ffprobe = generator::process::locate("ffprobe", None)?;
    let ffmpeg = generator::process::locate("ffmpeg", None)?;
    let ladder = match &a.ladder {
        None => service::ladder::default_ladder(),
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read --ladder {}", file.display()))?;
            match service::ladder::parse_ladder(&text) {
                Ok(l) => l,
                Err(e) => {
                    return Ok(Err(super::usage(&format!(
                        "--ladder {}: {e}",
                        file.display()
                    ))));
                }
            }
        }
    };
    let webhook = match &a.webhook {
        None => None,
        Some(url) => match service::webhook::Webhook::new(url, a.webhook_secret.clone()) {
            Ok(w) => Some(w),
            Err(e) => return Ok(Err(super::usage(&e.to_string()))),
        },
    };
    if let Some(l) = &a.location
        && !service::measure::request::location_label(l)
    {
        return Ok(Err(super::usage(&format!(
            "--location {l:?}: 1–64 letters, digits, '-' or '_' (e.g. eu-west-1)"
        ))));
    }
    let storage = match service::storage::Location::parse(
        &a.storage,
        a.s3_endpoint.as_deref(),
        Some(&a.scratch),
    ) {
        Ok(s) => s,
        Err(e) => return Ok(Err(super::usage(&e))),
    };
    let measurer = super::measurer::Analyzer {
        ffmpeg: ffmpeg.clone(),
    };
    Ok(Ok(service::Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        database: a.database.clone(),
        storage,
        max_upload: 0,
        ffprobe,
        ffmpeg,
        ladder,
        workers,
        webhook,
        packager,
        measurer: Some(service::measure::Handle(std::sync::Arc::new(measurer))),
        location: a.location.clone(),
    }))
}

/// Run `body` on a multi-threaded runtime until it ends; Ctrl-C or SIGTERM resolves the
/// shutdown future it is given.
fn run_until_stopped<F, Fut>(body: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> Fut,
    Fut: std::future::Future<Output = Result<(), service::AppError>>,
{
    let stop = super::interrupt_flag()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let shutdown = Box::pin(async move {
        while !stop.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tracing::info!("stopping: finishing the requests and jobs in flight");
    });
    let result = runtime.block_on(body(shutdown));
    // A job's blocking thread may still be reading ffmpeg: its child dies with us.
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(service::AppError::BadRequest(why)) => Ok(super::usage(&why)),
        Err(e) => Err(e).context("serve"),
    }
}
