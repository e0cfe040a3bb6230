//! One stream's threads: the reader (opens ffmpeg, timestamps frames, reconnects a live
//! source that drops) and the decoder (timecode, picture change, frames for quality scoring).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use super::{ClockMode, Msg, QUEUE_FRAMES, SessionConfig};
use crate::Error;
use crate::ingest::{
    FrameBuf, FramePool, Input, Protocol, RawFrame, Reader, ReaderOptions, Received, Stopper,
    WallClock, reader,
};
use crate::qr::{GrayFrame, PICTURE_CHANGE_LEVELS, QrTracker, picture_changed};
use crate::quality::live::{LiveFeeder, ReferenceInfo, SharedReference};
use metrics::{FrameArrival, Transport};

/// What a stream's decoder does with whole frames for quality scoring.
pub(super) enum QualityHook {
    None,
    /// A live stream: offer frames to its scorer.
    Live(LiveFeeder),
    /// The control as reference: share first sightings with the scorers.
    Control(Arc<SharedReference>),
}

pub(super) enum Work {
    Frame(RawFrame),
    /// Bytes of video received since the last report (about once a second).
    Received(Received),
    /// The stream ended; bytes of video it received per second.
    End(Result<(), Error>, Received),
}

/// How a stream's decoder gets its quality hook: now, or once the reference is known (the
/// control, which must open before the live readers).
pub(super) enum HookSource {
    Now(QualityHook),
    Later {
        ready: Sender<Option<ReferenceInfo>>,
        hook: Receiver<QualityHook>,
    },
}

pub(super) fn spawn_reader(
    config: &SessionConfig,
    i: usize,
    opts: ReaderOptions,
    hook: HookSource,
    clock: WallClock,
    stopping: &Arc<AtomicBool>,
    tx: &Sender<Msg>,
) {
    let (tx, cfg, stopping) = (tx.clone(), config.clone(), stopping.clone());
    std::thread::Builder::new()
        .name(format!("reader-{i}"))
        .spawn(move || {
            let read = std::panic::AssertUnwindSafe(|| {
                read_stream(i, &cfg, opts, hook, clock, &stopping, &tx);
            });
            if std::panic::catch_unwind(read).is_err() {
                // A panic is an error of this stream, never a silent end.
                let _ = tx.send(Msg::Ended {
                    received: Received::default(),
                    stream: i,
                    result: Err(Error::Panicked {
                        thread: format!("reader-{i}"),
                    }),
                });
            }
        })
        .expect("spawning a reader thread");
}

/// Whether a stream that ended is read again: live network inputs measured in real time.
fn reconnects(config: &SessionConfig, input: &Input) -> bool {
    config.clock == ClockMode::Realtime && input.protocol() != Protocol::File
}

/// Reader thread: open, read and timestamp frames, hand them to the decoder thread. A live
/// input that drops is opened again until the run stops; the gap becomes an outage.
#[allow(clippy::too_many_arguments)]
fn read_stream(
    stream: usize,
    config: &SessionConfig,
    opts: ReaderOptions,
    hook: HookSource,
    clock: WallClock,
    stopping: &AtomicBool,
    tx: &Sender<Msg>,
) {
    let input = &config.streams[stream].input;
    let url = input.url();
    let reader = match open_first(config, input, opts, clock, stopping) {
        Ok(r) => r,
        Err(e) => {
            if let HookSource::Later { ready, .. } = hook {
                let _ = ready.send(None);
            }
            let result = match e {
                Error::Cancelled => Ok(()),
                e => Err(e),
            };
            let _ = tx.send(Msg::Ended {
                stream,
                result,
                received: Received::default(),
            });
            return;
        }
    };
    let hook = match hook {
        HookSource::Now(h) => h,
        HookSource::Later { ready, hook } => {
            let _ = ready.send(Some(ReferenceInfo {
                size: reader.frame_size(),
                fps: reader.input().map_or(0.0, |i| f64::from(i.fps)),
            }));
            hook.recv().unwrap_or(QualityHook::None)
        }
    };
    let (work_tx, work_rx) = mpsc::sync_channel(QUEUE_FRAMES);
    let (dtx, clock_mode, wechat) = (tx.clone(), config.clock, config.wechat);
    let windowed = opts.windowed().is_some();
    let decoder = std::thread::Builder::new()
        .name(format!("decode-{stream}"))
        .spawn(move || {
            let tracker = QrTracker::new(wechat);
            decode_stream(stream, windowed, clock_mode, tracker, hook, &work_rx, &dtx);
        })
        .expect("spawning a decoder thread");
    let mut seq_base = 0;
    let mut result = Ok(());
    let mut received = Received::default();
    let mut current = Some(reader);
    // Frames come back to it from the decoder, the reference window and the scorers.
    let pool = FramePool::default();
    while let Some(mut reader) = current.take() {
        reader.use_pool(pool.clone());
        let stopper = reader.stopper();
        let _ = tx.send(Msg::Opened {
            stream,
            info: reader.input().cloned(),
            size: reader.frame_size(),
            stopper: stopper.clone(),
        });
        let (pumped, read) = pump(&mut reader, config, &work_tx, &stopper, seq_base);
        received.merge(reader.take_received());
        received.av.extend(reader.take_av(seq_base));
        seq_base += read;
        result = pumped.and(reader.finish());
        if stopping.load(Ordering::SeqCst)
            || !reconnects(config, input)
            || config.max_frames.is_some_and(|m| seq_base >= m)
        {
            break;
        }
        // A finished HLS playlist or static DASH manifest ends the stream: read again, it
        // would only deliver the same frames once more.
        if input.transport() == Transport::Segmented
            && reader::presentation(&config.ffmpeg, input).is_some_and(|p| p.ended)
        {
            tracing::info!("{url}: the presentation ended (#EXT-X-ENDLIST or a static MPD)");
            break;
        }
        match &result {
            Ok(()) => tracing::warn!("{url}: the stream ended; reconnecting"),
            Err(e) => tracing::warn!("{url}: {e}; reconnecting"),
        }
        current = reopen(config, input, opts, clock, stopping);
        if current.is_some() {
            result = Ok(());
        }
    }
    let _ = work_tx.send(Work::End(result, received));
    if decoder.join().is_err() {
        // The decoder sends the stream's end itself; a panic must not make it a silent one.
        let _ = tx.send(Msg::Ended {
            stream,
            result: Err(Error::Panicked {
                thread: format!("decode-{stream}"),
            }),
            received: Received::default(),
        });
    }
}

/// How long one attempt to reopen a dropped source waits for video.
const RECONNECT_WAIT: Duration = Duration::from_secs(3);

/// How long to wait between attempts to open a live source that is not up yet.
const RETRY_OPEN: Duration = Duration::from_millis(500);

/// Open a stream. A live source that refuses or is not there yet (an HLS playlist that
/// returns 404, an RTMP server that refuses) is tried again until `open_timeout`, as a user
/// who starts the analyzer before the stream expects.
fn open_first(
    config: &SessionConfig,
    input: &Input,
    opts: ReaderOptions,
    clock: WallClock,
    stopping: &AtomicBool,
) -> Result<Reader, Error> {
    let started = Instant::now();
    let deadline = reader::deadline(config.open_timeout);
    let mut attempts = 0u32;
    // The most telling failure so far: ffmpeg's own reason, rather than a last attempt that
    // only ran out of time.
    let mut reason: Option<Error> = None;
    loop {
        let left = deadline.map_or(Duration::MAX, |d| {
            d.saturating_duration_since(Instant::now())
        });
        attempts += 1;
        let listed = input.transport() == Transport::Continuous
            || reader::presentation(&config.ffmpeg, input).is_some_and(|p| p.has_segments);
        let e = if listed {
            match Reader::open_until(&config.ffmpeg, input, opts, clock, left, stopping) {
                Ok(r) => return Ok(r),
                Err(e) => e,
            }
        } else {
            Error::NothingListed {
                url: input.url().to_owned(),
            }
        };
        let retry = input.protocol().is_live()
            && !matches!(
                e,
                Error::Cancelled | Error::OpenTimeout { .. } | Error::NoVideo { .. }
            )
            && left > RETRY_OPEN;
        if !retry {
            return Err(match e {
                Error::Cancelled => e,
                _ if attempts == 1 => e,
                e => Error::NotUp {
                    url: input.url().to_owned(),
                    secs: started.elapsed().as_secs(),
                    attempts,
                    last: Box::new(match (&e, reason) {
                        (Error::OpenTimeout { .. }, Some(r)) => r,
                        _ => e,
                    }),
                },
            });
        }
        tracing::debug!("{input}: not up yet ({e}); trying again");
        reason = Some(e);
        let until = Instant::now() + RETRY_OPEN;
        while Instant::now() < until {
            if stopping.load(Ordering::SeqCst) {
                return Err(Error::Cancelled);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Open `url` again after it dropped, until it answers or the run stops.
fn reopen(
    config: &SessionConfig,
    input: &Input,
    opts: ReaderOptions,
    clock: WallClock,
    stopping: &AtomicBool,
) -> Option<Reader> {
    while !stopping.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(250));
        let wait = config.open_timeout.min(RECONNECT_WAIT);
        if let Ok(r) = Reader::open_until(&config.ffmpeg, input, opts, clock, wait, stopping) {
            tracing::info!("{input}: reconnected");
            return Some(r);
        }
    }
    None
}

/// How often a reader hands on the bytes it received (a rotated run's bitrate per period).
const RECEIVED_EVERY: Duration = Duration::from_secs(1);

/// Read frames until the reader ends; returns how many were read. `seq_base` continues the
/// frame sequence across reconnects.
fn pump(
    reader: &mut Reader,
    config: &SessionConfig,
    work: &SyncSender<Work>,
    stopper: &Stopper,
    seq_base: u64,
) -> (Result<(), Error>, u64) {
    let mut count = 0u64;
    let mut first_pts = None;
    let mut stalled = 0u64;
    let mut reported = Instant::now();
    loop {
        if reported.elapsed() >= RECEIVED_EVERY {
            reported = Instant::now();
            let r = reader.take_received();
            if !r.per_second.is_empty() && work.send(Work::Received(r)).is_err() {
                break;
            }
        }
        let mut frame = match reader.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => return (Ok(()), count),
            Err(e) => return (Err(e), count),
        };
        frame.seq += seq_base;
        count += 1;
        let pts_limit = match (config.clock, config.duration, frame.pts_us) {
            (ClockMode::Pts { .. }, Some(d), Some(p)) => {
                p - *first_pts.get_or_insert(p) >= d.as_micros() as i64
            }
            _ => false,
        };
        if pts_limit {
            stopper.stop();
            break;
        }
        match work.try_send(Work::Frame(frame)) {
            Ok(()) => {}
            Err(TrySendError::Full(Work::Frame(f))) => {
                stalled += 1;
                // Only realtime arrivals are distorted by a stalled reader.
                if config.clock == ClockMode::Realtime && stalled.is_power_of_two() {
                    tracing::warn!(
                        "{}: analysis is behind, reading stalls ({stalled} times)",
                        reader.url()
                    );
                }
                if work.send(Work::Frame(f)).is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
        if config.max_frames.is_some_and(|m| seq_base + count >= m) {
            stopper.stop();
            break;
        }
    }
    (Ok(()), count)
}

/// Decoder thread: read the code (tracking it), compare the picture with the previous one,
/// hand whole frames to quality scoring.
fn decode_stream(
    stream: usize,
    windowed: bool,
    clock: ClockMode,
    mut tracker: QrTracker,
    mut hook: QualityHook,
    work: &Receiver<Work>,
    tx: &Sender<Msg>,
) {
    // The previous picture (shared with the reference window for the control).
    let mut prev: Option<Arc<FrameBuf>> = None;
    while let Ok(item) = work.recv() {
        let frame = match item {
            Work::Frame(f) => f,
            Work::Received(received) => {
                if tx.send(Msg::Received { stream, received }).is_err() {
                    return;
                }
                continue;
            }
            Work::End(result, received) => {
                if let QualityHook::Control(shared) = &hook {
                    shared.end();
                }
                let _ = tx.send(Msg::Ended {
                    stream,
                    result,
                    received,
                });
                return;
            }
        };
        let luma = &frame.data[..frame.width * frame.height];
        let gray = GrayFrame::new(frame.width, frame.height, luma);
        let timecode = gray.and_then(|g| tracker.decode(g).ok());
        let picture_changed = if windowed {
            // The window is only the code's corner: ffmpeg measured the whole picture.
            frame
                .moved
                .is_none_or(|levels| levels > PICTURE_CHANGE_LEVELS)
        } else {
            picture_changed(prev.as_deref().map(|p| &p[..]), luma, frame.width)
        };
        let arrival_us = match clock {
            ClockMode::Realtime => frame.arrival_us,
            ClockMode::Pts { start_us } => start_us + frame.pts_us.unwrap_or(0),
        };
        let arrival = FrameArrival {
            seq: frame.seq,
            arrival_us,
            pts_us: frame.pts_us,
            timecode,
            picture_changed,
            source_size: frame.source_size,
        };
        prev = match (&mut hook, timecode) {
            (QualityHook::Control(shared), Some(tc)) => {
                let data = Arc::new(frame.data);
                shared.insert(tc.frame, data.clone());
                Some(data)
            }
            (QualityHook::Live(feeder), tc) => {
                let data = Arc::new(frame.data);
                feeder.offer(frame.seq, tc, arrival_us, &data);
                Some(data)
            }
            _ => Some(Arc::new(frame.data)),
        };
        if tx.send(Msg::Arrival { stream, arrival }).is_err() {
            return;
        }
    }
}
