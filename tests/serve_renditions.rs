//! `POST /api/v1/assets/{id}/renditions`: a rendition added to a ready asset later, by a job,
//! with the ladder's rules; its keyframes aligned with the others'; DASH + HLS list it; and
//! the renditions served with byte ranges, as a `<video>` seeking in an MP4 asks for them.

mod common;

use std::time::Duration;

use common::serve::*;
use common::*;

/// POST `body` as JSON to the asset's renditions.
fn add(url: &str, id: &str, body: &str) -> (u16, serde_json::Value) {
    curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        body,
        &format!("{url}/api/v1/assets/{id}/renditions"),
    ])
}

/// The answer's head to a GET of `url` with `Range: bytes=range` (none when empty).
fn head_of(url: &str, range: &str) -> String {
    let mut c = std::process::Command::new("curl");
    c.args(["-sS", "-o", "/dev/null", "-D", "-"]);
    if !range.is_empty() {
        c.args(["-H", &format!("Range: bytes={range}")]);
    }
    let out = c.arg(url).output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_lowercase()
}

#[test]
fn a_rendition_added_later_is_aligned_and_listed_and_bad_asks_are_refused() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let dir = tmp();
    let clip = lavfi_clip(
        &dir.path().join("clip.mp4"),
        "testsrc2=size=640x360:rate=30",
        "3",
        &["-b:v", "1500k", "-preset", "ultrafast"],
    );
    let ladder = dir.path().join("ladder.toml");
    std::fs::write(
        &ladder,
        "[[format]]\nname = \"180p\"\nheight = 180\nvideo_kbps = 250\n",
    )
    .unwrap();
    let s = serve(dir.path(), &["--ladder", path_str(&ladder)]);
    let (code, a) = upload(&s.url, &clip);
    assert_eq!(code, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_owned();
    // Not ready yet: refused.
    let (code, e) = add(
        &s.url,
        &id,
        r#"{"name":"240p","height":240,"video_kbps":400}"#,
    );
    assert_eq!(code, 409, "{e}");
    let a = settle(&s.url, &id, Duration::from_secs(60));
    assert_eq!(a["status"], "ready", "{a}");

    for (body, want, says) in [
        (
            r#"{"name":"720p","height":720,"video_kbps":900}"#,
            422,
            "no upscaling",
        ),
        (
            r#"{"name":"180p","height":120,"video_kbps":200}"#,
            409,
            "already has",
        ),
        (
            r#"{"name":"../x","height":120,"video_kbps":200}"#,
            400,
            "format name",
        ),
        (
            r#"{"name":"rich","height":240,"video_kbps":90000}"#,
            422,
            "more than the upload",
        ),
        (r#"{"name":"x","height":240}"#, 400, "video_kbps"),
        ("not json", 400, ""),
    ] {
        let (code, e) = add(&s.url, &id, body);
        assert_eq!(code, want, "{body}: {e}");
        assert!(
            e["error"].as_str().unwrap_or("").contains(says),
            "{body}: {e}"
        );
    }
    let (code, _) = add(
        &s.url,
        &"0".repeat(32),
        r#"{"name":"240p","height":240,"video_kbps":400}"#,
    );
    assert_eq!(code, 404);

    // The segments now (served as immutable: a CDN keeps them a year).
    let folder = dir.path().join(format!("data/assets/{id}"));
    let segments = |folder: &std::path::Path| -> std::collections::BTreeSet<String> {
        std::fs::read_dir(folder.join("stream"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".m4s"))
            .collect()
    };
    let before = segments(&folder);
    assert!(!before.is_empty());
    let (code, a) = add(
        &s.url,
        &id,
        r#"{"name":"240p","height":240,"video_kbps":400}"#,
    );
    assert_eq!(code, 202, "{a}");
    assert_eq!(a["status"], "processing", "{a}");
    let a = settle(&s.url, &id, Duration::from_secs(60));
    assert_eq!(a["status"], "ready", "{a}");
    assert!(a["error"].is_null(), "{a}");
    let r = a["renditions"].as_array().unwrap();
    let names: Vec<&str> = r.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["240p", "180p"], "{a}");
    assert_eq!(
        (&r[0]["width"], &r[0]["height"]),
        (&426.into(), &240.into())
    );
    // 240p comes first now, so the 180p's representation id changed: no segment URL of the
    // presentation before may name other bytes now.
    let after = segments(&folder);
    assert!(
        after.is_disjoint(&before),
        "segment names reused: {:?}",
        after.intersection(&before).collect::<Vec<_>>()
    );
    let (new, old) = (
        keyframes(&folder.join("r/240p.mp4")),
        keyframes(&folder.join("r/180p.mp4")),
    );
    assert!(new.len() >= 2 && new == old, "keyframes {new:?} vs {old:?}");
    let hls = std::fs::read_to_string(folder.join("stream/master.m3u8")).unwrap();
    assert_eq!(hls.matches("#EXT-X-STREAM-INF:").count(), 2, "{hls}");
    assert!(hls.contains("RESOLUTION=426x240"), "{hls}");
    let mpd = std::fs::read_to_string(folder.join("stream/manifest.mpd")).unwrap();
    assert_eq!(mpd.matches("mimeType=\"video/mp4\"").count(), 2, "{mpd}");
    assert!(!folder.join("stream.new").exists() && !folder.join("stream.old").exists());
    // Byte ranges: what a browser's `<video src=…mp4>` asks for to seek.
    let file = std::fs::read(folder.join("r/240p.mp4")).unwrap();
    let url = format!("{}{}", s.url, r[0]["url"].as_str().unwrap());
    let part = dir.path().join("part");
    let got = std::process::Command::new("curl")
        .args(["-sS", "-D", "-", "-r", "100-1123", "-o"])
        .arg(&part)
        .arg(&url)
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&got.stdout).to_lowercase();
    assert!(head.starts_with("http/1.1 206"), "{head}");
    assert_eq!(
        header(&head, "content-range"),
        Some(format!("bytes 100-1123/{}", file.len()).as_str())
    );
    assert!(std::fs::read(&part).unwrap() == file[100..1124]);
    let tail = std::process::Command::new("curl")
        .args(["-sS", "-r", "-10", &url])
        .output()
        .unwrap();
    assert!(tail.stdout == file[file.len() - 10..]);
    let past = head_of(&url, &format!("{}-", file.len()));
    assert!(past.starts_with("http/1.1 416"), "{past}");
    assert_eq!(
        header(&past, "content-range"),
        Some(format!("bytes */{}", file.len()).as_str())
    );
    let whole = head_of(&url, "");
    assert!(whole.starts_with("http/1.1 200"), "{whole}");
    assert_eq!(header(&whole, "accept-ranges"), Some("bytes"));

    // The API's download: the same file, named after the upload.
    let api = format!("{}/api/v1/assets/{id}/renditions/240p", s.url);
    let got = std::process::Command::new("curl")
        .args(["-sS", "-D", "-", "-o"])
        .arg(&part)
        .arg(&api)
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&got.stdout).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(
        header(&head, "content-disposition"),
        Some("attachment; filename=\"clip-240p.mp4\"")
    );
    assert_eq!(header(&head, "content-type"), Some("video/mp4"));
    assert!(std::fs::read(&part).unwrap() == file);
    let (code, _) = curl(&[&format!("{}/api/v1/assets/{id}/renditions/999p", s.url)]);
    assert_eq!(code, 404);

    let (_, audit) = curl(&[&format!("{}/api/v1/audit", s.url)]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "rendition" && e["detail"] == "240p"),
        "{audit}"
    );
}
