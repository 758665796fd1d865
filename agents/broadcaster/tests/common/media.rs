//! Real media for the tests: a 720p H.264 + AAC source cut into 2 s MPEG-TS segments by
//! ffmpeg's segment muxer, and ffprobe to check what comes out.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tokio::process::Command;

/// Number of source segments generated.
pub const SOURCE_SEGMENTS: u64 = 10;
/// Duration of each source segment in seconds.
pub const SEGMENT_SECONDS: f64 = 2.0;

/// ffmpeg input arguments for the 720p30 test picture with a 440 Hz tone.
pub const LAVFI_SOURCE: [&str; 6] = [
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=1280x720:rate=30",
    "-f",
    "lavfi",
];
/// The audio half of the lavfi source (follows [`LAVFI_SOURCE`]).
pub const LAVFI_AUDIO: [&str; 2] = ["-i", "sine=frequency=440:sample_rate=48000"];
/// Encoder arguments: H.264 with a keyframe every 2 s, AAC audio.
pub const ENCODE_720P: [&str; 16] = [
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-g",
    "60",
    "-sc_threshold",
    "0",
    "-pix_fmt",
    "yuv420p",
    "-b:v",
    "3M",
    "-c:a",
    "aac",
    "-b:a",
    "96k",
];

/// The source segments `0.ts` … `9.ts`, generated once per build and shared by every test.
pub async fn source_segments() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("broadcaster-source-v1");
    if dir.join(format!("{}.ts", SOURCE_SEGMENTS - 1)).is_file() {
        return dir;
    }
    let staging = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-nostdin", "-y"])
        .args(LAVFI_SOURCE)
        .args(LAVFI_AUDIO)
        .args([
            "-t",
            &(SOURCE_SEGMENTS as f64 * SEGMENT_SECONDS).to_string(),
        ])
        .args(ENCODE_720P)
        .args([
            "-f",
            "segment",
            "-segment_time",
            "2",
            "-segment_format",
            "mpegts",
        ])
        .arg(staging.path().join("%d.ts"))
        .status()
        .await
        .expect("ffmpeg runs");
    assert!(status.success(), "generating the source failed");
    let staged = staging.keep();
    if std::fs::rename(&staged, &dir).is_err() {
        // Another test process won the race; its copy is as good as ours.
        let _ = std::fs::remove_dir_all(&staged);
    }
    assert!(dir.join(format!("{}.ts", SOURCE_SEGMENTS - 1)).is_file());
    dir
}

/// Source segment `seq`.
pub async fn source_segment(seq: u64) -> Vec<u8> {
    tokio::fs::read(source_segments().await.join(format!("{seq}.ts")))
        .await
        .unwrap()
}

/// What ffprobe sees after decoding every video frame of a file or URL.
#[derive(Debug)]
pub struct Probe {
    pub width: u64,
    pub height: u64,
    pub frames: u64,
    pub duration_s: f64,
    pub has_audio: bool,
}

/// Decodes `input` (a path or URL) with ffprobe; panics if it does not decode.
pub async fn probe(input: &str) -> Probe {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-of", "json"])
        .args([
            "-show_entries",
            "stream=codec_type,width,height,nb_read_frames:format=duration",
        ])
        .arg(input)
        .output()
        .await
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe {input}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = json["streams"].as_array().unwrap();
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .unwrap_or_else(|| panic!("{input} has no video: {json}"));
    let number = |v: &Value| v.as_str().and_then(|s| s.parse().ok()).or(v.as_u64());
    Probe {
        width: video["width"].as_u64().unwrap(),
        height: video["height"].as_u64().unwrap(),
        frames: number(&video["nb_read_frames"]).unwrap_or(0),
        duration_s: json["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .unwrap_or(0.0),
        has_audio: streams.iter().any(|s| s["codec_type"] == "audio"),
    }
}
