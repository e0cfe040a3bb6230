//! `streamscope serve`'s transcode jobs end to end: an upload becomes a timecoded master, a
//! ladder, DASH + HLS and thumbnails, survives a killed server, is scored against with
//! `streamscope vmaf`; a job that cannot succeed ends `failed`; webhooks signed and retried.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::serve::*;
use common::*;

/// A 3 s 640x360 30 fps clip with a mono tone and no timecode: a user's own content.
fn user_clip(dir: &Path) -> std::path::PathBuf {
    talk_clip(dir, &["-b:v", "1500k", "-ac", "1"])
}

const TEST_LADDER: &str = "[[format]]\nname = \"360p\"\nheight = 360\nvideo_kbps = 800\n\n\
    [[format]]\nname = \"240p\"\nheight = 240\nvideo_kbps = 400\n\n\
    [[format]]\nname = \"180p\"\nheight = 180\nvideo_kbps = 250\n\n\
    [[format]]\nname = \"1080p\"\nheight = 1080\nvideo_kbps = 5000\n";

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
    wait_status(&s.url, &id, "processing", Duration::from_secs(30));
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let (hook, got) = receiver(0);
    let s = serve(dir.path(), &["--ladder", ladder_arg, "--webhook", &hook]);
    let a = settle(&s.url, &id, Duration::from_secs(120));
    assert_eq!(a["status"], "ready", "{a}");
    assert_eq!(a["progress"], 1.0);
    // The notification: the asset as the API shows it, ready (unsigned: no secret given).
    let reqs = wait_for(&got, 1);
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(
        header(&reqs[0].0, "x-streamscope-event"),
        Some("asset.ready")
    );
    assert_eq!(header(&reqs[0].0, "x-streamscope-signature"), None);
    let event: serde_json::Value = serde_json::from_str(&reqs[0].1).unwrap();
    assert_eq!(event["asset"]["renditions"], a["renditions"], "{event}");

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
            // Segment names carry the number of renditions packaged (ladder::dash_copy).
            format!(
                "/files/{id}/stream/chunk-r{}-0-00001.m4s",
                a["renditions"].as_array().unwrap().len()
            ),
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
        (
            a["storyboard"].as_str().unwrap().to_owned(),
            "text/vtt",
            "immutable",
        ),
        (
            format!("/files/{id}/thumbs/storyboard.jpg"),
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

    // The storyboard: a tile per keyframe interval of the 3 s master (0 and 2 s), 160x90 each,
    // side by side in the sprite the VTT names, the last cue ending at the master's end.
    let asset_dir = dir.path().join(format!("data/assets/{id}"));
    let vtt = std::fs::read_to_string(asset_dir.join("thumbs/storyboard.vtt")).unwrap();
    assert_eq!(
        vtt,
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nstoryboard.jpg#xywh=0,0,160,90\n\n\
         00:00:02.000 --> 00:00:03.000\nstoryboard.jpg#xywh=160,0,160,90\n"
    );
    let sprite = ffprobe(&asset_dir.join("thumbs/storyboard.jpg"), &[]);
    assert_eq!(
        (
            &sprite["streams"][0]["width"],
            &sprite["streams"][0]["height"]
        ),
        (&serde_json::json!(320), &serde_json::json!(90)),
        "{sprite}"
    );

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
    // `publish --source` takes the served reference over HTTP (looped, read with byte
    // ranges) and stamps its own code over it.
    let published = dir.path().join("published");
    let p = run(bin()
        .args([
            "publish",
            "--size",
            "640x360",
            "--duration",
            "2s",
            "--stream-id",
            "42",
        ])
        .args(["--preset", "ultrafast", "--source"])
        .arg(format!("{base}{}", a["reference"].as_str().unwrap()))
        .arg("--to")
        .arg(&published));
    assert!(p.status.success(), "{}", p.stderr);
    let codes: Vec<_> = timecodes(&published.join("index.m3u8"), 640, 360)
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    assert!(
        codes.len() >= 55,
        "{} codes read of 2 s at 30 fps",
        codes.len()
    );
    assert!(codes.iter().all(|t| t.stream_id == 42));
    assert!(codes.windows(2).all(|w| w[1].frame == w[0].frame + 1));
    // The audit log has the upload; the asset is one, not two, after the restart.
    let (_, list) = curl(&[&format!("{base}/api/v1/assets")]);
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[test]
fn a_job_that_cannot_succeed_ends_failed_and_the_webhook_says_so_signed_after_a_retry() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let dir = tmp();
    // A real video, but too small to carry the code: ffprobe accepts it, the master cannot.
    let tiny = lavfi_clip(
        &dir.path().join("tiny.mp4"),
        "testsrc2=size=64x48:rate=25",
        "1",
        &[],
    );
    let (hook, got) = receiver(1);
    let secret = "s3cret-for-the-test";
    let s = serve(
        dir.path(),
        &["--webhook", &hook, "--webhook-secret", secret],
    );
    let (code, a) = curl(&[
        "-F",
        &format!("file=@{}", tiny.display()),
        &format!("{}/api/v1/assets", s.url),
    ]);
    assert_eq!(code, 201, "{a}");
    let id = a["id"].as_str().unwrap();
    let a = settle(&s.url, id, Duration::from_secs(60));
    assert_eq!(a["status"], "failed", "{a}");
    let error = a["error"].as_str().unwrap();
    assert!(
        error.contains("making the timecoded master") && error.contains("too small"),
        "{error}"
    );
    // The first delivery answered 500, the retry 204: two requests, one delivery id.
    let reqs = wait_for(&got, 2);
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    let ids: Vec<_> = reqs
        .iter()
        .map(|(h, _)| header(h, "x-streamscope-delivery").unwrap())
        .collect();
    assert_eq!(ids[0], ids[1]);
    for (head, body) in &reqs {
        assert!(head.starts_with("post /hook http/1.1"), "{head}");
        assert_eq!(header(head, "x-streamscope-event"), Some("asset.failed"));
        assert_eq!(header(head, "content-type"), Some("application/json"));
        assert_eq!(
            header(head, "x-streamscope-signature"),
            Some(hmac_hex(secret, body).as_str())
        );
        let event: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            (event["event"].as_str(), event["asset"]["id"].as_str()),
            (Some("asset.failed"), Some(id))
        );
        assert_eq!(event["asset"]["status"], "failed");
    }
    // The secret itself is never in the body or the audit log.
    assert!(
        reqs.iter()
            .all(|(h, b)| !h.contains(secret) && !b.contains(secret))
    );
    let (_, audit) = curl(&[&format!("{}/api/v1/audit", s.url)]);
    assert!(!audit.to_string().contains(secret));
    assert_eq!(audit[0]["action"], "failed", "{audit}");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(got.lock().unwrap().len(), 2, "delivered once, not again");
}

/// The processes whose command line mentions `needle` (ffmpeg children of a job name the
/// asset's folder).
fn processes_mentioning(needle: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let cmd = std::fs::read(e.ok()?.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            cmd.contains(needle).then_some(cmd)
        })
        .collect()
}

#[test]
fn deleting_an_asset_mid_job_stops_its_ffmpeg_and_leaves_nothing() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let dir = tmp();
    let clip = lavfi_clip(
        &dir.path().join("long.mp4"),
        "testsrc2=size=640x360:rate=30",
        "20",
        &["-preset", "ultrafast"],
    );
    let s = serve(dir.path(), &[]);
    let (code, a) = upload(&s.url, &clip);
    assert_eq!(code, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_owned();
    // Mid-job: the master is being made.
    let started = std::time::Instant::now();
    loop {
        let (_, a) = curl(&[&format!("{}/api/v1/assets/{id}", s.url)]);
        if a["status"] == "processing" && a["progress"].as_f64().unwrap_or(0.0) > 0.02 {
            break;
        }
        assert!(
            a["status"] != "ready",
            "the job ended before it could be deleted"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "{a}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !processes_mentioning(&id).is_empty(),
        "the job's ffmpeg runs"
    );
    let (code, _) = curl(&["-X", "DELETE", &format!("{}/api/v1/assets/{id}", s.url)]);
    assert_eq!(code, 204);
    let deleted = std::time::Instant::now();
    while !processes_mentioning(&id).is_empty() {
        assert!(
            deleted.elapsed() < Duration::from_secs(5),
            "still running 5 s after the delete: {:?}",
            processes_mentioning(&id)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The job cleans what it wrote after the deletion, then nothing comes back.
    std::thread::sleep(Duration::from_millis(1500));
    let folder = dir.path().join(format!("data/assets/{id}"));
    assert!(!folder.exists(), "{} left behind", folder.display());
    let (code, _) = curl(&[&format!("{}/api/v1/assets/{id}", s.url)]);
    assert_eq!(code, 404);
    let (_, audit) = curl(&[&format!("{}/api/v1/audit", s.url)]);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["asset"] == id.as_str())
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["delete", "upload"],
        "no failure recorded: {audit}"
    );
    // The worker is free for the next upload.
    let short = lavfi_clip(
        &dir.path().join("short.mp4"),
        "testsrc2=size=320x180:rate=30",
        "2",
        &["-preset", "ultrafast"],
    );
    let (_, b) = upload(&s.url, &short);
    let b = settle(&s.url, b["id"].as_str().unwrap(), Duration::from_secs(60));
    assert_eq!(b["status"], "ready", "{b}");
}

/// Run SQL against the server's SQLite file (python's sqlite3: the test does not link sqlx);
/// the first column of each row.
fn sql(db: &Path, query: &str) -> Vec<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
             rows=c.execute(sys.argv[2]).fetchall(); c.commit(); \
             print('\\n'.join(str(r[0]) for r in rows))",
        ])
        .arg(db)
        .arg(query)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn an_asset_whose_job_was_never_queued_is_transcoded_after_a_restart_and_none_twice() {
    if !require("ffmpeg") || !require("curl") || !require("python3") {
        return;
    }
    let dir = tmp();
    let clip = lavfi_clip(
        &dir.path().join("clip.mp4"),
        "testsrc2=size=320x180:rate=30",
        "2",
        &["-preset", "ultrafast"],
    );
    let stored = |url: &str| {
        let (code, a) = upload(url, &clip);
        assert_eq!(code, 201, "{a}");
        a["id"].as_str().unwrap().to_owned()
    };
    // Two uploads on a server that only serves; then one job is lost, as if the server had
    // died between storing the row and queueing the job.
    let mut s = serve(dir.path(), &["--workers", "0"]);
    let (lost, queued) = (stored(&s.url), stored(&s.url));
    assert_eq!(sigterm(&mut s).code(), Some(0));
    let db = dir.path().join("db.sqlite");
    let jobs = |id: &str| {
        sql(
            &db,
            &format!("SELECT COUNT(*) FROM Jobs WHERE idempotency_key = 'transcode:{id}'"),
        )
    };
    assert_eq!(jobs(&lost), ["1"]);
    sql(
        &db,
        &format!("DELETE FROM Jobs WHERE idempotency_key = 'transcode:{lost}'"),
    );
    assert_eq!(jobs(&lost), ["0"]);
    // The next server queues the lost one, not the queued one a second time; both get made.
    let s = serve(dir.path(), &[]);
    for id in [&lost, &queued] {
        let a = settle(&s.url, id, Duration::from_secs(60));
        assert_eq!(a["status"], "ready", "{a}");
        assert_eq!(jobs(id), ["1"], "one job for {id}");
    }
}

#[test]
fn a_separate_worker_transcodes_for_a_server_that_only_serves() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let dir = tmp();
    let clip = user_clip(dir.path());
    let ladder = dir.path().join("ladder.toml");
    std::fs::write(
        &ladder,
        "[[format]]\nname = \"180p\"\nheight = 180\nvideo_kbps = 250\n",
    )
    .unwrap();
    let s = serve(dir.path(), &["--workers", "0"]);
    let (code, a) = upload(&s.url, &clip);
    assert_eq!(code, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_owned();
    // Nothing happens without a worker…
    std::thread::sleep(Duration::from_secs(2));
    let (_, a) = curl(&[&format!("{}/api/v1/assets/{id}", s.url)]);
    assert_eq!(a["status"], "uploaded", "{a}");
    // …and a worker on the same database and storage makes the ladder the server serves.
    let mut w = worker(
        dir.path(),
        &["--jobs", "transcode", "--ladder", path_str(&ladder)],
    );
    let a = settle(&s.url, &id, Duration::from_secs(120));
    assert_eq!(a["status"], "ready", "{a}");
    let names: Vec<&str> = a["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["180p"], "{a}");
    let h = head(&format!("{}{}", s.url, a["hls"].as_str().unwrap()));
    assert!(h.starts_with("http/1.1 200"), "{h}");
    // SIGTERM: the idle worker stops at once, cleanly.
    assert!(sigterm(&mut w).success());
}
