//! What the network did for each stream, in memory, for the status page: segments pushed, the
//! orchestrator chosen for the latest segment, the round-trip latency, the verification results
//! and the money sent in tickets. The processor ([`super::processor`]) writes it; the status API
//! ([`super::status`]) reads it. Only counts since this process started.

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
}

/// Per-stream records, shared by the processor and the status API.
#[derive(Debug, Default)]
pub struct StreamStats {
    streams: Mutex<HashMap<String, StreamRecord>>,
}

impl StreamStats {
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

    /// The record of `stream`, if the network ever saw it.
    pub fn get(&self, stream: &str) -> Option<StreamRecord> {
        self.lock().get(stream).cloned()
    }

    /// Every record, by stream.
    pub fn all(&self) -> HashMap<String, StreamRecord> {
        self.lock().clone()
    }

    fn update(&self, stream: &str, change: impl FnOnce(&mut StreamRecord)) {
        change(self.lock().entry(stream.to_owned()).or_default());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, StreamRecord>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
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
}
