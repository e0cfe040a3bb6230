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
    #[arg(long, value_name = "B", required_unless_present = "stack_outputs")]
    bucket: Option<String>,
    /// Where under the bucket (e.g. refs/2026-12-01); the folder's files keep their paths.
    #[arg(long, value_name = "P", default_value = "")]
    prefix: String,
    /// An S3-compatible endpoint (e.g. http://127.0.0.1:9000).
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// The CDN's address for the prefix (e.g. https://d111.cloudfront.net): each playable
    /// entry point is printed under it.
    #[arg(long, value_name = "URL", conflicts_with = "stack_outputs")]
    cdn: Option<String>,
    /// The assets stack's outputs as `aws cloudformation describe-stacks --stack-name NAME`
    /// prints them (JSON; `-` reads stdin): the bucket from `BucketName`, the CloudFront URL
    /// from `DistributionDomainName` and --prefix.
    #[arg(long, value_name = "FILE", conflicts_with = "bucket")]
    stack_outputs: Option<PathBuf>,
}

/// The bucket and the distribution's domain in `describe-stacks` output.
fn stack_outputs(json: &str) -> Result<(String, String), String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("not describe-stacks JSON: {e}"))?;
    let stacks = v["Stacks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let [stack] = stacks else {
        return Err(format!(
            "{} stacks in it: describe one (--stack-name NAME)",
            stacks.len()
        ));
    };
    let output = |key: &str| {
        stack["Outputs"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["OutputKey"] == key)
            .and_then(|o| o["OutputValue"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                format!(
                    "stack {} has no output {key} (is it the assets stack, cloudformation/assets.yaml?)",
                    stack["StackName"].as_str().unwrap_or("?")
                )
            })
    };
    Ok((output("BucketName")?, output("DistributionDomainName")?))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (bucket, cdn) = match (&args.bucket, &args.stack_outputs) {
        (Some(b), _) => (b.clone(), args.cdn.clone()),
        (None, Some(file)) => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("reading stdin")?
            } else {
                std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read --stack-outputs {}", file.display()))?
            };
            match stack_outputs(&text) {
                Ok((bucket, domain)) => {
                    let prefix = args.prefix.trim_matches('/');
                    let cdn = match prefix {
                        "" => format!("https://{domain}"),
                        p => format!("https://{domain}/{p}"),
                    };
                    (bucket, Some(cdn))
                }
                Err(e) => {
                    return Ok(super::usage(&format!(
                        "--stack-outputs {}: {e}",
                        file.display()
                    )));
                }
            }
        }
        (None, None) => return Ok(super::usage(&"give --bucket B or --stack-outputs FILE")),
    };
    let storage = format!("s3://{bucket}/{}", args.prefix.trim_matches('/'));
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
    if let Some(cdn) = &cdn {
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

#[cfg(test)]
mod tests {
    use super::stack_outputs;

    #[test]
    fn the_bucket_and_the_cdn_come_from_the_stacks_outputs() {
        let json = r#"{"Stacks": [{"StackName": "streamscope-assets", "Outputs": [
            {"OutputKey": "BucketArn", "OutputValue": "arn:aws:s3:::refs-1"},
            {"OutputKey": "BucketName", "OutputValue": "refs-1"},
            {"OutputKey": "DistributionDomainName", "OutputValue": "d111.cloudfront.net"}]}]}"#;
        assert_eq!(
            stack_outputs(json),
            Ok(("refs-1".into(), "d111.cloudfront.net".into()))
        );
        let other = r#"{"Stacks": [{"StackName": "streamscope", "Outputs": [
            {"OutputKey": "ServiceUrl", "OutputValue": "https://x"}]}]}"#;
        assert!(
            stack_outputs(other)
                .unwrap_err()
                .contains("no output BucketName")
        );
        assert!(
            stack_outputs(r#"{"Stacks": []}"#)
                .unwrap_err()
                .contains("0 stacks")
        );
        assert!(
            stack_outputs("<html>")
                .unwrap_err()
                .contains("not describe-stacks JSON")
        );
    }
}
