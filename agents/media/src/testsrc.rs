//! Synthetic live streams for tests, benchmarks and demos: moving test pattern plus a tone,
//! H.264 + AAC, cut into MPEG-TS segments the way a broadcaster's ffmpeg cuts them.

use std::path::{Path, PathBuf};

use crate::MediaError;
use crate::ffargs::{self, os_args};
use crate::tool::{self, Tool};

/// Generates `count` segments of `seconds_each` seconds of `width`×`height` video at `fps` in
/// `dir` (`seg00000.ts`, `seg00001.ts`, …) and returns their paths in order.
///
/// The stream is lavfi `testsrc2` (moving content) with a 440 Hz `sine`, encoded by libx264
/// (`veryfast`, a key frame exactly every `seconds_each` seconds) and AAC, and cut by ffmpeg's
/// segment muxer (`-f segment -segment_format mpegts`). Timestamps run on across segments, as in
/// a live stream: segment *n* starts where segment *n − 1* ended.
pub fn generate_segments(
    dir: &Path,
    count: usize,
    seconds_each: u32,
    width: u32,
    height: u32,
    fps: u32,
) -> Result<Vec<PathBuf>, MediaError> {
    generate_segments_of("testsrc2", dir, count, seconds_each, width, height, fps)
}

/// Like [`generate_segments`], with the picture from the lavfi video source `pattern`
/// (`testsrc2`, `mandelbrot`, `life`, `smptebars`, `cellauto`, …: moving, zooming, sparse or
/// still content).
pub fn generate_segments_of(
    pattern: &str,
    dir: &Path,
    count: usize,
    seconds_each: u32,
    width: u32,
    height: u32,
    fps: u32,
) -> Result<Vec<PathBuf>, MediaError> {
    if count == 0
        || seconds_each == 0
        || fps == 0
        || !width.is_multiple_of(2)
        || !height.is_multiple_of(2)
    {
        return Err(MediaError::InvalidArgument(format!(
            "cannot generate {count} segments of {seconds_each}s at {width}x{height}@{fps}"
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| MediaError::io("creating the segment dir", e))?;
    let total_s = (count as u64 * u64::from(seconds_each)).to_string();
    let gop = (seconds_each * fps).to_string();
    let mut args = ffargs::common();
    args.extend(os_args(&[
        "-f",
        "lavfi",
        "-i",
        &format!("{pattern}=size={width}x{height}:rate={fps}"),
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        &total_s,
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        "-g",
        &gop,
        "-keyint_min",
        &gop,
        "-sc_threshold",
        "0",
        "-force_key_frames",
        &format!("expr:gte(t,n_forced*{seconds_each})"),
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-f",
        "segment",
        "-segment_time",
        &seconds_each.to_string(),
        "-segment_format",
        "mpegts",
    ]));
    args.push(dir.join("seg%05d.ts").into());
    tool::run(Tool::Ffmpeg, args)?.check(Tool::Ffmpeg)?;

    let segments: Vec<PathBuf> = (0..count)
        .map(|i| dir.join(format!("seg{i:05}.ts")))
        .collect();
    match segments.iter().find(|p| !p.is_file()) {
        Some(missing) => Err(MediaError::UnexpectedOutput {
            tool: "ffmpeg",
            detail: format!("segment muxer did not write {}", missing.display()),
        }),
        None => Ok(segments),
    }
}
