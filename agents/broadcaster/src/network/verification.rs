//! Checking the renditions an orchestrator signed before they are published: every rendition
//! gets the cheap deterministic checks (decodable, codec, resolution, frame count, duration,
//! start time, bitrate band, audio); a random sample of segments also gets the full-reference
//! quality check (SSIM and PSNR against the source scaled to the rendition's size). The draw is
//! made here, after the reply arrived, so the orchestrator cannot know which segments are sampled.
//!
//! Everything here blocks (ffprobe, ffmpeg); the processor runs it on the blocking pool.

use peerflow_media::verify::{self, Fault, Measured, QualityThresholds, Sampled, Tolerances};
use peerflow_media::{InputFormat, MediaError, MediaInfo, Profile};
use serde::Serialize;

/// How renditions are checked.
#[derive(Debug, Clone)]
pub struct VerifyPolicy {
    pub tolerances: Tolerances,
    pub thresholds: QualityThresholds,
    /// Share of segments that also get the quality check, 0 to 1.
    pub sample_rate: f64,
}

impl Default for VerifyPolicy {
    /// The measured tolerances and thresholds, with one segment in ten sampled.
    fn default() -> Self {
        Self {
            tolerances: Tolerances::default(),
            thresholds: QualityThresholds::default(),
            sample_rate: 0.1,
        }
    }
}

impl VerifyPolicy {
    /// Draws whether the next segment is sampled.
    pub fn draw(&self) -> bool {
        if self.sample_rate <= 0.0 {
            return false;
        }
        if self.sample_rate >= 1.0 {
            return true;
        }
        // A uniform draw in [0, 1) from the OS's RNG; a failing RNG samples (the safe side).
        getrandom::u64().map_or(true, |x| {
            ((x >> 11) as f64 / (1u64 << 53) as f64) < self.sample_rate
        })
    }
}

/// What the checks found wrong with one rendition: the evidence of a fault claim.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Index of the rendition in the ladder (and in the signed result).
    pub rendition: usize,
    pub profile: String,
    /// The fault's on-chain code ([`Fault::code`]) and name.
    pub code: u8,
    pub name: &'static str,
    pub fault: Fault,
    /// Whether the segment was sampled for the quality check.
    pub sampled: bool,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rendition {}: {}", self.profile, self.fault)
    }
}

/// What the checks measured on a segment that passed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Passed {
    pub measured: Vec<Measured>,
    /// Per rendition, when the segment was sampled.
    pub sampled: Vec<Option<Sampled>>,
}

/// The outcome of checking one segment's renditions.
#[derive(Debug)]
pub enum Verdict {
    Passed(Passed),
    /// The orchestrator's fault.
    Failed(Finding),
    /// We could not check (our ffmpeg failed): nobody is blamed.
    Unchecked(MediaError),
}

/// Checks `renditions` (in ladder order) of `source` (in `format`, probed as `source_info`): the
/// deterministic checks on each, and when `sampled` the quality check too. The renditions are
/// checked at once, each on a thread of its own (each check runs its own single-threaded ffmpeg
/// processes, so the figures are those of one after another); the verdict is that of the first
/// rendition in ladder order that did not pass, as if they had been checked in turn.
pub fn check_segment(
    source: &[u8],
    format: InputFormat,
    source_info: &MediaInfo,
    ladder: &[Profile],
    renditions: &[&[u8]],
    sampled: bool,
    policy: &VerifyPolicy,
) -> Verdict {
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let checks: Vec<_> = renditions
            .iter()
            .zip(ladder)
            .map(|(bytes, profile)| {
                scope.spawn(move || {
                    check_one(source, format, source_info, bytes, profile, sampled, policy)
                })
            })
            .collect();
        checks
            .into_iter()
            .map(|check| {
                check
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut passed = Passed {
        measured: Vec::with_capacity(renditions.len()),
        sampled: Vec::with_capacity(renditions.len()),
    };
    for (i, (outcome, profile)) in outcomes.into_iter().zip(ladder).enumerate() {
        match outcome {
            Ok(Ok((measured, quality))) => {
                passed.measured.push(measured);
                passed.sampled.push(quality);
            }
            Ok(Err(fault)) => {
                return Verdict::Failed(Finding {
                    rendition: i,
                    profile: profile.name.clone(),
                    code: fault.code(),
                    name: fault.name(),
                    fault,
                    sampled,
                });
            }
            Err(e) => return Verdict::Unchecked(e),
        }
    }
    Verdict::Passed(passed)
}

/// Checks one rendition: the deterministic checks, then (when `sampled`) the quality check. What
/// a juror runs again on a claimed rendition ([`super::juror`]).
pub fn check_one(
    source: &[u8],
    format: InputFormat,
    source_info: &MediaInfo,
    rendition: &[u8],
    profile: &Profile,
    sampled: bool,
    policy: &VerifyPolicy,
) -> Result<Result<(Measured, Option<Sampled>), Fault>, MediaError> {
    let measured =
        match verify::check_rendition(rendition, profile, source_info, &policy.tolerances)? {
            Ok(m) => m,
            Err(fault) => return Ok(Err(fault)),
        };
    if !sampled {
        return Ok(Ok((measured, None)));
    }
    Ok(verify::sampled_check(
        rendition,
        &measured,
        source,
        format,
        profile,
        &policy.thresholds,
    )?
    .map(|q| (measured, Some(q))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draw_follows_the_rate() {
        let never = VerifyPolicy {
            sample_rate: 0.0,
            ..VerifyPolicy::default()
        };
        let always = VerifyPolicy {
            sample_rate: 1.0,
            ..VerifyPolicy::default()
        };
        let quarter = VerifyPolicy {
            sample_rate: 0.25,
            ..VerifyPolicy::default()
        };
        assert!((0..100).all(|_| !never.draw()));
        assert!((0..100).all(|_| always.draw()));
        let hits = (0..4000).filter(|_| quarter.draw()).count();
        // 4000 draws at p = 0.25: mean 1000, sd ≈ 27; ±150 is over 5 sd.
        assert!((850..=1150).contains(&hits), "{hits} of 4000");
    }
}
