//! HLS playlists (RFC 8216) rendered from a stream's state: the master playlist and the media
//! playlist of one rendition, either as the live window or as the full recording. URIs are
//! relative, so the same text works under `/live/{stream}/` and in the recording directory.

use std::fmt::Write;

use crate::processor::SegmentFormat;
use crate::stream::{Rendition, Segment, StreamState};

/// Which segments a media playlist lists.
#[derive(Debug, Clone, Copy)]
pub enum MediaView {
    /// The newest `window` segments, with exact media sequence numbers: a sequence number that
    /// never arrived inside the window is listed as an `EXT-X-GAP`.
    Live {
        /// Number of segments listed.
        window: usize,
    },
    /// Every segment of the recording, in sequence order.
    Recording,
}

/// The master playlist: one variant per rendition.
pub fn master(state: &StreamState) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
    for r in &state.renditions {
        let _ = write!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION={}x{}",
            r.bandwidth_bps(),
            r.width,
            r.height
        );
        if let Some(codecs) = &r.codecs {
            let _ = write!(out, ",CODECS=\"{codecs}\"");
        }
        let _ = writeln!(out, "\n{}.m3u8", r.name);
    }
    out
}

/// The media playlist of `rendition`; `ended` adds `EXT-X-ENDLIST`.
pub fn media(rendition: &Rendition, ended: bool, view: MediaView) -> String {
    let listed = match view {
        MediaView::Live { window } => live_window(rendition, window.max(1)),
        MediaView::Recording => rendition
            .segments
            .iter()
            .map(|(s, seg)| (*s, seg))
            .collect(),
    };
    let first_seq = listed.first().map_or(0, |(seq, _)| *seq);
    let mut out = String::from("#EXTM3U\n");
    let _ = writeln!(out, "#EXT-X-VERSION:{}", version(&listed));
    let _ = writeln!(out, "#EXT-X-TARGETDURATION:{}", rendition.target_duration());
    let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{first_seq}");
    if matches!(view, MediaView::Recording) {
        out.push_str("#EXT-X-PLAYLIST-TYPE:EVENT\n");
    }
    let mut previous: Option<(u64, &Segment)> = None;
    for &(seq, segment) in &listed {
        if let Some((prev_seq, prev)) = previous
            && matches!(view, MediaView::Live { .. })
        {
            for missing in prev_seq + 1..seq {
                out.push_str("#EXT-X-GAP\n");
                write_entry(&mut out, &rendition.name, missing, prev);
            }
        }
        write_entry(&mut out, &rendition.name, seq, segment);
        previous = Some((seq, segment));
    }
    if ended {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// The newest `window` segments, starting after the last jump in sequence numbers too wide to
/// bridge with gaps (a pusher that renumbered).
fn live_window(rendition: &Rendition, window: usize) -> Vec<(u64, &Segment)> {
    let mut listed: Vec<(u64, &Segment)> = rendition
        .segments
        .iter()
        .rev()
        .take(window)
        .map(|(seq, segment)| (*seq, segment))
        .collect();
    listed.reverse();
    let too_wide = |pair: &[(u64, &Segment)]| pair[1].0 - pair[0].0 > window as u64;
    if let Some(jump) = listed.windows(2).rposition(too_wide) {
        listed.drain(..=jump);
    }
    listed
}

/// Version 3 allows decimal `EXTINF`; fragmented MP4 segments need version 7.
fn version(listed: &[(u64, &Segment)]) -> u8 {
    if listed
        .iter()
        .any(|(_, s)| s.container == SegmentFormat::Mp4)
    {
        7
    } else {
        3
    }
}

fn write_entry(out: &mut String, rendition: &str, seq: u64, segment: &Segment) {
    let _ = writeln!(
        out,
        "#EXTINF:{:.3},\n{rendition}/{seq}.{}",
        segment.duration_s, segment.container
    );
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::processor::RenditionOut;

    fn out(name: &str, duration_s: f64) -> RenditionOut {
        RenditionOut {
            name: name.into(),
            width: 640,
            height: 360,
            bandwidth_bps: 800_000,
            codecs: Some("avc1.42c01e,mp4a.40.2".into()),
            container: SegmentFormat::Ts,
            bytes: Bytes::from_static(&[0x47; 188]),
            duration_s,
        }
    }

    fn state(seqs: &[u64]) -> StreamState {
        let mut state = StreamState::default();
        for &seq in seqs {
            state.publish(seq, &[out("360p", 2.002)], 6);
        }
        state
    }

    #[test]
    fn master_lists_each_rendition_with_bandwidth_resolution_and_codecs() {
        let text = master(&state(&[0]));
        assert_eq!(
            text,
            "#EXTM3U\n#EXT-X-VERSION:3\n\
             #EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.42c01e,mp4a.40.2\"\n\
             360p.m3u8\n"
        );
    }

    #[test]
    fn live_playlist_lists_the_window_in_sequence_order() {
        let state = state(&[3, 1, 2, 0, 5, 4, 6, 7]);
        let text = media(&state.renditions[0], false, MediaView::Live { window: 3 });
        assert_eq!(
            text,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:3\n#EXT-X-MEDIA-SEQUENCE:5\n\
             #EXTINF:2.002,\n360p/5.ts\n#EXTINF:2.002,\n360p/6.ts\n#EXTINF:2.002,\n360p/7.ts\n"
        );
    }

    #[test]
    fn a_missing_seq_inside_the_window_is_a_gap() {
        let state = state(&[0, 1, 3]);
        let text = media(&state.renditions[0], false, MediaView::Live { window: 6 });
        assert!(text.contains("360p/1.ts\n#EXT-X-GAP\n#EXTINF:2.002,\n360p/2.ts\n"));
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:0\n"));
    }

    #[test]
    fn a_renumbering_jump_restarts_the_live_window() {
        let state = state(&[0, 1, 1000, 1001]);
        let text = media(&state.renditions[0], false, MediaView::Live { window: 6 });
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:1000\n"));
        assert!(!text.contains("#EXT-X-GAP"));
        assert!(!text.contains("360p/1.ts"));
    }

    #[test]
    fn recording_lists_everything_and_ends_when_the_stream_ends() {
        let state = state(&[0, 1, 2, 3, 4, 5, 6, 7, 9]);
        let text = media(&state.renditions[0], true, MediaView::Recording);
        assert!(text.contains("#EXT-X-PLAYLIST-TYPE:EVENT\n"));
        assert_eq!(text.matches("#EXTINF").count(), 9);
        assert!(!text.contains("#EXT-X-GAP"));
        assert!(text.ends_with("360p/9.ts\n#EXT-X-ENDLIST\n"));
    }
}
