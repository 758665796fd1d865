//! The errors the HTTP side answers with: one status and one stable code each, rendered as
//! `{ "error": { "code": "...", "message": "..." } }`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::processor::ProcessError;
use crate::recording::RecordingError;

/// An error reply of the broadcaster's HTTP API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A malformed URL, stream name, sequence number or header.
    #[error("{0}")]
    BadRequest(String),
    /// A push with an extension other than `.ts` or `.mp4`.
    #[error("unsupported segment format {0:?}; push .ts or .mp4")]
    UnsupportedFormat(String),
    /// A body over the configured limit.
    #[error("segment larger than {limit} bytes")]
    SegmentTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// An empty or undecodable segment.
    #[error("{0}")]
    BadSegment(String),
    /// The transcoding network could not take the segment.
    #[error("{0}")]
    NoOrchestrator(String),
    /// Every orchestrator is full: a new stream is refused while the running ones keep real time.
    #[error("{0}")]
    NoCapacity(String),
    /// A stream, rendition or segment that is not (or no longer) published.
    #[error("{0}")]
    UnknownStream(String),
    /// A push to a stream that was ended by `DELETE` or by the idle rule.
    #[error("stream {0:?} has ended; push under a new stream name")]
    StreamEnded(String),
    /// The processor answered with renditions that cannot be published.
    #[error("unusable renditions: {0}")]
    InvalidRenditions(String),
    /// Writing the recording failed, so the segment was not published.
    #[error(transparent)]
    Recording(#[from] RecordingError),
    /// A chain read (e.g. the deposit for the status page) failed.
    #[error("chain read failed: {0}")]
    ChainUnavailable(String),
    /// A failure inside the broadcaster, such as a panicking processor.
    #[error("{0}")]
    Internal(String),
    /// A push or an admin call without the credential it needs (`stream_key_required`,
    /// `invalid_stream_key`, `admin_token_required`).
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// A valid key used on a stream that belongs to another key.
    #[error("{0}")]
    Forbidden(String),
    /// A key past its segments per minute.
    #[error("this stream key may push {0} segments a minute; slow down")]
    RateLimited(u32),
    /// A key that already keeps its most streams live.
    #[error("this stream key may keep {0} streams live at once; end one first")]
    TooManyStreams(u32),
    /// A push that would open one more stream than the broadcaster keeps live, all keys
    /// together.
    #[error(
        "this broadcaster keeps at most {0} streams live at once; try again when one has ended"
    )]
    TooManyLiveStreams(usize),
    /// An admin call naming a key that does not exist.
    #[error("no stream key {0}")]
    UnknownKey(i64),
    /// A route that exists, called with the wrong method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Refused by the viewer gate (paid playback): its own status and code.
    #[error("{message}")]
    Gate {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// A path outside the API.
    #[error("no such route")]
    NotFound,
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::BadSegment(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedFormat(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::SegmentTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NoOrchestrator(_) | Self::NoCapacity(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::UnknownStream(_) | Self::NotFound => StatusCode::NOT_FOUND,
            Self::StreamEnded(_) => StatusCode::CONFLICT,
            Self::InvalidRenditions(_) | Self::ChainUnavailable(_) => StatusCode::BAD_GATEWAY,
            Self::Recording(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::RateLimited(_) | Self::TooManyStreams(_) | Self::TooManyLiveStreams(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::UnknownKey(_) => StatusCode::NOT_FOUND,
            Self::Gate { status, .. } => *status,
        }
    }

    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::UnsupportedFormat(_) => "unsupported_format",
            Self::SegmentTooLarge { .. } => "segment_too_large",
            Self::BadSegment(_) => "bad_segment",
            Self::NoOrchestrator(_) => "no_orchestrator",
            Self::NoCapacity(_) => "no_capacity",
            Self::UnknownStream(_) => "unknown_stream",
            Self::StreamEnded(_) => "stream_ended",
            Self::InvalidRenditions(_) => "invalid_renditions",
            Self::Recording(_) => "recording_failed",
            Self::ChainUnavailable(_) => "chain_unavailable",
            Self::Internal(_) => "internal",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::NotFound => "not_found",
            Self::Unauthorized { code, .. } => code,
            Self::Forbidden(_) => "forbidden",
            Self::RateLimited(_) => "rate_limited",
            Self::TooManyStreams(_) => "stream_limit",
            Self::TooManyLiveStreams(_) => "too_many_streams",
            Self::UnknownKey(_) => "unknown_key",
            Self::Gate { code, .. } => code,
        }
    }
}

impl From<ProcessError> for ApiError {
    fn from(err: ProcessError) -> Self {
        match err {
            ProcessError::BadSegment(msg) => Self::BadSegment(msg),
            ProcessError::Unavailable(msg) => Self::NoOrchestrator(msg),
            ProcessError::NoCapacity(msg) => Self::NoCapacity(msg),
        }
    }
}

impl ApiError {
    /// `{ "code": "...", "message": "..." }`: the error object of a reply, also embedded where
    /// one part of an answer failed (the status page's chain read).
    pub fn body(&self) -> serde_json::Value {
        json!({ "code": self.code(), "message": self.to_string() })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.body() });
        (self.status(), Json(body)).into_response()
    }
}
