//! Live A/V offset of inputs streamscope does not receive itself (`analyze --live-av`: a
//! receiver ffmpeg in front of the reader), with real servers on 127.0.0.1: RTMP and its HLS
//! through nginx-rtmp, SRT, DASH from ffmpeg's packager served by nginx, a stream without audio,
//! a server that is not there, Ctrl-C.

mod common;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::nginx::{Running, serial, spawn, start_analyze, with_nginx};
use common::*;
use serde_json::Value;

/// `streamscope publish` (with its beeps unless `silent`) of a small stream for `secs`.
fn publisher(to: &str, secs: u32, silent: bool) -> Running {
    let mut c = bin();
    c.args(["publish", "--size", "320x180", "--gop", "1s", "--duration"]);
    c.arg(format!("{secs}s")).args(["--to", to]);
    if !silent {
        c.arg("--audio");
    }
    spawn(&mut c)
}

/// A publisher with beeps listening on SRT for `secs`, and the URL a caller reads it at.
fn srt_publisher(secs: u32) -> (Running, String) {
    let port = free_port(true);
    let p = publisher(
        &format!("srt://127.0.0.1:{port}?mode=listener"),
        secs,
        false,
    );
    std::thread::sleep(Duration::from_millis(500));
    (p, format!("srt://127.0.0.1:{port}"))
}

fn finished(child: Child, out: &Path) -> Value {
    let r = wait_with_timeout(child, Duration::from_secs(60));
    assert!(r.status.success(), "{}", r.stderr);
    summary_json(out)
}

/// Frame number → latency (ms) of a stream's rows.
fn latencies(out: &Path, name: &str) -> std::collections::BTreeMap<u64, f64> {
    report::frames::read(&out.join("frames.csv"))
        .unwrap()
        .into_iter()
        .filter(|r| r.stream == name)
        .filter_map(|r| Some((r.frame?, r.latency_us? as f64 / 1000.0)))
        .collect()
}

/// The stream's A/V offset is measured, every beep heard, within `limit_ms`.
fn assert_in_sync(st: &Value, limit_ms: f64) {
    assert_eq!(st["av_error"], Value::Null, "{st}");
    let av = &st["av"];
    assert!(av["beeps_expected"].as_u64().unwrap() >= 4, "{st}");
    assert_eq!(av["beeps_missed"], 0, "{st}");
    let (median, p95) = (
        av["median_ms"].as_f64().unwrap(),
        av["abs_p95_ms"].as_f64().unwrap(),
    );
    assert!(median.abs() < limit_ms && p95 < limit_ms, "{st}");
}

#[test]
fn rtmp_and_its_hls_have_their_av_offset_measured_live_at_the_plain_readers_latency() {
    let Some((_serial, dir, n)) = with_nginx() else {
        return;
    };
    let rtmp = format!("rtmp://127.0.0.1:{}/live/av", n.rtmp);
    let hls = format!("http://127.0.0.1:{}/hls/av.m3u8", n.http);
    let _p = publisher(&rtmp, 16, false);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.path().join("hls/av.m3u8").exists() {
        assert!(Instant::now() < deadline, "no HLS playlist from nginx");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The same RTMP stream read at once by a plain reader and through a receiver.
    let (with, plain) = (dir.path().join("with"), dir.path().join("plain"));
    let a = start_analyze(
        &with,
        &[
            "--live",
            &rtmp,
            "--live",
            &hls,
            "--live-av",
            "--duration",
            "8s",
        ],
    );
    let b = start_analyze(&plain, &["--live", &rtmp, "--duration", "8s"]);
    let (s, p) = (finished(a, &with), finished(b, &plain));
    for name in ["live1", "live2"] {
        let st = stream(&s, name);
        assert_in_sync(st, 5.0);
        eprintln!("{name} A/V offset {}", st["av"]);
    }
    assert!(stream(&p, "live1")["av_error"].is_string(), "plain: {p}");
    // The rate the streams declare, not ffmpeg's average over arrival stamps.
    for st in [
        stream(&s, "live1"),
        stream(&s, "live2"),
        stream(&p, "live1"),
    ] {
        assert_eq!(st["fps_nominal"], 30.0, "{st}");
    }
    // Through the receiver the frames are stamped as the plain reader stamps them: the same
    // frames' latencies differ by a process hop, and the first frames were not held in the
    // receiver's probe (they would come late, in a burst).
    let (lw, lp) = (latencies(&with, "live1"), latencies(&plain, "live1"));
    let mut diff: Vec<f64> = lw
        .iter()
        .filter_map(|(f, w)| Some(w - lp.get(f)?))
        .collect();
    assert!(diff.len() >= 150, "{} shared frames", diff.len());
    diff.sort_by(f64::total_cmp);
    let median = diff[diff.len() / 2];
    eprintln!(
        "receiver − plain latency over {} frames: median {median:.2} ms, p5 {:.2}, p95 {:.2}",
        diff.len(),
        diff[diff.len() / 20],
        diff[diff.len() * 19 / 20]
    );
    assert!(median.abs() < 15.0, "median difference {median} ms");
    let mut sorted: Vec<f64> = lw.values().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let typical = sorted[sorted.len() / 2];
    let first: Vec<f64> = lw.values().take(5).copied().collect();
    assert!(
        first.iter().all(|l| *l < typical + 100.0),
        "first frames {first:?} ms against a median of {typical} ms"
    );
}

#[test]
fn srt_audio_is_measured_live() {
    let _serial = serial();
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let (_p, url) = srt_publisher(10);
    let out = dir.path().join("run");
    let a = start_analyze(&out, &["--live", &url, "--live-av", "--duration", "7s"]);
    let s = finished(a, &out);
    assert_in_sync(stream(&s, "live1"), 5.0);
}

#[test]
fn ctrl_c_with_live_av_keeps_the_rows_and_the_beeps_heard_and_leaves_no_ffmpeg() {
    let _serial = serial();
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let (_p, url) = srt_publisher(20);
    let out = dir.path().join("run");
    // No deadline: the run ends by Ctrl-C only.
    let a = start_analyze(&out, &["--live", &url, "--live-av"]);
    std::thread::sleep(Duration::from_secs(7));
    // Its children: the receiver in front of the reader, the reader, the watchdog.
    let children = std::process::Command::new("pgrep")
        .args(["-P", &a.id().to_string()])
        .output()
        .unwrap();
    let children: Vec<String> = String::from_utf8_lossy(&children.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert!(
        children.len() >= 2,
        "receiver and reader running: {children:?}"
    );
    interrupt(a.id());
    let r = wait_with_timeout(a, Duration::from_secs(30));
    assert_eq!(r.status.code(), Some(130), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    // Every child has ended (a zombie no init has reaped yet counts as ended: the watchdog
    // `sh` ends the moment the run does), within 2 s.
    let running = |pid: &String| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|st| {
                st.rsplit(')')
                    .next()
                    .map(|rest| rest.trim().starts_with('Z'))
            })
            .is_some_and(|zombie| !zombie)
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    while children.iter().any(running) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<String> = children
        .iter()
        .filter(|p| running(p))
        .map(|p| std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default())
        .collect();
    assert!(left.is_empty(), "outlived the run: {left:?}");
    let s = summary_json(&out);
    assert_eq!(s["interrupted"], true, "{s}");
    let st = stream(&s, "live1");
    let received = st["frames_received"].as_u64().unwrap();
    assert!(received >= 60, "{st}");
    let rows = report::frames::read(&out.join("frames.csv"))
        .unwrap()
        .into_iter()
        .filter(|r| r.stream == "live1")
        .count() as u64;
    assert_eq!(rows, received, "every row on disk");
    // What the receiver heard before the interrupt is kept and measured.
    assert_eq!(st["av_error"], Value::Null, "{st}");
    assert!(st["av"]["beeps_expected"].as_u64().unwrap() >= 3, "{st}");
    assert_eq!(st["av"]["beeps_missed"], 0, "{st}");
}

#[test]
fn a_stream_without_audio_is_read_without_it_and_says_so() {
    let Some((_serial, dir, n)) = with_nginx() else {
        return;
    };
    let rtmp = format!("rtmp://127.0.0.1:{}/live/quiet", n.rtmp);
    let _p = publisher(&rtmp, 10, true);
    std::thread::sleep(Duration::from_millis(500));
    let out = dir.path().join("run");
    let s = finished(
        start_analyze(&out, &["--live", &rtmp, "--live-av", "--duration", "6s"]),
        &out,
    );
    let st = stream(&s, "live1");
    assert_eq!(st["av_error"], "no audio", "{st}");
    assert_eq!(st["error"], Value::Null, "{st}");
    assert!(latencies(&out, "live1").len() >= 60, "{st}");
}

#[test]
fn a_server_that_is_not_there_is_one_sentence_naming_the_receiver() {
    let _serial = serial();
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let port = free_port(false);
    let url = format!("rtmp://127.0.0.1:{port}/live/none");
    let run = |extra: &[&str]| {
        let out = dir.path().join(format!("run{}", extra.len()));
        let mut args = vec!["--live", &url, "--duration", "4s", "--open-timeout", "3s"];
        args.extend(extra);
        wait_with_timeout(start_analyze(&out, &args), Duration::from_secs(30))
    };
    let (with, plain) = (run(&["--live-av"]), run(&[]));
    assert_eq!(with.status.code(), plain.status.code(), "{}", with.stderr);
    assert_ne!(with.status.code(), Some(0));
    let said = with.stderr.lines().last().unwrap_or_default().to_owned();
    assert!(
        with.stderr.contains("-f nut pipe:1") && with.stderr.contains("Connection refused"),
        "{}",
        with.stderr
    );
    assert!(!with.stderr.contains("panicked"), "{}", with.stderr);
    eprintln!("{said}");
    // No ffmpeg of the run is left behind.
    let left = std::process::Command::new("pgrep")
        .args(["-f", &format!("127.0.0.1:{port}/live/none")])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "left running: {:?}", left.stdout);
}

#[test]
fn dash_audio_is_measured_live() {
    let Some((_serial, dir, n)) = with_nginx() else {
        return;
    };
    let clip = dir.path().join("c.mp4");
    streamscope_ok(&[
        "generate",
        "--out",
        path_str(&clip),
        "--duration",
        "8s",
        "--size",
        "320x180",
        "--preset",
        "ultrafast",
        "--gop",
        "1s",
    ]);
    let dash = dir.path().join("files/dash");
    std::fs::create_dir_all(&dash).unwrap();
    let out = dir.path().join("run");
    let manifest = format!("http://127.0.0.1:{}/files/dash/manifest.mpd", n.http);
    let analyzer = start_analyze(
        &out,
        &[
            "--live",
            &manifest,
            "--live-av",
            "--duration",
            "9s",
            "--open-timeout",
            "8s",
        ],
    );
    // ffmpeg's DASH muxer, live, video and audio in their own segments.
    let packaged = run(ffmpeg_cmd()
        .args(["-re", "-i", path_str(&clip), "-map", "0", "-c", "copy"])
        .args(["-f", "dash", "-streaming", "1", "-use_timeline", "1"])
        .args(["-seg_duration", "1", "-window_size", "5"])
        .arg(dash.join("manifest.mpd")));
    assert!(packaged.status.success(), "{}", packaged.stderr);
    let s = finished(analyzer, &out);
    assert_in_sync(stream(&s, "live1"), 5.0);
}
