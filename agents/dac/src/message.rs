//! What nodes send each other, and how a message is signed.
//!
//! A message is JSON; its signature is a [`BlobAuth`] (EIP-191, the provider's chain key) over the
//! method `POST` and the path `/v1/dac/{job}/messages#{keccak256(body)}`, so it binds the body and
//! the job. The receiving provider checks that the signer is the provider holding node `from`.

use alloy_primitives::keccak256;
use peerflow_protocol::blobauth::{BlobAuth, RequestKey};
use serde::{Deserialize, Serialize};

/// Header carrying a message's [`BlobAuth`].
pub const AUTH_HEADER: &str = "x-peerflow-dac-auth";

/// Which step of an operation a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Flooding of per-component minima and maxima (`values` = minima ‖ maxima).
    Extremes,
    /// One averaging step (`values` = the sender's current vector).
    Average,
    /// Flooding of the lowest-index node's rounded result (`source`, `values`).
    Agree,
    /// A change of the dropped set, sent to every live node (no values).
    Notice,
}

/// One node's message to a neighbour for one round of one operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub from: u32,
    pub to: u32,
    /// The operation's sequence number (the k-th call of every node is operation k).
    pub op: u32,
    /// The sender's dropped set (bit i: node i dropped): the epoch the message belongs to.
    pub dropped: u64,
    pub phase: Phase,
    pub round: u32,
    #[serde(default)]
    pub values: Vec<f64>,
    /// For [`Phase::Agree`]: the node whose rounded result `values` is.
    #[serde(default)]
    pub source: u32,
}

/// The path a message for `job` is signed over, given its body.
pub fn signed_path(job: u64, body: &[u8]) -> String {
    format!("/v1/dac/{job}/messages#{}", keccak256(body))
}

/// The authorization header value for `body` sent to `job`.
pub fn authorize(key: &RequestKey, job: u64, body: &[u8]) -> String {
    key.authorize("POST", &signed_path(job, body)).to_header()
}

/// The signer of `body` for `job`, if `header` is a valid, unexpired signature of it.
pub fn signer(header: &[u8], job: u64, body: &[u8], now: u64) -> Option<alloy_primitives::Address> {
    BlobAuth::parse(header)
        .ok()?
        .verify("POST", &signed_path(job, body), now)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_binds_the_body_and_the_job() {
        let key = RequestKey::new([9; 32]).unwrap();
        let body = br#"{"from":1}"#;
        let header = authorize(&key, 4, body);
        let now = peerflow_protocol::blobauth::unix_now();
        assert_eq!(signer(header.as_bytes(), 4, body, now), Some(key.address()));
        assert_eq!(signer(header.as_bytes(), 5, body, now), None);
        assert_eq!(signer(header.as_bytes(), 4, br#"{"from":2}"#, now), None);
    }
}
