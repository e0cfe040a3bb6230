//! Adaptive subsampling for live scoring: which frames to offer a scorer that may not keep up.

/// Frames waiting for a scorer, per stream: small, so memory stays flat and a slow scorer
/// shows up at once as skipped frames.
pub const QUEUE_FRAMES: usize = 4;

/// Chooses which frames to offer the scorer: every `step`th, where `step` doubles when the
/// queue is full and shrinks again after a calm stretch. Pure state, no clock.
#[derive(Debug, Clone)]
pub struct Subsampler {
    step: u32,
    since: u32,
    calm: u32,
}

const MAX_STEP: u32 = 64;
/// Offers in a row that found the queue (nearly) empty before `step` shrinks by one.
const CALM_OFFERS: u32 = 10;

impl Default for Subsampler {
    fn default() -> Self {
        Self {
            step: 1,
            since: 0,
            calm: 0,
        }
    }
}

impl Subsampler {
    /// Whether this frame is due to be offered.
    pub fn due(&mut self) -> bool {
        self.since += 1;
        if self.since >= self.step {
            self.since = 0;
            true
        } else {
            false
        }
    }

    /// What the offer met: rejected (queue full), or accepted with `backlog` frames waiting.
    pub fn feedback(&mut self, accepted: bool, backlog: usize) {
        if !accepted {
            self.step = (self.step * 2).min(MAX_STEP);
            self.calm = 0;
        } else if backlog <= 1 {
            self.calm += 1;
            if self.calm >= CALM_OFFERS && self.step > 1 {
                self.step -= 1;
                self.calm = 0;
            }
        } else {
            self.calm = 0;
        }
    }

    pub fn step(&self) -> u32 {
        self.step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsampler_backs_off_when_full_and_recovers_when_calm() {
        let mut s = Subsampler::default();
        assert!((0..5).all(|_| s.due()), "step 1 offers every frame");
        s.feedback(false, QUEUE_FRAMES);
        s.feedback(false, QUEUE_FRAMES);
        assert_eq!(s.step(), 4);
        let offered = (0..40).filter(|_| s.due()).count();
        assert_eq!(offered, 10, "every 4th frame");
        for _ in 0..CALM_OFFERS {
            s.feedback(true, 0);
        }
        assert_eq!(s.step(), 3);
        for _ in 0..100 {
            s.feedback(false, QUEUE_FRAMES);
        }
        assert_eq!(s.step(), MAX_STEP);
        for _ in 0..(CALM_OFFERS * MAX_STEP) {
            s.feedback(true, 1);
        }
        assert_eq!(s.step(), 1);
    }

    #[test]
    fn a_busy_backlog_resets_the_calm_count() {
        let mut s = Subsampler::default();
        s.feedback(false, QUEUE_FRAMES);
        for _ in 0..CALM_OFFERS - 1 {
            s.feedback(true, 0);
        }
        s.feedback(true, 3);
        s.feedback(true, 0);
        assert_eq!(s.step(), 2, "calm must be consecutive");
    }
}
