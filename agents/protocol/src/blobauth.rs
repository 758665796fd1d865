//! Signed requests to a compute provider's blob store and job logs: the requester signs (EIP-191
//! `personal_sign`, like [`crate::api::RequestAuth`]) the method, the path and an expiry, and
//! sends it in [`BLOB_AUTH_HEADER`] as JSON. The store then knows who uploads a blob and who asks
//! to read one, and answers 401 `unauthorized` without a valid signature or 403 `forbidden` to a
//! signer that may not read it.
//!
//! A signature is good for one method and path until its expiry (at most
//! [`MAX_VALIDITY_SECS`] ahead of the server's clock); a replay within that window gets the same
//! bytes the signer could read, and nothing else.

use alloy_primitives::{Address, B256, Bytes, keccak256};
use serde::{Deserialize, Serialize};

use crate::signature::Signature;

/// Header carrying a JSON [`BlobAuth`].
pub const BLOB_AUTH_HEADER: &str = "x-peerflow-blob-auth";

/// The furthest ahead of the server's clock an expiry may be.
pub const MAX_VALIDITY_SECS: u64 = 600;

/// How long a signature made by [`RequestKey::authorize`] is good for.
pub const DEFAULT_VALIDITY_SECS: u64 = 120;

/// A requester's signature over one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobAuth {
    pub signer: Address,
    /// Unix seconds after which the signature is refused.
    pub expires: u64,
    /// 65-byte `r ‖ s ‖ v` signature, hex.
    pub signature: Bytes,
}

/// Why a [`BlobAuth`] is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobAuthError {
    #[error("the request authorization is not valid JSON")]
    Malformed,
    #[error("the request authorization expired")]
    Expired,
    #[error("the request authorization expires too far ahead")]
    TooLong,
    #[error("the request authorization is not signed by its signer")]
    BadSignature,
}

impl BlobAuth {
    /// The EIP-191 digest signed for `method` on `path` by `signer` until `expires`.
    pub fn digest(method: &str, path: &str, signer: Address, expires: u64) -> B256 {
        let mut inner = Vec::with_capacity(64 + path.len());
        inner.extend_from_slice(b"peerflow.blob-request.v1");
        for field in [method.as_bytes(), path.as_bytes()] {
            inner.extend_from_slice(&(field.len() as u64).to_be_bytes());
            inner.extend_from_slice(field);
        }
        inner.extend_from_slice(signer.as_slice());
        inner.extend_from_slice(&expires.to_be_bytes());
        let mut prefixed = b"\x19Ethereum Signed Message:\n32".to_vec();
        prefixed.extend_from_slice(keccak256(&inner).as_slice());
        keccak256(&prefixed)
    }

    /// Parses the header's value.
    pub fn parse(header: &[u8]) -> Result<Self, BlobAuthError> {
        serde_json::from_slice(header).map_err(|_| BlobAuthError::Malformed)
    }

    /// The header's value.
    pub fn to_header(&self) -> String {
        serde_json::to_string(self).expect("an authorization serializes")
    }

    /// The signer, once the signature, the method, the path and the expiry check out at `now`.
    pub fn verify(&self, method: &str, path: &str, now: u64) -> Result<Address, BlobAuthError> {
        if self.expires < now {
            return Err(BlobAuthError::Expired);
        }
        if self.expires > now + MAX_VALIDITY_SECS {
            return Err(BlobAuthError::TooLong);
        }
        let digest = Self::digest(method, path, self.signer, self.expires);
        let recovered = Signature::from_bytes(&self.signature)
            .and_then(|s| s.recover(digest))
            .map_err(|_| BlobAuthError::BadSignature)?;
        if recovered == self.signer {
            Ok(recovered)
        } else {
            Err(BlobAuthError::BadSignature)
        }
    }
}

/// A key that signs blob requests. Its `Debug` does not show the key.
#[derive(Clone)]
pub struct RequestKey {
    secret: [u8; 32],
    address: Address,
}

impl std::fmt::Debug for RequestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestKey")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl RequestKey {
    pub fn new(secret: [u8; 32]) -> Result<Self, crate::SignatureError> {
        let address = crate::signature::address_of_secret(&secret)?;
        Ok(Self { secret, address })
    }

    pub fn address(&self) -> Address {
        self.address
    }

    /// Signs a digest of the caller's own scheme (a lease request, a ticket) with this key.
    pub fn sign_digest(&self, digest: B256) -> Signature {
        Signature::sign(&self.secret, digest).expect("a valid key signs")
    }

    /// Signs `method` on `path` until `expires` (unix seconds).
    pub fn sign(&self, method: &str, path: &str, expires: u64) -> BlobAuth {
        let digest = BlobAuth::digest(method, path, self.address, expires);
        let signature = Signature::sign(&self.secret, digest).expect("a valid key signs");
        BlobAuth {
            signer: self.address,
            expires,
            signature: signature.to_bytes().to_vec().into(),
        }
    }

    /// Signs `method` on `path` for [`DEFAULT_VALIDITY_SECS`] from the local clock.
    pub fn authorize(&self, method: &str, path: &str) -> BlobAuth {
        self.sign(method, path, unix_now() + DEFAULT_VALIDITY_SECS)
    }
}

/// Seconds since the Unix epoch, by the local clock.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_for_its_method_path_and_time_only() {
        let key = RequestKey::new([7; 32]).unwrap();
        let auth = key.sign("GET", "/v1/blobs/ab", 1_000);
        let back = BlobAuth::parse(auth.to_header().as_bytes()).unwrap();
        assert_eq!(back.verify("GET", "/v1/blobs/ab", 900), Ok(key.address()));
        assert_eq!(
            back.verify("PUT", "/v1/blobs/ab", 900),
            Err(BlobAuthError::BadSignature)
        );
        assert_eq!(
            back.verify("GET", "/v1/blobs/cd", 900),
            Err(BlobAuthError::BadSignature)
        );
        assert_eq!(
            back.verify("GET", "/v1/blobs/ab", 1_001),
            Err(BlobAuthError::Expired)
        );
        assert_eq!(
            back.verify("GET", "/v1/blobs/ab", 1),
            Err(BlobAuthError::TooLong)
        );
        // Claiming another signer does not verify.
        let forged = BlobAuth {
            signer: Address::repeat_byte(1),
            ..back.clone()
        };
        assert_eq!(
            forged.verify("GET", "/v1/blobs/ab", 900),
            Err(BlobAuthError::BadSignature)
        );
        assert_eq!(BlobAuth::parse(b"{"), Err(BlobAuthError::Malformed));
        assert!(!format!("{key:?}").contains("0707"));
    }
}
