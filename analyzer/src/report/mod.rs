//! Writing results: `frames.csv` while measuring, then `events.csv`, `summary.json` and
//! `summary.csv`. Formatting only; the numbers come from `metrics`.

pub mod frames;
pub mod quality;
pub mod summary;
pub mod thresholds;

pub use frames::FramesCsv;
pub use summary::{Summary, summarize};
