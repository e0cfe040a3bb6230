//! Past one machine, for real: one `serve --workers 0` and two `streamscope worker`s with
//! different locations on a shared PostgreSQL (Debian's, started here) and a real S3 endpoint
//! (moto's server). A worker killed mid-transcode leaves its job to the other; transcodes and
//! measurements all complete, each worker does some, pinned measurements run where asked, and
//! every object in the bucket has its Content-Type and Cache-Control.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::postgres::{Postgres, bindir};
use common::s3::{AWS_ENV, Moto, moto_server};
use common::serve::*;
use common::*;

const BUCKET: &str = "refs";

/// A `streamscope worker` with its log in `log`, killed on drop (as `Serve`).
fn worker(args: &[String], log: &Path) -> Serve {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    worker_with(&args, &AWS_ENV, std::fs::File::create(log).unwrap().into())
}

fn ready_in(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches(" is ready")
        .count()
}

fn measured(url: &str, id: &str) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let (_, m) = curl(&[&format!("{url}/api/v1/measurements/{id}")]);
        if ["done", "error", "interrupted"].contains(&m["status"].as_str().unwrap_or(""))
            || started.elapsed() > Duration::from_secs(120)
        {
            return m;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn one_server_and_two_workers_share_postgres_and_s3() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let Some(pg_bin) = required(bindir(), "PostgreSQL (postgresql-15)") else {
        return;
    };
    let Some(moto) = moto_server() else { return };
    let pg = Postgres::start(&pg_bin);
    let moto = Moto::start(&moto, BUCKET);
    let dir = tmp();
    let clip = talk_clip(dir.path(), &["-b:v", "800k", "-ac", "1"]);
    let ladder = dir.path().join("ladder.toml");
    std::fs::write(
        &ladder,
        "[[format]]\nname = \"180p\"\nheight = 180\nvideo_kbps = 250\n",
    )
    .unwrap();
    let storage = format!("s3://{BUCKET}/team-a");
    // The database, the bucket and the ladder, with a scratch folder of its own and `extra`.
    let args = |scratch: &str, extra: &[&str]| -> Vec<String> {
        let scratch = dir.path().join(scratch).display().to_string();
        let mut v: Vec<String> = [
            "--database",
            &pg.url,
            "--storage",
            &storage,
            "--s3-endpoint",
            &moto.endpoint,
            "--scratch",
            &scratch,
            "--ladder",
            path_str(&ladder),
        ]
        .map(str::to_owned)
        .to_vec();
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    };
    let serve_args = args("s0", &["--workers", "0"]);
    let serve_args: Vec<&str> = serve_args.iter().map(String::as_str).collect();
    let s = serve_env(&serve_args, &AWS_ENV);
    let eu = args("eu", &["--location", "eu-west-1"]);
    let us = args("us", &["--location", "us-east-1"]);

    // A worker killed (SIGKILL) mid-transcode: the other takes the job once its lease lapses.
    let eu_log = dir.path().join("eu-1.log");
    let mut first = worker(&eu, &eu_log);
    let (code, a) = upload(&s.url, &clip);
    assert_eq!(code, 201, "{a}");
    let killed_asset = a["id"].as_str().unwrap().to_owned();
    wait_status(&s.url, &killed_asset, "processing", Duration::from_secs(30));
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let us_log = dir.path().join("us.log");
    let _us = worker(&us, &us_log);
    let a = settle(&s.url, &killed_asset, Duration::from_secs(120));
    assert_eq!(a["status"], "ready", "{a}");
    assert_eq!(ready_in(&eu_log), 0, "the killed worker finished nothing");
    assert_eq!(ready_in(&us_log), 1, "the other worker finished it");

    // Five more uploads with both workers running: all ready, each worker made some.
    let eu_log = dir.path().join("eu-2.log");
    let _eu = worker(&eu, &eu_log);
    let mut ids = vec![killed_asset.clone()];
    for _ in 0..5 {
        let (code, a) = upload(&s.url, &clip);
        assert_eq!(code, 201, "{a}");
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        let a = settle(&s.url, id, Duration::from_secs(180));
        assert_eq!(a["status"], "ready", "{a}");
    }
    let (_, list) = curl(&[&format!("{}/api/v1/assets", s.url)]);
    assert_eq!(
        list.as_array().unwrap().len(),
        6,
        "no asset lost or doubled"
    );
    let (by_eu, by_us) = (ready_in(&eu_log), ready_in(&us_log));
    assert_eq!(by_eu + by_us, 6, "each transcode finished once");
    assert!(by_eu >= 1 && by_us >= 2, "eu {by_eu}, us {by_us}");

    // Four measurements: two pinned to eu-west-1, one to us-east-1, one anywhere. The stream
    // is a rendition the service serves.
    let stream = format!("{}/files/{}/r/180p.mp4", s.url, ids[1]);
    let mut runs = Vec::new();
    for location in [
        Some("eu-west-1"),
        Some("eu-west-1"),
        Some("us-east-1"),
        None,
    ] {
        let place = location.map_or(String::new(), |l| format!(r#","location":"{l}""#));
        let body =
            format!(r#"{{"live":[{{"name":"cdn","url":"{stream}"}}],"duration":"2s"{place}}}"#);
        let (code, m) = curl(&["-d", &body, &format!("{}/api/v1/measurements", s.url)]);
        assert_eq!(code, 202, "{m}");
        runs.push((m["id"].as_str().unwrap().to_owned(), location));
    }
    for (id, location) in &runs {
        let m = measured(&s.url, id);
        assert_eq!(m["status"], "done", "{m}");
        let worker = m["worker"].as_str().unwrap();
        if let Some(l) = location {
            assert!(worker.starts_with(&format!("measure@{l}-")), "{l}: {m}");
        }
        // The run folder is in the bucket, typed.
        let h = moto.head(BUCKET, &format!("team-a/assets/{id}/run/report.html"));
        assert!(h.contains("content-type: text/html; charset=utf-8"), "{h}");
    }

    // Every object in the bucket has its type and caching.
    let objects = moto.list(BUCKET, "team-a/");
    assert!(objects.len() > 6 * 5, "{objects:?}");
    for (key, _) in &objects {
        let h = moto.head(BUCKET, key);
        let name = key.rsplit('/').next().unwrap();
        let (ct, cc) = match name.rsplit_once('.').map_or("", |(_, e)| e) {
            "m3u8" => ("application/vnd.apple.mpegurl", "max-age=2"),
            "mpd" => ("application/dash+xml", "max-age=2"),
            "png" => ("image/png", "max-age=60"),
            "svg" => ("image/svg+xml", "max-age=60"),
            "m4s" => ("video/iso.segment", "immutable"),
            "mp4" => ("video/mp4", "immutable"),
            "jpg" => ("image/jpeg", "immutable"),
            "vtt" => ("text/vtt", "immutable"),
            "html" => ("text/html; charset=utf-8", "max-age=60"),
            "csv" => ("text/csv; charset=utf-8", "max-age=60"),
            "json" => ("application/json", "max-age=60"),
            _ if name == "source" => ("application/octet-stream", "immutable"),
            e => panic!("an object of a kind nobody expected: {key} ({e})"),
        };
        assert!(h.contains(&format!("content-type: {ct}")), "{key}: {h}");
        assert!(
            h.contains("cache-control: public, ") && h.contains(cc),
            "{key}: {h}"
        );
    }
}

#[test]
fn postgres_over_tls_only_and_a_database_that_is_not_there() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let Some(pg_bin) = required(bindir(), "PostgreSQL (postgresql-15)") else {
        return;
    };
    let pg = Postgres::start_tls(&pg_bin);
    let dir = tmp();
    let storage = dir.path().join("data").display().to_string();
    // The server refuses connections without TLS: one sentence, exit 2, no password shown.
    let plain = pg.url.replace("streamscope@", "streamscope:hunter2@") + "?sslmode=disable";
    let out = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &plain])
        .args(["--storage", &storage])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("cannot connect"), "{said}");
    assert!(
        said.contains("streamscope:***@") && !said.contains("hunter2"),
        "{said}"
    );
    // Over TLS (rustls; `require` encrypts without checking the self-signed certificate):
    // migrated, serving, an asset listed from PostgreSQL.
    let tls = format!("{}?sslmode=require", pg.url);
    let s = serve_with(&["--database", &tls, "--storage", &storage, "--workers", "0"]);
    let (code, list) = curl(&[&format!("{}/api/v1/assets", s.url)]);
    assert_eq!((code, list), (200, serde_json::json!([])));
    let (code, _) = curl(&[&format!("{}/healthz", s.url)]);
    assert_eq!(code, 200);
    // Nobody there: said at start.
    let nobody = format!(
        "postgres://streamscope@127.0.0.1:{}/postgres",
        free_port(false)
    );
    let out = bin()
        .args(["worker", "--database", &nobody, "--storage", &storage])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot connect"),
        "{out:?}"
    );
}
