//! `streamscope serve`'s resumable uploads (tus 1.0 at `/api/v1/uploads`) over a real socket:
//! a transfer cut halfway resumes where it stopped — across a killed and restarted server —
//! and becomes an asset; wrong offsets, oversize bodies, non-media and termination.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::serve::*;
use common::*;
use sha2::Digest;

/// One HTTP/1.1 request on its own connection; `send` bytes of `body` are sent (all when
/// `None`) while its Content-Length says all of it, then the connection is closed for writing.
/// The status and the lower-cased head of the answer (status 0: none came).
fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    send: Option<usize>,
) -> (u16, String) {
    let host = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nTus-Resumable: 1.0.0\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "PATCH" {
        head.push_str(&format!(
            "Content-Length: {}\r\nContent-Type: application/offset+octet-stream\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let n = send.unwrap_or(body.len());
    let _ = s.write_all(&body[..n]);
    if send.is_some() {
        // Cut: the server gets end-of-stream before the announced length.
        let _ = s.shutdown(Shutdown::Write);
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).to_lowercase();
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, text)
}

fn offset(base: &str, path: &str) -> (u16, Option<u64>) {
    let (code, head) = request(base, "HEAD", path, &[], &[], None);
    (
        code,
        header(&head, "upload-offset").and_then(|v| v.parse().ok()),
    )
}

/// POST an upload of `len` bytes named `name`; its path.
fn create(base: &str, len: usize, name: &str) -> String {
    let meta = format!("filename {}", data_encoding::BASE64.encode(name.as_bytes()));
    let (code, head) = request(
        base,
        "POST",
        "/api/v1/uploads",
        &[
            ("Upload-Length", &len.to_string()),
            ("Upload-Metadata", &meta),
        ],
        &[],
        None,
    );
    assert_eq!(code, 201, "{head}");
    let location = header(&head, "location").unwrap();
    let path = location.trim_start_matches(&base.to_lowercase()).to_owned();
    let id = path.rsplit('/').next().unwrap();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{path}"
    );
    path
}

fn patch(base: &str, path: &str, at: usize, body: &[u8], send: Option<usize>) -> (u16, String) {
    request(
        base,
        "PATCH",
        path,
        &[("Upload-Offset", &at.to_string())],
        body,
        send,
    )
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_cut_tus_upload_resumes_across_a_restart_and_becomes_an_asset() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let dir = tmp();
    let clip = lavfi_clip(
        &dir.path().join("clip.mp4"),
        "testsrc2=size=320x180:rate=30",
        "2",
        &["-preset", "ultrafast"],
    );
    let bytes = std::fs::read(&clip).unwrap();
    let limit = "4000000";
    let args = ["--workers", "0", "--max-upload", limit];
    let mut s = serve(dir.path(), &args);

    // What the server offers.
    let (code, head) = request(&s.url, "OPTIONS", "/api/v1/uploads", &[], &[], None);
    assert_eq!(code, 204, "{head}");
    assert_eq!(header(&head, "tus-version"), Some("1.0.0"));
    let ext = header(&head, "tus-extension").unwrap().to_owned();
    for e in ["creation", "termination", "expiration", "checksum"] {
        assert!(ext.contains(e), "{ext}");
    }
    assert_eq!(header(&head, "tus-max-size"), Some(limit));
    let (code, _) = request(
        &s.url,
        "POST",
        "/api/v1/uploads",
        &[("Upload-Length", "4000001")],
        &[],
        None,
    );
    assert_eq!(code, 413, "over --max-upload");

    // Half the file, then the connection is cut.
    let path = create(&s.url, bytes.len(), "../../etc/passwd.mp4");
    let half = bytes.len() / 2;
    patch(&s.url, &path, 0, &bytes, Some(half));
    let started = Instant::now();
    while offset(&s.url, &path).1 != Some(half as u64) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "offset {:?} after the cut, {half} sent",
            offset(&s.url, &path)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The server dies; a new one knows where the upload stopped.
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let s = serve(dir.path(), &args);
    assert_eq!(offset(&s.url, &path), (204, Some(half as u64)));
    let (code, _) = patch(&s.url, &path, 0, &bytes, None);
    assert_eq!(code, 409, "a PATCH at the wrong offset");
    let (code, head) = patch(&s.url, &path, half, &bytes[half..], None);
    assert_eq!(code, 204, "{head}");
    let id = path.rsplit('/').next().unwrap();
    assert_eq!(
        header(&head, "streamscope-asset"),
        Some(format!("/api/v1/assets/{id}").as_str())
    );
    assert_eq!(offset(&s.url, &path), (204, Some(bytes.len() as u64)));
    let (code, a) = curl(&[&format!("{}/api/v1/assets/{id}", s.url)]);
    assert_eq!(code, 200, "{a}");
    assert_eq!(
        a["original_name"], "passwd.mp4",
        "the name is shown, never a path"
    );
    assert_eq!(a["size_bytes"], bytes.len());
    let sha: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(a["sha256"], sha, "the bytes are the file's, resumed or not");
    assert_eq!(a["probe"]["video"]["width"], 320);
    let stored = std::fs::read(dir.path().join("data/assets").join(id).join("source")).unwrap();
    assert!(stored == bytes);

    // Not media: the completing PATCH is refused with the reason, nothing is kept.
    let text = b"this is not a video, whatever its name says\n".repeat(20);
    let bad = create(&s.url, text.len(), "notes.mp4");
    let (code, head) = patch(&s.url, &bad, 0, &text, None);
    assert_eq!(code, 422, "{head}");
    assert!(head.contains("not a media file"), "{head}");
    assert_eq!(offset(&s.url, &bad).0, 404);

    // Terminated halfway: gone, files and all.
    let gone = create(&s.url, bytes.len(), "gone.mp4");
    let (code, _) = patch(&s.url, &gone, 0, &bytes[..1000], None);
    assert_eq!(code, 204);
    let (code, _) = request(&s.url, "DELETE", &gone, &[], &[], None);
    assert_eq!(code, 204);
    assert_eq!(offset(&s.url, &gone).0, 404);

    // More than announced: refused, and the extra bytes are not kept.
    let short = create(&s.url, 100, "short.mp4");
    let (code, _) = patch(&s.url, &short, 0, &bytes[..200], None);
    assert_eq!(code, 413);
    assert_eq!(offset(&s.url, &short), (204, Some(0)));

    // Left in tus/: the finished upload's record (until it expires) and the short one.
    let left = files_in(&dir.path().join("data/tus"));
    let short_id = short.rsplit('/').next().unwrap();
    assert_eq!(
        left,
        {
            let mut v = vec![
                format!("{id}.json"),
                format!("{short_id}.bin"),
                format!("{short_id}.json"),
            ];
            v.sort();
            v
        },
        "no trace of the refused or terminated uploads"
    );
    let (_, all) = curl(&[&format!("{}/api/v1/assets", s.url)]);
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
}
