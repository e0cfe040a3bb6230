//! Reading streams through ffmpeg: the input and its protocol (parsed once), argv building
//! (pure) and the reader that spawns and reads.

pub mod argv;
pub mod audio;
pub mod input;
pub mod pool;
pub mod reader;
pub mod receiver;
pub mod tap;
pub mod udp;
pub mod window;

pub use argv::ReaderOptions;
pub use input::{ContentKey, Input, Protocol};
pub use pool::{FrameBuf, FramePool};
pub use reader::{InputInfo, RawFrame, Reader, Received, Stopper, WallClock};
