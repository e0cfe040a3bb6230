//! Helpers shared by the benchmarks (each uses some of them).
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

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
