//! Stopping a reader from another thread: its input ended (fed inputs hand over the frames
//! ffmpeg still holds), or its ffmpeg killed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use generator::process::FfmpegProcess;

use super::WallClock;
use crate::ingest::receiver::Feeder;

/// Stops a reader from another thread (deadline, Ctrl-C): kills its ffmpeg, which ends the
/// reader's stream cleanly.
#[derive(Clone)]
pub struct Stopper {
    pub(super) process: Arc<Mutex<Option<FfmpegProcess>>>,
    pub(super) stopped: Arc<AtomicBool>,
    /// An input fed by us (`udp://`, or a receiver): stopping closes ffmpeg's input, so it
    /// hands over the frames it still holds and ends by itself.
    pub(super) feed: Option<Feeder>,
    /// When `stop` was called (µs UTC on the reader's clock; 0: not yet).
    pub(super) stopped_at_us: Arc<std::sync::atomic::AtomicI64>,
    pub(super) clock: WallClock,
}

/// How long an ffmpeg whose input was closed has to end by itself before it is killed.
const END_GRACE: Duration = Duration::from_secs(3);

impl Stopper {
    pub fn stop(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        self.stopped_at_us
            .store(self.clock.now_us(), Ordering::SeqCst);
        match &self.feed {
            Some(feed) => {
                feed.end();
                let process = self.process.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(END_GRACE);
                    if let Ok(mut p) = process.lock()
                        && let Some(p) = p.as_mut()
                    {
                        p.kill();
                    }
                });
            }
            None => self.kill(),
        }
    }

    pub(super) fn kill(&self) {
        if let Some(feed) = &self.feed {
            feed.end();
        }
        if let Ok(mut p) = self.process.lock()
            && let Some(p) = p.as_mut()
        {
            p.kill();
        }
    }
}
