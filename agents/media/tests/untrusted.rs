//! Untrusted media: whatever bytes a broadcaster pushes, an orchestrator returns or a claimant
//! bundles, ffprobe and ffmpeg open them with a forced container and only local files, and every
//! run is bounded in time and output. An HLS playlist that never ends, a concat list pointing at
//! /etc/passwd, an endless decode or a huge output each fail fast with a clear error.

use crate::common;

use std::time::{Duration, Instant};

use common::{read, segments, small_segments};
use peerflow_media::verify::{self, Fault, Tolerances};
use peerflow_media::vod::{self, VodSettings};
use peerflow_media::{
    FfmpegTranscoder, InputFormat, MediaError, Profile, Rav1eTranscoder, ToolLimits, Transcoder,
    VideoCodec, default_ladder, probe, probe_bytes, probe_bytes_as, testsrc, with_tool_limits,
};

/// Every hostile input here must be refused well within this (ffprobe on the live playlist
/// waits for ever without the forced container).
const FAST: Duration = Duration::from_secs(10);

/// A live HLS playlist (no `#EXT-X-ENDLIST`) naming a real local segment: opened as HLS, ffprobe
/// and ffmpeg reload it for ever.
fn live_playlist() -> Vec<u8> {
    format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
         #EXTINF:2.0,\n{}\n",
        segments()[0].display()
    )
    .into_bytes()
}

/// A concat list naming local files outside any segment.
fn concat_list() -> Vec<u8> {
    b"ffconcat version 1.0\nfile /etc/passwd\nfile /etc/hostname\n".to_vec()
}

#[track_caller]
fn refused_fast<T: std::fmt::Debug>(what: &str, run: impl FnOnce() -> Result<T, MediaError>) {
    let started = Instant::now();
    let err = run().unwrap_err();
    let took = started.elapsed();
    assert!(took < FAST, "{what}: took {took:?}");
    assert!(err.is_bad_segment(), "{what}: {err}");
    assert!(
        !err.to_string().contains("root:"),
        "{what}: leaks a local file: {err}"
    );
}

#[test]
fn playlists_and_concat_lists_are_refused_fast_everywhere_untrusted_bytes_go() {
    let ladder = default_ladder();
    let info = probe(&segments()[0]).unwrap();
    let av1 = Profile::parse_ladder("144p:256x144:100k:av1-rav1e").unwrap();
    for (name, bytes) in [
        ("live playlist", live_playlist()),
        ("concat list", concat_list()),
    ] {
        refused_fast(&format!("probe_bytes({name})"), || probe_bytes(&bytes));
        for format in [InputFormat::MpegTs, InputFormat::Mp4] {
            refused_fast(&format!("probe_bytes_as({name}, {format})"), || {
                probe_bytes_as(&bytes, format)
            });
            refused_fast(&format!("ffmpeg transcode of {name} as {format}"), || {
                FfmpegTranscoder::new().transcode(&bytes, format, &ladder)
            });
            refused_fast(&format!("rav1e transcode of {name} as {format}"), || {
                Rav1eTranscoder::new().transcode(&bytes, format, &av1)
            });
            let settings = VodSettings {
                ladder: av1.clone(),
                segment_secs: 1,
                speed: 10,
            };
            let out = tempfile::tempdir().unwrap();
            refused_fast(&format!("VOD package of {name} as {format}"), || {
                vod::package(&bytes, format, &settings, out.path())
            });
        }
        // As a rendition: undecodable, judged fast.
        let started = Instant::now();
        let fault = verify::check_rendition(&bytes, &ladder[0], &info, &Tolerances::default())
            .unwrap()
            .unwrap_err();
        assert!(started.elapsed() < FAST, "{name} as a rendition");
        assert!(
            matches!(fault, Fault::Undecodable { .. }),
            "{name}: {fault}"
        );
        assert!(!fault.to_string().contains("root:"), "{fault}");
    }
}

#[test]
fn probe_sniffs_the_container_and_opens_a_playlist_only_from_a_local_file() {
    let segment = read(&segments()[0]);
    assert_eq!(InputFormat::sniff(&segment), Some(InputFormat::MpegTs));
    assert_eq!(InputFormat::sniff(&live_playlist()), None);
    assert_eq!(InputFormat::sniff(&concat_list()), None);
    assert_eq!(InputFormat::sniff(b""), None);
    // MPEG-TS declared, MP4 sent (and the other way round): refused.
    let mp4 = FfmpegTranscoder::new()
        .transcode(
            &segment,
            InputFormat::MpegTs,
            &Profile::parse_ladder("144p:256x144:100k:av1-svt").unwrap(),
        )
        .unwrap()
        .remove(0)
        .bytes;
    assert_eq!(InputFormat::sniff(&mp4), Some(InputFormat::Mp4));
    assert!(
        probe_bytes_as(&mp4, InputFormat::MpegTs)
            .unwrap_err()
            .is_bad_segment()
    );
    assert!(
        probe_bytes_as(&segment, InputFormat::Mp4)
            .unwrap_err()
            .is_bad_segment()
    );
    assert_eq!(
        probe_bytes_as(&mp4, InputFormat::Mp4).unwrap().video_codec,
        "av1"
    );
    // A finished playlist on disk (one this node wrote) is opened as HLS by probe().
    let dir = tempfile::tempdir().unwrap();
    let playlist = dir.path().join("vod.m3u8");
    std::fs::write(
        &playlist,
        format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2.0,\n{}\n\
             #EXT-X-ENDLIST\n",
            segments()[0].display()
        ),
    )
    .unwrap();
    assert_eq!(probe(&playlist).unwrap().frames, 60);
}

#[test]
fn an_endless_decode_is_stopped_at_the_deadline_with_a_clear_error() {
    // 60 s of video, transcoded under a 1 s deadline: stopped, killed, reported as ours.
    let dir = tempfile::tempdir().unwrap();
    let long = testsrc::generate_segments(dir.path(), 1, 60, 320, 180, 30).unwrap();
    let input = read(&long[0]);
    let limits = ToolLimits {
        wall: Duration::from_secs(1),
        ..ToolLimits::DEFAULT
    };
    let started = Instant::now();
    let err = with_tool_limits(limits, || {
        FfmpegTranscoder::new().transcode(&input, InputFormat::MpegTs, &default_ladder())
    })
    .unwrap_err();
    assert!(started.elapsed() < FAST, "{:?}", started.elapsed());
    assert!(
        matches!(err, MediaError::ToolTimedOut { tool: "ffmpeg", .. }),
        "{err}"
    );
    assert_eq!(err.code(), "tool_timed_out");
    assert!(!err.is_bad_segment());
    // The next transcode, under the default limits, works.
    let small = read(&small_segments()[0]);
    FfmpegTranscoder::new()
        .transcode(&small, InputFormat::MpegTs, &default_ladder())
        .unwrap();
}

#[test]
fn huge_outputs_are_refused_not_cut() {
    let segment = read(&segments()[0]);
    // A probe report over the stdout limit: an error of ours from probe_bytes…
    let tiny_stdout = ToolLimits {
        stdout_bytes: 4096,
        ..ToolLimits::DEFAULT
    };
    let err = with_tool_limits(tiny_stdout, || probe_bytes(&segment)).unwrap_err();
    assert!(
        matches!(
            err,
            MediaError::ToolOutputTooLarge {
                tool: "ffprobe",
                limit: 4096,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.code(), "tool_output_too_large");
    // …and a rendition whose probe report is over it is undecodable: the report's size is a
    // function of the bytes alone.
    let info = probe_bytes(&segment).unwrap();
    let fault = with_tool_limits(tiny_stdout, || {
        verify::check_rendition(
            &segment,
            &default_ladder()[0],
            &info,
            &Tolerances::default(),
        )
    })
    .unwrap()
    .unwrap_err();
    assert!(matches!(fault, Fault::Undecodable { .. }), "{fault}");

    // A rendition file over the file limit: refused, never handed on cut short.
    let tiny_files = ToolLimits {
        file_bytes: 20_000,
        ..ToolLimits::DEFAULT
    };
    let err = with_tool_limits(tiny_files, || {
        FfmpegTranscoder::new().transcode(&segment, InputFormat::MpegTs, &default_ladder())
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            MediaError::ToolOutputTooLarge {
                tool: "ffmpeg",
                limit: 20_000,
                ..
            }
        ),
        "{err}"
    );
    let av1 = [Profile::new("144p", 256, 144, 100, VideoCodec::Av1Rav1e)];
    let err = with_tool_limits(tiny_files, || {
        Rav1eTranscoder::new().transcode(&segment, InputFormat::MpegTs, &av1)
    })
    .unwrap_err();
    assert!(
        matches!(err, MediaError::ToolOutputTooLarge { .. }),
        "{err}"
    );
}
