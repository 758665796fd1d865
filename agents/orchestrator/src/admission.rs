//! Admission control: a stream is taken on only while the transcoders' capacity covers it and
//! every stream already taken on, so that overload refuses new streams (the broadcaster goes to
//! the next orchestrator) instead of letting every stream fall behind real time.
//!
//! A stream's demand is the output pixels per second its segments ask for (each profile's width
//! × height × the segment's frames, over its duration: see [`demand`]). A new stream fits if the
//! demand of the streams held plus its own is within the capacity; an orchestrator holding no
//! stream takes one whatever its estimate. A held stream passes unless its demand grows by more
//! than a quarter beyond what it was taken on with and the growth does not fit.
//!
//! A segment is checked twice: before its payment is booked ([`Admission::check`], nothing
//! taken), and when its work is paid for ([`Admission::admit`], which takes the place). A place is
//! held for good, and a held stream's demand and time updated, only once a segment has been served
//! ([`Seat::keep`]): a request that fails (unpaid, say) takes nothing and refreshes nothing, so
//! neither refused payments nor unpaid segments can fill the orchestrator or keep a stream's place.
//! A stream is let go once it has missed about three segments at its pace (three times the gap
//! between its last two served segments, or its first segment's duration until it has had two; at
//! least [`MIN_HOLD`]), and [`Admission::idle`] after its last served segment in any case.
//!
//! A held stream's segment may start transcoding before its probe ends ([`Admission::start_early`]):
//! its frames are counted, its admission checked and its work charged while it runs, and it is
//! stopped if any of that fails. So that this gives no free work, a stream may do so only once a
//! segment of it was served, one segment at a time, for a segment no larger than that one (its
//! pixels a frame, twice its bytes), and loses it on the first segment that started early and was
//! not served, until one of its segments is served again: at most one unpaid transcode, of about
//! the size of a paid one, per paid one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use serde::Serialize;

/// How long a stream keeps its place after its last segment was served, by default: twice the
/// longest a segment counts for, so that a stream of long segments is not let go between two.
pub const IDLE: Duration = Duration::from_secs(20);

/// The shortest and longest a segment counts for in its stream's demand: its own timestamps are
/// the sender's word, so a segment claiming a millisecond (a huge demand for a few paid frames)
/// or an hour (no demand at all) counts as one or ten seconds (and never as slower than 10 frames
/// a second).
pub const SEGMENT_SECONDS: (f64, f64) = (1.0, 10.0);

/// The output pixels per second a segment of `frames` frames, each `pixels_per_frame` output
/// pixels over its profiles, asks for when it says it lasts `seconds`.
pub fn demand(pixels_per_frame: u64, frames: u64, seconds: f64) -> u64 {
    let seconds = segment_seconds(frames, seconds);
    (pixels_per_frame as f64 * frames as f64 / seconds).min(u64::MAX as f64) as u64
}

/// What a segment of `frames` frames that says it lasts `seconds` counts for (see
/// [`SEGMENT_SECONDS`]).
pub fn segment_seconds(frames: u64, seconds: f64) -> f64 {
    // Nor may it claim to be slower than 10 frames a second (a 60-frame segment claiming 10 s).
    let longest = (frames as f64 / 10.0).clamp(SEGMENT_SECONDS.0, SEGMENT_SECONDS.1);
    if seconds.is_finite() {
        seconds.clamp(SEGMENT_SECONDS.0, longest)
    } else {
        SEGMENT_SECONDS.0
    }
}

type Key = (Address, String);

struct Held {
    /// What its latest segment asks for (counted against the capacity).
    demand: u64,
    /// What it was taken on with, or last grew to within the capacity: growth beyond a quarter
    /// of this must fit.
    baseline: u64,
    /// When its last segment was served, or (before that) when its first was admitted.
    last_served: Instant,
    /// A segment of it was served (until then, its first segments' requests hold the place).
    served: bool,
    /// Admitted segments whose requests are still running.
    in_flight: u32,
    /// The time between its last two served segments once it has had two; before that, its first
    /// segment's duration.
    gap: Option<Duration>,
    /// Its next segment may start before its probe ends: granted by a served segment, lost by a
    /// segment that started early and was not served.
    early: bool,
    /// A segment of it that started early runs now.
    early_running: bool,
    /// Its last served segment's shape: a segment starts early only if it is no larger.
    last_shape: Shape,
}

/// How large a segment is before it is probed: what its profiles ask of each frame, and its size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    /// Output pixels per frame, over every profile asked for.
    pub pixels_per_frame: u64,
    pub bytes: u64,
}

impl Shape {
    /// Whether a segment of this shape is no larger than one of `served`'s might be: no more
    /// pixels a frame, and at most twice the bytes (segments of a live stream vary a little).
    fn within(self, served: Shape) -> bool {
        self.pixels_per_frame <= served.pixels_per_frame
            && self.bytes <= served.bytes.saturating_mul(2)
    }
}

/// The least a stream that has shown its pace is held without a segment.
pub const MIN_HOLD: Duration = Duration::from_secs(4);

impl Held {
    /// Whether it still holds its place at `now`. A served stream is let go once it has missed
    /// about three segments at its own pace (three times its [`gap`](Held::gap), at least
    /// [`MIN_HOLD`]), and `idle` after its last served segment in any case: a stream that has
    /// ended (or a single test segment) frees its place soon, one slowed down by load keeps it. A stream never served
    /// holds its place while a first segment runs, for `idle` at most (requests that keep failing
    /// hold nothing for long).
    fn live(&self, now: Instant, idle: Duration) -> bool {
        let hold = self
            .gap
            .map_or(idle, |gap| (gap * 3).clamp(MIN_HOLD.min(idle), idle));
        let waited = now.duration_since(self.last_served);
        if self.served {
            // A segment still running keeps it too (bounded by the job timeout), one that started
            // early included.
            waited < hold || self.in_flight > 0 || self.early_running
        } else {
            self.in_flight > 0 && waited < idle
        }
    }
}

/// The streams held, by (broadcaster, stream name).
pub struct Admission {
    held: Mutex<HashMap<Key, Held>>,
    idle: Duration,
}

impl Default for Admission {
    fn default() -> Self {
        Self::new(IDLE)
    }
}

/// A new stream, or a held one's growth, did not fit.
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

/// A paid segment's place: kept with [`Seat::keep`] once the segment is served; dropped
/// otherwise, when it gives back a new stream's place.
pub struct Seat<'a> {
    admission: &'a Admission,
    key: Key,
    demand: u64,
    kept: bool,
}

impl Seat<'_> {
    /// The segment was served: its stream keeps its place, with this segment's demand. `lasted`
    /// is the segment's duration (as [`segment_seconds`] counts it): the stream's pace until it
    /// has shown its own. `shape` is the segment's: the largest a segment of the stream may be
    /// to start early.
    pub fn keep(mut self, lasted: Duration, shape: Shape) {
        self.kept = true;
        let admission = self.admission;
        let mut held = admission.held.lock().expect("admission");
        // Let go meanwhile (a transcode longer than the idle time): it takes its place again.
        let now = Instant::now();
        let h = held.entry(self.key.clone()).or_insert(Held {
            demand: self.demand,
            baseline: self.demand,
            last_served: now,
            served: false,
            in_flight: 1,
            gap: None,
            early: false,
            early_running: false,
            last_shape: Shape::default(),
        });
        h.gap = Some(if h.served {
            now.duration_since(h.last_served)
        } else {
            lasted
        });
        h.demand = self.demand;
        h.last_served = now;
        h.served = true;
        h.early = true;
        h.last_shape = shape;
        h.in_flight = h.in_flight.saturating_sub(1);
    }
}

/// A held stream's segment that started before its probe ended ([`Admission::start_early`]).
/// Dropped without [`Early::served`], its stream loses the right to start early until one of its
/// segments is served again.
pub struct Early<'a> {
    admission: &'a Admission,
    key: Key,
    served: bool,
}

impl Early<'_> {
    /// The segment was served (and its place kept with [`Seat::keep`]).
    pub fn served(mut self) {
        self.served = true;
    }
}

impl Drop for Early<'_> {
    fn drop(&mut self) {
        let mut held = self.admission.held.lock().expect("admission");
        if let Some(h) = held.get_mut(&self.key) {
            h.early_running = false;
            if !self.served {
                h.early = false;
            }
        }
    }
}

impl Drop for Seat<'_> {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        let mut held = self.admission.held.lock().expect("admission");
        if let Some(h) = held.get_mut(&self.key) {
            h.in_flight = h.in_flight.saturating_sub(1);
            if !h.served && h.in_flight == 0 {
                held.remove(&self.key);
            }
        }
    }
}

impl Admission {
    /// Streams are let go `idle` after their last segment was served.
    pub fn new(idle: Duration) -> Self {
        Self {
            held: Mutex::new(HashMap::new()),
            idle,
        }
    }

    /// How long a stream keeps its place after its last segment was served.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// Whether a segment of `stream` from `broadcaster` asking `demand` output pixels per second
    /// would be admitted against `capacity`; takes nothing.
    pub fn check(
        &self,
        broadcaster: Address,
        stream: &str,
        demand: u64,
        capacity: u64,
    ) -> Result<(), Full> {
        let mut held = self.held.lock().expect("admission");
        self.fits(
            &mut held,
            &(broadcaster, stream.to_owned()),
            demand,
            capacity,
        )
    }

    /// Whether a segment of `stream` from `broadcaster`, of `shape`, may start before its probe
    /// ends: the stream is held, a segment of it was served, this one is no larger than that
    /// ([`Shape`]: no more pixels a frame, at most twice the bytes), no segment of it that started
    /// early runs now (one keeps the stream held) and none failed since its last served one. The segment is still checked ([`check`],
    /// [`admit`]) once it is counted, and stopped if it does not pass.
    ///
    /// [`check`]: Admission::check
    /// [`admit`]: Admission::admit
    pub fn start_early(
        &self,
        broadcaster: Address,
        stream: &str,
        shape: Shape,
    ) -> Option<Early<'_>> {
        let key = (broadcaster, stream.to_owned());
        let mut held = self.held.lock().expect("admission");
        let h = held.get_mut(&key)?;
        if !(h.live(Instant::now(), self.idle) && h.served && h.early) || h.early_running {
            return None;
        }
        if !shape.within(h.last_shape) {
            return None;
        }
        h.early_running = true;
        Some(Early {
            admission: self,
            key,
            served: false,
        })
    }

    /// Admits a paid segment of `stream`: a new stream takes its place now (given back if the
    /// segment is not served).
    pub fn admit(
        &self,
        broadcaster: Address,
        stream: &str,
        demand: u64,
        capacity: u64,
    ) -> Result<Seat<'_>, Full> {
        let key = (broadcaster, stream.to_owned());
        let mut held = self.held.lock().expect("admission");
        self.fits(&mut held, &key, demand, capacity)?;
        let h = held.entry(key.clone()).or_insert(Held {
            demand,
            baseline: demand,
            last_served: Instant::now(),
            served: false,
            in_flight: 0,
            gap: None,
            early: false,
            early_running: false,
            last_shape: Shape::default(),
        });
        h.in_flight += 1;
        // It grew by more than a quarter and that fitted: the growth is its new baseline.
        if demand > h.baseline.saturating_add(h.baseline / 4) {
            h.baseline = demand;
        }
        Ok(Seat {
            admission: self,
            key,
            demand,
            kept: false,
        })
    }

    fn fits(
        &self,
        held: &mut HashMap<Key, Held>,
        key: &Key,
        demand: u64,
        capacity: u64,
    ) -> Result<(), Full> {
        let now = Instant::now();
        held.retain(|_, h| h.live(now, self.idle));
        let total = held
            .values()
            .fold(0u64, |sum, h| sum.saturating_add(h.demand));
        let full = |demand| Full {
            demand,
            held: total,
            capacity,
        };
        match held.get(key) {
            // A held stream passes, unless it grows by more than a quarter and that does not fit.
            Some(h) => {
                let grown = demand > h.baseline.saturating_add(h.baseline / 4);
                if grown && total.saturating_sub(h.demand).saturating_add(demand) > capacity {
                    return Err(full(demand));
                }
                Ok(())
            }
            // An orchestrator holding no stream takes one whatever its estimate: refusing it
            // would help no broadcaster (a transcoder not connected yet, or a low measurement,
            // would turn away every stream), and its jobs then correct the estimate.
            None if held.is_empty() => Ok(()),
            None if total.saturating_add(demand) > capacity => Err(full(demand)),
            None => Ok(()),
        }
    }

    /// The streams held now.
    pub fn load(&self) -> Load {
        let now = Instant::now();
        let held = self.held.lock().expect("admission");
        let live = held.values().filter(|h| h.live(now, self.idle));
        Load {
            streams: live.clone().count(),
            demand: live.fold(0u64, |sum, h| sum.saturating_add(h.demand)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Address = Address::repeat_byte(0xb);
    const SHAPE: Shape = Shape {
        pixels_per_frame: 1_000,
        bytes: 100_000,
    };

    fn serve(a: &Admission, stream: &str, demand: u64, capacity: u64) -> Result<(), Full> {
        a.check(B, stream, demand, capacity)?;
        a.admit(B, stream, demand, capacity)?
            .keep(Duration::from_secs(2), SHAPE);
        Ok(())
    }

    #[test]
    fn new_streams_fit_or_are_refused_and_held_ones_pass() {
        let a = Admission::default();
        serve(&a, "one", 40, 100).unwrap();
        serve(&a, "two", 40, 100).unwrap();
        let full = serve(&a, "three", 40, 100).unwrap_err();
        assert_eq!(
            full,
            Full {
                demand: 40,
                held: 80,
                capacity: 100
            }
        );
        // A held stream passes even once capacity shrank below what is held, and may grow a
        // little; growing much more than that must fit.
        serve(&a, "one", 45, 50).unwrap();
        assert!(serve(&a, "one", 90, 100).is_err());
        serve(&a, "one", 55, 100).unwrap();
        assert_eq!(
            a.load(),
            Load {
                streams: 2,
                demand: 95
            }
        );
        // The same name from another broadcaster is another stream.
        assert!(a.check(Address::repeat_byte(0xc), "one", 40, 100).is_err());
    }

    #[test]
    fn requests_that_never_get_served_hold_a_new_streams_place_for_the_idle_time_at_most() {
        let a = Admission::new(Duration::from_secs(1));
        let stuck = a.admit(B, "stuck", 60, 100).unwrap();
        assert!(a.check(B, "other", 60, 100).is_err());
        std::thread::sleep(Duration::from_millis(1100));
        serve(&a, "other", 60, 100).unwrap();
        drop(stuck);
        assert_eq!(a.load().streams, 1);
    }

    #[test]
    fn a_stream_that_showed_its_pace_is_let_go_after_missing_three_segments() {
        let a = Admission::new(Duration::from_secs(60));
        serve(&a, "ended", 60, 100).unwrap();
        std::thread::sleep(Duration::from_millis(10));
        serve(&a, "ended", 60, 100).unwrap();
        // Its pace is known (a gap of ~10 ms): held for MIN_HOLD, not the minute.
        assert!(a.check(B, "next", 60, 100).is_err());
        // With a short idle time, the hold is that (MIN_HOLD is capped by it), then let go.
        let b = Admission::new(Duration::from_secs(1));
        serve(&b, "ended", 60, 100).unwrap();
        serve(&b, "ended", 60, 100).unwrap();
        assert!(b.check(B, "next", 60, 100).is_err(), "held");
        std::thread::sleep(Duration::from_millis(1100));
        serve(&b, "next", 60, 100).unwrap();
    }

    #[test]
    fn a_stream_served_once_is_held_for_about_three_of_its_segments_not_the_idle_time() {
        let a = Admission::new(Duration::from_secs(60));
        let seat = a.admit(B, "probe", 60, 100).unwrap();
        // A single segment of a second: held 3 s, which MIN_HOLD (4 s) raises.
        seat.keep(Duration::from_secs(1), SHAPE);
        assert!(a.check(B, "next", 60, 100).is_err(), "held");
        std::thread::sleep(MIN_HOLD + Duration::from_millis(200));
        serve(&a, "next", 60, 100).unwrap();
        assert_eq!(a.load().streams, 1, "let go long before the minute");
    }

    #[test]
    fn a_served_stream_whose_next_segment_still_runs_keeps_its_place_past_its_hold() {
        let a = Admission::new(Duration::from_millis(200));
        serve(&a, "slow", 60, 100).unwrap();
        let running = a.admit(B, "slow", 60, 100).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(a.check(B, "other", 60, 100).is_err(), "still held");
        running.keep(Duration::from_secs(2), SHAPE);
        assert_eq!(a.load().streams, 1);
    }

    #[test]
    fn a_held_streams_demand_cannot_creep_up_a_quarter_at_a_time() {
        let a = Admission::default();
        serve(&a, "one", 40, 60).unwrap();
        serve(&a, "two", 10, 60).unwrap();
        serve(&a, "one", 50, 60).unwrap(); // a quarter more than it came with
        // Another quarter on top of that is growth beyond its baseline, and must fit: 62 + 10 > 60.
        assert!(serve(&a, "one", 62, 60).is_err());
        serve(&a, "one", 49, 60).unwrap();
    }

    #[test]
    fn an_orchestrator_holding_nothing_takes_one_stream_whatever_its_estimate() {
        let a = Admission::default();
        serve(&a, "big", 500, 0).unwrap();
        assert!(serve(&a, "small", 1, 0).is_err());
    }

    #[test]
    fn a_first_segment_not_served_frees_its_place_and_refreshes_nothing() {
        let a = Admission::default();
        let seat = a.admit(B, "one", 60, 100).unwrap();
        assert!(a.check(B, "two", 60, 100).is_err(), "held while it runs");
        // A second segment of the same new stream at once passes as held.
        let second = a.admit(B, "one", 60, 100).unwrap();
        drop(seat);
        assert_eq!(a.load().streams, 1, "still running");
        second.keep(Duration::from_secs(2), SHAPE);
        assert_eq!(a.load().streams, 1);

        let b = Admission::default();
        drop(b.admit(B, "one", 60, 100).unwrap());
        assert_eq!(b.load().streams, 0);
        serve(&b, "two", 60, 100).unwrap();
        assert_eq!(b.load().streams, 1);
    }

    #[test]
    fn a_held_stream_is_let_go_after_its_idle_time_and_unserved_segments_do_not_refresh_it() {
        let a = Admission::new(Duration::from_millis(200));
        serve(&a, "one", 60, 100).unwrap();
        std::thread::sleep(Duration::from_millis(120));
        // Admitted but not served (the payment failed, say): no refresh.
        drop(a.admit(B, "one", 60, 100).unwrap());
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(a.load().streams, 0, "let go");
        serve(&a, "two", 60, 100).unwrap();
    }

    #[test]
    fn a_segments_own_timestamps_cannot_claim_a_huge_or_no_demand() {
        assert_eq!(demand(1_000, 60, 2.0), 30_000);
        assert_eq!(
            demand(1_000, 2, 0.001),
            2_000,
            "a millisecond counts as a second"
        );
        assert_eq!(
            demand(1_000, 60, 3600.0),
            10_000,
            "no slower than 10 frames a second"
        );
        assert_eq!(
            demand(1_000, 600, 3600.0),
            60_000,
            "an hour counts as ten seconds"
        );
        assert_eq!(demand(1_000, 60, f64::NAN), 60_000);
        assert_eq!(demand(u64::MAX, u64::MAX, 1.0), u64::MAX);
    }

    #[test]
    fn only_a_served_stream_starts_early_one_segment_no_larger_at_a_time_until_one_fails() {
        let a = Admission::default();
        assert!(
            a.start_early(B, "s", SHAPE).is_none(),
            "a stream never seen"
        );
        let seat = a.admit(B, "s", 40, 100).unwrap();
        assert!(
            a.start_early(B, "s", SHAPE).is_none(),
            "admitted, not served yet"
        );
        seat.keep(Duration::from_secs(2), SHAPE);
        // No more pixels a frame, at most twice the bytes of the segment served.
        let larger = |pixels_per_frame, bytes| Shape {
            pixels_per_frame,
            bytes,
        };
        assert!(a.start_early(B, "s", larger(1_001, 100_000)).is_none());
        assert!(a.start_early(B, "s", larger(1_000, 200_001)).is_none());
        let early = a
            .start_early(B, "s", larger(1_000, 200_000))
            .expect("served once");
        assert!(a.start_early(B, "s", SHAPE).is_none(), "one at a time");
        assert!(a.start_early(B, "other", SHAPE).is_none());
        early.served();
        let failed = a
            .start_early(B, "s", SHAPE)
            .expect("the last early one was served");
        drop(failed);
        assert!(
            a.start_early(B, "s", SHAPE).is_none(),
            "lost with a failed one"
        );
        serve(&a, "s", 40, 100).unwrap();
        assert!(
            a.start_early(B, "s", SHAPE).is_some(),
            "back once a segment is served"
        );
    }

    #[test]
    fn a_segment_running_early_keeps_its_stream_held() {
        let a = Admission::new(Duration::from_millis(50));
        serve(&a, "s", 40, 100).unwrap();
        let early = a.start_early(B, "s", SHAPE).unwrap();
        std::thread::sleep(Duration::from_millis(80));
        // Past the idle time, the stream is still held while its early segment runs: another
        // stream that would not fit beside it is refused, and no second one starts early.
        assert!(a.check(B, "other", 90, 100).is_err());
        assert!(a.start_early(B, "s", SHAPE).is_none());
        drop(early);
        assert!(a.check(B, "other", 90, 100).is_ok());
    }
}
