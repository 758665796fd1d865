//! The byte stream of an exec's reply: frames of `kind (1 byte) ‖ length (4 bytes, big-endian) ‖
//! payload`. Kinds: [`STDOUT`] and [`STDERR`] carry output as it comes; the stream ends with one
//! [`EXIT`] (the exit code, 8 bytes big-endian, signed) or one [`ERROR`] (a UTF-8 message).

use bytes::{Buf, BufMut, Bytes, BytesMut};

pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const EXIT: u8 = 3;
pub const ERROR: u8 = 4;

/// Largest payload of one frame.
pub const MAX_FRAME: usize = 1 << 20;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Stdout(Bytes),
    Stderr(Bytes),
    Exit(i64),
    Error(String),
}

impl Frame {
    pub fn encode(&self) -> Bytes {
        let (kind, payload): (u8, Bytes) = match self {
            Frame::Stdout(b) => (STDOUT, b.clone()),
            Frame::Stderr(b) => (STDERR, b.clone()),
            Frame::Exit(code) => (EXIT, Bytes::copy_from_slice(&code.to_be_bytes())),
            Frame::Error(m) => (ERROR, Bytes::copy_from_slice(m.as_bytes())),
        };
        let mut out = BytesMut::with_capacity(5 + payload.len());
        out.put_u8(kind);
        out.put_u32(payload.len() as u32);
        out.put_slice(&payload);
        out.freeze()
    }
}

/// Why a stream of frames cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown frame kind {0}")]
    Kind(u8),
    #[error("frame of {0} bytes is over the limit")]
    TooLong(usize),
    #[error("malformed exit frame")]
    Exit,
}

/// Decodes frames from bytes as they arrive.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
}

impl Decoder {
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole frame, if one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let kind = self.buf[0];
        let len = u32::from_be_bytes(self.buf[1..5].try_into().expect("4 bytes")) as usize;
        if len > MAX_FRAME {
            return Err(FrameError::TooLong(len));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        self.buf.advance(5);
        let payload = self.buf.split_to(len).freeze();
        Ok(Some(match kind {
            STDOUT => Frame::Stdout(payload),
            STDERR => Frame::Stderr(payload),
            EXIT => Frame::Exit(i64::from_be_bytes(
                payload[..].try_into().map_err(|_| FrameError::Exit)?,
            )),
            ERROR => Frame::Error(String::from_utf8_lossy(&payload).into_owned()),
            k => return Err(FrameError::Kind(k)),
        }))
    }

    /// Bytes received that do not make a whole frame yet.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_split() {
        let frames = vec![
            Frame::Stdout(Bytes::from_static(b"hello\n")),
            Frame::Stderr(Bytes::from_static(b"")),
            Frame::Stderr(Bytes::from_static(b"warn")),
            Frame::Exit(-3),
        ];
        let wire: Vec<u8> = frames.iter().flat_map(|f| f.encode().to_vec()).collect();
        for step in [1, 2, 3, 7, wire.len()] {
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for chunk in wire.chunks(step) {
                d.push(chunk);
                while let Some(f) = d.next_frame().unwrap() {
                    got.push(f);
                }
            }
            assert_eq!(got, frames, "split every {step} bytes");
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn bad_frames_are_errors() {
        let mut d = Decoder::default();
        d.push(&[9, 0, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(FrameError::Kind(9)));
        let mut d = Decoder::default();
        d.push(&[1, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(d.next_frame(), Err(FrameError::TooLong(_))));
        let mut d = Decoder::default();
        d.push(&[3, 0, 0, 0, 2, 0, 1]);
        assert_eq!(d.next_frame(), Err(FrameError::Exit));
    }
}
