//! streamscope's analyzer: reads streams through ffmpeg, decodes their timecodes and measures
//! latency, frame loss and smoothness.

mod error;
pub mod ingest;
pub mod metrics;
pub mod plot;
pub mod priority;
pub mod qr;
pub mod report;
pub mod session;
pub mod vmaf;
#[cfg(feature = "wechat")]
pub mod wechat;

pub use error::Error;
pub use qr::{GrayFrame, QrMiss, QrTracker, decode_timecode};
