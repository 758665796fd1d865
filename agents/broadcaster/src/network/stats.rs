//! What the network did for each stream, in memory, for the status page: segments pushed, the
//! orchestrator chosen for the latest segment, the round-trip latency, the verification results
//! and the money sent in tickets. The processor ([`super::processor`]) writes it; the status API
//! ([`super::status`]) reads it. Only counts since this process started.
//!
//! Records follow the broadcaster's streams: the one of a stream dropped from its memory is
//! dropped too ([`StreamStats::forget`]), and at most a capacity of them is kept whatever happens
//! (the least recently updated goes first). What a dropped record counted stays in the totals
//! ([`StreamStats::retired`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use alloy::primitives::{Address, U256};

/// The tickets of one payment, or the sum of several.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spend {
    pub tickets: u64,
    /// Sum of the tickets' face values, wei.
    pub face_value: U256,
    /// Sum of the tickets' expected values (face value × win probability), wei.
    pub expected_value: U256,
}

impl Spend {
    pub fn add(&mut self, other: &Spend) {
        self.tickets += other.tickets;
        self.face_value += other.face_value;
        self.expected_value += other.expected_value;
    }
}

/// The orchestrator whose renditions were published for a stream's latest segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub address: Address,
    pub url: String,
    pub seq: u64,
}

/// Round trips of published segments, from arrival to renditions.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    pub last_ms: f64,
    pub total_ms: f64,
    pub count: u64,
}

impl Latency {
    pub fn mean_ms(&self) -> Option<f64> {
        (self.count > 0).then(|| self.total_ms / self.count as f64)
    }

    fn add(&mut self, took: Duration) {
        let ms = took.as_secs_f64() * 1e3;
        self.last_ms = ms;
        self.total_ms += ms;
        self.count += 1;
    }
}

/// Verification results of one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checks {
    /// Segment replies checked (each reply checks every rendition).
    pub segments: u64,
    pub renditions: u64,
    /// Renditions that also got the quality check.
    pub sampled: u64,
    /// Renditions that failed, by the fault's on-chain code: (name, count).
    pub faults: BTreeMap<u8, (&'static str, u64)>,
}

impl Checks {
    fn absorb(&mut self, other: &Checks) {
        self.segments += other.segments;
        self.renditions += other.renditions;
        self.sampled += other.sampled;
        for (&code, &(name, count)) in &other.faults {
            self.faults.entry(code).or_insert((name, 0)).1 += count;
        }
    }
}

/// Everything recorded for one stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamRecord {
    /// Segments handed to the network, whatever became of them.
    pub segments_in: u64,
    pub chosen: Option<Chosen>,
    pub latency: Latency,
    pub checks: Checks,
    pub spend: Spend,
    /// Orchestrator quotes refused for this stream's segments, by reason.
    pub refused: BTreeMap<&'static str, u64>,
    /// Where published segments' time went, by stage (see [`STAGES`]).
    pub stages: BTreeMap<&'static str, Latency>,
}

/// The stages of a published segment's time, in order: its body arriving, probing it and
/// choosing orchestrators, attempts that failed before the one used, paying (quote, tickets,
/// request signature), the network both ways, the orchestrator's own work before and after the
/// transcoder (request check, probe and admission, booking the tickets, signing), waiting for a
/// transcoder there, transcoding, our verification, and publishing (recording, playlists).
pub const STAGES: [&str; 10] = [
    "receive",
    "prepare",
    "failover",
    "pay",
    "transfer",
    "orchestrator",
    "queue",
    "transcode",
    "verify",
    "publish",
];

impl StreamRecord {
    /// Adds `other`'s counts to this record (its latest orchestrator is left out).
    pub fn absorb(&mut self, other: &StreamRecord) {
        self.segments_in += other.segments_in;
        self.latency.last_ms = other.latency.last_ms;
        self.latency.total_ms += other.latency.total_ms;
        self.latency.count += other.latency.count;
        self.checks.absorb(&other.checks);
        self.spend.add(&other.spend);
        for (&reason, &count) in &other.refused {
            *self.refused.entry(reason).or_default() += count;
        }
        for (&stage, other) in &other.stages {
            let mine = self.stages.entry(stage).or_default();
            mine.last_ms = other.last_ms;
            mine.total_ms += other.total_ms;
            mine.count += other.count;
        }
    }
}

/// Per-stream records, shared by the processor and the status API.
#[derive(Debug)]
pub struct StreamStats {
    records: Mutex<Records>,
}

#[derive(Debug)]
struct Records {
    /// By stream: when the record was last updated (a tick of `clock`), and the record.
    streams: HashMap<String, (u64, StreamRecord)>,
    clock: u64,
    capacity: usize,
    /// The sum of the records dropped.
    retired: StreamRecord,
}

impl Records {
    fn retire(&mut self, stream: &str) -> bool {
        match self.streams.remove(stream) {
            Some((_, record)) => {
                self.retired.absorb(&record);
                true
            }
            None => false,
        }
    }
}

impl Default for StreamStats {
    /// Room for the streams a broadcaster with the default limits keeps in memory.
    fn default() -> Self {
        Self::with_capacity(crate::DEFAULT_MAX_LIVE_STREAMS + crate::DEFAULT_MAX_ENDED_STREAMS)
    }
}

impl StreamStats {
    /// Keeps at most `capacity` records (at least one): a new stream past it drops the least
    /// recently updated record. Give it the broadcaster's
    /// [`max_streams_in_memory`](crate::BroadcasterConfig::max_streams_in_memory), so that only
    /// records of streams dropped already go that way.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            records: Mutex::new(Records {
                streams: HashMap::new(),
                clock: 0,
                capacity: capacity.max(1),
                retired: StreamRecord::default(),
            }),
        }
    }

    /// Drops the record of `stream`, which the broadcaster no longer holds; its counts stay in
    /// [`Self::retired`].
    pub fn forget(&self, stream: &str) {
        self.lock().retire(stream);
    }

    /// The sum of every record dropped since the start.
    pub fn retired(&self) -> StreamRecord {
        self.lock().retired.clone()
    }

    /// How many records are kept.
    pub fn len(&self) -> usize {
        self.lock().streams.len()
    }

    /// Whether no record is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A segment of `stream` arrived.
    pub fn pushed(&self, stream: &str) {
        self.update(stream, |r| r.segments_in += 1);
    }

    /// `who` at `url` produced the published renditions of segment `seq`; later segments win.
    pub fn chose(&self, stream: &str, seq: u64, who: Address, url: &str) {
        self.update(stream, |r| {
            if r.chosen.as_ref().is_none_or(|c| c.seq <= seq) {
                r.chosen = Some(Chosen {
                    address: who,
                    url: url.to_owned(),
                    seq,
                });
            }
        });
    }

    /// A quote was refused for a segment of `stream`, for `reason`.
    pub fn refused(&self, stream: &str, reason: &'static str) {
        self.update(stream, |r| *r.refused.entry(reason).or_default() += 1);
    }

    /// A segment of `stream` was published `took` after it arrived.
    pub fn published(&self, stream: &str, took: Duration) {
        let ms = took.as_secs_f64() * 1e3;
        self.update(stream, |r| {
            r.latency.last_ms = ms;
            r.latency.total_ms += ms;
            r.latency.count += 1;
        });
    }

    /// A published segment of `stream` spent `took` in each stage named.
    pub fn stages(&self, stream: &str, stages: &[(&'static str, Duration)]) {
        self.update(stream, |r| {
            for (stage, took) in stages {
                r.stages.entry(stage).or_default().add(*took);
            }
        });
    }

    /// A reply's `renditions` were checked, with the quality check when `sampled`.
    pub fn checked(&self, stream: &str, renditions: usize, sampled: bool) {
        self.update(stream, |r| {
            r.checks.segments += 1;
            r.checks.renditions += renditions as u64;
            if sampled {
                r.checks.sampled += renditions as u64;
            }
        });
    }

    /// A rendition failed verification with the fault `code` (`name`).
    pub fn faulted(&self, stream: &str, code: u8, name: &'static str) {
        self.update(stream, |r| {
            r.checks.faults.entry(code).or_insert((name, 0)).1 += 1
        });
    }

    /// Tickets were sent for a segment of `stream` (whether or not the attempt succeeded).
    pub fn paid(&self, stream: &str, spend: &Spend) {
        self.update(stream, |r| r.spend.add(spend));
    }

    /// The orchestrator that served `stream`'s latest published segment.
    pub fn chosen(&self, stream: &str) -> Option<Address> {
        self.lock()
            .streams
            .get(stream)
            .and_then(|(_, r)| r.chosen.as_ref().map(|c| c.address))
    }

    /// The record of `stream`, if the network ever saw it.
    pub fn get(&self, stream: &str) -> Option<StreamRecord> {
        self.lock().streams.get(stream).map(|(_, r)| r.clone())
    }

    /// Every record, by stream.
    pub fn all(&self) -> HashMap<String, StreamRecord> {
        self.lock()
            .streams
            .iter()
            .map(|(stream, (_, record))| (stream.clone(), record.clone()))
            .collect()
    }

    fn update(&self, stream: &str, change: impl FnOnce(&mut StreamRecord)) {
        let mut records = self.lock();
        records.clock += 1;
        let now = records.clock;
        if !records.streams.contains_key(stream) && records.streams.len() >= records.capacity {
            let oldest = records
                .streams
                .iter()
                .min_by_key(|(_, (updated, _))| *updated)
                .map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                tracing::debug!(stream = %oldest, "stream statistics over capacity: oldest retired");
                records.retire(&oldest);
            }
        }
        let (updated, record) = records.streams.entry(stream.to_owned()).or_default();
        *updated = now;
        change(record);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_add_up_per_stream() {
        let stats = StreamStats::default();
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        stats.pushed("s");
        stats.pushed("s");
        stats.pushed("other");
        stats.chose("s", 1, b, "http://b");
        stats.chose("s", 0, a, "http://a"); // an older segment finishing late changes nothing
        stats.published("s", Duration::from_millis(100));
        stats.published("s", Duration::from_millis(300));
        stats.checked("s", 2, false);
        stats.checked("s", 2, true);
        stats.faulted("s", 3, "wrong_resolution");
        stats.faulted("s", 3, "wrong_resolution");
        let spend = Spend {
            tickets: 2,
            face_value: U256::from(20u64),
            expected_value: U256::from(2u64),
        };
        stats.paid("s", &spend);
        stats.paid("s", &spend);
        let r = stats.get("s").unwrap();
        assert_eq!(r.segments_in, 2);
        assert_eq!(r.chosen.as_ref().map(|c| (c.address, c.seq)), Some((b, 1)));
        assert_eq!(r.latency.last_ms, 300.0);
        assert_eq!(r.latency.mean_ms(), Some(200.0));
        assert_eq!(
            (r.checks.segments, r.checks.renditions, r.checks.sampled),
            (2, 4, 2)
        );
        assert_eq!(r.checks.faults[&3], ("wrong_resolution", 2));
        assert_eq!(r.spend.tickets, 4);
        assert_eq!(r.spend.face_value, U256::from(40u64));
        assert_eq!(r.spend.expected_value, U256::from(4u64));
        assert_eq!(stats.get("other").unwrap().segments_in, 1);
        assert!(stats.get("none").is_none());
        assert_eq!(Latency::default().mean_ms(), None);
    }

    #[test]
    fn records_are_bounded_and_what_they_counted_stays_in_the_totals() {
        let stats = StreamStats::with_capacity(2);
        let spend = Spend {
            tickets: 1,
            face_value: U256::from(10u64),
            expected_value: U256::from(1u64),
        };
        for stream in ["a", "b", "a", "c"] {
            stats.pushed(stream);
            stats.paid(stream, &spend);
        }
        stats.faulted("a", 3, "wrong_resolution");
        // "b", updated least recently, made room for "c".
        assert_eq!(stats.len(), 2);
        assert!(stats.get("b").is_none());
        assert_eq!(stats.get("a").unwrap().segments_in, 2);
        stats.forget("a");
        stats.forget("unknown");
        assert_eq!(stats.len(), 1);
        let retired = stats.retired();
        assert_eq!(retired.segments_in, 3);
        assert_eq!(retired.spend.tickets, 3);
        assert_eq!(retired.spend.face_value, U256::from(30u64));
        assert_eq!(retired.checks.faults[&3], ("wrong_resolution", 1));
        assert!(retired.chosen.is_none());
    }
}
