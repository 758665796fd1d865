//! The production transcoder: one ffmpeg process per segment decodes the input once, splits and
//! scales the picture for every profile, and encodes each with libx264 or libsvtav1.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::ffargs::{self, FMP4_MOVFLAGS, os_args};
use crate::format::{Container, InputFormat};
use crate::profile::{Profile, VideoCodec};
use crate::tool::{self, Tool};
use crate::transcode::{Rendition, Transcoder, check_ladder};
use crate::workdir::SegmentWorkdir;
use crate::{MediaError, probe};

/// Transcodes with the system ffmpeg: libx264 for H.264 profiles, libsvtav1 for `av1-svt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FfmpegTranscoder {
    /// libx264 preset.
    pub x264_preset: String,
    /// libsvtav1 preset, 0 (slowest) to 13 (fastest).
    pub svtav1_preset: u8,
    /// Encode with one thread per encoder (x264 `threads=1`, SVT-AV1 `lp=1`), so that the same
    /// input gives the same bytes on every machine (multi-threaded x264 with a rate limit does
    /// not; SVT-AV1's output depends on its thread count). Slower; what verification's
    /// reference encodes use ([`crate::verify::reference_encode`]).
    pub deterministic: bool,
}

impl Default for FfmpegTranscoder {
    fn default() -> Self {
        Self {
            x264_preset: "veryfast".into(),
            svtav1_preset: 10,
            deterministic: false,
        }
    }
}

/// Encoder options that make `codec`'s output independent of the machine.
fn deterministic_args(codec: VideoCodec) -> Vec<OsString> {
    match codec {
        VideoCodec::H264 => os_args(&["-x264-params", "threads=1"]),
        VideoCodec::Av1Svt => os_args(&["-svtav1-params", "lp=1"]),
        VideoCodec::Av1Rav1e => Vec::new(),
    }
}

impl FfmpegTranscoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether this transcoder can encode `codec`: H.264 and SVT-AV1 (rav1e is
    /// [`crate::Rav1eTranscoder`]'s).
    pub fn supports(codec: VideoCodec) -> bool {
        matches!(codec, VideoCodec::H264 | VideoCodec::Av1Svt)
    }

    /// The ffmpeg arguments that turn `input` into one file per profile (`outputs[i]` for
    /// `ladder[i]`) in a single pass. Timestamps are the source's (`-copyts`, no mux delay), so
    /// renditions of consecutive segments continue each other; audio is copied when present.
    /// Each rendition keeps the source's aspect ratio ([`Profile::fit`]). The input's demuxer is
    /// forced and only local files may be read; every output is bounded by the file limit
    /// ([`crate::ToolLimits`]).
    /// `adts_aac` says the source audio is AAC in ADTS framing (MPEG-TS), which MP4 outputs repack.
    pub fn ladder_args(
        &self,
        input: &Path,
        format: InputFormat,
        ladder: &[Profile],
        outputs: &[PathBuf],
        adts_aac: bool,
    ) -> Result<Vec<OsString>, MediaError> {
        check_ladder(ladder, self.name(), Self::supports)?;
        if outputs.len() != ladder.len() {
            return Err(MediaError::InvalidArgument(format!(
                "{} output paths for {} profiles",
                outputs.len(),
                ladder.len()
            )));
        }
        let mut args = ffargs::common();
        // One decoder thread: with frame threading, whether a truncated last frame makes ffmpeg
        // fail (-xerror) depends on thread timing; decoding is a small part of the work.
        args.extend(os_args(&["-copyts", "-threads", "1"]));
        args.extend(tool::input_args(format.demuxer()));
        args.push("-i".into());
        args.push(input.into());
        args.extend(os_args(&["-filter_complex", &ffargs::scale_graph(ladder)]));
        for (i, (profile, output)) in ladder.iter().zip(outputs).enumerate() {
            args.extend(os_args(&["-map", &format!("[v{i}]"), "-map", "0:a:0?"]));
            args.extend(self.encoder_args(profile).unwrap_or_default());
            if self.deterministic {
                args.extend(deterministic_args(profile.codec));
            }
            args.extend(os_args(&["-c:a", "copy"]));
            match profile.codec.container() {
                Container::MpegTs => args.extend(os_args(&["-muxdelay", "0", "-f", "mpegts"])),
                Container::Mp4 => {
                    if adts_aac {
                        args.extend(os_args(&["-bsf:a", "aac_adtstoasc"]));
                    }
                    args.extend(os_args(&["-movflags", FMP4_MOVFLAGS, "-f", "mp4"]));
                }
            }
            args.extend(tool::file_limit_args());
            args.push(output.into());
        }
        Ok(args)
    }

    /// Video encoder options for `profile`, or `None` for a codec ffmpeg is not used for here.
    fn encoder_args(&self, profile: &Profile) -> Option<Vec<OsString>> {
        let kbps = profile.bitrate_kbps;
        match profile.codec {
            VideoCodec::H264 => Some(os_args(&[
                "-c:v",
                "libx264",
                "-preset",
                &self.x264_preset,
                "-b:v",
                &format!("{kbps}k"),
                "-maxrate",
                &format!("{kbps}k"),
                "-bufsize",
                &format!("{}k", 2 * kbps),
            ])),
            VideoCodec::Av1Svt => Some(os_args(&[
                "-c:v",
                "libsvtav1",
                "-preset",
                &self.svtav1_preset.to_string(),
                "-b:v",
                &format!("{kbps}k"),
            ])),
            VideoCodec::Av1Rav1e => None,
        }
    }
}

impl Transcoder for FfmpegTranscoder {
    fn transcode(
        &self,
        input: &[u8],
        format: InputFormat,
        ladder: &[Profile],
    ) -> Result<Vec<Rendition>, MediaError> {
        check_ladder(ladder, self.name(), Self::supports)?;
        let work = SegmentWorkdir::new(input, format)?;
        let outputs = output_paths(&work, ladder);
        // Only MP4 outputs care how the source frames its audio; don't probe for TS-only ladders.
        let mp4_out = ladder.iter().any(|p| p.codec.container() == Container::Mp4);
        let adts_aac = mp4_out && probe::summarize(work.input(), format)?.adts_aac(format);
        let args = self.ladder_args(work.input(), format, ladder, &outputs, adts_aac)?;
        tool::run(Tool::Ffmpeg, &args)
            .and_then(|out| out.check(Tool::Ffmpeg))
            .map_err(|e| work.blame_input(e))?;
        for path in &outputs {
            tool::check_file_limit(path)?;
        }
        ladder
            .iter()
            .zip(&outputs)
            .map(|(profile, path)| {
                Ok(Rendition {
                    profile: profile.name.clone(),
                    container: profile.codec.container(),
                    bytes: work.read(path)?,
                })
            })
            .collect()
    }

    fn name(&self) -> &str {
        "ffmpeg"
    }
}

fn output_paths(work: &SegmentWorkdir, ladder: &[Profile]) -> Vec<PathBuf> {
    ladder
        .iter()
        .enumerate()
        .map(|(i, p)| {
            work.path(&format!(
                "{i}-{}.{}",
                p.name,
                p.codec.container().extension()
            ))
        })
        .collect()
}
