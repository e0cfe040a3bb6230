//! Where a rotated run's scorers hand over scores: each scorer flushes libvmaf when its
//! frames cross into the next period (or it has been idle a second), publishes the scores
//! with how far they reach, and starts a fresh context, so libvmaf's memory and the scores
//! held never grow with the run. Every frame left unscored is noted with its reason by its
//! sequence number, so a period counts exactly its own rows' reasons (however far the scorer
//! lags). The recorder takes each period's scores and reasons when it closes.

use std::collections::HashMap;
use std::sync::Mutex;

use report::summary::Unscored;

use super::FrameScores;

/// Why a frame got no score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Left out by the live subsampler (or libvmaf's `--vmaf-subsample`).
    Subsampled,
    /// The scorer's queue was full.
    Busy,
    /// No timecode: nothing to pair it by.
    Unreadable,
    /// The reference had no frame with its number.
    NoReferenceFrame,
}

#[derive(Debug, Default)]
struct Board {
    scores: HashMap<u64, FrameScores>,
    unscored: HashMap<u64, Why>,
    /// Every frame offered with an arrival before this has been scored (or skipped).
    through_us: i64,
    error: Option<String>,
    /// The scorer has finished; nothing more will come.
    done: bool,
}

/// Scores of a rotated run, by live stream (session index).
#[derive(Debug, Default)]
pub struct ScoreBoard {
    streams: Mutex<HashMap<usize, Board>>,
}

/// What a period takes from the board for one stream.
#[derive(Debug, Default)]
pub struct Taken {
    pub scores: HashMap<u64, FrameScores>,
    /// The period's frames left unscored, by reason.
    pub unscored: Unscored,
    pub error: Option<String>,
}

impl ScoreBoard {
    /// A scorer hands over: scores of frames arriving before `through_us`.
    pub fn publish(
        &self,
        stream: usize,
        scores: impl IntoIterator<Item = (u64, FrameScores)>,
        through_us: i64,
    ) {
        if let Ok(mut m) = self.streams.lock() {
            let b = m.entry(stream).or_default();
            b.scores.extend(scores);
            b.through_us = b.through_us.max(through_us);
        }
    }

    /// Frame `seq` of `stream` gets no score, for `why`.
    pub fn note(&self, stream: usize, seq: u64, why: Why) {
        if let Ok(mut m) = self.streams.lock() {
            m.entry(stream).or_default().unscored.insert(seq, why);
        }
    }

    /// The scorer stopped (after its last `publish`), with its error if it failed.
    pub fn finish(&self, stream: usize, error: Option<String>) {
        if let Ok(mut m) = self.streams.lock() {
            let b = m.entry(stream).or_default();
            b.done = true;
            b.error = b.error.take().or(error);
        }
    }

    /// Whether every frame of `stream` that arrived before `us` has been handed over (a
    /// stream without a scorer always is).
    pub fn reaches(&self, stream: usize, us: i64) -> bool {
        self.streams
            .lock()
            .map(|m| m.get(&stream).is_none_or(|b| b.done || b.through_us >= us))
            .unwrap_or(true)
    }

    /// Take the scores and reasons of frames `seqs` (a period's rows); anything older than
    /// the newest of them is dropped (it belonged to an earlier period).
    pub fn take(&self, stream: usize, seqs: impl IntoIterator<Item = u64>) -> Taken {
        let Ok(mut m) = self.streams.lock() else {
            return Taken::default();
        };
        let Some(b) = m.get_mut(&stream) else {
            return Taken::default();
        };
        let mut last = None;
        let mut unscored = Unscored::default();
        let mut scores = HashMap::new();
        for s in seqs {
            last = last.max(Some(s));
            if let Some(v) = b.scores.remove(&s) {
                scores.insert(s, v);
            }
            match b.unscored.remove(&s) {
                Some(Why::Subsampled) => unscored.subsampled += 1,
                Some(Why::Busy) => unscored.busy += 1,
                Some(Why::Unreadable) => unscored.unreadable += 1,
                Some(Why::NoReferenceFrame) => unscored.no_reference_frame += 1,
                None => {}
            }
        }
        if let Some(last) = last {
            b.scores.retain(|&s, _| s > last);
            b.unscored.retain(|&s, _| s > last);
        }
        Taken {
            scores,
            unscored,
            error: b.error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: f64) -> FrameScores {
        FrameScores {
            vmaf: v,
            psnr_y: v,
            ssim: v,
        }
    }

    #[test]
    fn periods_take_their_own_scores_and_reasons() {
        let b = ScoreBoard::default();
        assert!(b.reaches(0, 1_000), "no scorer: nothing to wait for");
        b.publish(0, [(1, s(90.0)), (2, s(91.0))], 500);
        assert!(b.reaches(0, 500) && !b.reaches(0, 501));
        // A lagging scorer: frames of the next period (5, 6) are noted before this one closes.
        b.note(0, 3, Why::Busy);
        b.note(0, 5, Why::Busy);
        b.note(0, 6, Why::Subsampled);
        let t = b.take(0, [1, 2, 3]);
        assert_eq!(t.scores.len(), 2);
        assert_eq!(t.unscored.busy, 1, "only its own frame's reason");
        b.publish(0, [(4, s(80.0))], 900);
        let t = b.take(0, [4, 5, 6]);
        assert_eq!(
            (t.scores.len(), t.unscored.busy, t.unscored.subsampled),
            (1, 1, 1)
        );
        let t = b.take(0, []);
        assert_eq!(t.unscored, Unscored::default(), "counted once");
        b.finish(0, Some("libvmaf failed".into()));
        assert!(b.reaches(0, i64::MAX));
        assert_eq!(b.take(0, []).error.as_deref(), Some("libvmaf failed"));
    }
}
