//! A clock's sync state shared with the threads that stamp frames, re-measured in the
//! background.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::estimate::Estimate;
use crate::query::{Server, measure};

/// What a run records about its clock sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Every server asked, `HOST:PORT`.
    pub servers: Vec<String>,
    /// The first estimate (None: no server answered at the start).
    pub first: Option<Estimate>,
    /// The newest estimate, the one in force at the end.
    pub latest: Option<Estimate>,
    /// Bursts that gave an estimate / that no server answered.
    pub measurements: u32,
    pub failures: u32,
    pub last_error: Option<String>,
    /// The largest uncertainty of any estimate in force during the run (µs).
    pub max_uncertainty_us: Option<i64>,
    /// The largest change of the offset between consecutive estimates (µs): the clock's drift
    /// between them plus measurement noise.
    pub max_step_us: i64,
}

impl SyncReport {
    fn record(&mut self, e: Estimate) {
        if let Some(l) = &self.latest {
            self.max_step_us = self.max_step_us.max((e.offset_us - l.offset_us).abs());
        }
        self.max_uncertainty_us = Some(self.max_uncertainty_us.unwrap_or(0).max(e.uncertainty_us));
        self.first.get_or_insert_with(|| e.clone());
        self.latest = Some(e);
        self.measurements += 1;
    }
}

/// "Not synced" in the shared offset.
const UNSYNCED: i64 = i64::MIN;

/// Clock sync for one run: measured once at the start (blocking), then every `interval`.
/// A server that does not answer is a warning, never an error: the run goes on unsynced (or
/// with the last estimate).
pub struct ClockSync {
    offset: Arc<AtomicI64>,
    report: Arc<Mutex<SyncReport>>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl ClockSync {
    pub fn start(
        servers: Vec<Server>,
        samples: u32,
        interval: Duration,
        now: Arc<dyn Fn() -> i64 + Send + Sync>,
    ) -> Self {
        let offset = Arc::new(AtomicI64::new(UNSYNCED));
        let report = Arc::new(Mutex::new(SyncReport {
            servers: servers.iter().map(ToString::to_string).collect(),
            ..SyncReport::default()
        }));
        let once = {
            let (offset, report, now) = (offset.clone(), report.clone(), now.clone());
            let servers = servers.clone();
            move || match measure(&servers, samples, &*now) {
                Ok(e) => {
                    tracing::info!(
                        server = %e.server,
                        offset_ms = e.offset_us as f64 / 1e3,
                        uncertainty_ms = e.uncertainty_us as f64 / 1e3,
                        "clock sync"
                    );
                    offset.store(e.offset_us, Ordering::SeqCst);
                    report.lock().unwrap_or_else(|p| p.into_inner()).record(e);
                }
                Err(e) => {
                    let synced = offset.load(Ordering::SeqCst) != UNSYNCED;
                    tracing::warn!(
                        "clock sync failed ({e}); {}",
                        if synced {
                            "keeping the last offset"
                        } else {
                            "absolute latency assumes synced clocks"
                        }
                    );
                    let mut r = report.lock().unwrap_or_else(|p| p.into_inner());
                    r.failures += 1;
                    r.last_error = Some(e.to_string());
                }
            }
        };
        once();
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("clock-sync".into())
                .spawn(move || {
                    let (lock, cv) = &*stop;
                    let mut stopped = lock.lock().unwrap_or_else(|p| p.into_inner());
                    loop {
                        let (s, timeout) = cv
                            .wait_timeout_while(stopped, interval, |s| !*s)
                            .unwrap_or_else(|p| p.into_inner());
                        stopped = s;
                        if *stopped || !timeout.timed_out() {
                            return;
                        }
                        drop(stopped);
                        once();
                        stopped = lock.lock().unwrap_or_else(|p| p.into_inner());
                    }
                })
                .ok()
        };
        Self {
            offset,
            report,
            stop,
            thread,
        }
    }

    /// The offset in force (add to a local time to get UTC), None while unsynced.
    pub fn offset_us(&self) -> Option<i64> {
        Some(self.offset.load(Ordering::SeqCst)).filter(|&o| o != UNSYNCED)
    }

    /// A cheap reader of the offset in force, for the threads that stamp frames.
    pub fn reader(&self) -> OffsetReader {
        OffsetReader(self.offset.clone())
    }

    pub fn report(&self) -> SyncReport {
        self.report
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Reads the offset in force; see [`ClockSync::offset_us`].
#[derive(Debug, Clone)]
pub struct OffsetReader(Arc<AtomicI64>);

impl OffsetReader {
    pub fn offset_us(&self) -> Option<i64> {
        Some(self.0.load(Ordering::SeqCst)).filter(|&o| o != UNSYNCED)
    }
}

impl Drop for ClockSync {
    fn drop(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(offset_us: i64, uncertainty_us: i64) -> Estimate {
        Estimate {
            server: "s:123".into(),
            offset_us,
            uncertainty_us,
            delay_us: 2 * uncertainty_us,
            samples: 8,
            stratum: 2,
            at_us: 0,
        }
    }

    #[test]
    fn the_report_keeps_the_first_the_latest_the_worst_bound_and_the_largest_step() {
        let mut r = SyncReport::default();
        r.record(estimate(1_000, 300));
        r.record(estimate(1_250, 900));
        r.record(estimate(1_100, 200));
        assert_eq!(r.first.as_ref().unwrap().offset_us, 1_000);
        assert_eq!(r.latest.as_ref().unwrap().offset_us, 1_100);
        assert_eq!(r.max_uncertainty_us, Some(900));
        assert_eq!(r.max_step_us, 250);
        assert_eq!(r.measurements, 3);
    }

    #[test]
    fn no_server_leaves_the_clock_unsynced_and_says_why() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let server: Server = format!("127.0.0.1:{}", silent.local_addr().unwrap().port())
            .parse()
            .unwrap();
        let sync = ClockSync::start(vec![server], 1, Duration::from_secs(3600), Arc::new(|| 0));
        assert_eq!(sync.offset_us(), None);
        assert_eq!(sync.reader().offset_us(), None);
        let r = sync.report();
        assert_eq!((r.measurements, r.failures), (0, 1));
        assert!(r.last_error.unwrap().contains("no NTP server answered"));
        // Dropping stops the background thread at once (the hour is not waited for).
    }
}
