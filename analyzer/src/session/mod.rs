//! An analysis run: per stream a reader thread (timestamps frames, nothing else) and a decoder
//! thread (QR, picture change); one collector classifies frames in arrival order and hands each
//! row to the caller as soon as it is measured.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::Error;

mod stream;
use crate::ingest::{InputInfo, ReaderOptions, Stopper, WallClock};
use crate::metrics::{Classifier, FrameArrival, FrameRow};
use crate::vmaf::live::{
    LiveFeeder, LiveScoring, LiveVmafConfig, ReferenceSource, StreamQuality, probe_file,
};
use stream::{HookSource, QualityHook, spawn_reader};

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
    /// Score the live streams against the reference (VMAF, PSNR-Y, SSIM).
    pub vmaf: Option<LiveVmafConfig>,
    /// HLS inputs are read like a player this many segments behind the live edge (None: each
    /// segment as soon as it exists).
    pub hls_live_edge: Option<u32>,
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
    /// Quality scores (live streams of a `vmaf` run).
    pub quality: Option<StreamQuality>,
}

/// How a run's quality was scored.
#[derive(Debug, Clone)]
pub struct VmafRun {
    pub model: String,
    /// Every live frame was scaled (bicubic, in ffmpeg) to this reference size.
    pub size: Option<(usize, usize)>,
    /// Why scoring was off, when it was asked for but could not run.
    pub disabled: Option<String>,
}

#[derive(Debug)]
pub struct SessionResult {
    pub started_us: i64,
    pub ended_us: i64,
    pub streams: Vec<StreamResult>,
    /// Stopped by the caller's stop flag (Ctrl-C).
    pub interrupted: bool,
    pub vmaf: Option<VmafRun>,
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

/// Run the analysis until every stream ends, the duration passes or `stop` is set.
pub fn run(
    config: &SessionConfig,
    stop: &AtomicBool,
    on_update: &mut dyn FnMut(Update<'_>),
) -> SessionResult {
    let clock = WallClock::start();
    let (tx, rx) = mpsc::channel();
    let stopping = Arc::new(AtomicBool::new(false));
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
                quality: None,
            })
            .collect(),
        interrupted: false,
        vmaf: None,
    };
    let base = ReaderOptions {
        with_pts: matches!(config.clock, ClockMode::Pts { .. }),
        yuv420: config.vmaf.is_some(),
        scale_to: None,
        hls_live_edge: config.hls_live_edge,
    };
    let n = config.streams.len();
    let mut started = vec![false; n];
    let mut feeders: HashMap<usize, LiveFeeder> = HashMap::new();
    let mut scoring = None;
    if let Some(v) = &config.vmaf {
        // The reference opens first: live readers scale their frames to its size.
        let control = config.streams.iter().position(|s| s.role == Role::Control);
        let live: Vec<usize> = (0..n)
            .filter(|&i| config.streams[i].role == Role::Live)
            .collect();
        let mut control_hook = None;
        let reference = match (&v.reference, control) {
            (ReferenceSource::File(url), _) => probe_file(&config.ffmpeg, url, config.open_timeout)
                .map_err(|e| format!("the reference {url} could not be read: {e}")),
            (ReferenceSource::Control, Some(c)) => {
                let (ready_tx, ready_rx) = mpsc::channel();
                let (hook_tx, hook_rx) = mpsc::channel();
                let later = HookSource::Later {
                    ready: ready_tx,
                    hook: hook_rx,
                };
                spawn_reader(config, c, base, later, clock, &stopping, &tx);
                started[c] = true;
                control_hook = Some(hook_tx);
                ready_rx
                    .recv()
                    .ok()
                    .flatten()
                    .ok_or_else(|| "the control did not open".to_owned())
            }
            (ReferenceSource::Control, None) => {
                Err("no reference: VMAF needs --control or --reference".to_owned())
            }
        };
        let scorers = reference.and_then(|r| {
            LiveScoring::start(v, &config.ffmpeg, config.open_timeout, &r, &live)
                .map_err(|e| format!("VMAF could not start: {e}"))
        });
        let mut run = VmafRun {
            model: v.model.clone(),
            size: None,
            disabled: None,
        };
        match scorers {
            Ok((s, f)) => {
                if let (Some(hook), Some(shared)) = (control_hook, &s.shared) {
                    let _ = hook.send(QualityHook::Control(shared.clone()));
                }
                run.size = Some(s.size);
                feeders = live.into_iter().zip(f).collect();
                scoring = Some(s);
            }
            Err(why) => {
                tracing::warn!("quality is not scored: {why}");
                run.disabled = Some(why);
            }
        }
        result.vmaf = Some(run);
    }
    let scale_to = result
        .vmaf
        .as_ref()
        .and_then(|v| v.size)
        .map(|(w, h)| (w as u32, h as u32));
    for i in (0..n).filter(|&i| !started[i]) {
        let hook = feeders
            .remove(&i)
            .map_or(QualityHook::None, QualityHook::Live);
        let opts = ReaderOptions {
            scale_to: scale_to.filter(|_| config.streams[i].role == Role::Live),
            ..base
        };
        spawn_reader(
            config,
            i,
            opts,
            HookSource::Now(hook),
            clock,
            &stopping,
            &tx,
        );
    }
    drop(tx);
    collect(config, stop, &stopping, &rx, &mut result, on_update);
    result.ended_us = clock.now_us();
    if let Some(s) = scoring {
        for (i, q) in s.finish() {
            result.streams[i].quality = Some(q);
        }
    }
    result
}

fn collect(
    config: &SessionConfig,
    stop: &AtomicBool,
    stopping_flag: &AtomicBool,
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
        // Checked on every message, not only when none came: a live stream never goes quiet.
        let interrupted = stop.load(Ordering::SeqCst);
        if !stopping && (interrupted || deadline.is_some_and(|d| Instant::now() >= d)) {
            stopping = true;
            stopping_flag.store(true, Ordering::SeqCst);
            result.interrupted = interrupted;
            stoppers.iter().flatten().for_each(Stopper::stop);
        }
        let msg = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => continue,
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
