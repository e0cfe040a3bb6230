//! End-to-end tests of `analyze --rotate`: a live run over UDP cut into periods, each a whole
//! run folder, with a roll-up; no frame lost or counted twice at a boundary.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Every `frames.csv` row of a rotated run folder: (period dir, stream, frame, vmaf present).
fn rows(out: &std::path::Path, dirs: &[String]) -> Vec<(String, String, Option<u64>, bool)> {
    let mut all = Vec::new();
    for d in dirs {
        let csv = std::fs::read_to_string(out.join(d).join("frames.csv")).unwrap();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (stream, frame, vmaf) = (col("stream"), col("frame"), col("vmaf"));
        for l in lines {
            let f: Vec<&str> = l.split(',').collect();
            all.push((
                d.clone(),
                f[stream].to_owned(),
                f[frame].parse().ok(),
                !f[vmaf].is_empty(),
            ));
        }
    }
    all
}

#[test]
fn a_rotated_run_counts_every_frame_once_across_its_periods() {
    if !require("ffmpeg") {
        return;
    }
    // 13 s at 30 fps (320x180, cheap): the control untouched, the live copy without every
    // 45th frame (from 20 on: 20, 65, 110 …), so each 5 s boundary falls near a gap.
    let dir = tmp();
    let clip = dir.path().join("c.mp4");
    streamscope_ok(&[
        "generate",
        "--out",
        path_str(&clip),
        "--duration",
        "13s",
        "--size",
        "320x180",
        "--no-audio",
        "--preset",
        "ultrafast",
        "--gop",
        "500ms",
    ]);
    let live_clip = dir.path().join("l.mp4");
    run_ok(
        ffmpeg_cmd()
            .arg("-i")
            .arg(&clip)
            .args(["-vf", "select='not(eq(mod(n\\,45)\\,20))'"])
            .args(["-fps_mode", "passthrough", "-c:v", "libx264"])
            .args(["-preset", "ultrafast", "-crf", "20", "-g", "15"])
            .arg(&live_clip),
    );
    let (lport, cport) = (free_port(true), free_port(true));
    let udp = |p: u16| format!("udp://127.0.0.1:{p}?fifo_size=100000&overrun_nonfatal=1");
    let out = dir.path().join("run");
    let analyzer = bin()
        .args(["analyze", "--live", &udp(lport), "--control", &udp(cport)])
        .args(["--vmaf", "--duration", "15s", "--rotate", "5s"])
        .args(["--fail-if", "dropped>0", "--out", path_str(&out)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let mut senders = [
        send_udp(&clip, cport, None),
        send_udp(&live_clip, lport, None),
    ];
    let r = wait_with_timeout(analyzer, Duration::from_secs(90));
    for s in &mut senders {
        let _ = s.wait();
    }
    assert_eq!(r.status.code(), Some(3), "dropped>0 failed: {}", r.stderr);
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    let periods = index["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 3, "15 s in 5 s periods: {index}");
    let dirs: Vec<String> = periods
        .iter()
        .map(|p| p["dir"].as_str().unwrap().to_owned())
        .collect();
    for d in &dirs {
        assert!(out.join(d).join("report.html").is_file(), "{d}");
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("3 of 3 periods failed"), "{html}");
    assert!(html.contains(&format!("href=\"{}/report.html\"", dirs[1])));

    // No frame in two periods, none lost between them: each number once per stream.
    let all = rows(&out, &dirs);
    let mut numbers: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (_, s, f, _) in &all {
        numbers.entry(s.as_str()).or_default().extend(*f);
    }
    for (s, n) in &mut numbers {
        let count = n.len();
        n.sort_unstable();
        n.dedup();
        assert_eq!(n.len(), count, "{s}: a frame in two periods");
    }
    let live = &numbers["live1"];
    let (lo, hi) = (live[0], *live.last().unwrap());
    let removed = (lo..=hi).filter(|f| f % 45 == 20).count() as u64;
    assert_eq!(
        (hi - lo + 1) - live.len() as u64,
        removed,
        "only the removed frames are missing"
    );
    assert!(removed >= 7, "{lo}..{hi}");

    // Each period's numbers add up, and over the periods they are the run's.
    let (mut dropped, mut drop_events) = (0, 0);
    for d in &dirs {
        let s = summary_json(&out.join(d));
        let st = stream(&s, "live1");
        let n = |k: &str| st[k].as_u64().unwrap();
        assert_eq!(
            n("frames_expected"),
            n("frames_received") + n("dropped") + n("lost_at_end"),
            "{d}: {st}"
        );
        assert!(n("frames_received") > 50, "{d}: {st}");
        dropped += n("dropped");
        let events = std::fs::read_to_string(out.join(d).join("events.csv")).unwrap();
        drop_events += events
            .lines()
            .filter(|l| l.contains(",drop,"))
            .map(|l| l.split(',').nth(4).unwrap().parse::<u64>().unwrap())
            .sum::<u64>();
        // Quality per period: every frame scored or accounted for.
        let scored = st["vmaf"]["frames_scored"].as_u64().unwrap();
        let unscored: u64 = st["vmaf_unscored"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(scored + unscored, n("frames_received"), "{d}: {st}");
        let in_csv = all
            .iter()
            .filter(|(p, s, _, v)| p == d && s == "live1" && *v)
            .count() as u64;
        assert_eq!(in_csv, scored, "{d}: frames.csv carries each score");
        // Scored in every period (how many depends on the machine's load: the live scorer
        // subsamples when behind, and those frames are accounted for above).
        assert!(scored > 10, "{d}: {st}");
    }
    assert_eq!(dropped, removed, "drops over the periods");
    assert_eq!(drop_events, removed, "drop events over the periods");
}

#[test]
fn rotate_is_refused_where_it_cannot_cut() {
    let r = run(bin().args(["analyze", "--live", "udp://127.0.0.1:9", "--rotate", "2s"]));
    assert_eq!(r.status.code(), Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("at least 5s"), "{}", r.stderr);
    let r = run(bin().args([
        "analyze",
        "--live",
        "x.mp4",
        "--rotate",
        "1h",
        "--clock",
        "pts",
        "--start-time",
        "2026-01-01T00:00:00Z",
    ]));
    assert_eq!(r.status.code(), Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("--clock pts"), "{}", r.stderr);
    let r = run(bin().args([
        "analyze",
        "--live",
        "rtmp://127.0.0.1:9/live/x",
        "--rotate",
        "1h",
        "--live-av",
    ]));
    assert_eq!(r.status.code(), Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("--live-av"), "{}", r.stderr);
}
