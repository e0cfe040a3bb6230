//! End-to-end tests of `streamscope analyze` with real ffmpeg: impairments made with ffmpeg
//! filters give exact expected drops, duplicates, freezes and latencies; a live UDP run; bad
//! inputs.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

const START: &str = "2026-11-21T12:00:00Z";

/// A 3 s, 640x360, 30 fps timecoded clip starting at START.
fn clip(dir: &Path) -> PathBuf {
    generated_clip(dir, "clip.mp4", &["--start-time", START])
}

/// `common::impair` at near-lossless quality.
fn impair(src: &Path, filter: &str, out: &Path) -> PathBuf {
    common::impair(src, filter, "12", out)
}

/// `streamscope analyze ARGS --out DIR`; returns the run and summary.json's first stream.
fn analyze(dir: &Path, args: &[&str]) -> (Run, Value) {
    let out = dir.join("report");
    let r = run(bin().args(["analyze", "--out", path_str(&out)]).args(args));
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("summary.json"))
            .unwrap_or_else(|e| panic!("no summary.json ({e}): {}", r.stderr)),
    )
    .unwrap();
    (r, summary)
}

/// The 3 s clip through an ffmpeg filter, analyzed with the pts clock: (run, live1 summary,
/// events.csv).
fn analyze_impaired(filter: &str) -> (Run, Value, String) {
    let dir = tmp();
    let c = clip(dir.path());
    let impaired = impair(&c, filter, &dir.path().join("impaired.mp4"));
    let (r, s) = analyze(dir.path(), &pts_args(&impaired, START));
    assert!(r.status.success(), "{}", r.stderr);
    let events = std::fs::read_to_string(dir.path().join("report/events.csv")).unwrap();
    (r, stream(&s, "live1").clone(), events)
}

fn pts_args<'a>(file: &'a Path, start: &'a str) -> Vec<&'a str> {
    vec![
        "--live",
        path_str(file),
        "--clock",
        "pts",
        "--start-time",
        start,
    ]
}

#[test]
fn pts_clock_replay_gives_exact_latency() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let c = clip(dir.path());
    // Arrival of PTS 0 two seconds after frame 0's capture: every latency is 2000 ms.
    let (r, s) = analyze(dir.path(), &pts_args(&c, "2026-11-21T12:00:02Z"));
    assert!(r.status.success(), "{}", r.stderr);
    let live = stream(&s, "live1");
    assert_eq!(live["frames_received"], 90);
    assert_eq!(
        (live["dropped"].as_u64(), live["unreadable"].as_u64()),
        (Some(0), Some(0))
    );
    for p in ["min", "p50", "p99", "max"] {
        let v = live["latency_ms"][p].as_f64().unwrap();
        assert!((v - 2000.0).abs() <= 1.0, "latency {p} = {v}");
    }
    assert_eq!(s["schema"], "streamscope.summary/2");
    assert_eq!(s["clock"], "pts");
    assert!((live["fps"]["mean"].as_f64().unwrap() - 30.0).abs() < 0.01);
    assert_eq!(
        (
            live["codec"].as_str(),
            live["width"].as_u64(),
            live["height"].as_u64()
        ),
        (Some("h264"), Some(640), Some(360))
    );
    assert_eq!(live["fps_nominal"], 30.0);
    assert!(
        live["bitrate_kbps"].as_u64().is_some_and(|b| b > 50),
        "{live}"
    );
    // frames.csv: one row per frame with the documented columns, latency exact.
    let csv = std::fs::read_to_string(dir.path().join("report/frames.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "stream,frame,capture_utc,arrival_utc,latency_ms,relative_latency_ms,pts_s,vmaf,psnr_y,ssim,event"
        )
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 90);
    assert!(
        rows[1].starts_with(
            "live1,1,2026-11-21T12:00:00.033333Z,2026-11-21T12:00:02.033333Z,2000.000,"
        ),
        "{}",
        rows[1]
    );
}

#[test]
fn dropped_frames_are_counted_exactly() {
    if !require("ffmpeg") {
        return;
    }
    let (_, live, events) = analyze_impaired("select='not(between(n,30,39))'");
    assert_eq!(live["frames_received"], 80);
    assert_eq!(live["frames_expected"], 90);
    assert_eq!(live["dropped"], 10);
    assert_eq!(live["duplicated"], 0);
    // The 10 missing frames are an 11-interval hole: one freeze of 366.667 ms.
    assert_eq!(live["freezes"], 1);
    assert!(
        (live["freeze_ms_total"].as_f64().unwrap() - 366.667).abs() < 1.0,
        "{live}"
    );
    // stream,kind,start_utc,duration_ms,frames,detail
    let drop: Vec<&str> = events
        .lines()
        .find(|l| l.starts_with("live1,drop,"))
        .unwrap()
        .split(',')
        .collect();
    assert_eq!(drop[4], "10", "{events}");
    assert!(
        (drop[3].parse::<f64>().unwrap() - 333.33).abs() < 0.01,
        "{events}"
    );
}

#[test]
fn a_repeated_frame_is_duplicates_and_a_freeze_of_known_length() {
    if !require("ffmpeg") {
        return;
    }
    // Frame 20 shown 6 times (5 repeats), timestamps re-laid at 30 fps: 95 frames.
    let (_, live, _) = analyze_impaired("loop=loop=5:size=1:start=20,setpts=N/30/TB");
    assert_eq!(live["frames_received"], 95);
    assert_eq!(live["duplicated"], 5);
    assert_eq!(live["stale"], 0);
    assert_eq!(live["dropped"], 0);
    assert_eq!(live["freezes"], 1);
    // No new frame from frame 20 (t = 20/30 s) until frame 21 arrives at t = 26/30 s.
    assert!(
        (live["freeze_ms_total"].as_f64().unwrap() - 200.0).abs() <= 1.0,
        "{live}"
    );
}

#[test]
fn relative_latency_against_the_control() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let c = clip(dir.path());
    // The same frames 500 ms later.
    let late = impair(&c, "setpts=PTS+0.5/TB", &dir.path().join("late.mp4"));
    let (r, s) = analyze(
        dir.path(),
        &[
            "--live",
            &format!("cdn={}", path_str(&late)),
            "--control",
            path_str(&c),
            "--clock",
            "pts",
            "--start-time",
            START,
        ],
    );
    assert!(r.status.success(), "{}", r.stderr);
    let cdn = stream(&s, "cdn");
    let rel = &cdn["relative_latency_ms"];
    for p in ["min", "p50", "max"] {
        assert!(
            (rel[p].as_f64().unwrap() - 500.0).abs() <= 1.0,
            "{p}: {rel}"
        );
    }
    assert!((cdn["latency_ms"]["p50"].as_f64().unwrap() - 500.0).abs() <= 1.0);
    let control = stream(&s, "control");
    assert_eq!(control["role"], "control");
    assert!(control["relative_latency_ms"].is_null());
}

#[test]
fn fail_if_thresholds_exit_3_and_name_the_check() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let c = clip(dir.path());
    let dropped = impair(
        &c,
        "select='not(between(n,30,39))'",
        &dir.path().join("dropped.mp4"),
    );
    let mut args = pts_args(&dropped, START);
    args.extend(["--fail-if", "latency.p95>2s,dropped>0"]);
    let (r, _) = analyze(dir.path(), &args);
    assert_eq!(r.status.code(), Some(3), "{}", r.stderr);
    assert!(
        r.stderr.contains("live1: dropped>0 (actual 10)"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("latency.p95>2s"),
        "latency passed: {}",
        r.stderr
    );
}

#[test]
fn one_unreachable_input_does_not_stop_the_others() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let c = clip(dir.path());
    let (r, s) = analyze(
        dir.path(),
        &[
            "--live",
            &format!("good={}", path_str(&c)),
            "--live",
            "bad=rtmp://127.0.0.1:1/live/none",
            "--open-timeout",
            "3s",
            "--clock",
            "pts",
            "--start-time",
            START,
        ],
    );
    assert_eq!(r.status.code(), Some(1), "{}", r.stderr);
    assert_eq!(stream(&s, "good")["frames_received"], 90);
    let bad = stream(&s, "bad");
    let err = bad["error"].as_str().unwrap();
    assert!(
        err.contains("rtmp://127.0.0.1:1/live/none")
            && err.contains("did not come up within")
            && err.contains("ffmpeg"),
        "{err}"
    );
    assert!(r.stderr.contains("error: bad:"), "{}", r.stderr);
}

#[test]
fn a_stream_without_timecodes_is_named_as_such() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let plain = dir.path().join("plain.mp4");
    run_ok(
        ffmpeg_cmd()
            .args([
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=320x240:rate=30:duration=2",
            ])
            .args(["-c:v", "libx264", "-preset", "ultrafast"])
            .arg(&plain),
    );
    let (r, s) = analyze(dir.path(), &pts_args(&plain, START));
    assert_eq!(r.status.code(), Some(1));
    assert!(
        r.stderr.contains("no streamscope timecode found"),
        "{}",
        r.stderr
    );
    assert_eq!(stream(&s, "live1")["unreadable"], 60, "rows kept even so");
}

#[test]
fn bad_urls_and_arguments() {
    let dir = tmp();
    let r = run(bin().args([
        "analyze",
        "--live",
        "gopher://x/y",
        "--out",
        path_str(dir.path()),
    ]));
    assert_eq!(r.status.code(), Some(2), "a usage error");
    assert!(
        r.stderr.contains("unsupported URL gopher://x/y"),
        "{}",
        r.stderr
    );
    let r = run(bin().args(["analyze", "--live", "x.mp4", "--clock", "pts"]));
    assert_eq!(r.status.code(), Some(2));
    assert!(r.stderr.contains("--start-time"), "{}", r.stderr);
    let r = run(bin().args(["analyze", "--live", "x.mp4", "--fail-if", "speed>1"]));
    assert_eq!(r.status.code(), Some(2));
    assert!(r.stderr.contains("unknown metric"), "{}", r.stderr);
    let r = run(bin().args(["analyze", "--live", "a=x.mp4", "--live", "a=y.mp4"]));
    assert_eq!(r.status.code(), Some(2));
    assert!(r.stderr.contains("used twice"), "{}", r.stderr);
    // A name with a space is refused and says which characters are allowed (it used to be
    // read as a path).
    let r = run(bin().args(["analyze", "--live", "my stream=x.mp4"]));
    assert_eq!(r.status.code(), Some(2));
    assert!(r.stderr.contains("letters, digits"), "{}", r.stderr);
    // A time without a unit is not silently milliseconds.
    let r = run(bin().args(["analyze", "--live", "x.mp4", "--fail-if", "latency.p95>2"]));
    assert_eq!(r.status.code(), Some(2));
    assert!(r.stderr.contains("give a unit"), "{}", r.stderr);
    // A missing file: one sentence naming it, once, without an ffmpeg command line.
    let r = run(bin().args([
        "analyze",
        "--live",
        "/nonexistent/x.mp4",
        "--out",
        path_str(dir.path()),
    ]));
    assert_eq!(r.status.code(), Some(1));
    assert_eq!(
        r.stderr.matches("/nonexistent/x.mp4: no such file").count(),
        1,
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("ffmpeg -"), "{}", r.stderr);
    // --ffmpeg is offered only where ffmpeg runs.
    let help = run(bin().args(["report", "--help"]));
    assert!(!help.stdout.contains("--ffmpeg"), "{}", help.stdout);
    assert!(
        run(bin().args(["analyze", "--help"]))
            .stdout
            .contains("--ffmpeg")
    );
}

#[test]
fn a_mid_stream_resolution_change_is_an_event_and_reading_goes_on() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let joined = resolution_switch(dir.path(), START);
    let (r, s) = analyze(dir.path(), &pts_args(&joined, START));
    assert!(r.status.success(), "{}", r.stderr);
    let live = stream(&s, "live1");
    assert_eq!(live["resolution_changes"], 1, "{live}");
    assert_eq!(
        (
            live["frames_received"].as_u64(),
            live["unreadable"].as_u64()
        ),
        (Some(60), Some(0)),
        "{live}"
    );
    assert_eq!(live["dropped"], 0);
    let events = std::fs::read_to_string(dir.path().join("report/events.csv")).unwrap();
    assert!(
        events
            .lines()
            .any(|l| l.starts_with("live1,resolution_change,") && l.ends_with(",1280x720→640x360")),
        "{events}"
    );
}

#[test]
fn an_input_without_video_names_the_reason() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let audio = dir.path().join("tone.m4a");
    run_ok(
        ffmpeg_cmd()
            .args(["-f", "lavfi", "-i", "sine=frequency=1000:duration=1"])
            .arg(&audio),
    );
    let (r, s) = analyze(dir.path(), &pts_args(&audio, START));
    assert_eq!(r.status.code(), Some(1));
    let err = stream(&s, "live1")["error"].as_str().unwrap().to_owned();
    assert!(
        err.contains("matches no streams") && err.contains("-map 0:v:0"),
        "{err}"
    );
    // ffmpeg's own lines, never Rust's debug form of them.
    assert!(
        !err.contains("Parsed") && !err.contains("raw_log_message"),
        "{err}"
    );
}

#[test]
fn a_trailing_freeze_lasts_to_the_end_of_the_file() {
    if !require("ffmpeg") {
        return;
    }
    // The last frame held for 1 s (30 clones): no new picture for 31 frame intervals, and
    // nothing after it to end the freeze.
    let (_, live, events) = analyze_impaired("tpad=stop_mode=clone:stop_duration=1");
    assert_eq!(live["frames_received"], 120, "{live}");
    assert_eq!(live["duplicated"], 30);
    assert_eq!(live["dropped"], 0);
    assert_eq!(live["freezes"], 1, "{live}");
    let total = live["freeze_ms_total"].as_f64().unwrap();
    assert!((total - 31_000.0 / 30.0).abs() < 1.0, "{live}");
    assert_eq!(events.matches(",freeze,").count(), 1, "{events}");
}

#[test]
fn stale_codes_are_neither_drops_nor_freezes() {
    if !require("ffmpeg") {
        return;
    }
    // Frames 30–39 keep moving but carry frame 29's code: an encoder that did not update the
    // code area. They were delivered: no drop, no freeze.
    let (x, y, w, h) = code_area();
    let (_, live, events) = analyze_impaired(&format!(
        "split[a][b];[b]crop={w}:{h}:{x}:{y},split[c1][c2];\
         [c1][c2]freezeframes=first=30:last=39:replace=29[c];[a][c]overlay={x}:{y}"
    ));
    assert_eq!(live["frames_received"], 90);
    assert_eq!(live["stale"], 10, "{live}");
    assert_eq!(live["dropped"], 0, "{live}");
    assert_eq!(live["frames_expected"], 90);
    assert_eq!(live["freezes"], 0, "{live}");
    assert!(
        !events.contains(",drop,") && !events.contains(",freeze,"),
        "{events}"
    );
}

#[test]
fn two_swapped_frames_are_out_of_order_and_no_drop_anywhere() {
    if !require("ffmpeg") {
        return;
    }
    let (_, live, events) = analyze_impaired(
        "split=4[a][b][c][d];[a]trim=end_frame=40[p0];[b]trim=start_frame=41:end_frame=42[p1];\
         [c]trim=start_frame=40:end_frame=41[p2];[d]trim=start_frame=42[p3];\
         [p0][p1][p2][p3]concat=n=4,setpts=N/30/TB",
    );
    assert_eq!(live["frames_received"], 90);
    assert_eq!(live["out_of_order"], 1, "{live}");
    assert_eq!(live["dropped"], 0, "{live}");
    assert!(
        !events.contains(",drop,"),
        "events and summary agree: {events}"
    );
}

#[test]
fn an_hls_replay_is_timed_like_the_file_it_was_cut_from() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let hls = dir.path().join("hls");
    let clip = generated_clip(
        dir.path(),
        "clip.mp4",
        &["--start-time", START, "--hls", path_str(&hls)],
    );
    let p50 = |input: &Path, out: &str| {
        let (r, s) = analyze(&dir.path().join(out), &pts_args(input, START));
        assert!(r.status.success(), "{}", r.stderr);
        let live = stream(&s, "live1");
        assert_eq!(live["frames_received"], 90, "{live}");
        assert!(live["startup_ms"].is_null(), "no start on the replay clock");
        live["latency_ms"]["p50"].as_f64().unwrap()
    };
    let (mp4, ts) = (p50(&clip, "mp4"), p50(&hls.join("index.m3u8"), "hls"));
    assert!((mp4 - ts).abs() <= 1.0, "MP4 {mp4} ms, HLS {ts} ms");
}

#[test]
fn a_file_read_in_real_time_says_how_to_replay_it() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let c = clip(dir.path());
    let (r, s) = analyze(dir.path(), &["--live", path_str(&c)]);
    assert!(r.status.success(), "{}", r.stderr);
    let warnings = stream(&s, "live1")["warnings"].to_string();
    let hint = format!("--clock pts --start-time {}", "2026-11-21T12:00:00");
    assert!(warnings.contains(&hint), "{warnings}");
    assert!(r.stderr.contains(&hint), "{}", r.stderr);
}

#[test]
fn the_code_survives_overscan() {
    if !require("ffmpeg") {
        return;
    }
    // A player that crops 5% off every edge and scales back (TV overscan): the code sits in
    // the title-safe area by default and every frame stays readable; at the edge it is lost.
    let dir = tmp();
    let crop = "crop=iw*0.9:ih*0.9,scale=640:360";
    for (margin, readable) in [("0.1", true), ("0", false)] {
        let c = generated_clip(
            dir.path(),
            &format!("m{margin}.mp4"),
            &["--start-time", START, "--qr-margin", margin],
        );
        let cropped = impair(&c, crop, &dir.path().join(format!("cropped{margin}.mp4")));
        let (r, s) = analyze(&dir.path().join(margin), &pts_args(&cropped, START));
        let live = stream(&s, "live1");
        if readable {
            assert!(r.status.success(), "{}", r.stderr);
            assert_eq!(live["unreadable"], 0, "{live}");
            assert_eq!(live["frames_received"], 90);
        } else {
            assert!(
                !r.status.success(),
                "at the edge the code is cropped: {live}"
            );
        }
    }
}

#[test]
fn values_no_clock_can_hold_are_usage_errors_not_panics() {
    // Durations past a year (they used to overflow an Instant and panic, leaving the reader's
    // ffmpeg behind), a relay that would forward to itself, delays that wrapped around.
    let huge = "18446744073709551615s";
    let port = free_port(true);
    let udp = format!("udp://127.0.0.1:{port}");
    for args in [
        vec!["analyze", "--live", "x.mp4", "--duration", huge],
        vec!["analyze", "--live", "x.mp4", "--open-timeout", huge],
        vec!["analyze", "--live", "x.mp4", "--frames", "0"],
        vec!["relay", "--listen", &udp, "--to", &udp],
        vec![
            "relay",
            "--listen",
            &udp,
            "--to",
            "udp://127.0.0.1:1",
            "--delay",
            "2h",
        ],
        vec![
            "relay",
            "--listen",
            &udp,
            "--to",
            "udp://127.0.0.1:1",
            "--outage",
            "1s@100000d",
        ],
    ] {
        let r = run(bin().args(&args));
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("error"), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn any_pixel_format_ffmpeg_decodes_is_read() {
    if !require("ffmpeg") {
        return;
    }
    // RGB (FFV1), 4:4:4 and 10-bit: every frame's code reads as from the yuv420p original
    // (RGB used to fail with ffmpeg's "extractplanes: Requested planes not available").
    let dir = tmp();
    let c = clip(dir.path());
    for (name, args) in [
        ("rgb.mkv", &["-c:v", "ffv1", "-pix_fmt", "bgr0"][..]),
        (
            "444.mkv",
            &[
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-qp",
                "10",
                "-pix_fmt",
                "yuv444p",
            ][..],
        ),
        (
            "10bit.mkv",
            &[
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-qp",
                "10",
                "-pix_fmt",
                "yuv420p10le",
            ][..],
        ),
    ] {
        let out = dir.path().join(name);
        run_ok(ffmpeg_cmd().arg("-i").arg(&c).args(args).arg(&out));
        let (r, s) = analyze(
            &dir.path().join(format!("r-{name}")),
            &pts_args(&out, START),
        );
        assert!(r.status.success(), "{name}: {}", r.stderr);
        let live = stream(&s, "live1");
        assert_eq!(live["frames_received"], 90, "{name}: {live}");
        assert_eq!(live["unreadable"], 0, "{name}: {live}");
    }
}

#[test]
fn a_truncated_file_says_so() {
    if !require("ffmpeg") {
        return;
    }
    // An MP4 cut to half its bytes: ffmpeg reads what is there and says "partial file"; the
    // run reports it instead of only some frames "dropped".
    let dir = tmp();
    let c = clip(dir.path());
    let bytes = std::fs::read(&c).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (r, s) = analyze(dir.path(), &pts_args(&cut, START));
    let live = stream(&s, "live1");
    assert_eq!(live["input_truncated"], true, "{live}");
    let warnings = live["warnings"].to_string();
    assert!(warnings.contains("partial file"), "{warnings}");
    assert!(r.stderr.contains("partial file"), "{}", r.stderr);
    assert!(live["frames_received"].as_u64().unwrap() > 10, "{live}");
}

#[test]
fn a_full_disk_names_the_file_that_failed_and_leaves_no_half_row_or_empty_summary() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let c = clip(dir.path());
    let Some(disk) = small_disk(4) else {
        return;
    };
    let out = disk.0.path().join("run");
    let r = run(bin()
        .args(["analyze", "--out", path_str(&out)])
        .args(pts_args(&c, START)));
    assert_eq!(r.status.code(), Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("frames.csv") && r.stderr.contains("No space left"),
        "{}",
        r.stderr
    );
    let frames = std::fs::read_to_string(out.join("frames.csv")).unwrap();
    assert!(frames.ends_with('\n'), "the last row is whole: {frames:?}");
    assert!(
        frames.lines().all(|l| l.split(',').count() == 11),
        "{frames}"
    );
    // summary.json is whole or absent, never an empty file; no temporary file left behind.
    if let Ok(text) = std::fs::read_to_string(out.join("summary.json")) {
        serde_json::from_str::<Value>(&text).expect("a whole summary.json");
    }
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}
