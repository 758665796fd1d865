//! A strict-enough reader of the playlists the broadcaster serves, for assertions.

/// One `EXT-X-STREAM-INF` entry of a master playlist.
#[derive(Debug)]
pub struct Variant {
    pub bandwidth: u64,
    pub resolution: (u32, u32),
    pub codecs: Option<String>,
    pub uri: String,
}

/// Parses a master playlist.
pub fn parse_master(text: &str) -> Vec<Variant> {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("#EXTM3U"), "{text}");
    let mut variants = Vec::new();
    while let Some(line) = lines.next() {
        let Some(attrs) = line.strip_prefix("#EXT-X-STREAM-INF:") else {
            continue;
        };
        let attr = |key: &str| attribute(attrs, key);
        let (w, h) = attr("RESOLUTION").unwrap().split_once('x').unwrap();
        variants.push(Variant {
            bandwidth: attr("BANDWIDTH").unwrap().parse().unwrap(),
            resolution: (w.parse().unwrap(), h.parse().unwrap()),
            codecs: attr("CODECS").map(|c| c.trim_matches('"').to_owned()),
            uri: lines
                .next()
                .expect("a URI follows EXT-X-STREAM-INF")
                .to_owned(),
        });
    }
    variants
}

/// Reads `KEY=value` from an attribute list, where quoted values may hold commas.
fn attribute<'a>(attrs: &'a str, key: &str) -> Option<&'a str> {
    let mut rest = attrs;
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=')?;
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&after[..end + 2], quoted[end + 1..].trim_start_matches(','))
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        if name == key {
            return Some(value);
        }
        rest = next;
    }
    None
}

/// One media playlist entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub seq: u64,
    pub duration_s: f64,
    pub uri: String,
    pub gap: bool,
}

/// A parsed media playlist.
#[derive(Debug)]
pub struct Media {
    pub version: u32,
    pub target_duration: u64,
    pub media_sequence: u64,
    pub entries: Vec<Entry>,
    pub ended: bool,
}

impl Media {
    /// Sequence numbers of the segments (not gaps), in playlist order.
    pub fn seqs(&self) -> Vec<u64> {
        self.entries
            .iter()
            .filter(|e| !e.gap)
            .map(|e| e.seq)
            .collect()
    }
}

/// Parses a media playlist and checks the rules a player relies on: the header tags come once,
/// every `EXTINF` rounds to at most the target duration, and nothing follows `EXT-X-ENDLIST`.
pub fn parse_media(text: &str) -> Media {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("#EXTM3U"), "{text}");
    let (mut version, mut target, mut sequence) = (None, None, None);
    let mut entries = Vec::new();
    let mut ended = false;
    let mut gap = false;
    while let Some(line) = lines.next() {
        assert!(!ended, "content after EXT-X-ENDLIST: {text}");
        if let Some(v) = line.strip_prefix("#EXT-X-VERSION:") {
            assert!(version.replace(v.parse().unwrap()).is_none());
        } else if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            assert!(target.replace(v.parse().unwrap()).is_none());
        } else if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            assert!(entries.is_empty() && sequence.replace(v.parse().unwrap()).is_none());
        } else if line == "#EXT-X-GAP" {
            gap = true;
        } else if let Some(v) = line.strip_prefix("#EXTINF:") {
            let duration_s: f64 = v.trim_end_matches(',').parse().unwrap();
            let uri = lines.next().expect("a URI follows EXTINF").to_owned();
            let seq = sequence.expect("MEDIA-SEQUENCE before segments") + entries.len() as u64;
            entries.push(Entry {
                seq,
                duration_s,
                uri,
                gap: std::mem::take(&mut gap),
            });
        } else if line == "#EXT-X-ENDLIST" {
            ended = true;
        }
    }
    let media = Media {
        version: version.expect("EXT-X-VERSION"),
        target_duration: target.expect("EXT-X-TARGETDURATION"),
        media_sequence: sequence.expect("EXT-X-MEDIA-SEQUENCE"),
        entries,
        ended,
    };
    for e in &media.entries {
        assert!(e.duration_s > 0.0);
        assert!(
            e.duration_s.round() as u64 <= media.target_duration
                && e.duration_s <= media.target_duration as f64,
            "EXTINF {} exceeds the target duration {}",
            e.duration_s,
            media.target_duration
        );
    }
    media
}
