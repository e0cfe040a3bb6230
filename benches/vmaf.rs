//! Benchmark: VMAF throughput of `streamscope vmaf` (decode, timecode pairing, scoring) against
//! raw libvmaf fed the same decoded frames from memory, same model and thread count, in one
//! run. `cargo bench --bench vmaf` (env BENCH_SIZES, BENCH_FRAMES=150, BENCH_THREADS=2).

mod common;

use std::process::{Command, Stdio};
use std::time::Instant;

use analyzer::quality::{Scorer, Yuv420};
use common::decode_yuv420;

fn main() {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.into());
    let frames: u64 = env("BENCH_FRAMES", "150").parse().unwrap();
    let threads: u32 = env("BENCH_THREADS", "2").parse().unwrap();
    let bin = env!("CARGO_BIN_EXE_streamscope");
    let dir = tempfile::tempdir().unwrap();
    println!(
        "VMAF throughput: vmaf_v0.6.1 + PSNR + SSIM, {threads} libvmaf threads, {frames} frames, distorted = x264 800k"
    );
    println!(
        "| size | raw libvmaf fps (frames in memory) | streamscope vmaf fps (end to end) | ratio | decoding both inputs alone, fps | CPU-bound ceiling (libvmaf + decode serial), fps | streamscope ÷ ceiling |"
    );
    println!("|---|---|---|---|---|---|---|");
    for size in env("BENCH_SIZES", "1280x720 1920x1080").split_whitespace() {
        let (w, h) = size.split_once('x').unwrap();
        let (w, h): (usize, usize) = (w.parse().unwrap(), h.parse().unwrap());
        let reference = dir.path().join("ref.mp4");
        let distorted = dir.path().join("dist.mp4");
        let secs = format!("{}ms", frames * 1000 / 30);
        common::generate(
            &reference,
            &["--crf", "12", "--size", size, "--duration", &secs],
        );
        let ok = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-y", "-i"])
            .arg(&reference)
            .args(["-c:v", "libx264", "-preset", "veryfast", "-b:v", "800k"])
            .arg(&distorted)
            .status()
            .unwrap();
        assert!(ok.success());

        let t = Instant::now();
        let (r, d) = (
            decode_yuv420(&reference, w, h, None),
            decode_yuv420(&distorted, w, h, None),
        );
        let decode_fps = r.len() as f64 / t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut scorer = Scorer::new("vmaf_v0.6.1", threads, 1).unwrap();
        for (i, (rf, df)) in r.iter().zip(&d).enumerate() {
            let rp = Yuv420 {
                width: w,
                height: h,
                data: rf,
            };
            let dp = Yuv420 {
                width: w,
                height: h,
                data: df,
            };
            scorer.push(i as u64, &rp, &dp).unwrap();
        }
        let scored = scorer.finish().unwrap().len();
        let raw_fps = scored as f64 / t.elapsed().as_secs_f64();

        let t = Instant::now();
        let ok = Command::new(bin)
            .args([
                "vmaf",
                "--vmaf-threads",
                &threads.to_string(),
                "--reference",
            ])
            .arg(&reference)
            .arg("--distorted")
            .arg(&distorted)
            .arg("--out")
            .arg({
                // A run folder takes one run.
                let out = dir.path().join("report");
                let _ = std::fs::remove_dir_all(&out);
                out
            })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success());
        let ours = frames as f64 / t.elapsed().as_secs_f64();
        // On a machine whose cores libvmaf already fills, decoding adds its CPU time serially.
        let ceiling = 1.0 / (1.0 / raw_fps + 1.0 / decode_fps);
        println!(
            "| {size} | {raw_fps:.1} | {ours:.1} | {:.2} | {decode_fps:.1} | {ceiling:.1} | {:.2} |",
            ours / raw_fps,
            ours / ceiling
        );
    }
}
