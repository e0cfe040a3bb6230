//! Measurement behind signal v1's QR symbol choice: candidate version/ECC pairs that hold the
//! 33-digit payload, stamped at the default placement, encoded by x264 at low bitrates, read
//! back with rqrr on whole frames. Prints the share of frames whose exact timecode was read.
//!
//! `cargo bench --bench qr_symbols` (env BENCH_FRAMES=150, BENCH_SIZES, BENCH_BITRATES,
//! BENCH_PATTERNS).

use std::path::Path;
use std::time::{Duration, Instant};

use analyzer::{GrayFrame, decode_timecode};
use generator::argv::{self, Content, EncodeSpec, Pattern, RateControl};
use generator::render::{FrameSink, FrameSource};
use generator::{
    Compositor, EcLevel, FrameRate, MaskPattern, PictureSize, Placement, Schedule, Symbol, Timecode,
};

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Render `frames` frames of `pattern` with `symbol` and encode them at `bitrate` into `out`.
fn render(
    ffmpeg: &Path,
    pattern: Pattern,
    size: PictureSize,
    frames: u64,
    symbol: Symbol,
    bitrate: u64,
    out: &Path,
) {
    let rate = FrameRate::new(30, 1).unwrap();
    let mut comp = Compositor::with_symbol(size, &Placement::default(), symbol).unwrap();
    let mut src = FrameSource::spawn(
        ffmpeg,
        &argv::decode_args(&Content::Pattern(pattern), size, rate, frames),
        size.frame_len(),
    )
    .unwrap();
    let spec = EncodeSpec {
        size,
        rate,
        frames,
        rate_control: RateControl::Bitrate(bitrate),
        preset: "veryfast".into(),
        gop_frames: 60,
        audio: false,
        source_audio: None,
        out: out.to_str().unwrap().into(),
    };
    let mut sink = FrameSink::spawn(ffmpeg, &argv::encode_args(&spec)).unwrap();
    let schedule = Schedule::new(1_795_262_400_000_000, rate);
    let mut buf = vec![0; size.frame_len()];
    for n in 0..frames {
        assert!(src.read_frame(&mut buf).unwrap());
        comp.stamp(
            &mut buf,
            &Timecode {
                stream_id: 1,
                frame: n,
                capture_us: schedule.capture_us(n),
            },
        )
        .unwrap();
        sink.write_frame(&buf).unwrap();
    }
    src.finish().unwrap();
    sink.finish().unwrap();
}

/// (exact reads, stale reads (an earlier frame's code), frames, mean decode time) of `file`.
fn read_back(ffmpeg: &Path, file: &Path, size: PictureSize) -> (u64, u64, u64, Duration) {
    let (w, h) = (size.width as usize, size.height as usize);
    let args: Vec<String> = [
        "-hide_banner",
        "-nostdin",
        "-i",
        file.to_str().unwrap(),
        "-vf",
        "extractplanes=y",
        "-f",
        "rawvideo",
        "pipe:1",
    ]
    .map(String::from)
    .to_vec();
    let mut src = FrameSource::spawn(ffmpeg, &args, w * h).unwrap();
    let mut buf = vec![0; w * h];
    let (mut n, mut ok, mut stale, mut spent) = (0u64, 0u64, 0u64, Duration::ZERO);
    while src.read_frame(&mut buf).unwrap() {
        let t = Instant::now();
        let read = decode_timecode(GrayFrame::new(w, h, &buf).unwrap());
        spent += t.elapsed();
        ok += u64::from(read.as_ref().is_ok_and(|tc| tc.frame == n));
        stale += u64::from(read.is_ok_and(|tc| tc.frame < n));
        n += 1;
    }
    src.finish().unwrap();
    (ok, stale, n, spent / n.max(1) as u32)
}

fn main() {
    let ffmpeg = generator::process::locate("ffmpeg", None).unwrap();
    let frames: u64 = std::env::var("BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let sym = |version, ec_level, mask| Symbol {
        version,
        ec_level,
        mask,
    };
    let all = [
        ("1-L", sym(1, EcLevel::L, None)),
        ("1-M", sym(1, EcLevel::M, None)),
        ("2-Q", sym(2, EcLevel::Q, None)),
        ("2-H", sym(2, EcLevel::H, None)),
        (
            "1-M mask 0",
            sym(1, EcLevel::M, Some(MaskPattern::Checkerboard)),
        ),
        (
            "1-M mask 4",
            sym(1, EcLevel::M, Some(MaskPattern::LargeCheckerboard)),
        ),
        (
            "2-H mask 4",
            sym(2, EcLevel::H, Some(MaskPattern::LargeCheckerboard)),
        ),
    ];
    let wanted = env_list("BENCH_SYMBOLS", "1-L 1-M 2-Q 2-H");
    let candidates: Vec<_> = all
        .into_iter()
        .filter(|(name, _)| wanted.iter().any(|w| w.replace('_', " ") == *name))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    println!(
        "QR symbol read rate (rqrr, whole frame, exact timecode), {frames} frames, x264 veryfast, default placement"
    );
    let names: Vec<_> = candidates.iter().map(|c| c.0).collect();
    println!(
        "cells: exact reads / stale reads (an earlier frame's code) (px per module, ms per rqrr decode)"
    );
    println!("| pattern | size | bitrate | {} |", names.join(" | "));
    println!("|---|---|---|{}", "---|".repeat(candidates.len()));
    for pattern in env_list("BENCH_PATTERNS", "testsrc2 mandelbrot") {
        let pattern: Pattern = pattern.parse().unwrap();
        for size in env_list("BENCH_SIZES", "1280x720 1920x1080") {
            let (w, h) = size.split_once('x').unwrap();
            let size = PictureSize {
                width: w.parse().unwrap(),
                height: h.parse().unwrap(),
            };
            for kbps in env_list("BENCH_BITRATES", "500 200") {
                let bitrate = kbps.parse::<u64>().unwrap() * 1000;
                let mut cells = vec![];
                for &(name, symbol) in &candidates {
                    let out = dir.path().join(format!("{}.mp4", name.replace(' ', "_")));
                    render(&ffmpeg, pattern, size, frames, symbol, bitrate, &out);
                    let (ok, stale, n, per) = read_back(&ffmpeg, &out, size);
                    let px = Compositor::with_symbol(size, &Placement::default(), symbol)
                        .unwrap()
                        .layout()
                        .module_px;
                    let pct = |k: u64| 100.0 * k as f64 / n as f64;
                    cells.push(format!(
                        "{:.1}% / {:.1}% ({px} px, {:.0} ms)",
                        pct(ok),
                        pct(stale),
                        per.as_secs_f64() * 1e3
                    ));
                }
                println!("| {pattern} | {size} | {kbps}k | {} |", cells.join(" | "));
            }
        }
    }
}
