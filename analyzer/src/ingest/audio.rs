//! The audio of a file input, read for its beeps: one ffmpeg decodes the first audio stream to
//! 48 kHz mono s16 on stdout (its first PTS from `ashowinfo`), the beep detector finds each
//! onset, and the onsets come back as PTS in µs on the same time base as the video reader's.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use ffmpeg_sidecar::event::FfmpegEvent;
use generator::process::FfmpegProcess;
use metrics::av::{BeepDetector, RATE};

use super::input::{ContentKey, Input, Protocol};

/// What the audio of an input gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Beeps {
    /// Beep onsets and the audio's first sample, PTS µs (fractional).
    Onsets { onsets: Vec<f64>, start_us: f64 },
    /// The input has no audio stream.
    NoAudio,
}

/// ffmpeg argv: the first audio stream of a file, resampled to 48 kHz mono (gaps filled, so
/// sample i is at first PTS + i / 48 000 s), each frame's PTS logged by `ashowinfo`, s16le on
/// stdout. Timestamps as the video reader keeps them: the stream's own with `with_pts`
/// (`-copyts`), else shifted by ffmpeg to start at 0 (the same shift for every stream of the
/// input).
pub fn audio_args(path: &str, with_pts: bool, key: Option<ContentKey>) -> Vec<String> {
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-nostats"]
        .map(String::from)
        .to_vec();
    if with_pts {
        a.push("-copyts".into());
    }
    if let Some(key) = key {
        a.push("-decryption_key".into());
        a.push(key.hex());
    }
    let file = if path.starts_with("file:") {
        path.to_owned()
    } else {
        format!("file:{path}")
    };
    a.extend(
        [
            "-protocol_whitelist",
            "file",
            "-i",
            &file,
            "-map",
            "0:a:0",
            "-vn",
            "-sn",
            "-dn",
            "-af",
            "aresample=48000:async=1,aformat=sample_fmts=s16:channel_layouts=mono,ashowinfo",
            "-f",
            "s16le",
            "pipe:1",
        ]
        .map(String::from),
    );
    a
}

/// The PTS (µs) of the first `ashowinfo` frame line (`n:0 pts:… pts_time:1.234 …`).
pub fn parse_first_pts_us(line: &str) -> Option<i64> {
    let rest = line.split_once("] n:0 ")?.1;
    let t = rest
        .split_whitespace()
        .find_map(|w| w.strip_prefix("pts_time:"))?;
    let secs: f64 = t.parse().ok()?;
    secs.is_finite().then(|| (secs * 1e6).round() as i64)
}

/// The beeps of a file input (None for inputs that are not files: their audio would have to
/// come from the live reader, which stamps arrivals, not the stream's timestamps).
pub fn beeps(ffmpeg: &Path, input: &Input, with_pts: bool) -> Option<Result<Beeps, crate::Error>> {
    if input.protocol() != Protocol::File {
        return None;
    }
    Some(read_beeps(
        ffmpeg,
        input.url(),
        with_pts,
        input.decryption_key(),
    ))
}

fn read_beeps(
    ffmpeg: &Path,
    path: &str,
    with_pts: bool,
    key: Option<ContentKey>,
) -> Result<Beeps, crate::Error> {
    let first_pts = Arc::new(Mutex::new(None));
    let seen = first_pts.clone();
    let hook = Box::new(move |e: &FfmpegEvent| {
        if let FfmpegEvent::Log(_, line) = e
            && line.contains("ashowinfo")
        {
            if let (Some(us), Ok(mut f)) = (parse_first_pts_us(line), seen.lock())
                && f.is_none()
            {
                *f = Some(us);
            }
            return true;
        }
        false
    });
    let mut process =
        FfmpegProcess::spawn_with_hook(ffmpeg, &audio_args(path, with_pts, key), Some(hook))?;
    let mut stdout = process
        .take_stdout()
        .ok_or_else(|| crate::Error::Panicked {
            thread: "audio reader (no stdout)".into(),
        })?;
    let mut detector = BeepDetector::default();
    let mut onsets = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut carry: Option<u8> = None;
    loop {
        let n = stdout.read(&mut buf).map_err(|e| crate::Error::Io {
            what: format!("reading the audio of {path}"),
            source: e,
        })?;
        if n == 0 {
            break;
        }
        let mut bytes: Vec<u8> = carry.take().into_iter().collect();
        bytes.extend_from_slice(&buf[..n]);
        if bytes.len() % 2 == 1 {
            carry = bytes.pop();
        }
        let samples: Vec<i16> = bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        onsets.extend(detector.push(&samples));
    }
    match process.finish() {
        Ok(()) => {}
        Err(generator::Error::Ffmpeg { failure, .. })
            if failure
                .stderr_tail
                .iter()
                .any(|l| l.contains("matches no streams")) =>
        {
            return Ok(Beeps::NoAudio);
        }
        Err(e) => return Err(e.into()),
    }
    let origin = first_pts.lock().ok().and_then(|f| *f).unwrap_or(0) as f64;
    Ok(Beeps::Onsets {
        onsets: onsets
            .into_iter()
            .map(|i| origin + i * 1e6 / f64::from(RATE))
            .collect(),
        start_us: origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audio_reader_command_is_exact() {
        assert_eq!(
            audio_args("/tmp/a b.mp4", false, None).join(" "),
            "-hide_banner -nostdin -nostats -protocol_whitelist file -i file:/tmp/a b.mp4 \
             -map 0:a:0 -vn -sn -dn -af \
             aresample=48000:async=1,aformat=sample_fmts=s16:channel_layouts=mono,ashowinfo \
             -f s16le pipe:1"
        );
        assert!(audio_args("x.ts", true, None).join(" ").starts_with(
            "-hide_banner -nostdin -nostats -copyts -protocol_whitelist file -i file:x.ts"
        ));
    }

    #[test]
    fn the_first_frame_pts_is_read_from_ashowinfo() {
        let line = "[Parsed_ashowinfo_2 @ 0x55d0] n:0 pts:67200 pts_time:1.4 fmt:s16 channels:1 \
                    chlayout:mono rate:48000 nb_samples:1024 checksum:00000000";
        assert_eq!(parse_first_pts_us(line), Some(1_400_000));
        assert_eq!(
            parse_first_pts_us("[Parsed_ashowinfo_2 @ 0x55d0] n:1 pts:1024 pts_time:0.021333"),
            None
        );
        assert_eq!(parse_first_pts_us("n:0 pts:0 pts_time:0 fmt:yuv420p"), None);
    }
}
