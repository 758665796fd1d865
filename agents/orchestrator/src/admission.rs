//! Admission control: a stream is taken on only while the transcoders' capacity covers it and
//! every stream already taken on, so that overload refuses new streams (the broadcaster goes to
//! the next orchestrator) instead of letting every stream fall behind real time.
//!
//! A stream's demand is the output pixels per second its segments ask for (each profile's width
//! × height × the segment's frames, over the segment's duration). Its first segment is admitted
//! if the demand of the streams held plus its own fits the capacity; later segments of a held
//! stream always pass (a stream taken on keeps its place; its demand follows its segments). A
//! stream is let go after [`IDLE`] without a segment. An orchestrator holding no stream admits
//! the first one whatever its estimate. A first segment holds its place only while
//! its request runs and for good once its renditions are signed: a request that fails (unpaid,
//! say) frees it at once, so refused payments cannot fill the orchestrator.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use serde::Serialize;

/// How long a stream keeps its place without a segment.
pub const IDLE: Duration = Duration::from_secs(10);

type Key = (Address, String);

struct Held {
    demand: u64,
    last_seen: Instant,
}

/// The streams held, by (broadcaster, stream name).
#[derive(Default)]
pub struct Admission {
    held: Mutex<HashMap<Key, Held>>,
}

/// A new stream did not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "a stream of {demand} output pixels/s does not fit: {held} pixels/s held of {capacity} pixels/s"
)]
pub struct Full {
    pub demand: u64,
    pub held: u64,
    pub capacity: u64,
}

/// What the streams held ask of the capacity, for the status and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Load {
    pub streams: usize,
    /// Output pixels per second the streams held ask for.
    pub demand: u64,
}

/// A segment's place: for a new stream, given back on drop unless [`Seat::keep`] was called.
pub struct Seat<'a> {
    admission: &'a Admission,
    key: Option<Key>,
}

impl Seat<'_> {
    /// The segment was served: its stream keeps its place.
    pub fn keep(mut self) {
        self.key = None;
    }
}

impl Drop for Seat<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.admission.held.lock().expect("admission").remove(&key);
        }
    }
}

impl Admission {
    /// Admits a segment of `stream` from `broadcaster` asking `demand` output pixels per second,
    /// against `capacity` pixels per second.
    pub fn admit(
        &self,
        broadcaster: Address,
        stream: &str,
        demand: u64,
        capacity: u64,
    ) -> Result<Seat<'_>, Full> {
        let now = Instant::now();
        let mut held = self.held.lock().expect("admission");
        held.retain(|_, h| now.duration_since(h.last_seen) < IDLE);
        let key = (broadcaster, stream.to_owned());
        if let Some(h) = held.get_mut(&key) {
            h.demand = demand;
            h.last_seen = now;
            return Ok(Seat {
                admission: self,
                key: None,
            });
        }
        let total: u64 = held.values().map(|h| h.demand).sum();
        // An orchestrator holding no stream takes one whatever its estimate: refusing it would
        // help no broadcaster (a transcoder not connected yet, or a low measurement, would turn
        // away every stream), and its jobs then correct the estimate.
        if !held.is_empty() && total.saturating_add(demand) > capacity {
            return Err(Full {
                demand,
                held: total,
                capacity,
            });
        }
        held.insert(
            key.clone(),
            Held {
                demand,
                last_seen: now,
            },
        );
        Ok(Seat {
            admission: self,
            key: Some(key),
        })
    }

    /// The streams held now.
    pub fn load(&self) -> Load {
        let now = Instant::now();
        let held = self.held.lock().expect("admission");
        let live = held
            .values()
            .filter(|h| now.duration_since(h.last_seen) < IDLE);
        Load {
            streams: live.clone().count(),
            demand: live.map(|h| h.demand).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Address = Address::repeat_byte(0xb);

    #[test]
    fn new_streams_fit_or_are_refused_and_held_ones_always_pass() {
        let a = Admission::default();
        a.admit(B, "one", 40, 100).unwrap().keep();
        a.admit(B, "two", 40, 100).unwrap().keep();
        let full = a.admit(B, "three", 40, 100).err().unwrap();
        assert_eq!(
            full,
            Full {
                demand: 40,
                held: 80,
                capacity: 100
            }
        );
        // A held stream passes even once capacity shrank below what is held.
        a.admit(B, "one", 45, 50).unwrap();
        assert_eq!(
            a.load(),
            Load {
                streams: 2,
                demand: 85
            }
        );
        // The same name from another broadcaster is another stream.
        assert!(a.admit(Address::repeat_byte(0xc), "one", 40, 100).is_err());
    }

    #[test]
    fn an_orchestrator_holding_nothing_takes_one_stream_whatever_its_estimate() {
        let a = Admission::default();
        a.admit(B, "big", 500, 0).unwrap().keep();
        assert!(a.admit(B, "small", 1, 0).is_err());
    }

    #[test]
    fn a_first_segment_that_fails_frees_its_place() {
        let a = Admission::default();
        let seat = a.admit(B, "one", 60, 100).unwrap();
        assert!(a.admit(B, "two", 60, 100).is_err(), "held while it runs");
        drop(seat);
        assert_eq!(a.load().streams, 0);
        a.admit(B, "two", 60, 100).unwrap().keep();
        assert_eq!(a.load().streams, 1);
    }
}
