//! The A/V tap of a live `udp://` input: a second ffmpeg fed the same datagrams as the reader
//! (no second download) that keeps the stream's own timestamps, decodes only the audio (for its
//! beeps) and lists the video packets with their PTS. The reader stamps each frame with the
//! time its packet arrived, which erases the PTS; the tap's packet list, aligned with the
//! reader's, gives each frame its PTS back, on the audio's time base.

use std::path::Path;
use std::process::ChildStdin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::argv::fed_input;
use super::audio::{Heard, Listener, listen_outputs, read_onsets};

/// ffmpeg argv of the tap: MPEG-TS on stdin (`argv::fed_input`), the stream's own timestamps (`-copyts`), the
/// audio reader's outputs (`audio::listen_outputs`). The probe is ffmpeg's default (5 s): the
/// tap is not on the latency path, and a short probe may miss an audio stream.
pub fn tap_args() -> Vec<String> {
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-nostats", "-copyts"]
        .map(String::from)
        .to_vec();
    a.extend(fed_input("mpegts"));
    a.extend(listen_outputs("pipe:1", "0:v:0"));
    a
}

/// The tap's outcome: what it heard, or why there is nothing (one sentence: `NO_AUDIO`, or
/// how it failed).
pub type TapResult = Result<Heard, String>;

/// The text for a stream without audio.
pub const NO_AUDIO: &str = "no audio";

/// A running tap (or receiver, `receiver.rs`): its audio reader and the thread reading the
/// beeps off its PCM output.
pub struct Tap {
    listener: Listener,
    onsets: JoinHandle<Result<Vec<f64>, crate::Error>>,
    /// Set when the tap is given up: a thread still waiting for the PCM to connect stops.
    quit: Arc<AtomicBool>,
}

impl Tap {
    /// Start the tap; returns it and the stdin the datagrams go to.
    pub fn spawn(ffmpeg: &Path, url: &str) -> Result<(Tap, ChildStdin), crate::Error> {
        let (mut listener, mut stdout) = Listener::spawn(ffmpeg, &tap_args())?;
        let stdin = listener.take_stdin().ok_or_else(|| crate::Error::Io {
            what: format!("starting the A/V tap of {url}"),
            source: std::io::Error::other("no stdin pipe"),
        })?;
        let what = url.to_owned();
        let onsets = std::thread::Builder::new()
            .name("av-tap".into())
            .spawn(move || read_onsets(&mut stdout, &what))
            .map_err(|e| crate::Error::Io {
                what: "spawning the A/V tap's thread".into(),
                source: e,
            })?;
        Ok((Tap::new(listener, onsets, Arc::default()), stdin))
    }

    /// A tap of `listener` whose beeps `onsets` reads (ended early by `quit`).
    pub fn new(
        listener: Listener,
        onsets: JoinHandle<Result<Vec<f64>, crate::Error>>,
        quit: Arc<AtomicBool>,
    ) -> Tap {
        Tap {
            listener,
            onsets,
            quit,
        }
    }

    /// What the tap heard, once its input has ended (the feed closed its stdin); killed if it
    /// has not finished within `wait`.
    pub fn finish(self, wait: Duration) -> TapResult {
        match self.end(wait) {
            Ok(Some(heard)) => Ok(heard),
            Ok(None) => Err(NO_AUDIO.into()),
            Err(e) => Err(format!("the A/V tap failed: {e}")),
        }
    }

    /// `finish`, its failure as the error it is (None: no audio).
    pub fn end(mut self, wait: Duration) -> Result<Option<Heard>, crate::Error> {
        let deadline = Instant::now() + wait;
        while !self.onsets.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !self.onsets.is_finished() {
            self.listener.kill();
            self.quit.store(true, Ordering::SeqCst);
        }
        let onsets = self.onsets.join().unwrap_or_else(|_| {
            Err(crate::Error::Panicked {
                thread: "av-tap".into(),
            })
        });
        self.listener.finish(onsets)
    }
}

/// A reader's side of its tap: the tap itself, and the reader's own stamps to align with it.
pub struct TapState {
    tap: Result<Tap, String>,
    /// Frames stamped at the demuxer: (frame sequence number, demuxer stamp µs as ffmpeg wrote
    /// it).
    frames: Vec<(u64, i64)>,
    /// The reader's video packets in demuxer order: (demuxer stamp µs, size).
    packets: Vec<(i64, u64)>,
}

/// One reader's A/V material: its frames and packets by arrival stamp, and what its tap heard.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveAv {
    pub frames: Vec<(u64, i64)>,
    pub packets: Vec<(i64, u64)>,
    pub tapped: TapResult,
}

impl TapState {
    /// A tap that started, or why it did not (kept for the summary).
    pub fn new(tap: Result<Tap, String>) -> Self {
        TapState {
            tap,
            frames: Vec::new(),
            packets: Vec::new(),
        }
    }

    /// The tap itself, if it started.
    pub fn into_tap(self) -> Option<Tap> {
        self.tap.ok()
    }

    pub fn note_packet(&mut self, stamp_us: i64, size: u64) {
        self.packets.push((stamp_us, size));
    }

    pub fn note_frame(&mut self, seq: u64, stamp_us: i64) {
        self.frames.push((seq, stamp_us));
    }

    /// End the tap (its input must have ended) and hand over everything, frame numbers moved
    /// by `seq_base` (the stream's frames before this reader).
    pub fn finish(self, seq_base: u64) -> LiveAv {
        LiveAv {
            frames: self
                .frames
                .into_iter()
                .map(|(seq, us)| (seq + seq_base, us))
                .collect(),
            packets: self.packets,
            tapped: self.tap.and_then(|t| t.finish(Duration::from_secs(10))),
        }
    }
}

impl LiveAv {
    /// The stream PTS (µs) of each frame sequence number the tap's packets account for: the
    /// frame's arrival stamp names the reader's packet, whose place in the reader's packet
    /// sequence is its place in the tap's (both are the same demuxer on the same bytes; the
    /// start is aligned by the packet sizes, and a packet whose size differs is left out).
    /// Packets demuxed within one tick of the stamps' time base (a burst, e.g. 1 ms for FLV)
    /// share a stamp: the frames with that stamp take its packets in order, not all the first.
    pub fn stream_pts(&self) -> std::collections::HashMap<u64, i64> {
        let Ok(tapped) = &self.tapped else {
            return Default::default();
        };
        let ours: Vec<u64> = self.packets.iter().map(|p| p.1).collect();
        let theirs: Vec<u64> = tapped.packets.iter().map(|p| p.1).collect();
        let Some(shift) = metrics::av::align_sizes(&ours, &theirs) else {
            return Default::default();
        };
        let mut by_stamp: std::collections::HashMap<i64, std::collections::VecDeque<usize>> =
            std::collections::HashMap::new();
        for (i, &(stamp, _)) in self.packets.iter().enumerate() {
            by_stamp.entry(stamp).or_default().push_back(i);
        }
        self.frames
            .iter()
            .filter_map(|&(seq, stamp)| {
                let packets = by_stamp.get_mut(&stamp)?;
                // The last packet of a stamp serves any further frame with it.
                let i = if packets.len() > 1 {
                    packets.pop_front()?
                } else {
                    *packets.front()?
                };
                let j = usize::try_from(i as isize + shift).ok()?;
                let (pts, size) = *tapped.packets.get(j)?;
                (size == self.packets[i].1).then_some((seq, pts))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_get_the_pts_of_their_packet_in_the_taps_sequence() {
        // The tap saw one packet before the reader did; the reader's third packet never made
        // a frame; the tap's fourth packet differs in size (left out).
        let live = LiveAv {
            frames: vec![(10, 1_000), (11, 1_040), (12, 1_120), (13, 1_160)],
            packets: vec![
                (1_000, 500),
                (1_040, 20),
                (1_080, 30),
                (1_120, 40),
                (1_160, 77),
            ],
            tapped: Ok(Heard {
                onsets_us: vec![],
                start_us: 0.0,
                packets: vec![
                    (90_000, 9),
                    (123_000, 500),
                    (123_033, 20),
                    (123_066, 30),
                    (123_100, 41),
                    (123_133, 77),
                ],
            }),
        };
        let pts = live.stream_pts();
        assert_eq!(pts.get(&10), Some(&123_000));
        assert_eq!(pts.get(&11), Some(&123_033));
        assert_eq!(pts.get(&12), None);
        assert_eq!(pts.get(&13), Some(&123_133));
        assert_eq!(pts.len(), 3);
        let deaf = LiveAv {
            tapped: Err(NO_AUDIO.into()),
            ..live
        };
        assert!(deaf.stream_pts().is_empty());
    }

    #[test]
    fn frames_sharing_a_stamp_take_its_packets_in_order() {
        // Three packets demuxed in one burst (one stamp): three frames, three PTS, not the
        // first packet's three times (which put a live A/V offset two frames off).
        let live = LiveAv {
            frames: vec![(0, 1_000), (1, 2_000), (2, 2_000), (3, 2_000), (4, 3_000)],
            packets: vec![
                (1_000, 10),
                (2_000, 11),
                (2_000, 12),
                (2_000, 13),
                (3_000, 14),
            ],
            tapped: Ok(Heard {
                onsets_us: vec![],
                start_us: 0.0,
                packets: (0..5).map(|i| (i * 33_333, 10 + i as u64)).collect(),
            }),
        };
        let pts = live.stream_pts();
        let got: Vec<_> = (0..5).map(|s| pts.get(&s).copied()).collect();
        assert_eq!(got, (0..5).map(|i| Some(i * 33_333)).collect::<Vec<_>>());
    }

    #[test]
    fn the_tap_command_is_exact() {
        assert_eq!(
            tap_args().join(" "),
            "-hide_banner -nostdin -nostats -copyts -protocol_whitelist pipe -f mpegts -i pipe:0 \
             -map 0:a:0 -vn -sn -dn -af \
             aresample=48000:async=1,aformat=sample_fmts=s16:channel_layouts=mono,ashowinfo \
             -f s16le pipe:1 -map 0:v:0 -c copy -f framecrc pipe:2"
        );
    }
}
