//! The pure-Rust AV1 path: ffmpeg decodes and scales to raw I420, rav1e encodes in-process
//! (through `peerflow-av1enc`), and ffmpeg muxes the AV1 with the source audio into fMP4.
//! Same input, same settings → byte-identical output.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};

use peerflow_av1enc::{Av1Encoder, EncoderSettings};

use crate::MediaError;
use crate::ffargs::{self, FMP4_MOVFLAGS, os_args};
use crate::format::{Container, InputFormat};
use crate::probe::{self, StreamSummary};
use crate::profile::{Profile, VideoCodec};
use crate::tool::{self, Tool};
use crate::transcode::{Rendition, Transcoder, check_ladder};
use crate::workdir::SegmentWorkdir;

/// Encodes `av1-rav1e` profiles with rav1e in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rav1eTranscoder {
    /// rav1e speed preset, 0 (slowest) to 10 (fastest).
    pub speed: u8,
    /// Tiles per frame; what lets rav1e use more than one core.
    pub tiles: usize,
    /// No frame reordering.
    pub low_latency: bool,
    /// Encoder threads; 0 uses rayon's global pool.
    pub threads: usize,
    /// Longest run of frames between key frames (where HLS can cut segments).
    pub max_key_frame_interval: u64,
}

impl Default for Rav1eTranscoder {
    fn default() -> Self {
        Self {
            speed: 10,
            tiles: 4,
            low_latency: true,
            threads: 0,
            max_key_frame_interval: 240,
        }
    }
}

impl Rav1eTranscoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether this transcoder can encode `codec`: only `av1-rav1e`.
    pub fn supports(codec: VideoCodec) -> bool {
        codec == VideoCodec::Av1Rav1e
    }

    fn settings(&self, profile: &Profile, fps: (u32, u32)) -> EncoderSettings {
        EncoderSettings {
            bitrate_kbps: profile.bitrate_kbps,
            speed: self.speed,
            tiles: self.tiles,
            low_latency: self.low_latency,
            threads: self.threads,
            max_key_frame_interval: self.max_key_frame_interval,
            ..EncoderSettings::new(
                profile.width as usize,
                profile.height as usize,
                fps.0,
                fps.1,
            )
        }
    }

    /// Encodes one raw I420 file into IVF bytes.
    fn encode(&self, raw: &Path, settings: EncoderSettings) -> Result<Vec<u8>, MediaError> {
        let file = File::open(raw).map_err(|e| MediaError::io("opening decoded frames", e))?;
        let mut reader = BufReader::new(file);
        let mut frame = vec![0u8; settings.frame_len()];
        let mut encoder = Av1Encoder::new(settings)?;
        let mut frames = 0u64;
        while read_frame(&mut reader, &mut frame)? {
            encoder.encode_frame(&frame)?;
            frames += 1;
        }
        if frames == 0 {
            return Err(MediaError::bad_segment("no video frames decoded"));
        }
        Ok(encoder.finish()?)
    }
}

impl Transcoder for Rav1eTranscoder {
    fn transcode(
        &self,
        input: &[u8],
        format: InputFormat,
        ladder: &[Profile],
    ) -> Result<Vec<Rendition>, MediaError> {
        check_ladder(ladder, self.name(), Self::supports)?;
        let work = SegmentWorkdir::new(input, format)?;
        let source = probe::summarize(work.input(), format)?;
        // Each rendition keeps the source's aspect ratio: the encoder needs the size up front.
        let sized: Vec<Profile> = ladder
            .iter()
            .map(|p| {
                let (width, height) = p.fit(source.width, source.height, source.sample_aspect);
                Profile {
                    width,
                    height,
                    ..p.clone()
                }
            })
            .collect();
        let raw: Vec<PathBuf> = (0..ladder.len())
            .map(|i| work.path(&format!("{i}.yuv")))
            .collect();
        tool::run(Tool::Ffmpeg, decode_args(&work, &sized, &raw))
            .and_then(|out| out.check(Tool::Ffmpeg))
            .map_err(|e| work.blame_input(e))?;
        for path in &raw {
            tool::check_file_limit(path)?;
        }
        sized
            .iter()
            .zip(&raw)
            .enumerate()
            .map(|(i, (profile, raw))| {
                let ivf = self.encode(raw, self.settings(profile, source.fps))?;
                let ivf_path = work.path(&format!("{i}.ivf"));
                std::fs::write(&ivf_path, ivf).map_err(|e| MediaError::io("writing IVF", e))?;
                let mp4 = work.path(&format!("{i}-{}.mp4", profile.name));
                tool::run(Tool::Ffmpeg, mux_args(&work, &source, &ivf_path, &mp4))?
                    .check(Tool::Ffmpeg)?;
                tool::check_file_limit(&mp4)?;
                Ok(Rendition {
                    profile: profile.name.clone(),
                    container: Container::Mp4,
                    bytes: work.read(&mp4)?,
                })
            })
            .collect()
    }

    fn name(&self) -> &str {
        "rav1e"
    }
}

/// Fills `frame` with the next frame; `false` at a clean end of file.
fn read_frame(reader: &mut impl Read, frame: &mut [u8]) -> Result<bool, MediaError> {
    match reader.read_exact(frame) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(MediaError::io("reading decoded frames", e)),
    }
}

/// One ffmpeg pass: decode once, scale to each profile's size (already fitted to the source),
/// write each as raw I420 (frame timing as decoded).
fn decode_args(work: &SegmentWorkdir, sized: &[Profile], raw: &[PathBuf]) -> Vec<OsString> {
    let mut args = ffargs::common();
    // One decoder thread, so that a truncated input fails deterministically (see FfmpegTranscoder).
    args.extend(os_args(&["-threads", "1"]));
    args.extend(tool::input_args(work.format().demuxer()));
    args.push("-i".into());
    args.push(work.input().into());
    let sizes: Vec<(u32, u32)> = sized.iter().map(|p| (p.width, p.height)).collect();
    args.extend(os_args(&[
        "-filter_complex",
        &ffargs::scale_graph_to(&sizes),
    ]));
    for (i, path) in raw.iter().enumerate() {
        args.extend(os_args(&[
            "-map",
            &format!("[v{i}]"),
            "-fps_mode",
            "passthrough",
        ]));
        args.extend(os_args(&["-f", "rawvideo", "-pix_fmt", "yuv420p"]));
        args.extend(tool::file_limit_args());
        args.push(path.into());
    }
    args
}

/// Muxes the AV1 (shifted to the source video's start time) with the source audio, copied.
fn mux_args(
    work: &SegmentWorkdir,
    source: &StreamSummary,
    ivf: &Path,
    out: &Path,
) -> Vec<OsString> {
    let mut args = ffargs::common();
    args.extend(os_args(&["-copyts", "-itsoffset", &source.video_start]));
    args.extend(tool::input_args("ivf"));
    args.push("-i".into());
    args.push(ivf.into());
    args.extend(tool::input_args(work.format().demuxer()));
    args.push("-i".into());
    args.push(work.input().into());
    args.extend(os_args(&["-map", "0:v", "-map", "1:a:0?", "-c", "copy"]));
    if source.adts_aac(work.format()) {
        args.extend(os_args(&["-bsf:a", "aac_adtstoasc"]));
    }
    args.extend(os_args(&[
        "-movflags",
        FMP4_MOVFLAGS,
        "-fflags",
        "+bitexact",
        "-f",
        "mp4",
    ]));
    args.extend(tool::file_limit_args());
    args.push(out.into());
    args
}
