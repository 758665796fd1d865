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
    /// For [`Phase::Agree`]: node `source`'s own signature of its candidate
    /// ([`candidate_digest`]), so that no forwarder can put words in its mouth.
    #[serde(default)]
    pub source_signature: alloy_primitives::Bytes,
}

/// What node `source` signs for its rounded candidate of operation `op` in epoch `dropped`.
pub fn candidate_digest(
    job: u64,
    op: u32,
    dropped: u64,
    source: u32,
    values: &[f64],
) -> alloy_primitives::B256 {
    let mut bytes = Vec::with_capacity(40 + 8 * values.len());
    bytes.extend_from_slice(b"peerflow.dac.agree.v1");
    bytes.extend_from_slice(&job.to_be_bytes());
    bytes.extend_from_slice(&op.to_be_bytes());
    bytes.extend_from_slice(&dropped.to_be_bytes());
    bytes.extend_from_slice(&source.to_be_bytes());
    for v in values {
        bytes.extend_from_slice(&v.to_bits().to_be_bytes());
    }
    keccak256(bytes)
}

/// Whether `signature` is `signer`'s over `digest`.
pub fn signed_by(
    signature: &[u8],
    digest: alloy_primitives::B256,
    signer: alloy_primitives::Address,
) -> bool {
    peerflow_protocol::signature::Signature::from_bytes(signature)
        .and_then(|s| s.recover(digest))
        .is_ok_and(|a| a == signer)
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
