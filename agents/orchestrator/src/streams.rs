//! The streams this orchestrator served since it started: per (broadcaster, stream id), segments
//! transcoded, output pixels charged for, the newest sequence number and when it was served.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use alloy::primitives::Address;
use serde::Serialize;

/// One stream's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamStatus {
    pub broadcaster: Address,
    pub stream: String,
    pub segments: u64,
    pub pixels: u64,
    pub last_seq: u64,
    /// Unix seconds of the newest segment served.
    pub last_seen: u64,
}

/// The record of every stream.
#[derive(Debug, Default)]
pub struct Streams {
    streams: Mutex<HashMap<(Address, String), StreamStatus>>,
}

impl Streams {
    /// Segment `seq` of `stream` from `broadcaster` was transcoded into `pixels` output pixels.
    pub fn served(&self, broadcaster: Address, stream: &str, seq: u64, pixels: u64) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut streams = self.streams.lock().expect("streams");
        let s = streams
            .entry((broadcaster, stream.to_owned()))
            .or_insert_with(|| StreamStatus {
                broadcaster,
                stream: stream.to_owned(),
                segments: 0,
                pixels: 0,
                last_seq: seq,
                last_seen: now,
            });
        s.segments += 1;
        s.pixels += pixels;
        s.last_seq = s.last_seq.max(seq);
        s.last_seen = now;
    }

    /// Every stream, most recently served first.
    pub fn all(&self) -> Vec<StreamStatus> {
        let mut out: Vec<StreamStatus> = self
            .streams
            .lock()
            .expect("streams")
            .values()
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            b.last_seen
                .cmp(&a.last_seen)
                .then_with(|| a.stream.cmp(&b.stream))
        });
        out
    }
}
