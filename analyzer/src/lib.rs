//! streamscope's analyzer: reading the generator's timecodes back out of decoded frames.

pub mod qr;

pub use qr::{GrayFrame, QrMiss, decode_timecode};
