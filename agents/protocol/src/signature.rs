//! Canonical 65-byte ECDSA signatures over ticket hashes, with libsecp256k1.
//!
//! The broker accepts exactly one encoding per signature: `v ∈ {27, 28}` and `s ≤ n/2` (no EIP-2098
//! compact form, no high-s twin). [`Signature::recover`] applies the same rules, so an orchestrator
//! never accepts a ticket the chain would refuse.

use alloy_primitives::{Address, B256, U256, keccak256};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, SecretKey};

/// Half the order of secp256k1: the largest `s` the broker accepts.
pub(crate) const HALF_N: U256 = U256::from_limbs([
    0xDFE92F46681B20A0,
    0x5D576E7357A4501D,
    0xFFFFFFFFFFFFFFFF,
    0x7FFFFFFFFFFFFFFF,
]);

/// Why a signature is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("v must be 27 or 28, got {0}")]
    InvalidV(u8),
    #[error("s is in the upper half of the curve order (malleable form)")]
    HighS,
    #[error("r or s is zero or out of range")]
    OutOfRange,
    #[error("no public key recovers from this signature")]
    Unrecoverable,
    #[error("signature must be 65 bytes, got {0}")]
    BadLength(usize),
    #[error("invalid secret key")]
    InvalidKey,
}

/// An ECDSA signature as the broker takes it: `r`, `s` and `v ∈ {27, 28}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    pub r: B256,
    pub s: B256,
    pub v: u8,
}

impl Signature {
    /// Signs a 32-byte digest (RFC 6979 nonce; libsecp256k1 always yields low `s`).
    pub fn sign(secret_key: &[u8; 32], digest: B256) -> Result<Self, SignatureError> {
        let key =
            SecretKey::from_secret_bytes(*secret_key).map_err(|_| SignatureError::InvalidKey)?;
        let sig =
            RecoverableSignature::sign_ecdsa_recoverable(Message::from_digest(digest.0), &key);
        let (id, compact) = sig.serialize_compact();
        Ok(Self {
            r: B256::from_slice(&compact[..32]),
            s: B256::from_slice(&compact[32..]),
            v: 27 + id.to_u8(),
        })
    }

    /// Parses the 65-byte `r ‖ s ‖ v` form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignatureError> {
        if bytes.len() != 65 {
            return Err(SignatureError::BadLength(bytes.len()));
        }
        Ok(Self {
            r: B256::from_slice(&bytes[..32]),
            s: B256::from_slice(&bytes[32..64]),
            v: bytes[64],
        })
    }

    /// The 65-byte `r ‖ s ‖ v` form.
    pub fn to_bytes(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[..32].copy_from_slice(self.r.as_slice());
        out[32..64].copy_from_slice(self.s.as_slice());
        out[64] = self.v;
        out
    }

    /// Recovers the signer's address under the broker's canonical-encoding rules.
    pub fn recover(&self, digest: B256) -> Result<Address, SignatureError> {
        let id = match self.v {
            27 => RecoveryId::Zero,
            28 => RecoveryId::One,
            v => return Err(SignatureError::InvalidV(v)),
        };
        if U256::from_be_bytes(self.s.0) > HALF_N {
            return Err(SignatureError::HighS);
        }
        let mut compact = [0u8; 64];
        compact[..32].copy_from_slice(self.r.as_slice());
        compact[32..].copy_from_slice(self.s.as_slice());
        let sig = RecoverableSignature::from_compact(&compact, id)
            .map_err(|_| SignatureError::OutOfRange)?;
        let key = sig
            .recover_ecdsa(Message::from_digest(digest.0))
            .map_err(|_| SignatureError::Unrecoverable)?;
        Ok(address_of(&key))
    }
}

/// The Ethereum address of a secret key.
pub fn address_of_secret(secret_key: &[u8; 32]) -> Result<Address, SignatureError> {
    let key = SecretKey::from_secret_bytes(*secret_key).map_err(|_| SignatureError::InvalidKey)?;
    Ok(address_of(&PublicKey::from_secret_key(&key)))
}

fn address_of(key: &PublicKey) -> Address {
    let uncompressed = key.serialize_uncompressed();
    Address::from_slice(&keccak256(&uncompressed[1..])[12..])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// secp256k1's order n.
    const N: U256 = U256::from_limbs([
        0xBFD25E8CD0364141,
        0xBAAEDCE6AF48A03B,
        0xFFFFFFFFFFFFFFFE,
        0xFFFFFFFFFFFFFFFF,
    ]);

    fn key(byte: u8) -> [u8; 32] {
        [byte; 32]
    }

    #[test]
    fn half_n_is_half_the_order() {
        assert_eq!(HALF_N, N / U256::from(2));
    }

    #[test]
    fn sign_then_recover_gives_the_signer() {
        let digest = keccak256(b"ticket");
        let sig = Signature::sign(&key(1), digest).unwrap();
        assert_eq!(
            sig.recover(digest).unwrap(),
            address_of_secret(&key(1)).unwrap()
        );
        assert_eq!(Signature::from_bytes(&sig.to_bytes()).unwrap(), sig);
    }

    #[test]
    fn recover_rejects_the_high_s_twin_and_bad_v() {
        let digest = keccak256(b"ticket");
        let sig = Signature::sign(&key(2), digest).unwrap();
        let twin = Signature {
            s: B256::from(N - U256::from_be_bytes(sig.s.0)),
            v: if sig.v == 27 { 28 } else { 27 },
            ..sig
        };
        assert_eq!(twin.recover(digest), Err(SignatureError::HighS));
        assert_eq!(
            Signature {
                v: sig.v - 27,
                ..sig
            }
            .recover(digest),
            Err(SignatureError::InvalidV(sig.v - 27))
        );
        assert_eq!(
            Signature::from_bytes(&[0u8; 64]),
            Err(SignatureError::BadLength(64))
        );
    }
}
