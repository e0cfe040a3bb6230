//! The audio of a file input, read for its beeps: one ffmpeg decodes the first audio stream to
//! 48 kHz mono s16 on stdout (its first PTS from `ashowinfo`), the beep detector finds each
//! onset, and the onsets come back as the stream's own PTS in µs, with the first video
//! packet's PTS on the same timeline, so the caller puts them on the video reader's.

use std::io::Read;
use std::path::Path;
use std::process::{ChildStdin, ChildStdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ffmpeg_sidecar::event::FfmpegEvent;
use generator::process::FfmpegProcess;
use metrics::av::{BeepDetector, RATE};

use super::argv::{PacketLine, parse_packet_line, pts_to_us};
use super::input::{ContentKey, Input, Protocol};

/// What the audio of an input gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Beeps {
    Heard(Heard),
    /// The input has no audio stream.
    NoAudio,
}

/// What an audio reader heard, on the stream's own timestamps (µs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Heard {
    /// Beep onsets and the audio's first sample (fractional).
    pub onsets_us: Vec<f64>,
    pub start_us: f64,
    /// The video packets a stream copy keeps, in demuxer order: (PTS, size). A video reader of
    /// the same bytes lists the same packets, on its own timeline.
    pub packets: Vec<(i64, u64)>,
}

/// ffmpeg argv: the first audio stream of a file, resampled to 48 kHz mono (gaps filled, so
/// sample i is at first PTS + i / 48 000 s), each frame's PTS logged by `ashowinfo`, s16le on
/// stdout; the first video stream's packets listed on stderr (`framecrc`, as the video reader
/// lists them). The stream's own timestamps (`-copyts`): without it ffmpeg shifts each process's
/// timeline by the start of the streams it maps (measured: a TS whose audio starts 21.33 ms
/// before its video read 21.33 ms late when audio and video came from separate processes).
pub fn audio_args(path: &str, key: Option<ContentKey>) -> Vec<String> {
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-nostats", "-copyts"]
        .map(String::from)
        .to_vec();
    if let Some(key) = key {
        a.push("-decryption_key".into());
        a.push(key.hex());
    }
    let file = if path.starts_with("file:") {
        path.to_owned()
    } else {
        format!("file:{path}")
    };
    a.extend(["-protocol_whitelist", "file", "-i", &file].map(String::from));
    a.extend(listen_outputs("pipe:1", "0:v:0?"));
    a
}

/// The outputs of every audio reader: the first audio stream as 48 kHz mono s16le to `pcm_to`
/// (`BEEP_FILTERS`; stdout is `pipe:1`), the video stream `video_map` names as `framecrc` lines on stderr.
pub fn listen_outputs(pcm_to: &str, video_map: &str) -> Vec<String> {
    [
        "-map",
        "0:a:0",
        "-vn",
        "-sn",
        "-dn",
        "-af",
        BEEP_FILTERS,
        "-f",
        "s16le",
        pcm_to,
        "-map",
        video_map,
        "-c",
        "copy",
        "-f",
        "framecrc",
        "pipe:2",
    ]
    .map(String::from)
    .to_vec()
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

/// The beeps of a file input (None for inputs that are not files: a live input's audio comes
/// from its reader's tap, `tap.rs`).
pub fn beeps(ffmpeg: &Path, input: &Input) -> Option<Result<Beeps, crate::Error>> {
    if input.protocol() != Protocol::File {
        return None;
    }
    Some(read_beeps(ffmpeg, input.url(), input.decryption_key()))
}

fn read_beeps(ffmpeg: &Path, path: &str, key: Option<ContentKey>) -> Result<Beeps, crate::Error> {
    let (listener, mut stdout) = Listener::spawn(ffmpeg, &audio_args(path, key))?;
    let onsets = read_onsets(&mut stdout, path);
    Ok(listener
        .finish(onsets)?
        .map_or(Beeps::NoAudio, Beeps::Heard))
}

#[derive(Default)]
struct Log {
    first_audio_us: Option<i64>,
    time_base: Option<(i64, i64)>,
    packets: Vec<(i64, u64)>,
}

/// A running audio reader (`listen_outputs`): its ffmpeg and what its log said so far.
pub struct Listener {
    ender: Ender,
    log: Arc<Mutex<Log>>,
}

/// Ends a listener's ffmpeg from another thread (a receiver, when its reader stops): what it
/// heard until then is kept, its exit by our signal is not a failure.
#[derive(Clone)]
pub struct Ender {
    process: Arc<Mutex<Option<FfmpegProcess>>>,
    ended: Arc<AtomicBool>,
}

impl Ender {
    pub fn end(&self) {
        self.ended.store(true, Ordering::SeqCst);
        self.kill();
    }

    /// Whether its ffmpeg has exited (or was already waited for).
    pub fn exited(&self) -> bool {
        self.process
            .lock()
            .ok()
            .is_none_or(|mut p| p.as_mut().is_none_or(FfmpegProcess::has_exited))
    }

    fn kill(&self) {
        if let Ok(mut p) = self.process.lock()
            && let Some(p) = p.as_mut()
        {
            p.kill();
        }
    }
}

impl Listener {
    /// Start ffmpeg with `args`; returns the reader and the PCM stdout to read the beeps from.
    pub fn spawn(ffmpeg: &Path, args: &[String]) -> Result<(Listener, ChildStdout), crate::Error> {
        let log = Arc::new(Mutex::new(Log::default()));
        let seen = log.clone();
        let hook = Box::new(move |e: &FfmpegEvent| {
            let FfmpegEvent::Log(_, line) = e else {
                return false;
            };
            let Ok(mut log) = seen.lock() else {
                return false;
            };
            if line.contains("ashowinfo") {
                if log.first_audio_us.is_none() {
                    log.first_audio_us = parse_first_pts_us(line);
                }
                return true;
            }
            match parse_packet_line(line) {
                Some(PacketLine::TimeBase { num, den }) => log.time_base = Some((num, den)),
                Some(PacketLine::Packet { pts, size, .. }) => {
                    if let Some(us) = log.time_base.and_then(|(n, d)| pts_to_us(pts, n, d)) {
                        log.packets.push((us, size));
                    }
                }
                None => return line.starts_with('#'),
            }
            true
        });
        let mut process = FfmpegProcess::spawn_with_hook(ffmpeg, args, Some(hook))?;
        let stdout = process.take_stdout().ok_or_else(|| crate::Error::Io {
            what: format!("taking stdout of {}", process.command()),
            source: std::io::Error::other("no stdout pipe"),
        })?;
        let ender = Ender {
            process: Arc::new(Mutex::new(Some(process))),
            ended: Arc::default(),
        };
        Ok((Listener { ender, log }, stdout))
    }

    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.ender.process.lock().ok()?.as_mut()?.take_stdin()
    }

    pub fn kill(&mut self) {
        self.ender.kill();
    }

    /// What ends this listener from another thread.
    pub fn ender(&self) -> Ender {
        self.ender.clone()
    }

    /// Wait for ffmpeg (its stdout read to the end, giving `onsets` in samples): what it
    /// heard, or None when the input has no audio.
    pub fn finish(
        self,
        onsets: Result<Vec<f64>, crate::Error>,
    ) -> Result<Option<Heard>, crate::Error> {
        let process = self.ender.process.lock().ok().and_then(|mut p| p.take());
        match process.map_or(Ok(()), FfmpegProcess::finish) {
            Ok(()) => {}
            Err(generator::Error::Ffmpeg { failure, .. }) if no_audio(&failure) => {
                return Ok(None);
            }
            Err(_) if self.ender.ended.load(Ordering::SeqCst) => {}
            Err(e) => return Err(e.into()),
        }
        let onsets = onsets?;
        let log = std::mem::take(&mut *self.log.lock().map_err(|_| crate::Error::Panicked {
            thread: "audio reader (log)".into(),
        })?);
        let Some(first) = log.first_audio_us else {
            return Ok(None);
        };
        let start_us = first as f64;
        Ok(Some(Heard {
            onsets_us: onsets
                .into_iter()
                .map(|i| start_us + i * 1e6 / f64::from(RATE))
                .collect(),
            start_us,
            packets: log.packets,
        }))
    }
}

/// Beep onsets (sample index, fractional) of 48 kHz mono s16le PCM read to its end.
pub fn read_onsets(pcm: &mut impl Read, what: &str) -> Result<Vec<f64>, crate::Error> {
    let mut detector = BeepDetector::default();
    let mut onsets = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut carry: Option<u8> = None;
    loop {
        let n = pcm.read(&mut buf).map_err(|e| crate::Error::Io {
            what: format!("reading the audio of {what}"),
            source: e,
        })?;
        if n == 0 {
            return Ok(onsets);
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
}

/// The filters that make any audio 48 kHz mono s16 with gaps filled (sample i is at the first
/// PTS + i / 48 000 s), each frame's PTS logged by `ashowinfo`.
pub const BEEP_FILTERS: &str =
    "aresample=48000:async=1,aformat=sample_fmts=s16:channel_layouts=mono,ashowinfo";

/// Whether ffmpeg's stderr tail says the input had no audio to map.
pub fn no_audio(failure: &generator::process::FfmpegFailure) -> bool {
    failure
        .stderr_tail
        .iter()
        .any(|l| l.contains("matches no streams"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audio_reader_command_is_exact() {
        assert_eq!(
            audio_args("/tmp/a b.mp4", None).join(" "),
            "-hide_banner -nostdin -nostats -copyts -protocol_whitelist file -i file:/tmp/a b.mp4 \
             -map 0:a:0 -vn -sn -dn -af \
             aresample=48000:async=1,aformat=sample_fmts=s16:channel_layouts=mono,ashowinfo \
             -f s16le pipe:1 -map 0:v:0? -c copy -f framecrc pipe:2"
        );
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
