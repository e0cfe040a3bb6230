//! Reading streams through ffmpeg: argv building (pure) and the reader that spawns and reads.

pub mod argv;
pub mod reader;

pub use argv::{Protocol, ReaderOptions};
pub use reader::{InputInfo, RawFrame, Reader, Stopper, WallClock};
