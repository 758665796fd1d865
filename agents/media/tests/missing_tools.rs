//! Without ffmpeg on PATH the error says so (its own test binary: it changes PATH).

use peerflow_media::{FfmpegTranscoder, InputFormat, MediaError, Transcoder, default_ladder};

#[test]
fn missing_ffmpeg_is_reported_as_such() {
    // SAFETY: this binary's only test, so no other thread reads the environment meanwhile.
    unsafe { std::env::set_var("PATH", "/nonexistent") };
    let err = FfmpegTranscoder::new()
        .transcode(&[0x47; 188], InputFormat::MpegTs, &default_ladder())
        .unwrap_err();
    assert!(
        matches!(err, MediaError::ToolMissing { tool: "ffmpeg" }),
        "{err}"
    );
    assert!(!err.is_bad_segment());
}
