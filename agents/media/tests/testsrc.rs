//! testsrc::generate_segments: a live stream cut like a broadcaster cuts it.

use crate::common;

use common::{FRAME_S, assert_close};
use peerflow_media::{probe, testsrc};

#[test]
fn segments_continue_each_other_with_a_key_frame_each() {
    let dir = tempfile::tempdir().unwrap();
    let segments = testsrc::generate_segments(dir.path(), 3, 1, 320, 180, 25).unwrap();
    assert_eq!(segments.len(), 3);
    let infos: Vec<_> = segments.iter().map(|s| probe(s).unwrap()).collect();
    for (i, info) in infos.iter().enumerate() {
        assert_eq!((info.width, info.height, info.fps), (320, 180, 25.0));
        assert_eq!(info.frames, 25, "segment {i}");
        assert_eq!(info.audio_codec.as_deref(), Some("aac"));
        assert_close(info.duration_s, 1.0, FRAME_S, "duration");
    }
    for pair in infos.windows(2) {
        let expected = pair[0].start_time_s + pair[0].duration_s;
        assert_close(
            pair[1].start_time_s,
            expected,
            0.001,
            "next segment's start",
        );
    }
}

#[test]
fn odd_sizes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert!(testsrc::generate_segments(dir.path(), 1, 2, 641, 360, 30).is_err());
    assert!(testsrc::generate_segments(dir.path(), 0, 2, 640, 360, 30).is_err());
}
