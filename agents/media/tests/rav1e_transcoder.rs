//! Rav1eTranscoder: AV1 renditions encoded in-process, deterministic.

use crate::common;

use common::{FRAME_S, assert_close, probe_of, read, segments};
use peerflow_media::{
    Container, InputFormat, LadderError, MediaError, Profile, Rav1eTranscoder, Transcoder,
    default_ladder, probe,
};

#[test]
fn rav1e_profiles_yield_av1_mp4_at_profile_resolution_with_audio_and_timestamps() {
    let ladder =
        Profile::parse_ladder("240p:426x240:400k:av1-rav1e,144p:256x144:150k:av1-rav1e").unwrap();
    let segment = &segments()[4];
    let source = probe(segment).unwrap();
    let renditions = Rav1eTranscoder::new()
        .transcode(&read(segment), InputFormat::MpegTs, &ladder)
        .unwrap();
    assert_eq!(renditions.len(), 2);
    for (profile, rendition) in ladder.iter().zip(&renditions) {
        assert_eq!(rendition.profile, profile.name);
        assert_eq!(rendition.container, Container::Mp4);
        let info = probe_of(&rendition.bytes);
        assert_eq!(info.video_codec, "av1");
        assert_eq!((info.width, info.height), (profile.width, profile.height));
        assert_eq!(info.audio_codec.as_deref(), Some("aac"));
        assert_eq!(info.frames, source.frames);
        assert_close(info.duration_s, source.duration_s, FRAME_S, "duration");
        assert_close(info.start_time_s, source.start_time_s, 0.001, "start");
    }
}

#[test]
fn rav1e_output_is_byte_identical_for_the_same_input() {
    let ladder = Profile::parse_ladder("144p:256x144:150k:av1-rav1e").unwrap();
    let segment = read(&segments()[5]);
    let transcoder = Rav1eTranscoder::new();
    let first = transcoder
        .transcode(&segment, InputFormat::MpegTs, &ladder)
        .unwrap();
    let second = transcoder
        .transcode(&segment, InputFormat::MpegTs, &ladder)
        .unwrap();
    assert!(!first[0].bytes.is_empty());
    assert!(first == second, "two encodes of the same segment differ");
}

#[test]
fn garbage_is_a_bad_segment() {
    let ladder = Profile::parse_ladder("144p:256x144:150k:av1-rav1e").unwrap();
    let err = Rav1eTranscoder::new()
        .transcode(&[0x47; 188 * 50], InputFormat::MpegTs, &ladder)
        .unwrap_err();
    assert!(err.is_bad_segment(), "{err}");
}

#[test]
fn truncated_segment_is_a_bad_segment() {
    let ladder = Profile::parse_ladder("144p:256x144:150k:av1-rav1e").unwrap();
    let segment = read(&segments()[6]);
    let err = Rav1eTranscoder::new()
        .transcode(&segment[..segment.len() / 2], InputFormat::MpegTs, &ladder)
        .unwrap_err();
    assert!(err.is_bad_segment(), "{err}");
}

#[test]
fn h264_profiles_are_refused() {
    let err = Rav1eTranscoder::new()
        .transcode(
            &read(&segments()[0]),
            InputFormat::MpegTs,
            &default_ladder(),
        )
        .unwrap_err();
    assert!(
        matches!(err, MediaError::Ladder(LadderError::Unsupported { .. })),
        "{err}"
    );
}
