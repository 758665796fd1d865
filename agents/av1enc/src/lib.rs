//! peerflow's in-process AV1 encoder.
//!
//! rav1e is generic over the pixel type, so its encoder is compiled in whichever crate calls it.
//! Keeping every call in this small, non-generic crate lets the workspace build it (and rav1e) at
//! `opt-level = 3` even in debug builds, where an unoptimised rav1e encodes about 50× slower.
//!
//! The API takes 8-bit I420 frames and returns an IVF file (AV1 temporal units with frame-index
//! timestamps) that ffmpeg can mux into MP4.

mod ivf;

use ivf::IvfWriter;
use rav1e::prelude::{
    ChromaSampling, Config, Context, EncoderConfig, EncoderStatus, Rational, SpeedSettings,
};

/// Errors from configuring or running the encoder.
#[derive(Debug, thiserror::Error)]
pub enum Av1EncError {
    /// rav1e rejected the settings.
    #[error("invalid AV1 encoder settings: {0}")]
    Config(#[from] rav1e::InvalidConfig),
    /// Settings that rav1e would accept but IVF cannot carry, or that make no sense.
    #[error("invalid AV1 encoder settings: {0}")]
    Settings(&'static str),
    /// A frame buffer of the wrong size for the configured resolution.
    #[error("frame is {got} bytes, expected {expected} (8-bit I420 at {width}x{height})")]
    FrameSize {
        got: usize,
        expected: usize,
        width: usize,
        height: usize,
    },
    /// rav1e failed while encoding.
    #[error("AV1 encoder failed: {0}")]
    Encode(EncoderStatus),
}

/// What to encode and how hard to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncoderSettings {
    pub width: usize,
    pub height: usize,
    /// Frame rate as a fraction, e.g. 30/1 or 30000/1001.
    pub fps_num: u32,
    pub fps_den: u32,
    /// Target bitrate; 0 encodes at rav1e's default constant quantizer.
    pub bitrate_kbps: u32,
    /// rav1e speed preset, 0 (slowest) to 10 (fastest).
    pub speed: u8,
    /// Number of tiles; tiles are what let rav1e use more than one core on a frame.
    pub tiles: usize,
    /// No frame reordering: each packet is one shown frame, at some cost in efficiency.
    pub low_latency: bool,
    /// Worker threads; 0 uses rayon's global pool.
    pub threads: usize,
    /// Longest run of frames between key frames.
    pub max_key_frame_interval: u64,
}

impl EncoderSettings {
    /// Fast, segment-friendly defaults for a `width`×`height` stream at `fps_num/fps_den`.
    pub fn new(width: usize, height: usize, fps_num: u32, fps_den: u32) -> Self {
        Self {
            width,
            height,
            fps_num,
            fps_den,
            bitrate_kbps: 0,
            speed: 10,
            tiles: 4,
            low_latency: true,
            threads: 0,
            max_key_frame_interval: 240,
        }
    }

    /// Bytes in one 8-bit I420 frame: a full-size luma plane and two half-size chroma planes.
    pub fn frame_len(&self) -> usize {
        let (cw, ch) = self.chroma_size();
        self.width * self.height + 2 * cw * ch
    }

    fn chroma_size(&self) -> (usize, usize) {
        (self.width.div_ceil(2), self.height.div_ceil(2))
    }

    fn to_config(&self) -> Result<Config, Av1EncError> {
        if self.fps_num == 0 || self.fps_den == 0 {
            return Err(Av1EncError::Settings("frame rate must be positive"));
        }
        if self.width > usize::from(u16::MAX) || self.height > usize::from(u16::MAX) {
            return Err(Av1EncError::Settings("IVF carries at most 65535x65535"));
        }
        let bitrate = i32::try_from(u64::from(self.bitrate_kbps) * 1000)
            .map_err(|_| Av1EncError::Settings("bitrate too high"))?;
        let enc = EncoderConfig {
            width: self.width,
            height: self.height,
            bit_depth: 8,
            chroma_sampling: ChromaSampling::Cs420,
            time_base: Rational::new(u64::from(self.fps_den), u64::from(self.fps_num)),
            bitrate,
            tiles: self.tiles,
            low_latency: self.low_latency,
            max_key_frame_interval: self.max_key_frame_interval,
            speed_settings: SpeedSettings::from_preset(self.speed),
            ..EncoderConfig::default()
        };
        let config = Config::new()
            .with_encoder_config(enc)
            .with_threads(self.threads);
        config.validate()?;
        Ok(config)
    }
}

/// An AV1 encoder for one stream: feed it frames, then take the IVF file.
pub struct Av1Encoder {
    ctx: Context<u8>,
    settings: EncoderSettings,
    ivf: IvfWriter,
}

impl std::fmt::Debug for Av1Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Av1Encoder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Av1Encoder {
    /// An encoder for `settings`; fails if rav1e rejects them.
    pub fn new(settings: EncoderSettings) -> Result<Self, Av1EncError> {
        let ctx = settings.to_config()?.new_context()?;
        // Both fit in u16: `to_config` checked.
        let ivf = IvfWriter::new(
            settings.width as u16,
            settings.height as u16,
            settings.fps_den,
            settings.fps_num,
        );
        Ok(Self { ctx, settings, ivf })
    }

    /// The settings this encoder was built with.
    pub fn settings(&self) -> &EncoderSettings {
        &self.settings
    }

    /// Encodes the next frame, given as 8-bit I420 (`settings().frame_len()` bytes).
    pub fn encode_frame(&mut self, i420: &[u8]) -> Result<(), Av1EncError> {
        let s = &self.settings;
        if i420.len() != s.frame_len() {
            return Err(Av1EncError::FrameSize {
                got: i420.len(),
                expected: s.frame_len(),
                width: s.width,
                height: s.height,
            });
        }
        let (cw, ch) = s.chroma_size();
        let (luma, chroma) = i420.split_at(s.width * s.height);
        let (u, v) = chroma.split_at(cw * ch);
        let mut frame = self.ctx.new_frame();
        frame.planes[0].copy_from_raw_u8(luma, s.width, 1);
        frame.planes[1].copy_from_raw_u8(u, cw, 1);
        frame.planes[2].copy_from_raw_u8(v, cw, 1);
        self.ctx.send_frame(frame).map_err(Av1EncError::Encode)?;
        self.drain()
    }

    /// Flushes the encoder and returns the IVF file with every frame sent.
    pub fn finish(mut self) -> Result<Vec<u8>, Av1EncError> {
        self.ctx.flush();
        self.drain()?;
        Ok(self.ivf.finish())
    }

    /// Moves every packet rav1e has ready into the IVF file.
    fn drain(&mut self) -> Result<(), Av1EncError> {
        loop {
            match self.ctx.receive_packet() {
                Ok(packet) => self.ivf.push(packet.input_frameno, &packet.data),
                Err(EncoderStatus::Encoded) => continue,
                Err(EncoderStatus::NeedMoreData | EncoderStatus::LimitReached) => return Ok(()),
                Err(status) => return Err(Av1EncError::Encode(status)),
            }
        }
    }
}
