//! IVF, the minimal container ffmpeg reads AV1 from: a 32-byte file header, then one 12-byte header
//! (size, timestamp) per frame.

const FILE_HEADER_LEN: usize = 32;
const FRAME_COUNT_OFFSET: usize = 24;

/// Builds an IVF file in memory.
#[derive(Debug)]
pub(crate) struct IvfWriter {
    bytes: Vec<u8>,
    frames: u32,
}

impl IvfWriter {
    /// Starts a file for `width`×`height` AV1 with timestamps in units of `timebase_num/timebase_den`
    /// seconds.
    pub(crate) fn new(width: u16, height: u16, timebase_num: u32, timebase_den: u32) -> Self {
        let mut bytes = Vec::with_capacity(FILE_HEADER_LEN);
        bytes.extend_from_slice(b"DKIF");
        bytes.extend_from_slice(&0u16.to_le_bytes()); // version
        bytes.extend_from_slice(&(FILE_HEADER_LEN as u16).to_le_bytes());
        bytes.extend_from_slice(b"AV01");
        bytes.extend_from_slice(&width.to_le_bytes());
        bytes.extend_from_slice(&height.to_le_bytes());
        // IVF stores the rate (denominator) before the scale (numerator).
        bytes.extend_from_slice(&timebase_den.to_le_bytes());
        bytes.extend_from_slice(&timebase_num.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes()); // frame count, patched by `finish`
        bytes.extend_from_slice(&0u32.to_le_bytes()); // unused
        Self { bytes, frames: 0 }
    }

    /// Appends one temporal unit shown at `pts` (in timebase units).
    pub(crate) fn push(&mut self, pts: u64, data: &[u8]) {
        let len = u32::try_from(data.len()).expect("an AV1 temporal unit is far below 4 GiB");
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(&pts.to_le_bytes());
        self.bytes.extend_from_slice(data);
        self.frames += 1;
    }

    /// The finished file, its frame count filled in.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.bytes[FRAME_COUNT_OFFSET..FRAME_COUNT_OFFSET + 4]
            .copy_from_slice(&self.frames.to_le_bytes());
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_frames_follow_the_ivf_layout() {
        let mut ivf = IvfWriter::new(640, 360, 1, 30);
        ivf.push(0, &[1, 2, 3]);
        ivf.push(1, &[4]);
        let bytes = ivf.finish();
        assert_eq!(&bytes[0..4], b"DKIF");
        assert_eq!(&bytes[8..12], b"AV01");
        assert_eq!(u16::from_le_bytes([bytes[12], bytes[13]]), 640);
        assert_eq!(u16::from_le_bytes([bytes[14], bytes[15]]), 360);
        assert_eq!(u32::from_le_bytes(bytes[16..20].try_into().unwrap()), 30);
        assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 1);
        assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 2);
        assert_eq!(bytes.len(), FILE_HEADER_LEN + 12 + 3 + 12 + 1);
        assert_eq!(u32::from_le_bytes(bytes[32..36].try_into().unwrap()), 3);
        assert_eq!(u32::from_le_bytes(bytes[47..51].try_into().unwrap()), 1);
        assert_eq!(u64::from_le_bytes(bytes[51..59].try_into().unwrap()), 1);
    }
}
