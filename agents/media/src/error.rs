//! The crate's error type. [`MediaError::BadSegment`] is the caller's fault (an HTTP layer answers
//! 400 `bad_segment`); every other variant is ours (500).

use crate::profile::LadderError;

/// Errors from probing, transcoding and generating media.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The input is not a decodable segment: garbage, truncated, the wrong container, no video.
    #[error("bad segment: {reason}")]
    BadSegment { reason: String },
    /// The ladder asked for is not usable.
    #[error("invalid ladder: {0}")]
    Ladder(#[from] LadderError),
    /// ffmpeg or ffprobe is not installed (or not on PATH).
    #[error("{tool} not found on PATH; install ffmpeg")]
    ToolMissing { tool: &'static str },
    /// ffmpeg or ffprobe failed on an input that decodes: a fault on our side.
    #[error("{tool} failed ({status}): {stderr_tail}")]
    ToolFailed {
        tool: &'static str,
        status: String,
        stderr_tail: String,
    },
    /// ffmpeg or ffprobe ran past its wall-time limit ([`crate::ToolLimits::wall`]) and was
    /// killed.
    #[error("{tool} ran longer than {after:?} and was stopped")]
    ToolTimedOut {
        tool: &'static str,
        after: std::time::Duration,
    },
    /// ffmpeg or ffprobe printed or wrote more than its limit ([`crate::ToolLimits`]) allows:
    /// `what` is `stdout` or the output file.
    #[error("{tool} output {what} reached the limit of {limit} bytes")]
    ToolOutputTooLarge {
        tool: &'static str,
        what: String,
        limit: u64,
    },
    /// A tool succeeded but its output was not what we expected.
    #[error("unexpected {tool} output: {detail}")]
    UnexpectedOutput { tool: &'static str, detail: String },
    /// A caller passed arguments this crate cannot act on (a programming error, not bad media).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// rav1e failed.
    #[error(transparent)]
    Av1Encoder(#[from] peerflow_av1enc::Av1EncError),
    /// Reading or writing a temporary file failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl MediaError {
    /// Whether the input was at fault (answer 400 `bad_segment`) rather than this node (500).
    pub fn is_bad_segment(&self) -> bool {
        matches!(self, MediaError::BadSegment { .. })
    }

    /// A stable machine-readable code: `bad_segment`, `invalid_ladder`, `tool_missing`,
    /// `tool_failed`, `tool_timed_out`, `tool_output_too_large`, `unexpected_output`,
    /// `invalid_argument`, `av1_encoder` or `io`.
    pub fn code(&self) -> &'static str {
        match self {
            MediaError::BadSegment { .. } => "bad_segment",
            MediaError::Ladder(_) => "invalid_ladder",
            MediaError::ToolMissing { .. } => "tool_missing",
            MediaError::ToolFailed { .. } => "tool_failed",
            MediaError::ToolTimedOut { .. } => "tool_timed_out",
            MediaError::ToolOutputTooLarge { .. } => "tool_output_too_large",
            MediaError::UnexpectedOutput { .. } => "unexpected_output",
            MediaError::InvalidArgument(_) => "invalid_argument",
            MediaError::Av1Encoder(_) => "av1_encoder",
            MediaError::Io { .. } => "io",
        }
    }

    pub(crate) fn bad_segment(reason: impl Into<String>) -> Self {
        MediaError::BadSegment {
            reason: reason.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        MediaError::Io {
            context: context.into(),
            source,
        }
    }
}
