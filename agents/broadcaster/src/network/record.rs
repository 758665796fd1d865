//! One read view of an orchestrator's or compute provider's record, each part with where it was
//! read: this broadcaster's scores (sqlite), its stake and registration (Staking), fault claims
//! against it (FaultClaims) and its compute jobs (JobEscrow). Served at
//! `GET /v1/reputation/{address}` and printed by `peerflow reputation`.

use std::sync::Arc;

use alloy::primitives::{Address, U256};
use alloy::providers::DynProvider;
use peerflow_chain::Deployment;
use peerflow_chain::bindings::{job_escrow::JobEscrow, staking::Staking};
use serde::Serialize;

use super::reputation::{Reputation, Score};

/// Where a record is read from.
#[derive(Clone)]
pub struct RecordSources {
    /// This broadcaster's scores, and where they live (e.g. `sqlite:/data/reputation.sqlite`).
    pub reputation: Arc<Reputation>,
    pub reputation_source: String,
    pub chain: DynProvider,
    pub deployment: Deployment,
}

/// Everything known about one address.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub address: Address,
    pub broadcaster: Sourced<Option<Score>>,
    pub staking: Sourced<StakeRecord>,
    pub fault_claims: Sourced<ClaimsRecord>,
    pub escrow: Sourced<EscrowRecord>,
}

/// A part of a record and where it came from, e.g. `sqlite:/data/reputation.sqlite` or
/// `Staking 0x… on chain 31337`.
#[derive(Debug, Clone, Serialize)]
pub struct Sourced<T> {
    pub source: String,
    pub value: T,
}

/// The address as an orchestrator in Staking.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StakeRecord {
    pub registered: bool,
    pub active_this_round: bool,
    /// Total stake delegated to it, wei.
    pub stake: U256,
    /// What a fault claim can slash (its own stake and unbonding locks), wei.
    pub at_risk: U256,
    pub reward_cut_ppm: u32,
    pub fee_share_ppm: u32,
}

/// Fault claims filed against the address.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimsRecord {
    pub upheld: u64,
    pub rejected: u64,
    pub open: u64,
    pub expired: u64,
}

/// The address as a compute provider in JobEscrow.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EscrowRecord {
    pub completed: u64,
    pub failed: u64,
}

/// A chain read for the record failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("reading {what}: {source}")]
    Chain {
        what: &'static str,
        #[source]
        source: alloy::contract::Error,
    },
    #[error("reading FaultClaims.record: {0}")]
    Claims(String),
    #[error(transparent)]
    Store(#[from] super::reputation::ReputationError),
}

/// Reads `who`'s record from every source.
pub async fn record_of(sources: &RecordSources, who: Address) -> Result<Record, RecordError> {
    let d = &sources.deployment;
    let chain = |name: &str, at: Address| format!("{name} {at} on chain {}", d.chain_id);
    let staking = Staking::new(d.staking, &sources.chain);
    let info = staking
        .orchestratorInfo(who)
        .call()
        .await
        .map_err(|source| RecordError::Chain {
            what: "Staking.orchestratorInfo",
            source,
        })?;
    let at_risk =
        staking
            .slashableStake(who)
            .call()
            .await
            .map_err(|source| RecordError::Chain {
                what: "Staking.slashableStake",
                source,
            })?;
    let escrow = JobEscrow::new(d.job_escrow, &sources.chain)
        .recordOf(who)
        .call()
        .await
        .map_err(|source| RecordError::Chain {
            what: "JobEscrow.recordOf",
            source,
        })?;
    let claims = peerflow_chain::claims::record(&sources.chain, d, who)
        .await
        .map_err(|source| RecordError::Claims(source.to_string()))?;
    Ok(Record {
        address: who,
        broadcaster: Sourced {
            source: sources.reputation_source.clone(),
            value: sources.reputation.score(who)?,
        },
        staking: Sourced {
            source: chain("Staking", d.staking),
            value: StakeRecord {
                registered: info.registered,
                active_this_round: info.activeThisRound,
                stake: info.stake,
                at_risk,
                reward_cut_ppm: info.rewardCut,
                fee_share_ppm: info.feeShare,
            },
        },
        fault_claims: Sourced {
            source: chain("FaultClaims", d.fault_claims),
            value: ClaimsRecord {
                upheld: claims.upheld,
                rejected: claims.rejected,
                open: claims.open,
                expired: claims.expired,
            },
        },
        escrow: Sourced {
            source: chain("JobEscrow", d.job_escrow),
            value: EscrowRecord {
                completed: escrow.completed,
                failed: escrow.failed,
            },
        },
    })
}
