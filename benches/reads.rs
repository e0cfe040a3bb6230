//! Timecode read rate through the whole `analyze` pipeline (tracking, grid sampling, rqrr) for
//! clips encoded by x264 at streaming bitrates: the table behind the decoder choices.
//!
//! A second table crops N% off every edge and scales back (a player's or TV's overscan) for
//! the code in the title-safe area (`--qr-margin 0.1`, the default) and at the edge (`0`).
//!
//! `cargo bench --bench reads` (env BENCH_SIZES, BENCH_BITRATES="6000k 1500k 500k 200k",
//! BENCH_SECONDS=5, BENCH_PATTERN=testsrc2, BENCH_CROPS="5 10").

mod common;

use std::process::Stdio;
use std::time::Instant;

fn main() {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.into());
    let sizes = env("BENCH_SIZES", "1280x720 1920x1080");
    let rates = env("BENCH_BITRATES", "6000k 1500k 500k 200k");
    let secs: u64 = env("BENCH_SECONDS", "5").parse().unwrap();
    let pattern = env("BENCH_PATTERN", "testsrc2");
    let dir = tempfile::tempdir().unwrap();
    let frames = secs * 30;
    println!(
        "timecode reads through analyze: {pattern}, {frames} frames, x264 veryfast at the bitrate (VBV 2 s), --clock pts"
    );
    println!(
        "| size | bitrate | rqrr: fresh reads | rqrr: stale | rqrr: ms/frame | rqrr + wechat: fresh reads | rqrr + wechat: stale | rqrr + wechat: ms/frame |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for size in sizes.split_whitespace() {
        for rate in rates.split_whitespace() {
            let clip = dir.path().join("clip.mp4");
            let secs = format!("{secs}s");
            common::generate(
                &clip,
                &[
                    "--pattern",
                    &pattern,
                    "--size",
                    size,
                    "--bitrate",
                    rate,
                    "--duration",
                    &secs,
                    "--start-time",
                    common::START,
                ],
            );
            let mut cells = Vec::new();
            for extra in [&["--no-wechat"][..], &[][..]] {
                let out = dir.path().join("report");
                let t = Instant::now();
                // A clip whose codes are all unreadable makes analyze exit 1: still a measurement.
                common::replay(&clip, &out)
                    .args(extra)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .unwrap();
                let wall = t.elapsed();
                let csv = std::fs::read_to_string(out.join("frames.csv")).unwrap();
                let events: Vec<&str> = csv
                    .lines()
                    .skip(1)
                    .map(|l| l.rsplit(',').next().unwrap_or(""))
                    .collect();
                let n = events.len() as f64;
                let pct = |f: &dyn Fn(&&str) -> bool| {
                    100.0 * events.iter().filter(|e| f(e)).count() as f64 / n
                };
                cells.push(format!(
                    "{:.1}% | {:.1}% | {:.2}",
                    pct(&|e| e.is_empty() || *e == "out_of_order"),
                    pct(&|e| *e == "stale_timecode"),
                    wall.as_secs_f64() * 1e3 / frames as f64
                ));
            }
            println!("| {size} | {rate} | {} |", cells.join(" | "));
        }
    }
    overscan(dir.path(), &env("BENCH_CROPS", "5 10"), secs, &pattern);
}

/// Fresh reads (%) of `analyze` on `clip`.
fn fresh_reads(clip: &std::path::Path, out: &std::path::Path) -> f64 {
    common::replay(clip, out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let csv = std::fs::read_to_string(out.join("frames.csv")).unwrap_or_default();
    let events: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap_or(""))
        .collect();
    let fresh = events
        .iter()
        .filter(|e| e.is_empty() || **e == "out_of_order")
        .count();
    100.0 * fresh as f64 / events.len().max(1) as f64
}

fn overscan(dir: &std::path::Path, crops: &str, secs: u64, pattern: &str) {
    println!();
    println!(
        "overscan: 1280x720 at 3000k, N% cropped off every edge and scaled back (x264 crf 18)"
    );
    println!(
        "| code placement | crop 0% | {} |",
        crops
            .split_whitespace()
            .map(|c| format!("crop {c}%"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!(
        "|---|---|{}",
        "---|".repeat(crops.split_whitespace().count())
    );
    for (label, margin) in [
        ("title-safe (--qr-margin 0.1)", "0.1"),
        ("at the edge (--qr-margin 0)", "0"),
    ] {
        let clip = dir.join("overscan.mp4");
        common::generate(
            &clip,
            &[
                "--pattern",
                pattern,
                "--size",
                "1280x720",
                "--bitrate",
                "3000k",
                "--duration",
                &format!("{secs}s"),
                "--start-time",
                common::START,
                "--qr-margin",
                margin,
            ],
        );
        let mut cells = vec![format!("{:.1}%", fresh_reads(&clip, &dir.join("r0")))];
        for crop in crops.split_whitespace() {
            let keep = 1.0 - 2.0 * crop.parse::<f64>().unwrap() / 100.0;
            let cropped = dir.join("cropped.mp4");
            let ok = std::process::Command::new("ffmpeg")
                .args(["-v", "error", "-nostdin", "-y", "-i"])
                .arg(&clip)
                .args(["-vf", &format!("crop=iw*{keep}:ih*{keep},scale=1280:720")])
                .args([
                    "-fps_mode",
                    "passthrough",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                ])
                .args(["-crf", "18"])
                .arg(&cropped)
                .status()
                .unwrap();
            assert!(ok.success());
            cells.push(format!("{:.1}%", fresh_reads(&cropped, &dir.join("rc"))));
        }
        println!("| {label} | {} |", cells.join(" | "));
    }
}
