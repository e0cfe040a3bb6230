//! Reading what an HLS playlist or DASH manifest says (ended, has segments) through ffmpeg,
//! before a reader decides how to open it.

use std::io::Read;
use std::sync::mpsc::channel;
use std::time::Duration;

use generator::process::FfmpegProcess;

use crate::ingest::argv::{self, Presentation};
use crate::ingest::input::Input;

/// What the HLS playlist or DASH manifest `input` names says (ended, has segments): fetched
/// through ffmpeg, at most 4 MiB, within 10 s. None when it could not be fetched.
pub fn presentation(ffmpeg: &std::path::Path, input: &Input) -> Option<Presentation> {
    let mut process =
        FfmpegProcess::spawn(ffmpeg, &argv::fetch_args(input.url(), input.protocol())).ok()?;
    let stdout = process.take_stdout()?;
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.take(4 << 20).read_to_end(&mut text);
        let _ = tx.send(text);
    });
    let text = rx.recv_timeout(Duration::from_secs(10)).ok();
    if text.is_none() {
        process.kill();
    }
    process.finish().ok()?;
    Some(argv::presentation(&String::from_utf8_lossy(&text?)))
}
