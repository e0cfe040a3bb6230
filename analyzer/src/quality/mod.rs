//! Quality scoring with libvmaf (the `vmaf` crate) fed from ffmpeg readers: frames paired by
//! their embedded frame number, a reference window whose size never grows with run length,
//! live scoring that never delays arrivals (`live`), and offline scoring of files (`offline`).

pub mod board;
pub mod live;
pub mod offline;
mod reference;
mod subsample;

use std::collections::BTreeMap;

pub use vmaf::{FrameScores, MODELS, Scorer, VmafError, Yuv420};

/// The newest VMAF score of each live stream (by session index), published by the scorers
/// while they run, for live metrics (`analyze --metrics`).
#[derive(Debug, Default)]
pub struct LatestScores(std::sync::Mutex<std::collections::HashMap<usize, f64>>);

impl LatestScores {
    pub fn get(&self, stream: usize) -> Option<f64> {
        self.0.lock().ok()?.get(&stream).copied()
    }

    pub fn set(&self, stream: usize, score: f64) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(stream, score);
        }
    }
}

/// Reference frames keyed by frame number, at most `capacity` of them: inserting beyond that
/// evicts the lowest frame number, so memory stays flat whatever the delay between streams.
#[derive(Debug)]
pub struct ReferenceWindow<T> {
    frames: BTreeMap<u64, T>,
    capacity: usize,
}

impl<T> ReferenceWindow<T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            frames: BTreeMap::new(),
            capacity: capacity.max(1),
        }
    }

    pub fn insert(&mut self, frame: u64, data: T) {
        self.frames.insert(frame, data);
        while self.frames.len() > self.capacity {
            self.frames.pop_first();
        }
    }

    pub fn get(&self, frame: u64) -> Option<&T> {
        self.frames.get(&frame)
    }

    /// Lowest frame number held.
    pub fn oldest(&self) -> Option<u64> {
        self.frames.first_key_value().map(|(k, _)| *k)
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Highest frame number held.
    pub fn newest(&self) -> Option<u64> {
        self.frames.last_key_value().map(|(k, _)| *k)
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_bounded_and_evicts_the_oldest() {
        let mut w = ReferenceWindow::new(300);
        for f in 0..100_000u64 {
            w.insert(f, vec![0; 4]);
            assert!(w.len() <= 300);
        }
        assert_eq!(w.len(), 300);
        assert!(w.get(99_699).is_none() && w.get(99_700).is_some());
        assert_eq!(w.newest(), Some(99_999));
    }
}
