//! peerflow's media layer: turns an incoming video segment into the renditions of a ladder.
//!
//! - [`Profile`] / [`default_ladder`] / [`Profile::parse_ladder`]: what to produce, and the
//!   pixel counts ([`Profile::output_pixels`]) that pricing is based on.
//! - [`Transcoder`]: one segment in, one [`Rendition`] per profile out. [`FfmpegTranscoder`] runs
//!   one ffmpeg process per segment (libx264, libsvtav1); [`Rav1eTranscoder`] encodes AV1 with
//!   rav1e in-process, deterministically.
//! - [`probe`]: what a file holds, by ffprobe.
//! - [`measure_capacity`]: this machine's throughput, measured on a generated clip.
//! - [`verify`]: checking a rendition against its source and profile (faults with on-chain
//!   codes, SSIM/PSNR).
//! - [`testsrc`]: synthetic live streams cut into segments, for tests, benchmarks and demos.
//!
//! Everything blocks (it waits on child processes or encodes); async callers use
//! `spawn_blocking`. Errors are [`MediaError`]; [`MediaError::BadSegment`] is the caller's fault.
//! Needs `ffmpeg` and `ffprobe` on PATH (Debian's ffmpeg 5.1 or later).

mod capacity;
pub mod cheat;
mod error;
mod ffargs;
mod ffmpeg_transcoder;
mod format;
mod probe;
mod profile;
mod rav1e_transcoder;
pub mod testsrc;
mod tool;
mod transcode;
pub mod verify;
pub mod vod;
mod workdir;

pub use capacity::{Capacity, measure_capacity};
pub use error::MediaError;
pub use ffmpeg_transcoder::FfmpegTranscoder;
pub use format::{Container, InputFormat};
pub use probe::{MediaInfo, probe, probe_bytes, probe_bytes_as, probe_packets_bytes};
pub use profile::{
    LadderError, Profile, VideoCodec, default_ladder, ladder_pixels, validate_ladder,
};
pub use rav1e_transcoder::Rav1eTranscoder;
pub use tool::{BACKGROUND_NICENESS, ToolLimits, in_background, tool_limits, with_tool_limits};
pub use transcode::{Rendition, Transcoder};
