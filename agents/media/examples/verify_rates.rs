//! Verification error rates: honest renditions (x264 through ffmpeg, and AV1 from rav1e checked
//! against an SVT-AV1 profile: another encoder backend) and cheating ones (every
//! [`Cheat`]) of generated 2 s 480p30 segments with five kinds of content, each checked as the
//! broadcaster checks a sampled segment (deterministic checks, then SSIM/PSNR). Prints
//! `name: value` lines: the false-positive rate over honest renditions, the false-negative rate
//! over cheating ones (overall and per cheat), the closest honest figures to each threshold
//! (the margin the defaults leave), and the checks' cost beside the transcode's in the same run.
//!
//! `cargo run --release -p peerflow-media --example verify_rates [SEGMENTS_PER_PATTERN]`
//! (default 8: 5 patterns × 8 segments × 2 renditions = 80 honest x264 renditions per run).

use std::time::{Duration, Instant};

use peerflow_media::cheat::Cheat;
use peerflow_media::verify::{self, QualityThresholds, Tolerances};
use peerflow_media::{
    FfmpegTranscoder, InputFormat, Profile, Rav1eTranscoder, Transcoder, VideoCodec,
    default_ladder, probe_bytes, testsrc,
};

const PATTERNS: [&str; 5] = ["testsrc2", "mandelbrot", "life", "smptebars", "cellauto"];

#[derive(Default)]
struct Tally {
    checked: u64,
    flagged: u64,
}

impl Margins {
    /// Records how close an honest rendition came to the relative thresholds (a picture that
    /// is clearly fine is never judged on its quality drop, so only the others count there).
    fn observe(&mut self, sampled: &verify::Sampled, thresholds: &QualityThresholds) {
        if let Some((reference, reference_bps)) = &sampled.reference {
            self.min_reference_bitrate_ratio = self
                .min_reference_bitrate_ratio
                .min(sampled.bit_rate / reference_bps);
            let q = &sampled.quality;
            if q.ssim >= thresholds.clearly_fine.ssim
                && q.psnr_db >= thresholds.clearly_fine.psnr_db
            {
                return;
            }
            self.references += 1;
            self.max_ssim_drop = self
                .max_ssim_drop
                .max(reference.ssim - sampled.quality.ssim);
            self.max_psnr_drop = self
                .max_psnr_drop
                .max(reference.psnr_db - sampled.quality.psnr_db);
        }
    }
}

impl Tally {
    fn add(&mut self, flagged: bool) {
        self.checked += 1;
        self.flagged += u64::from(flagged);
    }
}

/// The closest an honest rendition came to each threshold.
struct Margins {
    /// Largest SSIM and PSNR drop under the reference encode, and lowest bitrate ratio to it.
    max_ssim_drop: f64,
    max_psnr_drop: f64,
    min_reference_bitrate_ratio: f64,
    references: u64,
    min_floor_ratio: f64,
    max_ceiling_ratio: f64,
    max_timing_s: f64,
    max_frame_diff: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let per_pattern: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(8);
    let tolerances = Tolerances::default();
    let thresholds = QualityThresholds::default();
    let ladder = default_ladder();
    let av1_svt = Profile::new("240p", 426, 240, 300, VideoCodec::Av1Svt);
    let av1_rav1e = Profile {
        codec: VideoCodec::Av1Rav1e,
        ..av1_svt.clone()
    };
    let ffmpeg = FfmpegTranscoder::new();
    let rav1e = Rav1eTranscoder::new();

    let mut honest = Tally::default();
    let mut honest_rav1e = Tally::default();
    let mut cheats: Vec<(Cheat, Tally)> =
        Cheat::ALL.iter().map(|&c| (c, Tally::default())).collect();
    let mut margins = Margins {
        max_ssim_drop: f64::MIN,
        max_psnr_drop: f64::MIN,
        min_reference_bitrate_ratio: f64::MAX,
        references: 0,
        min_floor_ratio: f64::MAX,
        max_ceiling_ratio: 0.0,
        max_timing_s: 0.0,
        max_frame_diff: 0,
    };
    let (mut transcode_time, mut check_time, mut quality_time) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut flagged_honest: Vec<String> = Vec::new();

    for pattern in PATTERNS {
        let dir = tempfile::tempdir()?;
        let segments =
            testsrc::generate_segments_of(pattern, dir.path(), per_pattern, 2, 854, 480, 30)?;
        let mut previous: Option<Vec<Vec<u8>>> = None;
        for (n, path) in segments.iter().enumerate() {
            let source = std::fs::read(path)?;
            let info = probe_bytes(&source)?;
            let started = Instant::now();
            let renditions = ffmpeg.transcode(&source, InputFormat::MpegTs, &ladder)?;
            transcode_time += started.elapsed();
            let bytes: Vec<Vec<u8>> = renditions.into_iter().map(|r| r.bytes).collect();
            for (profile, rendition) in ladder.iter().zip(&bytes) {
                let started = Instant::now();
                let checked = verify::check_rendition(rendition, profile, &info, &tolerances)?;
                check_time += started.elapsed();
                let started = Instant::now();
                let verdict = match &checked {
                    Ok(m) => verify::sampled_check(
                        rendition,
                        m,
                        &source,
                        InputFormat::MpegTs,
                        profile,
                        &thresholds,
                    )?,
                    Err(fault) => Err(fault.clone()),
                };
                quality_time += started.elapsed();
                if let Err(fault) = &verdict {
                    flagged_honest.push(format!("{pattern}#{n} {}: {fault}", profile.name));
                }
                honest.add(verdict.is_err());
                if let (Ok(m), Ok(sampled)) = (checked, verdict) {
                    let paid = f64::from(profile.bitrate_kbps) * 1e3;
                    let floor_base = paid.min(info.video_bit_rate());
                    margins.observe(&sampled, &thresholds);
                    margins.min_floor_ratio =
                        margins.min_floor_ratio.min(m.video_bit_rate / floor_base);
                    margins.max_ceiling_ratio =
                        margins.max_ceiling_ratio.max(m.video_bit_rate / paid);
                    margins.max_timing_s = margins
                        .max_timing_s
                        .max((m.start_time_s - info.start_time_s).abs())
                        .max((m.duration_s - info.duration_s).abs());
                    margins.max_frame_diff =
                        margins.max_frame_diff.max(m.frames.abs_diff(info.frames));
                }
            }
            // Another backend: rav1e's AV1 for a profile that names SVT-AV1 (every other segment).
            if n % 2 == 0 {
                let out = rav1e.transcode(
                    &source,
                    InputFormat::MpegTs,
                    std::slice::from_ref(&av1_rav1e),
                )?;
                let verdict =
                    match verify::check_rendition(&out[0].bytes, &av1_svt, &info, &tolerances)? {
                        Ok(m) => verify::sampled_check(
                            &out[0].bytes,
                            &m,
                            &source,
                            InputFormat::MpegTs,
                            &av1_svt,
                            &thresholds,
                        )?,
                        Err(fault) => Err(fault),
                    };
                match &verdict {
                    Err(fault) => flagged_honest.push(format!("{pattern}#{n} rav1e: {fault}")),
                    Ok(sampled) => margins.observe(sampled, &thresholds),
                }
                honest_rav1e.add(verdict.is_err());
            }
            // Cheats, each on one rendition of the segment (alternating rungs).
            if let Some(prev) = &previous {
                for (k, (cheat, tally)) in cheats.iter_mut().enumerate() {
                    let i = (n + k) % ladder.len();
                    let bad = cheat.apply(
                        &source,
                        InputFormat::MpegTs,
                        &ladder[i],
                        &bytes[i],
                        &prev[i],
                    )?;
                    let caught =
                        match verify::check_rendition(&bad, &ladder[i], &info, &tolerances)? {
                            Err(_) => true,
                            Ok(m) => verify::sampled_check(
                                &bad,
                                &m,
                                &source,
                                InputFormat::MpegTs,
                                &ladder[i],
                                &thresholds,
                            )?
                            .is_err(),
                        };
                    tally.add(caught);
                }
            }
            previous = Some(bytes);
        }
    }

    let rate = |num: u64, den: u64| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    let cheated: u64 = cheats.iter().map(|(_, t)| t.checked).sum();
    let caught: u64 = cheats.iter().map(|(_, t)| t.flagged).sum();
    println!(
        "honest_renditions_checked: {}",
        honest.checked + honest_rav1e.checked
    );
    println!(
        "false_positive_rate: {:.4}",
        rate(
            honest.flagged + honest_rav1e.flagged,
            honest.checked + honest_rav1e.checked
        )
    );
    println!(
        "false_positive_rate_x264: {:.4}",
        rate(honest.flagged, honest.checked)
    );
    println!(
        "false_positive_rate_rav1e_for_svt_profile: {:.4}",
        rate(honest_rav1e.flagged, honest_rav1e.checked)
    );
    println!("cheating_renditions_checked: {cheated}");
    println!(
        "false_negative_rate: {:.4}",
        rate(cheated - caught, cheated)
    );
    for (cheat, tally) in &cheats {
        println!(
            "false_negative_rate_{}: {:.4}",
            cheat.as_str().replace('-', "_"),
            rate(tally.checked - tally.flagged, tally.checked)
        );
    }
    println!(
        "honest_renditions_judged_on_quality_drop: {}",
        margins.references
    );
    println!(
        "honest_max_ssim_drop_vs_reference: {:.4} (allowed {})",
        margins.max_ssim_drop, thresholds.max_ssim_drop
    );
    println!(
        "honest_max_psnr_drop_vs_reference_db: {:.2} (allowed {})",
        margins.max_psnr_drop, thresholds.max_psnr_drop_db
    );
    println!(
        "honest_min_bitrate_to_reference_ratio: {:.3} (floor {})",
        margins.min_reference_bitrate_ratio, thresholds.bitrate_floor
    );
    println!(
        "honest_min_bitrate_floor_ratio: {:.3} (floor {})",
        margins.min_floor_ratio, tolerances.bitrate_floor
    );
    println!(
        "honest_max_bitrate_to_paid_ratio: {:.3} (no ceiling by default)",
        margins.max_ceiling_ratio
    );
    println!(
        "honest_max_timing_error_s: {:.4} (tolerance {})",
        margins.max_timing_s, tolerances.timing_s
    );
    println!(
        "honest_max_frame_difference: {} (tolerance {})",
        margins.max_frame_diff, tolerances.frames
    );
    let per = |d: Duration, n: u64| d.as_secs_f64() * 1e3 / n.max(1) as f64;
    let segments = honest.checked / ladder.len() as u64;
    println!(
        "transcode_ms_per_segment: {:.1}",
        per(transcode_time, segments)
    );
    println!(
        "deterministic_checks_ms_per_segment: {:.1}",
        per(check_time, segments)
    );
    println!(
        "quality_check_ms_per_segment: {:.1}",
        per(quality_time, segments)
    );
    for line in &flagged_honest {
        eprintln!("flagged honest rendition: {line}");
    }
    Ok(())
}
