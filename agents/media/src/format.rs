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

    pub fn mime_type(self) -> &'static str {
        match self {
            Container::MpegTs => "video/mp2t",
            Container::Mp4 => "video/mp4",
        }
    }
}
