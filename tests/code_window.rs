//! `analyze --code-window CORNER` (ffmpeg hands over only the code's corner and a small
//! picture) against the whole picture, with real ffmpeg: the same rows, kinds and numbers for
//! every impairment the file tests make exactly; every corner; the wrong corner named.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

const START: &str = "2026-11-21T12:00:00Z";

/// frames.csv rows as (frame, latency µs, event).
type Rows = Vec<(Option<u64>, Option<i64>, String)>;

/// `analyze FILE --clock pts [EXTRA]` into `out`: (run, summary.json, frames.csv rows).
fn analyze(file: &Path, out: &Path, extra: &[&str]) -> (Run, Value, Rows) {
    let r = run(bin()
        .args(["analyze", "--out", path_str(out), "--live", path_str(file)])
        .args(["--clock", "pts", "--start-time", START])
        .args(extra));
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("summary.json"))
            .unwrap_or_else(|e| panic!("no summary.json ({e}): {}", r.stderr)),
    )
    .unwrap();
    let rows = report::frames::read(&out.join("frames.csv"))
        .unwrap()
        .into_iter()
        .map(|f| (f.frame, f.latency_us, f.event))
        .collect();
    (r, summary, rows)
}

const COUNTS: [&str; 9] = [
    "frames_received",
    "frames_expected",
    "dropped",
    "duplicated",
    "stale",
    "unreadable",
    "out_of_order",
    "freezes",
    "freeze_ms_total",
];

#[test]
fn the_window_reads_what_the_whole_picture_reads() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let clip = generated_clip(dir.path(), "clip.mp4", &["--start-time", START]);
    let (x, y, w, h) = code_area();
    let impairments = [
        ("drops", "select='not(between(n,30,39))'".to_owned()),
        // A whole picture repeated: duplicates (unchanged) and a freeze.
        (
            "repeat",
            "loop=loop=5:size=1:start=20,setpts=N/30/TB".to_owned(),
        ),
        // The code held while the picture moves: stale, not duplicates (ffmpeg's measure of
        // the whole picture must see the change the code does not show).
        (
            "stale",
            format!(
                "split[a][b];[b]crop={w}:{h}:{x}:{y},split[c1][c2];\
                 [c1][c2]freezeframes=first=30:last=39:replace=29[c];[a][c]overlay={x}:{y}"
            ),
        ),
        (
            "swapped",
            "split=4[a][b][c][d];[a]trim=end_frame=40[p0];[b]trim=start_frame=41:end_frame=42[p1];\
             [c]trim=start_frame=40:end_frame=41[p2];[d]trim=start_frame=42[p3];\
             [p0][p1][p2][p3]concat=n=4,setpts=N/30/TB"
                .to_owned(),
        ),
        // A player's overscan: 5% off every edge, scaled back; the code moves outwards.
        ("overscan", "crop=iw*0.9:ih*0.9,scale=640:360".to_owned()),
        // Frames whose code is blanked: unreadable, and told apart from repeats by the picture.
        (
            "blanked",
            format!("drawbox=x={x}:y={y}:w={w}:h={h}:color=gray:t=fill:enable='between(n,50,54)'"),
        ),
    ];
    for (name, filter) in &impairments {
        let file = impair(&clip, filter, "12", &dir.path().join(format!("{name}.mp4")));
        let (r1, whole, rows1) = analyze(&file, &dir.path().join(format!("{name}-whole")), &[]);
        let (r2, window, rows2) = analyze(
            &file,
            &dir.path().join(format!("{name}-window")),
            &["--code-window", "top-right"],
        );
        assert!(
            r1.status.success() && r2.status.success(),
            "{name}: {}{}",
            r1.stderr,
            r2.stderr
        );
        let (whole, window) = (stream(&whole, "live1"), stream(&window, "live1"));
        for k in COUNTS {
            assert_eq!(
                whole[k], window[k],
                "{name}: {k}\nwhole {whole}\nwindow {window}"
            );
        }
        assert_eq!(rows1, rows2, "{name}: frames.csv row by row");
        assert!(rows1.len() >= 80, "{name}: {} rows", rows1.len());
        let expected = match *name {
            "drops" => ("dropped", 10),
            "repeat" => ("duplicated", 5),
            "stale" => ("stale", 10),
            "swapped" => ("out_of_order", 1),
            "blanked" => ("unreadable", 5),
            _ => ("unreadable", 0),
        };
        assert_eq!(window[expected.0], expected.1, "{name}: {window}");
    }
    // A mid-stream switch to a smaller rendition: ffmpeg rebuilds its filters (the window is
    // cut from the new picture and scaled back; its first frame has nothing to compare with).
    let switch = resolution_switch(dir.path(), START);
    let (r1, whole, rows1) = analyze(&switch, &dir.path().join("switch-whole"), &[]);
    let (r2, window, rows2) = analyze(
        &switch,
        &dir.path().join("switch-window"),
        &["--code-window", "top-right"],
    );
    assert!(
        r1.status.success() && r2.status.success(),
        "{}{}",
        r1.stderr,
        r2.stderr
    );
    let (whole, window) = (stream(&whole, "live1"), stream(&window, "live1"));
    assert_eq!(
        (
            window["frames_received"].as_u64(),
            window["unreadable"].as_u64(),
            window["resolution_changes"].as_u64()
        ),
        (Some(60), Some(0), Some(1)),
        "{window}"
    );
    for k in COUNTS {
        assert_eq!(whole[k], window[k], "switch: {k}");
    }
    assert_eq!(rows1, rows2, "switch: frames.csv row by row");
}

#[test]
fn every_corner_is_read_and_a_wrong_corner_is_named() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    for corner in ["top-left", "bottom-left", "bottom-right"] {
        let clip = generated_clip(
            dir.path(),
            &format!("{corner}.mp4"),
            &["--start-time", START, "--qr-corner", corner],
        );
        let (r, s, _) = analyze(&clip, &dir.path().join(corner), &["--code-window", corner]);
        assert!(r.status.success(), "{corner}: {}", r.stderr);
        let live = stream(&s, "live1");
        assert_eq!(
            (
                live["frames_received"].as_u64(),
                live["unreadable"].as_u64()
            ),
            (Some(90), Some(0)),
            "{corner}: {live}"
        );
    }
    // The default placement (top-right) looked for bottom-left: one sentence naming the
    // corner and the way out, exit 1, every row kept.
    let clip = generated_clip(dir.path(), "default.mp4", &["--start-time", START]);
    let (r, s, rows) = analyze(
        &clip,
        &dir.path().join("wrong"),
        &["--code-window", "bottom-left"],
    );
    assert_eq!(r.status.code(), Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("in the bottom-left corner (--code-window)")
            && r.stderr.contains("run without --code-window"),
        "{}",
        r.stderr
    );
    assert_eq!(stream(&s, "live1")["unreadable"], 90);
    assert_eq!(rows.len(), 90);
}

#[test]
fn a_window_with_whole_picture_metrics_is_a_usage_error() {
    let r = run(bin().args([
        "analyze",
        "--live",
        "a=udp://127.0.0.1:9",
        "--control",
        "udp://127.0.0.1:10",
        "--vmaf",
        "--code-window",
        "top-right",
        "--out",
        "/nonexistent/x",
    ]));
    assert_eq!(r.status.code(), Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("--code-window"), "{}", r.stderr);
    let r = run(bin().args([
        "analyze",
        "--live",
        "a=udp://127.0.0.1:9",
        "--code-window",
        "middle",
    ]));
    assert_eq!(r.status.code(), Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("top-right"), "{}", r.stderr);
}
