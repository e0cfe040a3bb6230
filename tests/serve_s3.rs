//! `serve --storage s3://bucket/prefix` against a real S3 endpoint (moto's server): the upload
//! and everything made of it stored as objects with their Content-Type and Cache-Control,
//! served back through `/files` (whole and in byte ranges), a rendition added later sending
//! back only what changed, nothing left in the local scratch, a delete leaving no object, and
//! an endpoint that does not answer said at start.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::s3::{AWS_ENV, Moto, moto_server};
use common::serve::*;
use common::*;

const BUCKET: &str = "streamscope-refs";

/// The `Last-Modified` header of an object.
/// The body of a GET of `url`, as text.
fn fetch(url: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-sSf", url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn last_modified(headers: &str) -> String {
    headers
        .lines()
        .find_map(|l| l.strip_prefix("last-modified:"))
        .unwrap_or_else(|| panic!("no last-modified in {headers}"))
        .trim()
        .to_owned()
}

#[test]
fn assets_live_in_s3_with_their_headers_and_are_served_ranged_updated_and_deleted() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let Some(moto) = moto_server() else { return };
    let Some(packager) = packager() else { return };
    let moto = Moto::start(&moto, BUCKET);
    let dir = tmp();
    let clip = lavfi_clip(
        &dir.path().join("clip.mp4"),
        "testsrc2=size=320x180:rate=25",
        "2",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=f=440:r=48000",
            "-t",
            "2",
            "-c:a",
            "aac",
            "-b:v",
            "600k",
            "-preset",
            "ultrafast",
        ],
    );
    let ladder = dir.path().join("ladder.toml");
    std::fs::write(
        &ladder,
        "[[format]]\nname = \"180p\"\nheight = 180\nvideo_kbps = 300\n",
    )
    .unwrap();
    let scratch = dir.path().join("scratch");
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let storage = format!("s3://{BUCKET}/team-a");
    let s = serve_env(
        &[
            "--database",
            &db,
            "--storage",
            &storage,
            "--s3-endpoint",
            &moto.endpoint,
            "--scratch",
            path_str(&scratch),
            "--ladder",
            path_str(&ladder),
            "--packager",
            path_str(&packager),
        ],
        &AWS_ENV,
    );
    let (code, a) = upload(&s.url, &clip);
    assert_eq!(code, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_owned();
    let a = settle(&s.url, &id, Duration::from_secs(90));
    assert_eq!(a["status"], "ready", "{a}");

    // The upload and every output are objects under the prefix, nothing is kept locally.
    let prefix = format!("team-a/assets/{id}/");
    let objects: BTreeMap<String, u64> = moto.list(BUCKET, &prefix).into_iter().collect();
    let rel: Vec<&str> = objects.keys().map(|k| &k[prefix.len()..]).collect();
    for want in [
        "source",
        "reference.mp4",
        "r/180p.mp4",
        "stream/master.m3u8",
        "stream/manifest.mpd",
        "thumbs/poster.jpg",
        "thumbs/storyboard.vtt",
    ] {
        assert!(rel.contains(&want), "{want} missing from {rel:?}");
    }
    assert!(rel.iter().any(|r| r.ends_with(".m4s")), "{rel:?}");
    assert_eq!(
        moto.get(BUCKET, &format!("{prefix}source")),
        std::fs::read(&clip).unwrap(),
        "the stored upload is the uploaded file"
    );
    let left = files_under(&scratch);
    assert!(
        left.is_empty(),
        "the local folder keeps nothing once the job is done: {left:?}"
    );

    // Each object carries its type and caching, as a CDN in front of the bucket needs them.
    for r in &rel {
        let h = moto.head(BUCKET, &format!("{prefix}{r}"));
        let (ct, cc) = match r.rsplit_once('.').map_or("", |(_, e)| e) {
            "m3u8" => ("application/vnd.apple.mpegurl", "max-age=2"),
            "mpd" => ("application/dash+xml", "max-age=2"),
            "m4s" => ("video/iso.segment", "immutable"),
            "mp4" => ("video/mp4", "immutable"),
            "jpg" => ("image/jpeg", "immutable"),
            "vtt" => ("text/vtt", "immutable"),
            _ => ("application/octet-stream", "immutable"),
        };
        assert!(h.contains(&format!("content-type: {ct}")), "{r}: {h}");
        assert!(
            h.contains("cache-control: public, ") && h.contains(cc),
            "{r}: {h}"
        );
    }

    // Served back through the service: the same bytes, whole and in a byte range.
    let reference = moto.get(BUCKET, &format!("{prefix}reference.mp4"));
    let url = format!("{}/files/{id}/reference.mp4", s.url);
    let whole = Command::new("curl").args(["-sSf", &url]).output().unwrap();
    assert_eq!(whole.stdout, reference);
    let part = Command::new("curl")
        .args(["-sSf", "-D", "-", "-H", "Range: bytes=100-1099", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&part.stdout).to_lowercase();
    assert!(text.starts_with("http/1.1 206"), "{text}");
    assert!(
        text.contains(&format!(
            "content-range: bytes 100-1099/{}",
            reference.len()
        )),
        "{text}"
    );
    assert!(part.stdout.ends_with(&reference[100..1100]));
    let h = head(&format!("{}/files/{id}/stream/master.m3u8", s.url));
    assert!(h.contains("application/vnd.apple.mpegurl"), "{h}");
    let (code, _) = curl(&[&format!("{}/files/{id}/source", s.url)]);
    assert_eq!(code, 404, "the upload itself is never served");
    let (code, _) = curl(&[&format!("{}/files/{id}/r/none.mp4", s.url)]);
    assert_eq!(code, 404);

    // A rendition added later: only what changed goes back (the master and the 180p are the
    // objects they were), the presentation lists it, nothing stale stays.
    let before_ref = last_modified(&moto.head(BUCKET, &format!("{prefix}reference.mp4")));
    let before_180 = last_modified(&moto.head(BUCKET, &format!("{prefix}r/180p.mp4")));
    std::thread::sleep(Duration::from_millis(1100)); // Last-Modified counts seconds
    let (code, e) = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"name":"120p","height":120,"video_kbps":150}"#,
        &format!("{}/api/v1/assets/{id}/renditions", s.url),
    ]);
    assert_eq!(code, 202, "{e}");
    let started = Instant::now();
    let a = loop {
        let (_, a) = curl(&[&format!("{}/api/v1/assets/{id}", s.url)]);
        let names: Vec<String> = a["renditions"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|x| x["name"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default();
        if names.contains(&"120p".to_owned()) || a["error"].is_string() {
            break a;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{a}");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(a["error"].is_null(), "{a}");
    let after: BTreeMap<String, u64> = moto.list(BUCKET, &prefix).into_iter().collect();
    assert!(
        after.contains_key(&format!("{prefix}r/120p.mp4")),
        "{after:?}"
    );
    let master =
        String::from_utf8(moto.get(BUCKET, &format!("{prefix}stream/master.m3u8"))).unwrap();
    assert!(
        master.contains("RESOLUTION=212x120") || master.contains("x120"),
        "{master}"
    );
    assert_eq!(
        last_modified(&moto.head(BUCKET, &format!("{prefix}reference.mp4"))),
        before_ref
    );
    assert_eq!(
        last_modified(&moto.head(BUCKET, &format!("{prefix}r/180p.mp4"))),
        before_180
    );
    // Nothing stale: every object of the presentation is named by its playlists.
    let playlists: String = after
        .keys()
        .filter(|k| k.ends_with(".m3u8"))
        .map(|k| String::from_utf8(moto.get(BUCKET, k)).unwrap())
        .collect();
    for k in after.keys() {
        let r = &k[prefix.len()..];
        let name = r.rsplit('/').next().unwrap();
        if r.starts_with("stream/") && name != "master.m3u8" && name != "manifest.mpd" {
            assert!(playlists.contains(name), "{r} is named by no playlist");
        }
        assert!(
            !r.starts_with("stream.") && r != "source.part",
            "{r}: a job's working folder reached the bucket"
        );
    }
    assert!(
        files_under(&scratch).is_empty(),
        "{:?}",
        files_under(&scratch)
    );

    // Encrypted: the job's scratch copy has the renditions, the bucket gets enc/KID/… with
    // their types and caching; a second encryption's objects replace the first's.
    for scheme in ["cenc", "cbcs"] {
        let (code, r) = curl(&[
            "-X",
            "POST",
            "--data",
            &format!(r#"{{"scheme":"{scheme}"}}"#),
            &format!("{}/api/v1/assets/{id}/encrypt", s.url),
        ]);
        assert_eq!(code, 202, "{r}");
        let kid = r["kid"].as_str().unwrap().to_owned();
        let started = Instant::now();
        let a = loop {
            let (_, a) = curl(&[&format!("{}/api/v1/assets/{id}", s.url)]);
            if a["status"] == "ready" && a["encrypted"]["status"] != "processing" {
                break a;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{a}");
            std::thread::sleep(Duration::from_millis(250));
        };
        assert_eq!(a["encrypted"]["status"], "ready", "{a}");
        let enc: Vec<String> = moto
            .list(BUCKET, &format!("{prefix}enc/"))
            .into_iter()
            .map(|(k, _)| k[prefix.len()..].to_owned())
            .collect();
        assert!(
            enc.iter().all(|k| k.starts_with(&format!("enc/{kid}/"))),
            "{scheme}: {enc:?}"
        );
        for (key, kind) in [
            (format!("enc/{kid}/r/180p.mp4"), "video/mp4"),
            (format!("enc/{kid}/r/120p.mp4"), "video/mp4"),
            (
                format!("enc/{kid}/stream/manifest.mpd"),
                "application/dash+xml",
            ),
            (format!("enc/{kid}/stream/180p-1.m4s"), "video/iso.segment"),
        ] {
            let h = moto.head(BUCKET, &format!("{prefix}{key}")).to_lowercase();
            assert!(h.contains(&format!("content-type: {kind}")), "{key}: {h}");
        }
        let mpd = fetch(&format!(
            "{}{}",
            s.url,
            a["encrypted"]["dash"].as_str().unwrap()
        ));
        assert!(mpd.contains(&format!(r#"value="{scheme}""#)), "{mpd}");
    }
    assert!(
        files_under(&scratch).is_empty(),
        "{:?}",
        files_under(&scratch)
    );

    // Deleted: no object of it is left.
    let (code, _) = curl(&["-X", "DELETE", &format!("{}/api/v1/assets/{id}", s.url)]);
    assert_eq!(code, 204);
    assert_eq!(moto.list(BUCKET, &prefix), vec![]);
}

#[test]
fn an_s3_endpoint_that_does_not_answer_is_said_at_start() {
    let dir = tmp();
    let port = free_port(false);
    let endpoint = format!("http://127.0.0.1:{port}");
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let started = Instant::now();
    let out = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &db])
        .args(["--storage", "s3://nowhere/x", "--s3-endpoint", &endpoint])
        .args(["--scratch", path_str(&dir.path().join("scratch"))])
        .envs(AWS_ENV)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("cannot list s3://nowhere/x"), "{stderr}");
    assert!(out.stdout.is_empty(), "it must not say it serves");
    eprintln!("refused after {:?}", started.elapsed());
    // A bucket name S3 cannot have is a usage error.
    let out = bin()
        .args(["serve", "--storage", "s3://Not_A_Bucket", "--database", &db])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an S3 bucket name"));
}
