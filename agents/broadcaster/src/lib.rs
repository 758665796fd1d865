//! The broadcaster's ingest and delivery side. Encoders push segments over HTTP
//! (`PUT`/`POST /live/{stream}/{seq}.ts`); each segment goes to a [`SegmentProcessor`] (the
//! transcoding network, which pays orchestrators and lives elsewhere), its renditions are
//! recorded to disk and then published as HLS (`/live/{stream}/index.m3u8`).
//!
//! Follow one segment: `ingest` reads the push, `broadcaster` runs it through the processor,
//! `recording` writes it to disk and `registry` publishes it into the per-stream state of
//! `stream`; `hls` serves the `playlist`s that viewers poll, and `lifecycle` ends streams.
//! [`network`] is the processor that pays orchestrators found on-chain to do the transcoding.

pub mod access;
mod admin;
mod broadcaster;
mod catalog;
mod config;
mod error;
pub mod gate;
mod hls;
mod ingest;
mod lifecycle;
pub mod network;
mod playlist;
mod processor;
mod recording;
mod registry;
mod reply;
mod routes;
mod stream;
mod web;

use std::sync::Arc;

use axum::Router;

pub use catalog::{RenditionSummary, StreamCounts, StreamSummary, Streams};
pub use config::{BroadcasterConfig, DEFAULT_MAX_ENDED_STREAMS, DEFAULT_MAX_LIVE_STREAMS};
pub use error::ApiError;
pub use gate::{SegmentRequest, VIEWER_HEADER, ViewerGate};
pub use processor::{
    BoxFuture, IncomingSegment, ProcessError, RenditionOut, SegmentFormat, SegmentProcessor,
};
pub use recording::RecordingError;
pub use stream::is_valid_name as is_valid_stream_name;

use broadcaster::Broadcaster;

/// The broadcaster's HTTP API:
///
/// | Method | Path | |
/// |---|---|---|
/// | `PUT`, `POST` | `/live/{stream}/{seq}.{ts,mp4}` | push a segment; JSON summary, or the renditions with `Accept: multipart/mixed` |
/// | `GET` | `/live/{stream}/index.m3u8` | master playlist |
/// | `GET` | `/live/{stream}/{rendition}.m3u8` | live media playlist |
/// | `GET` | `/live/{stream}/{rendition}/{seq}.{ts,mp4}` | rendition segment (a paid stream's: only through the [`ViewerGate`]) |
/// | `PUT`, `POST` | `/live/{key}/{stream}/{seq}.{ts,mp4}` | the same push with a stream key |
/// | `DELETE` | `/live/{stream}` | end the stream (the admin token, or keyless streams when keys are not required) |
/// | `DELETE` | `/live/{key}/{stream}` | end a stream of that key |
/// | `GET`, `POST` | `/v1/admin/keys` | list or create stream keys (admin token) |
/// | `DELETE` | `/v1/admin/keys/{id}` | revoke a stream key (admin token) |
/// | `GET` | `/` | the web page (streams, players, orchestrators, money), from `/v1/status` |
/// | `GET` | `/ui/{file}` | the page's script, style sheet and hls.js |
///
/// When `config.idle_timeout` is set, a background task ends idle streams; it stops when the
/// router is dropped. At most `config.max_live_streams` streams are live (a push that would open
/// one more gets `429 too_many_streams`), and the newest `config.max_ended_streams` ended ones
/// are kept in memory; older ones are 404 to viewers, their recordings stay on disk.
///
/// # Panics
/// Outside a Tokio runtime when `config.idle_timeout` is set.
/// Also panics when the stream keys in `config.data_dir` cannot be opened ([`try_router_and_streams`]
/// reports that instead).
pub fn router(config: BroadcasterConfig, processor: Arc<dyn SegmentProcessor>) -> Router {
    router_and_streams(config, processor).0
}

/// [`router`], with the read-only listing of its streams that a status API (the network's
/// `GET /v1/status`) is built on.
///
/// # Panics
/// Outside a Tokio runtime when `config.idle_timeout` is set.
pub fn router_and_streams(
    config: BroadcasterConfig,
    processor: Arc<dyn SegmentProcessor>,
) -> (Router, Streams) {
    try_router_and_streams(config, processor)
        .unwrap_or_else(|err| panic!("opening the broadcaster's stream keys: {err}"))
}

/// [`router_and_streams`], reporting a key store that cannot be opened.
///
/// # Panics
/// Outside a Tokio runtime when `config.idle_timeout` is set.
pub fn try_router_and_streams(
    config: BroadcasterConfig,
    processor: Arc<dyn SegmentProcessor>,
) -> Result<(Router, Streams), access::AccessError> {
    let idle_timeout = config.idle_timeout;
    let broadcaster = Arc::new(Broadcaster::new(config, processor)?);
    if let Some(idle) = idle_timeout {
        lifecycle::spawn_idle_reaper(Arc::downgrade(&broadcaster), idle);
    }
    let streams = Streams(Arc::clone(&broadcaster));
    Ok((routes::build(broadcaster), streams))
}
