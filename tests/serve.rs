//! `streamscope serve` as a user runs it: the binary on a free port, uploads with curl,
//! stopped by PID (SIGTERM) and started again on the same database and storage.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::serve::*;
use common::*;

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

#[test]
fn a_full_storage_fails_the_job_with_the_reason_and_refuses_uploads_with_507() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let dir = tmp();
    // A disk 200 KiB larger than the upload: stored, but its master does not fit.
    let clip = lavfi_clip(
        &dir.path().join("big.mp4"),
        "testsrc2=size=640x360:rate=30",
        "3",
        &[
            "-b:v",
            "6000k",
            "-minrate",
            "6000k",
            "-bufsize",
            "3000k",
            "-preset",
            "ultrafast",
        ],
    );
    let size = std::fs::metadata(&clip).unwrap().len();
    assert!((1_800_000..2_900_000).contains(&size), "{size}");
    let Some(disk) = small_disk((size / 1024) as u32 + 200) else {
        return;
    };
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let s = serve_with(&["--database", &db, "--storage", path_str(disk.0.path())]);
    let (code, a) = upload(&s.url, &clip);
    assert_eq!(code, 201, "{a}");
    let id = a["id"].as_str().unwrap();
    let a = settle(&s.url, id, Duration::from_secs(120));
    assert_eq!(a["status"], "failed", "{a}");
    assert!(
        a["error"].as_str().unwrap().contains("No space left"),
        "the reason is ffmpeg's: {a}"
    );
    // What the job half-made is gone; the upload stays, whole.
    let folder = disk.0.path().join(format!("assets/{id}"));
    let left: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["source"], "{left:?}");
    assert_eq!(
        std::fs::metadata(folder.join("source")).unwrap().len(),
        size
    );
    // A second upload does not fit: 507 with a sentence, nothing kept, the server still up.
    let (code, e) = upload(&s.url, &clip);
    assert_eq!(code, 507, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("storage is full"),
        "{e}"
    );
    let incoming: Vec<_> = std::fs::read_dir(disk.0.path().join("incoming"))
        .unwrap()
        .collect();
    assert!(incoming.is_empty(), "{incoming:?}");
    let (_, all) = curl(&[&format!("{}/api/v1/assets", s.url)]);
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
    let (code, _) = curl(&[&format!("{}/healthz", s.url)]);
    assert_eq!(code, 200);
}

#[test]
fn a_second_server_starting_on_the_same_folder_leaves_an_upload_in_flight_alone() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let dir = tmp();
    let clip = generated_clip(dir.path(), "clip.mp4", &[]);
    let size = std::fs::metadata(&clip).unwrap().len();
    let a = serve(dir.path(), &["--workers", "0"]);
    // Sent slowly (about 3 s), so the second server starts while it arrives.
    let rate = (size / 3).max(1024).to_string();
    let up = Command::new("curl")
        .args(["-sS", "--limit-rate", &rate, "-F"])
        .arg(format!("file=@{}", clip.display()))
        .arg(format!("{}/api/v1/assets", a.url))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let incoming = dir.path().join("data/incoming");
    let started = std::time::Instant::now();
    while std::fs::read_dir(&incoming).unwrap().next().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the upload never began"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A leftover of a dead server, which the second one must still clear.
    let dead = incoming.join("00000000000000000000000000000000.part");
    std::fs::write(&dead, b"half an upload").unwrap();
    let b = serve(dir.path(), &["--workers", "0"]);
    assert!(!dead.exists(), "an upload nobody holds is cleared at start");
    let out = up.wait_with_output().unwrap();
    let asset: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(asset["size_bytes"], size, "{asset}");
    assert_eq!(asset["status"], "uploaded", "{asset}");
    // Both servers see it.
    let (code, _) = curl(&[&format!(
        "{}/api/v1/assets/{}",
        b.url,
        asset["id"].as_str().unwrap()
    )]);
    assert_eq!(code, 200);
}
