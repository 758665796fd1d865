//! Every request a buyer makes about a lease is signed by its key: the provider it is for, the
//! method, the path with its query, a hash of the body, an expiry and a random nonce (EIP-191
//! `personal_sign`, in
//! [`LEASE_AUTH_HEADER`]). The provider lets only the lease's buyer act on it, and takes each
//! nonce once while its signature is valid, so a captured request can be neither altered (the body
//! is signed: an exec's command, a close) nor replayed.

use alloy::primitives::{Address, B256, Bytes, keccak256};
use peerflow_protocol::Signature;
use peerflow_protocol::blobauth::RequestKey;
use serde::{Deserialize, Serialize};

/// Header carrying a JSON [`LeaseAuth`].
pub const LEASE_AUTH_HEADER: &str = "x-peerflow-lease-auth";

/// The furthest ahead of the provider's clock an expiry may be.
pub const MAX_VALIDITY_SECS: u64 = 300;

/// How long a signature made by [`LeaseKey::authorize`] is good for.
pub const DEFAULT_VALIDITY_SECS: u64 = 60;

/// A buyer's signature over one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseAuth {
    pub signer: Address,
    /// Unix seconds after which the signature is refused.
    pub expires: u64,
    /// Random; the provider takes each (signer, nonce) once.
    pub nonce: u64,
    /// 65-byte `r ‖ s ‖ v`.
    pub signature: Bytes,
}

/// Why a [`LeaseAuth`] is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the request is not signed (header {LEASE_AUTH_HEADER})")]
    Missing,
    #[error("the request authorization is not valid JSON")]
    Malformed,
    #[error("the request authorization expired")]
    Expired,
    #[error("the request authorization expires too far ahead")]
    TooLong,
    #[error("the request authorization is not signed by its signer")]
    BadSignature,
    #[error("the request was made before (its nonce is used)")]
    Replayed,
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Replayed => "replayed",
            _ => "unauthorized",
        }
    }
}

impl LeaseAuth {
    /// The EIP-191 digest signed for one request.
    pub fn digest(
        provider: Address,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        signer: Address,
        expires: u64,
        nonce: u64,
    ) -> B256 {
        let mut inner = Vec::with_capacity(128 + path_and_query.len());
        inner.extend_from_slice(b"peerflow.lease-request.v1");
        inner.extend_from_slice(provider.as_slice());
        for field in [method.as_bytes(), path_and_query.as_bytes()] {
            inner.extend_from_slice(&(field.len() as u64).to_be_bytes());
            inner.extend_from_slice(field);
        }
        inner.extend_from_slice(keccak256(body).as_slice());
        inner.extend_from_slice(signer.as_slice());
        inner.extend_from_slice(&expires.to_be_bytes());
        inner.extend_from_slice(&nonce.to_be_bytes());
        alloy::primitives::eip191_hash_message(keccak256(&inner))
    }

    pub fn parse(header: &[u8]) -> Result<Self, AuthError> {
        serde_json::from_slice(header).map_err(|_| AuthError::Malformed)
    }

    pub fn to_header(&self) -> String {
        serde_json::to_string(self).expect("an authorization serializes")
    }

    /// The signer, once the signature over this request checks out at `now` (the nonce is the
    /// caller's to use up).
    pub fn verify(
        &self,
        provider: Address,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        now: u64,
    ) -> Result<Address, AuthError> {
        if self.expires < now {
            return Err(AuthError::Expired);
        }
        if self.expires > now + MAX_VALIDITY_SECS {
            return Err(AuthError::TooLong);
        }
        let digest = Self::digest(
            provider,
            method,
            path_and_query,
            body,
            self.signer,
            self.expires,
            self.nonce,
        );
        let recovered = Signature::from_bytes(&self.signature)
            .and_then(|s| s.recover(digest))
            .map_err(|_| AuthError::BadSignature)?;
        if recovered == self.signer {
            Ok(recovered)
        } else {
            Err(AuthError::BadSignature)
        }
    }
}

/// A buyer's key (its `Debug` does not show the key).
#[derive(Debug, Clone)]
pub struct LeaseKey(RequestKey);

impl LeaseKey {
    pub fn new(secret: [u8; 32]) -> Result<Self, peerflow_protocol::SignatureError> {
        Ok(Self(RequestKey::new(secret)?))
    }

    pub fn address(&self) -> Address {
        self.0.address()
    }

    /// Signs a digest (a ticket's) with this key.
    pub fn sign_digest(&self, digest: B256) -> Signature {
        self.0.sign_digest(digest)
    }

    /// Signs one request to `provider`, valid for [`DEFAULT_VALIDITY_SECS`] from the local clock.
    pub fn authorize(
        &self,
        provider: Address,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> LeaseAuth {
        let expires = unix_now() + DEFAULT_VALIDITY_SECS;
        let nonce = u64::from_be_bytes(B256::random()[..8].try_into().expect("8 bytes"));
        let signer = self.address();
        let digest = LeaseAuth::digest(
            provider,
            method,
            path_and_query,
            body,
            signer,
            expires,
            nonce,
        );
        LeaseAuth {
            signer,
            expires,
            nonce,
            signature: self.sign_digest(digest).to_bytes().to_vec().into(),
        }
    }
}

pub use peerflow_protocol::blobauth::unix_now;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_covers_method_path_body_and_nonce() {
        let key = LeaseKey::new([7; 32]).unwrap();
        let p = Address::repeat_byte(9);
        let auth = key.authorize(p, "POST", "/v1/leases/a/exec", b"{\"cmd\":[\"ls\"]}");
        let now = unix_now();
        assert_eq!(
            auth.verify(p, "POST", "/v1/leases/a/exec", b"{\"cmd\":[\"ls\"]}", now),
            Ok(key.address())
        );
        assert_eq!(
            auth.verify(
                Address::repeat_byte(8),
                "POST",
                "/v1/leases/a/exec",
                b"{\"cmd\":[\"ls\"]}",
                now
            ),
            Err(AuthError::BadSignature),
            "made for another provider"
        );
        for (method, path, body) in [
            ("GET", "/v1/leases/a/exec", &b"{\"cmd\":[\"ls\"]}"[..]),
            ("POST", "/v1/leases/b/exec", &b"{\"cmd\":[\"ls\"]}"[..]),
            ("POST", "/v1/leases/a/exec", &b"{\"cmd\":[\"rm\"]}"[..]),
        ] {
            assert_eq!(
                auth.verify(p, method, path, body, now),
                Err(AuthError::BadSignature)
            );
        }
        let other_nonce = LeaseAuth {
            nonce: auth.nonce ^ 1,
            ..auth.clone()
        };
        assert_eq!(
            other_nonce.verify(p, "POST", "/v1/leases/a/exec", b"{\"cmd\":[\"ls\"]}", now),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            auth.verify(
                p,
                "POST",
                "/v1/leases/a/exec",
                b"{\"cmd\":[\"ls\"]}",
                auth.expires + 1
            ),
            Err(AuthError::Expired)
        );
        assert_eq!(LeaseAuth::parse(auth.to_header().as_bytes()).unwrap(), auth);
    }
}
