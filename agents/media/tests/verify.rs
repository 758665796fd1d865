//! Verification of renditions on real encodes: honest renditions pass every check, including one
//! from another encoder backend (rav1e for an SVT-AV1 profile); each cheat fails with its fault.

mod common;

use common::{probe_of, read, segments};
use peerflow_media::cheat::Cheat;
use peerflow_media::verify::{self, Fault, QualityThresholds, Tolerances};
use peerflow_media::{
    FfmpegTranscoder, InputFormat, Profile, Rav1eTranscoder, Transcoder, VideoCodec, default_ladder,
};

/// The first fault the broadcaster's checks (deterministic, then sampled) find in `rendition`.
fn fault_of(source: &[u8], rendition: &[u8], profile: &Profile) -> Option<Fault> {
    let info = probe_of(source);
    let measured =
        match verify::check_rendition(rendition, profile, &info, &Tolerances::default()).unwrap() {
            Ok(m) => m,
            Err(fault) => return Some(fault),
        };
    verify::sampled_check(
        rendition,
        &measured,
        source,
        InputFormat::MpegTs,
        profile,
        &QualityThresholds::default(),
    )
    .unwrap()
    .err()
}

#[test]
fn honest_renditions_pass_and_every_cheat_is_caught_with_its_fault() {
    let paths = segments();
    let (previous_source, source) = (read(&paths[3]), read(&paths[4]));
    let ladder = default_ladder();
    let ffmpeg = FfmpegTranscoder::new();
    let honest = ffmpeg
        .transcode(&source, InputFormat::MpegTs, &ladder)
        .unwrap();
    let previous = ffmpeg
        .transcode(&previous_source, InputFormat::MpegTs, &ladder)
        .unwrap();
    for (profile, r) in ladder.iter().zip(&honest) {
        assert_eq!(
            fault_of(&source, &r.bytes, profile),
            None,
            "{}",
            profile.name
        );
    }
    for cheat in Cheat::ALL {
        let bad = cheat
            .apply(
                &source,
                InputFormat::MpegTs,
                &ladder[0],
                &honest[0].bytes,
                &previous[0].bytes,
            )
            .unwrap();
        let fault = fault_of(&source, &bad, &ladder[0]);
        assert_eq!(
            fault.as_ref().map(Fault::name),
            Some(cheat.caught_as()),
            "{}: {fault:?}",
            cheat.as_str()
        );
    }
}

#[test]
fn black_frames_at_the_paid_bitrate_pass_the_cheap_checks_and_fail_the_quality_check() {
    let paths = segments();
    let source = read(&paths[1]);
    let profile = &default_ladder()[1];
    let honest = FfmpegTranscoder::new()
        .transcode(&source, InputFormat::MpegTs, std::slice::from_ref(profile))
        .unwrap();
    let black = Cheat::BlackFrames
        .apply(
            &source,
            InputFormat::MpegTs,
            profile,
            &honest[0].bytes,
            &honest[0].bytes,
        )
        .unwrap();
    let info = probe_of(&source);
    let measured = verify::check_rendition(&black, profile, &info, &Tolerances::default())
        .unwrap()
        .expect("black frames padded to the bitrate pass the deterministic checks");
    let q = verify::quality(&black, &source, profile).unwrap();
    assert!(q.ssim < 0.6, "{q:?}");
    assert!(matches!(
        verify::sampled_check(
            &black,
            &measured,
            &source,
            InputFormat::MpegTs,
            profile,
            &QualityThresholds::default()
        )
        .unwrap(),
        Err(Fault::LowQuality { .. })
    ));
}

#[test]
fn rav1e_renditions_of_an_svt_av1_profile_are_not_flagged() {
    let paths = segments();
    let source = read(&paths[2]);
    let svt = Profile::new("240p", 426, 240, 300, VideoCodec::Av1Svt);
    let rav1e_profile = Profile {
        codec: VideoCodec::Av1Rav1e,
        ..svt.clone()
    };
    let out = Rav1eTranscoder::new()
        .transcode(&source, InputFormat::MpegTs, &[rav1e_profile])
        .unwrap();
    assert_eq!(fault_of(&source, &out[0].bytes, &svt), None);
}

#[test]
fn a_rendition_that_is_not_media_is_undecodable() {
    let paths = segments();
    let source = read(&paths[0]);
    let info = probe_of(&source);
    let fault = verify::check_rendition(
        b"not a video",
        &default_ladder()[0],
        &info,
        &Tolerances::default(),
    )
    .unwrap()
    .unwrap_err();
    assert_eq!(fault.code(), 1, "{fault}");
}
