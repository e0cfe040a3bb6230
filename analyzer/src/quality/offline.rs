//! Offline scoring of a distorted stream against its reference: each distorted frame is paired
//! with the reference frame that carries the same embedded frame number (by index when the
//! inputs carry no timecodes), the distorted is scaled to the reference size in ffmpeg.

use std::path::PathBuf;
use std::time::Duration;

use generator::Timecode;

use super::{FrameScores, ReferenceWindow, Scorer, Yuv420};
use crate::Error;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use crate::ingest::{FrameBuf, Input, RawFrame, Reader, ReaderOptions, Stopper, WallClock};
use crate::qr::{GrayFrame, QrTracker};

#[derive(Debug, Clone)]
pub struct OfflineConfig {
    pub ffmpeg: PathBuf,
    pub reference: Input,
    pub distorted: Input,
    pub model: String,
    pub threads: u32,
    pub subsample: u32,
    /// How much reference video is kept for pairing (bounds memory); converted to frames at the
    /// reference's frame rate (30 fps when unknown).
    pub window: Duration,
    pub open_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pairing {
    /// By the frame number each frame carries (robust to drops and duplicates).
    FrameNumber,
    /// By position, because the inputs carry no readable timecodes.
    Index,
}

/// One distorted frame, in delivery order: its timecode and its scores.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredFrame {
    pub timecode: Option<Timecode>,
    pub pts_us: Option<i64>,
    pub scores: Option<FrameScores>,
    /// Why the frame was not scored.
    pub unscored: Option<&'static str>,
    /// Did the picture move since the previous distorted frame?
    pub picture_changed: bool,
}

#[derive(Debug)]
pub struct OfflineResult {
    pub pairing: Pairing,
    pub model: String,
    /// The reference size the distorted frames were scaled to, when the sizes differed.
    pub scaled_to: Option<(u32, u32)>,
    pub frames: Vec<ScoredFrame>,
}

fn timecode(tracker: &mut QrTracker, f: &RawFrame) -> Option<Timecode> {
    let luma = &f.data[..f.width * f.height];
    tracker
        .decode(GrayFrame::new(f.width, f.height, luma)?)
        .ok()
}

type Item = Result<(RawFrame, Option<Timecode>), Error>;

/// One input read, and its codes decoded, on a thread of its own a few frames ahead, so that
/// ffmpeg's decoding overlaps libvmaf's scoring.
pub(super) struct Feed {
    /// Frames read by `finds_code` and not yet taken.
    ahead: std::collections::VecDeque<(RawFrame, Option<Timecode>)>,
    rx: Option<Receiver<Item>>,
    stopper: Stopper,
    thread: Option<JoinHandle<()>>,
}

impl Feed {
    pub(super) fn start(mut reader: Reader) -> Self {
        let stopper = reader.stopper();
        let (tx, rx) = sync_channel::<Item>(4);
        let thread = std::thread::Builder::new()
            .name("vmaf-feed".into())
            .spawn(move || {
                let mut tracker = QrTracker::new(true);
                loop {
                    match reader.next_frame() {
                        Ok(Some(f)) => {
                            let tc = timecode(&mut tracker, &f);
                            if tx.send(Ok((f, tc))).is_err() {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            break;
                        }
                    }
                }
                if let Err(e) = reader.finish() {
                    let _ = tx.send(Err(e));
                }
            })
            .expect("spawning a thread");
        Self {
            ahead: std::collections::VecDeque::new(),
            rx: Some(rx),
            stopper,
            thread: Some(thread),
        }
    }

    pub(super) fn next(&mut self) -> Result<Option<(RawFrame, Option<Timecode>)>, Error> {
        if let Some(f) = self.ahead.pop_front() {
            return Ok(Some(f));
        }
        self.receive()
    }

    fn receive(&mut self) -> Result<Option<(RawFrame, Option<Timecode>)>, Error> {
        match self.rx.as_ref().map(Receiver::recv) {
            Some(Ok(item)) => item.map(Some),
            _ => Ok(None),
        }
    }
}

impl Feed {
    /// Whether one of the first `frames` frames carries a code (read ahead and kept for
    /// `next`): a first frame whose code is unreadable does not make a run pair by position.
    pub(super) fn finds_code(&mut self, frames: usize) -> Result<bool, Error> {
        if self.ahead.iter().any(|(_, tc)| tc.is_some()) {
            return Ok(true);
        }
        while self.ahead.len() < frames {
            match self.receive()? {
                Some(f) => {
                    let found = f.1.is_some();
                    self.ahead.push_back(f);
                    if found {
                        return Ok(true);
                    }
                }
                None => break,
            }
        }
        Ok(false)
    }
}

/// Frames looked at for a code before an input is taken as one without timecodes.
const CODE_LOOKAHEAD: usize = 30;

/// Dropping a feed stops reading (ffmpeg is killed) and waits for its thread, on every path.
impl Drop for Feed {
    fn drop(&mut self) {
        self.stopper.stop();
        self.rx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A reference read ahead into a window keyed by the frame number each frame carries (or by
/// position), as far as a wanted key: the pairing both offline and live scoring rely on.
pub(super) struct ReferenceFeed<T> {
    feed: Feed,
    window: ReferenceWindow<T>,
    pairing: Pairing,
    done: bool,
}

impl<T> ReferenceFeed<T> {
    pub(super) fn new(feed: Feed, capacity: usize, pairing: Pairing) -> Self {
        Self {
            feed,
            window: ReferenceWindow::new(capacity),
            pairing,
            done: false,
        }
    }

    /// The reference frame keyed `wanted`, reading on until the window holds it or has passed
    /// it (or the reference ended). The first copy of a repeated key is kept.
    pub(super) fn get(
        &mut self,
        wanted: u64,
        keep: impl Fn(FrameBuf) -> T,
    ) -> Result<Option<&T>, Error> {
        while !self.done && self.window.newest().is_none_or(|n| n < wanted) {
            let next = self.feed.next()?;
            let Some((r, tc)) = next else {
                self.done = true;
                break;
            };
            let key = match self.pairing {
                Pairing::FrameNumber => tc.map(|t| t.frame),
                Pairing::Index => Some(r.seq),
            };
            if let Some(k) = key.filter(|&k| self.window.get(k).is_none()) {
                self.window.insert(k, keep(r.data));
            }
        }
        Ok(self.window.get(wanted))
    }
}

/// Score `config.distorted` against `config.reference`.
pub fn score(config: &OfflineConfig) -> Result<OfflineResult, Error> {
    let clock = WallClock::start();
    let yuv = ReaderOptions {
        with_pts: true,
        yuv420: true,
        ..ReaderOptions::default()
    };
    let reference = Reader::open(
        &config.ffmpeg,
        &config.reference,
        yuv,
        clock,
        config.open_timeout,
    )?;
    let (rw, rh) = reference.frame_size();
    let scale = ReaderOptions {
        scale_to: Some((rw as u32, rh as u32)),
        ..yuv
    };
    let distorted = Reader::open(
        &config.ffmpeg,
        &config.distorted,
        scale,
        clock,
        config.open_timeout,
    )?;
    let reference_fps = reference.input().map_or(0.0, |i| f64::from(i.fps));
    let mut scorer =
        Scorer::new(&config.model, config.threads, config.subsample).map_err(Error::Vmaf)?;
    let (mut reference, mut distorted) = (Feed::start(reference), Feed::start(distorted));

    // Pair by frame number if both inputs carry timecodes within their first frames.
    let pairing =
        if reference.finds_code(CODE_LOOKAHEAD)? && distorted.finds_code(CODE_LOOKAHEAD)? {
            Pairing::FrameNumber
        } else {
            Pairing::Index
        };
    let mut next_dist = distorted.next()?;
    let fps = if reference_fps > 0.0 {
        reference_fps
    } else {
        30.0
    };
    let capacity = (config.window.as_secs_f64() * fps).ceil() as usize;
    let mut reference = ReferenceFeed::new(reference, capacity, pairing);
    let mut frames = Vec::new();
    let mut index_key = 0u64;
    let mut scaled = false;
    let mut previous: Option<Vec<u8>> = None;
    while let Some((d, tc)) = next_dist.take() {
        scaled |= d
            .source_size
            .is_some_and(|size| size != (rw as u32, rh as u32));
        let wanted = match pairing {
            Pairing::FrameNumber => tc.map(|t| t.frame),
            Pairing::Index => Some(index_key),
        };
        index_key += 1;
        let held = match wanted {
            Some(w) => reference.get(w, |data| data)?,
            None => None,
        };
        let luma = &d.data[..d.width * d.height];
        let mut row = ScoredFrame {
            timecode: tc,
            pts_us: d.pts_us,
            scores: None,
            unscored: None,
            picture_changed: crate::qr::picture_changed(previous.as_deref(), luma, d.width),
        };
        previous = Some(luma.to_vec());
        match held {
            Some(h) => {
                let r = Yuv420 {
                    width: rw,
                    height: rh,
                    data: h,
                };
                let dist = Yuv420 {
                    width: d.width,
                    height: d.height,
                    data: &d.data,
                };
                scorer
                    .push(frames.len() as u64, &r, &dist)
                    .map_err(Error::Vmaf)?;
            }
            None if wanted.is_none() => row.unscored = Some("unreadable"),
            None => row.unscored = Some("no_reference_frame"),
        }
        frames.push(row);
        next_dist = distorted.next()?;
    }
    drop((reference, distorted));
    for (key, scores) in scorer.finish().map_err(Error::Vmaf)? {
        frames[key as usize].scores = Some(scores);
    }
    for f in frames
        .iter_mut()
        .filter(|f| f.scores.is_none() && f.unscored.is_none())
    {
        // Paired, but libvmaf's subsampling (--vmaf-subsample) did not score it.
        f.unscored = Some("subsampled");
    }
    Ok(OfflineResult {
        pairing,
        model: config.model.clone(),
        scaled_to: scaled.then_some((rw as u32, rh as u32)),
        frames,
    })
}
