//! Shared by the integration tests: generated segments, cached per target dir.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

use peerflow_media::{MediaInfo, probe_bytes, testsrc};

pub const SEGMENTS: usize = 10;
pub const FPS: f64 = 30.0;
pub const FRAME_S: f64 = 1.0 / FPS;

/// Ten 2 s 720p30 segments of one live stream. Generated once per target dir: each test process
/// generates into its own directory and renames it into place; the loser of a race uses the
/// winner's (identical in kind) segments.
pub fn segments() -> Vec<PathBuf> {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("media-720p30-10x2s-v1");
    if !cache.join("done").is_file() {
        let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        testsrc::generate_segments(scratch.path(), SEGMENTS, 2, 1280, 720, 30).unwrap();
        std::fs::write(scratch.path().join("done"), b"").unwrap();
        let _ = std::fs::rename(scratch.keep(), &cache);
    }
    (0..SEGMENTS)
        .map(|i| cache.join(format!("seg{i:05}.ts")))
        .collect()
}

/// `count` segments of `seconds` s of `width`x`height` video at `fps` (testsrc2 and a tone),
/// generated once per target dir under `name` like [`segments`].
pub fn stream(
    name: &str,
    count: usize,
    seconds: u32,
    width: u32,
    height: u32,
    fps: u32,
) -> Vec<PathBuf> {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    if !cache.join("done").is_file() {
        let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        testsrc::generate_segments(scratch.path(), count, seconds, width, height, fps).unwrap();
        std::fs::write(scratch.path().join("done"), b"").unwrap();
        let _ = std::fs::rename(scratch.keep(), &cache);
    }
    (0..count)
        .map(|i| cache.join(format!("seg{i:05}.ts")))
        .collect()
}

/// Six 1 s segments of 320x180 at 15 fps: cheap to judge many times over.
pub fn small_segments() -> Vec<PathBuf> {
    stream("media-320x180p15-6x1s-v1", 6, 1, 320, 180, 15)
}

/// Four 2 s segments of a phone held upright: 720x1280 at 30 fps.
pub fn portrait_segments() -> Vec<PathBuf> {
    stream("media-720x1280p30-4x2s-v1", 4, 2, 720, 1280, 30)
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

pub fn probe_of(bytes: &[u8]) -> MediaInfo {
    probe_bytes(bytes).unwrap()
}

#[track_caller]
pub fn assert_close(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} is not within {tolerance} of {expected}"
    );
}
