//! The state of one stream: its renditions and, per rendition, the segments published so far.
//! Pure data and rules; the registry decides who may change it and the recording persists it.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Instant;

use bytes::Bytes;

use crate::processor::{RenditionOut, SegmentFormat};

/// Longest segment the broadcaster publishes, in seconds (go-livepeer's limit).
const MAX_SEGMENT_SECONDS: f64 = 300.0;

/// The rendition name the master playlist's path would collide with.
const MASTER_NAME: &str = "index";

/// Whether `name` can name a stream or a rendition: `[A-Za-z0-9_-]{1,64}`.
pub fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks that a processor's answer can be published as it is, so that a bad answer is refused
/// before anything is written.
pub fn check_renditions(renditions: &[RenditionOut]) -> Result<(), String> {
    if renditions.is_empty() {
        return Err("the processor returned no rendition".into());
    }
    let mut names = HashSet::new();
    for r in renditions {
        if !is_valid_name(&r.name) || r.name == MASTER_NAME {
            return Err(format!("invalid rendition name {:?}", r.name));
        }
        if !names.insert(r.name.as_str()) {
            return Err(format!("rendition {:?} returned twice", r.name));
        }
        if r.width == 0 || r.height == 0 {
            return Err(format!("rendition {:?} has no resolution", r.name));
        }
        if !(r.duration_s.is_finite() && r.duration_s > 0.0 && r.duration_s <= MAX_SEGMENT_SECONDS)
        {
            return Err(format!(
                "rendition {:?} has duration {}",
                r.name, r.duration_s
            ));
        }
        if r.bytes.is_empty() {
            return Err(format!("rendition {:?} is empty", r.name));
        }
    }
    Ok(())
}

/// One published segment of one rendition.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Duration in seconds.
    pub duration_s: f64,
    /// Container of the segment's bytes.
    pub container: SegmentFormat,
    /// The bytes while the segment is in the live window of a live stream; older segments, and
    /// every segment of an ended stream, are served from the recording.
    pub bytes: Option<Bytes>,
}

/// One rendition of a stream: what the master playlist says about it and its segments.
#[derive(Debug, Clone)]
pub struct Rendition {
    /// Rendition name, unique within the stream.
    pub name: String,
    /// Frame width of the latest segment.
    pub width: u32,
    /// Frame height of the latest segment.
    pub height: u32,
    /// Nominal bitrate announced by the processor for the latest segment.
    pub nominal_bps: u64,
    /// Highest bitrate measured over the segments (bytes × 8 / duration).
    pub peak_bps: u64,
    /// RFC 6381 codecs string, if the processor knows it.
    pub codecs: Option<String>,
    /// Longest segment so far, in seconds; the target duration never shrinks.
    pub max_duration_s: f64,
    /// Segments by sequence number.
    pub segments: BTreeMap<u64, Segment>,
}

impl Rendition {
    fn new(out: &RenditionOut) -> Self {
        Self {
            name: out.name.clone(),
            width: out.width,
            height: out.height,
            nominal_bps: out.bandwidth_bps,
            peak_bps: 0,
            codecs: out.codecs.clone(),
            max_duration_s: 0.0,
            segments: BTreeMap::new(),
        }
    }

    /// The `BANDWIDTH` to announce: never below the peak segment bitrate (RFC 8216 §4.3.4.2).
    pub fn bandwidth_bps(&self) -> u64 {
        self.nominal_bps.max(self.peak_bps)
    }

    /// `EXT-X-TARGETDURATION`: whole seconds, at least every segment's duration.
    pub fn target_duration(&self) -> u64 {
        // Durations are bounded by MAX_SEGMENT_SECONDS, so the cast cannot overflow.
        (self.max_duration_s.ceil() as u64).max(1)
    }

    fn insert(&mut self, seq: u64, out: &RenditionOut, window: usize) {
        self.width = out.width;
        self.height = out.height;
        self.nominal_bps = out.bandwidth_bps;
        if out.codecs.is_some() {
            self.codecs.clone_from(&out.codecs);
        }
        let measured = (out.bytes.len() as f64 * 8.0 / out.duration_s).ceil() as u64;
        self.peak_bps = self.peak_bps.max(measured);
        self.max_duration_s = self.max_duration_s.max(out.duration_s);
        let segment = Segment {
            duration_s: out.duration_s,
            container: out.container,
            bytes: Some(out.bytes.clone()),
        };
        self.segments.insert(seq, segment);
        self.release_bytes_outside(seq, window);
    }

    /// Keeps bytes in memory only for the newest `window` segments. One insert moves at most
    /// two segments out of the window: the one it pushed across the edge, or itself when it
    /// arrived late; so only those two are looked at.
    fn release_bytes_outside(&mut self, inserted: u64, window: usize) {
        let Some(&oldest_kept) = self.segments.keys().rev().nth(window.max(1) - 1) else {
            return;
        };
        if let Some((_, pushed_out)) = self.segments.range_mut(..oldest_kept).next_back() {
            pushed_out.bytes = None;
        }
        if inserted < oldest_kept
            && let Some(late) = self.segments.get_mut(&inserted)
        {
            late.bytes = None;
        }
    }
}

/// Everything the broadcaster knows about one stream.
#[derive(Debug, Clone)]
pub struct StreamState {
    /// Renditions in the order the processor first returned them.
    pub renditions: Vec<Rendition>,
    /// Set by `DELETE` or the idle rule; an ended stream takes no more pushes.
    pub ended: bool,
    /// When the latest segment was published.
    pub last_publish: Instant,
}

impl Default for StreamState {
    fn default() -> Self {
        Self {
            renditions: Vec::new(),
            ended: false,
            last_publish: Instant::now(),
        }
    }
}

impl StreamState {
    /// Whether at least one segment was published, i.e. whether viewers can see the stream.
    pub fn is_published(&self) -> bool {
        !self.renditions.is_empty()
    }

    /// Drops every segment's bytes from memory (an ended stream's are read from the recording).
    pub fn release_bytes(&mut self) {
        for r in &mut self.renditions {
            for segment in r.segments.values_mut() {
                segment.bytes = None;
            }
        }
    }

    /// The distinct sequence numbers published, over every rendition.
    pub fn published_seqs(&self) -> BTreeSet<u64> {
        self.renditions
            .iter()
            .flat_map(|r| r.segments.keys().copied())
            .collect()
    }

    /// The rendition called `name`.
    pub fn rendition(&self, name: &str) -> Option<&Rendition> {
        self.renditions.iter().find(|r| r.name == name)
    }

    /// Adds segment `seq` to every rendition in `renditions`, replacing an earlier push of the
    /// same `seq`. `renditions` must have passed [`check_renditions`].
    pub fn publish(&mut self, seq: u64, renditions: &[RenditionOut], window: usize) {
        for out in renditions {
            let index = match self.renditions.iter().position(|r| r.name == out.name) {
                Some(index) => index,
                None => {
                    self.renditions.push(Rendition::new(out));
                    self.renditions.len() - 1
                }
            };
            self.renditions[index].insert(seq, out, window);
        }
        self.last_publish = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(name: &str, duration_s: f64) -> RenditionOut {
        RenditionOut {
            name: name.into(),
            width: 640,
            height: 360,
            bandwidth_bps: 1_000,
            codecs: None,
            container: SegmentFormat::Ts,
            bytes: Bytes::from_static(&[0x47; 188]),
            duration_s,
        }
    }

    #[test]
    fn names_follow_the_charset_and_length() {
        assert!(is_valid_name("cam_1-A"));
        assert!(is_valid_name(&"a".repeat(64)));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name(&"a".repeat(65)));
        assert!(!is_valid_name("a b"));
        assert!(!is_valid_name("../x"));
    }

    #[test]
    fn check_renditions_refuses_duplicates_and_bad_durations() {
        assert!(check_renditions(&[out("360p", 2.0)]).is_ok());
        assert!(check_renditions(&[]).is_err());
        assert!(check_renditions(&[out("360p", 2.0), out("360p", 2.0)]).is_err());
        assert!(check_renditions(&[out("index", 2.0)]).is_err());
        assert!(check_renditions(&[out("360p", f64::NAN)]).is_err());
        assert!(check_renditions(&[out("360p", 0.0)]).is_err());
    }

    #[test]
    fn republishing_a_seq_replaces_it() {
        let mut state = StreamState::default();
        state.publish(1, &[out("360p", 2.0)], 6);
        state.publish(1, &[out("360p", 1.5)], 6);
        let r = state.rendition("360p").unwrap();
        assert_eq!(r.segments.len(), 1);
        assert_eq!(r.segments[&1].duration_s, 1.5);
        assert_eq!(r.target_duration(), 2);
    }

    #[test]
    fn bytes_stay_in_memory_only_inside_the_window() {
        let mut state = StreamState::default();
        for seq in [5, 1, 4, 2, 3, 0] {
            state.publish(seq, &[out("360p", 2.0)], 3);
        }
        let r = state.rendition("360p").unwrap();
        let in_memory: Vec<u64> = r
            .segments
            .iter()
            .filter(|(_, s)| s.bytes.is_some())
            .map(|(seq, _)| *seq)
            .collect();
        assert_eq!(in_memory, vec![3, 4, 5]);
    }

    #[test]
    fn released_bytes_leave_the_segments_listed() {
        let mut state = StreamState::default();
        for seq in 0..3 {
            state.publish(seq, &[out("360p", 2.0), out("240p", 2.0)], 6);
        }
        state.release_bytes();
        assert_eq!(state.published_seqs().len(), 3);
        assert!(
            state
                .renditions
                .iter()
                .flat_map(|r| r.segments.values())
                .all(|s| s.bytes.is_none())
        );
    }

    #[test]
    fn bandwidth_is_never_below_the_measured_peak() {
        let mut state = StreamState::default();
        state.publish(0, &[out("360p", 0.5)], 6);
        let r = state.rendition("360p").unwrap();
        assert_eq!(r.bandwidth_bps(), 188 * 8 * 2);
    }
}
