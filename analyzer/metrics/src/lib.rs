//! streamscope's metrics: pure functions over frame arrivals, frame numbers, timecodes and
//! quality scores (no I/O, no clock). Every number in a run folder, a plot or a live gauge is
//! computed here, once; the analyzer feeds it, the report crate formats it.

pub mod av;
pub mod bitrate;
pub mod classify;
pub mod live;
pub mod loss;
pub mod quality;
pub mod seen;
pub mod series;
pub mod stats;
pub mod stream;
pub mod timeline;
pub mod window;

pub use classify::{Classifier, FrameArrival, FrameKind, FrameRow};
pub use loss::ControlFrame;
pub use quality::{MeanMin, VmafSummary};
pub use stats::{Distribution, FREEZE_INTERVALS};
pub use stream::{Smoothness, StreamContext, smoothness};
pub use timeline::{Delivered, StreamEnd, Transport};
pub use window::{Periods, Window};
