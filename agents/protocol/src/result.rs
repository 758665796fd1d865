//! Signed segment results: the orchestrator's EIP-712 signature over what it was given (the
//! segment's hash), what it was asked for (the profiles) and what it answered (each rendition's
//! hash), so that a wrong or tampered rendition is provable to anyone, on-chain included
//! (`contracts/libraries/SegmentResultHash.sol` computes the same digest).
//!
//! The signature travels in the [`RESULT_SIGNATURE_HEADER`] of a `POST /v1/segment` reply as the
//! 65-byte `r ‖ s ‖ v` form in hex. The domain binds it to one chain and the Staking contract, where
//! faults are slashed.

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::{Eip712Domain, SolStruct, eip712_domain, sol};
use serde::{Deserialize, Serialize};

use crate::api::{ProfileSpec, SegmentRequest};
use crate::signature::{Signature, SignatureError, address_of_secret};

sol! {
    /// One rendition as asked for: the EIP-712 type `Profile`.
    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct Profile {
        string name;
        uint32 width;
        uint32 height;
        uint32 bitrateKbps;
        string codec;
    }

    /// What an orchestrator signs for one segment: the EIP-712 type `SegmentResult`.
    /// `renditionHashes[i]` is the keccak256 of the rendition of `profiles[i]`.
    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct SegmentResult {
        address orchestrator;
        address broadcaster;
        bytes32 streamHash;
        uint256 seq;
        bytes32 inputHash;
        Profile[] profiles;
        bytes32[] renditionHashes;
    }
}

/// Reply header carrying the orchestrator's 65-byte `r ‖ s ‖ v` signature (hex) over the
/// [`SegmentResult`] of the reply.
pub const RESULT_SIGNATURE_HEADER: &str = "x-peerflow-result-signature";
/// The EIP-712 domain name of segment results.
pub const DOMAIN_NAME: &str = "peerflow SegmentResult";
/// See [`DOMAIN_NAME`].
pub const DOMAIN_VERSION: &str = "1";

/// Where a segment result is valid: one chain, one Staking deployment (where faults are slashed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultDomain {
    pub chain_id: u64,
    pub staking: Address,
}

impl ResultDomain {
    /// The EIP-712 domain `{name, version, chainId, verifyingContract}`.
    pub fn eip712(&self) -> Eip712Domain {
        eip712_domain! {
            name: DOMAIN_NAME,
            version: DOMAIN_VERSION,
            chain_id: self.chain_id,
            verifying_contract: self.staking,
        }
    }
}

/// Why a signed result is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResultError {
    #[error("reply carries no result signature")]
    Missing,
    #[error("result signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("result signed by {signer}, expected {expected}")]
    WrongSigner { signer: Address, expected: Address },
    #[error("rendition {0} was not asked for, or came twice")]
    UnexpectedRendition(String),
    #[error("rendition {0} is missing")]
    MissingRendition(String),
}

impl From<&ProfileSpec> for Profile {
    fn from(p: &ProfileSpec) -> Self {
        Self {
            name: p.name.clone(),
            width: p.width,
            height: p.height,
            bitrateKbps: p.bitrate_kbps,
            codec: p.codec.clone(),
        }
    }
}

impl SegmentResult {
    /// The result of `request` from `orchestrator` to `broadcaster`: `segment` is the input as
    /// sent, `renditions` the output of each of `request.profiles`, in the same order.
    pub fn new(
        orchestrator: Address,
        broadcaster: Address,
        request: &SegmentRequest,
        segment: &[u8],
        renditions: &[&[u8]],
    ) -> Self {
        Self {
            orchestrator,
            broadcaster,
            streamHash: keccak256(request.stream.as_bytes()),
            seq: U256::from(request.seq),
            inputHash: keccak256(segment),
            profiles: request.profiles.iter().map(Profile::from).collect(),
            renditionHashes: renditions.iter().map(keccak256).collect(),
        }
    }

    /// Like [`SegmentResult::new`], with the renditions named: each name must be one profile of
    /// `request`, every profile must be answered once. Returns the renditions' indices in
    /// `named` in ladder order beside the result.
    pub fn from_named<'a>(
        orchestrator: Address,
        broadcaster: Address,
        request: &SegmentRequest,
        segment: &[u8],
        named: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<(Self, Vec<usize>), ResultError> {
        let mut slots: Vec<Option<(usize, &[u8])>> = vec![None; request.profiles.len()];
        for (i, (name, bytes)) in named.into_iter().enumerate() {
            let slot = request
                .profiles
                .iter()
                .position(|p| p.name == name)
                .filter(|&k| slots[k].is_none())
                .ok_or_else(|| ResultError::UnexpectedRendition(name.to_string()))?;
            slots[slot] = Some((i, bytes));
        }
        let mut order = Vec::with_capacity(slots.len());
        let mut bytes = Vec::with_capacity(slots.len());
        for (slot, profile) in slots.into_iter().zip(&request.profiles) {
            let (i, b) = slot.ok_or_else(|| ResultError::MissingRendition(profile.name.clone()))?;
            order.push(i);
            bytes.push(b);
        }
        Ok((
            Self::new(orchestrator, broadcaster, request, segment, &bytes),
            order,
        ))
    }

    /// The EIP-712 digest the orchestrator signs (`SegmentResultHash.digest` on-chain).
    pub fn digest(&self, domain: &ResultDomain) -> B256 {
        self.eip712_signing_hash(&domain.eip712())
    }

    /// Signs the digest with the orchestrator's key.
    pub fn sign(
        &self,
        domain: &ResultDomain,
        secret_key: &[u8; 32],
    ) -> Result<Signature, SignatureError> {
        Signature::sign(secret_key, self.digest(domain))
    }

    /// Checks that `signature` is this result's, made by `self.orchestrator` or by `hot_key`, the
    /// key it named to sign for it (`Staking.redeemerOf`; fault claims accept both).
    pub fn verify(
        &self,
        domain: &ResultDomain,
        signature: &Signature,
        hot_key: Option<Address>,
    ) -> Result<(), ResultError> {
        let signer = signature.recover(self.digest(domain))?;
        if signer != self.orchestrator && Some(signer) != hot_key.filter(|k| !k.is_zero()) {
            return Err(ResultError::WrongSigner {
                signer,
                expected: self.orchestrator,
            });
        }
        Ok(())
    }
}

/// Parses the [`RESULT_SIGNATURE_HEADER`] value (hex, `0x` optional).
pub fn parse_signature_header(value: Option<&str>) -> Result<Signature, ResultError> {
    let value = value.ok_or(ResultError::Missing)?;
    let bytes = alloy_primitives::hex::decode(value.trim())
        .map_err(|_| ResultError::Signature(SignatureError::BadLength(0)))?;
    Ok(Signature::from_bytes(&bytes)?)
}

/// A signed result as kept for evidence (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedResult {
    pub result: SegmentResult,
    pub domain: EvidenceDomain,
    /// The orchestrator's signature over [`SegmentResult::digest`].
    pub signature: alloy_primitives::Bytes,
    pub digest: B256,
}

/// The domain a [`SignedResult`] was verified under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceDomain {
    pub chain_id: u64,
    pub verifying_contract: Address,
}

impl SignedResult {
    /// The evidence for `result` signed with `signature` under `domain`.
    pub fn new(result: SegmentResult, domain: &ResultDomain, signature: &Signature) -> Self {
        Self {
            digest: result.digest(domain),
            result,
            domain: EvidenceDomain {
                chain_id: domain.chain_id,
                verifying_contract: domain.staking,
            },
            signature: signature.to_bytes().to_vec().into(),
        }
    }
}

/// An orchestrator's signing identity for segment results (its own key or its hot key). Its
/// `Debug` form hides the key.
#[derive(Clone)]
pub struct ResultSigner {
    key: [u8; 32],
    address: Address,
    pub domain: ResultDomain,
}

impl std::fmt::Debug for ResultSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultSigner")
            .field("address", &self.address)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl ResultSigner {
    /// Signs with `secret_key` under `domain`.
    pub fn new(secret_key: [u8; 32], domain: ResultDomain) -> Result<Self, SignatureError> {
        Ok(Self {
            address: address_of_secret(&secret_key)?,
            key: secret_key,
            domain,
        })
    }

    /// The signer's address: the orchestrator's, or its hot key's.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Signs `result`.
    pub fn sign(&self, result: &SegmentResult) -> Result<Signature, SignatureError> {
        result.sign(&self.domain, &self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> SegmentRequest {
        let p = |name: &str, w, h| ProfileSpec {
            name: name.into(),
            width: w,
            height: h,
            bitrate_kbps: 800,
            codec: "h264".into(),
        };
        SegmentRequest {
            stream: "s".into(),
            seq: 7,
            format: "ts".into(),
            profiles: vec![p("360p", 640, 360), p("240p", 426, 240)],
        }
    }

    fn domain() -> ResultDomain {
        ResultDomain {
            chain_id: 31337,
            staking: Address::repeat_byte(9),
        }
    }

    #[test]
    fn a_signed_result_verifies_and_a_changed_one_does_not() {
        let key = [3u8; 32];
        let me = address_of_secret(&key).unwrap();
        let signer = ResultSigner::new(key, domain()).unwrap();
        let result = SegmentResult::new(
            me,
            Address::repeat_byte(1),
            &request(),
            b"in",
            &[b"a", b"b"],
        );
        let sig = signer.sign(&result).unwrap();
        assert_eq!(result.verify(&domain(), &sig, None), Ok(()));

        let mut altered = result.clone();
        altered.renditionHashes[1] = keccak256(b"c");
        assert!(matches!(
            altered.verify(&domain(), &sig, None),
            Err(ResultError::WrongSigner { .. })
        ));
        let foreign = result.sign(&domain(), &[4u8; 32]).unwrap();
        assert!(matches!(
            result.verify(&domain(), &foreign, None),
            Err(ResultError::WrongSigner { .. })
        ));
        // The orchestrator's hot key signs for it; a zero hot key is none.
        let hot = address_of_secret(&[4u8; 32]).unwrap();
        assert_eq!(result.verify(&domain(), &foreign, Some(hot)), Ok(()));
        assert!(matches!(
            result.verify(&domain(), &foreign, Some(Address::ZERO)),
            Err(ResultError::WrongSigner { .. })
        ));
        let unsigned_hot = result.sign(&domain(), &[5u8; 32]).unwrap();
        assert!(
            result.verify(&domain(), &unsigned_hot, Some(hot)).is_err(),
            "a key other than the named one"
        );
        let other_chain = ResultDomain {
            chain_id: 1,
            ..domain()
        };
        assert!(result.verify(&other_chain, &sig, None).is_err());
        let header = alloy_primitives::hex::encode_prefixed(sig.to_bytes());
        assert_eq!(parse_signature_header(Some(&header)), Ok(sig));
        assert_eq!(parse_signature_header(None), Err(ResultError::Missing));
        assert!(!format!("{signer:?}").contains("0303"));
    }

    #[test]
    fn named_renditions_are_put_in_ladder_order_and_must_match_it() {
        let me = Address::repeat_byte(2);
        let req = request();
        let (result, order) = SegmentResult::from_named(
            me,
            Address::ZERO,
            &req,
            b"in",
            [("240p", &b"b"[..]), ("360p", &b"a"[..])],
        )
        .unwrap();
        assert_eq!(order, vec![1, 0]);
        assert_eq!(
            result,
            SegmentResult::new(me, Address::ZERO, &req, b"in", &[b"a", b"b"])
        );
        assert_eq!(
            SegmentResult::from_named(me, Address::ZERO, &req, b"in", [("360p", &b"a"[..])]),
            Err(ResultError::MissingRendition("240p".into()))
        );
        assert_eq!(
            SegmentResult::from_named(
                me,
                Address::ZERO,
                &req,
                b"in",
                [("360p", &b"a"[..]), ("360p", &b"a"[..])]
            ),
            Err(ResultError::UnexpectedRendition("360p".into()))
        );
    }
}
