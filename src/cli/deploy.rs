//! `streamscope deploy DIR --bucket B`: a folder copied to S3 (or an S3-compatible store),
//! each object typed and cached by its name, so a CDN in front of the bucket serves a player
//! what it expects.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// The folder to copy (a generated clip with --hls, an asset's outputs, a run folder).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// The bucket (credentials and region from AWS_* variables or the machine's role).
    #[arg(long, value_name = "B")]
    bucket: String,
    /// Where under the bucket (e.g. refs/2026-12-01); the folder's files keep their paths.
    #[arg(long, value_name = "P", default_value = "")]
    prefix: String,
    /// An S3-compatible endpoint (e.g. http://127.0.0.1:9000).
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// The CDN's address for the prefix (e.g. https://d111.cloudfront.net): each playable
    /// entry point is printed under it.
    #[arg(long, value_name = "URL")]
    cdn: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let storage = format!("s3://{}/{}", args.bucket, args.prefix.trim_matches('/'));
    let (bucket, prefix) =
        match service::storage::Location::parse(&storage, args.s3_endpoint.as_deref(), None) {
            Ok(service::storage::Location::S3 { bucket, prefix, .. }) => (bucket, prefix),
            Ok(_) => unreachable!("an s3:// location"),
            Err(e) => return Ok(super::usage(&e.replace("--storage ", ""))),
        };
    if !args.dir.is_dir() {
        return Ok(super::usage(&format!(
            "{} is not a folder",
            args.dir.display()
        )));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let deployed = runtime.block_on(async {
        let remote =
            service::storage::s3::Remote::open(&bucket, &prefix, args.s3_endpoint.as_deref())
                .await?;
        let files = service::storage::deploy::deploy(&remote, &args.dir).await?;
        Ok::<_, service::AppError>((remote, files))
    });
    let (remote, files) = match deployed {
        Ok(r) => r,
        Err(service::AppError::BadRequest(why)) => return Ok(super::usage(&why)),
        Err(e) => {
            return Err(e).with_context(|| format!("deploying {}", args.dir.display()));
        }
    };
    let bytes: u64 = files.iter().map(|f| f.bytes).sum();
    for f in &files {
        println!(
            "{}\t{}\t{}\t{}",
            remote.key_of(&f.name),
            f.bytes,
            f.content_type,
            f.cache_control
        );
    }
    eprintln!(
        "deployed {} files ({:.1} MB) to {}",
        files.len(),
        bytes as f64 / 1e6,
        remote.url()
    );
    if let Some(cdn) = &args.cdn {
        let cdn = cdn.trim_end_matches('/');
        for f in files.iter().filter(|f| entry_point(&f.name)) {
            eprintln!("  {cdn}/{}", f.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What a user opens: playlists' masters, manifests, pages and whole files.
fn entry_point(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    matches!(
        file,
        "master.m3u8" | "index.m3u8" | "report.html" | "index.html"
    ) || file.ends_with(".mpd")
        || (file.ends_with(".mp4") && !name.contains('/'))
}
