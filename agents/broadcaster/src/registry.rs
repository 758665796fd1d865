//! Every live or ended stream of this broadcaster, in memory. Readers take an immutable
//! snapshot of a stream and never wait; writers of one stream take turns, build the next state,
//! persist it and swap it in, so a failed write leaves the published state untouched.
//!
//! The registry is bounded. A stream is *live* while it is published and not ended, or while a
//! push to it is being processed; at most `max_live` are, and a push that would open one more is
//! refused. Every other stream is *inactive*: ended, or never published with nothing in flight
//! (its pushes all failed). At most `max_inactive` inactive streams are kept, the oldest dropped
//! first; whoever keeps per-stream state beside the registry drops theirs with them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use tokio::sync::{Mutex as AsyncMutex, MutexGuard as AsyncMutexGuard};

use crate::stream::StreamState;

/// One stream: its current state, the turn that writers wait for, and when a push last arrived.
#[derive(Debug, Default)]
pub struct StreamEntry {
    writer: AsyncMutex<()>,
    state: RwLock<Arc<StreamState>>,
    last_push: Mutex<Option<Instant>>,
}

impl StreamEntry {
    /// Notes that a push for this stream arrived now (before it is processed).
    pub fn touch(&self) {
        *self
            .last_push
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }

    /// When a push last arrived, if one ever did.
    pub fn last_push(&self) -> Option<Instant> {
        *self
            .last_push
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The state as last published.
    pub fn snapshot(&self) -> Arc<StreamState> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits for this stream's writer turn. Held across the disk writes of one change.
    pub async fn write(&self) -> StreamWriter<'_> {
        StreamWriter {
            _turn: self.writer.lock().await,
            entry: self,
        }
    }
}

/// The exclusive right to change one stream.
pub struct StreamWriter<'a> {
    _turn: AsyncMutexGuard<'a, ()>,
    entry: &'a StreamEntry,
}

impl StreamWriter<'_> {
    /// The current state; nobody else can change it while this writer lives.
    pub fn current(&self) -> Arc<StreamState> {
        self.entry.snapshot()
    }

    /// Publishes `next` to readers.
    pub fn replace(&self, next: StreamState) {
        *self
            .entry
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
    }
}

/// The stream is not live and no more streams may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{max} streams are live already")]
pub struct Full {
    pub max: usize,
}

/// A stream dropped from memory, with its last state.
pub struct Dropped {
    pub name: String,
    pub entry: Arc<StreamEntry>,
}

/// What became of a push handed back with [`StreamRegistry::leave`].
pub struct Left {
    /// Its stream is no longer in memory (dropped while the push was in flight, or discarded),
    /// and no stream of that name is held now: what the push left behind for it (statistics) is
    /// to be dropped too.
    pub orphaned: bool,
    /// Streams dropped to make room for this one among the inactive.
    pub dropped: Vec<Dropped>,
}

/// How many streams are in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub live: usize,
    pub inactive: usize,
}

/// All streams by name, within bounds.
#[derive(Debug)]
pub struct StreamRegistry {
    inner: Mutex<Inner>,
    max_live: usize,
    max_inactive: usize,
}

#[derive(Debug, Default)]
struct Inner {
    streams: HashMap<String, Slot>,
    /// The inactive streams, by when they became so: the first is dropped first.
    inactive: BTreeMap<u64, String>,
    next_order: u64,
    /// Slots that are not inactive.
    live: usize,
}

#[derive(Debug)]
struct Slot {
    entry: Arc<StreamEntry>,
    /// Pushes admitted and not handed back.
    in_flight: usize,
    /// Takes no more pushes, ever.
    ended: bool,
    /// Its key in `Inner::inactive` while inactive.
    inactive: Option<u64>,
}

impl Inner {
    /// Makes `name` inactive (it must be live) and drops the oldest inactive streams past `max`.
    fn deactivate(&mut self, name: &str, max: usize) -> Vec<Dropped> {
        let order = self.next_order;
        self.next_order += 1;
        if let Some(slot) = self.streams.get_mut(name) {
            debug_assert!(slot.inactive.is_none());
            slot.inactive = Some(order);
            self.live -= 1;
            self.inactive.insert(order, name.to_owned());
        }
        let mut dropped = Vec::new();
        while self.inactive.len() > max {
            let Some((_, oldest)) = self.inactive.pop_first() else {
                break;
            };
            if let Some(slot) = self.streams.remove(&oldest) {
                dropped.push(Dropped {
                    name: oldest,
                    entry: slot.entry,
                });
            }
        }
        dropped
    }
}

impl StreamRegistry {
    /// An empty registry that keeps at most `max_live` live and `max_inactive` inactive streams.
    pub fn new(max_live: usize, max_inactive: usize) -> Self {
        Self {
            inner: Mutex::default(),
            max_live,
            max_inactive,
        }
    }

    /// The stream called `name`, if it is in memory.
    pub fn get(&self, name: &str) -> Option<Arc<StreamEntry>> {
        self.lock().streams.get(name).map(|slot| slot.entry.clone())
    }

    /// The state of `name` if viewers can see it, i.e. once a segment was published.
    pub fn published(&self, name: &str) -> Option<Arc<StreamState>> {
        let state = self.get(name)?.snapshot();
        state.is_published().then_some(state)
    }

    /// Every stream in memory, for sweeps such as the idle rule and for listings.
    pub fn all(&self) -> Vec<(String, Arc<StreamEntry>)> {
        self.lock()
            .streams
            .iter()
            .map(|(name, slot)| (name.clone(), slot.entry.clone()))
            .collect()
    }

    /// Pushes to `name` being processed now.
    pub fn in_flight(&self, name: &str) -> usize {
        self.lock()
            .streams
            .get(name)
            .map_or(0, |slot| slot.in_flight)
    }

    /// Whether `name` is live: published and not ended, or with a push in flight.
    pub fn is_live(&self, name: &str) -> bool {
        self.lock()
            .streams
            .get(name)
            .is_some_and(|slot| slot.inactive.is_none())
    }

    /// Whether a push to `name` would be admitted now: it is live or ended already (a push to an
    /// ended stream is refused for that), or there is room for one more live stream.
    pub fn has_room_for(&self, name: &str) -> bool {
        let inner = self.lock();
        match inner.streams.get(name) {
            Some(slot) if slot.ended || slot.inactive.is_none() => true,
            _ => inner.live < self.max_live,
        }
    }

    /// Lets a push to `name` in, creating the stream (empty, invisible to viewers) if needed; a
    /// stream that is not live becomes live unless `max_live` are already. Every admission is
    /// handed back with [`Self::leave`] once the push is done.
    pub fn admit(&self, name: &str) -> Result<Arc<StreamEntry>, Full> {
        let mut inner = self.lock();
        let Inner {
            streams,
            inactive,
            live,
            ..
        } = &mut *inner;
        let full = Full { max: self.max_live };
        if let Some(slot) = streams.get_mut(name) {
            if !slot.ended
                && let Some(order) = slot.inactive
            {
                if *live >= self.max_live {
                    return Err(full);
                }
                inactive.remove(&order);
                slot.inactive = None;
                *live += 1;
            }
            slot.in_flight += 1;
            return Ok(slot.entry.clone());
        }
        if *live >= self.max_live {
            return Err(full);
        }
        let entry = Arc::new(StreamEntry::default());
        streams.insert(
            name.to_owned(),
            Slot {
                entry: entry.clone(),
                in_flight: 1,
                ended: false,
                inactive: None,
            },
        );
        *live += 1;
        Ok(entry)
    }

    /// Hands back a push to `entry` (called `name`). A stream left with nothing published and
    /// nothing in flight becomes inactive, or leaves memory at once when `discard` is set (a push
    /// that found the name taken by a recording: nothing to keep).
    pub fn leave(&self, name: &str, entry: &Arc<StreamEntry>, discard: bool) -> Left {
        let mut inner = self.lock();
        let Some(slot) = inner.streams.get_mut(name) else {
            return Left {
                orphaned: true,
                dropped: Vec::new(),
            };
        };
        if !Arc::ptr_eq(&slot.entry, entry) {
            // Dropped in flight, and the name taken again since: nothing of ours is left.
            return Left {
                orphaned: false,
                dropped: Vec::new(),
            };
        }
        slot.in_flight -= 1;
        let abandoned =
            slot.in_flight == 0 && slot.inactive.is_none() && !entry.snapshot().is_published();
        if abandoned && discard {
            inner.streams.remove(name);
            inner.live -= 1;
            return Left {
                orphaned: true,
                dropped: Vec::new(),
            };
        }
        let dropped = if abandoned {
            inner.deactivate(name, self.max_inactive)
        } else {
            Vec::new()
        };
        Left {
            orphaned: false,
            dropped,
        }
    }

    /// Notes that `entry` (called `name`) ended: it becomes inactive for good.
    pub fn ended(&self, name: &str, entry: &Arc<StreamEntry>) -> Vec<Dropped> {
        let mut inner = self.lock();
        let Some(slot) = inner
            .streams
            .get_mut(name)
            .filter(|slot| Arc::ptr_eq(&slot.entry, entry))
        else {
            return Vec::new();
        };
        slot.ended = true;
        if slot.inactive.is_some() {
            return Vec::new();
        }
        inner.deactivate(name, self.max_inactive)
    }

    /// How many streams are live and how many inactive ones are kept.
    pub fn counts(&self) -> Counts {
        let inner = self.lock();
        Counts {
            live: inner.live,
            inactive: inner.inactive.len(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::{RenditionOut, SegmentFormat};
    use bytes::Bytes;

    fn publish(entry: &StreamEntry) {
        let mut state = StreamState::clone(&entry.snapshot());
        let out = RenditionOut {
            name: "360p".into(),
            width: 640,
            height: 360,
            bandwidth_bps: 1_000,
            codecs: None,
            container: SegmentFormat::Ts,
            bytes: Bytes::from_static(&[0x47; 188]),
            duration_s: 2.0,
        };
        state.publish(0, &[out], 6);
        *entry.state.write().unwrap() = Arc::new(state);
    }

    /// Admits, publishes and hands back one push to `name`.
    fn go_live(registry: &StreamRegistry, name: &str) -> Arc<StreamEntry> {
        let entry = registry.admit(name).unwrap();
        publish(&entry);
        let left = registry.leave(name, &entry, false);
        assert!(!left.orphaned && left.dropped.is_empty());
        entry
    }

    #[test]
    fn live_streams_are_bounded_and_an_end_makes_room() {
        let registry = StreamRegistry::new(2, 8);
        let a = go_live(&registry, "a");
        go_live(&registry, "b");
        assert!(registry.admit("a").is_ok(), "a live stream takes pushes");
        registry.leave("a", &a, false);
        assert_eq!(registry.admit("c").err(), Some(Full { max: 2 }));
        assert!(!registry.has_room_for("c") && registry.has_room_for("b"));
        assert!(registry.ended("a", &a).is_empty());
        assert!(
            registry.has_room_for("a"),
            "an ended stream answers for itself"
        );
        assert_eq!(
            registry.counts(),
            Counts {
                live: 1,
                inactive: 1
            }
        );
        assert!(registry.admit("c").is_ok());
    }

    #[test]
    fn the_oldest_inactive_streams_are_dropped_first() {
        let registry = StreamRegistry::new(8, 2);
        for name in ["a", "b", "c"] {
            let entry = go_live(&registry, name);
            let dropped = registry.ended(name, &entry);
            let names: Vec<&str> = dropped.iter().map(|d| d.name.as_str()).collect();
            assert_eq!(names, if name == "c" { vec!["a"] } else { vec![] });
        }
        assert!(registry.get("a").is_none());
        assert!(registry.get("b").is_some() && registry.get("c").is_some());
        assert_eq!(
            registry.counts(),
            Counts {
                live: 0,
                inactive: 2
            }
        );
    }

    #[test]
    fn a_stream_whose_pushes_all_failed_is_inactive_and_comes_back() {
        let registry = StreamRegistry::new(1, 4);
        let first = registry.admit("x").unwrap();
        let second = registry.admit("x").unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        registry.leave("x", &first, false);
        assert!(registry.is_live("x"), "a push is still in flight");
        registry.leave("x", &second, false);
        assert!(!registry.is_live("x"));
        assert_eq!(registry.counts().inactive, 1);
        // It holds no live slot: another stream may go live, and then it may not come back.
        let y = registry.admit("y").unwrap();
        assert_eq!(registry.admit("x").err(), Some(Full { max: 1 }));
        registry.leave("y", &y, false);
        let again = registry.admit("x").unwrap();
        assert!(Arc::ptr_eq(&again, &first) && registry.is_live("x"));
    }

    #[test]
    fn a_discarded_stream_leaves_no_trace() {
        let registry = StreamRegistry::new(4, 1);
        let kept = go_live(&registry, "kept");
        registry.ended("kept", &kept);
        let taken = registry.admit("taken").unwrap();
        let left = registry.leave("taken", &taken, true);
        assert!(left.orphaned && left.dropped.is_empty());
        assert!(registry.get("taken").is_none());
        assert!(
            registry.get("kept").is_some(),
            "an ended stream was pushed out"
        );
        assert_eq!(
            registry.counts(),
            Counts {
                live: 0,
                inactive: 1
            }
        );
    }

    #[test]
    fn a_push_whose_stream_was_dropped_in_flight_is_orphaned() {
        let registry = StreamRegistry::new(4, 0);
        let entry = go_live(&registry, "a");
        let late = registry.admit("a").unwrap();
        let dropped = registry.ended("a", &entry);
        assert_eq!(dropped.len(), 1);
        assert!(registry.leave("a", &late, false).orphaned);
        assert_eq!(registry.counts(), Counts::default());
    }
}
