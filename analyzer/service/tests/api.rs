//! The service's API driven in-process (`oneshot`) against real ffprobe, SQLite and a storage
//! folder: uploads kept or refused, nothing half-kept, names never trusted, deletion complete.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use service::{AppState, Config, app};
use tower::ServiceExt;

fn require(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "{tool} is required under CI=true but is not installed"
        );
        eprintln!("SKIPPED: {tool} not installed (it is required when CI=true)");
    }
    ok
}

struct Server {
    _dir: tempfile::TempDir,
    storage: PathBuf,
    state: AppState,
}

async fn server(max_upload: u64) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("data");
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: format!("sqlite://{}", dir.path().join("db.sqlite").display()),
        storage: service::storage::Location::Dir(storage.clone()),
        max_upload,
        ffprobe: "ffprobe".into(),
        ffmpeg: "ffmpeg".into(),
        ladder: service::ladder::default_ladder(),
        workers: 0,
        webhook: None,
        packager: None,
        measurer: None,
        location: None,
    };
    let state = AppState::open(&config).await.unwrap();
    Server {
        _dir: dir,
        storage,
        state,
    }
}

/// A 1 s 160x120 25 fps H.264 + AAC clip.
fn clip(dir: &Path) -> Vec<u8> {
    let path = dir.join("clip.mp4");
    let ok = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=25",
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=f=1000",
            "-t",
            "1",
            "-c:v",
            "libx264",
        ])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(ok.success());
    std::fs::read(path).unwrap()
}

const BOUNDARY: &str = "streamscope-test-boundary";

fn form(filename: &str, bytes: &[u8]) -> Vec<u8> {
    let mut b = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: video/mp4\r\n\r\n"
    )
    .into_bytes();
    b.extend_from_slice(bytes);
    b.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    b
}

async fn call(s: &Server, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let r = app(s.state.clone()).oneshot(req).await.unwrap();
    let status = r.status();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (status, json)
}

fn upload(body: Vec<u8>) -> Request<Body> {
    Request::post("/api/v1/assets")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("content-length", body.len())
        .body(Body::from(body))
        .unwrap()
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// Every file under `dir`, relative.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn an_upload_is_stored_under_its_id_probed_listed_and_deleted_whole() {
    if !require("ffprobe") || !require("ffmpeg") {
        return;
    }
    let s = server(10 << 20).await;
    let video = clip(s.storage.parent().unwrap());
    let (status, a) = call(&s, upload(form("../../etc/passwd", &video))).await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let id = a["id"].as_str().unwrap().to_owned();
    assert_eq!(a["status"], "uploaded");
    assert_eq!(a["original_name"], "passwd", "shown cleaned, never a path");
    assert_eq!(a["size_bytes"], video.len() as u64);
    let p = &a["probe"];
    assert_eq!(
        (p["video"]["width"].as_u64(), p["video"]["height"].as_u64()),
        (Some(160), Some(120))
    );
    assert_eq!(p["video"]["codec"], "h264");
    assert_eq!(p["video"]["fps"], 25.0);
    assert_eq!(p["audio"]["codec"], "aac");
    assert!((p["duration_s"].as_f64().unwrap() - 1.0).abs() < 0.1, "{p}");
    // The bytes are the upload's, under the id, and nothing else was written.
    assert_eq!(files(&s.storage), vec![format!("assets/{id}/source")]);
    assert_eq!(
        std::fs::read(s.storage.join(format!("assets/{id}/source"))).unwrap(),
        video
    );
    let sha = a["sha256"].as_str().unwrap();
    let expected = Command::new("sha256sum")
        .arg(s.storage.join(format!("assets/{id}/source")))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&expected.stdout).starts_with(sha));

    let (status, one) = call(&s, get(&format!("/api/v1/assets/{id}"))).await;
    assert_eq!((status, &one), (StatusCode::OK, &a));
    let (_, list) = call(&s, get("/api/v1/assets")).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    let del = Request::delete(format!("/api/v1/assets/{id}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&s, del).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        call(&s, get(&format!("/api/v1/assets/{id}"))).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(files(&s.storage).is_empty(), "{:?}", files(&s.storage));
    let (_, audit) = call(&s, get("/api/v1/audit")).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["delete", "upload"]);
}

#[tokio::test]
async fn what_is_not_a_video_is_refused_with_its_reason_and_nothing_is_kept() {
    if !require("ffprobe") || !require("ffmpeg") {
        return;
    }
    let s = server(10 << 20).await;
    let dir = s.storage.parent().unwrap().to_owned();
    let png = dir.join("still.png");
    assert!(
        Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=64x64",
                "-frames:v",
                "1"
            ])
            .arg(&png)
            .status()
            .unwrap()
            .success()
    );
    let video = clip(&dir);
    // The moov atom is at the end: cut, the file has no index.
    let truncated = video[..video.len() / 2].to_vec();
    for (name, bytes, status, says) in [
        (
            "notes.mp4",
            b"hello, I am text\n".to_vec(),
            422,
            "not a media file",
        ),
        (
            "frame.mp4",
            std::fs::read(&png).unwrap(),
            422,
            "still image (png)",
        ),
        ("empty.mp4", Vec::new(), 422, "empty"),
        ("cut.mp4", truncated, 422, "not a media file"),
    ] {
        let (got, body) = call(&s, upload(form(name, &bytes))).await;
        assert_eq!(got.as_u16(), status, "{name}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(says), "{name}: {error}");
        assert!(
            !error.contains(s.storage.to_str().unwrap()),
            "no server path: {error}"
        );
    }
    // A form without the file.
    let body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--{BOUNDARY}--\r\n"
    );
    let (got, e) = call(&s, upload(body.into_bytes())).await;
    assert_eq!(got, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["error"].as_str().unwrap().contains("no `file` field"));
    assert!(files(&s.storage).is_empty(), "{:?}", files(&s.storage));
    assert_eq!(
        call(&s, get("/api/v1/assets")).await.1,
        serde_json::json!([])
    );
    let (_, audit) = call(&s, get("/api/v1/audit")).await;
    assert_eq!(
        audit.as_array().unwrap().len(),
        5,
        "every refusal is logged: {audit}"
    );
}

#[tokio::test]
async fn uploads_past_the_limit_are_refused_whether_announced_or_not() {
    if !require("ffprobe") || !require("ffmpeg") {
        return;
    }
    let s = server(4096).await;
    let video = clip(s.storage.parent().unwrap());
    assert!(video.len() > 4096);
    // Announced: refused before reading.
    let (got, e) = call(&s, upload(form("big.mp4", &video))).await;
    assert_eq!(got, StatusCode::PAYLOAD_TOO_LARGE, "{e}");
    // Not announced (chunked): refused while streaming, the part written so far removed.
    let body = form("big.mp4", &video);
    let req = Request::post("/api/v1/assets")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from_stream(futures_chunks(body)))
        .unwrap();
    let (got, e) = call(&s, req).await;
    assert_eq!(got, StatusCode::PAYLOAD_TOO_LARGE, "{e}");
    assert!(e["error"].as_str().unwrap().contains("4096 bytes"));
    assert!(files(&s.storage).is_empty(), "{:?}", files(&s.storage));
}

#[tokio::test]
async fn ids_that_are_not_ids_are_never_looked_up() {
    let s = server(1 << 20).await;
    for uri in [
        "/api/v1/assets/..%2F..%2Fetc",
        "/api/v1/assets/0123456789abcdef0123456789ABCDEF",
        "/api/v1/assets/x",
    ] {
        assert_eq!(call(&s, get(uri)).await.0, StatusCode::NOT_FOUND, "{uri}");
        let del = Request::delete(uri).body(Body::empty()).unwrap();
        assert_eq!(call(&s, del).await.0, StatusCode::NOT_FOUND, "{uri}");
    }
    let r = app(s.state.clone()).oneshot(get("/healthz")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// `body` as a stream of 1 KiB chunks with no length announced.
fn futures_chunks(
    body: Vec<u8>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(1024).map(|c| Ok(c.to_vec())).collect();
    futures_util::stream::iter(chunks)
}
