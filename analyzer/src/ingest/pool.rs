//! Recycled frame buffers: a decoded frame's bytes go back to the stream's pool when the
//! last holder (decoder, reference window, scorer) lets go, and the reader fills them again.
//! A run then allocates its frames once instead of 30 times a second, so the allocator has
//! no freed frames to keep (a 24/7 run's RSS stays flat).

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

/// Idle buffers a pool keeps; more are freed. Frames in flight (queues, the reference
/// window) are not idle: this only covers what comes back between two reads.
const MAX_IDLE: usize = 16;

/// One stream's idle frame buffers (cheap to clone: shared).
#[derive(Clone, Default, Debug)]
pub struct FramePool {
    idle: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl FramePool {
    /// A buffer of `len` bytes: an idle one when there is one (its old contents are left:
    /// the caller overwrites them all), else a new zeroed one.
    pub fn take(&self, len: usize) -> FrameBuf {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let bytes = match idle {
            Some(b) if b.len() == len => b,
            Some(mut b) => {
                b.clear();
                b.resize(len, 0);
                b
            }
            None => vec![0; len],
        };
        FrameBuf {
            bytes,
            pool: Some(self.clone()),
        }
    }

    /// A pooled copy of `data`.
    pub fn copy(&self, data: &[u8]) -> FrameBuf {
        let mut buf = self.take(data.len());
        buf.copy_from_slice(data);
        buf
    }

    fn give(&self, bytes: Vec<u8>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(bytes);
        }
    }

    /// Idle buffers held now.
    pub fn idle(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// A frame's bytes; returned to its pool on drop.
#[derive(Debug, Default)]
pub struct FrameBuf {
    bytes: Vec<u8>,
    pool: Option<FramePool>,
}

impl FrameBuf {
    /// A pooled copy of these bytes (from the same pool).
    pub fn pooled_copy(&self) -> FrameBuf {
        match &self.pool {
            Some(pool) => pool.copy(&self.bytes),
            None => FrameBuf::from(self.bytes.clone()),
        }
    }
}

impl From<Vec<u8>> for FrameBuf {
    /// Bytes that belong to no pool (freed on drop).
    fn from(bytes: Vec<u8>) -> Self {
        FrameBuf { bytes, pool: None }
    }
}

impl Clone for FrameBuf {
    fn clone(&self) -> Self {
        self.pooled_copy()
    }
}

impl Deref for FrameBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl DerefMut for FrameBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

impl Drop for FrameBuf {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.give(std::mem::take(&mut self.bytes));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_buffer_is_filled_again_without_a_new_allocation() {
        let pool = FramePool::default();
        let a = pool.take(1000);
        let at = a.as_ptr();
        assert_eq!(pool.idle(), 0);
        drop(a);
        assert_eq!(pool.idle(), 1);
        let b = pool.take(1000);
        assert_eq!(b.as_ptr(), at, "the same allocation comes back");
        assert_eq!(pool.idle(), 0);
    }

    #[test]
    fn the_last_holder_of_a_shared_frame_returns_it() {
        let pool = FramePool::default();
        let a = Arc::new(pool.take(8));
        let b = a.clone();
        drop(a);
        assert_eq!(pool.idle(), 0, "still held");
        drop(b);
        assert_eq!(pool.idle(), 1);
    }

    #[test]
    fn sizes_change_and_idle_buffers_are_bounded() {
        let pool = FramePool::default();
        let bufs: Vec<_> = (0..MAX_IDLE + 5).map(|_| pool.take(4)).collect();
        drop(bufs);
        assert_eq!(pool.idle(), MAX_IDLE);
        let big = pool.take(10);
        assert_eq!(big.len(), 10);
        assert!(big.iter().all(|&b| b == 0), "a resized buffer is zeroed");
        let copy = pool.copy(&[1, 2, 3]);
        assert_eq!(&copy[..], &[1, 2, 3]);
        assert_eq!(&copy.clone()[..], &[1, 2, 3]);
        assert!(FrameBuf::from(vec![7]).pooled_copy().len() == 1);
    }
}
