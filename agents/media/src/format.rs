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

    /// Whether `bytes` are framed as this container throughout, without reading the media: an
    /// MPEG-TS file is whole 188-byte packets, each starting with the sync byte; an MP4 file is a
    /// chain of boxes that ends exactly at the end, starting with `ftyp`. What a transcoder checks
    /// of its own output before it is signed and charged for (an empty, cut or garbled file).
    pub fn frames(self, bytes: &[u8]) -> Result<(), String> {
        match self {
            Container::MpegTs => {
                if bytes.is_empty() || !bytes.len().is_multiple_of(188) {
                    return Err(format!("{} bytes are not whole TS packets", bytes.len()));
                }
                match bytes.chunks(188).position(|p| p[0] != 0x47) {
                    Some(i) => Err(format!("TS packet {i} has no sync byte")),
                    None => Ok(()),
                }
            }
            Container::Mp4 => {
                if bytes.get(4..8) != Some(b"ftyp".as_slice()) {
                    return Err("the file does not start with an ftyp box".into());
                }
                let mut at = 0usize;
                while at < bytes.len() {
                    let size = match bytes.get(at..at + 8) {
                        Some(h) => u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize,
                        None => return Err(format!("a box header is cut at byte {at}")),
                    };
                    let size = match size {
                        // A 64-bit size follows the type.
                        1 => match bytes.get(at + 8..at + 16) {
                            Some(l) => {
                                usize::try_from(u64::from_be_bytes(l.try_into().expect("8 bytes")))
                                    .unwrap_or(usize::MAX)
                            }
                            None => return Err(format!("a box size is cut at byte {at}")),
                        },
                        // The last box, to the end of the file.
                        0 => bytes.len() - at,
                        n => n,
                    };
                    if size < 8 || size > bytes.len() - at {
                        return Err(format!("a box at byte {at} claims {size} bytes"));
                    }
                    at += size;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], body: usize) -> Vec<u8> {
        let mut b = ((8 + body) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.resize(8 + body, 0);
        b
    }

    #[test]
    fn framing_is_whole_ts_packets_or_a_chain_of_boxes_from_ftyp_to_the_end() {
        let mut ts = vec![0u8; 188 * 3];
        for p in ts.chunks_mut(188) {
            p[0] = 0x47;
        }
        assert_eq!(Container::MpegTs.frames(&ts), Ok(()));
        assert!(Container::MpegTs.frames(&[]).is_err(), "empty");
        assert!(Container::MpegTs.frames(&ts[..500]).is_err(), "cut");
        ts[188 * 2] = 0;
        assert!(Container::MpegTs.frames(&ts).is_err(), "lost sync");

        let mp4 = [
            mp4_box(b"ftyp", 16),
            mp4_box(b"moov", 40),
            mp4_box(b"mdat", 100),
        ]
        .concat();
        assert_eq!(Container::Mp4.frames(&mp4), Ok(()));
        assert!(Container::Mp4.frames(&mp4[..mp4.len() - 1]).is_err(), "cut");
        assert!(
            Container::Mp4.frames(&mp4[..mp4.len() - 100]).is_err(),
            "cut box"
        );
        assert!(Container::Mp4.frames(&mp4[24..]).is_err(), "no ftyp first");
        assert!(Container::Mp4.frames(&[]).is_err(), "empty");
        // A last box of size 0 runs to the end of the file.
        let mut open_ended = mp4.clone();
        open_ended[24 + 48..24 + 48 + 4].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(Container::Mp4.frames(&open_ended), Ok(()));
        // A box claiming less than its header.
        let mut tiny = mp4.clone();
        tiny[24..28].copy_from_slice(&4u32.to_be_bytes());
        assert!(Container::Mp4.frames(&tiny).is_err());
    }
}
