//! Renditions keep the source's aspect ratio: a phone held upright (720x1280) comes out 360x640
//! and 240x426 from the default ladder, not squashed into 640x360, and the verifier holds every
//! rendition to the same rule ([`Profile::fit`]).

use crate::common;

use std::process::Command;

use common::{portrait_segments, probe_of, read};
use peerflow_media::verify::{self, Fault, QualityThresholds, Tolerances};
use peerflow_media::{
    FfmpegTranscoder, InputFormat, Profile, Rav1eTranscoder, Transcoder, VideoCodec, default_ladder,
};

#[test]
fn a_portrait_source_comes_out_portrait_and_passes_verification() {
    let paths = portrait_segments();
    let source = read(&paths[1]);
    let info = probe_of(&source);
    assert_eq!((info.width, info.height), (720, 1280));
    let ladder = default_ladder();
    let renditions = FfmpegTranscoder::new()
        .transcode(&source, InputFormat::MpegTs, &ladder)
        .unwrap();
    for ((profile, rendition), size) in ladder.iter().zip(&renditions).zip([(360, 640), (240, 426)])
    {
        let got = probe_of(&rendition.bytes);
        assert_eq!((got.width, got.height), size, "{}", profile.name);
        assert_eq!(got.sample_aspect, (1, 1));
        assert_eq!(got.frames, info.frames);
        let measured =
            verify::check_rendition(&rendition.bytes, profile, &info, &Tolerances::default())
                .unwrap()
                .unwrap_or_else(|fault| panic!("{}: {fault}", profile.name));
        assert_eq!((measured.width, measured.height), size);
        let sampled = verify::sampled_check(
            &rendition.bytes,
            &measured,
            &source,
            InputFormat::MpegTs,
            profile,
            &QualityThresholds::default(),
        )
        .unwrap();
        assert!(sampled.is_ok(), "{}: {sampled:?}", profile.name);
    }

    // rav1e follows the same rule.
    let av1 = Profile::new("240p", 426, 240, 300, VideoCodec::Av1Rav1e);
    let out = Rav1eTranscoder::new()
        .transcode(&source, InputFormat::MpegTs, std::slice::from_ref(&av1))
        .unwrap();
    let got = probe_of(&out[0].bytes);
    assert_eq!((got.width, got.height), (240, 426));
    assert!(
        verify::check_rendition(&out[0].bytes, &av1, &info, &Tolerances::default())
            .unwrap()
            .is_ok()
    );
}

#[test]
fn a_squashed_rendition_of_a_portrait_source_is_the_wrong_resolution() {
    let paths = portrait_segments();
    let source = read(&paths[2]);
    let info = probe_of(&source);
    let dir = tempfile::tempdir().unwrap();
    let squashed = dir.path().join("squashed.ts");
    // What the old ladder did: the box as given, the picture stretched into it.
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-copyts",
            "-f",
            "mpegts",
            "-i",
        ])
        .arg(&paths[2])
        .args([
            "-map",
            "0:v",
            "-map",
            "0:a",
            "-vf",
            "scale=640:360,setsar=1",
            "-c:v",
            "libx264",
            "-b:v",
            "800k",
            "-c:a",
            "copy",
            "-muxdelay",
            "0",
            "-f",
            "mpegts",
        ])
        .arg(&squashed)
        .status()
        .unwrap();
    assert!(status.success());
    let fault = verify::check_rendition(
        &read(&squashed),
        &default_ladder()[0],
        &info,
        &Tolerances::default(),
    )
    .unwrap()
    .unwrap_err();
    assert_eq!(
        fault,
        Fault::WrongResolution {
            expected: (360, 640),
            got: (640, 360)
        }
    );
}

/// The sizes ffmpeg's scale filter computes for the transcoder are [`Profile::fit`]'s, for
/// landscape, portrait, square, very wide and anamorphic (non-square pixel) sources, in
/// landscape, portrait and square boxes.
#[test]
fn the_transcoders_sizes_are_the_rule_the_verifier_checks() {
    let dir = tempfile::tempdir().unwrap();
    let ladder = Profile::parse_ladder(
        "a:426x240:300k:h264,b:240x426:300k:h264,c:300x300:300k:h264,d:640x360:300k:h264",
    )
    .unwrap();
    for (w, h, sar) in [
        (640, 480, (1, 1)),
        (1920, 800, (1, 1)),
        (480, 640, (1, 1)),
        (500, 500, (1, 1)),
        (720, 576, (64, 45)),
        (720, 480, (8, 9)),
        (202, 720, (1, 1)),
    ] {
        let clip = dir.path().join(format!("{w}x{h}.ts"));
        let status = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i"])
            .arg(format!("testsrc2=size={w}x{h}:rate=10"))
            .args(["-t", "0.5", "-vf"])
            .arg(format!("setsar={}/{}", sar.0, sar.1))
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts"])
            .arg(&clip)
            .status()
            .unwrap();
        assert!(status.success());
        let input = read(&clip);
        let info = probe_of(&input);
        assert_eq!(info.sample_aspect, sar, "{w}x{h}");
        let out = FfmpegTranscoder::new()
            .transcode(&input, InputFormat::MpegTs, &ladder)
            .unwrap();
        for (profile, rendition) in ladder.iter().zip(&out) {
            let got = probe_of(&rendition.bytes);
            assert_eq!(
                (got.width, got.height),
                profile.fit(w, h, sar),
                "{w}x{h} SAR {sar:?} in {profile}"
            );
            assert_eq!(
                (got.width, got.height),
                verify::expected_size(profile, &info)
            );
        }
    }
}
