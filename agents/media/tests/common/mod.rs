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
