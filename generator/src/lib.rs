//! streamscope's signal: the timecode format (v1), its schedule, stamping it into frames, and
//! the ffmpeg pipelines that render timecoded video. The analyzer imports the format from here.

pub mod argv;
pub mod clock;
pub mod frame;
pub mod outputs;
pub mod overlay;
pub mod process;
pub mod publish;
pub mod reaper;
pub mod render;
pub mod schedule;
/// The signal format (its own crate, so the analyzer's light crates can read it without the
/// generator's ffmpeg and QR-rendering dependencies).
pub use signal;
mod text;

pub use frame::PictureSize;
pub use overlay::{Compositor, Corner, Layout, Placement, Symbol};
pub use process::FfmpegFailure;
pub use qrcode::EcLevel;
pub use qrcode::canvas::MaskPattern;
pub use schedule::{FrameRate, Schedule};
pub use signal::{PayloadError, RangeError, Timecode};

/// Everything that can go wrong in the generator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{tool} not found {hint}")]
    ToolMissing { tool: String, hint: String },
    #[error("could not run {command}: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{stage} failed — {failure}")]
    Ffmpeg {
        stage: &'static str,
        failure: FfmpegFailure,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("content ended after {got} of {expected} frames")]
    ShortContent { got: u64, expected: u64 },
    #[error("frame size {size} is too small for the timecode overlay: {why}")]
    FrameTooSmall { size: PictureSize, why: String },
    #[error("frame buffer holds {got} bytes, a frame of this size needs {expected}")]
    FrameLength { expected: usize, got: usize },
    #[error("{0}")]
    Placement(String),
    #[error("{0}")]
    Output(String),
    #[error(transparent)]
    Range(#[from] RangeError),
}

impl Error {
    /// Name the pipeline stage of an ffmpeg failure ("decoding the content", "encoding").
    pub fn context(self, stage: &'static str) -> Self {
        match self {
            Error::Ffmpeg { failure, .. } => Error::Ffmpeg { stage, failure },
            other => other,
        }
    }
}
