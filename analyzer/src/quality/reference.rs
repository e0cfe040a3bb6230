//! Where live scorers take their reference frames: the control's frames shared with its
//! decoder (by frame number, first sightings), or a reference file read ahead.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::ReferenceWindow;
use super::offline::ReferenceFeed;
use crate::Error;
use crate::ingest::FrameBuf;

/// How long a scorer waits for a reference frame that has not arrived yet (realtime).
const REFERENCE_WAIT: Duration = Duration::from_secs(2);

struct RefState {
    window: ReferenceWindow<Arc<FrameBuf>>,
    ended: bool,
    /// Per scorer, the frame number it wants now (u64::MAX once it is done).
    progress: Vec<u64>,
}

/// The control's frames by frame number, shared between its decoder and the scorers.
pub struct SharedReference {
    state: Mutex<RefState>,
    changed: Condvar,
    exhaustive: bool,
}

impl SharedReference {
    /// A window of `capacity` frames for `scorers` scorers.
    pub(super) fn new(capacity: usize, scorers: usize, exhaustive: bool) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(RefState {
                window: ReferenceWindow::new(capacity),
                ended: false,
                progress: vec![0; scorers],
            }),
            changed: Condvar::new(),
            exhaustive,
        })
    }

    fn lock(&self) -> MutexGuard<'_, RefState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Add the control's first sighting of `frame`. With `exhaustive`, waits while the window
    /// is full of frames some scorer may still need.
    pub fn insert(&self, frame: u64, data: Arc<FrameBuf>) {
        let mut s = self.lock();
        if self.exhaustive {
            while s.window.len() >= s.window.capacity()
                && s.window
                    .oldest()
                    .is_some_and(|o| o >= s.progress.iter().copied().min().unwrap_or(u64::MAX))
            {
                s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
            }
        }
        if s.window.get(frame).is_none() {
            s.window.insert(frame, data);
        }
        drop(s);
        self.changed.notify_all();
    }

    /// The control ended: nothing more will arrive.
    pub fn end(&self) {
        self.lock().ended = true;
        self.changed.notify_all();
    }

    pub(super) fn wait_for(&self, scorer: usize, frame: u64) -> Option<Arc<FrameBuf>> {
        let mut s = self.lock();
        s.progress[scorer] = frame;
        self.changed.notify_all();
        let deadline = Instant::now() + REFERENCE_WAIT;
        loop {
            if let Some(d) = s.window.get(frame) {
                return Some(d.clone());
            }
            if s.ended || s.window.newest().is_some_and(|n| n > frame) {
                return None;
            }
            if self.exhaustive {
                s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
            } else {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                s = self
                    .changed
                    .wait_timeout(s, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
    }

    pub(super) fn done(&self, scorer: usize) {
        self.lock().progress[scorer] = u64::MAX;
        self.changed.notify_all();
    }
}

/// Where one scorer takes its reference frames.
pub(super) enum RefFeed {
    Shared(Arc<SharedReference>, usize),
    File(Box<ReferenceFeed<Arc<FrameBuf>>>),
}

impl RefFeed {
    pub(super) fn get(&mut self, frame: u64) -> Result<Option<Arc<FrameBuf>>, Error> {
        match self {
            RefFeed::Shared(shared, i) => Ok(shared.wait_for(*i, frame)),
            RefFeed::File(reference) => Ok(reference.get(frame, Arc::new)?.cloned()),
        }
    }

    pub(super) fn finish(&self) {
        if let RefFeed::Shared(shared, i) = self {
            shared.done(*i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(capacity: usize, exhaustive: bool, scorers: usize) -> Arc<SharedReference> {
        SharedReference::new(capacity, scorers, exhaustive)
    }

    fn buf(b: u8) -> Arc<FrameBuf> {
        Arc::new(FrameBuf::from(vec![b]))
    }

    #[test]
    fn shared_window_keeps_first_sightings_and_answers_misses() {
        let s = shared(3, false, 1);
        s.insert(5, buf(1));
        s.insert(5, buf(2));
        s.insert(6, buf(3));
        assert_eq!(
            s.wait_for(0, 5).unwrap()[..],
            [1],
            "duplicates do not replace"
        );
        assert!(s.wait_for(0, 4).is_none(), "older than the newest: gone");
        s.end();
        assert!(s.wait_for(0, 7).is_none(), "ended: not coming");
    }

    #[test]
    fn exhaustive_control_waits_for_the_scorer() {
        let s = shared(2, true, 1);
        s.insert(0, buf(0));
        s.insert(1, buf(1));
        let s2 = s.clone();
        let control = std::thread::spawn(move || {
            for f in 2..6 {
                s2.insert(f, buf(f as u8));
            }
            s2.end();
        });
        // The scorer asks for every frame in turn; none may have been evicted before.
        for f in 0..6u64 {
            assert_eq!(s.wait_for(0, f).unwrap()[..], [f as u8], "frame {f}");
        }
        s.done(0);
        control.join().unwrap();
    }
}
