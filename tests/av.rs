//! A/V offset from the beeps, end to end through real ffmpeg: a generated clip (AAC beeps at
//! every whole second) and copies of it whose audio was moved by a known amount or resampled.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// A 5 s 320x180 clip with its beep track.
fn clip_with_audio(dir: &Path) -> PathBuf {
    let out = dir.join("c.mp4");
    streamscope_ok(&[
        "generate",
        "--out",
        path_str(&out),
        "--duration",
        "5s",
        "--size",
        "320x180",
        "--preset",
        "ultrafast",
    ]);
    out
}

/// The clip's video with its audio input-offset by `secs` (stream copy: nothing re-encoded).
fn shifted(src: &Path, audio_secs: f64, video_secs: f64, out: &Path) -> PathBuf {
    run_ok(
        ffmpeg_cmd()
            .args(["-itsoffset", &format!("{video_secs}"), "-i"])
            .arg(src)
            .args(["-itsoffset", &format!("{audio_secs}"), "-i"])
            .arg(src)
            .args(["-map", "0:v", "-map", "1:a", "-c", "copy"])
            .arg(out),
    );
    out.to_path_buf()
}

fn av_of(dir: &Path, input: &Path, extra: &[&str]) -> (Value, Vec<(i64, Option<f64>)>) {
    let out = dir.join(format!(
        "run-{}",
        input.file_stem().unwrap().to_string_lossy()
    ));
    let mut args = vec![
        "analyze",
        "--live",
        path_str(input),
        "--out",
        path_str(&out),
    ];
    args.extend(extra);
    let r = run(bin().args(&args));
    let s = summary_json(&out);
    let _ = r;
    (stream(&s, "live1").clone(), av_rows(&out))
}

/// The rows of a run's av.csv: (second, offset ms; None when missed).
fn av_rows(out: &Path) -> Vec<(i64, Option<f64>)> {
    let csv = std::fs::read_to_string(out.join("av.csv")).unwrap();
    csv.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].parse().unwrap(), f[4].parse().ok())
        })
        .collect()
}

fn ms(st: &Value, key: &str) -> f64 {
    st["av"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("av.{key}: {st}"))
}

#[test]
fn audio_moved_by_a_known_amount_is_measured_within_2_ms() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let clip = clip_with_audio(dir.path());
    // As generated: in sync.
    let (st, rows) = av_of(dir.path(), &clip, &[]);
    assert_eq!(
        st["av"]["beeps_expected"], 4,
        "second 0 is at the audio's start: {st}"
    );
    assert_eq!(st["av"]["beeps_missed"], 0, "{st}");
    assert!(ms(&st, "abs_p95_ms") < 2.0, "{st}");
    assert_eq!(rows.len(), 4);
    // Plotted and in the page.
    let run = dir.path().join("run-c");
    assert!(run.join("av_offset.svg").exists() && run.join("av_offset.png").exists());
    let page = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        page.contains("id=\"plot-av_offset\""),
        "A/V plot in report.html"
    );
    assert!(
        page.contains("data-key=\"av.abs_p95_ms\""),
        "A/V column in report.html"
    );
    // Audio 40 ms late, then audio 30 ms early (the video moved instead): every second.
    for (name, audio, video, expect) in [
        ("late.mp4", 0.040, 0.0, 40.0),
        ("early.mp4", 0.0, 0.030, -30.0),
    ] {
        let moved = shifted(&clip, audio, video, &dir.path().join(name));
        let (st, rows) = av_of(dir.path(), &moved, &[]);
        assert!((ms(&st, "median_ms") - expect).abs() < 2.0, "{name}: {st}");
        assert!(
            (ms(&st, "abs_p95_ms") - expect.abs()).abs() < 2.0,
            "{name}: {st}"
        );
        let found: Vec<f64> = rows.iter().filter_map(|r| r.1).collect();
        assert!(found.len() >= 4, "{name}: {rows:?}");
        for o in found {
            assert!((o - expect).abs() < 2.0, "{name}: {rows:?}");
        }
    }
}

#[test]
fn fail_if_judges_the_av_offset() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let clip = clip_with_audio(dir.path());
    let late = shifted(&clip, 0.060, 0.0, &dir.path().join("late.mp4"));
    let out = dir.path().join("judged");
    let r = run(bin().args([
        "analyze",
        "--live",
        path_str(&late),
        "--out",
        path_str(&out),
        "--fail-if",
        "av_offset.abs_p95>45ms",
    ]));
    assert_eq!(r.status.code(), Some(3), "{}", r.stderr);
    assert!(r.stderr.contains("av_offset.abs_p95"), "{}", r.stderr);
    // The in-sync clip passes the same check.
    let ok = dir.path().join("ok");
    let r = run(bin().args([
        "analyze",
        "--live",
        path_str(&clip),
        "--out",
        path_str(&ok),
        "--fail-if",
        "av_offset.abs_p95>45ms",
    ]));
    assert!(r.status.success(), "{}", r.stderr);
}

#[test]
fn audio_that_drifts_is_measured_in_ms_per_minute() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let clip = clip_with_audio(dir.path());
    // The provider plays the audio 0.1% fast: 1 ms earlier every second, −60 ms/min.
    let fast = dir.path().join("fast.mp4");
    run_ok(
        ffmpeg_cmd()
            .arg("-i")
            .arg(&clip)
            .args([
                "-map",
                "0",
                "-c:v",
                "copy",
                "-af",
                "asetrate=48048,aresample=48000",
            ])
            .args(["-c:a", "aac", "-b:a", "128k"])
            .arg(&fast),
    );
    let (st, _) = av_of(dir.path(), &fast, &[]);
    let drift = ms(&st, "drift_ms_per_min");
    assert!((drift + 60.0).abs() < 6.0, "drift {drift} ms/min: {st}");
}

#[test]
fn a_stream_without_audio_says_so_and_is_not_an_error() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let silent = generated_clip(dir.path(), "silent.mp4", &[]);
    let out = dir.path().join("run");
    let r = run(bin().args([
        "analyze",
        "--live",
        path_str(&silent),
        "--out",
        path_str(&out),
    ]));
    assert!(r.status.success(), "{}", r.stderr);
    let st = stream(&summary_json(&out), "live1").clone();
    assert_eq!(st["av_error"], "no audio", "{st}");
    assert_eq!(st["av"], Value::Null);
    assert_eq!(st["error"], Value::Null);
}

/// `analyze` a live `udp://` input while `send` delivers to its port; the stream's summary and
/// its av.csv offsets (ms).
fn av_over_udp(dir: &Path, name: &str, send: impl FnOnce(u16)) -> (Value, Vec<f64>) {
    let port = free_port(true);
    let out = dir.join(format!("udp-{name}"));
    let analyzer = bin()
        .args(["analyze", "--live"])
        .arg(format!("udp://127.0.0.1:{port}"))
        .args(["--duration", "8s", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    send(port);
    let r = wait_with_timeout(analyzer, std::time::Duration::from_secs(40));
    assert!(r.status.success(), "{name}: {}", r.stderr);
    let st = stream(&summary_json(&out), "live1").clone();
    let offsets = av_rows(&out).into_iter().filter_map(|r| r.1).collect();
    (st, offsets)
}

#[test]
fn a_live_udp_stream_has_its_av_offset_measured_from_the_same_reader() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let clip = clip_with_audio(dir.path());
    let late = shifted(&clip, 0.040, 0.0, &dir.path().join("late.mp4"));
    let early = shifted(&clip, 0.0, 0.030, &dir.path().join("early.mp4"));
    // Each sent as MPEG-TS over UDP in real time (stream copy), read live: the frames are
    // stamped on arrival, the beeps and the frames' PTS come from the reader's tap.
    let runs: Vec<_> = [
        ("sync", &clip, 0.0),
        ("late", &late, 40.0),
        ("early", &early, -30.0),
    ]
    .into_iter()
    .map(|(name, file, expect)| {
        let (d, f) = (dir.path().to_path_buf(), file.clone());
        std::thread::spawn(move || {
            let (st, offsets) = av_over_udp(&d, name, |port| {
                assert!(send_udp(&f, port, None).wait().unwrap().success());
            });
            (name, expect, st, offsets)
        })
    })
    .collect();
    for h in runs {
        let (name, expect, st, offsets) = h.join().unwrap();
        assert_eq!(st["av_error"], Value::Null, "{name}: {st}");
        assert_eq!(st["av"]["beeps_missed"], 0, "{name}: {st}");
        assert!(offsets.len() >= 4, "{name}: {offsets:?}");
        for o in &offsets {
            assert!((o - expect).abs() < 2.0, "{name}: {offsets:?}");
        }
        eprintln!("{name} over UDP: {offsets:?} ms");
    }
    // The same bytes as a TS file read by the file path: the same offsets (the audio and the
    // video of a TS start 21.33 ms apart; both readers must agree on where).
    let ts = dir.path().join("sync.ts");
    run_ok(
        ffmpeg_cmd()
            .arg("-i")
            .arg(&clip)
            .args(["-c", "copy"])
            .arg(&ts),
    );
    let (st, rows) = av_of(dir.path(), &ts, &[]);
    assert!(ms(&st, "abs_p95_ms") < 2.0, "TS file: {st}");
    assert!(
        rows.iter().all(|r| r.1.is_some_and(|o: f64| o.abs() < 2.0)),
        "{rows:?}"
    );
}

#[test]
fn live_udp_audio_is_heard_or_said_missing() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    // publish --audio → UDP (MPEG-TS) → analyze: in sync.
    let (st, offsets) = av_over_udp(dir.path(), "publish", |port| {
        streamscope_ok(&[
            "publish",
            "--audio",
            "--size",
            "320x180",
            "--gop",
            "1s",
            "--duration",
            "5s",
            "--to",
            &format!("udp://127.0.0.1:{port}?pkt_size=1316"),
        ]);
    });
    assert!(st["av"]["beeps_expected"].as_u64().unwrap() >= 4, "{st}");
    assert_eq!(st["av"]["beeps_missed"], 0, "{st}");
    assert!(offsets.iter().all(|o| o.abs() < 5.0), "{offsets:?}");
    eprintln!("publish → UDP → A/V offsets {offsets:?} ms");
    // A stream without audio: said, and not an error.
    let silent = generated_clip(dir.path(), "silent.mp4", &[]);
    let (st, offsets) = av_over_udp(dir.path(), "silent", |port| {
        assert!(send_udp(&silent, port, None).wait().unwrap().success());
    });
    assert_eq!(st["av_error"], "no audio", "{st}");
    assert_eq!(st["error"], Value::Null, "{st}");
    assert!(offsets.is_empty());
}
