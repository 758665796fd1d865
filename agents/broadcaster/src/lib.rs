//! The broadcaster's ingest and delivery side. Encoders push segments over HTTP
//! (`PUT`/`POST /live/{stream}/{seq}.ts`); each segment goes to a [`SegmentProcessor`] (the
//! transcoding network, which pays orchestrators and lives elsewhere), its renditions are
//! recorded to disk and then published as HLS (`/live/{stream}/index.m3u8`).
//!
//! Follow one segment: `ingest` reads the push, `broadcaster` runs it through the processor,
//! `recording` writes it to disk and `registry` publishes it into the per-stream state of
//! `stream`; `hls` serves the `playlist`s that viewers poll, and `lifecycle` ends streams.
//! [`network`] is the processor that pays orchestrators found on-chain to do the transcoding.

mod broadcaster;
mod config;
mod error;
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

use std::sync::Arc;

use axum::Router;

pub use config::BroadcasterConfig;
pub use error::ApiError;
pub use processor::{
    BoxFuture, IncomingSegment, ProcessError, RenditionOut, SegmentFormat, SegmentProcessor,
};
pub use recording::RecordingError;

use broadcaster::Broadcaster;

/// The broadcaster's HTTP API:
///
/// | Method | Path | |
/// |---|---|---|
/// | `PUT`, `POST` | `/live/{stream}/{seq}.{ts,mp4}` | push a segment; JSON summary, or the renditions with `Accept: multipart/mixed` |
/// | `GET` | `/live/{stream}/index.m3u8` | master playlist |
/// | `GET` | `/live/{stream}/{rendition}.m3u8` | live media playlist |
/// | `GET` | `/live/{stream}/{rendition}/{seq}.{ts,mp4}` | rendition segment |
/// | `DELETE` | `/live/{stream}` | end the stream |
///
/// When `config.idle_timeout` is set, a background task ends idle streams; it stops when the
/// router is dropped.
///
/// # Panics
/// Outside a Tokio runtime when `config.idle_timeout` is set.
pub fn router(config: BroadcasterConfig, processor: Arc<dyn SegmentProcessor>) -> Router {
    let idle_timeout = config.idle_timeout;
    let broadcaster = Arc::new(Broadcaster::new(config, processor));
    if let Some(idle) = idle_timeout {
        lifecycle::spawn_idle_reaper(Arc::downgrade(&broadcaster), idle);
    }
    routes::build(broadcaster)
}
