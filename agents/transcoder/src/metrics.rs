//! The transcoder's Prometheus metrics, served at `GET /metrics` on `--metrics-listen` (by the
//! binary):
//!
//! | Name | Kind | Labels | |
//! |---|---|---|---|
//! | `peerflow_transcoder_segments_total` | counter | `outcome` | jobs answered: `transcoded`, `bad_segment`, `failed` |
//! | `peerflow_transcoder_transcode_seconds` | histogram | | time to encode one job's renditions |
//! | `peerflow_transcoder_load` | gauge | | jobs in flight |
//! | `peerflow_transcoder_capacity` | gauge | | jobs taken at once (slots) |
//! | `peerflow_transcoder_pull_errors_total` | counter | | failed pulls (retried with backoff) |

use peerflow_protocol::metrics::{LATENCY_BUCKETS, Metrics};

pub const SEGMENTS: &str = "peerflow_transcoder_segments_total";
pub const TRANSCODE_SECONDS: &str = "peerflow_transcoder_transcode_seconds";
pub const LOAD: &str = "peerflow_transcoder_load";
pub const CAPACITY: &str = "peerflow_transcoder_capacity";
pub const PULL_ERRORS: &str = "peerflow_transcoder_pull_errors_total";

/// A job was answered with `outcome` after `seconds` of encoding.
pub fn job_done(m: &Metrics, outcome: &str, seconds: f64) {
    m.inc(
        SEGMENTS,
        "Jobs answered, by outcome.",
        &[("outcome", outcome)],
    );
    m.observe(
        TRANSCODE_SECONDS,
        "Time to encode one job's renditions.",
        LATENCY_BUCKETS,
        &[],
        seconds,
    );
}

/// `slots` jobs are taken at once.
pub fn capacity(m: &Metrics, slots: usize) {
    m.set(CAPACITY, "Jobs taken at once (slots).", &[], slots as f64);
    m.shift(LOAD, "Jobs in flight.", &[], 0.0);
}

pub fn pull_error(m: &Metrics) {
    m.inc(PULL_ERRORS, "Failed pulls (retried with backoff).", &[]);
}

/// One job in flight, for as long as this lives.
pub struct InFlight<'a>(&'a Metrics);

impl<'a> InFlight<'a> {
    pub fn start(m: &'a Metrics) -> Self {
        m.shift(LOAD, "Jobs in flight.", &[], 1.0);
        Self(m)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.shift(LOAD, "Jobs in flight.", &[], -1.0);
    }
}
