//! Renditions a dishonest orchestrator could return, for tests and benchmarks of verification
//! ([`crate::verify`]): one [`Cheat`] per fault the broadcaster must catch. Each is made the way
//! a cheater would, with the honest rendition's timestamps, container and codec, so it fails only
//! the check it targets (black frames are padded to the paid bitrate, so only the quality check
//! can catch them).

use std::str::FromStr;

use crate::ffargs::{self, os_args};
use crate::format::InputFormat;
use crate::profile::{Profile, VideoCodec};
use crate::tool::{self, Tool};
use crate::{Container, MediaError};

/// One way of cheating on a rendition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cheat {
    /// Black pictures at the paid bitrate (CBR with filler), timing and audio intact.
    BlackFrames,
    /// Encoded at two thirds of the profile's size.
    WrongResolution,
    /// Another segment's rendition (the previous one): stale or reordered.
    Stale,
    /// The honest rendition cut off at 60 % of its bytes.
    Truncated,
    /// Encoded at a quarter of the bitrate paid for.
    LowBitrate,
    /// The honest rendition without its audio.
    AudioDropped,
}

impl Cheat {
    pub const ALL: [Cheat; 6] = [
        Cheat::BlackFrames,
        Cheat::WrongResolution,
        Cheat::Stale,
        Cheat::Truncated,
        Cheat::LowBitrate,
        Cheat::AudioDropped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cheat::BlackFrames => "black-frames",
            Cheat::WrongResolution => "wrong-resolution",
            Cheat::Stale => "stale",
            Cheat::Truncated => "truncated",
            Cheat::LowBitrate => "low-bitrate",
            Cheat::AudioDropped => "audio-dropped",
        }
    }

    /// The fault ([`crate::verify::Fault::name`]) the checks report for this cheat: the first
    /// check it fails (a rendition cut inside a frame fails to decode before its frames are
    /// counted).
    pub fn caught_as(self) -> &'static str {
        match self {
            Cheat::BlackFrames => "low_quality",
            Cheat::WrongResolution => "wrong_resolution",
            Cheat::Stale => "stale_segment",
            Cheat::Truncated => "undecodable",
            Cheat::LowBitrate => "low_bitrate",
            Cheat::AudioDropped => "audio_missing",
        }
    }

    /// Whether a finding named `fault` catches this cheat: its [`Cheat::caught_as`], or, for a
    /// rendition cut short, any finding that it is short (`undecodable`, `frame_count`,
    /// `duration`: one fault, see [`crate::verify::Fault::upholds`]). Which one a cut rendition
    /// shows depends on where in a frame the encoder's packets put the cut: the honest encode it is
    /// cut from is not byte-identical from one run to the next under load.
    pub fn is_caught_by(self, fault: &str) -> bool {
        fault == self.caught_as()
            || (self == Cheat::Truncated && ["frame_count", "duration"].contains(&fault))
    }

    /// Makes the cheating rendition of `profile` for `source` (in `format`), from the honest
    /// rendition `honest` of this segment and `previous`, the honest rendition of another
    /// segment (used by [`Cheat::Stale`]).
    pub fn apply(
        self,
        source: &[u8],
        format: InputFormat,
        profile: &Profile,
        honest: &[u8],
        previous: &[u8],
    ) -> Result<Vec<u8>, MediaError> {
        match self {
            Cheat::Stale => Ok(previous.to_vec()),
            Cheat::Truncated => Ok(truncate(honest)),
            Cheat::AudioDropped => remux_without_audio(honest, profile),
            Cheat::BlackFrames => encode(source, format, profile, Variant::Black),
            Cheat::WrongResolution => encode(source, format, profile, Variant::Smaller),
            Cheat::LowBitrate => encode(source, format, profile, Variant::Starved),
        }
    }
}

impl FromStr for Cheat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Cheat::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown cheat {s:?}"))
    }
}

/// The honest rendition cut off, as a dropped connection would cut it: at an MPEG-TS packet
/// boundary inside the first video frame (of at least three packets) that starts after 60 % of
/// the packets, two packets into it, so the last frame is always incomplete and the cut is a
/// decoding error, whatever the encoder made. Other containers (or a TS without such a frame)
/// are cut at 60 % of their bytes.
fn truncate(honest: &[u8]) -> Vec<u8> {
    const TS: usize = 188;
    let fallback = || honest[..(honest.len() * 6 / 10).max(1).min(honest.len())].to_vec();
    if InputFormat::sniff(honest) != Some(InputFormat::MpegTs) || !honest.len().is_multiple_of(TS) {
        return fallback();
    }
    let packets: Vec<&[u8]> = honest.chunks(TS).collect();
    let pid = |p: &[u8]| (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
    let starts_unit = |p: &[u8]| p[1] & 0x40 != 0;
    // The payload of a packet, after its adaptation field.
    fn payload(p: &[u8]) -> Option<&[u8]> {
        match (p[3] >> 4) & 0x3 {
            0b01 => Some(&p[4..]),
            0b11 => p.get(5 + usize::from(p[4])..),
            _ => None,
        }
    }
    // The video PID: its units start with a PES header of a video stream id (0xE0 to 0xEF).
    let Some(video) = packets.iter().find_map(|p| {
        let body = payload(p)?;
        (starts_unit(p) && body.len() > 3 && body[..3] == [0, 0, 1] && body[3] & 0xf0 == 0xe0)
            .then(|| pid(p))
    }) else {
        return fallback();
    };
    let video_packets: Vec<usize> = (0..packets.len())
        .filter(|&i| pid(packets[i]) == video)
        .collect();
    let from = packets.len() * 6 / 10;
    for (k, &i) in video_packets.iter().enumerate() {
        if i < from || !starts_unit(packets[i]) {
            continue;
        }
        let frame_len = video_packets[k + 1..]
            .iter()
            .take_while(|&&j| !starts_unit(packets[j]))
            .count()
            + 1;
        if frame_len >= 3 {
            return honest[..(video_packets[k + 1] + 1) * TS].to_vec();
        }
    }
    fallback()
}

#[derive(Clone, Copy)]
enum Variant {
    Black,
    Smaller,
    Starved,
}

/// One H.264 rendition of `source` the way the honest transcoder makes it (source timestamps,
/// audio copied, MPEG-TS), but altered by `variant`.
fn encode(
    source: &[u8],
    format: InputFormat,
    profile: &Profile,
    variant: Variant,
) -> Result<Vec<u8>, MediaError> {
    if profile.codec != VideoCodec::H264 {
        return Err(MediaError::InvalidArgument(format!(
            "cheats are made for H.264 profiles, not {}",
            profile.codec
        )));
    }
    let dir = tempfile::tempdir().map_err(|e| MediaError::io("creating a work dir", e))?;
    let (input, output) = (dir.path().join("in"), dir.path().join("out.ts"));
    std::fs::write(&input, source).map_err(|e| MediaError::io("writing the source", e))?;
    let summary = crate::probe::summarize(&input, format)?;
    let (mut width, mut height) = profile.fit(summary.width, summary.height, summary.sample_aspect);
    let mut kbps = profile.bitrate_kbps;
    let mut filter = String::new();
    match variant {
        Variant::Black => filter.push_str("lutyuv=y=16:u=128:v=128,"),
        Variant::Smaller => (width, height) = (width * 2 / 3 / 2 * 2, height * 2 / 3 / 2 * 2),
        Variant::Starved => kbps /= 4,
    }
    filter.push_str(&format!("scale={width}:{height},setsar=1,format=yuv420p"));
    let rate = format!("{kbps}k");
    let mut args = ffargs::common();
    args.push("-copyts".into());
    args.extend(tool::input_args(format.demuxer()));
    args.push("-i".into());
    args.push(input.into());
    args.extend(os_args(&[
        "-map", "0:v:0", "-map", "0:a:0?", "-vf", &filter, "-c:v", "libx264", "-preset",
        "veryfast", "-b:v", &rate, "-maxrate", &rate, "-bufsize", &rate,
    ]));
    if matches!(variant, Variant::Black) {
        // Filler up to the paid bitrate: a cheater hiding from the bitrate check.
        args.extend(os_args(&[
            "-minrate",
            &rate,
            "-x264-params",
            "nal-hrd=cbr:filler=1",
        ]));
    }
    args.extend(os_args(&["-c:a", "copy", "-muxdelay", "0", "-f", "mpegts"]));
    args.push(output.clone().into());
    tool::run(Tool::Ffmpeg, args)?.check(Tool::Ffmpeg)?;
    std::fs::read(&output).map_err(|e| MediaError::io("reading the cheat", e))
}

fn remux_without_audio(rendition: &[u8], profile: &Profile) -> Result<Vec<u8>, MediaError> {
    let container = profile.codec.container();
    let dir = tempfile::tempdir().map_err(|e| MediaError::io("creating a work dir", e))?;
    let (input, output) = (
        dir.path().join(format!("in.{}", container.extension())),
        dir.path().join(format!("out.{}", container.extension())),
    );
    std::fs::write(&input, rendition).map_err(|e| MediaError::io("writing the rendition", e))?;
    let mut args = ffargs::common();
    args.push("-copyts".into());
    args.extend(tool::input_args(container.demuxer()));
    args.push("-i".into());
    args.push(input.into());
    args.extend(os_args(&["-map", "0:v:0", "-c", "copy", "-an"]));
    match container {
        Container::MpegTs => args.extend(os_args(&["-muxdelay", "0", "-f", "mpegts"])),
        Container::Mp4 => args.extend(os_args(&["-movflags", ffargs::FMP4_MOVFLAGS, "-f", "mp4"])),
    }
    args.push(output.clone().into());
    tool::run(Tool::Ffmpeg, args)?.check(Tool::Ffmpeg)?;
    std::fs::read(&output).map_err(|e| MediaError::io("reading the remux", e))
}
