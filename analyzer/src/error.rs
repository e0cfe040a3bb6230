//! The analyzer's error type.

/// Everything that can go wrong while analyzing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// ffmpeg could not be found or run, or failed (the message names the command and the
    /// tail of its stderr).
    #[error(transparent)]
    Generator(#[from] generator::Error),
    #[error(
        "unsupported URL {0}: streamscope reads files, http(s) (HLS/DASH), rtmp, srt, udp/rtp and rtsp"
    )]
    UnsupportedUrl(String),
    #[error("no video from {url} within {secs} s (unreachable, or nothing is being sent)")]
    OpenTimeout { url: String, secs: u64 },
    #[error("{url} did not come up within {secs} s ({attempts} attempts); the last one: {last}")]
    NotUp {
        url: String,
        secs: u64,
        attempts: u32,
        last: Box<Error>,
    },
    /// The run stopped (Ctrl-C, its deadline) while the source was being opened: not an error
    /// of the stream.
    #[error("no video from {url} before the run ended ({secs} s)")]
    NoVideoInRun { url: String, secs: u64 },
    #[error("{url} lists no segment yet (or could not be fetched)")]
    NothingListed { url: String },
    #[error("stopped while opening")]
    Cancelled,
    #[error("the {thread} thread panicked (a bug; the rows before it are kept)")]
    Panicked { thread: String },
    #[error("{path}: no such file")]
    NoSuchFile { path: String },
    #[error("{url} has no video stream")]
    NoVideo { url: String },
    /// A receiver (`ingest::receiver`) found no audio stream: the input is opened again
    /// without one (never reported).
    #[error("the stream has no audio to receive")]
    NoAudioToReceive,
    #[error(
        "no streamscope timecode found in the first {secs} s of {url} — was it made with `streamscope generate`/`publish`?"
    )]
    NoTimecode { url: String, secs: u64 },
    #[error(
        "no streamscope timecode found in the {corner} corner (--code-window) of {url} in the first {secs} s — the code is elsewhere or larger than `generate`'s default placement: run without --code-window, or name its corner"
    )]
    NoTimecodeInWindow {
        url: String,
        secs: u64,
        corner: generator::Corner,
    },
    #[error("{0}")]
    StreamName(String),
    #[error(transparent)]
    Vmaf(#[from] vmaf::VmafError),
    /// Writing or reading the run folder.
    #[error(transparent)]
    Report(#[from] report::Error),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}
