//! Helpers shared by the benchmarks (each uses some of them).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};

/// The benchmarks' start time for generated clips and `--clock pts` replays.
pub const START: &str = "2026-11-21T12:00:00Z";

/// `streamscope generate --no-audio ARGS… --out CLIP`, quietly; panics when it fails.
pub fn generate(clip: &Path, args: &[&str]) {
    let ok = Command::new(env!("CARGO_BIN_EXE_streamscope"))
        .args(["generate", "--no-audio"])
        .args(args)
        .arg("--out")
        .arg(clip)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "generating {}", clip.display());
}

/// `streamscope analyze` replaying `clip` by its PTS into `out` (emptied first: a run folder
/// takes one run); callers add arguments.
pub fn replay(clip: &Path, out: &Path) -> Command {
    let _ = std::fs::remove_dir_all(out);
    let mut c = Command::new(env!("CARGO_BIN_EXE_streamscope"));
    c.args(["analyze", "--clock", "pts", "--start-time", START, "--live"])
        .arg(clip)
        .arg("--out")
        .arg(out);
    c
}

/// Every (or the first `frames`) frame of `file` as yuv420p `w`×`h`, decoded by ffmpeg into
/// memory, so scoring can be timed without decoding.
pub fn decode_yuv420(file: &Path, w: usize, h: usize, frames: Option<usize>) -> Vec<Vec<u8>> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-nostdin", "-i"]).arg(file);
    if let Some(n) = frames {
        cmd.args(["-frames:v", &n.to_string()]);
    }
    let out = cmd
        .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "decoding {}", file.display());
    out.stdout
        .chunks_exact(w * h * 3 / 2)
        .map(<[u8]>::to_vec)
        .collect()
}

/// A UDP port free on 127.0.0.1 right now.
pub fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}
