//! An analysis run: per stream a reader thread (timestamps frames, nothing else) and a decoder
//! thread (QR, picture change); one collector classifies frames in arrival order and hands each
//! row to the caller as soon as it is measured.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;

use crate::Error;

mod collect;
mod config;
mod stream;
pub(crate) use config::humantime_dur;
pub use config::{ClockMode, NAME_CHARS, SessionConfig, StreamSpec};

use crate::ingest::{InputInfo, ReaderOptions, Received, Stopper, WallClock};
use crate::quality::LatestScores;
use crate::quality::board::ScoreBoard;
use crate::quality::live::{
    LiveFeeder, LiveScoring, ReferenceSource, Rotation, StreamQuality, probe_file,
};
use metrics::{FrameArrival, FrameRow, StreamEnd};
use report::Role;
use stream::{HookSource, QualityHook, spawn_reader};

/// Frames queued between a reader and its decoder. A full queue stalls ffmpeg, which the
/// reader logs, because it would delay later arrivals.
const QUEUE_FRAMES: usize = 64;
/// SNTP requests per clock-sync burst (the minimum-delay one is kept).
pub const NTP_SAMPLES: u32 = 8;

/// What a run needs besides its configuration: handles that exist only while it runs.
#[derive(Debug, Clone, Default)]
pub struct Handles {
    /// Set (by Ctrl-C, a failed write, a caller) to stop the run cleanly.
    pub stop: Arc<AtomicBool>,
    /// Where the live scorers publish their newest VMAF (live metrics).
    pub latest: Option<Arc<LatestScores>>,
}

/// Something the caller may want to show or write while the run goes on.
pub enum Update<'a> {
    /// The run started (arrival clock µs); with `rotate`, where the scorers hand over each
    /// period's scores.
    Started {
        started_us: i64,
        scores: Option<&'a Arc<ScoreBoard>>,
        /// How quality is scored (asked for and started, or why not).
        vmaf: Option<&'a VmafRun>,
        /// The arrival clock's sync (`ntp`), re-measured while the run goes on.
        clock_sync: Option<&'a Arc<clocksync::ClockSync>>,
    },
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
    /// Bytes of video the stream received (since the last such update).
    Received {
        stream: usize,
        received: &'a Received,
    },
    Ended {
        stream: usize,
        error: Option<&'a Error>,
    },
    /// The run goes on (about 4 times a second, whether frames come or not).
    Tick {
        now_us: i64,
    },
}

/// Everything measured for one stream.
#[derive(Debug)]
pub struct StreamResult {
    pub spec: StreamSpec,
    pub info: Option<InputInfo>,
    /// Every row (none with `rotate`: the recorder keeps each period's).
    pub rows: Vec<FrameRow>,
    pub error: Option<Error>,
    /// Quality scores (live streams of a `vmaf` run).
    pub quality: Option<StreamQuality>,
    /// Whether the stream ended by itself or was still delivering when the run stopped.
    pub end: StreamEnd,
    /// Bytes of video received per second (from the packets the reader received) and whether
    /// the input was cut short (per second only without `rotate`).
    pub received: Received,
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
    /// The arrival clock's sync (`--ntp`), None when not asked.
    pub clock_sync: Option<clocksync::SyncReport>,
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
    Received {
        stream: usize,
        received: Received,
    },
    Ended {
        stream: usize,
        result: Result<(), Error>,
        /// What its readers received besides frames.
        received: Received,
    },
}

/// Run the analysis until every stream ends, the duration passes or `handles.stop` is set.
pub fn run(
    config: &SessionConfig,
    handles: &Handles,
    on_update: &mut dyn FnMut(Update<'_>),
) -> SessionResult {
    let clock = WallClock::start();
    // The arrival clock's offset from NTP (measured before any reader starts, then every
    // `ntp_interval`): absolute latencies are corrected by the offset in force.
    let sync = (!config.ntp.is_empty() && config.clock == ClockMode::Realtime).then(|| {
        Arc::new(clocksync::ClockSync::start(
            config.ntp.clone(),
            NTP_SAMPLES,
            config.ntp_interval,
            Arc::new(move || clock.now_us()),
        ))
    });
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
                end: StreamEnd::Finished,
                received: Default::default(),
            })
            .collect(),
        interrupted: false,
        vmaf: None,
        clock_sync: None,
    };
    let base = ReaderOptions {
        with_pts: matches!(config.clock, ClockMode::Pts { .. }),
        yuv420: config.vmaf.is_some(),
        scale_to: None,
        hls_live_edge: config.hls_live_edge,
        // Per input: the reader takes it from each `Input`.
        decryption_key: None,
        // The A/V offset is measured over the whole run (a rotated run keeps no rows).
        av_tap: config.rotate.is_none(),
        receiver: config.live_av,
        code_window: config.code_window,
    };
    let n = config.streams.len();
    let periods = config.rotate.map(|d| metrics::Periods {
        start_us: result.started_us,
        length_us: d.as_micros().min(i64::MAX as u128) as i64,
    });
    let board = periods
        .filter(|_| config.vmaf.is_some())
        .map(|_| Arc::new(ScoreBoard::default()));
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
            (ReferenceSource::File(input), _) => {
                probe_file(&config.ffmpeg, input, config.open_timeout)
                    .map_err(|e| format!("the reference {input} could not be read: {e}"))
            }
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
            LiveScoring::start(
                v,
                handles.latest.clone(),
                periods
                    .zip(board.clone())
                    .map(|(periods, board)| Rotation { periods, board }),
                &config.ffmpeg,
                config.open_timeout,
                &r,
                &live,
            )
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
    on_update(Update::Started {
        started_us: result.started_us,
        scores: board.as_ref(),
        vmaf: result.vmaf.as_ref(),
        clock_sync: sync.as_ref(),
    });
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
    collect::collect(
        config,
        (clock, sync.as_deref().map(clocksync::ClockSync::reader)),
        &handles.stop,
        &stopping,
        &rx,
        &mut result,
        on_update,
    );
    result.ended_us = clock.now_us();
    result.clock_sync = sync.map(|s| s.report());
    if let Some(s) = scoring {
        for (i, q) in s.finish() {
            result.streams[i].quality = Some(q);
        }
    }
    result
}
