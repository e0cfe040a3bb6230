//! Which frame numbers a stream has delivered, among the last `SEEN_WINDOW` below its highest:
//! a ring of bits, so a 24/7 run holds 8 KiB per stream from the first frame to the last.

/// Frame numbers remembered below the highest: a frame delivered again more than this many
/// numbers later (18 min at 60 fps) is taken for a late one, not a repeat.
pub const SEEN_WINDOW: u64 = 1 << 16;

const WORDS: usize = (SEEN_WINDOW / 64) as usize;

/// The numbers seen in `(highest - SEEN_WINDOW, highest]`.
#[derive(Debug, Default, Clone)]
pub struct SeenWindow {
    /// Bit `n % SEEN_WINDOW` is frame `n`, for `n` in the window; allocated at the first insert.
    bits: Vec<u64>,
    highest: Option<u64>,
}

impl SeenWindow {
    /// Whether `n` was inserted and is still inside the window.
    pub fn contains(&self, n: u64) -> bool {
        match self.highest {
            Some(h) if n <= h && h - n < SEEN_WINDOW => {
                let (w, b) = slot(n);
                self.bits[w] & (1 << b) != 0
            }
            _ => false,
        }
    }

    /// Note `n` as seen; a number above the highest moves the window up (what falls out of
    /// it is forgotten), one below the window is ignored.
    pub fn insert(&mut self, n: u64) {
        match self.highest {
            None => {
                self.bits = vec![0; WORDS];
                self.highest = Some(n);
            }
            Some(h) if n > h => {
                if n - h >= SEEN_WINDOW {
                    self.bits.fill(0);
                } else {
                    for f in h + 1..n {
                        let (w, b) = slot(f);
                        self.bits[w] &= !(1 << b);
                    }
                }
                self.highest = Some(n);
            }
            Some(h) if h - n >= SEEN_WINDOW => return,
            Some(_) => {}
        }
        let (w, b) = slot(n);
        self.bits[w] |= 1 << b;
    }

    /// Forget everything (the source restarted its count).
    pub fn clear(&mut self) {
        self.bits.fill(0);
        self.highest = None;
    }

    /// Bytes held, whatever the run's length.
    pub fn heap_bytes(&self) -> usize {
        self.bits.capacity() * std::mem::size_of::<u64>()
    }
}

fn slot(n: u64) -> (usize, u32) {
    let i = n % SEEN_WINDOW;
    ((i / 64) as usize, (i % 64) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_window_below_the_highest_and_nothing_older() {
        let mut s = SeenWindow::default();
        assert!(!s.contains(0));
        for n in [5, 7, 6] {
            s.insert(n);
        }
        assert!(s.contains(5) && s.contains(6) && s.contains(7));
        assert!(!s.contains(4) && !s.contains(8));
        // Moving up past the window forgets what fell out, and a skipped number stays unseen
        // although its bit held an older number's mark.
        s.insert(5 + SEEN_WINDOW);
        assert!(!s.contains(5), "fell out of the window");
        assert!(s.contains(7) && s.contains(6), "still inside");
        assert!(!s.contains(4 + SEEN_WINDOW), "never inserted");
        s.insert(7 + SEEN_WINDOW);
        assert!(
            !s.contains(6 + SEEN_WINDOW),
            "skipped: its slot was frame 6's"
        );
        assert!(!s.contains(6) && !s.contains(7));
        // Older than the window: ignored, not wrapped onto a live slot.
        s.insert(7);
        assert!(!s.contains(7) && s.contains(7 + SEEN_WINDOW));
        // A jump of more than the window clears it.
        s.insert(10 * SEEN_WINDOW);
        assert!(!s.contains(7 + SEEN_WINDOW) && s.contains(10 * SEEN_WINDOW));
        s.clear();
        assert!(!s.contains(10 * SEEN_WINDOW));
        s.insert(3);
        assert!(s.contains(3), "counts again from any number after a clear");
    }

    #[test]
    fn holds_the_same_bytes_after_a_day_at_60_fps() {
        let mut s = SeenWindow::default();
        assert_eq!(s.heap_bytes(), 0);
        s.insert(0);
        let first = s.heap_bytes();
        assert_eq!(first, (SEEN_WINDOW / 8) as usize);
        for n in 0..60 * 86_400 {
            s.insert(n);
        }
        assert_eq!(s.heap_bytes(), first);
        assert!(s.contains(60 * 86_400 - 1) && s.contains(60 * 86_400 - SEEN_WINDOW));
        assert!(!s.contains(60 * 86_400 - SEEN_WINDOW - 1));
    }
}
