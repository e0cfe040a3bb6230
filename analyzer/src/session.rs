//! An analysis run: per stream a reader thread (timestamps frames, nothing else) and a decoder
//! thread (QR, picture change); one collector classifies frames in arrival order and hands each
//! row to the caller as soon as it is measured.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use crate::Error;
use crate::ingest::{InputInfo, RawFrame, Reader, ReaderOptions, Stopper, WallClock};
use crate::metrics::{Classifier, FrameArrival, FrameRow};
use crate::qr::{GrayFrame, QrTracker, mean_abs_diff};

/// Frames queued between a reader and its decoder. A full queue stalls ffmpeg, which the
/// reader logs, because it would delay later arrivals.
const QUEUE_FRAMES: usize = 64;
/// Mean luma change (levels) above which a picture counts as changed.
const PICTURE_CHANGE_LEVELS: f64 = 1.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Live,
    Control,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    pub name: String,
    pub url: String,
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMode {
    /// Arrival = when the frame left ffmpeg (monotonic clock anchored to UTC).
    Realtime,
    /// Arrival = `start_us` + the frame's PTS: deterministic replay of a recording.
    Pts { start_us: i64 },
}

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub ffmpeg: PathBuf,
    pub streams: Vec<StreamSpec>,
    pub clock: ClockMode,
    /// Added to every absolute latency (corrects a known clock difference).
    pub clock_offset_us: i64,
    /// Stop after this long (realtime: from the start; pts: of stream time).
    pub duration: Option<Duration>,
    /// Stop each stream after this many frames.
    pub max_frames: Option<u64>,
    pub open_timeout: Duration,
    /// A stream showing no timecode for this long is given up with `Error::NoTimecode`.
    pub timecode_timeout: Duration,
    /// Also use OpenCV's wechat_qrcode (when built with the `wechat` feature).
    pub wechat: bool,
}

/// Something the caller may want to show or write while the run goes on.
pub enum Update<'a> {
    Opened {
        stream: usize,
        info: Option<&'a InputInfo>,
        width: usize,
        height: usize,
    },
    Row {
        stream: usize,
        row: &'a FrameRow,
    },
    Ended {
        stream: usize,
        error: Option<&'a Error>,
    },
}

/// Everything measured for one stream.
#[derive(Debug)]
pub struct StreamResult {
    pub spec: StreamSpec,
    pub info: Option<InputInfo>,
    pub rows: Vec<FrameRow>,
    pub error: Option<Error>,
}

#[derive(Debug)]
pub struct SessionResult {
    pub started_us: i64,
    pub ended_us: i64,
    pub streams: Vec<StreamResult>,
    /// Stopped by the caller's stop flag (Ctrl-C).
    pub interrupted: bool,
}

enum Msg {
    Opened {
        stream: usize,
        info: Option<InputInfo>,
        size: (usize, usize),
        stopper: Stopper,
    },
    Arrival {
        stream: usize,
        arrival: FrameArrival,
    },
    Ended {
        stream: usize,
        result: Result<(), Error>,
    },
}

enum Work {
    Frame(RawFrame),
    End(Result<(), Error>),
}

/// Run the analysis until every stream ends, the duration passes or `stop` is set.
pub fn run(
    config: &SessionConfig,
    stop: &AtomicBool,
    on_update: &mut dyn FnMut(Update<'_>),
) -> SessionResult {
    let clock = WallClock::start();
    let (tx, rx) = mpsc::channel();
    for (i, spec) in config.streams.iter().enumerate() {
        let (tx, cfg, url) = (tx.clone(), config.clone(), spec.url.clone());
        std::thread::Builder::new()
            .name(format!("reader-{i}"))
            .spawn(move || read_stream(i, &url, &cfg, clock, &tx))
            .expect("spawning a reader thread");
    }
    drop(tx);
    let mut result = SessionResult {
        started_us: clock.start_us(),
        ended_us: 0,
        streams: config
            .streams
            .iter()
            .map(|spec| StreamResult {
                spec: spec.clone(),
                info: None,
                rows: Vec::new(),
                error: None,
            })
            .collect(),
        interrupted: false,
    };
    collect(config, stop, &rx, &mut result, on_update);
    result.ended_us = clock.now_us();
    result
}

fn collect(
    config: &SessionConfig,
    stop: &AtomicBool,
    rx: &Receiver<Msg>,
    result: &mut SessionResult,
    on_update: &mut dyn FnMut(Update<'_>),
) {
    let n = config.streams.len();
    let mut classifiers: Vec<Classifier> = (0..n)
        .map(|_| Classifier::new(config.clock_offset_us))
        .collect();
    let mut stoppers: Vec<Option<Stopper>> = vec![None; n];
    let mut first_arrival: Vec<Option<i64>> = vec![None; n];
    let mut has_code = vec![false; n];
    let mut ended = 0;
    let control = config.streams.iter().position(|s| s.role == Role::Control);
    let mut control_arrivals: HashMap<u64, i64> = HashMap::new();
    let deadline = match config.clock {
        ClockMode::Realtime => config.duration.map(|d| Instant::now() + d),
        ClockMode::Pts { .. } => None,
    };
    let mut stopping = false;
    while ended < n {
        let msg = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => {
                let interrupted = stop.load(Ordering::SeqCst);
                if !stopping && (interrupted || deadline.is_some_and(|d| Instant::now() >= d)) {
                    stopping = true;
                    result.interrupted = interrupted;
                    stoppers.iter().flatten().for_each(Stopper::stop);
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match msg {
            Msg::Opened {
                stream,
                info,
                size,
                stopper,
            } => {
                let s = &mut result.streams[stream];
                s.info = info;
                if stopping {
                    stopper.stop();
                }
                stoppers[stream] = Some(stopper);
                on_update(Update::Opened {
                    stream,
                    info: s.info.as_ref(),
                    width: size.0,
                    height: size.1,
                });
            }
            Msg::Arrival { stream, arrival } => {
                let first = *first_arrival[stream].get_or_insert(arrival.arrival_us);
                has_code[stream] |= arrival.timecode.is_some();
                let s = &mut result.streams[stream];
                if !has_code[stream]
                    && arrival.arrival_us - first >= config.timecode_timeout.as_micros() as i64
                {
                    if s.error.is_none() {
                        s.error = Some(no_timecode(&s.spec.url, config.timecode_timeout));
                        if let Some(st) = &stoppers[stream] {
                            st.stop();
                        }
                    }
                    continue;
                }
                let mut row = classifiers[stream].push(arrival);
                if Some(stream) == control {
                    if row.kind.is_first_sighting()
                        && let Some(tc) = row.arrival.timecode
                    {
                        control_arrivals.insert(tc.frame, row.arrival.arrival_us);
                    }
                } else if control.is_some() {
                    row.relative_latency_us =
                        crate::metrics::stats::relative_latency_us(&row, &control_arrivals);
                }
                on_update(Update::Row { stream, row: &row });
                s.rows.push(row);
            }
            Msg::Ended { stream, result: r } => {
                ended += 1;
                let s = &mut result.streams[stream];
                if let Err(e) = r {
                    s.error.get_or_insert(e);
                } else if !has_code[stream] && s.error.is_none() {
                    s.error = Some(no_timecode(&s.spec.url, config.timecode_timeout));
                }
                on_update(Update::Ended {
                    stream,
                    error: s.error.as_ref(),
                });
            }
        }
    }
}

fn no_timecode(url: &str, timeout: Duration) -> Error {
    Error::NoTimecode {
        url: url.to_owned(),
        secs: timeout.as_secs(),
    }
}

/// Reader thread: open, read and timestamp frames, hand them to the decoder thread.
fn read_stream(
    stream: usize,
    url: &str,
    config: &SessionConfig,
    clock: WallClock,
    tx: &Sender<Msg>,
) {
    let opts = ReaderOptions {
        with_pts: matches!(config.clock, ClockMode::Pts { .. }),
        ..ReaderOptions::default()
    };
    let mut reader = match Reader::open(&config.ffmpeg, url, opts, clock, config.open_timeout) {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.send(Msg::Ended {
                stream,
                result: Err(e),
            });
            return;
        }
    };
    let stopper = reader.stopper();
    let _ = tx.send(Msg::Opened {
        stream,
        info: reader.input().cloned(),
        size: reader.frame_size(),
        stopper: stopper.clone(),
    });
    let (work_tx, work_rx) = mpsc::sync_channel(QUEUE_FRAMES);
    let (dtx, clock_mode, wechat) = (tx.clone(), config.clock, config.wechat);
    let decoder = std::thread::Builder::new()
        .name(format!("decode-{stream}"))
        .spawn(move || decode_stream(stream, clock_mode, QrTracker::new(wechat), &work_rx, &dtx))
        .expect("spawning a decoder thread");
    let result = pump(&mut reader, config, &work_tx, &stopper);
    let result = result.and(reader.finish());
    let _ = work_tx.send(Work::End(result));
    let _ = decoder.join();
}

fn pump(
    reader: &mut Reader,
    config: &SessionConfig,
    work: &SyncSender<Work>,
    stopper: &Stopper,
) -> Result<(), Error> {
    let mut count = 0u64;
    let mut first_pts = None;
    let mut stalled = 0u64;
    while let Some(frame) = reader.next_frame()? {
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
        if config.max_frames.is_some_and(|m| count >= m) {
            stopper.stop();
            break;
        }
    }
    Ok(())
}

/// Decoder thread: read the code (tracking it), compare the picture with the previous one.
fn decode_stream(
    stream: usize,
    clock: ClockMode,
    mut tracker: QrTracker,
    work: &Receiver<Work>,
    tx: &Sender<Msg>,
) {
    let mut prev: Option<Vec<u8>> = None;
    while let Ok(item) = work.recv() {
        let frame = match item {
            Work::Frame(f) => f,
            Work::End(result) => {
                let _ = tx.send(Msg::Ended { stream, result });
                return;
            }
        };
        let luma = &frame.data[..frame.width * frame.height];
        let gray = GrayFrame::new(frame.width, frame.height, luma);
        let timecode = gray.and_then(|g| tracker.decode(g).ok());
        let picture_changed = prev.as_ref().is_none_or(|p| {
            mean_abs_diff(&p[..luma.len().min(p.len())], luma, frame.width) > PICTURE_CHANGE_LEVELS
        });
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
        prev = Some(frame.data);
        if tx.send(Msg::Arrival { stream, arrival }).is_err() {
            return;
        }
    }
}
