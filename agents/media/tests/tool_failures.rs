//! Failures on our side are not blamed on the segment, and carry what ffmpeg said.

use crate::common;

use common::{read, segments};
use peerflow_media::{FfmpegTranscoder, InputFormat, MediaError, Transcoder, default_ladder};

#[test]
fn encoder_failure_on_a_good_segment_is_an_internal_error_with_ffmpegs_stderr() {
    let broken = FfmpegTranscoder {
        x264_preset: "no-such-preset".into(),
        ..FfmpegTranscoder::new()
    };
    let err = broken
        .transcode(
            &read(&segments()[0]),
            InputFormat::MpegTs,
            &default_ladder(),
        )
        .unwrap_err();
    match &err {
        MediaError::ToolFailed {
            tool, stderr_tail, ..
        } => {
            assert_eq!(*tool, "ffmpeg");
            assert!(stderr_tail.contains("no-such-preset"), "{stderr_tail}");
        }
        other => panic!("expected ToolFailed, got {other}"),
    }
    assert!(!err.is_bad_segment());
}
