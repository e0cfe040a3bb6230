//! One ffmpeg reader per stream: frames taken off stdout at their exact size and timestamped
//! (live: when ffmpeg's demuxer received them; else as they leave ffmpeg, before any
//! analysis); stream info and PTS from ffmpeg's log.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::process::ChildStdout;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use generator::clock::WallClock;

use generator::process::FfmpegProcess;

use super::argv::{ReaderOptions, fed_by_us, reader_args, stamps_at_demux, through_receiver};
use super::input::Input;
use super::pool::{FrameBuf, FramePool};
use super::receiver::{self, Feeder, Gone};
use super::tap::{LiveAv, NO_AUDIO, Tap, TapState};
use crate::Error;

mod notes;
mod presentation;
mod stopper;

use notes::{Note, hook};
pub use presentation::presentation;
pub use stopper::Stopper;

/// What a reader learnt about its input besides the frames.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Received {
    /// Bytes of video received per whole second (UTC seconds for live inputs).
    pub per_second: std::collections::BTreeMap<i64, u64>,
    /// ffmpeg found the input cut short ("partial file": a truncated MP4).
    pub truncated: bool,
    /// Each reader's A/V material (live `udp://` inputs with `ReaderOptions::av_tap`).
    pub av: Vec<LiveAv>,
    /// Inputs not stamped at the demuxer: the PTS (µs, on the frames' timeline) of the first
    /// video packet the reader listed, where a file's audio reader finds its own timeline.
    pub first_packet_us: Option<i64>,
}

impl Received {
    /// Add what another reader of the same stream (after a reconnect) received.
    pub fn merge(&mut self, other: Received) {
        for (second, bytes) in other.per_second {
            *self.per_second.entry(second).or_default() += bytes;
        }
        self.truncated |= other.truncated;
        self.av.extend(other.av);
        self.first_packet_us = self.first_packet_us.or(other.first_packet_us);
    }
}

/// What ffmpeg said about the input's video stream.
#[derive(Debug, Clone, PartialEq)]
pub struct InputInfo {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub fps: f32,
    /// The stream's bitrate when the container states it.
    pub bitrate_kbps: Option<u32>,
}

/// One frame (its luma plane, or whole yuv420p with `ReaderOptions::yuv420`) with its arrival
/// time.
#[derive(Debug, Clone)]
pub struct RawFrame {
    pub seq: u64,
    /// Realtime arrival, µs UTC on the reader's clock: for live inputs when ffmpeg's demuxer
    /// received the frame's packet (see `argv::stamps_at_demux`), else when the frame's last
    /// byte left ffmpeg.
    pub arrival_us: i64,
    /// Frame PTS in µs (the stream's own with `ReaderOptions::with_pts`; None for live inputs
    /// stamped at the demuxer, whose PTS is the receive time; else shifted by ffmpeg to start
    /// near 0).
    pub pts_us: Option<i64>,
    /// The frame's size as decoded, before ffmpeg scales it to the stream's first size.
    pub source_size: Option<(u32, u32)>,
    /// `--code-window` readers: how far the whole picture moved since the previous frame
    /// (mean absolute luma difference, levels), measured by ffmpeg; None for other readers and
    /// for the first frame of each ffmpeg filter graph (nothing to compare with).
    pub moved: Option<f64>,
    pub width: usize,
    pub height: usize,
    /// The luma plane (width × height bytes), followed by U and V for yuv420p frames.
    pub data: FrameBuf,
}

pub struct Reader {
    url: String,
    stopper: Stopper,
    stdout: ChildStdout,
    notes: Receiver<Note>,
    input: Option<InputInfo>,
    width: usize,
    height: usize,
    time_base: Option<(i64, i64)>,
    /// Time base of the packet listing, and bytes of video received per second (by the
    /// packets' timestamps: the receive time for live inputs).
    packet_time_base: Option<(i64, i64)>,
    received: Received,
    /// Replays: PTS 0 of a container whose timestamps start at an arbitrary value (MPEG-TS,
    /// HLS) is its first timestamp, as it is the start of an MP4.
    pts_origin_us: i64,
    container: Option<String>,
    with_pts: bool,
    /// Frames described by showinfo: (index in the stream, PTS µs, size).
    pending: VecDeque<(u64, Option<i64>, (u32, u32))>,
    /// `--code-window`: frames' movement by `scdet` (index in the stream, levels).
    changes: VecDeque<(u64, Option<f64>)>,
    windowed: bool,
    /// showinfo's frame numbers restart when ffmpeg rebuilds the filter graph: the index of
    /// its frame 0 in the stream.
    graph_base: u64,
    noted_frames: u64,
    /// How long to wait for a frame's showinfo line.
    note_wait: Duration,
    yuv420: bool,
    clock: WallClock,
    /// Live: the PTS is the demuxer's receive time (see `argv::stamps_at_demux`).
    demux_stamps: bool,
    /// The latest arrival handed out: frames leave in display order, and none can be shown
    /// before the one ahead of it (a reordered frame's packet may come first).
    last_arrival_us: i64,
    /// The first video packet's PTS on the frames' timeline (see `Received`); kept across
    /// `take_received`.
    first_packet: Option<i64>,
    /// The A/V tap and the stamps to align with it (see `tap.rs`).
    tap: Option<TapState>,
    /// Frames whose demuxer stamp was missing (their showinfo line did not come in time).
    unstamped: u64,
    seq: u64,
    /// Where frame buffers come from (and go back to, when their last holder drops them).
    pool: FramePool,
}

/// `now + d`, or None when that is past what the clock can hold (a timeout of centuries).
pub fn deadline(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}

impl Reader {
    /// Start reading `url`; returns once ffmpeg has said what frame size it will deliver.
    pub fn open(
        ffmpeg: &Path,
        input: &Input,
        opts: ReaderOptions,
        clock: WallClock,
        open_timeout: Duration,
    ) -> Result<Self, Error> {
        Self::open_until(
            ffmpeg,
            input,
            opts,
            clock,
            open_timeout,
            &AtomicBool::new(false),
        )
    }

    /// `open`, given up (`Error::Cancelled`) as soon as `cancel` is set (Ctrl-C while a source
    /// is still being opened).
    pub fn open_until(
        ffmpeg: &Path,
        input: &Input,
        opts: ReaderOptions,
        clock: WallClock,
        open_timeout: Duration,
        cancel: &AtomicBool,
    ) -> Result<Self, Error> {
        match Self::open_once(ffmpeg, input, opts, clock, open_timeout, cancel) {
            // The receiver found no audio: read the input again without one.
            Err(Error::NoAudioToReceive) => {
                let plain = ReaderOptions {
                    receiver: false,
                    ..opts
                };
                let mut reader =
                    Self::open_once(ffmpeg, input, plain, clock, open_timeout, cancel)?;
                reader.tap = Some(TapState::new(Err(NO_AUDIO.into())));
                Ok(reader)
            }
            r => r,
        }
    }

    fn open_once(
        ffmpeg: &Path,
        input: &Input,
        opts: ReaderOptions,
        clock: WallClock,
        open_timeout: Duration,
        cancel: &AtomicBool,
    ) -> Result<Self, Error> {
        let (url, protocol) = (input.url(), input.protocol());
        if protocol == super::Protocol::File {
            let path = Path::new(url.strip_prefix("file:").unwrap_or(url));
            if !path.exists() {
                return Err(Error::NoSuchFile {
                    path: path.display().to_string(),
                });
            }
        }
        let socket = fed_by_us(url, protocol)
            .then(|| super::udp::bind(url))
            .transpose()?;
        let opts = ReaderOptions {
            decryption_key: input.decryption_key(),
            ..opts
        };
        let received = through_receiver(url, protocol, opts)
            .then(|| receiver::spawn(ffmpeg, url, protocol))
            .transpose()?;
        let (tx, notes) = channel();
        let mut process = FfmpegProcess::spawn_with_hook(
            ffmpeg,
            &reader_args(url, protocol, opts),
            Some(hook(tx)),
        )?;
        let stdout = process.take_stdout().ok_or_else(|| Error::Io {
            what: format!("taking stdout of {}", process.command()),
            source: std::io::Error::other("no stdout pipe"),
        })?;
        // The A/V tap: where this reader receives the bytes and stamps arrivals.
        let demux_stamps = stamps_at_demux(url, protocol, opts);
        let (tap, feed) = match (socket, received, process.take_stdin()) {
            (Some(socket), _, Some(stdin)) => {
                let (tap, tap_stdin) = if opts.av_tap && demux_stamps {
                    match Tap::spawn(ffmpeg, url) {
                        Ok((tap, stdin)) => (Some(TapState::new(Ok(tap))), Some(stdin)),
                        Err(e) => {
                            tracing::warn!("{url}: no A/V offset: {e}");
                            (Some(TapState::new(Err(e.to_string()))), None)
                        }
                    }
                } else {
                    (None, None)
                };
                let feed = super::udp::feed(socket, stdin, tap_stdin, url).stop;
                (tap, Some(Feeder::Udp(feed)))
            }
            (None, Some(r), Some(stdin)) => {
                receiver::pass_on(r.video, stdin);
                (
                    Some(TapState::new(Ok(r.tap))),
                    Some(Feeder::Receiver(r.ender)),
                )
            }
            _ => (None, None),
        };
        let mut reader = Reader {
            url: url.to_owned(),
            stopper: Stopper {
                process: Arc::new(Mutex::new(Some(process))),
                stopped: Arc::new(AtomicBool::new(false)),
                feed,
                stopped_at_us: Arc::default(),
                clock,
            },
            stdout,
            notes,
            input: None,
            width: 0,
            height: 0,
            time_base: None,
            packet_time_base: None,
            received: Received::default(),
            pts_origin_us: 0,
            container: None,
            with_pts: opts.with_pts,
            pending: VecDeque::new(),
            changes: VecDeque::new(),
            windowed: opts.windowed().is_some(),
            graph_base: 0,
            noted_frames: 0,
            // Replays need every PTS; live arrival is already stamped, so wait less.
            note_wait: Duration::from_millis(if opts.with_pts { 5000 } else { 500 }),
            yuv420: opts.yuv420,
            clock,
            demux_stamps,
            first_packet: None,
            tap,
            last_arrival_us: i64::MIN,
            unstamped: 0,
            seq: 0,
            pool: FramePool::default(),
        };
        let deadline = deadline(open_timeout);
        while reader.width == 0 {
            if cancel.load(Ordering::SeqCst) {
                reader.stopper.kill();
                reader.stopper.stopped.store(true, Ordering::SeqCst);
                let _ = reader.finish();
                return Err(Error::Cancelled);
            }
            let left = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            match reader
                .notes
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                Ok(note) => reader.take_note(note),
                Err(RecvTimeoutError::Timeout) if !left.is_zero() => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // ffmpeg ended without producing video: its exit (or its receiver's) says
                    // why. (A `udp://` tap is only a listener: the reader's exit says why.)
                    let received = matches!(reader.stopper.feed, Some(Feeder::Receiver(_)));
                    if let Some(tap) = reader
                        .tap
                        .take_if(|_| received)
                        .and_then(TapState::into_tap)
                    {
                        match receiver::why_gone(tap) {
                            Gone::NoAudio => {
                                let _ = reader.finish();
                                return Err(Error::NoAudioToReceive);
                            }
                            Gone::Failed(e) => {
                                let _ = reader.finish();
                                return Err(e);
                            }
                            Gone::Fine => {}
                        }
                    }
                    reader.finish()?;
                    return Err(Error::NoVideo {
                        url: url.to_owned(),
                    });
                }
                Err(RecvTimeoutError::Timeout) => {
                    reader.stopper.kill();
                    reader.stopper.stopped.store(true, Ordering::SeqCst);
                    let _ = reader.finish();
                    return Err(Error::OpenTimeout {
                        url: url.to_owned(),
                        secs: open_timeout.as_secs(),
                    });
                }
            }
        }
        Ok(reader)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn input(&self) -> Option<&InputInfo> {
        self.input.as_ref()
    }

    pub fn frame_size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// Fill frames from `pool`: the caller's stream recycles them across reconnects.
    pub fn use_pool(&mut self, pool: FramePool) {
        self.pool = pool;
    }

    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// The next frame, or None at the end of the stream (or after `Stopper::stop`).
    pub fn next_frame(&mut self) -> Result<Option<RawFrame>, Error> {
        loop {
            let Some(frame) = self.read_frame()? else {
                return Ok(None);
            };
            // After a stop, a fed input hands over what ffmpeg still held. A frame whose
            // packet the demuxer only completed at that end of input (a TS without PES
            // lengths waits for the next PES) has the end's time, not an arrival: not kept.
            let stopped_at = self.stopper.stopped_at_us.load(Ordering::SeqCst);
            if self.stopper.feed.is_some() && stopped_at != 0 && frame.arrival_us >= stopped_at {
                continue;
            }
            return Ok(Some(frame));
        }
    }

    fn read_frame(&mut self) -> Result<Option<RawFrame>, Error> {
        let len = self.width * self.height;
        let mut luma = self.pool.take(if self.yuv420 { len * 3 / 2 } else { len });
        let mut filled = 0;
        while filled < luma.len() {
            match self.stdout.read(&mut luma[filled..]) {
                Ok(0) => return Ok(None),
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(Error::Io {
                        what: format!("reading frames of {}", self.url),
                        source,
                    });
                }
            }
        }
        // Taken once, here, before anything else looks at the frame.
        let piped_us = self.clock.now_us();
        let seq = self.seq;
        self.seq += 1;
        let (mut pts_us, source_size) = self.note_of(seq);
        let moved = if self.windowed {
            self.change_of(seq)
        } else {
            None
        };
        let arrival_us = if self.demux_stamps {
            if let (Some(tap), Some(stamp)) = (&mut self.tap, pts_us) {
                tap.note_frame(seq, stamp);
            }
            let demuxed = pts_us.take().map(|p| self.on_own_clock(p));
            if demuxed.is_none() {
                self.unstamped += 1;
                if self.unstamped.is_power_of_two() {
                    tracing::debug!(
                        "{}: {} frames without a demuxer stamp; stamped as read",
                        self.url,
                        self.unstamped
                    );
                }
            }
            live_arrival(demuxed, piped_us, self.last_arrival_us)
        } else {
            piped_us
        };
        self.last_arrival_us = arrival_us;
        Ok(Some(RawFrame {
            seq,
            arrival_us,
            pts_us,
            source_size,
            moved,
            width: self.width,
            height: self.height,
            data: luma,
        }))
    }

    /// A time ffmpeg took from the system clock (µs UTC) on this reader's monotonic clock, so
    /// an NTP step or slew during the run does not show up as latency.
    fn on_own_clock(&self, system_us: i64) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        system_us + (self.clock.now_us() - now)
    }

    /// The A/V material of this reader (None without a tap), its frames numbered from
    /// `seq_base`: ends the input (the tap hears it whole) and waits for the tap.
    pub fn take_av(&mut self, seq_base: u64) -> Option<LiveAv> {
        let tap = self.tap.take()?;
        if let Some(feed) = &self.stopper.feed {
            feed.end();
        }
        while let Ok(note) = self.notes.try_recv() {
            self.take_note(note);
        }
        Some(tap.finish(seq_base))
    }

    /// Wait for ffmpeg to exit. A reader stopped on purpose is not an error.
    pub fn finish(self) -> Result<(), Error> {
        drop(self.stdout);
        let process = self.stopper.process.lock().ok().and_then(|mut p| p.take());
        let Some(process) = process else {
            return Ok(());
        };
        match process.finish() {
            Err(_) if self.stopper.stopped.load(Ordering::SeqCst) => Ok(()),
            Err(e) => Err(Error::Generator(e.context("reading the stream"))),
            Ok(()) => Ok(()),
        }
    }
}

/// A live frame's arrival: the demuxer's stamp when there is one, never later than the moment
/// the frame was read from ffmpeg, and never before the previous frame's (display order).
fn live_arrival(demuxed: Option<i64>, piped_us: i64, previous_us: i64) -> i64 {
    demuxed
        .map_or(piped_us, |d| d.min(piped_us))
        .max(previous_us)
}

#[cfg(test)]
mod tests {
    use super::live_arrival;

    #[test]
    fn a_live_arrival_is_the_demuxer_stamp_within_its_bounds() {
        // Demuxed 40 ms before it was read: the demuxer's time.
        assert_eq!(live_arrival(Some(1_000), 41_000, 0), 1_000);
        // No stamp: the time it was read.
        assert_eq!(live_arrival(None, 41_000, 0), 41_000);
        // A stamp after the read (clocks disagree): the read.
        assert_eq!(live_arrival(Some(50_000), 41_000, 0), 41_000);
        // A reordered frame whose packet came before its predecessor's: shown after it.
        assert_eq!(live_arrival(Some(1_000), 41_000, 5_000), 5_000);
    }
}
