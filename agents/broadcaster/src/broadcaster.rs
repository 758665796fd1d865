//! The path of one segment, from the push to the playlists: refuse pushes to ended streams,
//! hand the segment to the processor, check its renditions, record them, then publish them to
//! viewers, in that order, so that a failure at any step publishes nothing.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::access::{Access, AccessError, Grant};
use crate::config::BroadcasterConfig;
use crate::error::ApiError;
use crate::processor::{IncomingSegment, RenditionOut, SegmentFormat, SegmentProcessor};
use crate::recording::Recorder;
use crate::registry::StreamRegistry;
use crate::stream::{StreamState, check_renditions};

/// The broadcaster's ingest and delivery state, shared by every HTTP handler.
pub struct Broadcaster {
    config: BroadcasterConfig,
    processor: Arc<dyn SegmentProcessor>,
    registry: StreamRegistry,
    recorder: Recorder,
    access: Access,
}

impl Broadcaster {
    /// A broadcaster with no streams yet; opens its stream keys in `config.data_dir`.
    pub fn new(
        config: BroadcasterConfig,
        processor: Arc<dyn SegmentProcessor>,
    ) -> Result<Self, AccessError> {
        let recorder = Recorder::new(config.recordings_dir());
        let access = Access::open(&config.data_dir, config.require_stream_keys)?;
        Ok(Self {
            config,
            processor,
            registry: StreamRegistry::default(),
            recorder,
            access,
        })
    }

    /// The stream keys and the admin token.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Whether a push (`segment`) or an end of `stream` with `key` may go ahead, and under which
    /// published name; counts the key's live streams against its limit.
    pub fn authorize(
        &self,
        key: Option<&str>,
        stream: &str,
        segment: bool,
    ) -> Result<Grant, ApiError> {
        self.access.authorize(key, stream, segment, |others| {
            others
                .iter()
                .filter(|name| {
                    self.registry
                        .get(name)
                        .is_some_and(|entry| !entry.snapshot().ended)
                })
                .count() as u32
        })
    }

    /// The configuration this broadcaster runs with.
    pub fn config(&self) -> &BroadcasterConfig {
        &self.config
    }

    /// Transcodes, records and publishes one pushed segment; returns its renditions.
    pub async fn ingest(&self, segment: IncomingSegment) -> Result<Vec<RenditionOut>, ApiError> {
        let (stream, seq) = (segment.stream.clone(), segment.seq);
        let entry = self.registry.get_or_create(&stream);
        if entry.snapshot().ended {
            return Err(ApiError::StreamEnded(stream));
        }
        // A stream whose pushes keep arriving is live, however long the network takes with them
        // (a chain outage, a slow orchestrator): the idle rule counts arrivals, not publications.
        entry.touch();
        let renditions = self.processor.process(segment).await?;
        check_renditions(&renditions).map_err(ApiError::InvalidRenditions)?;
        self.publish(&stream, seq, &renditions).await?;
        Ok(renditions)
    }

    /// Records segment `seq` and only then shows it to viewers. Pushes to one stream are
    /// transcoded in parallel but published one at a time.
    async fn publish(
        &self,
        stream: &str,
        seq: u64,
        renditions: &[RenditionOut],
    ) -> Result<(), ApiError> {
        let entry = self.registry.get_or_create(stream);
        let writer = entry.write().await;
        let current = writer.current();
        if current.ended {
            return Err(ApiError::StreamEnded(stream.to_owned()));
        }
        self.recorder
            .write_segments(stream, seq, renditions)
            .await?;
        let mut next = StreamState::clone(&current);
        next.publish(seq, renditions, self.config.live_window);
        self.recorder.write_playlists(stream, &next).await?;
        writer.replace(next);
        tracing::info!(
            stream,
            seq,
            renditions = renditions.len(),
            "segment published"
        );
        Ok(())
    }

    /// Ends `stream`: its playlists get `EXT-X-ENDLIST` and further pushes are refused.
    /// Ending an ended stream changes nothing.
    pub async fn end(&self, stream: &str) -> Result<(), ApiError> {
        let unknown = || ApiError::UnknownStream(format!("no stream {stream:?}"));
        let entry = self.registry.get(stream).ok_or_else(unknown)?;
        let writer = entry.write().await;
        let current = writer.current();
        if !current.is_published() {
            return Err(unknown());
        }
        if current.ended {
            return Ok(());
        }
        let mut next = StreamState::clone(&current);
        next.ended = true;
        self.recorder.write_playlists(stream, &next).await?;
        writer.replace(next);
        tracing::info!(stream, "stream ended");
        Ok(())
    }

    /// Ends every live stream that has published nothing and received no push for `idle`.
    pub async fn end_idle_streams(&self, idle: Duration) {
        for (name, entry) in self.registry.all() {
            let state = entry.snapshot();
            let pushed_lately = entry.last_push().is_some_and(|at| at.elapsed() < idle);
            if !state.is_published()
                || state.ended
                || state.last_publish.elapsed() < idle
                || pushed_lately
            {
                continue;
            }
            tracing::info!(stream = %name, idle_s = idle.as_secs_f64(), "ending idle stream");
            if let Err(err) = self.end(&name).await {
                tracing::warn!(stream = %name, %err, "could not end idle stream");
            }
        }
    }

    /// The published state of `stream`, or `unknown_stream`.
    pub fn published(&self, stream: &str) -> Result<Arc<StreamState>, ApiError> {
        self.registry
            .published(stream)
            .ok_or_else(|| ApiError::UnknownStream(format!("no stream {stream:?}")))
    }

    /// Every stream viewers can see (published at least once), with its state; private streams
    /// are played by whoever knows their name but listed nowhere.
    pub fn published_streams(&self) -> Vec<(String, Arc<StreamState>)> {
        self.registry
            .all()
            .into_iter()
            .filter(|(name, _)| !self.access.is_private(name))
            .map(|(name, entry)| (name, entry.snapshot()))
            .filter(|(_, state)| state.is_published())
            .collect()
    }

    /// The bytes of one published rendition segment: from memory inside the live window, from
    /// the recording before it.
    pub async fn segment(
        &self,
        stream: &str,
        rendition: &str,
        seq: u64,
        container: SegmentFormat,
    ) -> Result<Bytes, ApiError> {
        let state = self.published(stream)?;
        let segment = state
            .rendition(rendition)
            .and_then(|r| r.segments.get(&seq))
            .filter(|s| s.container == container)
            .ok_or_else(|| {
                ApiError::UnknownStream(format!("no segment {rendition}/{seq}.{container}"))
            })?;
        if let Some(bytes) = &segment.bytes {
            return Ok(bytes.clone());
        }
        Ok(self
            .recorder
            .read_segment(stream, rendition, seq, container)
            .await?)
    }
}
