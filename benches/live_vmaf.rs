//! Benchmark: live scoring in `analyze --vmaf` on this machine. A publisher sends a timecoded
//! control and a transcoded rendition over UDP in real time (as a provider would) while the
//! analyzer measures and scores; printed beside raw libvmaf's rate on the same frames, in one
//! run. `cargo bench --bench live_vmaf` (env BENCH_SECONDS=10, BENCH_THREADS=2).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use analyzer::quality::{Scorer, Yuv420};
use common::{decode_yuv420, free_udp_port as free_port};

/// libvmaf alone on frames in memory (the reference against itself re-encoded is not needed:
/// the cost does not depend on the content's quality).
fn raw_fps(file: &Path, w: usize, h: usize, threads: u32) -> f64 {
    let frames = decode_yuv420(file, w, h, Some(90));
    let t = Instant::now();
    let mut s = Scorer::new("vmaf_v0.6.1", threads, 1).unwrap();
    for (i, f) in frames.iter().enumerate() {
        let p = Yuv420 {
            width: w,
            height: h,
            data: f,
        };
        s.push(i as u64, &p, &p).unwrap();
    }
    let n = s.finish().unwrap().len();
    n as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.into());
    let secs: u64 = env("BENCH_SECONDS", "10").parse().unwrap();
    let threads = env("BENCH_THREADS", "2");
    let bin = env!("CARGO_BIN_EXE_streamscope");
    let dir = tempfile::tempdir().unwrap();
    println!(
        "Live VMAF: control + rendition over UDP in real time, {threads} libvmaf threads, {secs} s"
    );
    println!(
        "| control | rendition | raw libvmaf fps at control size | frames received | scored | scored fps | scored fps ÷ raw libvmaf | live dropped | control freezes | relative latency p50 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (size, rendition, rate) in [
        ("1280x720", "1280x720", "1500k"),
        ("1920x1080", "1280x720", "3000k"),
    ] {
        let (w, h) = size.split_once('x').unwrap();
        let (w, h): (usize, usize) = (w.parse().unwrap(), h.parse().unwrap());
        let clip = dir.path().join(format!("{size}.mp4"));
        let length = format!("{secs}s");
        common::generate(
            &clip,
            &["--gop", "1s", "--size", size, "--duration", &length],
        );
        let raw = raw_fps(&clip, w, h, threads.parse().unwrap());
        let (cp, lp) = (free_port(), free_port());
        let udp = |p: u16| format!("udp://127.0.0.1:{p}?fifo_size=100000&overrun_nonfatal=1");
        let out = dir.path().join(format!("report-{size}"));
        let mut analyzer = Command::new(bin)
            .args(["analyze", "--vmaf", "--vmaf-threads", &threads])
            .args(["--duration", &format!("{}s", secs + 4)])
            .args(["--control", &udp(cp), "--live", &udp(lp), "--out"])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let ts = ["-f", "mpegts", "-muxdelay", "0", "-muxpreload", "0"];
        let ok = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-re", "-i"])
            .arg(&clip)
            .args(["-map", "0:v", "-c", "copy"])
            .args(ts)
            .arg(format!("udp://127.0.0.1:{cp}?pkt_size=1316"))
            .args(["-map", "0:v", "-c:v", "libx264", "-preset", "veryfast"])
            .args([
                "-tune",
                "zerolatency",
                "-b:v",
                rate,
                "-s",
                rendition,
                "-g",
                "30",
            ])
            .args(ts)
            .arg(format!("udp://127.0.0.1:{lp}?pkt_size=1316"))
            .status()
            .unwrap();
        assert!(ok.success());
        assert!(analyzer.wait().unwrap().success());
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        let find = |name: &str| {
            s["streams"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["name"] == name)
                .unwrap()
                .clone()
        };
        let (live, control) = (find("live1"), find("control"));
        let received = live["frames_received"].as_f64().unwrap();
        let scored = live["vmaf"]["frames_scored"].as_f64().unwrap();
        let scored_fps = scored / received * live["fps"]["mean"].as_f64().unwrap();
        println!(
            "| {size} | {rendition} {rate} | {raw:.1} | {received} | {scored} ({:.0}%) | {scored_fps:.1} | {:.2} | {} | {} | {:.1} |",
            100.0 * scored / received,
            scored_fps / raw,
            live["dropped"],
            control["freezes"],
            live["relative_latency_ms"]["p50"]
                .as_f64()
                .unwrap_or(f64::NAN)
        );
    }
}
