//! Where a segment's time goes: named stages in the order they ran, measured one after another
//! ([`Stages::lap`]). The orchestrator sends its stages with every segment reply in a standard
//! `Server-Timing` header (`queue;dur=3.1, transcode;dur=812.0`, milliseconds), so that the
//! broadcaster can tell the network's share of a round trip from the orchestrator's.

use std::time::{Duration, Instant};

/// The reply header carrying an orchestrator's stages (W3C Server Timing).
pub const SERVER_TIMING_HEADER: &str = "server-timing";

/// Stages measured back to back from a start.
#[derive(Debug, Clone)]
pub struct Stages {
    last: Instant,
    laps: Vec<(&'static str, Duration)>,
}

impl Default for Stages {
    fn default() -> Self {
        Self::new()
    }
}

impl Stages {
    /// Starts timing now.
    pub fn new() -> Self {
        Self {
            last: Instant::now(),
            laps: Vec::new(),
        }
    }

    /// Ends stage `name` now: the time since the previous stage ended (or the start).
    pub fn lap(&mut self, name: &'static str) {
        let now = Instant::now();
        self.laps.push((name, now - self.last));
        self.last = now;
    }

    /// Records stage `name` as `took`, measured elsewhere, and moves the clock on by it (the
    /// next lap starts where it ended).
    pub fn add(&mut self, name: &'static str, took: Duration) {
        self.laps.push((name, took));
        self.last += took;
    }

    /// The stages so far, in order.
    pub fn laps(&self) -> &[(&'static str, Duration)] {
        &self.laps
    }

    /// The `Server-Timing` header value of the stages.
    pub fn server_timing(&self) -> String {
        self.laps
            .iter()
            .map(|(name, d)| format!("{name};dur={:.1}", d.as_secs_f64() * 1e3))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The longest stage a `Server-Timing` entry may report (a day), in milliseconds.
pub const MAX_STAGE_MS: f64 = 86_400_000.0;

/// The stages of a `Server-Timing` header value, in milliseconds; entries without a `dur`, or
/// with one that is not a number from 0 to [`MAX_STAGE_MS`], are left out (the header is the
/// peer's).
pub fn parse_server_timing(value: &str) -> Vec<(String, f64)> {
    value
        .split(',')
        .filter_map(|entry| {
            let mut params = entry.split(';');
            let name = params.next()?.trim();
            if name.is_empty() || name.len() > 32 {
                return None;
            }
            let ms = params.find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim() == "dur").then(|| v.trim().parse::<f64>().ok())?
            })?;
            (ms.is_finite() && (0.0..=MAX_STAGE_MS).contains(&ms)).then(|| (name.to_owned(), ms))
        })
        .take(16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_round_trip_through_the_header() {
        let mut s = Stages::new();
        s.lap("auth");
        s.add("transcode", Duration::from_millis(812));
        s.lap("sign");
        let header = s.server_timing();
        let parsed = parse_server_timing(&header);
        assert_eq!(
            parsed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["auth", "transcode", "sign"]
        );
        assert!((parsed[1].1 - 812.0).abs() < 0.1);
    }

    #[test]
    fn a_peers_odd_header_gives_only_what_is_sound() {
        let parsed = parse_server_timing(
            "queue;dur=3.5, nodur, bad;dur=x, neg;dur=-1, inf;dur=inf, huge;dur=1e30, db;desc=\"x\";dur=2",
        );
        assert_eq!(
            parsed,
            vec![("queue".to_owned(), 3.5), ("db".to_owned(), 2.0)]
        );
    }
}
