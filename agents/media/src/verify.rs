//! Checking a rendition against the segment it was made from and the profile it was paid for.
//!
//! - [`check_rendition`]: the cheap deterministic checks every rendition gets: it decodes
//!   cleanly, in the profile's codec and resolution, with the source's frame count, duration and
//!   start time (a stale or reordered segment starts elsewhere), a video bitrate inside the
//!   profile's band, and audio when the source had audio.
//! - [`quality`]: the full-reference check a sample of segments gets: SSIM and PSNR of the
//!   rendition against the source scaled to the rendition's size (one ffmpeg pass).
//!
//! Each failure is a [`Fault`] with a stable numeric code, the one fault claims carry on-chain
//! (`contracts/interfaces/IFaultClaims.sol`). Errors of our own tools are [`MediaError`]s, never
//! faults: an orchestrator is not blamed because ffmpeg is missing here.
//!
//! ## Verdicts are a pure function of the bytes
//!
//! A broadcaster files a claim with the fault it found and every juror runs the same checks on
//! the same bytes, so the verdict must not depend on the machine, the load or the run:
//!
//! - the checks run in a fixed order and the first that fails is the verdict: decodes cleanly
//!   (`undecodable`), codec (`wrong_codec`), resolution, also of every decoded frame
//!   (`wrong_resolution`), start time (`stale_segment`), frame count (`frame_count`), duration
//!   (`duration`), audio (`audio_missing`), bitrate band (`low_bitrate`, `high_bitrate`); then,
//!   when sampled, quality against the source (`low_quality`) and bitrate against the reference
//!   encode (`low_bitrate`);
//! - every decode uses one thread (whether a cut-off frame reports an error must not depend on
//!   thread timing), the quality comparison one filter thread (its sums do not depend on how the
//!   picture was sliced), and the reference encode one encoder thread
//!   ([`crate::FfmpegTranscoder::deterministic`]): multi-threaded x264 under a rate limit gives
//!   different bytes run to run;
//! - the rendition's container is the profile's, forced ([`Profile::codec`]), never guessed;
//! - a limit that depends only on the bytes (the probe's output size) is a fault of the
//!   rendition; one that depends on the machine (a deadline) is an error of ours.
//!
//! One fault has several faces: a rendition cut short is `undecodable` where the decoder reports
//! the cut frame and `frame_count` or `duration` (short) where the cut falls between frames or a
//! decoder drops the broken frame silently. [`Fault::upholds`] is the rule a juror applies.
//!
//! ## Failing closed
//!
//! When the sampled quality run fails, the reference path (an encode made here, compared with
//! the same source by the same run) decides whose fault it is: if it works, the rendition could
//! not be compared with its source and is [`Fault::Undecodable`]; only when it fails too is the
//! failure ours ([`MediaError`]), and nobody is blamed.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ffargs::{self, os_args};
use crate::format::{Container, InputFormat};
use crate::profile::{Profile, VideoCodec};
use crate::tool::{self, Tool, stderr_tail};
use crate::transcode::Transcoder;
use crate::{MediaError, MediaInfo};

/// What is wrong with a rendition. The numeric [`Fault::code`]s are part of the on-chain claim
/// format and never change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// ffprobe cannot open it, or decoding it reports errors.
    Undecodable {
        reason: String,
    },
    WrongCodec {
        expected: String,
        got: String,
    },
    WrongResolution {
        expected: (u32, u32),
        got: (u32, u32),
    },
    /// Frames decoded differ from the source's (dropped, duplicated, cut short).
    FrameCount {
        expected: u64,
        got: u64,
    },
    Duration {
        expected_s: f64,
        got_s: f64,
    },
    /// The rendition does not start where its input does: another segment's (stale or reordered).
    StaleSegment {
        expected_s: f64,
        got_s: f64,
    },
    /// Fewer video bits than paid for.
    LowBitrate {
        floor_bps: f64,
        got_bps: f64,
    },
    HighBitrate {
        ceiling_bps: f64,
        got_bps: f64,
    },
    /// The source had audio and the rendition has none.
    AudioMissing,
    /// SSIM or PSNR against the scaled source under the threshold (black frames, another
    /// picture, a degraded encode).
    LowQuality {
        ssim: f64,
        psnr_db: f64,
    },
}

impl Fault {
    /// The fault's code in on-chain claims.
    pub fn code(&self) -> u8 {
        match self {
            Fault::Undecodable { .. } => 1,
            Fault::WrongCodec { .. } => 2,
            Fault::WrongResolution { .. } => 3,
            Fault::FrameCount { .. } => 4,
            Fault::Duration { .. } => 5,
            Fault::StaleSegment { .. } => 6,
            Fault::LowBitrate { .. } => 7,
            Fault::HighBitrate { .. } => 8,
            Fault::AudioMissing => 9,
            Fault::LowQuality { .. } => 10,
        }
    }

    /// The fault's machine-readable name, e.g. `low_quality`.
    pub fn name(&self) -> &'static str {
        FAULT_NAMES[usize::from(self.code()) - 1]
    }

    /// Whether a juror that found `self` upholds a claim of fault code `claimed`: the same code,
    /// or, for a rendition cut short, an equivalent finding. `undecodable` (1), `frame_count` (4)
    /// and `duration` (5) are one fault when the rendition is short: a claim of any of the
    /// three is upheld by a finding of `undecodable`, of fewer frames than the source, or of a
    /// shorter duration. Anything else must match exactly.
    pub fn upholds(&self, claimed: u8) -> bool {
        const CUT_SHORT: [u8; 3] = [1, 4, 5];
        if self.code() == claimed {
            return true;
        }
        let short = match self {
            Fault::Undecodable { .. } => true,
            Fault::FrameCount { expected, got } => got < expected,
            Fault::Duration { expected_s, got_s } => got_s < expected_s,
            _ => false,
        };
        short && CUT_SHORT.contains(&claimed)
    }

    /// The name of fault code `code`, if it is one.
    pub fn name_of(code: u8) -> Option<&'static str> {
        FAULT_NAMES.get(usize::from(code).checked_sub(1)?).copied()
    }
}

/// Fault names by code − 1.
const FAULT_NAMES: [&str; 10] = [
    "undecodable",
    "wrong_codec",
    "wrong_resolution",
    "frame_count",
    "duration",
    "stale_segment",
    "low_bitrate",
    "high_bitrate",
    "audio_missing",
    "low_quality",
];

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Undecodable { reason } => write!(f, "undecodable: {reason}"),
            Fault::WrongCodec { expected, got } => write!(f, "codec {got}, expected {expected}"),
            Fault::WrongResolution { expected, got } => write!(
                f,
                "resolution {}x{}, expected {}x{}",
                got.0, got.1, expected.0, expected.1
            ),
            Fault::FrameCount { expected, got } => write!(f, "{got} frames, expected {expected}"),
            Fault::Duration { expected_s, got_s } => {
                write!(f, "lasts {got_s:.3} s, expected {expected_s:.3} s")
            }
            Fault::StaleSegment { expected_s, got_s } => write!(
                f,
                "starts at {got_s:.3} s, its input at {expected_s:.3} s (stale or reordered)"
            ),
            Fault::LowBitrate { floor_bps, got_bps } => write!(
                f,
                "video at {:.0} kbit/s, under the floor of {:.0} kbit/s",
                got_bps / 1e3,
                floor_bps / 1e3
            ),
            Fault::HighBitrate {
                ceiling_bps,
                got_bps,
            } => write!(
                f,
                "video at {:.0} kbit/s, over the ceiling of {:.0} kbit/s",
                got_bps / 1e3,
                ceiling_bps / 1e3
            ),
            Fault::AudioMissing => f.write_str("the source has audio and the rendition none"),
            Fault::LowQuality { ssim, psnr_db } => {
                write!(
                    f,
                    "SSIM {ssim:.4}, PSNR {psnr_db:.2} dB: under the threshold"
                )
            }
        }
    }
}

/// How far an honest rendition may stray from its source and profile. The defaults come from
/// `cargo run --release -p peerflow-media --example verify_rates` (honest renditions of x264,
/// SVT-AV1 and rav1e over generated streams; see the README's verification figures).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tolerances {
    /// Frames the rendition may differ from the source by.
    pub frames: u64,
    /// Seconds the rendition's duration and start may differ from the source's.
    pub timing_s: f64,
    /// Video bitrate floor as a share of the lower of the profile's bitrate and the source's
    /// video bitrate (an encoder cannot be asked to add bits the source does not have).
    pub bitrate_floor: f64,
    /// Video bitrate ceiling as a multiple of the profile's bitrate; `None` (the default): no
    /// ceiling. Extra bits cost the payer nothing, and honest encoders without a VBV model
    /// overshoot any fixed ceiling on hard content (rav1e at 25× its target on lavfi `life`,
    /// measured by `verify_rates`); a deployment that caps viewers' bandwidth sets one.
    pub bitrate_ceiling: Option<f64>,
}

impl Default for Tolerances {
    fn default() -> Self {
        Self {
            frames: 0,
            timing_s: 0.05,
            bitrate_floor: 0.5,
            bitrate_ceiling: None,
        }
    }
}

/// What the deterministic checks measured on a rendition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Measured {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub frames: u64,
    pub duration_s: f64,
    pub start_time_s: f64,
    pub video_bit_rate: f64,
    pub audio: bool,
}

/// The codec name ffprobe reports for renditions of `codec`: any AV1 encoder satisfies an AV1
/// profile (the profile names the encoder the orchestrator is asked to use; the viewer only
/// needs AV1).
pub fn expected_codec(codec: VideoCodec) -> &'static str {
    match codec {
        VideoCodec::H264 => "h264",
        VideoCodec::Av1Svt | VideoCodec::Av1Rav1e => "av1",
    }
}

/// Runs the deterministic checks on `rendition` of `profile`, made from a source probed as
/// `source`. `Ok(Err(fault))` is the orchestrator's fault; `Err` is ours (a tool failed).
pub fn check_rendition(
    rendition: &[u8],
    profile: &Profile,
    source: &MediaInfo,
    tolerances: &Tolerances,
) -> Result<Result<Measured, Fault>, MediaError> {
    let info = match probe_clean(rendition, profile.codec.container())? {
        Ok(info) => info,
        Err(reason) => return Ok(Err(Fault::Undecodable { reason })),
    };
    Ok(judge(&info, profile, source, tolerances))
}

/// The deterministic checks on an already probed rendition.
pub fn judge(
    info: &MediaInfo,
    profile: &Profile,
    source: &MediaInfo,
    tol: &Tolerances,
) -> Result<Measured, Fault> {
    let expected = expected_codec(profile.codec);
    if info.video_codec != expected {
        return Err(Fault::WrongCodec {
            expected: expected.into(),
            got: info.video_codec.clone(),
        });
    }
    let expected_size = expected_size(profile, source);
    let got_size = match info.other_frame_size {
        Some(changed) if (info.width, info.height) == expected_size => changed,
        _ => (info.width, info.height),
    };
    if got_size != expected_size {
        return Err(Fault::WrongResolution {
            expected: expected_size,
            got: got_size,
        });
    }
    if (info.start_time_s - source.start_time_s).abs() > tol.timing_s {
        return Err(Fault::StaleSegment {
            expected_s: source.start_time_s,
            got_s: info.start_time_s,
        });
    }
    if info.frames.abs_diff(source.frames) > tol.frames {
        return Err(Fault::FrameCount {
            expected: source.frames,
            got: info.frames,
        });
    }
    if (info.duration_s - source.duration_s).abs() > tol.timing_s {
        return Err(Fault::Duration {
            expected_s: source.duration_s,
            got_s: info.duration_s,
        });
    }
    if source.audio_packets > 0 && info.audio_packets == 0 {
        return Err(Fault::AudioMissing);
    }
    let paid_bps = f64::from(profile.bitrate_kbps) * 1e3;
    let got_bps = info.video_bit_rate();
    let source_bps = source.video_bit_rate();
    let floor_bps = tol.bitrate_floor
        * if source_bps > 0.0 {
            paid_bps.min(source_bps)
        } else {
            paid_bps
        };
    if got_bps < floor_bps {
        return Err(Fault::LowBitrate { floor_bps, got_bps });
    }
    if let Some(ceiling_bps) = tol.bitrate_ceiling.map(|c| c * paid_bps)
        && got_bps > ceiling_bps
    {
        return Err(Fault::HighBitrate {
            ceiling_bps,
            got_bps,
        });
    }
    Ok(Measured {
        codec: info.video_codec.clone(),
        width: info.width,
        height: info.height,
        frames: info.frames,
        duration_s: info.duration_s,
        start_time_s: info.start_time_s,
        video_bit_rate: got_bps,
        audio: info.audio_packets > 0,
    })
}

/// The size a rendition of `profile` made from `source` must have: the profile's box fitted to
/// the source's display aspect ratio ([`Profile::fit`]).
pub fn expected_size(profile: &Profile, source: &MediaInfo) -> (u32, u32) {
    profile.fit(source.width, source.height, source.sample_aspect)
}

/// Probes in-memory media in `container` (forced), decoding every frame: `Ok(Err(reason))` when
/// it cannot be opened, its decoding reports errors (a cut-off or corrupted file) or the probe's
/// report is over the stdout limit (far more packets than any segment has: a function of the
/// bytes alone); `Err` when ffprobe itself failed or ran out of time.
pub fn probe_clean(
    bytes: &[u8],
    container: Container,
) -> Result<Result<MediaInfo, String>, MediaError> {
    let file = tempfile::NamedTempFile::new()
        .map_err(|e| MediaError::io("creating a temporary file", e))?;
    std::fs::write(file.path(), bytes)
        .map_err(|e| MediaError::io("writing a temporary file", e))?;
    match crate::probe::probe_reporting(file.path(), container.demuxer()) {
        Ok((info, stderr)) if stderr.trim().is_empty() => Ok(Ok(info)),
        Ok((_, stderr)) => Ok(Err(stderr_tail(&stderr))),
        Err(MediaError::BadSegment { reason }) => Ok(Err(reason)),
        Err(MediaError::ToolOutputTooLarge { limit, .. }) => Ok(Err(format!(
            "its probe report is over {limit} bytes: far more packets than a segment has"
        ))),
        Err(e) => Err(e),
    }
}

/// Full-reference quality of a rendition against its source.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quality {
    /// Mean SSIM over all planes, 0 to 1.
    pub ssim: f64,
    /// Mean PSNR over all planes, dB (ffmpeg caps identical frames at `inf`, reported as 100).
    pub psnr_db: f64,
}

/// How the sampled quality check judges a rendition. A rendition at least as good as
/// `clearly_fine` (and with at least `clearly_fine_bitrate` of the paid bitrate) passes at once;
/// any other is compared with a reference encode made here of the same profile: it fails when
/// its SSIM or PSNR is more than the allowed drop under the reference's, or its video bitrate
/// under `bitrate_floor` of the reference's (a clearly fine picture is never a quality fault,
/// only its bitrate can be). Relative, so hard content that no encoder renders
/// well at the paid bitrate does not make honest renditions fail; the drops leave room for
/// other encoders (rav1e, SVT-AV1, a GPU's) than the reference's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QualityThresholds {
    pub clearly_fine: Quality,
    pub clearly_fine_bitrate: f64,
    pub max_ssim_drop: f64,
    pub max_psnr_drop_db: f64,
    pub bitrate_floor: f64,
}

impl Default for QualityThresholds {
    /// Measured by the `verify_rates` example (see [`Tolerances`]).
    fn default() -> Self {
        Self {
            clearly_fine: Quality {
                ssim: 0.95,
                psnr_db: 32.0,
            },
            clearly_fine_bitrate: 0.8,
            max_ssim_drop: 0.10,
            max_psnr_drop_db: 4.0,
            bitrate_floor: 0.5,
        }
    }
}

/// What the sampled check measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sampled {
    pub quality: Quality,
    /// The rendition's video bitrate, bit/s.
    pub bit_rate: f64,
    /// The reference encode's quality and video bitrate, when one was needed.
    pub reference: Option<(Quality, f64)>,
}

impl QualityThresholds {
    /// Whether a rendition of `quality` at `bit_rate` (bit/s) of a profile paid at `paid_bps`
    /// passes without a reference.
    pub fn clearly_fine(&self, quality: &Quality, bit_rate: f64, paid_bps: f64) -> bool {
        quality.ssim >= self.clearly_fine.ssim
            && quality.psnr_db >= self.clearly_fine.psnr_db
            && bit_rate >= self.clearly_fine_bitrate * paid_bps
    }

    /// Judges a rendition against the reference encode of the same profile.
    pub fn against(
        &self,
        quality: &Quality,
        bit_rate: f64,
        reference: &Quality,
        reference_bps: f64,
    ) -> Result<(), Fault> {
        let fine =
            quality.ssim >= self.clearly_fine.ssim && quality.psnr_db >= self.clearly_fine.psnr_db;
        if !fine
            && (quality.ssim < reference.ssim - self.max_ssim_drop
                || quality.psnr_db < reference.psnr_db - self.max_psnr_drop_db)
        {
            return Err(Fault::LowQuality {
                ssim: quality.ssim,
                psnr_db: quality.psnr_db,
            });
        }
        let floor_bps = self.bitrate_floor * reference_bps;
        if bit_rate < floor_bps {
            return Err(Fault::LowBitrate {
                floor_bps,
                got_bps: bit_rate,
            });
        }
        Ok(())
    }
}

/// The sampled check of `rendition` (measured as `measured` by [`check_rendition`]) of `profile`
/// made from `source` (in `format`): its SSIM and PSNR against the scaled source, and when it is
/// not [clearly fine](QualityThresholds::clearly_fine), a reference encode to compare with.
///
/// Fails closed: when the quality run fails on the rendition and the same run works on the
/// reference encode, the rendition is at fault ([`Fault::Undecodable`]); only when the reference
/// path fails too is it an error of ours. A deadline or a missing tool is always ours.
pub fn sampled_check(
    rendition: &[u8],
    measured: &Measured,
    source: &[u8],
    format: InputFormat,
    profile: &Profile,
    thresholds: &QualityThresholds,
) -> Result<Result<Sampled, Fault>, MediaError> {
    let container = profile.codec.container();
    let q = match quality(rendition, container, source, format, profile) {
        Ok(q) => q,
        Err(failure) if rendition_may_be_at_fault(&failure) => {
            // Ours or the rendition's? The reference path answers: the same run on an encode
            // made here.
            let reference = reference_encode(source, format, profile)?;
            quality(&reference, container, source, format, profile)?;
            return Ok(Err(Fault::Undecodable {
                reason: format!("it cannot be compared with its source: {failure}"),
            }));
        }
        Err(ours) => return Err(ours),
    };
    let paid_bps = f64::from(profile.bitrate_kbps) * 1e3;
    if thresholds.clearly_fine(&q, measured.video_bit_rate, paid_bps) {
        return Ok(Ok(Sampled {
            quality: q,
            bit_rate: measured.video_bit_rate,
            reference: None,
        }));
    }
    let reference = reference_encode(source, format, profile)?;
    let reference_q = quality(&reference, container, source, format, profile)?;
    let reference_bps =
        crate::probe::probe_bytes_as_container(&reference, container)?.video_bit_rate();
    Ok(thresholds
        .against(&q, measured.video_bit_rate, &reference_q, reference_bps)
        .map(|()| Sampled {
            quality: q,
            bit_rate: measured.video_bit_rate,
            reference: Some((reference_q, reference_bps)),
        }))
}

/// Whether a failed quality run may be the rendition's doing (ffmpeg refused the inputs, or
/// compared no frames), as opposed to plainly ours (a deadline, a missing tool, our disk).
fn rendition_may_be_at_fault(failure: &MediaError) -> bool {
    matches!(
        failure,
        MediaError::BadSegment { .. }
            | MediaError::ToolFailed { .. }
            | MediaError::UnexpectedOutput { .. }
    )
}

/// Encodes `source` for `profile` here: ffmpeg for H.264 and SVT-AV1 profiles, rav1e for rav1e's,
/// each with a fixed thread count so that the same source gives the same reference on every
/// machine and every run.
pub fn reference_encode(
    source: &[u8],
    format: InputFormat,
    profile: &Profile,
) -> Result<Vec<u8>, MediaError> {
    let ladder = std::slice::from_ref(profile);
    let mut out = if crate::FfmpegTranscoder::supports(profile.codec) {
        crate::FfmpegTranscoder {
            deterministic: true,
            ..crate::FfmpegTranscoder::new()
        }
        .transcode(source, format, ladder)?
    } else {
        crate::Rav1eTranscoder {
            threads: 1,
            ..crate::Rav1eTranscoder::new()
        }
        .transcode(source, format, ladder)?
    };
    out.pop()
        .map(|r| r.bytes)
        .ok_or_else(|| MediaError::UnexpectedOutput {
            tool: "transcoder",
            detail: "no rendition".into(),
        })
}

/// SSIM and PSNR of `rendition` (in `container`) against `source` (in `format`) scaled (bicubic)
/// to the size of `profile`'s renditions of it ([`Profile::fit`]), frame by frame from each
/// file's first frame. A run ffmpeg refuses (a rendition that does not decode) is a
/// [`MediaError::BadSegment`]; one thread decodes and one filters, so the figures are the same on
/// every machine.
pub fn quality(
    rendition: &[u8],
    container: Container,
    source: &[u8],
    format: InputFormat,
    profile: &Profile,
) -> Result<Quality, MediaError> {
    let dir = tempfile::tempdir().map_err(|e| MediaError::io("creating a work dir", e))?;
    let (distorted, reference) = (dir.path().join("rendition"), dir.path().join("source"));
    std::fs::write(&distorted, rendition)
        .map_err(|e| MediaError::io("writing the rendition", e))?;
    std::fs::write(&reference, source).map_err(|e| MediaError::io("writing the source", e))?;
    let summary = crate::probe::summarize(&reference, format)?;
    let (width, height) = profile.fit(summary.width, summary.height, summary.sample_aspect);
    let graph = format!(
        "[0:v]settb=AVTB,setpts=PTS-STARTPTS,format=yuv420p,split[d0][d1];\
         [1:v]settb=AVTB,setpts=PTS-STARTPTS,scale={width}:{height}:flags=bicubic,format=yuv420p,split[r0][r1];\
         [d0][r0]ssim=shortest=1[s];[d1][r1]psnr=shortest=1[p];[s][p]interleave,nullsink"
    );
    let mut args = ffargs::common();
    args.extend(os_args(&["-loglevel", "info", "-threads", "1"]));
    args.extend(tool::input_args(container.demuxer()));
    args.push("-i".into());
    args.push(distorted.into());
    args.extend(os_args(&["-threads", "1"]));
    args.extend(tool::input_args(format.demuxer()));
    args.push("-i".into());
    args.push(reference.into());
    args.extend(os_args(&[
        "-filter_complex_threads",
        "1",
        "-filter_complex",
        &graph,
        "-f",
        "null",
        "-",
    ]));
    let out = tool::run(Tool::Ffmpeg, args)?;
    if !out.success {
        return Err(MediaError::bad_segment(stderr_tail(&out.stderr)));
    }
    parse_quality(&out.stderr).ok_or_else(|| MediaError::UnexpectedOutput {
        tool: "ffmpeg",
        detail: format!("no SSIM/PSNR summary in: {}", stderr_tail(&out.stderr)),
    })
}

/// Reads ffmpeg's `SSIM … All:0.97 (…)` and `PSNR … average:38.1 …` summary lines.
fn parse_quality(stderr: &str) -> Option<Quality> {
    let field = |line: &str, key: &str| -> Option<f64> {
        let rest = &line[line.find(key)? + key.len()..];
        let value = rest.split_whitespace().next()?;
        match value {
            "inf" => Some(100.0),
            v => v.parse().ok(),
        }
    };
    let ssim = stderr
        .lines()
        .find(|l| l.contains("SSIM ") && l.contains("All:"))
        .and_then(|l| field(l, "All:"))?;
    let psnr_db = stderr
        .lines()
        .find(|l| l.contains("PSNR ") && l.contains("average:"))
        .and_then(|l| field(l, "average:"))?;
    Some(Quality { ssim, psnr_db })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_stable() {
        let all = [
            Fault::Undecodable { reason: "x".into() },
            Fault::WrongCodec {
                expected: "h264".into(),
                got: "hevc".into(),
            },
            Fault::WrongResolution {
                expected: (2, 2),
                got: (4, 4),
            },
            Fault::FrameCount {
                expected: 1,
                got: 2,
            },
            Fault::Duration {
                expected_s: 1.0,
                got_s: 2.0,
            },
            Fault::StaleSegment {
                expected_s: 1.0,
                got_s: 2.0,
            },
            Fault::LowBitrate {
                floor_bps: 2.0,
                got_bps: 1.0,
            },
            Fault::HighBitrate {
                ceiling_bps: 1.0,
                got_bps: 2.0,
            },
            Fault::AudioMissing,
            Fault::LowQuality {
                ssim: 0.1,
                psnr_db: 5.0,
            },
        ];
        for (i, fault) in all.iter().enumerate() {
            assert_eq!(usize::from(fault.code()), i + 1);
            assert_eq!(Fault::name_of(fault.code()), Some(fault.name()));
        }
        assert_eq!(Fault::name_of(0), None);
        assert_eq!(Fault::name_of(11), None);
    }

    #[test]
    fn parses_ffmpeg_summaries() {
        let stderr = "[Parsed_ssim_6 @ 0x1] SSIM Y:0.981 (17.2) U:0.99 (20.0) V:0.99 (20.1) All:0.985123 (18.27)\n\
                      [Parsed_psnr_7 @ 0x2] PSNR y:38.1 u:42.0 v:42.2 average:39.417 min:35.0 max:44.0\n";
        let q = parse_quality(stderr).unwrap();
        assert!((q.ssim - 0.985123).abs() < 1e-9);
        assert!((q.psnr_db - 39.417).abs() < 1e-9);
        let identical = "SSIM Y:1.000 All:1.000000 (inf)\nPSNR y:inf average:inf min:inf max:inf\n";
        assert_eq!(parse_quality(identical).unwrap().psnr_db, 100.0);
        assert!(parse_quality("nothing here").is_none());
        let t = QualityThresholds::default();
        assert!(t.clearly_fine(&q, 800e3, 800e3));
        assert!(
            !t.clearly_fine(&q, 100e3, 800e3),
            "a starved rendition needs a reference"
        );
        let reference = Quality {
            ssim: 0.9,
            psnr_db: 30.0,
        };
        assert!(t.against(&reference, 800e3, &reference, 800e3).is_ok());
        let black = Quality {
            ssim: 0.3,
            psnr_db: 9.0,
        };
        assert_eq!(
            t.against(&black, 800e3, &reference, 800e3)
                .unwrap_err()
                .code(),
            10
        );
        assert_eq!(
            t.against(&reference, 200e3, &reference, 800e3)
                .unwrap_err()
                .code(),
            7
        );
    }
}
