//! The collector: takes every stream's frames in arrival order, classifies them, pairs live
//! frames with the control's (a live frame that comes before the control's copy waits for
//! it, briefly), stops the run at its deadline or on the stop flag, notes how each stream
//! ended, and hands each measured row to the caller as soon as it is complete.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use metrics::{Classifier, FrameRow, StreamEnd};
use report::Role;

use super::{ClockMode, Msg, SessionConfig, SessionResult, Update};
use crate::Error;
use crate::ingest::{Stopper, WallClock};

/// How long (realtime) a live frame waits for the control's copy before it is written
/// without a relative latency. Replays wait until the control has passed it.
const CONTROL_WAIT: Duration = Duration::from_secs(2);

/// What the collector keeps of one stream while the run goes on.
struct Collecting {
    classifier: Classifier,
    stopper: Option<Stopper>,
    first_arrival_us: Option<i64>,
    has_code: bool,
    /// Ended by itself before the run stopped.
    finished: bool,
    /// Rows waiting for the control's copy of their frame (live streams), in order.
    waiting: VecDeque<(Instant, FrameRow)>,
}

/// How long (arrival clock) the control's arrivals are kept for pairing: a live stream more
/// than this behind the control has no relative latency. Keeps a 24/7 run's memory flat.
const CONTROL_KEPT_US: i64 = 600_000_000;

/// How often the collector tells the caller the run goes on.
const TICK: Duration = Duration::from_millis(250);

/// The control's first sightings: arrival by frame number, and how far it has come.
#[derive(Default)]
struct ControlSeen {
    arrivals: HashMap<u64, i64>,
    highest: Option<u64>,
    ended: bool,
    /// The newest arrival at the last pruning.
    pruned_at_us: i64,
}

impl ControlSeen {
    fn insert(&mut self, frame: u64, arrival_us: i64) {
        self.arrivals.insert(frame, arrival_us);
        self.highest = Some(self.highest.map_or(frame, |h| h.max(frame)));
        // Pruned every tenth of the kept time, so the map holds at most 1.1 × its worth.
        if arrival_us - self.pruned_at_us >= CONTROL_KEPT_US / 10 {
            self.pruned_at_us = arrival_us;
            self.arrivals
                .retain(|_, &mut a| a >= arrival_us - CONTROL_KEPT_US);
        }
    }

    /// Whether a row can be written now: it needs no pairing, or its pair is known (or will
    /// never come).
    fn settles(&self, row: &FrameRow, since: Instant, replay: bool) -> bool {
        let Some(tc) = row
            .arrival
            .timecode
            .filter(|_| row.kind.is_first_sighting())
        else {
            return true;
        };
        self.ended
            || self.arrivals.contains_key(&tc.frame)
            || self.highest.is_some_and(|h| h > tc.frame)
            || (!replay && since.elapsed() >= CONTROL_WAIT)
    }
}

pub(super) fn collect(
    config: &SessionConfig,
    (clock, sync): (WallClock, Option<clocksync::OffsetReader>),
    stop: &AtomicBool,
    stopping_flag: &AtomicBool,
    rx: &Receiver<Msg>,
    result: &mut SessionResult,
    on_update: &mut dyn FnMut(Update<'_>),
) {
    let n = config.streams.len();
    let mut streams: Vec<Collecting> = (0..n)
        .map(|_| Collecting {
            classifier: Classifier::new(config.clock_offset_us),
            stopper: None,
            first_arrival_us: None,
            has_code: false,
            finished: false,
            waiting: VecDeque::new(),
        })
        .collect();
    let mut ended = 0;
    let control = config.streams.iter().position(|s| s.role == Role::Control);
    let replay = matches!(config.clock, ClockMode::Pts { .. });
    let mut seen = ControlSeen {
        ended: control.is_none(),
        ..ControlSeen::default()
    };
    let deadline = match config.clock {
        // From the run's start (opening the reference first is part of the run).
        ClockMode::Realtime => config.duration.and_then(|d| clock.anchor().checked_add(d)),
        ClockMode::Pts { .. } => None,
    };
    let mut stopped_us: Option<i64> = None;
    let rotated = config.rotate.is_some();
    let mut ticked = Instant::now();
    while ended < n {
        if ticked.elapsed() >= TICK {
            ticked = Instant::now();
            on_update(Update::Tick {
                now_us: clock.now_us(),
            });
        }
        // Checked on every message, not only when none came: a live stream never goes quiet.
        let interrupted = stop.load(Ordering::SeqCst);
        if stopped_us.is_none() && (interrupted || deadline.is_some_and(|d| Instant::now() >= d)) {
            stopped_us = Some(clock.now_us());
            stopping_flag.store(true, Ordering::SeqCst);
            result.interrupted = interrupted;
            streams
                .iter()
                .filter_map(|s| s.stopper.as_ref())
                .for_each(Stopper::stop);
        }
        let mut ended_now = None;
        let msg = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match msg {
            None => {}
            Some(Msg::Opened {
                stream,
                info,
                size,
                stopper,
            }) => {
                let s = &mut result.streams[stream];
                s.info = info;
                if stopped_us.is_some() {
                    stopper.stop();
                }
                streams[stream].stopper = Some(stopper);
                on_update(Update::Opened {
                    stream,
                    info: s.info.as_ref(),
                    width: size.0,
                    height: size.1,
                });
            }
            Some(Msg::Arrival { stream, arrival }) => {
                let c = &mut streams[stream];
                let first = *c.first_arrival_us.get_or_insert(arrival.arrival_us);
                c.has_code |= arrival.timecode.is_some();
                let s = &mut result.streams[stream];
                if !c.has_code
                    && arrival.arrival_us - first >= config.timecode_timeout.as_micros() as i64
                {
                    if s.error.is_none() {
                        s.error = Some(no_timecode(s.spec.input.url(), config));
                        if let Some(st) = &c.stopper {
                            st.stop();
                        }
                    }
                    continue;
                }
                if let Some(s) = &sync {
                    c.classifier
                        .set_clock_offset(config.clock_offset_us + s.offset_us().unwrap_or(0));
                }
                let row = c.classifier.push(arrival);
                if Some(stream) == control {
                    if row.kind.is_first_sighting()
                        && let Some(tc) = row.arrival.timecode
                    {
                        seen.insert(tc.frame, row.arrival.arrival_us);
                    }
                    emit(stream, row, &seen, result, rotated, on_update);
                } else {
                    c.waiting.push_back((Instant::now(), row));
                }
            }
            Some(Msg::Received { stream, received }) => {
                on_update(Update::Received {
                    stream,
                    received: &received,
                });
                keep_received(&mut result.streams[stream], received, rotated);
            }
            Some(Msg::Ended {
                stream,
                result: r,
                received,
            }) => {
                on_update(Update::Received {
                    stream,
                    received: &received,
                });
                keep_received(&mut result.streams[stream], received, rotated);
                ended += 1;
                ended_now = Some(stream);
                streams[stream].finished = stopped_us.is_none();
                if Some(stream) == control {
                    seen.ended = true;
                }
                let s = &mut result.streams[stream];
                let c = &streams[stream];
                if let Err(e) = r {
                    s.error.get_or_insert(e);
                } else if s.error.is_some() || c.has_code {
                } else if c.first_arrival_us.is_some() {
                    s.error = Some(no_timecode(s.spec.input.url(), config));
                } else if !result.interrupted {
                    // Still opening when the run ended: say that, not "no timecode".
                    s.error = Some(Error::NoVideoInRun {
                        url: s.spec.input.url().to_owned(),
                        secs: config.duration.unwrap_or_default().as_secs(),
                    });
                }
            }
        }
        // Write every waiting row that is settled, in order, then announce streams that ended.
        for (i, c) in streams.iter_mut().enumerate() {
            while c
                .waiting
                .front()
                .is_some_and(|(since, row)| seen.settles(row, *since, replay))
            {
                if let Some((_, row)) = c.waiting.pop_front() {
                    emit(i, row, &seen, result, rotated, on_update);
                }
            }
        }
        if let Some(stream) = ended_now {
            on_update(Update::Ended {
                stream,
                error: result.streams[stream].error.as_ref(),
            });
        }
    }
    // The run is over: nothing more will be paired.
    seen.ended = true;
    for (i, c) in streams.iter_mut().enumerate() {
        for (_, row) in c.waiting.drain(..) {
            emit(i, row, &seen, result, rotated, on_update);
        }
    }
    let stopped_us = stopped_us.unwrap_or_else(|| clock.now_us());
    for (s, c) in result.streams.iter_mut().zip(&streams) {
        s.end = if c.finished {
            StreamEnd::Finished
        } else {
            StreamEnd::Stopped { at_us: stopped_us }
        };
    }
}

/// Pair a row with the control's copy of its frame, hand it out and keep it (a rotated run
/// keeps none: the recorder keeps each period's).
fn emit(
    stream: usize,
    mut row: FrameRow,
    seen: &ControlSeen,
    result: &mut SessionResult,
    rotated: bool,
    on_update: &mut dyn FnMut(Update<'_>),
) {
    if result.streams[stream].spec.role == Role::Live && !seen.arrivals.is_empty() {
        row.relative_latency_us = metrics::stats::relative_latency_us(&row, &seen.arrivals);
    }
    on_update(Update::Row { stream, row: &row });
    if !rotated {
        result.streams[stream].rows.push(row);
    }
}

/// Keep what a stream received: per second only in a run that is not rotated.
fn keep_received(s: &mut super::StreamResult, received: crate::ingest::Received, rotated: bool) {
    if rotated {
        s.received.truncated |= received.truncated;
    } else {
        s.received.merge(received);
    }
}

fn no_timecode(url: &str, config: &SessionConfig) -> Error {
    let secs = config.timecode_timeout.as_secs();
    let url = url.to_owned();
    // Readers with a quality metric read whole pictures: the window was not used.
    match config.code_window.filter(|_| config.vmaf.is_none()) {
        Some(corner) => Error::NoTimecodeInWindow { url, secs, corner },
        None => Error::NoTimecode { url, secs },
    }
}
