//! Benchmark: `streamscope generate` against a plain ffmpeg encode of the same pattern, size,
//! frame count and x264 settings, run alternately in one process; prints wall and CPU ratios.
//!
//! `cargo bench --bench generate` (env BENCH_SIZES="1280x720 1920x1080", BENCH_FRAMES=300,
//! BENCH_RUNS=3).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// CPU time (user + system) of this process's waited-for children, from /proc/self/stat.
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[13].parse::<u64>().unwrap() + f[14].parse::<u64>().unwrap();
    let hz: u64 = String::from_utf8(
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap_or(100);
    Duration::from_millis(ticks * 1000 / hz)
}

struct Sample {
    wall: Duration,
    cpu: Duration,
    stderr: String,
}

fn measure(cmd: &mut Command) -> Sample {
    let cpu0 = children_cpu();
    let t = Instant::now();
    let out = cmd.output().expect("run");
    let wall = t.elapsed();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    Sample {
        wall,
        cpu: children_cpu() - cpu0,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// ffmpeg decoding the pattern to raw yuv420p, piped into ffmpeg encoding it: the same argv as
/// `generate` minus the stamping, to separate the cost of the two-process design.
fn piped(size: &str, frames: u64, out: &std::path::Path) -> Sample {
    use generator::argv::{self, Content, EncodeSpec, Pattern, RateControl};
    let (w, h) = size.split_once('x').unwrap();
    let size = generator::PictureSize {
        width: w.parse().unwrap(),
        height: h.parse().unwrap(),
    };
    let rate = generator::FrameRate::new(30, 1).unwrap();
    let spec = EncodeSpec {
        size,
        rate,
        frames,
        rate_control: RateControl::Crf(20),
        preset: "veryfast".into(),
        gop_frames: 60,
        audio: false,
        source_audio: None,
        out: out.to_str().unwrap().into(),
    };
    let cpu0 = children_cpu();
    let t = Instant::now();
    let mut dec = Command::new("ffmpeg")
        .args(argv::decode_args(
            &Content::Pattern(Pattern::Testsrc2),
            size,
            rate,
            frames,
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let enc = Command::new("ffmpeg")
        .args(argv::encode_args(&spec))
        .stdin(Stdio::from(dec.stdout.take().unwrap()))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(dec.wait().unwrap().success() && enc.success());
    let wall = t.elapsed();
    Sample {
        wall,
        cpu: children_cpu() - cpu0,
        stderr: String::new(),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let sizes = std::env::var("BENCH_SIZES").unwrap_or_else(|_| "1280x720 1920x1080".into());
    let frames: u64 = std::env::var("BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let out_plain = dir.path().join("plain.mp4");
    let out_ss = dir.path().join("streamscope.mp4");
    println!(
        "generate vs plain ffmpeg: testsrc2, {frames} frames @ 30 fps, x264 veryfast crf 20, GOP 60, no audio; median of {runs}"
    );
    println!(
        "| size | plain ffmpeg | ffmpeg→pipe→ffmpeg | generate | generate ÷ plain | generate ÷ piped | plain CPU | piped CPU | generate CPU | CPU generate ÷ plain | stamping ms/frame | stamping ÷ plain |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for size in sizes.split_whitespace() {
        let (mut pw, mut pc, mut sw, mut sc, mut stamp) = (vec![], vec![], vec![], vec![], vec![]);
        let (mut qw, mut qc) = (vec![], vec![]);
        for _ in 0..runs {
            let p = measure(
                Command::new("ffmpeg")
                    .args(["-hide_banner", "-nostdin", "-y", "-f", "lavfi", "-i"])
                    .arg(format!("testsrc2=size={size}:rate=30"))
                    .args(["-frames:v", &frames.to_string()])
                    .args([
                        "-c:v",
                        "libx264",
                        "-preset",
                        "veryfast",
                        "-profile:v",
                        "high",
                        "-pix_fmt",
                        "yuv420p",
                    ])
                    .args([
                        "-crf",
                        "20",
                        "-g",
                        "60",
                        "-keyint_min",
                        "60",
                        "-sc_threshold",
                        "0",
                    ])
                    .args(["-movflags", "+faststart", "-f", "mp4"])
                    .arg(&out_plain),
            );
            let q = piped(size, frames, &out_plain);
            qw.push(q.wall);
            qc.push(q.cpu);
            let s = measure(
                Command::new(env!("CARGO_BIN_EXE_streamscope"))
                    .args([
                        "generate",
                        "--no-audio",
                        "--crf",
                        "20",
                        "--preset",
                        "veryfast",
                        "--gop",
                        "2s",
                    ])
                    .args(["--size", size, "--duration"])
                    .arg(format!("{}ms", frames * 1000 / 30))
                    .arg("--out")
                    .arg(&out_ss),
            );
            let ms: f64 = s
                .stderr
                .split("timecode stamping ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .expect("stamping time in the log");
            pw.push(p.wall);
            pc.push(p.cpu);
            sw.push(s.wall);
            sc.push(s.cpu);
            stamp.push(Duration::from_secs_f64(ms / 1e3));
        }
        let (pw, pc, sw, sc, stamp) = (
            median(pw),
            median(pc),
            median(sw),
            median(sc),
            median(stamp),
        );
        let (qw, qc) = (median(qw), median(qc));
        let secs = |d: Duration| d.as_secs_f64();
        println!(
            "| {size} | {:.2} s | {:.2} s | {:.2} s | {:.3} | {:.3} | {:.2} s | {:.2} s | {:.2} s | {:.3} | {:.3} | {:.1}% |",
            secs(pw),
            secs(qw),
            secs(sw),
            secs(sw) / secs(pw),
            secs(sw) / secs(qw),
            secs(pc),
            secs(qc),
            secs(sc),
            secs(sc) / secs(pc),
            secs(stamp) * 1e3,
            100.0 * secs(stamp) * frames as f64 / secs(pw),
        );
    }
}
