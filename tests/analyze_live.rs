//! End-to-end tests of `streamscope analyze` on live inputs: MPEG-TS over UDP published in real
//! time by ffmpeg on 127.0.0.1, and Ctrl-C during a live run.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::Value;

#[test]
fn live_udp_stream_is_read_in_real_time() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    // Frame 0 is captured at T0, a moment from now; the publisher starts sending at T0 in real
    // time, so latency is what the UDP path and decoding add. The stream runs 4 s and the
    // first 110 frames must all arrive: a live stream that stops without an end leaves its
    // last few frames inside ffmpeg's demuxer and decoder (a player holds them the same way).
    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t0 = now_s + 4;
    let start = chrono::DateTime::from_timestamp(t0 as i64, 0)
        .unwrap()
        .to_rfc3339();
    let clip = dir.path().join("live.mp4");
    streamscope_ok(&[
        "generate",
        "--out",
        path_str(&clip),
        "--duration",
        "4s",
        "--size",
        "640x360",
        "--no-audio",
        "--start-time",
        &start,
        "--preset",
        "ultrafast",
        "--gop",
        "500ms",
    ]);
    let port = free_port(true);
    let url = format!("udp://127.0.0.1:{port}?fifo_size=100000&overrun_nonfatal=1");
    let out = dir.path().join("report");
    let analyzer = bin()
        .args([
            "analyze",
            "--live",
            &url,
            "--duration",
            "8s",
            "--out",
            path_str(&out),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let wait = Duration::from_secs(t0) - SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    std::thread::sleep(wait);
    let publisher = run(Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-re", "-i"])
        .arg(&clip)
        .args([
            "-c",
            "copy",
            "-f",
            "mpegts",
            "-muxdelay",
            "0",
            "-muxpreload",
            "0",
        ])
        .arg(format!("udp://127.0.0.1:{port}?pkt_size=1316")));
    assert!(publisher.status.success(), "{}", publisher.stderr);
    let r = wait_with_timeout(analyzer, Duration::from_secs(30));
    assert!(r.status.success(), "{}", r.stderr);
    let s: Value = summary_json(&out);
    let live = stream(&s, "live1");
    let csv = std::fs::read_to_string(out.join("frames.csv")).unwrap();
    let frames: Vec<u64> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1)?.parse().ok())
        .collect();
    assert_eq!(frames[..110], (0..110).collect::<Vec<_>>()[..], "{live}");
    assert_eq!(
        (live["dropped"].as_u64(), live["unreadable"].as_u64()),
        (Some(0), Some(0)),
        "{live}"
    );
    let p50 = live["latency_ms"]["p50"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 < 1000.0, "p50 latency {p50} ms");
    assert_eq!(s["clock"], "realtime");
}

#[test]
fn ctrl_c_keeps_every_row_and_writes_the_summary() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let port = free_port(true);
    let out = dir.path().join("report");
    // A live input that is analyzed until interrupted.
    let clip = dir.path().join("c.mp4");
    streamscope_ok(&[
        "generate",
        "--out",
        path_str(&clip),
        "--duration",
        "5s",
        "--size",
        "320x240",
        "--no-audio",
        "--preset",
        "ultrafast",
        "--gop",
        "500ms",
    ]);
    let url = format!("udp://127.0.0.1:{port}?fifo_size=100000&overrun_nonfatal=1");
    let analyzer = bin()
        .args(["analyze", "--live", &url, "--out", path_str(&out)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let publisher = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-re", "-i"])
        .arg(&clip)
        .args(["-c", "copy", "-f", "mpegts"])
        .arg(format!("udp://127.0.0.1:{port}?pkt_size=1316"))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(3000));
    assert!(
        Command::new("kill")
            .args(["-INT", &analyzer.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let r = wait_with_timeout(analyzer, Duration::from_secs(20));
    let _ = wait_with_timeout_status(publisher);
    assert_eq!(r.status.code(), Some(130), "{}", r.stderr);
    assert!(r.stderr.contains("interrupted"), "{}", r.stderr);
    let s: Value = summary_json(&out);
    assert_eq!(s["interrupted"], true);
    let received = stream(&s, "live1")["frames_received"].as_u64().unwrap();
    let rows = std::fs::read_to_string(out.join("frames.csv"))
        .unwrap()
        .lines()
        .count() as u64
        - 1;
    assert!(received > 10, "{received} frames before Ctrl-C");
    assert_eq!(rows, received, "every measured row is in frames.csv");
}

fn wait_with_timeout_status(mut child: std::process::Child) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait().ok()
}

#[test]
fn live_vmaf_scores_a_rendition_without_delaying_arrivals() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let clip = generated_clip(dir.path(), "c.mp4", &["--gop", "500ms"]);
    let (cport, lport) = (free_port(true), free_port(true));
    let udp = |p: u16| format!("udp://127.0.0.1:{p}?fifo_size=100000&overrun_nonfatal=1");
    let out = dir.path().join("report");
    let analyzer = bin()
        .args([
            "analyze",
            "--vmaf",
            "--duration",
            "8s",
            "--out",
            path_str(&out),
        ])
        .args(["--control", &udp(cport), "--live", &udp(lport)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // One publisher: the untouched control, and a 180p low-bitrate rendition as the provider.
    let ts = ["-f", "mpegts", "-muxdelay", "0", "-muxpreload", "0"];
    let publisher = run(Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-re", "-i"])
        .arg(&clip)
        .args(["-map", "0:v", "-c", "copy"])
        .args(ts)
        .arg(format!("udp://127.0.0.1:{cport}?pkt_size=1316"))
        .args(["-map", "0:v", "-c:v", "libx264", "-preset", "ultrafast"])
        .args([
            "-tune",
            "zerolatency",
            "-b:v",
            "250k",
            "-s",
            "320x180",
            "-g",
            "15",
        ])
        .args(ts)
        .arg(format!("udp://127.0.0.1:{lport}?pkt_size=1316")));
    assert!(publisher.status.success(), "{}", publisher.stderr);
    let r = wait_with_timeout(analyzer, Duration::from_secs(40));
    assert!(r.status.success(), "{}", r.stderr);
    let s: Value = summary_json(&out);
    let live = stream(&s, "live1");
    let received = live["frames_received"].as_u64().unwrap();
    let scored = live["vmaf"]["frames_scored"].as_u64().unwrap();
    let unscored: u64 = live["vmaf_unscored"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(received >= 30 && scored >= 10, "{live}");
    assert_eq!(
        scored + unscored,
        received,
        "every frame scored or accounted for: {live}"
    );
    assert_eq!(
        live["dropped"], 0,
        "scoring never holds up arrivals: {live}"
    );
    assert_eq!(live["scaled_to"], "640x360");
    let mean = live["vmaf"]["mean"].as_f64().unwrap();
    assert!(
        mean > 10.0 && mean < 99.0,
        "VMAF {mean} of a 180p 250k rendition"
    );
    let csv = std::fs::read_to_string(out.join("frames.csv")).unwrap();
    let filled = csv
        .lines()
        .filter(|l| l.starts_with("live1,") && !l.split(',').nth(7).unwrap().is_empty())
        .count() as u64;
    assert_eq!(
        filled, scored,
        "frames.csv carries each scored frame's VMAF"
    );
}
