//! How much transcoding this machine does, measured at start-up on a generated clip.

use std::time::Instant;

use crate::format::InputFormat;
use crate::profile::{Profile, ladder_pixels};
use crate::transcode::Transcoder;
use crate::{MediaError, testsrc};

/// The clip measured: one segment of 720p30, the size of a typical incoming segment.
const CLIP_SECONDS: u32 = 2;
const CLIP_WIDTH: u32 = 1280;
const CLIP_HEIGHT: u32 = 720;
const CLIP_FPS: u32 = 30;

/// Measured throughput for one ladder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacity {
    /// Output pixels (summed over the ladder) encoded per wall-clock second.
    pub pixels_per_second: f64,
    /// Seconds of source video transcoded per wall-clock second (above 1: faster than live).
    pub realtime_factor: f64,
}

/// Transcodes a generated 2 s 720p30 segment into `ladder` with `transcoder` and times it.
pub fn measure_capacity(
    transcoder: &dyn Transcoder,
    ladder: &[Profile],
) -> Result<Capacity, MediaError> {
    let dir = tempfile::Builder::new()
        .prefix("peerflow-capacity-")
        .tempdir()
        .map_err(|e| MediaError::io("creating a temporary directory", e))?;
    let segments = testsrc::generate_segments(
        dir.path(),
        1,
        CLIP_SECONDS,
        CLIP_WIDTH,
        CLIP_HEIGHT,
        CLIP_FPS,
    )?;
    let clip = std::fs::read(&segments[0]).map_err(|e| MediaError::io("reading the clip", e))?;

    let started = Instant::now();
    transcoder.transcode(&clip, InputFormat::MpegTs, ladder)?;
    let wall_s = started.elapsed().as_secs_f64();

    let seconds = f64::from(CLIP_SECONDS);
    let pixels = ladder_pixels(ladder, seconds, f64::from(CLIP_FPS));
    let capacity = Capacity {
        pixels_per_second: pixels as f64 / wall_s,
        realtime_factor: seconds / wall_s,
    };
    tracing::info!(
        transcoder = transcoder.name(),
        pixels_per_second = capacity.pixels_per_second,
        realtime_factor = capacity.realtime_factor,
        "measured transcoding capacity"
    );
    Ok(capacity)
}
