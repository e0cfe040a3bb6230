//! Live scoring during `analyze --vmaf`: per live stream a scoring thread behind a small
//! bounded queue, adaptive subsampling so arrivals are never delayed, and reference frames
//! from the control (a window shared with its decoder) or read on demand from a file.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use generator::Timecode;
use metrics::Periods;

use report::summary::Unscored;
use serde::{Deserialize, Serialize};

use super::board::{ScoreBoard, Why};
use super::offline::{Feed, Pairing, ReferenceFeed};
use super::reference::RefFeed;
pub use super::reference::SharedReference;
pub use super::subsample::Subsampler;
use super::{FrameScores, LatestScores, Scorer, VmafError, Yuv420};
use crate::Error;
use crate::ingest::{FrameBuf, Input, Reader, ReaderOptions, WallClock};

pub use super::subsample::QUEUE_FRAMES;
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReferenceSource {
    /// The control stream of the run.
    Control,
    /// A file (or URL) read on demand, e.g. the clip the publisher sends.
    File(Input),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveVmafConfig {
    pub model: String,
    /// libvmaf threads of each live stream's scorer.
    pub threads: u32,
    pub subsample: u32,
    /// Reference video kept for pairing, converted to frames at the reference's frame rate.
    #[serde(with = "crate::session::humantime_dur")]
    pub window: Duration,
    pub reference: ReferenceSource,
    /// Score every frame: the queue blocks instead of skipping and the control waits for the
    /// scorers (replays with `--clock pts`, where nothing is live).
    pub exhaustive: bool,
}

#[derive(Debug, Default)]
struct Counters {
    subsampled: AtomicU64,
    busy: AtomicU64,
    unreadable: AtomicU64,
    no_reference_frame: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> Unscored {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Unscored {
            subsampled: get(&self.subsampled),
            busy: get(&self.busy),
            unreadable: get(&self.unreadable),
            no_reference_frame: get(&self.no_reference_frame),
        }
    }
}

/// Quality results of one live stream.
#[derive(Debug, Default)]
pub struct StreamQuality {
    /// Scores by the frame's reader sequence number (`FrameArrival::seq`).
    pub scores: HashMap<u64, FrameScores>,
    pub unscored: Unscored,
    pub error: Option<VmafError>,
}

struct Job {
    seq: u64,
    frame: u64,
    arrival_us: i64,
    /// The decoder's frame itself, shared (no copy per scored frame).
    data: Arc<FrameBuf>,
}

/// How a rotated run's scorers hand over their scores (see `board`).
#[derive(Debug, Clone)]
pub struct Rotation {
    pub periods: Periods,
    pub board: Arc<ScoreBoard>,
}

/// A scorer with nothing to score for this long hands over what it has.
const IDLE_HANDOVER: Duration = Duration::from_secs(1);

/// The decoder side of one live stream's scorer.
pub struct LiveFeeder {
    tx: SyncSender<Job>,
    backlog: Arc<AtomicUsize>,
    subsampler: Subsampler,
    exhaustive: bool,
    counters: Arc<Counters>,
    /// Rotated: where unscored frames are noted by sequence number.
    board: Option<(Arc<ScoreBoard>, usize)>,
}

impl LiveFeeder {
    fn unscored(&self, seq: u64, counter: &AtomicU64, why: Why) {
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some((b, stream)) = &self.board {
            b.note(*stream, seq, why);
        }
    }

    /// Offer a decoded frame (whole yuv420p, at the reference size). Copies it only when it
    /// is queued; never blocks unless the run is exhaustive.
    pub fn offer(
        &mut self,
        seq: u64,
        timecode: Option<Timecode>,
        arrival_us: i64,
        data: &Arc<FrameBuf>,
    ) {
        let Some(tc) = timecode else {
            self.unscored(seq, &self.counters.unreadable, Why::Unreadable);
            return;
        };
        let job = |data: &Arc<FrameBuf>| Job {
            seq,
            frame: tc.frame,
            arrival_us,
            data: data.clone(),
        };
        if self.exhaustive {
            self.backlog.fetch_add(1, Ordering::SeqCst);
            let _ = self.tx.send(job(data));
            return;
        }
        if !self.subsampler.due() {
            self.unscored(seq, &self.counters.subsampled, Why::Subsampled);
            return;
        }
        let accepted = self.backlog.load(Ordering::SeqCst) < QUEUE_FRAMES && {
            self.backlog.fetch_add(1, Ordering::SeqCst);
            match self.tx.try_send(job(data)) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    self.backlog.fetch_sub(1, Ordering::SeqCst);
                    false
                }
            }
        };
        if !accepted {
            self.unscored(seq, &self.counters.busy, Why::Busy);
        }
        self.subsampler
            .feedback(accepted, self.backlog.load(Ordering::SeqCst));
    }
}

/// A scorer's scores (and how many pairs it was given), and any error of its reference feed.
type Outcome = (
    Result<(Vec<(u64, FrameScores)>, u64), VmafError>,
    Option<Error>,
);

/// The scorers of a run.
pub struct LiveScoring {
    /// The reference's (and therefore every scored frame's) size.
    pub size: (usize, usize),
    /// Shared with the control's decoder, when the control is the reference.
    pub shared: Option<Arc<SharedReference>>,
    workers: Vec<(usize, Arc<Counters>, JoinHandle<Outcome>)>,
}

/// Where to get the reference and at what size: opened before the live readers start, so
/// they can scale to it.
pub struct ReferenceInfo {
    pub size: (usize, usize),
    pub fps: f64,
}

/// Open a reference file just long enough to learn its size and frame rate.
pub fn probe_file(
    ffmpeg: &Path,
    input: &Input,
    open_timeout: Duration,
) -> Result<ReferenceInfo, Error> {
    let reader = Reader::open(
        ffmpeg,
        input,
        ReaderOptions {
            yuv420: true,
            ..ReaderOptions::default()
        },
        WallClock::start(),
        open_timeout,
    )?;
    let info = ReferenceInfo {
        size: reader.frame_size(),
        fps: reader.input().map_or(0.0, |i| f64::from(i.fps)),
    };
    reader.stopper().stop();
    let _ = reader.finish();
    Ok(info)
}

impl LiveScoring {
    /// Start one scorer per live stream (`streams` are their indices in the run); each
    /// publishes its newest score in `latest` while running and, in a rotated run, hands its
    /// scores over per period.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        config: &LiveVmafConfig,
        latest: Option<Arc<LatestScores>>,
        rotation: Option<Rotation>,
        ffmpeg: &Path,
        open_timeout: Duration,
        reference: &ReferenceInfo,
        streams: &[usize],
    ) -> Result<(Self, Vec<LiveFeeder>), Error> {
        let fps = if reference.fps > 0.0 {
            reference.fps
        } else {
            30.0
        };
        let capacity = (config.window.as_secs_f64() * fps).ceil().max(2.0) as usize;
        let window = SharedReference::new(capacity, streams.len(), config.exhaustive);
        let mut workers = Vec::new();
        let mut feeders = Vec::new();
        for (i, &stream) in streams.iter().enumerate() {
            let feed = match &config.reference {
                ReferenceSource::Control => RefFeed::Shared(window.clone(), i),
                ReferenceSource::File(input) => {
                    let opts = ReaderOptions {
                        yuv420: true,
                        ..ReaderOptions::default()
                    };
                    let reader =
                        Reader::open(ffmpeg, input, opts, WallClock::start(), open_timeout)?;
                    RefFeed::File(Box::new(ReferenceFeed::new(
                        Feed::start(reader),
                        capacity,
                        Pairing::FrameNumber,
                    )))
                }
            };
            let (tx, rx) = sync_channel(if config.exhaustive { 1 } else { QUEUE_FRAMES });
            let backlog = Arc::new(AtomicUsize::new(0));
            let counters = Arc::new(Counters::default());
            let size = reference.size;
            let (b, c) = (backlog.clone(), counters.clone());
            let latest = latest.clone().map(|l| (l, stream));
            let board = rotation.as_ref().map(|r| (r.board.clone(), stream));
            let rotation = rotation.clone().map(|r| (stream, r));
            let (model, threads, subsample) =
                (config.model.clone(), config.threads, config.subsample);
            let (ready_tx, ready) = sync_channel(1);
            // Scoring gives way to arrivals and to the publisher: the thread lowers its own
            // priority before libvmaf starts its pool, which inherits it.
            let handle = std::thread::Builder::new()
                .name(format!("vmaf-{stream}"))
                .spawn(move || {
                    crate::priority::give_way();
                    let fresh = || Scorer::new(&model, threads, subsample);
                    match fresh() {
                        Ok(scorer) => {
                            let _ = ready_tx.send(None);
                            let task = Task {
                                fresh: &fresh,
                                size,
                                rx: &rx,
                                backlog: &b,
                                counters: &c,
                                latest,
                                rotation,
                            };
                            task.run(scorer, feed)
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Some(e));
                            (Ok((Vec::new(), 0)), None)
                        }
                    }
                })
                .expect("spawning a scoring thread");
            if let Ok(Some(e)) = ready.recv() {
                let _ = handle.join();
                return Err(e.into());
            }
            workers.push((stream, counters.clone(), handle));
            feeders.push(LiveFeeder {
                tx,
                backlog,
                subsampler: Subsampler::default(),
                exhaustive: config.exhaustive,
                counters,
                board,
            });
        }
        Ok((
            Self {
                size: reference.size,
                shared: (config.reference == ReferenceSource::Control).then_some(window),
                workers,
            },
            feeders,
        ))
    }

    /// Wait for every scorer (their feeders must be dropped) and collect the results.
    pub fn finish(self) -> Vec<(usize, StreamQuality)> {
        if let Some(s) = &self.shared {
            s.end();
        }
        self.workers
            .into_iter()
            .map(|(stream, counters, handle)| {
                // A panicking scorer loses its scores, and says so.
                let (scores, feed_error) =
                    handle.join().unwrap_or((Err(VmafError::Panicked), None));
                if let Some(e) = feed_error {
                    tracing::warn!("VMAF reference: {e}");
                }
                let mut q = StreamQuality {
                    unscored: counters.snapshot(),
                    ..StreamQuality::default()
                };
                match scores {
                    Ok((s, pushed)) => {
                        // Pairs libvmaf's own subsampling (--vmaf-subsample) left unscored.
                        q.unscored.subsampled += pushed.saturating_sub(s.len() as u64);
                        q.scores = s.into_iter().collect();
                    }
                    Err(e) => q.error = Some(e),
                }
                (stream, q)
            })
            .collect()
    }
}

/// Scored pairs between two publications of the newest score (a prediction costs µs).
const LATEST_EVERY: usize = 10;

/// A scoring thread's fixed parts.
struct Task<'a> {
    /// A new libvmaf context (after a hand-over).
    fresh: &'a dyn Fn() -> Result<Scorer, VmafError>,
    size: (usize, usize),
    rx: &'a Receiver<Job>,
    backlog: &'a AtomicUsize,
    counters: &'a Counters,
    latest: Option<(Arc<LatestScores>, usize)>,
    rotation: Option<(usize, Rotation)>,
}

impl Task<'_> {
    /// Pair each queued frame with its reference, score, flush at the end (and, rotated, at
    /// each period's end).
    fn run(self, mut scorer: Scorer, mut feed: RefFeed) -> Outcome {
        let (w, h) = self.size;
        let mut feed_error = None;
        let mut failed = None;
        // Rotated: the period the context holds and the newest arrival in it.
        let mut period = None;
        let mut newest = i64::MIN;
        loop {
            let job = match (&self.rotation, failed.is_some()) {
                (Some(_), false) => match self.rx.recv_timeout(IDLE_HANDOVER) {
                    Ok(j) => j,
                    Err(RecvTimeoutError::Timeout) => {
                        if !scorer.is_empty()
                            && let Err(e) = self.hand_over(&mut scorer, newest + 1)
                        {
                            failed = Some(e);
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                _ => match self.rx.recv() {
                    Ok(j) => j,
                    Err(_) => break,
                },
            };
            self.backlog.fetch_sub(1, Ordering::SeqCst);
            if failed.is_some() {
                continue;
            }
            if let Some((_, r)) = &self.rotation {
                let k = r.periods.index(job.arrival_us);
                if period.is_some_and(|p| k > p)
                    && let Err(e) = self.hand_over(&mut scorer, job.arrival_us)
                {
                    failed = Some(e);
                    continue;
                }
                period = Some(k);
                newest = newest.max(job.arrival_us);
            }
            let reference = match feed.get(job.frame) {
                Ok(r) => r,
                Err(e) => {
                    feed_error.get_or_insert(e);
                    None
                }
            };
            let Some(reference) = reference else {
                self.counters
                    .no_reference_frame
                    .fetch_add(1, Ordering::Relaxed);
                if let Some((stream, r)) = &self.rotation {
                    r.board.note(*stream, job.seq, Why::NoReferenceFrame);
                }
                continue;
            };
            let pic = |data| Yuv420 {
                width: w,
                height: h,
                data,
            };
            if let Err(e) = scorer.push(job.seq, &pic(&reference), &pic(&job.data)) {
                failed = Some(e);
            } else if let Some((l, stream)) = &self.latest
                && scorer.len().is_multiple_of(LATEST_EVERY)
                && let Some((_, v)) = scorer.latest()
            {
                l.set(*stream, v);
            }
        }
        feed.finish();
        if let Some((stream, r)) = &self.rotation {
            // Everything goes over the board, the last context included.
            if failed.is_none()
                && let Err(e) = self.hand_over(&mut scorer, i64::MAX)
            {
                failed = Some(e);
            }
            r.board
                .finish(*stream, failed.as_ref().map(ToString::to_string));
            return (failed.map_or(Ok((Vec::new(), 0)), Err), feed_error);
        }
        let pushed = scorer.len() as u64;
        let scores = match failed {
            Some(e) => Err(e),
            None => scorer.finish().map(|s| (s, pushed)),
        };
        (scores, feed_error)
    }

    /// Flush the context and publish its scores as reaching `through_us`; go on with a new
    /// one. Pairs libvmaf's own subsampling left unscored are noted as subsampled.
    fn hand_over(&self, scorer: &mut Scorer, through_us: i64) -> Result<(), VmafError> {
        let Some((stream, r)) = &self.rotation else {
            return Ok(());
        };
        let old = std::mem::replace(scorer, (self.fresh)()?);
        let pushed = old.keys().to_vec();
        let scores = old.finish()?;
        if scores.len() < pushed.len() {
            let scored: std::collections::HashSet<u64> = scores.iter().map(|(k, _)| *k).collect();
            for k in pushed.into_iter().filter(|k| !scored.contains(k)) {
                r.board.note(*stream, k, Why::Subsampled);
            }
        }
        r.board.publish(*stream, scores, through_us);
        Ok(())
    }
}
