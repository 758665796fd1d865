//! Verification of renditions on real encodes: honest renditions pass every check, including one
//! from another encoder backend (rav1e for an SVT-AV1 profile); each cheat fails with its fault.

use crate::common;

use std::process::Command;

use common::{probe_of, read, segments, small_segments};
use peerflow_media::cheat::Cheat;
use peerflow_media::verify::{self, Fault, QualityThresholds, Tolerances};
use peerflow_media::{
    Container, FfmpegTranscoder, InputFormat, MediaError, Profile, Rav1eTranscoder, Transcoder,
    VideoCodec, default_ladder,
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
    let q = verify::quality(
        &black,
        Container::MpegTs,
        &source,
        InputFormat::MpegTs,
        profile,
    )
    .unwrap();
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

/// What a verdict is compared on: the fault's code, and what it measured (an `undecodable`
/// reason quotes ffprobe's log lines, which name memory addresses).
fn verdict(fault: &Option<Fault>) -> Option<(u8, String)> {
    fault.as_ref().map(|f| match f {
        Fault::Undecodable { .. } => (f.code(), String::new()),
        other => (f.code(), format!("{other:?}")),
    })
}

/// The verdict is a pure function of the bytes judged: each cheat (and the honest rendition)
/// judged 50 times over gives the same fault with the same measurements every time, and the
/// fault the cheat is caught as.
#[test]
fn every_verdict_is_the_same_fifty_times_over() {
    let paths = small_segments();
    let (previous_source, source) = (read(&paths[2]), read(&paths[3]));
    let profile = Profile::new("144p", 256, 144, 150, VideoCodec::H264);
    let ladder = std::slice::from_ref(&profile);
    let ffmpeg = FfmpegTranscoder::new();
    let honest = ffmpeg
        .transcode(&source, InputFormat::MpegTs, ladder)
        .unwrap()
        .remove(0);
    let previous = ffmpeg
        .transcode(&previous_source, InputFormat::MpegTs, ladder)
        .unwrap()
        .remove(0);
    let mut cases = vec![("honest", honest.bytes.clone(), None)];
    for cheat in Cheat::ALL {
        let bad = cheat
            .apply(
                &source,
                InputFormat::MpegTs,
                &profile,
                &honest.bytes,
                &previous.bytes,
            )
            .unwrap();
        cases.push((cheat.as_str(), bad, Some(cheat.caught_as())));
    }
    // The cases are judged side by side, so every judgement also runs under the load of the
    // others: timing must not matter.
    std::thread::scope(|scope| {
        for (name, bytes, caught_as) in &cases {
            let (source, profile) = (&source, &profile);
            scope.spawn(move || {
                let first = fault_of(source, bytes, profile);
                assert_eq!(
                    first.as_ref().map(Fault::name),
                    *caught_as,
                    "{name}: {first:?}"
                );
                for run in 1..50 {
                    let again = fault_of(source, bytes, profile);
                    assert_eq!(verdict(&again), verdict(&first), "{name}, run {run}");
                }
            });
        }
    });
}

/// A rendition cut short is caught as `undecodable` on every segment, whatever bytes the
/// (multi-threaded, so not byte-stable) encoder produced; a rendition that simply lacks its last
/// frames is `frame_count`, and a juror treats the two as one fault of a short rendition.
#[test]
fn a_rendition_cut_short_is_undecodable_and_a_juror_accepts_frame_count_for_it() {
    let paths = small_segments();
    let profile = Profile::new("144p", 256, 144, 150, VideoCodec::H264);
    let ffmpeg = FfmpegTranscoder::new();
    for (i, path) in paths.iter().enumerate() {
        let source = read(path);
        let honest = ffmpeg
            .transcode(&source, InputFormat::MpegTs, std::slice::from_ref(&profile))
            .unwrap()
            .remove(0);
        let cut = Cheat::Truncated
            .apply(&source, InputFormat::MpegTs, &profile, &honest.bytes, &[])
            .unwrap();
        assert!(cut.len() < honest.bytes.len() && cut.len().is_multiple_of(188));
        let fault = fault_of(&source, &cut, &profile);
        assert!(
            matches!(fault, Some(Fault::Undecodable { .. })),
            "segment {i}: {fault:?}"
        );
    }

    // Short by whole frames (a cut between frames): frame_count, which upholds a claim of
    // undecodable, as undecodable upholds one of frame_count.
    let source = read(&paths[1]);
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.ts");
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
        .arg(&paths[1])
        .args([
            "-map",
            "0:v",
            "-map",
            "0:a",
            "-vf",
            "select=lt(n\\,10),scale=256:144",
            "-c:v",
            "libx264",
            "-b:v",
            "150k",
            "-c:a",
            "copy",
            "-muxdelay",
            "0",
            "-f",
            "mpegts",
        ])
        .arg(&short)
        .status()
        .unwrap();
    assert!(status.success());
    let fault = fault_of(&source, &read(&short), &profile).unwrap();
    assert!(
        matches!(
            fault,
            Fault::FrameCount {
                expected: 15,
                got: 10
            }
        ),
        "{fault:?}"
    );
    assert!(fault.upholds(4) && fault.upholds(1) && fault.upholds(5));
    assert!(!fault.upholds(10) && !fault.upholds(3));
    let undecodable = Fault::Undecodable {
        reason: "cut".into(),
    };
    assert!(undecodable.upholds(4) && undecodable.upholds(5) && undecodable.upholds(1));
    assert!(!undecodable.upholds(7));
    // Too many frames is not a cut: it upholds only frame_count.
    let extra = Fault::FrameCount {
        expected: 15,
        got: 20,
    };
    assert!(extra.upholds(4) && !extra.upholds(1));
}

/// Renditions of `segment` with the first `split` frames at `first` and the rest at `second`,
/// one file: a resolution change in mid-stream.
fn size_change(
    segment: &std::path::Path,
    split: u32,
    first: (u32, u32),
    second: (u32, u32),
) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    for (i, (select, (w, h))) in [
        (format!("lt(n\\,{split})"), first),
        (format!("gte(n\\,{split})"), second),
    ]
    .iter()
    .enumerate()
    {
        let out = dir.path().join(format!("{i}.ts"));
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
            .arg(segment)
            .args([
                "-map",
                "0:v",
                "-vf",
                &format!("select={select},scale={w}:{h}"),
            ])
            .args([
                "-c:v",
                "libx264",
                "-b:v",
                "150k",
                "-muxdelay",
                "0",
                "-f",
                "mpegts",
            ])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        bytes.extend(read(&out));
    }
    bytes
}

/// Fails closed: a rendition that changes size in mid-stream is caught by the deterministic
/// checks (every decoded frame's size), and when the sampled quality run cannot compare a
/// rendition with its source while the same run works on the reference encode, that is the
/// rendition's fault, not "unchecked". Only when the reference path fails too is it ours.
#[test]
fn a_quality_run_the_rendition_breaks_is_its_fault_and_one_our_side_breaks_is_ours() {
    let paths = small_segments();
    let source = read(&paths[1]);
    let info = probe_of(&source);
    let profile = Profile::new("144p", 256, 144, 150, VideoCodec::H264);
    let changing = size_change(&paths[1], 8, (256, 144), (192, 108));
    let fault = verify::check_rendition(&changing, &profile, &info, &Tolerances::default())
        .unwrap()
        .unwrap_err();
    assert_eq!(
        fault,
        Fault::WrongResolution {
            expected: (256, 144),
            got: (192, 108)
        }
    );
    // The same rendition in the sampled check alone (as if the cheap checks had missed it):
    // ffmpeg cannot compare it, the reference encode compares fine, so it is the rendition's.
    let measured = verify::Measured {
        codec: "h264".into(),
        width: 256,
        height: 144,
        frames: info.frames,
        duration_s: info.duration_s,
        start_time_s: info.start_time_s,
        video_bit_rate: 150e3,
        audio: true,
    };
    let thresholds = QualityThresholds::default();
    let verdict = verify::sampled_check(
        &changing,
        &measured,
        &source,
        InputFormat::MpegTs,
        &profile,
        &thresholds,
    )
    .unwrap();
    assert!(
        matches!(verdict, Err(Fault::Undecodable { .. })),
        "{verdict:?}"
    );

    // Our side broken (the source we hold does not decode): the reference path fails too, so
    // nobody is blamed.
    let honest = FfmpegTranscoder::new()
        .transcode(&source, InputFormat::MpegTs, std::slice::from_ref(&profile))
        .unwrap()
        .remove(0);
    let broken_source = &source[..4 * 188];
    let ours = verify::sampled_check(
        &honest.bytes,
        &measured,
        broken_source,
        InputFormat::MpegTs,
        &profile,
        &thresholds,
    )
    .unwrap_err();
    assert!(!matches!(ours, MediaError::ToolMissing { .. }), "{ours}");
}
