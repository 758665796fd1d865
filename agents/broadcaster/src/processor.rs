//! The seam between ingest and the transcoding network: one pushed segment goes in, its
//! renditions come out. The real implementation pays orchestrators and lives elsewhere; this
//! crate only needs the trait.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use serde::Serialize;

/// A boxed, sendable future, so the trait stays object-safe without `async_trait`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Turns one pushed segment into renditions.
pub trait SegmentProcessor: Send + Sync + 'static {
    /// Transcodes `segment`. The broadcaster publishes the result only if every rendition is
    /// well formed, so an implementation never has to undo anything on failure.
    fn process(
        &self,
        segment: IncomingSegment,
    ) -> BoxFuture<'static, Result<Vec<RenditionOut>, ProcessError>>;

    /// The broadcaster dropped `stream` from memory (an ended stream past the ones it keeps, or
    /// one that never published): an implementation that keeps anything per stream drops it, so
    /// that its memory stays bounded with the broadcaster's. Nothing by default.
    fn forget(&self, stream: &str) {
        let _ = stream;
    }

    /// A segment of `stream` was published, which took `took` after its renditions came back
    /// (recording and playlists): the last stage of its time. Nothing by default.
    fn published(&self, stream: &str, took: std::time::Duration) {
        let _ = (stream, took);
    }
}

/// The container of a segment, chosen by the extension of the push URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentFormat {
    /// MPEG transport stream (`.ts`).
    Ts,
    /// MP4 (`.mp4`).
    Mp4,
}

impl SegmentFormat {
    /// Parses a file extension (without the dot).
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "ts" => Some(Self::Ts),
            "mp4" => Some(Self::Mp4),
            _ => None,
        }
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Ts => "ts",
            Self::Mp4 => "mp4",
        }
    }

    /// The MIME type served for segments in this container.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Ts => "video/mp2t",
            Self::Mp4 => "video/mp4",
        }
    }
}

impl fmt::Display for SegmentFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// One segment as pushed by the encoder.
#[derive(Debug, Clone)]
pub struct IncomingSegment {
    /// The stream name from the push URL.
    pub stream: String,
    /// The sequence number from the push URL.
    pub seq: u64,
    /// The container, from the push URL's extension.
    pub format: SegmentFormat,
    /// The segment as received.
    pub bytes: Bytes,
    /// The duration in seconds announced by the pusher (`Content-Duration`, in ms), if any.
    pub duration_hint: Option<f64>,
    /// How long its body took to arrive.
    pub received_in: std::time::Duration,
}

/// One rendition of a segment.
#[derive(Debug, Clone)]
pub struct RenditionOut {
    /// Rendition name, e.g. `"360p"`; the same name across segments makes one HLS variant.
    pub name: String,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Nominal bitrate of the rendition in bits per second.
    pub bandwidth_bps: u64,
    /// RFC 6381 codecs string (`"avc1.42c01e,mp4a.40.2"`) when the processor knows it.
    pub codecs: Option<String>,
    /// The container of `bytes`.
    pub container: SegmentFormat,
    /// The encoded segment.
    pub bytes: Bytes,
    /// The segment's duration in seconds.
    pub duration_s: f64,
}

/// Why a segment could not be processed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProcessError {
    /// The segment itself is unusable (empty, not decodable); retrying elsewhere will not help.
    #[error("bad segment: {0}")]
    BadSegment(String),
    /// No orchestrator could transcode the segment right now.
    #[error("no orchestrator available: {0}")]
    Unavailable(String),
    /// Every orchestrator tried is full: none takes on another stream now (the streams they hold
    /// go on).
    #[error("no orchestrator has capacity for this stream now: {0}")]
    NoCapacity(String),
}
