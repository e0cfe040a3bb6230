//! The collector: takes every stream's frames in arrival order, classifies them, pairs live
//! frames with the control's, stops the run at its deadline or on the stop flag, and hands
//! each measured row to the caller as soon as it exists.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use metrics::Classifier;
use report::Role;

use super::{ClockMode, Msg, SessionConfig, SessionResult, Update};
use crate::Error;
use crate::ingest::Stopper;

/// What the collector keeps of one stream while the run goes on.
struct Collecting {
    classifier: Classifier,
    stopper: Option<Stopper>,
    first_arrival_us: Option<i64>,
    has_code: bool,
}

pub(super) fn collect(
    config: &SessionConfig,
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
        })
        .collect();
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
            streams
                .iter()
                .filter_map(|s| s.stopper.as_ref())
                .for_each(Stopper::stop);
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
                streams[stream].stopper = Some(stopper);
                on_update(Update::Opened {
                    stream,
                    info: s.info.as_ref(),
                    width: size.0,
                    height: size.1,
                });
            }
            Msg::Arrival { stream, arrival } => {
                let c = &mut streams[stream];
                let first = *c.first_arrival_us.get_or_insert(arrival.arrival_us);
                c.has_code |= arrival.timecode.is_some();
                let s = &mut result.streams[stream];
                if !c.has_code
                    && arrival.arrival_us - first >= config.timecode_timeout.as_micros() as i64
                {
                    if s.error.is_none() {
                        s.error = Some(no_timecode(s.spec.input.url(), config.timecode_timeout));
                        if let Some(st) = &c.stopper {
                            st.stop();
                        }
                    }
                    continue;
                }
                let mut row = c.classifier.push(arrival);
                if Some(stream) == control {
                    if row.kind.is_first_sighting()
                        && let Some(tc) = row.arrival.timecode
                    {
                        control_arrivals.insert(tc.frame, row.arrival.arrival_us);
                    }
                } else if control.is_some() {
                    row.relative_latency_us =
                        metrics::stats::relative_latency_us(&row, &control_arrivals);
                }
                on_update(Update::Row { stream, row: &row });
                s.rows.push(row);
            }
            Msg::Ended { stream, result: r } => {
                ended += 1;
                let s = &mut result.streams[stream];
                if let Err(e) = r {
                    s.error.get_or_insert(e);
                } else if !streams[stream].has_code && s.error.is_none() {
                    s.error = Some(no_timecode(s.spec.input.url(), config.timecode_timeout));
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
