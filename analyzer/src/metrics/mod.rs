//! Metrics maths: pure functions over arrivals, frame numbers and timecodes (no I/O).

pub mod classify;
pub mod live;
pub mod stats;

pub use classify::{Classifier, FrameArrival, FrameKind, FrameRow};
pub use stats::{Distribution, Freeze};
