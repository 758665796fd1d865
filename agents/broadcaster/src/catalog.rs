//! A read-only listing of every stream for status pages: what viewers can play, where, and how
//! far each rendition got. It reads the registry's snapshots, so it never waits on a writer.

use std::sync::Arc;

use serde::Serialize;

use crate::broadcaster::Broadcaster;
use crate::processor::SegmentFormat;
use crate::stream::StreamState;

/// Every stream of one broadcaster, as the status pages see it. Cheap to clone.
#[derive(Clone)]
pub struct Streams(pub(crate) Arc<Broadcaster>);

/// How many streams a broadcaster holds in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamCounts {
    /// Published and not ended, or with a push being processed; at most `max_live_streams`.
    pub live: usize,
    /// Ended, with those whose pushes all failed before a segment was published; at most
    /// `max_ended_streams`.
    pub ended: usize,
}

/// One stream that published at least one segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamSummary {
    /// The stream name from the push URL.
    pub id: String,
    /// Ended by `DELETE` or the idle rule.
    pub ended: bool,
    /// The master playlist, as a path on the broadcaster (`/live/{id}/index.m3u8`).
    pub playlist: String,
    /// Distinct sequence numbers published, over every rendition.
    pub segments_out: u64,
    /// The newest sequence number published.
    pub latest_seq: Option<u64>,
    /// Milliseconds since the latest segment was published.
    pub idle_ms: u64,
    /// In the order the processor first returned them (the master playlist's order).
    pub renditions: Vec<RenditionSummary>,
}

/// One rendition of a stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenditionSummary {
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// The `BANDWIDTH` the master playlist announces.
    pub bandwidth_bps: u64,
    /// RFC 6381 codecs, when the processor knows them.
    pub codecs: Option<String>,
    /// Container of the newest segment.
    pub container: Option<SegmentFormat>,
    /// Its live media playlist (`/live/{id}/{name}.m3u8`).
    pub playlist: String,
    /// Segments published.
    pub segments_out: u64,
    pub latest_seq: Option<u64>,
}

impl Streams {
    /// Every published stream, by id.
    pub fn list(&self) -> Vec<StreamSummary> {
        let mut all: Vec<StreamSummary> = self
            .0
            .published_streams()
            .iter()
            .map(|(id, state)| summarize(id, state))
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// The stream called `id`, if it published anything.
    pub fn get(&self, id: &str) -> Option<StreamSummary> {
        self.0.published(id).ok().map(|state| summarize(id, &state))
    }

    /// The price per minute of watching `id` (token wei; zero for a free stream), or
    /// `unknown_stream` when it published nothing.
    pub fn price_per_minute(&self, id: &str) -> Result<alloy::primitives::U256, crate::ApiError> {
        self.0.published(id)?;
        self.0.access().price_of(id)
    }

    /// Makes `gate` the judge of who watches paid streams; `false` if a gate was set already.
    pub fn set_gate(&self, gate: Arc<dyn crate::gate::ViewerGate>) -> bool {
        self.0.set_gate(gate)
    }

    /// Whether `id` is a private stream: played by whoever knows its name, listed nowhere.
    pub fn is_private(&self, id: &str) -> bool {
        self.0.is_private(id)
    }

    /// How many streams are in memory now.
    pub fn counts(&self) -> StreamCounts {
        let counts = self.0.stream_counts();
        StreamCounts {
            live: counts.live,
            ended: counts.inactive,
        }
    }

    /// Segments published by the streams no longer in memory (ended ones past
    /// `max_ended_streams`), since the start: what [`Self::list`] no longer counts.
    pub fn dropped_segments_out(&self) -> u64 {
        self.0.dropped_segments_out()
    }
}

fn summarize(id: &str, state: &StreamState) -> StreamSummary {
    let seqs = state.published_seqs();
    StreamSummary {
        id: id.to_owned(),
        ended: state.ended,
        playlist: format!("/live/{id}/index.m3u8"),
        segments_out: seqs.len() as u64,
        latest_seq: seqs.last().copied(),
        idle_ms: u64::try_from(state.last_publish.elapsed().as_millis()).unwrap_or(u64::MAX),
        renditions: state
            .renditions
            .iter()
            .map(|r| RenditionSummary {
                name: r.name.clone(),
                width: r.width,
                height: r.height,
                bandwidth_bps: r.bandwidth_bps(),
                codecs: r.codecs.clone(),
                container: r.segments.values().next_back().map(|s| s.container),
                playlist: format!("/live/{id}/{}.m3u8", r.name),
                segments_out: r.segments.len() as u64,
                latest_seq: r.segments.keys().next_back().copied(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::RenditionOut;
    use bytes::Bytes;

    fn out(name: &str) -> RenditionOut {
        RenditionOut {
            name: name.into(),
            width: 640,
            height: 360,
            bandwidth_bps: 800_000,
            codecs: None,
            container: SegmentFormat::Ts,
            bytes: Bytes::from_static(&[0x47; 188]),
            duration_s: 2.0,
        }
    }

    #[test]
    fn a_summary_counts_distinct_segments_and_names_the_playlists() {
        let mut state = StreamState::default();
        state.publish(0, &[out("360p"), out("240p")], 6);
        state.publish(2, &[out("360p")], 6);
        let s = summarize("cam", &state);
        assert_eq!(s.segments_out, 2);
        assert_eq!(s.latest_seq, Some(2));
        assert_eq!(s.playlist, "/live/cam/index.m3u8");
        let names: Vec<(&str, u64, &str)> = s
            .renditions
            .iter()
            .map(|r| (r.name.as_str(), r.segments_out, r.playlist.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("360p", 2, "/live/cam/360p.m3u8"),
                ("240p", 1, "/live/cam/240p.m3u8")
            ]
        );
        assert_eq!(s.renditions[0].container, Some(SegmentFormat::Ts));
    }
}
