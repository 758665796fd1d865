//! `./script/bench media`: transcoding throughput, each figure next to a reference measured in
//! the same run. Prints one `name: value` line per figure.
//!
//! - `ladder_realtime_factor`: seconds of video per wall second (2 s over the median segment
//!   time), FfmpegTranscoder over generated 2 s 720p30 segments, default ladder.
//! - `ffmpeg_ladder_realtime_factor`: the same ffmpeg command line run bare on the same files.
//! - `segment_overhead_ms`: median over segments of our wall time minus bare ffmpeg's.
//! - `rav1e_fps_360p` / `svtav1_fps_360p`: output frames per second, Rav1eTranscoder vs
//!   FfmpegTranscoder (SVT-AV1) on the same 360p segments into a 360p AV1 profile.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use peerflow_media::{
    FfmpegTranscoder, InputFormat, MediaError, Profile, Rav1eTranscoder, Transcoder,
    default_ladder, probe, testsrc,
};

const SEGMENTS: usize = 10;
const SEGMENT_S: u32 = 2;
const ROUNDS: usize = 3;
const AV1_SEGMENTS: usize = 2;

fn main() -> Result<(), MediaError> {
    let dir = tempfile::tempdir().map_err(|e| MediaError::Io {
        context: "creating a temporary directory".into(),
        source: e,
    })?;
    let segments_720 =
        testsrc::generate_segments(&dir.path().join("720p"), SEGMENTS, SEGMENT_S, 1280, 720, 30)?;
    let segments_360 = testsrc::generate_segments(
        &dir.path().join("360p"),
        AV1_SEGMENTS,
        SEGMENT_S,
        640,
        360,
        30,
    )?;

    let times = ladder_times(&segments_720, &dir.path().join("bare"))?;
    let segment_s = f64::from(SEGMENT_S);
    let ours = median(times.iter().map(|t| t.0).collect());
    let bare = median(times.iter().map(|t| t.1).collect());
    let overhead = median(times.iter().map(|t| t.0 - t.1).collect());
    println!("ladder_realtime_factor: {:.2}", segment_s / ours);
    println!("ffmpeg_ladder_realtime_factor: {:.2}", segment_s / bare);
    println!("segment_overhead_ms: {:.1}", overhead * 1000.0);

    let rav1e = Profile::parse_ladder("360p:640x360:800k:av1-rav1e").expect("valid ladder");
    let svt = Profile::parse_ladder("360p:640x360:800k:av1-svt").expect("valid ladder");
    println!(
        "rav1e_fps_360p: {:.1}",
        fps(&Rav1eTranscoder::new(), &segments_360, &rav1e)?
    );
    println!(
        "svtav1_fps_360p: {:.1}",
        fps(&FfmpegTranscoder::new(), &segments_360, &svt)?
    );
    Ok(())
}

/// Per-segment wall times: FfmpegTranscoder, and the same ffmpeg command line run bare on the
/// segment file. Each segment is done both ways back to back, the order swapped every round, so
/// drift in machine load (the cores are shared) hits both alike; one untimed warm-up each first.
fn ladder_times(segments: &[PathBuf], out_dir: &Path) -> Result<Vec<(f64, f64)>, MediaError> {
    let transcoder = FfmpegTranscoder::new();
    let ladder = default_ladder();
    std::fs::create_dir_all(out_dir).map_err(|e| MediaError::Io {
        context: "creating the output dir".into(),
        source: e,
    })?;
    let outputs: Vec<PathBuf> = ladder
        .iter()
        .map(|p| out_dir.join(format!("{}.{}", p.name, p.codec.container().extension())))
        .collect();

    let run_bare = |segment: &Path| -> Result<f64, MediaError> {
        let args =
            transcoder.ladder_args(segment, InputFormat::MpegTs, &ladder, &outputs, false)?;
        let started = Instant::now();
        let status = Command::new("ffmpeg")
            .args(&args)
            .status()
            .map_err(|e| MediaError::Io {
                context: "running ffmpeg".into(),
                source: e,
            })?;
        let elapsed = started.elapsed().as_secs_f64();
        assert!(
            status.success(),
            "bare ffmpeg failed on {}",
            segment.display()
        );
        Ok(elapsed)
    };
    let run_ours = |segment: &Path| -> Result<f64, MediaError> {
        let input = std::fs::read(segment).expect("segment");
        let started = Instant::now();
        transcoder.transcode(&input, InputFormat::MpegTs, &ladder)?;
        Ok(started.elapsed().as_secs_f64())
    };

    run_ours(&segments[0])?;
    run_bare(&segments[0])?;
    let mut times = Vec::new();
    for round in 0..ROUNDS {
        for segment in segments {
            times.push(if round % 2 == 0 {
                let ours = run_ours(segment)?;
                (ours, run_bare(segment)?)
            } else {
                let bare = run_bare(segment)?;
                (run_ours(segment)?, bare)
            });
        }
    }
    Ok(times)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// Output frames per wall second transcoding `segments` into `ladder` (one profile).
fn fps(
    transcoder: &dyn Transcoder,
    segments: &[PathBuf],
    ladder: &[Profile],
) -> Result<f64, MediaError> {
    let mut frames = 0;
    let mut wall = Duration::ZERO;
    for segment in segments {
        let input = std::fs::read(segment).expect("segment");
        let started = Instant::now();
        transcoder.transcode(&input, InputFormat::MpegTs, ladder)?;
        wall += started.elapsed();
        frames += probe(segment)?.frames;
    }
    Ok(frames as f64 / wall.as_secs_f64())
}
