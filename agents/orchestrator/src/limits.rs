//! Bounds on what strangers can make the orchestrator hold or do: token buckets per key (client IP,
//! sender address) in a table of bounded size, and the limits an orchestrator runs with.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

/// What an orchestrator allows strangers (senders without credit here).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// `/v1/info` requests per second per client IP for senders without credit (burst: `info_ip_burst`).
    pub info_ip_per_second: f64,
    pub info_ip_burst: f64,
    /// `/v1/info` requests per second per sender address without credit.
    pub info_sender_per_second: f64,
    pub info_sender_burst: f64,
    /// Ticket parameters kept for senders without credit here (oldest dropped first).
    pub max_unpaid_params: u64,
    /// Keys each rate-limit table tracks at most (least recently seen dropped first).
    pub max_tracked_keys: usize,
    /// How long a stream keeps its place in admission after its last segment was served
    /// (see [`crate::admission`]).
    pub stream_idle: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            info_ip_per_second: 20.0,
            info_ip_burst: 100.0,
            info_sender_per_second: 1.0,
            info_sender_burst: 10.0,
            max_unpaid_params: 10_000,
            max_tracked_keys: 10_000,
            stream_idle: crate::admission::IDLE,
        }
    }
}

/// Token buckets, one per key, in a table of at most `max_keys` entries.
pub struct RateLimiter<K> {
    per_second: f64,
    burst: f64,
    max_keys: usize,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    pub fn new(per_second: f64, burst: f64, max_keys: usize) -> Self {
        Self {
            per_second,
            burst,
            max_keys: max_keys.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; false when its bucket is empty.
    pub fn allow(&self, key: &K) -> bool {
        self.allow_at(key, Instant::now())
    }

    fn allow_at(&self, key: &K, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().expect("rate limiter");
        if !buckets.contains_key(key) && buckets.len() >= self.max_keys {
            // Full buckets carry no information: drop them first, then the stalest half.
            let (per_second, burst) = (self.per_second, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_second < burst
            });
            if buckets.len() >= self.max_keys {
                let mut seen: Vec<Instant> = buckets.values().map(|(_, at)| *at).collect();
                seen.sort_unstable();
                let cutoff = seen[seen.len() / 2];
                buckets.retain(|_, (_, at)| *at > cutoff);
            }
        }
        let (tokens, at) = buckets.entry(key.clone()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Keys tracked now (at most `max_keys`).
    pub fn tracked(&self) -> usize {
        self.buckets.lock().expect("rate limiter").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_key_gets_its_burst_then_its_rate_and_the_table_stays_bounded() {
        let limiter = RateLimiter::new(2.0, 3.0, 4);
        let t0 = Instant::now();
        let got = (0..5).filter(|_| limiter.allow_at(&1u32, t0)).count();
        assert_eq!(got, 3, "the burst");
        assert!(limiter.allow_at(&1, t0 + Duration::from_millis(500)));
        assert!(!limiter.allow_at(&1, t0 + Duration::from_millis(500)));
        for k in 2..1000u32 {
            limiter.allow_at(&k, t0 + Duration::from_millis(600));
            assert!(limiter.tracked() <= 4);
        }
    }
}
