//! The path of one segment, from the push to the playlists: refuse pushes to ended streams,
//! hand the segment to the processor, check its renditions, record them, then publish them to
//! viewers, in that order, so that a failure at any step publishes nothing.
//!
//! Memory is bounded by the registry: at most `max_live_streams` live streams, and the newest
//! `max_ended_streams` of the others; a stream dropped from memory is dropped from the
//! processor's tables too ([`SegmentProcessor::forget`]), and its recording stays on disk.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;

use crate::access::{Access, AccessError, Grant};
use crate::config::BroadcasterConfig;
use crate::error::ApiError;
use crate::gate::{SegmentRequest, ViewerGate};
use crate::processor::{IncomingSegment, RenditionOut, SegmentFormat, SegmentProcessor};
use crate::recording::Recorder;
use crate::registry::{Counts, Dropped, StreamEntry, StreamRegistry};
use crate::stream::{StreamState, check_renditions};

/// The broadcaster's ingest and delivery state, shared by every HTTP handler.
pub struct Broadcaster {
    config: BroadcasterConfig,
    processor: Arc<dyn SegmentProcessor>,
    registry: StreamRegistry,
    recorder: Recorder,
    access: Access,
    /// Segments published by the streams dropped from memory, for totals since the start.
    dropped_segments_out: AtomicU64,
    /// Who may watch paid streams; set once, after the paywall is built on [`crate::Streams`].
    gate: OnceLock<Arc<dyn ViewerGate>>,
}

/// A push let into the registry; handed back when dropped, whatever became of the push.
struct Admission<'a> {
    broadcaster: &'a Broadcaster,
    stream: String,
    entry: Arc<StreamEntry>,
    /// Leave no trace of a stream that never published (see [`StreamRegistry::leave`]).
    discard: bool,
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        let left = self
            .broadcaster
            .registry
            .leave(&self.stream, &self.entry, self.discard);
        if left.orphaned {
            // Dropped from memory while this push was processed: what the processor noted of it
            // since goes too.
            self.broadcaster.processor.forget(&self.stream);
        }
        self.broadcaster.forget(left.dropped);
    }
}

impl Broadcaster {
    /// A broadcaster with no streams yet; opens its stream keys in `config.data_dir`.
    pub fn new(
        config: BroadcasterConfig,
        processor: Arc<dyn SegmentProcessor>,
    ) -> Result<Self, AccessError> {
        let recorder = Recorder::new(config.recordings_dir());
        let access = Access::open(&config.data_dir, config.require_stream_keys)?;
        let registry = StreamRegistry::new(config.max_live_streams, config.max_ended_streams);
        Ok(Self {
            config,
            processor,
            registry,
            recorder,
            access,
            dropped_segments_out: AtomicU64::new(0),
            gate: OnceLock::new(),
        })
    }

    /// The stream keys and the admin token.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Whether a push (`segment`) or an end of `stream` with `key` may go ahead, and under which
    /// published name; counts the key's live streams against its limit, and a new stream against
    /// the broadcaster's.
    pub fn authorize(
        &self,
        key: Option<&str>,
        stream: &str,
        segment: bool,
    ) -> Result<Grant, ApiError> {
        self.access.authorize(
            key,
            stream,
            segment,
            |others| {
                others
                    .iter()
                    .filter(|name| self.registry.is_live(name))
                    .count() as u32
            },
            |published| {
                if self.registry.has_room_for(published) {
                    Ok(())
                } else {
                    Err(ApiError::TooManyLiveStreams(self.config.max_live_streams))
                }
            },
        )
    }

    /// Lets a push to `stream` into the registry, or refuses it with `too_many_streams`.
    fn admit(&self, stream: &str) -> Result<Admission<'_>, ApiError> {
        let entry = self
            .registry
            .admit(stream)
            .map_err(|full| ApiError::TooManyLiveStreams(full.max))?;
        Ok(Admission {
            broadcaster: self,
            stream: stream.to_owned(),
            entry,
            discard: false,
        })
    }

    /// Drops what is kept beside the registry for streams it dropped from memory.
    fn forget(&self, dropped: Vec<Dropped>) {
        for Dropped { name, entry } in dropped {
            let state = entry.snapshot();
            let segments = state.published_seqs().len() as u64;
            self.dropped_segments_out
                .fetch_add(segments, Ordering::Relaxed);
            self.processor.forget(&name);
            tracing::info!(
                stream = %name,
                ended = state.ended,
                segments,
                "stream dropped from memory; its recording stays on disk"
            );
        }
    }

    /// How many streams are in memory: live, and ended (with those that never published).
    pub fn stream_counts(&self) -> Counts {
        self.registry.counts()
    }

    /// Segments published by the streams dropped from memory since the start.
    pub fn dropped_segments_out(&self) -> u64 {
        self.dropped_segments_out.load(Ordering::Relaxed)
    }

    /// The configuration this broadcaster runs with.
    pub fn config(&self) -> &BroadcasterConfig {
        &self.config
    }

    /// Transcodes, records and publishes one pushed segment; returns its renditions.
    pub async fn ingest(&self, segment: IncomingSegment) -> Result<Vec<RenditionOut>, ApiError> {
        let (stream, seq) = (segment.stream.clone(), segment.seq);
        let mut admission = self.admit(&stream)?;
        let entry = admission.entry.clone();
        let state = entry.snapshot();
        if state.ended {
            return Err(ApiError::StreamEnded(stream));
        }
        // A stream that never published here may be one dropped from memory (or recorded before a
        // restart): an ended recording keeps its name taken. Every push checks until one
        // publishes, so that none gets past while another looks.
        if !state.is_published() && self.recorder.ended(&stream).await? {
            admission.discard = true;
            tracing::info!(
                stream,
                "push refused: the stream's recording has ended (its name stays taken)"
            );
            return Err(ApiError::StreamEnded(stream));
        }
        // A stream whose pushes keep arriving is live, however long the network takes with them
        // (a chain outage, a slow orchestrator): the idle rule counts arrivals, not publications.
        entry.touch();
        let renditions = self.processor.process(segment).await?;
        let publishing = std::time::Instant::now();
        check_renditions(&renditions).map_err(ApiError::InvalidRenditions)?;
        self.publish(&stream, &entry, seq, &renditions).await?;
        self.processor.published(&stream, publishing.elapsed());
        Ok(renditions)
    }

    /// Records segment `seq` and only then shows it to viewers. Pushes to one stream are
    /// transcoded in parallel but published one at a time.
    async fn publish(
        &self,
        stream: &str,
        entry: &StreamEntry,
        seq: u64,
        renditions: &[RenditionOut],
    ) -> Result<(), ApiError> {
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

    /// Ends `stream`: its playlists get `EXT-X-ENDLIST` and further pushes are refused. It stays
    /// in memory (listed, playable) until `max_ended_streams` newer streams ended.
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
        // Nothing changes any more: viewers read the segments from the recording, and the stream
        // keeps only its listing in memory while it is kept.
        next.release_bytes();
        self.recorder.write_playlists(stream, &next).await?;
        writer.replace(next);
        drop(writer);
        tracing::info!(stream, "stream ended");
        let dropped = self.registry.ended(stream, &entry);
        self.forget(dropped);
        Ok(())
    }

    /// Ends every live stream that has published nothing, received no push for `idle` and has
    /// no push in flight (one the network takes long with is no sign the encoder stopped).
    pub async fn end_idle_streams(&self, idle: Duration) {
        for (name, entry) in self.registry.all() {
            let state = entry.snapshot();
            let pushed_lately = entry.last_push().is_some_and(|at| at.elapsed() < idle);
            if !state.is_published()
                || state.ended
                || state.last_publish.elapsed() < idle
                || pushed_lately
                || self.registry.in_flight(&name) > 0
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

    /// Whether `stream` was pushed with a private key (listed nowhere).
    pub(crate) fn is_private(&self, stream: &str) -> bool {
        self.access.is_private(stream)
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

    /// Sets the gate paid streams are watched through; `false` if one was set already.
    pub(crate) fn set_gate(&self, gate: Arc<dyn ViewerGate>) -> bool {
        self.gate.set(gate).is_ok()
    }

    /// The bytes of one published rendition segment: from memory inside the live window, from
    /// the recording before it. A paid stream's segment goes only to a viewer the gate admits
    /// (`viewer` is its session token); nobody gets it without a gate.
    pub async fn segment(
        &self,
        stream: &str,
        rendition: &str,
        seq: u64,
        container: SegmentFormat,
        viewer: Option<&str>,
    ) -> Result<Bytes, ApiError> {
        let state = self.published(stream)?;
        let segment = state
            .rendition(rendition)
            .and_then(|r| r.segments.get(&seq))
            .filter(|s| s.container == container)
            .ok_or_else(|| {
                ApiError::UnknownStream(format!("no segment {rendition}/{seq}.{container}"))
            })?;
        let price_per_minute = self.access.price_of(stream)?;
        if !price_per_minute.is_zero() {
            let gate = self.gate.get().ok_or_else(|| ApiError::Gate {
                status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
                code: "paywall_unavailable",
                message: "this stream is paid and this broadcaster takes no payments".into(),
            })?;
            gate.admit(SegmentRequest {
                stream,
                price_per_minute,
                viewer,
                seq,
                duration_ms: (segment.duration_s * 1000.0).round() as u64,
            })
            .await?;
        }
        if let Some(bytes) = &segment.bytes {
            return Ok(bytes.clone());
        }
        Ok(self
            .recorder
            .read_segment(stream, rendition, seq, container)
            .await?)
    }
}
