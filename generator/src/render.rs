//! The file pipeline: ffmpeg decodes content to raw yuv420p → the compositor stamps each frame's
//! timecode → ffmpeg encodes. `FrameSource` and `FrameSink` are the reusable ends.

use std::io::{ErrorKind, Read, Write};
use std::path::Path;
use std::process::{ChildStdin, ChildStdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Error;
use crate::argv::{self, Content, EncodeSpec};
use crate::overlay::{Compositor, Placement};
use crate::process::FfmpegProcess;
use crate::schedule::Schedule;
use signal::Timecode;

/// Raw frames read, exact frame size at a time, from an ffmpeg writing rawvideo to stdout.
pub struct FrameSource {
    process: FfmpegProcess,
    stdout: ChildStdout,
    frame_len: usize,
}

impl FrameSource {
    pub fn spawn(ffmpeg: &Path, argv: &[String], frame_len: usize) -> Result<Self, Error> {
        let mut process = FfmpegProcess::spawn(ffmpeg, argv)?;
        let stdout = process.take_stdout().ok_or_else(|| Error::Io {
            what: format!("taking stdout of {}", process.command()),
            source: std::io::Error::other("no stdout pipe"),
        })?;
        Ok(Self {
            process,
            stdout,
            frame_len,
        })
    }

    /// Fill `buf` with the next frame; `Ok(false)` at a clean end of stream.
    pub fn read_frame(&mut self, buf: &mut [u8]) -> Result<bool, Error> {
        debug_assert_eq!(buf.len(), self.frame_len);
        let mut filled = 0;
        while filled < buf.len() {
            match self.stdout.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(Error::Io {
                        what: format!("reading frames from {}", self.process.command()),
                        source,
                    });
                }
            }
        }
        if filled == buf.len() {
            Ok(true)
        } else if filled == 0 {
            Ok(false)
        } else {
            Err(Error::Io {
                what: format!("reading frames from {}", self.process.command()),
                source: std::io::Error::new(
                    ErrorKind::UnexpectedEof,
                    format!("partial frame of {filled} bytes"),
                ),
            })
        }
    }

    /// Wait for the decoder after its last frame (reports a failed decode).
    pub fn finish(self) -> Result<(), Error> {
        drop(self.stdout);
        self.process.finish()
    }

    /// Stop the decoder early (the consumer has what it needs).
    pub fn stop(self) {
        drop(self.stdout);
        let _ = self.process.kill_with("stopped");
    }
}

/// A `FrameSource` read on its own thread, up to `depth` frames ahead, so decoding and
/// reading the pipe overlap the consumer's work. Buffers are recycled.
pub struct ReadAhead {
    full: Option<Receiver<Result<Vec<u8>, Error>>>,
    empty: Option<Sender<Vec<u8>>>,
    thread: Option<JoinHandle<FrameSource>>,
}

impl ReadAhead {
    /// Read at most `frames` frames of `frame_len` bytes from `source`.
    pub fn start(mut source: FrameSource, frames: u64, frame_len: usize, depth: usize) -> Self {
        let (full_tx, full_rx) = sync_channel(depth);
        let (empty_tx, empty_rx) = channel();
        for _ in 0..=depth {
            let _ = empty_tx.send(vec![0u8; frame_len]);
        }
        let thread = std::thread::Builder::new()
            .name("frame-source".into())
            .spawn(move || {
                for _ in 0..frames {
                    let Ok(mut buf) = empty_rx.recv() else { break };
                    let item = match source.read_frame(&mut buf) {
                        Ok(true) => Ok(buf),
                        Ok(false) => break,
                        Err(e) => Err(e),
                    };
                    let failed = item.is_err();
                    if full_tx.send(item).is_err() || failed {
                        break;
                    }
                }
                source
            })
            .expect("spawning a thread");
        Self {
            full: Some(full_rx),
            empty: Some(empty_tx),
            thread: Some(thread),
        }
    }

    /// The next frame; None at the end of the source.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, Error> {
        match self.full.as_ref().map(Receiver::recv) {
            Some(Ok(item)) => item.map(Some),
            _ => Ok(None),
        }
    }

    /// Hand a buffer back for the next read.
    pub fn recycle(&self, buf: Vec<u8>) {
        if let Some(tx) = &self.empty {
            let _ = tx.send(buf);
        }
    }

    fn join(&mut self) -> Option<FrameSource> {
        // Closing both channels unblocks the reader wherever it waits.
        self.full.take();
        self.empty.take();
        self.thread.take().and_then(|t| t.join().ok())
    }

    /// Wait for the decoder after its last frame (reports a failed decode).
    pub fn finish(mut self) -> Result<(), Error> {
        self.join().map_or(Ok(()), FrameSource::finish)
    }

    /// The source gave out after `got` of `expected` frames: stop the encoder and say why —
    /// the decoder's own failure if it failed, else that the content was too short.
    pub fn ended_early(
        self,
        sink: FrameSink,
        read_error: Option<Error>,
        got: u64,
        expected: u64,
    ) -> Error {
        drop(sink);
        if let Err(e) = self.finish() {
            return e.context("decoding the content");
        }
        read_error.unwrap_or(Error::ShortContent { got, expected })
    }

    /// Stop the decoder early.
    pub fn stop(mut self) {
        if let Some(s) = self.join() {
            s.stop();
        }
    }
}

/// Raw frames written into an ffmpeg reading rawvideo from stdin.
pub struct FrameSink {
    process: FfmpegProcess,
    stdin: ChildStdin,
}

impl FrameSink {
    pub fn spawn(ffmpeg: &Path, argv: &[String]) -> Result<Self, Error> {
        Self::spawn_with_hook(ffmpeg, argv, None)
    }

    /// `spawn`, passing every stderr event of the encoder to `hook`.
    pub fn spawn_with_hook(
        ffmpeg: &Path,
        argv: &[String],
        hook: Option<crate::process::EventHook>,
    ) -> Result<Self, Error> {
        let mut process = FfmpegProcess::spawn_with_hook(ffmpeg, argv, hook)?;
        let stdin = process.take_stdin().ok_or_else(|| Error::Io {
            what: format!("taking stdin of {}", process.command()),
            source: std::io::Error::other("no stdin pipe"),
        })?;
        Ok(Self { process, stdin })
    }

    /// Hand one frame to the encoder. If the encoder has died, its own error is returned.
    pub fn write_frame(&mut self, frame: &[u8]) -> Result<(), Error> {
        self.stdin.write_all(frame).map_err(|source| Error::Io {
            what: format!("writing frames to {}", self.process.command()),
            source,
        })
    }

    /// Stop the encoder now, with its command and stderr tail to say why.
    pub fn kill_with(self, why: &str) -> crate::process::FfmpegFailure {
        drop(self.stdin);
        self.process.kill_with(why)
    }

    /// Close stdin so the encoder flushes and finalises its outputs, then wait for it.
    pub fn finish(self) -> Result<(), Error> {
        drop(self.stdin);
        self.process.finish()
    }
}

/// Everything `render_file` needs.
#[derive(Debug, Clone)]
pub struct RenderSpec {
    pub content: Content,
    pub stream_id: u8,
    /// Capture time of frame 0, µs since the Unix epoch.
    pub start_us: u64,
    pub placement: Placement,
    pub encode: EncodeSpec,
    /// Also write an HLS rendition into this folder.
    pub hls_dir: Option<String>,
}

/// What a render did.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOutcome {
    pub frames_written: u64,
    /// Stopped by the cancel flag; the MP4 is complete and holds `frames_written` frames.
    pub interrupted: bool,
    /// Time spent stamping timecodes (the generator's own per-frame work).
    pub composite_time: Duration,
    pub elapsed: Duration,
}

/// Render a timecoded file. `progress` gets the number of frames written so far; setting
/// `cancel` stops after the current frame and still finalises a playable MP4.
pub fn render_file(
    ffmpeg: &Path,
    spec: &RenderSpec,
    progress: &mut dyn FnMut(u64),
    cancel: &AtomicBool,
) -> Result<RenderOutcome, Error> {
    let started = Instant::now();
    let enc = &spec.encode;
    let mut compositor = Compositor::new(enc.size, &spec.placement)?;
    let schedule = Schedule::new(spec.start_us, enc.rate);
    // Validate the last timecode up front rather than failing mid-file.
    Timecode {
        stream_id: spec.stream_id,
        frame: enc.frames.saturating_sub(1),
        capture_us: schedule.capture_us(enc.frames.saturating_sub(1)),
    }
    .validate()?;

    let frame_len = enc.size.frame_len();
    let source = FrameSource::spawn(
        ffmpeg,
        &argv::decode_args(&spec.content, enc.size, enc.rate, enc.frames),
        frame_len,
    )?;
    let mut sink = FrameSink::spawn(ffmpeg, &argv::encode_args(enc))?;
    let mut frames = ReadAhead::start(source, enc.frames, frame_len, 3);

    let mut composite_time = Duration::ZERO;
    let mut written = 0u64;
    let mut interrupted = false;
    while written < enc.frames {
        if cancel.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        let mut buf = match frames.next_frame() {
            Ok(Some(buf)) => buf,
            // The decoder ended early or failed: its own error explains why, if it failed.
            ended => return Err(frames.ended_early(sink, ended.err(), written, enc.frames)),
        };
        let tc = Timecode {
            stream_id: spec.stream_id,
            frame: written,
            capture_us: schedule.capture_us(written),
        };
        let t = Instant::now();
        compositor.stamp(&mut buf, &tc)?;
        composite_time += t.elapsed();
        if let Err(e) = sink.write_frame(&buf) {
            frames.stop();
            // A broken pipe means the encoder died: its exit status and stderr say why.
            sink.finish().map_err(|e| e.context("encoding"))?;
            return Err(e);
        }
        frames.recycle(buf);
        written += 1;
        progress(written);
    }
    if interrupted {
        frames.stop();
    } else {
        frames
            .finish()
            .map_err(|e| e.context("decoding the content"))?;
    }
    sink.finish().map_err(|e| e.context("encoding"))?;

    if let (Some(dir), false) = (&spec.hls_dir, interrupted) {
        let hls = argv::hls_args(&enc.out, dir, enc.rate, enc.gop_frames);
        FfmpegProcess::spawn(ffmpeg, &hls)?
            .finish()
            .map_err(|e| e.context("writing the HLS rendition"))?;
    }
    Ok(RenderOutcome {
        frames_written: written,
        interrupted,
        composite_time,
        elapsed: started.elapsed(),
    })
}
