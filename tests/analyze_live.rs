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
    let sent = send_udp(&clip, port, None).wait().unwrap();
    assert!(sent.success(), "the sender failed: {sent}");
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
    interrupt(analyzer.id());
    let r = wait_with_timeout(analyzer, Duration::from_secs(20));
    let _ = wait_with_timeout_status(publisher);
    assert_eq!(r.status.code(), Some(130), "{}", r.stderr);
    assert!(r.stderr.contains("interrupted"), "{}", r.stderr);
    let s: Value = summary_json(&out);
    assert_eq!(s["interrupted"], true);
    // The report is drawn on Ctrl-C too, and says the run was cut short.
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html after Ctrl-C");
    assert!(html.contains("interrupted</th>"), "report says interrupted");
    assert!(out.join("latency.svg").exists() && out.join("latency.png").exists());
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
    let metrics_port = free_port(false);
    let analyzer = bin()
        .args([
            "analyze",
            "--vmaf",
            "--duration",
            "8s",
            "--out",
            path_str(&out),
            "--metrics",
            &format!("127.0.0.1:{metrics_port}"),
        ])
        .args(["--control", &udp(cport), "--live", &udp(lport)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // Prometheus scrapes while the clip plays (it plays for 3 s from now), then every 500 ms
    // while the run goes on, to 0.7 s before its end (the low-priority scorer may publish its
    // first score late on a loaded machine: seen once with 6 s of scrapes, 7 tests sharing 2 cores).
    let scraper = std::thread::spawn(move || {
        [1500, 1300, 500, 500, 500, 500, 500, 500, 500, 500]
            .map(|ms| {
                std::thread::sleep(Duration::from_millis(ms));
                scrape(metrics_port)
            })
            .to_vec()
    });
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
    let scrapes = scraper.join().unwrap();
    let r = wait_with_timeout(analyzer, Duration::from_secs(40));
    assert!(r.status.success(), "{}", r.stderr);
    // The metrics parse, and they move between the two scrapes.
    let live = "{stream=\"live1\",role=\"live\"}";
    let at = |i: usize, name: &str| -> f64 {
        *scrapes[i]
            .get(name)
            .unwrap_or_else(|| panic!("{name} in scrape {i}: {:?}", scrapes[i]))
    };
    let frames = format!("streamscope_frames_total{live}");
    assert!(at(0, &frames) > 5.0 && at(1, &frames) > at(0, &frames) + 20.0);
    let count = format!("streamscope_latency_seconds_count{live}");
    assert!(at(1, &count) > at(0, &count));
    let inf = "streamscope_latency_seconds_bucket{stream=\"live1\",role=\"live\",le=\"+Inf\"}";
    assert_eq!(at(1, inf), at(1, &count), "+Inf bucket = count");
    let fps = at(1, &format!("streamscope_fps{live}"));
    assert!((20.0..=40.0).contains(&fps), "fps {fps}");
    let rel = at(1, &format!("streamscope_relative_latency_seconds{live}"));
    assert!(rel.abs() < 2.0, "relative {rel}");
    let gauge = format!("streamscope_vmaf{live}");
    let vmaf = scrapes
        .iter()
        .rev()
        .find_map(|s| s.get(&gauge).copied())
        .unwrap_or_else(|| panic!("{gauge} in no scrape: {:?}", scrapes.last()));
    assert!(vmaf > 0.0 && vmaf <= 100.0, "newest VMAF {vmaf}");
    assert!(
        at(
            1,
            "streamscope_frames_total{stream=\"control\",role=\"control\"}"
        ) > 20.0
    );
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

/// GET /metrics on 127.0.0.1:port, parsed: series (name and labels) → value. Comment lines
/// must be HELP or TYPE; every other line must be `series value`.
fn scrape(port: u16) -> std::collections::HashMap<String, f64> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("metrics port");
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.1 200") && head.contains("text/plain; version=0.0.4"),
        "{head}"
    );
    body.lines()
        .filter(|l| {
            !l.is_empty()
                && (!l.starts_with('#') || {
                    assert!(l.starts_with("# HELP ") || l.starts_with("# TYPE "), "{l}");
                    false
                })
        })
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("{l}"));
            (
                series.to_owned(),
                value.parse().unwrap_or_else(|_| panic!("{l}")),
            )
        })
        .collect()
}

#[test]
fn a_stream_that_dies_is_judged_to_the_end_of_the_run() {
    if !require("ffmpeg") {
        return;
    }
    // Control and live carry the same 5 s clip; the live one dies after 2 s and the run goes
    // on to 6 s: an outage and a freeze to the end, the control's later frames lost, and a
    // --fail-if on freezes fails the run.
    let dir = tmp();
    let clip = dir.path().join("c.mp4");
    streamscope_ok(&[
        "generate",
        "--out",
        path_str(&clip),
        "--duration",
        "5s",
        "--size",
        "640x360",
        "--no-audio",
        "--preset",
        "ultrafast",
        "--gop",
        "500ms",
    ]);
    let (lport, cport) = (free_port(true), free_port(true));
    let udp = |p: u16| format!("udp://127.0.0.1:{p}?fifo_size=100000&overrun_nonfatal=1");
    let out = dir.path().join("report");
    let analyzer = bin()
        .args(["analyze", "--live", &udp(lport), "--control", &udp(cport)])
        .args([
            "--duration",
            "6s",
            "--fail-if",
            "freezes>0",
            "--out",
            path_str(&out),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let mut senders = [
        send_udp(&clip, cport, None),
        send_udp(&clip, lport, Some("2")),
    ];
    let r = wait_with_timeout(analyzer, Duration::from_secs(40));
    for s in &mut senders {
        let _ = s.wait();
    }
    assert_eq!(r.status.code(), Some(3), "{}", r.stderr);
    let s: Value = summary_json(&out);
    let live = stream(&s, "live1");
    assert!(live["frames_received"].as_u64().unwrap() >= 50, "{live}");
    assert!(live["stopped_at"].is_string(), "{live}");
    assert_eq!(live["outages"], 1, "{live}");
    assert!(live["outage_ms_total"].as_f64().unwrap() > 2000.0, "{live}");
    assert!(live["freezes"].as_u64().unwrap() >= 1, "{live}");
    assert_eq!(live["fps"]["min"], 0.0, "{live}");
    // Lost at the end: the control's frames after the live stream's last one that the control
    // got more than the grace (the largest relative latency + 3 frame intervals) before the
    // run stopped — counted here from frames.csv.
    let us = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_micros()
    };
    let csv = std::fs::read_to_string(out.join("frames.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let last_live: u64 = rows
        .iter()
        .filter(|r| r[0] == "live1")
        .filter_map(|r| r[1].parse().ok())
        .max()
        .unwrap();
    // (A relative latency below zero — the live reader ahead of the control's on a loaded
    // machine — gives no grace below the 3 intervals.)
    let grace =
        ((live["relative_latency_ms"]["max"].as_f64().unwrap() * 1e3) as i64).max(0) + 3 * 33_333;
    let stop = us(live["stopped_at"].as_str().unwrap());
    let expected_lost = rows
        .iter()
        .filter(|r| r[0] == "control" && r[10].is_empty())
        .filter(|r| r[1].parse::<u64>().unwrap() > last_live && us(r[3]) + grace <= stop)
        .count() as u64;
    assert!(expected_lost > 30, "{live}");
    assert_eq!(
        live["lost_at_end"].as_u64().unwrap(),
        expected_lost,
        "{live}"
    );
    assert_eq!(
        live["frames_expected"].as_u64().unwrap(),
        live["frames_received"].as_u64().unwrap() + expected_lost,
        "{live}"
    );
    let events = std::fs::read_to_string(out.join("events.csv")).unwrap();
    assert!(
        events.contains(",outage,") && events.contains("to the end of the run"),
        "{events}"
    );
    assert!(events.contains(",lost_at_end,"), "{events}");
    assert!(r.stderr.contains("live1: freezes>0"), "{}", r.stderr);
}

#[test]
fn ctrl_c_while_a_source_is_still_opening_is_not_its_error() {
    if !require("ffmpeg") {
        return;
    }
    // Nothing is sent: the stream is still opening (up to --open-timeout 30s) when the user
    // presses Ctrl-C. The run stops at once, exit 130, and does not claim "no video".
    let dir = tmp();
    let out = dir.path().join("report");
    let url = format!("udp://127.0.0.1:{}", free_port(true));
    let analyzer = bin()
        .args([
            "analyze",
            "--live",
            &url,
            "--open-timeout",
            "30s",
            "--out",
            path_str(&out),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let started = std::time::Instant::now();
    interrupt(analyzer.id());
    let r = wait_with_timeout(analyzer, Duration::from_secs(20));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped at once"
    );
    assert_eq!(r.status.code(), Some(130), "{}", r.stderr);
    assert!(!r.stderr.contains("no video"), "{}", r.stderr);
    assert!(stream(&summary_json(&out), "live1")["error"].is_null());
}

/// Processes whose command line contains `needle`.
fn processes_with(needle: &str) -> usize {
    let out = Command::new("pgrep").args(["-f", needle]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn no_ffmpeg_outlives_a_killed_streamscope() {
    if !require("ffmpeg") {
        return;
    }
    // The reader's ffmpeg waits on an SRT socket and writes nothing, so nothing would ever
    // make it fail on its own. SIGKILL streamscope: its watchdog ends the ffmpeg too.
    let dir = tmp();
    let url = format!("srt://127.0.0.1:{}?mode=listener", free_port(true));
    let mut analyzer = bin()
        .args([
            "analyze",
            "--live",
            &url,
            "--open-timeout",
            "60s",
            "--duration",
            "60s",
        ])
        .args(["--out", path_str(&dir.path().join("r"))])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The reader's ffmpeg (not streamscope, whose arguments hold the URL too).
    let needle = format!("ffmpeg .*{}", url.split('?').next().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while processes_with(&needle) == 0 {
        assert!(std::time::Instant::now() < deadline, "ffmpeg never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    analyzer.kill().unwrap();
    analyzer.wait().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while processes_with(&needle) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "an ffmpeg of the killed streamscope is still running"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_run_folder_has_one_writer_and_is_never_written_over() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let out = dir.path().join("report");
    let url = format!("udp://127.0.0.1:{}", free_port(true));
    let first = bin()
        .args([
            "analyze",
            "--live",
            &url,
            "--open-timeout",
            "30s",
            "--out",
            path_str(&out),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    // A second run into the same folder while the first writes it: refused, nothing lost.
    let url2 = format!("udp://127.0.0.1:{}", free_port(true));
    let second = run(bin().args(["analyze", "--live", &url2, "--out", path_str(&out)]));
    assert_eq!(second.status.code(), Some(1), "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains("being written by another streamscope run"),
        "{}",
        second.stderr
    );
    Command::new("kill")
        .args(["-INT", &first.id().to_string()])
        .status()
        .unwrap();
    let r = wait_with_timeout(first, Duration::from_secs(20));
    assert_eq!(r.status.code(), Some(130), "{}", r.stderr);
    assert_eq!(
        stream(&summary_json(&out), "live1")["url"],
        url.as_str(),
        "the first run's summary"
    );
    // A folder that holds a run is not written over.
    let third = run(bin().args(["analyze", "--live", &url2, "--out", path_str(&out)]));
    assert_eq!(third.status.code(), Some(1), "{}", third.stderr);
    assert!(
        third.stderr.contains("already holds a run"),
        "{}",
        third.stderr
    );
    assert_eq!(stream(&summary_json(&out), "live1")["url"], url.as_str());
}
