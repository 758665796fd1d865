//! The transcoder interface: one segment in, one rendition per ladder profile out.

use crate::MediaError;
use crate::format::{Container, InputFormat};
use crate::profile::{LadderError, Profile, VideoCodec, validate_ladder};

/// One output of a transcode: the segment re-encoded for one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// The profile's name, e.g. `360p`.
    pub profile: String,
    pub container: Container,
    pub bytes: Vec<u8>,
}

/// Something that turns a segment into renditions. Blocking: async callers use `spawn_blocking`.
pub trait Transcoder: Send + Sync {
    /// Transcodes `input` (a whole segment in `format`) into one rendition per profile, in
    /// ladder order. An input that does not decode is [`MediaError::BadSegment`].
    fn transcode(
        &self,
        input: &[u8],
        format: InputFormat,
        ladder: &[Profile],
    ) -> Result<Vec<Rendition>, MediaError>;

    /// A short name for logs and capability adverts.
    fn name(&self) -> &str;
}

/// Validates `ladder` and checks that `transcoder` can encode each profile's codec.
pub(crate) fn check_ladder(
    ladder: &[Profile],
    transcoder: &str,
    supports: impl Fn(VideoCodec) -> bool,
) -> Result<(), LadderError> {
    validate_ladder(ladder)?;
    match ladder.iter().find(|p| !supports(p.codec)) {
        Some(p) => Err(LadderError::Unsupported {
            name: p.name.clone(),
            codec: p.codec,
            transcoder: transcoder.to_owned(),
        }),
        None => Ok(()),
    }
}
