//! `streamscope serve` as a user runs it: the binary on a free port, uploads with curl,
//! stopped by PID (SIGTERM) and started again on the same database and storage.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

struct Serve {
    child: Child,
    url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `serve` on a free port with the database and storage in `dir`; returns once it
/// printed where it listens.
fn serve(dir: &Path, extra: &[&str]) -> Serve {
    let db = format!("sqlite://{}", dir.join("db.sqlite").display());
    let storage = dir.join("data");
    let mut child = bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &db,
            "--storage",
        ])
        .arg(&storage)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("serving on ")
        .unwrap_or_else(|| panic!("serve said {line:?}"))
        .to_owned();
    Serve { child, url }
}

fn curl(args: &[&str]) -> (u16, serde_json::Value) {
    let out = Command::new("curl")
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, code) = text.rsplit_once('\n').unwrap();
    (
        code.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

fn sigterm(s: &mut Serve) -> std::process::ExitStatus {
    let pid = s.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    for _ in 0..100 {
        if let Some(status) = s.child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("serve did not stop within 10 s of SIGTERM");
}

#[test]
fn curl_uploads_are_kept_across_a_restart_and_concurrent_ones_never_mix() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let dir = tmp();
    let clip = generated_clip(dir.path(), "clip.mp4", &[]);
    // Twenty different files: the clip with a different tail each (ffprobe reads them all).
    let base = std::fs::read(&clip).unwrap();
    let files: Vec<_> = (0..20)
        .map(|i| {
            let p = dir.path().join(format!("up{i}.mp4"));
            let mut b = base.clone();
            b.extend_from_slice(format!("tail {i}").as_bytes());
            std::fs::write(&p, b).unwrap();
            p
        })
        .collect();
    // Only serving: these uploads are about storage, not transcodes.
    let mut s = serve(dir.path(), &["--workers", "0"]);
    let api = format!("{}/api/v1/assets", s.url);
    let uploads: Vec<_> = files
        .iter()
        .map(|f| {
            Command::new("curl")
                .args(["-sS", "-F"])
                .arg(format!("file=@{}", f.display()))
                .arg(&api)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ids = Vec::new();
    for (up, file) in uploads.into_iter().zip(&files) {
        let out = up.wait_with_output().unwrap();
        let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let sum = Command::new("sha256sum").arg(file).output().unwrap();
        assert!(
            String::from_utf8_lossy(&sum.stdout).starts_with(a["sha256"].as_str().unwrap()),
            "{file:?} stored as {a}"
        );
        assert_eq!(
            a["original_name"],
            file.file_name().unwrap().to_str().unwrap()
        );
        assert_eq!(a["probe"]["video"]["width"], 640);
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    let (code, list) = curl(&[&api]);
    assert_eq!((code, list.as_array().unwrap().len()), (200, 20));
    let status = sigterm(&mut s);
    assert!(status.success(), "SIGTERM is a clean stop: {status}");

    // Started again on the same database and storage: everything is there.
    let s = serve(dir.path(), &["--max-upload", "1KiB", "--workers", "0"]);
    let (_, one) = curl(&[&format!("{}/api/v1/assets/{}", s.url, ids[7])]);
    assert_eq!(one["id"], ids[7].as_str());
    assert_eq!(one["status"], "uploaded");
    // The new limit holds, with curl's readable answer.
    let (code, e) = curl(&[
        "-F",
        &format!("file=@{}", clip.display()),
        &format!("{}/api/v1/assets", s.url),
    ]);
    assert_eq!(code, 413, "{e}");
    assert!(e["error"].as_str().unwrap().contains("1024 bytes"), "{e}");
    let (code, audit) = curl(&[&format!("{}/api/v1/audit", s.url)]);
    assert_eq!(code, 200);
    let entries = audit.as_array().unwrap();
    assert_eq!(entries.len(), 21, "20 uploads and 1 refusal");
    assert!(
        entries[0]["client"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{}",
        entries[0]
    );
}

#[test]
fn a_client_that_hangs_up_mid_upload_leaves_nothing() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let dir = tmp();
    let big = dir.path().join("big.mp4");
    std::fs::write(&big, vec![7u8; 4 << 20]).unwrap();
    let s = serve(dir.path(), &["--workers", "0"]);
    let api = format!("{}/api/v1/assets", s.url);
    // 4 MiB at 512 KiB/s, hung up after 2 s: half sent.
    let mut up = Command::new("curl")
        .args(["-sS", "--limit-rate", "512K", "-F"])
        .arg(format!("file=@{}", big.display()))
        .arg(&api)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let incoming = dir.path().join("data/incoming");
    let partial: u64 = std::fs::read_dir(&incoming)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(partial > 0, "the upload was being streamed to disk");
    up.kill().unwrap();
    up.wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        std::fs::read_dir(&incoming).unwrap().count(),
        0,
        "the partial upload is removed"
    );
    let (_, list) = curl(&[&api]);
    assert_eq!(list, serde_json::json!([]));
    let (_, audit) = curl(&[&format!("{}/api/v1/audit", s.url)]);
    assert!(
        audit[0]["detail"].as_str().unwrap().contains("cut short"),
        "{audit}"
    );
}

/// A 3 s 640x360 30 fps clip with a mono tone and no timecode: a user's own content.
fn user_clip(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("talk.mp4");
    run_ok(
        ffmpeg_cmd()
            .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30"])
            .args([
                "-f",
                "lavfi",
                "-i",
                "sine=f=440:sample_rate=48000",
                "-t",
                "3",
            ])
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-b:v", "1500k"])
            .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "1"])
            .arg(&out),
    );
    out
}

const TEST_LADDER: &str = "[[format]]\nname = \"360p\"\nheight = 360\nvideo_kbps = 800\n\n\
    [[format]]\nname = \"240p\"\nheight = 240\nvideo_kbps = 400\n\n\
    [[format]]\nname = \"180p\"\nheight = 180\nvideo_kbps = 250\n\n\
    [[format]]\nname = \"1080p\"\nheight = 1080\nvideo_kbps = 5000\n";

/// Poll the asset until it is `ready` or `failed` (or `limit` passes); its last JSON.
fn settle(url: &str, id: &str, limit: Duration) -> serde_json::Value {
    let started = std::time::Instant::now();
    loop {
        let (_, a) = curl(&[&format!("{url}/api/v1/assets/{id}")]);
        let status = a["status"].as_str().unwrap_or("");
        if status == "ready" || status == "failed" || started.elapsed() > limit {
            return a;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The response headers of `url`, lower-cased names.
fn head(url: &str) -> String {
    let out = Command::new("curl").args(["-sSI", url]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_lowercase()
}

/// Keyframe times of a file's video (ffprobe, keyframes only).
fn keyframes(file: &Path) -> Vec<String> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-skip_frame",
            "nokey",
        ])
        .args(["-show_entries", "frame=pts_time", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_end_matches(',').to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn an_upload_becomes_a_timecoded_ladder_that_survives_a_killed_server() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let dir = tmp();
    let clip = user_clip(dir.path());
    let ladder = dir.path().join("ladder.toml");
    std::fs::write(&ladder, TEST_LADDER).unwrap();
    let ladder_arg = path_str(&ladder);
    let mut s = serve(dir.path(), &["--ladder", ladder_arg]);
    let (code, a) = curl(&[
        "-F",
        &format!("file=@{}", clip.display()),
        &format!("{}/api/v1/assets", s.url),
    ]);
    assert_eq!(code, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_owned();
    // Killed (SIGKILL: no goodbye) while the job runs; started again, the job completes.
    let started = std::time::Instant::now();
    loop {
        let (_, a) = curl(&[&format!("{}/api/v1/assets/{id}", s.url)]);
        if a["status"] == "processing" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never processing: {a}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let s = serve(dir.path(), &["--ladder", ladder_arg]);
    let a = settle(&s.url, &id, Duration::from_secs(120));
    assert_eq!(a["status"], "ready", "{a}");
    assert_eq!(a["progress"], 1.0);

    // No upscaling and nothing richer than the 1.5 Mbit/s source: the 1080p entry is not made.
    let r = a["renditions"].as_array().unwrap();
    let got: Vec<_> = r
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["width"].as_u64().unwrap(),
                r["height"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [("360p", 640, 360), ("240p", 426, 240), ("180p", 320, 180)],
        "{a}"
    );
    for r in r {
        assert_eq!(
            (r["video_codec"].as_str(), r["audio_codec"].as_str()),
            (Some("h264"), Some("aac"))
        );
        assert_eq!(r["audio_channels"], 2, "{r}");
    }
    // Every rendition's keyframes at the same times (every 2 s): ABR switching works.
    let files = dir.path().join(format!("data/assets/{id}/r"));
    let k360 = keyframes(&files.join("360p.mp4"));
    assert_eq!(k360.len(), 2, "{k360:?}");
    for n in ["240p", "180p"] {
        assert_eq!(keyframes(&files.join(format!("{n}.mp4"))), k360, "{n}");
    }
    // HLS and DASH over the same segments, with what a player needs to choose.
    let base = &s.url;
    let hls = Command::new("curl")
        .args(["-sS", &format!("{base}{}", a["hls"].as_str().unwrap())])
        .output()
        .unwrap();
    let hls = String::from_utf8_lossy(&hls.stdout).into_owned();
    let variants: Vec<_> = hls
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
        .collect();
    assert_eq!(variants.len(), 3, "{hls}");
    for v in &variants {
        assert!(
            v.contains("BANDWIDTH=") && v.contains("RESOLUTION=") && v.contains("CODECS=\"avc1."),
            "{v}"
        );
    }
    let mpd = Command::new("curl")
        .args(["-sS", &format!("{base}{}", a["dash"].as_str().unwrap())])
        .output()
        .unwrap();
    let mpd = String::from_utf8_lossy(&mpd.stdout).into_owned();
    assert_eq!(mpd.matches("mimeType=\"video/mp4\"").count(), 3, "{mpd}");
    // Each kind of object with its type and caching; the upload itself is not served.
    for (path, ct, cache) in [
        (
            a["hls"].as_str().unwrap().to_owned(),
            "application/vnd.apple.mpegurl",
            "max-age=2",
        ),
        (
            a["dash"].as_str().unwrap().to_owned(),
            "application/dash+xml",
            "max-age=2",
        ),
        (
            format!("/files/{id}/stream/chunk-stream0-00001.m4s"),
            "video/iso.segment",
            "immutable",
        ),
        (
            r[1]["url"].as_str().unwrap().to_owned(),
            "video/mp4",
            "immutable",
        ),
        (
            a["poster"].as_str().unwrap().to_owned(),
            "image/jpeg",
            "immutable",
        ),
        (
            a["thumbnails"][4].as_str().unwrap().to_owned(),
            "image/jpeg",
            "immutable",
        ),
    ] {
        let h = head(&format!("{base}{path}"));
        assert!(h.starts_with("http/1.1 200"), "{path}: {h}");
        assert!(h.contains(&format!("content-type: {ct}")), "{path}: {h}");
        assert!(
            h.contains("cache-control: public") && h.contains(cache),
            "{path}: {h}"
        );
    }
    assert!(head(&format!("{base}/files/{id}/source")).starts_with("http/1.1 404"));

    // The reference in use: the 360p rendition scored against it over HTTP, paired by the
    // codes the master stamped (at 240p and 400 kbit/s a few codes go unread: 87 of 90 once).
    let out = dir.path().join("vmaf");
    let v = run(bin()
        .args(["vmaf", "--vmaf-threads", "2", "--reference"])
        .arg(format!("{base}{}", a["reference"].as_str().unwrap()))
        .arg("--distorted")
        .arg(format!("{base}{}", r[0]["url"].as_str().unwrap()))
        .arg("--out")
        .arg(&out));
    assert!(v.status.success(), "{}", v.stderr);
    let summary = summary_json(&out);
    assert_eq!(summary["pairing"], "frame_number", "{summary}");
    let d = &summary["streams"][0];
    assert_eq!(d["frames_received"], 90, "{d}");
    assert!(d["frames_scored"].as_u64().unwrap() >= 88, "{d}");
    assert_eq!(
        (d["dropped"].as_u64(), d["duplicated"].as_u64()),
        (Some(0), Some(0)),
        "{d}"
    );
    let frames = std::fs::read_to_string(out.join("frames.csv")).unwrap();
    assert!(
        frames
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').nth(1)?.parse::<u64>().ok())
            .max()
            == Some(89)
    );
    // The audit log has the upload; the asset is one, not two, after the restart.
    let (_, list) = curl(&[&format!("{base}/api/v1/assets")]);
    assert_eq!(list.as_array().unwrap().len(), 1);
}
