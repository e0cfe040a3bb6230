//! Benchmark: `streamscope analyze` (no quality metrics) against ffmpeg's own decode of the same
//! file, in one run: `ffmpeg -i X -f rawvideo -pix_fmt gray` (the ceiling the issue names) and
//! `-vf extractplanes=y` (what the analyzer asks ffmpeg for). Prints fps, ratios, peak RSS.
//!
//! `cargo bench --bench analyze` (env BENCH_SIZES="1280x720 1920x1080", BENCH_SECONDS=10,
//! BENCH_RUNS=3).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall time and the peak RSS (VmHWM, KiB) of the process tree's main process and children,
/// sampled every 20 ms.
fn measure(cmd: &mut Command) -> (Duration, u64) {
    let t = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut peak = 0;
    loop {
        peak = peak.max(tree_rss_kib(child.id()));
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{cmd:?} failed");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (t.elapsed(), peak)
}

/// Resident memory of `pid` plus the children of all its threads (the analyzer spawns ffmpeg
/// from reader threads), KiB.
fn tree_rss_kib(pid: u32) -> u64 {
    let rss = |p: &str| -> u64 {
        std::fs::read_to_string(format!("/proc/{p}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    };
    let children: String = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .collect::<Vec<_>>()
        .join(" ");
    rss(&pid.to_string()) + children.split_whitespace().map(rss).sum::<u64>()
}

fn median(mut v: Vec<(Duration, u64)>) -> (Duration, u64) {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let sizes = std::env::var("BENCH_SIZES").unwrap_or_else(|_| "1280x720 1920x1080".into());
    let secs: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let frames = secs * 30;
    println!(
        "analyze vs ffmpeg decode: testsrc2 with timecodes, {frames} frames (x264 veryfast CRF 20), --clock pts, median of {runs}"
    );
    println!(
        "| size | ffmpeg gray fps | ffmpeg extractplanes fps | analyze fps | analyze ÷ gray | analyze ÷ extractplanes | peak RSS: ffmpeg gray | peak RSS: analyze incl. its ffmpeg |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for size in sizes.split_whitespace() {
        let clip = dir.path().join(format!("{size}.mp4"));
        common::generate(&clip, &["--size", size, "--duration", &format!("{secs}s")]);
        let decode = |extra: &[&str]| {
            let mut c = Command::new("ffmpeg");
            c.args(["-v", "error", "-nostdin", "-i"])
                .arg(&clip)
                .args(extra)
                .args(["-f", "rawvideo", "-y", "/dev/null"]);
            c
        };
        let (mut gray, mut planes, mut ours) = (vec![], vec![], vec![]);
        for _ in 0..runs {
            gray.push(measure(&mut decode(&["-pix_fmt", "gray"])));
            planes.push(measure(&mut decode(&["-vf", "extractplanes=y"])));
            let out = dir.path().join("report");
            ours.push(measure(&mut common::replay(&clip, &out)));
            check_complete(&out, frames);
        }
        let ((g, grss), p, (o, rss)) = (median(gray), median(planes).0, median(ours));
        let fps = |d: Duration| frames as f64 / d.as_secs_f64();
        println!(
            "| {size} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {:.0} MiB | {:.0} MiB |",
            fps(g),
            fps(p),
            fps(o),
            fps(o) / fps(g),
            fps(o) / fps(p),
            grss as f64 / 1024.0,
            rss as f64 / 1024.0
        );
    }
}

/// The run really analyzed every frame (a fast run that read nothing would be a fake win).
fn check_complete(out: &Path, frames: u64) {
    let csv = std::fs::read_to_string(out.join("frames.csv")).unwrap();
    let rows = csv
        .lines()
        .skip(1)
        .filter(|l| !l.ends_with("unreadable"))
        .count() as u64;
    assert_eq!(rows, frames, "analyze read {rows} of {frames} timecodes");
}
