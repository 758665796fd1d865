//! Paid playback: what the HLS handler asks before it serves a segment of a paid stream.
//!
//! A stream is paid when the stream key it was pushed with has a price per minute
//! ([`crate::access::KeySettings::price_per_minute`]). The broadcaster itself knows nothing of
//! tickets: whoever implements [`ViewerGate`] (the `peerflow-paywall` crate) decides whether the
//! viewer named by the request's `X-Peerflow-Viewer` header (or `?viewer=` query) has paid enough,
//! and charges the segment's duration to it. Without a gate, paid streams are served to nobody.

use std::future::Future;
use std::pin::Pin;

use alloy::primitives::U256;

use crate::error::ApiError;

/// The header (and query parameter, `?viewer=`) that names a viewer's paid session.
pub const VIEWER_HEADER: &str = "x-peerflow-viewer";

/// One segment request of a paid stream.
#[derive(Debug, Clone, Copy)]
pub struct SegmentRequest<'a> {
    pub stream: &'a str,
    /// Token wei per minute of video.
    pub price_per_minute: U256,
    /// The session token the viewer sent, if any.
    pub viewer: Option<&'a str>,
    /// The segment's sequence number: renditions of one `seq` are one stretch of time.
    pub seq: u64,
    pub duration_ms: u64,
}

/// A boxed future, as the gate's method returns.
pub type GateFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ApiError>> + Send + 'a>>;

/// Admits a viewer to a segment of a paid stream, charging it, or refuses with an [`ApiError`]
/// (402 and a code the player understands).
pub trait ViewerGate: Send + Sync {
    fn admit<'a>(&'a self, request: SegmentRequest<'a>) -> GateFuture<'a>;
}

/// Serde for token amounts as decimal strings (`"1000000000000000000"`), the form a browser's
/// `BigInt` reads; `0x…` hex is accepted on input too.
pub mod decimal {
    use alloy::primitives::U256;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &U256, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<U256>()
            .map_err(|e| serde::de::Error::custom(format!("{text:?} is not an amount: {e}")))
    }
}
