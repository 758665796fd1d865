//! Containers: the ones segments arrive in and the ones renditions leave in.

use std::fmt;

/// The container of an incoming segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputFormat {
    MpegTs,
    Mp4,
}

impl InputFormat {
    /// From a file extension (`ts`, `mp4`, any case, with or without the dot).
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.trim_start_matches('.').to_ascii_lowercase().as_str() {
            "ts" => Some(InputFormat::MpegTs),
            "mp4" => Some(InputFormat::Mp4),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            InputFormat::MpegTs => "ts",
            InputFormat::Mp4 => "mp4",
        }
    }

    /// The container `bytes` start with: MPEG-TS (a sync byte every 188 bytes) or MP4 (an ISO
    /// BMFF box such as `ftyp`, `styp` or `moof` first). Anything else, an HLS playlist or a
    /// concat list among them, is `None`.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        const BOXES: [&[u8; 4]; 9] = [
            b"ftyp", b"styp", b"moov", b"moof", b"mdat", b"free", b"skip", b"sidx", b"wide",
        ];
        let ts = bytes.first() == Some(&0x47)
            && (bytes.len() <= 188 || bytes[188] == 0x47)
            && (bytes.len() <= 376 || bytes[376] == 0x47);
        if ts {
            return Some(InputFormat::MpegTs);
        }
        let kind = bytes.get(4..8)?;
        BOXES
            .iter()
            .any(|b| b.as_slice() == kind)
            .then_some(InputFormat::Mp4)
    }

    /// The ffmpeg demuxer, forced so that a segment in the wrong container is rejected.
    pub(crate) fn demuxer(self) -> &'static str {
        match self {
            InputFormat::MpegTs => "mpegts",
            InputFormat::Mp4 => "mp4",
        }
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// The container of a rendition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Container {
    /// MPEG-TS, for H.264.
    MpegTs,
    /// Fragmented MP4 (moov, then moof/mdat pairs; timestamps in `tfdt`), for AV1.
    Mp4,
}

impl Container {
    pub fn extension(self) -> &'static str {
        match self {
            Container::MpegTs => "ts",
            Container::Mp4 => "mp4",
        }
    }

    /// The ffmpeg demuxer that reads this container.
    pub(crate) fn demuxer(self) -> &'static str {
        match self {
            Container::MpegTs => "mpegts",
            Container::Mp4 => "mp4",
        }
    }

    pub fn mime_type(self) -> &'static str {
        match self {
            Container::MpegTs => "video/mp2t",
            Container::Mp4 => "video/mp4",
        }
    }
}
