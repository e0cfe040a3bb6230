//! streamscope's analyzer: reads streams through ffmpeg (`ingest`), reads the timecode of
//! every frame (`qr`), runs a measuring session over live streams and a control (`session`),
//! scores quality with libvmaf paired by frame number (`quality`), and records a run into its
//! folder (`record`). The maths is in the `metrics` crate, the run folder in `report`.

mod error;
pub mod ingest;
pub mod priority;
pub mod qr;
pub mod quality;
pub mod record;
pub mod session;

pub use error::Error;
pub use qr::{GrayFrame, QrMiss, QrTracker, decode_timecode};
