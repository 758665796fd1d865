//! The FaultClaims client: a broadcaster files a claim on a segment result its orchestrator signed
//! (approving the bond first), committee members vote, anyone expires an undecided claim; the reads
//! a juror or a reputation view needs. Every call waits for its transaction; a refusal comes back as
//! [`ChainError::Refused`] with the contract's custom error by name.

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use peerflow_protocol::{SegmentResult, Signature};

use crate::ChainError;
use crate::bindings::fault_claims::{FaultClaims, IFaultClaims};
use crate::bindings::work_token::WorkToken;
use crate::deploy::{Deployment, event_in, execute};

/// What a claim says is wrong with one rendition: the contract's fault codes (`IFaultClaims`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Fault {
    Undecodable = 1,
    WrongCodec = 2,
    WrongResolution = 3,
    FrameCount = 4,
    Duration = 5,
    /// The start time does not match the input: a stale or reordered segment.
    StaleSegment = 6,
    LowBitrate = 7,
    HighBitrate = 8,
    AudioMissing = 9,
    /// SSIM/PSNR below threshold (e.g. black frames).
    LowQuality = 10,
}

impl Fault {
    pub const ALL: [Fault; 10] = [
        Fault::Undecodable,
        Fault::WrongCodec,
        Fault::WrongResolution,
        Fault::FrameCount,
        Fault::Duration,
        Fault::StaleSegment,
        Fault::LowBitrate,
        Fault::HighBitrate,
        Fault::AudioMissing,
        Fault::LowQuality,
    ];

    /// The code on-chain.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The fault of an on-chain code, if it is one.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == code)
    }

    /// The snake_case name (as in the contract's NatSpec, for logs and CLIs).
    pub fn name(self) -> &'static str {
        match self {
            Fault::Undecodable => "undecodable",
            Fault::WrongCodec => "wrong_codec",
            Fault::WrongResolution => "wrong_resolution",
            Fault::FrameCount => "frame_count",
            Fault::Duration => "duration",
            Fault::StaleSegment => "stale_segment",
            Fault::LowBitrate => "low_bitrate",
            Fault::HighBitrate => "high_bitrate",
            Fault::AudioMissing => "audio_missing",
            Fault::LowQuality => "low_quality",
        }
    }
}

/// `IFaultClaims.ClaimStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimStatus {
    /// No such claim.
    None,
    Open,
    Upheld,
    Rejected,
    Expired,
}

impl ClaimStatus {
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => Self::Open,
            2 => Self::Upheld,
            3 => Self::Rejected,
            4 => Self::Expired,
            _ => Self::None,
        }
    }

    /// Whether the claim is decided or expired.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Upheld | Self::Rejected | Self::Expired)
    }
}

/// A claim as stored on-chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub result_digest: B256,
    pub orchestrator: Address,
    pub claimant: Address,
    pub rendition: u32,
    /// The raw code ([`Fault::from_code`] names it).
    pub fault: u8,
    pub evidence_hash: B256,
    pub bond: U256,
    /// Unix seconds; votes before it, expiry from it on.
    pub deadline: u64,
    pub quorum: u32,
    pub slash_ppm: u32,
    pub finder_fee_ppm: u32,
    pub votes_for: u32,
    pub votes_against: u32,
    pub status: ClaimStatus,
    /// The accused's finder's-fee episode the claim belongs to (claims open at the same slash
    /// share the finder's fee; counted from 1).
    pub episode: u32,
}

impl From<IFaultClaims::Claim> for Claim {
    fn from(c: IFaultClaims::Claim) -> Self {
        Self {
            result_digest: c.resultDigest,
            orchestrator: c.orchestrator,
            claimant: c.claimant,
            rendition: c.rendition,
            fault: c.fault,
            evidence_hash: c.evidenceHash,
            bond: U256::from(c.bond),
            deadline: c.deadline,
            quorum: c.quorum,
            slash_ppm: c.slashPpm,
            finder_fee_ppm: c.finderFeePpm,
            votes_for: c.votesFor,
            votes_against: c.votesAgainst,
            status: ClaimStatus::from_code(c.status),
            episode: c.episode,
        }
    }
}

/// Claims against one orchestrator by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Record {
    pub upheld: u64,
    pub rejected: u64,
    pub open: u64,
    pub expired: u64,
}

/// A `ClaimFiled` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiledClaim {
    pub id: U256,
    pub orchestrator: Address,
    pub claimant: Address,
    pub result_digest: B256,
    pub rendition: U256,
    pub fault: u8,
    pub evidence_hash: B256,
    pub evidence_uri: String,
    pub deadline: u64,
    pub block: Option<u64>,
}

/// A `ClaimResolved` event: how a claim ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    pub id: U256,
    pub status: ClaimStatus,
    /// Slashed from the orchestrator's own stake (upheld claims only).
    pub penalty: U256,
    /// What this claim's claimant was paid of the finder's fee: all of it when it was the only
    /// claimant owed at the slash, else its share of the episode's pot (see `IFaultClaims`).
    pub finder_fee: U256,
}

impl From<FaultClaims::ClaimResolved> for Resolution {
    fn from(e: FaultClaims::ClaimResolved) -> Self {
        Self {
            id: e.id,
            status: ClaimStatus::from_code(e.status),
            penalty: e.penalty,
            finder_fee: e.finderFee,
        }
    }
}

/// Files a claim on `result` (signed by its orchestrator with `signature`) from `provider`'s account,
/// which must be the result's broadcaster; approves twice the bond first when the allowance is
/// short (the bond follows the accused's stake, which may grow before the claim is mined), and
/// again if the claim still finds it short. Returns the claim's id.
#[allow(clippy::too_many_arguments)]
pub async fn file_claim<P: Provider>(
    provider: &P,
    d: &Deployment,
    result: &SegmentResult,
    signature: &Signature,
    rendition: u32,
    fault: Fault,
    evidence_hash: B256,
    evidence_uri: &str,
) -> Result<U256, ChainError> {
    let claims = FaultClaims::new(d.fault_claims, provider);
    let token = WorkToken::new(d.work_token, provider);
    let mut tries = 0;
    loop {
        tries += 1;
        // The bond scales with the accused's slashable stake, which may grow (a reward, a bond)
        // between this read and the claim's block: the approval leaves room for that, and a claim
        // that still finds it short is approved again and sent again, never given up.
        let bond = claims.bondFor(result.orchestrator).call().await?;
        let allowance = token
            .allowance(result.broadcaster, d.fault_claims)
            .call()
            .await?;
        if allowance < bond {
            execute(token.approve(d.fault_claims, bond.saturating_mul(U256::from(2))))
                .await
                .map_err(refused)?;
        }
        let call = claims.fileClaim(
            result.into(),
            Bytes::copy_from_slice(&signature.to_bytes()),
            U256::from(rendition),
            fault.code(),
            evidence_hash,
            evidence_uri.to_owned(),
        );
        match execute(call).await.map_err(refused) {
            Ok(receipt) => {
                let filed = event_in::<FaultClaims::ClaimFiled>(&receipt)
                    .ok_or(ChainError::MissingEvent("ClaimFiled"))?;
                return Ok(filed.id);
            }
            Err(ChainError::Refused { reason, .. })
                if reason.starts_with("ERC20InsufficientAllowance") && tries < BOND_TRIES =>
            {
                tracing::info!(%reason, "the claim bond grew since it was approved; approving again");
            }
            Err(e) => return Err(e),
        }
    }
}

/// Approvals [`file_claim`] makes when the bond outgrows the last one before it gives up.
const BOND_TRIES: u32 = 3;

/// Votes on claim `id` from `provider`'s account (a committee member). Returns the resolution when
/// this vote decided the claim.
pub async fn vote<P: Provider>(
    provider: &P,
    d: &Deployment,
    id: U256,
    uphold: bool,
) -> Result<Option<Resolution>, ChainError> {
    let claims = FaultClaims::new(d.fault_claims, provider);
    let receipt = execute(claims.vote(id, uphold)).await.map_err(refused)?;
    Ok(event_in::<FaultClaims::ClaimResolved>(&receipt).map(Resolution::from))
}

/// Expires claim `id` (open, deadline passed): the bond goes back to the claimant less the part
/// (`EXPIRY_KEEP_PPM`) paid to the accused for the freeze.
pub async fn expire<P: Provider>(
    provider: &P,
    d: &Deployment,
    id: U256,
) -> Result<Resolution, ChainError> {
    let claims = FaultClaims::new(d.fault_claims, provider);
    let receipt = execute(claims.expire(id)).await.map_err(refused)?;
    event_in::<FaultClaims::ClaimResolved>(&receipt)
        .map(Resolution::from)
        .ok_or(ChainError::MissingEvent("ClaimResolved"))
}

/// Claim `id` (status [`ClaimStatus::None`] if there is none).
pub async fn claim<P: Provider>(
    provider: &P,
    d: &Deployment,
    id: U256,
) -> Result<Claim, ChainError> {
    let claims = FaultClaims::new(d.fault_claims, provider);
    Ok(claims.claim(id).call().await?.into())
}

/// Claims against `orchestrator` by outcome.
pub async fn record<P: Provider>(
    provider: &P,
    d: &Deployment,
    orchestrator: Address,
) -> Result<Record, ChainError> {
    let claims = FaultClaims::new(d.fault_claims, provider);
    let r = claims.record(orchestrator).call().await?;
    Ok(Record {
        upheld: r.upheld,
        rejected: r.rejected,
        open: r.open,
        expired: r.expired,
    })
}

/// Claims filed from block `from` on (for a juror that watches).
pub async fn claims_filed_since<P: Provider>(
    provider: &P,
    d: &Deployment,
    from: u64,
) -> Result<Vec<FiledClaim>, ChainError> {
    let filter = FaultClaims::new(d.fault_claims, provider)
        .ClaimFiled_filter()
        .filter;
    let logs = crate::logscan::scan_to_head(provider, filter, from.max(d.scan_from())).await?;
    Ok(logs
        .into_iter()
        .filter_map(|log| {
            let e = <FaultClaims::ClaimFiled as alloy::sol_types::SolEvent>::decode_log(&log.inner)
                .ok()?
                .data;
            Some((e, log))
        })
        .map(|(e, log)| FiledClaim {
            id: e.id,
            orchestrator: e.orchestrator,
            claimant: e.claimant,
            result_digest: e.resultDigest,
            rendition: e.rendition,
            fault: e.fault,
            evidence_hash: e.evidenceHash,
            evidence_uri: e.evidenceUri,
            deadline: e.deadline.saturating_to(),
            block: log.block_number,
        })
        .collect())
}

/// Turns a revert carrying a FaultClaims or work-token custom error into [`ChainError::Refused`].
fn refused(e: ChainError) -> ChainError {
    let ChainError::Contract(err) = &e else {
        return e;
    };
    match crate::refusal::of_contract_error(err, Some("FaultClaims")) {
        Some(r) => ChainError::Refused {
            contract: r.contract,
            reason: r.error,
        },
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_codes_are_the_contracts() {
        let codes: Vec<u8> = Fault::ALL.iter().map(|f| f.code()).collect();
        assert_eq!(codes, (1..=10).collect::<Vec<u8>>());
        assert_eq!(Fault::from_code(6), Some(Fault::StaleSegment));
        assert_eq!(Fault::from_code(0), None);
        assert_eq!(Fault::from_code(11), None);
        assert_eq!(Fault::LowQuality.name(), "low_quality");
    }

    #[test]
    fn claim_status_codes_follow_the_enum() {
        assert_eq!(ClaimStatus::from_code(1), ClaimStatus::Open);
        assert_eq!(ClaimStatus::from_code(4), ClaimStatus::Expired);
        assert_eq!(ClaimStatus::from_code(9), ClaimStatus::None);
        assert!(ClaimStatus::Rejected.is_final());
        assert!(!ClaimStatus::Open.is_final());
    }
}
