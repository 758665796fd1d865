//! Rendition profiles (the ladder) and the pixel counts that pricing is based on.

use std::fmt;
use std::str::FromStr;

use crate::format::Container;

/// The video encoder a profile asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// H.264 by libx264, in MPEG-TS.
    H264,
    /// AV1 by SVT-AV1 (through ffmpeg), in fragmented MP4.
    Av1Svt,
    /// AV1 by rav1e (in-process), in fragmented MP4.
    Av1Rav1e,
}

impl VideoCodec {
    /// The name used in ladder strings: `h264`, `av1-svt` or `av1-rav1e`.
    pub fn as_str(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::Av1Svt => "av1-svt",
            VideoCodec::Av1Rav1e => "av1-rav1e",
        }
    }

    /// The container renditions of this codec come in (AV1 in MPEG-TS is not widely supported).
    pub fn container(self) -> Container {
        match self {
            VideoCodec::H264 => Container::MpegTs,
            VideoCodec::Av1Svt | VideoCodec::Av1Rav1e => Container::Mp4,
        }
    }
}

impl fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VideoCodec {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "h264" | "avc" | "x264" => Ok(VideoCodec::H264),
            "av1-svt" | "svt-av1" | "svtav1" => Ok(VideoCodec::Av1Svt),
            "av1-rav1e" | "rav1e" => Ok(VideoCodec::Av1Rav1e),
            _ => Err(()),
        }
    }
}

/// Why a ladder (or one profile in it) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LadderError {
    #[error("the ladder has no profiles")]
    Empty,
    #[error(
        "profile {entry:?}: expected name:WIDTHxHEIGHT:BITRATE:codec, e.g. 360p:640x360:800k:h264"
    )]
    Fields { entry: String },
    #[error("profile {entry:?}: invalid resolution {value:?}, expected WIDTHxHEIGHT, e.g. 640x360")]
    Resolution { entry: String, value: String },
    #[error(
        "profile {entry:?}: invalid bitrate {value:?}, expected a k or M suffix, e.g. 800k or 1.5M"
    )]
    Bitrate { entry: String, value: String },
    #[error("profile {entry:?}: unknown codec {value:?}, expected h264, av1-svt or av1-rav1e")]
    Codec { entry: String, value: String },
    #[error("profile name {name:?}: use 1 to 32 letters, digits, '_' or '-'")]
    Name { name: String },
    #[error("profile {name:?}: {width}x{height} must have even sides between 16 and 8192")]
    Dimensions {
        name: String,
        width: u32,
        height: u32,
    },
    #[error("profile {name:?}: bitrate must be above 0")]
    ZeroBitrate { name: String },
    #[error("profile name {name:?} appears more than once")]
    DuplicateName { name: String },
    #[error("profile {name:?}: {transcoder} cannot encode {codec}")]
    Unsupported {
        name: String,
        codec: VideoCodec,
        transcoder: String,
    },
}

/// One rung of the ladder: a named output resolution, bitrate and codec.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Profile {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    pub codec: VideoCodec,
}

/// The ladder used when a stream asks for none: 360p and 240p H.264.
pub fn default_ladder() -> Vec<Profile> {
    vec![
        Profile::new("360p", 640, 360, 800, VideoCodec::H264),
        Profile::new("240p", 426, 240, 400, VideoCodec::H264),
    ]
}

/// Pixels the whole ladder outputs for `duration_s` seconds of video at `fps`.
pub fn ladder_pixels(ladder: &[Profile], duration_s: f64, fps: f64) -> u64 {
    ladder
        .iter()
        .map(|p| p.output_pixels(duration_s, fps))
        .sum()
}

impl Profile {
    pub fn new(name: &str, width: u32, height: u32, bitrate_kbps: u32, codec: VideoCodec) -> Self {
        Self {
            name: name.to_owned(),
            width,
            height,
            bitrate_kbps,
            codec,
        }
    }

    /// Parses `name:WIDTHxHEIGHT:BITRATE:codec` entries separated by commas, e.g.
    /// `360p:640x360:800k:h264,240p:426x240:400k:av1-svt`, and validates the result.
    pub fn parse_ladder(s: &str) -> Result<Vec<Profile>, LadderError> {
        let ladder = s
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Profile>, _>>()?;
        validate_ladder(&ladder)?;
        Ok(ladder)
    }

    /// The size of this profile's rendition of a source `width`×`height` pixels with sample
    /// aspect ratio `sample_aspect` (`(1, 1)`: square pixels). Renditions keep the source's
    /// display aspect ratio (and square pixels); the rule every transcoder follows and the
    /// verifier checks:
    ///
    /// 1. the profile's box is oriented like the source: a portrait source (taller than wide)
    ///    gets the box turned upright (640x360 becomes 360x640), a landscape one a landscape box;
    ///    a square source keeps the box as it is;
    /// 2. the picture is fitted inside the box: the side that limits it takes the box's size,
    ///    the other is scaled in proportion and rounded to the nearest even number (halves up),
    ///    at least 2.
    ///
    /// A 1280x720 source gives 640x360 in a 640x360 box, 720x1280 gives 360x640, 640x480 gives
    /// 480x360. A source of unknown size gets the box.
    pub fn fit(&self, width: u32, height: u32, sample_aspect: (u32, u32)) -> (u32, u32) {
        let (sar_n, sar_d) = match sample_aspect {
            (n, d) if n > 0 && d > 0 => (u128::from(n), u128::from(d)),
            _ => (1, 1),
        };
        let (dw, dh) = (u128::from(width) * sar_n, u128::from(height) * sar_d);
        let (mut bw, mut bh) = (u128::from(self.width), u128::from(self.height));
        if dw == 0 || dh == 0 {
            return (self.width, self.height);
        }
        if (dh > dw && bw > bh) || (dw > dh && bh > bw) {
            std::mem::swap(&mut bw, &mut bh);
        }
        // Nearest even integer to num / den, halves up.
        let even = |num: u128, den: u128| (2 * ((num + den) / (2 * den))).max(2);
        let (w, h) = if dw * bh >= dh * bw {
            (bw, even(bw * dh, dw))
        } else {
            (even(bh * dw, dh), bh)
        };
        (
            u32::try_from(w).expect("at most the box"),
            u32::try_from(h).expect("at most the box"),
        )
    }

    /// Pixels in one output frame.
    pub fn pixels_per_frame(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// Pixels this profile outputs for `duration_s` seconds of video at `fps` (whole frames).
    pub fn output_pixels(&self, duration_s: f64, fps: f64) -> u64 {
        let frames = (duration_s * fps).round().max(0.0) as u64;
        self.pixels_per_frame() * frames
    }

    fn validate(&self) -> Result<(), LadderError> {
        let name_ok = (1..=32).contains(&self.name.len())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(LadderError::Name {
                name: self.name.clone(),
            });
        }
        let side_ok = |side: u32| (16..=8192).contains(&side) && side.is_multiple_of(2);
        if !side_ok(self.width) || !side_ok(self.height) {
            return Err(LadderError::Dimensions {
                name: self.name.clone(),
                width: self.width,
                height: self.height,
            });
        }
        if self.bitrate_kbps == 0 {
            return Err(LadderError::ZeroBitrate {
                name: self.name.clone(),
            });
        }
        Ok(())
    }
}

/// Checks every profile and that names are unique (they name the renditions).
pub fn validate_ladder(ladder: &[Profile]) -> Result<(), LadderError> {
    if ladder.is_empty() {
        return Err(LadderError::Empty);
    }
    for (i, profile) in ladder.iter().enumerate() {
        profile.validate()?;
        if ladder[..i].iter().any(|p| p.name == profile.name) {
            return Err(LadderError::DuplicateName {
                name: profile.name.clone(),
            });
        }
    }
    Ok(())
}

impl fmt::Display for Profile {
    /// The ladder-string form, which [`Profile::parse_ladder`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}x{}:{}k:{}",
            self.name, self.width, self.height, self.bitrate_kbps, self.codec
        )
    }
}

impl FromStr for Profile {
    type Err = LadderError;

    /// One `name:WIDTHxHEIGHT:BITRATE:codec` entry (not validated; see [`validate_ladder`]).
    fn from_str(entry: &str) -> Result<Self, LadderError> {
        let fields: Vec<&str> = entry.split(':').map(str::trim).collect();
        let [name, resolution, bitrate, codec] = fields[..] else {
            return Err(LadderError::Fields {
                entry: entry.to_owned(),
            });
        };
        let (width, height) =
            parse_resolution(resolution).ok_or_else(|| LadderError::Resolution {
                entry: entry.to_owned(),
                value: resolution.to_owned(),
            })?;
        let bitrate_kbps = parse_kbps(bitrate).ok_or_else(|| LadderError::Bitrate {
            entry: entry.to_owned(),
            value: bitrate.to_owned(),
        })?;
        let codec = codec.parse().map_err(|()| LadderError::Codec {
            entry: entry.to_owned(),
            value: codec.to_owned(),
        })?;
        Ok(Profile::new(name, width, height, bitrate_kbps, codec))
    }
}

fn parse_resolution(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.split_once(['x', 'X'])?;
    Some((w.parse().ok()?, h.parse().ok()?))
}

/// `800k` → 800, `1.5M` → 1500 (kbit/s).
fn parse_kbps(s: &str) -> Option<u32> {
    let (number, scale) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 1.0),
        (i, 'm' | 'M') => (&s[..i], 1000.0),
        _ => return None,
    };
    let kbps = number.parse::<f64>().ok()? * scale;
    (kbps.is_finite() && (0.0..=u32::MAX as f64).contains(&kbps)).then(|| kbps.round() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitrate_suffixes() {
        assert_eq!(parse_kbps("800k"), Some(800));
        assert_eq!(parse_kbps("1.5M"), Some(1500));
        assert_eq!(parse_kbps("800"), None);
        assert_eq!(parse_kbps("-1k"), None);
        assert_eq!(parse_kbps("k"), None);
    }

    #[test]
    fn renditions_fit_the_box_oriented_like_the_source() {
        let [p360, p240] = &default_ladder()[..] else {
            unreachable!()
        };
        assert_eq!(p360.fit(1280, 720, (1, 1)), (640, 360));
        assert_eq!(p240.fit(1280, 720, (1, 1)), (426, 240));
        assert_eq!(p360.fit(854, 480, (1, 1)), (640, 360));
        // Portrait: the box turns upright.
        assert_eq!(p360.fit(720, 1280, (1, 1)), (360, 640));
        assert_eq!(p240.fit(720, 1280, (1, 1)), (240, 426));
        assert_eq!(p360.fit(1080, 1920, (1, 1)), (360, 640));
        // Narrower or wider than the box: the limiting side takes the box's size.
        assert_eq!(p360.fit(640, 480, (1, 1)), (480, 360));
        assert_eq!(p360.fit(1920, 800, (1, 1)), (640, 266));
        assert_eq!(p360.fit(480, 640, (1, 1)), (360, 480));
        // Square: the box as it is, fitted.
        assert_eq!(p360.fit(1000, 1000, (1, 1)), (360, 360));
        // Anamorphic PAL 16:9 (720x576, SAR 64:45) displays at 1024x576.
        assert_eq!(p360.fit(720, 576, (64, 45)), (640, 360));
        // Extreme and unknown sizes stay within the box, even, at least 2.
        assert_eq!(p360.fit(8192, 16, (1, 1)), (640, 2));
        assert_eq!(p360.fit(0, 0, (1, 1)), (640, 360));
        for (w, h) in [(1, 1), (3, 7), (8191, 3), (123, 4567), (1366, 768)] {
            let (fw, fh) = p240.fit(w, h, (1, 1));
            assert!(fw % 2 == 0 && fh % 2 == 0 && fw >= 2 && fh >= 2, "{w}x{h}");
            assert!(fw.max(fh) <= 426 && fw.min(fh) <= 240, "{w}x{h}: {fw}x{fh}");
        }
    }

    #[test]
    fn display_round_trips() {
        let ladder = default_ladder();
        let text: Vec<String> = ladder.iter().map(Profile::to_string).collect();
        assert_eq!(Profile::parse_ladder(&text.join(",")).unwrap(), ladder);
    }
}
