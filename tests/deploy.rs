//! `streamscope deploy DIR --bucket B --prefix P` against a real S3 endpoint (moto's server):
//! every file of the folder stored under the prefix with its path, its bytes, and the
//! Content-Type and Cache-Control a player and a CDN need (checked with a HEAD per object);
//! hidden files stay home; a folder that is not there and an endpoint that does not answer are
//! said in one sentence.

mod common;

use std::collections::BTreeMap;

use common::s3::{AWS_ENV, Moto, moto_server};
use common::*;

const BUCKET: &str = "streamscope-deploy";

#[test]
fn a_generated_clip_with_its_hls_is_deployed_typed_and_cached_per_file() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let Some(moto) = moto_server() else { return };
    let moto = Moto::start(&moto, BUCKET);
    let dir = tmp();
    let site = dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    streamscope_ok(&[
        "generate",
        "--out",
        path_str(&site.join("clip.mp4")),
        "--duration",
        "2s",
        "--size",
        "320x180",
        "--gop",
        "1s",
        "--hls",
        path_str(&site.join("hls")),
    ]);
    std::fs::write(
        site.join("report.html"),
        "<!doctype html><title>run</title>",
    )
    .unwrap();
    std::fs::write(site.join(".lock"), "12345").unwrap();

    let out = bin()
        .args([
            "deploy",
            path_str(&site),
            "--bucket",
            BUCKET,
            "--prefix",
            "/runs/2026/",
        ])
        .args([
            "--s3-endpoint",
            &moto.endpoint,
            "--cdn",
            "https://cdn.example/runs/2026/",
        ])
        .envs(AWS_ENV)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    // Exactly the folder's visible files, each under its own path, byte for byte in size.
    let mut local = BTreeMap::new();
    for e in files_under(&site) {
        let name = e.strip_prefix(&site).unwrap().display().to_string();
        if !name.starts_with('.') {
            local.insert(
                format!("runs/2026/{name}"),
                std::fs::metadata(&e).unwrap().len(),
            );
        }
    }
    let stored: BTreeMap<String, u64> = moto.list(BUCKET, "runs/2026/").into_iter().collect();
    assert_eq!(stored, local);
    assert!(stored.len() >= 5, "{stored:?}");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed.lines().count(), stored.len(), "{printed}");
    assert_eq!(
        moto.get(BUCKET, "runs/2026/hls/index.m3u8"),
        std::fs::read(site.join("hls/index.m3u8")).unwrap()
    );

    for key in stored.keys() {
        let h = moto.head(BUCKET, key);
        let ext = key.rsplit_once('.').map_or("", |(_, e)| e);
        let (ct, cc) = match ext {
            "m3u8" => ("application/vnd.apple.mpegurl", "public, max-age=2"),
            "ts" => ("video/mp2t", "public, max-age=31536000, immutable"),
            "m4s" => ("video/iso.segment", "public, max-age=31536000, immutable"),
            "mp4" => ("video/mp4", "public, max-age=31536000, immutable"),
            "html" => ("text/html; charset=utf-8", "public, max-age=60"),
            other => panic!("{key}: a file of .{other} was not expected"),
        };
        assert!(h.contains(&format!("content-type: {ct}")), "{key}: {h}");
        assert!(h.contains(&format!("cache-control: {cc}")), "{key}: {h}");
        assert!(!h.contains("application/octet-stream"), "{key}: {h}");
    }
    for entry in ["hls/index.m3u8", "clip.mp4", "report.html"] {
        assert!(
            stderr.contains(&format!("https://cdn.example/runs/2026/{entry}")),
            "{entry}: {stderr}"
        );
    }
    assert!(
        !stderr.contains(".ts\n"),
        "segments are not entry points: {stderr}"
    );

    // The assets stack's outputs (as `aws cloudformation describe-stacks` prints them) name
    // the bucket and the CloudFront domain.
    let outputs = dir.path().join("outputs.json");
    std::fs::write(
        &outputs,
        format!(
            r#"{{"Stacks":[{{"StackName":"streamscope-assets","Outputs":[
                {{"OutputKey":"BucketName","OutputValue":"{BUCKET}"}},
                {{"OutputKey":"DistributionDomainName","OutputValue":"d111.cloudfront.net"}}]}}]}}"#
        ),
    )
    .unwrap();
    let out = bin()
        .args(["deploy", path_str(&site), "--prefix", "from-stack"])
        .args(["--stack-outputs", path_str(&outputs)])
        .args(["--s3-endpoint", &moto.endpoint])
        .envs(AWS_ENV)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("https://d111.cloudfront.net/from-stack/hls/index.m3u8"),
        "{said}"
    );
    let h = moto.head(BUCKET, "from-stack/hls/index.m3u8");
    assert!(
        h.contains("content-type: application/vnd.apple.mpegurl"),
        "{h}"
    );

    // A folder that is not there, and an endpoint nobody answers: one sentence, exit 2.
    let out = bin()
        .args([
            "deploy",
            path_str(&dir.path().join("nope")),
            "--bucket",
            BUCKET,
        ])
        .args(["--s3-endpoint", &moto.endpoint])
        .envs(AWS_ENV)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a folder"));
    let nobody = format!("http://127.0.0.1:{}", free_port(false));
    let out = bin()
        .args([
            "deploy",
            path_str(&site),
            "--bucket",
            BUCKET,
            "--s3-endpoint",
            &nobody,
        ])
        .envs(AWS_ENV)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!("cannot list s3://{BUCKET}")),
        "{said}"
    );
}
