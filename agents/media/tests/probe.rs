//! probe(): what ffprobe reports for real files.

use crate::common;

use common::{FRAME_S, assert_close, read, segments};
use peerflow_media::{MediaInfo, probe, probe_bytes, probe_packets_bytes};

#[test]
fn probe_reports_a_generated_segment() {
    let info = probe(&segments()[0]).unwrap();
    assert_eq!(info.format, "mpegts");
    assert_eq!((info.width, info.height), (1280, 720));
    assert_eq!(info.video_codec, "h264");
    assert_eq!(info.audio_codec.as_deref(), Some("aac"));
    assert_eq!(info.frames, 60);
    assert_eq!(info.fps, 30.0);
    assert_close(info.duration_s, 2.0, FRAME_S / 2.0, "duration");
    assert!(info.bit_rate > 100_000, "bit rate {}", info.bit_rate);
}

#[test]
fn probe_bytes_matches_probe_of_the_file() {
    let path = &segments()[1];
    assert_eq!(probe_bytes(&read(path)).unwrap(), probe(path).unwrap());
}

#[test]
fn probe_of_garbage_is_a_bad_segment() {
    let err = probe_bytes(&[0x42; 4096]).unwrap_err();
    assert!(err.is_bad_segment(), "{err}");
}

#[test]
fn reading_packets_alone_gives_what_decoding_gives_on_a_clean_segment() {
    for path in &segments()[..2] {
        let bytes = read(path);
        let decoded = probe_bytes(&bytes).unwrap();
        let counted = probe_packets_bytes(&bytes).unwrap();
        assert_eq!(counted.frames, 60);
        assert_eq!(
            counted,
            MediaInfo {
                other_frame_size: None,
                ..decoded
            }
        );
    }
    let err = probe_packets_bytes(&[0x42; 4096]).unwrap_err();
    assert!(err.is_bad_segment(), "{err}");
}

#[test]
fn a_codec_that_may_hold_several_frames_in_a_packet_is_decoded_not_counted() {
    // VP9 superframes and AV1 temporal units may show several frames from one packet: counting
    // packets would let a sender pay for fewer frames than it gets transcoded.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("vp9.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=320x240:rate=30")
        .args(["-t", "1", "-c:v", "libvpx-vp9", "-deadline", "realtime"])
        .args(["-cpu-used", "8"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    let bytes = read(&path);
    let decoded = probe_bytes(&bytes).unwrap();
    assert_eq!(decoded.video_codec, "vp9");
    assert_eq!(probe_packets_bytes(&bytes).unwrap(), decoded);
}
