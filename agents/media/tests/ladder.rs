//! Ladder strings, validation and pixel counts.

use peerflow_media::{Profile, VideoCodec, default_ladder, ladder_pixels};

#[test]
fn default_ladder_is_360p_and_240p_h264() {
    let ladder = default_ladder();
    assert_eq!(
        ladder,
        vec![
            Profile::new("360p", 640, 360, 800, VideoCodec::H264),
            Profile::new("240p", 426, 240, 400, VideoCodec::H264),
        ]
    );
}

#[test]
fn parse_ladder_reads_every_codec_and_bitrate_suffix() {
    let ladder = Profile::parse_ladder(
        "360p:640x360:800k:h264, 240p:426x240:0.4M:av1-svt,a_1:256x144:150k:av1-rav1e",
    )
    .unwrap();
    assert_eq!(
        ladder,
        vec![
            Profile::new("360p", 640, 360, 800, VideoCodec::H264),
            Profile::new("240p", 426, 240, 400, VideoCodec::Av1Svt),
            Profile::new("a_1", 256, 144, 150, VideoCodec::Av1Rav1e),
        ]
    );
}

#[test]
fn parse_ladder_rejects_malformed_entries_with_the_reason() {
    // (ladder string, the LadderError variant it must give)
    let cases = [
        ("", "Empty"),
        ("360p:640x360:800k", "Fields"),
        ("360p:640by360:800k:h264", "Resolution"),
        ("360p:640x360:800:h264", "Bitrate"),
        ("360p:640x360:800k:vp9", "Codec"),
        ("36 0p:640x360:800k:h264", "Name"),
        ("360p:641x360:800k:h264", "Dimensions"),
        ("tiny:8x8:800k:h264", "Dimensions"),
        ("360p:640x360:0k:h264", "ZeroBitrate"),
        ("a:640x360:800k:h264,a:426x240:400k:h264", "DuplicateName"),
    ];
    for (text, variant) in cases {
        let err = Profile::parse_ladder(text).unwrap_err();
        assert!(
            format!("{err:?}").starts_with(variant),
            "{text:?} gave {err:?}"
        );
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn parse_errors_name_the_offending_entry() {
    let err = Profile::parse_ladder("360p:640x360:800k:h264,240p:426x240:fast:h264").unwrap_err();
    assert_eq!(
        err.to_string(),
        "profile \"240p:426x240:fast:h264\": invalid bitrate \"fast\", expected a k or M suffix, e.g. 800k or 1.5M"
    );
}

#[test]
fn output_pixels_counts_whole_frames() {
    let p360 = Profile::new("360p", 640, 360, 800, VideoCodec::H264);
    assert_eq!(p360.pixels_per_frame(), 230_400);
    assert_eq!(p360.output_pixels(2.0, 30.0), 230_400 * 60);
    assert_eq!(p360.output_pixels(2.0, 29.97), 230_400 * 60);
    assert_eq!(
        ladder_pixels(&default_ladder(), 2.0, 30.0),
        (640 * 360 + 426 * 240) * 60
    );
}
