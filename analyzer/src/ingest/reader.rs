//! One ffmpeg reader per stream: frames taken off stdout at their exact size and timestamped
//! the moment they arrive (before any analysis); stream info and PTS from ffmpeg's log.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::process::ChildStdout;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use generator::clock::WallClock;

use ffmpeg_sidecar::event::FfmpegEvent;
use generator::process::FfmpegProcess;

use super::argv::{Protocol, ReaderOptions, ShowInfo, parse_showinfo, pts_to_us, reader_args};
use crate::Error;

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
    /// Realtime arrival, µs UTC, taken as the last byte of the frame left ffmpeg.
    pub arrival_us: i64,
    /// Frame PTS in µs (the stream's own with `ReaderOptions::with_pts`, else shifted by
    /// ffmpeg to start near 0).
    pub pts_us: Option<i64>,
    /// The frame's size as decoded, before ffmpeg scales it to the stream's first size.
    pub source_size: Option<(u32, u32)>,
    pub width: usize,
    pub height: usize,
    /// The luma plane (width × height bytes), followed by U and V for yuv420p frames.
    pub data: Vec<u8>,
}

enum Note {
    Input(InputInfo),
    Output { width: usize, height: usize },
    Show(ShowInfo),
}

fn hook(tx: Sender<Note>) -> generator::process::EventHook {
    Box::new(move |event| {
        let note = match event {
            FfmpegEvent::ParsedInputStream(s) => s.video_data().map(|v| {
                Note::Input(InputInfo {
                    codec: s.format.clone(),
                    width: v.width,
                    height: v.height,
                    fps: v.fps,
                    bitrate_kbps: super::argv::parse_kbps(&s.raw_log_message),
                })
            }),
            FfmpegEvent::ParsedOutputStream(s) => s.video_data().map(|v| Note::Output {
                width: v.width as usize,
                height: v.height as usize,
            }),
            FfmpegEvent::Log(_, line) => parse_showinfo(line).map(Note::Show),
            _ => None,
        };
        if let Some(n) = note {
            let _ = tx.send(n);
        }
    })
}

/// Stops a reader from another thread (deadline, Ctrl-C): kills its ffmpeg, which ends the
/// reader's stream cleanly.
#[derive(Clone)]
pub struct Stopper {
    process: Arc<Mutex<Option<FfmpegProcess>>>,
    stopped: Arc<AtomicBool>,
}

impl Stopper {
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        if let Ok(mut p) = self.process.lock()
            && let Some(p) = p.as_mut()
        {
            p.kill();
        }
    }
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
    /// Frames described by showinfo: (index in the stream, PTS µs, size).
    pending: VecDeque<(u64, Option<i64>, (u32, u32))>,
    /// showinfo's frame numbers restart when ffmpeg rebuilds the filter graph: the index of
    /// its frame 0 in the stream.
    graph_base: u64,
    noted_frames: u64,
    /// How long to wait for a frame's showinfo line.
    note_wait: Duration,
    yuv420: bool,
    clock: WallClock,
    seq: u64,
}

impl Reader {
    /// Start reading `url`; returns once ffmpeg has said what frame size it will deliver.
    pub fn open(
        ffmpeg: &Path,
        url: &str,
        opts: ReaderOptions,
        clock: WallClock,
        open_timeout: Duration,
    ) -> Result<Self, Error> {
        let protocol = Protocol::of(url).ok_or_else(|| Error::UnsupportedUrl(url.to_owned()))?;
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
        let mut reader = Reader {
            url: url.to_owned(),
            stopper: Stopper {
                process: Arc::new(Mutex::new(Some(process))),
                stopped: Arc::new(AtomicBool::new(false)),
            },
            stdout,
            notes,
            input: None,
            width: 0,
            height: 0,
            time_base: None,
            pending: VecDeque::new(),
            graph_base: 0,
            noted_frames: 0,
            // Replays need every PTS; live arrival is already stamped, so wait less.
            note_wait: Duration::from_millis(if opts.with_pts { 5000 } else { 500 }),
            yuv420: opts.yuv420,
            clock,
            seq: 0,
        };
        let deadline = Instant::now() + open_timeout;
        while reader.width == 0 {
            let wait = deadline.saturating_duration_since(Instant::now());
            match reader.notes.recv_timeout(wait) {
                Ok(note) => reader.take_note(note),
                Err(RecvTimeoutError::Disconnected) => {
                    // ffmpeg ended without producing video: its exit says why.
                    reader.finish()?;
                    return Err(Error::NoVideo {
                        url: url.to_owned(),
                    });
                }
                Err(RecvTimeoutError::Timeout) => {
                    reader.stopper.stop();
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

    fn take_note(&mut self, note: Note) {
        match note {
            Note::Input(info) => {
                if self.input.is_none() {
                    self.input = Some(info);
                }
            }
            Note::Output { width, height } => {
                self.width = width;
                self.height = height;
            }
            Note::Show(ShowInfo::TimeBase { num, den }) => {
                self.time_base = Some((num, den));
                self.graph_base = self.noted_frames;
            }
            Note::Show(ShowInfo::Frame {
                n,
                pts,
                width,
                height,
            }) => {
                let us = self
                    .time_base
                    .and_then(|(num, den)| pts_to_us(pts, num, den));
                self.pending
                    .push_back((self.graph_base + n, us, (width, height)));
                self.noted_frames = self.graph_base + n + 1;
            }
        }
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

    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// The next frame, or None at the end of the stream (or after `Stopper::stop`).
    pub fn next_frame(&mut self) -> Result<Option<RawFrame>, Error> {
        let len = self.width * self.height;
        let mut luma = vec![0u8; if self.yuv420 { len * 3 / 2 } else { len }];
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
        // The arrival time: taken once, here, before anything else looks at the frame.
        let arrival_us = self.clock.now_us();
        let seq = self.seq;
        self.seq += 1;
        let (pts_us, source_size) = self.note_of(seq);
        Ok(Some(RawFrame {
            seq,
            arrival_us,
            pts_us,
            source_size,
            width: self.width,
            height: self.height,
            data: luma,
        }))
    }

    /// PTS and decoded size of frame `seq` from the showinfo lines (logged before the frame
    /// is written).
    fn note_of(&mut self, seq: u64) -> (Option<i64>, Option<(u32, u32)>) {
        let deadline = Instant::now() + self.note_wait;
        loop {
            while let Some(&(index, us, size)) = self.pending.front() {
                if index < seq {
                    self.pending.pop_front();
                } else {
                    return if index == seq {
                        (us, Some(size))
                    } else {
                        (None, None)
                    };
                }
            }
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.notes.recv_timeout(wait) {
                Ok(note) => self.take_note(note),
                Err(_) => return (None, None),
            }
        }
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
