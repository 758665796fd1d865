//! Av1Encoder: frames in, an IVF file that ffmpeg reads as AV1 out.

use std::process::Command;

use peerflow_av1enc::{Av1EncError, Av1Encoder, EncoderSettings};

const WIDTH: usize = 160;
const HEIGHT: usize = 90;
const FRAMES: usize = 12;

/// A moving gradient: different every frame, identical on every call.
fn frame(n: usize, settings: &EncoderSettings) -> Vec<u8> {
    let mut buf = vec![128u8; settings.frame_len()];
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            buf[y * WIDTH + x] = ((x + 2 * y + 3 * n) % 256) as u8;
        }
    }
    buf
}

fn encode(settings: &EncoderSettings) -> Vec<u8> {
    let mut encoder = Av1Encoder::new(settings.clone()).unwrap();
    for n in 0..FRAMES {
        encoder.encode_frame(&frame(n, settings)).unwrap();
    }
    encoder.finish().unwrap()
}

fn settings() -> EncoderSettings {
    EncoderSettings {
        bitrate_kbps: 200,
        threads: 2,
        ..EncoderSettings::new(WIDTH, HEIGHT, 30, 1)
    }
}

#[test]
fn ivf_output_decodes_as_av1_with_every_frame() {
    let ivf = encode(&settings());
    assert_eq!(&ivf[0..4], b"DKIF");
    assert_eq!(
        u32::from_le_bytes(ivf[24..28].try_into().unwrap()),
        FRAMES as u32
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ivf");
    std::fs::write(&path, &ivf).unwrap();
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames",
        ])
        .args(["-of", "csv=p=0"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("av1,{WIDTH},{HEIGHT},{FRAMES}")
    );
}

#[test]
fn same_frames_encode_to_identical_bytes() {
    assert_eq!(encode(&settings()), encode(&settings()));
}

#[test]
fn wrong_frame_size_is_refused() {
    let mut encoder = Av1Encoder::new(settings()).unwrap();
    let err = encoder.encode_frame(&[0; 100]).unwrap_err();
    assert!(
        matches!(err, Av1EncError::FrameSize { got: 100, .. }),
        "{err}"
    );
}

#[test]
fn invalid_settings_are_refused() {
    let tiny = EncoderSettings::new(8, 8, 30, 1);
    assert!(matches!(
        Av1Encoder::new(tiny).unwrap_err(),
        Av1EncError::Config(_)
    ));
    let no_rate = EncoderSettings::new(64, 64, 0, 1);
    assert!(matches!(
        Av1Encoder::new(no_rate).unwrap_err(),
        Av1EncError::Settings(_)
    ));
}

#[test]
fn frame_len_is_i420() {
    assert_eq!(
        EncoderSettings::new(426, 240, 30, 1).frame_len(),
        426 * 240 + 2 * 213 * 120
    );
    assert_eq!(
        EncoderSettings::new(17, 9, 30, 1).frame_len(),
        17 * 9 + 2 * 9 * 5
    );
}
