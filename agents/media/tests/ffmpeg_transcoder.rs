//! FfmpegTranscoder on generated live segments: renditions, timestamps, audio, errors.

use crate::common;

use std::process::Command;

use common::{FRAME_S, assert_close, probe_of, read, segments};
use peerflow_media::{
    Container, FfmpegTranscoder, InputFormat, LadderError, MediaError, Profile, Transcoder,
    VideoCodec, default_ladder, probe,
};

#[test]
fn default_ladder_renditions_match_their_profiles_across_ten_segments() {
    let transcoder = FfmpegTranscoder::new();
    let ladder = default_ladder();
    let mut previous_end: Vec<Option<f64>> = vec![None; ladder.len()];
    for (i, segment) in segments().iter().enumerate() {
        let source = probe(segment).unwrap();
        let renditions = transcoder
            .transcode(&read(segment), InputFormat::MpegTs, &ladder)
            .unwrap();
        assert_eq!(renditions.len(), ladder.len());
        for ((profile, rendition), previous_end) in
            ladder.iter().zip(&renditions).zip(&mut previous_end)
        {
            assert_eq!(rendition.profile, profile.name);
            assert_eq!(rendition.container, Container::MpegTs);
            assert_eq!(rendition.container.frames(&rendition.bytes), Ok(()));
            let info = probe_of(&rendition.bytes);
            let what = format!("segment {i} {}", profile.name);
            assert_eq!(info.format, "mpegts", "{what}");
            assert_eq!(
                (info.width, info.height),
                (profile.width, profile.height),
                "{what}"
            );
            assert_eq!(info.video_codec, "h264", "{what}");
            assert_eq!(info.audio_codec.as_deref(), Some("aac"), "{what}");
            assert_eq!(info.frames, source.frames, "{what}");
            assert_close(info.duration_s, source.duration_s, FRAME_S, &what);
            // Source timestamps kept, so a player sees one continuous stream across segments.
            assert_close(info.start_time_s, source.start_time_s, 0.001, &what);
            if let Some(end) = *previous_end {
                assert_close(info.start_time_s, end, 0.001, &what);
            }
            *previous_end = Some(info.start_time_s + info.duration_s);
        }
    }
}

#[test]
fn svt_av1_profiles_yield_fragmented_mp4_av1_with_audio_and_source_timestamps() {
    let ladder = Profile::parse_ladder("360p:640x360:800k:av1-svt,240p:426x240:400k:h264").unwrap();
    let segment = &segments()[3];
    let source = probe(segment).unwrap();
    let renditions = FfmpegTranscoder::new()
        .transcode(&read(segment), InputFormat::MpegTs, &ladder)
        .unwrap();

    assert_eq!(renditions[0].container, Container::Mp4);
    assert_eq!(&renditions[0].bytes[4..8], b"ftyp");
    // What the transcoder checks of its own output before it posts it.
    for r in &renditions {
        assert_eq!(r.container.frames(&r.bytes), Ok(()));
        let cut = &r.bytes[..r.bytes.len() - 100];
        assert!(r.container.frames(cut).is_err(), "{}: cut", r.profile);
    }
    assert!(
        renditions[0].bytes.windows(4).any(|w| w == b"moof"),
        "fragmented"
    );
    let av1 = probe_of(&renditions[0].bytes);
    assert_eq!(av1.video_codec, "av1");
    assert_eq!((av1.width, av1.height), (640, 360));
    assert_eq!(av1.audio_codec.as_deref(), Some("aac"));
    assert_eq!(av1.frames, source.frames);
    assert_close(av1.duration_s, source.duration_s, FRAME_S, "av1 duration");
    assert_close(av1.start_time_s, source.start_time_s, 0.001, "av1 start");

    let h264 = probe_of(&renditions[1].bytes);
    assert_eq!(
        (h264.video_codec.as_str(), h264.width, h264.height),
        ("h264", 426, 240)
    );
}

#[test]
fn mp4_input_is_transcoded() {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("segment.mp4");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&segments()[0])
        .args(["-c", "copy"])
        .arg(&mp4)
        .status()
        .unwrap();
    assert!(status.success());

    let renditions = FfmpegTranscoder::new()
        .transcode(&read(&mp4), InputFormat::Mp4, &default_ladder())
        .unwrap();
    let info = probe_of(&renditions[0].bytes);
    assert_eq!((info.width, info.height, info.frames), (640, 360, 60));
    assert_eq!(info.audio_codec.as_deref(), Some("aac"));
}

#[test]
fn source_without_audio_gives_video_only_renditions() {
    let dir = tempfile::tempdir().unwrap();
    let silent = dir.path().join("silent.ts");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&segments()[0])
        .args(["-map", "0:v", "-c", "copy", "-copyts"])
        .arg(&silent)
        .status()
        .unwrap();
    assert!(status.success());

    let ladder = Profile::parse_ladder("240p:426x240:400k:h264,144p:256x144:150k:av1-svt").unwrap();
    let renditions = FfmpegTranscoder::new()
        .transcode(&read(&silent), InputFormat::MpegTs, &ladder)
        .unwrap();
    for rendition in &renditions {
        let info = probe_of(&rendition.bytes);
        assert_eq!(info.audio_codec, None, "{}", rendition.profile);
        assert_eq!(info.frames, 60, "{}", rendition.profile);
    }
}

#[test]
fn garbage_bytes_are_a_bad_segment() {
    let garbage: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let err = FfmpegTranscoder::new()
        .transcode(&garbage, InputFormat::MpegTs, &default_ladder())
        .unwrap_err();
    assert!(matches!(err, MediaError::BadSegment { .. }), "{err}");
}

#[test]
fn truncated_segment_is_a_bad_segment() {
    let segment = read(&segments()[2]);
    for len in [segment.len() / 2, 188 * 2000, 3000] {
        let err = FfmpegTranscoder::new()
            .transcode(&segment[..len], InputFormat::MpegTs, &default_ladder())
            .unwrap_err();
        assert!(err.is_bad_segment(), "truncated to {len} bytes: {err}");
    }
}

#[test]
fn segment_in_the_wrong_container_is_a_bad_segment() {
    let err = FfmpegTranscoder::new()
        .transcode(&read(&segments()[0]), InputFormat::Mp4, &default_ladder())
        .unwrap_err();
    assert!(err.is_bad_segment(), "{err}");
}

#[test]
fn empty_segment_is_a_bad_segment() {
    let err = FfmpegTranscoder::new()
        .transcode(&[], InputFormat::MpegTs, &default_ladder())
        .unwrap_err();
    assert!(err.is_bad_segment(), "{err}");
}

#[test]
fn rav1e_profiles_and_empty_ladders_are_refused() {
    let segment = read(&segments()[0]);
    let rav1e = vec![Profile::new("360p", 640, 360, 800, VideoCodec::Av1Rav1e)];
    let err = FfmpegTranscoder::new()
        .transcode(&segment, InputFormat::MpegTs, &rav1e)
        .unwrap_err();
    assert!(
        matches!(err, MediaError::Ladder(LadderError::Unsupported { .. })),
        "{err}"
    );
    let err = FfmpegTranscoder::new()
        .transcode(&segment, InputFormat::MpegTs, &[])
        .unwrap_err();
    assert!(
        matches!(err, MediaError::Ladder(LadderError::Empty)),
        "{err}"
    );
}
