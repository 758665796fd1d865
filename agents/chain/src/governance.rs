//! Token-holder governance as the chain holds it: the governor's proposals (each call they would
//! make, in words), their state, tally and timing; an account's voting power at a block; the
//! governance settings. Shared by `peerflow gov` and the orchestrator's and broadcaster's pages.
//!
//! Proposals are found by their `ProposalCreated` events (bounded scans from the deployment block)
//! and read back from the governor, which holds their state; nothing here is kept but a view cache
//! ([`ProposalBook`]) for the pages.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::sol_types::{SolEvent, SolInterface};
use serde::Serialize;

use crate::bindings::{
    fault_claims::FaultClaims, governor::PeerflowGovernor, job_escrow::JobEscrow, minter::Minter,
    service_registry::ServiceRegistry, staking::Staking, ticket_broker::TicketBroker,
    timelock::PeerflowTimelock, vote_power::VotePower, work_token::WorkToken,
};
use crate::{ChainError, Deployment};

/// A proposal's state, as OpenZeppelin's `IGovernor.ProposalState` numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalState {
    Pending,
    Active,
    Canceled,
    Defeated,
    Succeeded,
    Queued,
    Expired,
    Executed,
}

impl ProposalState {
    pub fn from_code(code: u8) -> Option<Self> {
        use ProposalState::*;
        [
            Pending, Active, Canceled, Defeated, Succeeded, Queued, Expired, Executed,
        ]
        .get(usize::from(code))
        .copied()
    }

    pub fn name(self) -> &'static str {
        use ProposalState::*;
        match self {
            Pending => "pending",
            Active => "active",
            Canceled => "canceled",
            Defeated => "defeated",
            Succeeded => "succeeded",
            Queued => "queued",
            Expired => "expired",
            Executed => "executed",
        }
    }

    /// Still to be voted on, queued or executed.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Pending | Self::Active | Self::Succeeded | Self::Queued
        )
    }
}

/// How a vote goes, as `GovernorCountingOverridable` numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Against = 0,
    For = 1,
    Abstain = 2,
}

impl std::str::FromStr for Support {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "for" | "yes" => Ok(Self::For),
            "against" | "no" => Ok(Self::Against),
            "abstain" => Ok(Self::Abstain),
            other => Err(format!("`{other}`: vote for, against or abstain")),
        }
    }
}

/// One call a proposal makes through the timelock.
#[derive(Debug, Clone, Serialize)]
pub struct ProposalCall {
    pub target: Address,
    /// The suite contract at `target` (`"unknown"` for any other address).
    pub contract: &'static str,
    /// Wei sent with the call, decimal.
    pub value: String,
    pub calldata: Bytes,
    /// The call decoded against the suite's ABIs, e.g. `FaultClaims.setParameters(..)`.
    pub summary: String,
}

/// For, against and abstain, in vote units (wei of the work token), decimal.
#[derive(Debug, Clone, Serialize)]
pub struct Tally {
    #[serde(rename = "for")]
    pub for_votes: String,
    pub against: String,
    pub abstain: String,
}

/// A proposal as the governor holds it now.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    /// The proposal id, decimal (as `peerflow gov vote ID` takes it).
    pub id: String,
    pub proposer: Address,
    pub description: String,
    pub state: ProposalState,
    /// Voting power is counted as of this block; voting opens after it.
    pub snapshot: u64,
    /// The last block of the vote.
    pub deadline: u64,
    /// Unix time from which a queued proposal can be executed (0: not queued).
    pub eta: u64,
    pub tally: Tally,
    /// Votes (for + abstain) the proposal needs; unknown until the snapshot block is past.
    pub quorum: Option<String>,
    pub calls: Vec<ProposalCall>,
    /// The block the proposal was made in.
    pub created_block: Option<u64>,
}

impl Proposal {
    pub fn id(&self) -> U256 {
        self.id.parse().unwrap_or_default()
    }
}

/// The governance settings in force (each one changeable by proposal only).
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub governor: Address,
    pub timelock: Address,
    /// Blocks between a proposal and its snapshot.
    pub voting_delay: u64,
    /// Blocks the vote stays open.
    pub voting_period: u64,
    /// Votes needed to propose, decimal wei.
    pub proposal_threshold: String,
    /// Quorum as a share of the token supply at the snapshot: numerator / denominator.
    pub quorum_numerator: u64,
    pub quorum_denominator: u64,
    /// Seconds between queueing and executing.
    pub timelock_delay: u64,
    /// The governor's clock (the current block).
    pub clock: u64,
}

/// An account's votes at a past block, by source.
#[derive(Debug, Clone, Serialize)]
pub struct VotingPower {
    pub account: Address,
    pub block: u64,
    /// Votes `castVote` casts: tokens delegated to the account plus the stake bonded to it as an
    /// orchestrator (its pool), decimal wei.
    pub votes: String,
    /// Of which held tokens delegated to it.
    pub token_votes: String,
    /// The account's own bonded stake, which `castOverrideVote` casts against its orchestrator's.
    pub own_stake: String,
    /// The orchestrator its stake was bonded to (zero: none).
    pub stake_delegate: Address,
    /// Where its held tokens' votes go (zero: not delegated, so they do not count yet).
    pub token_delegate: Address,
}

/// The deployment's governor, or an error saying it has none.
fn governor_of<P: Provider>(
    provider: P,
    d: &Deployment,
) -> Result<PeerflowGovernor::PeerflowGovernorInstance<P>, ChainError> {
    if d.governor.is_zero() {
        return Err(ChainError::Parameters(
            "this deployment has no governor (deployed before governance existed)".into(),
        ));
    }
    Ok(PeerflowGovernor::new(d.governor, provider))
}

/// The settings in force.
pub async fn settings<P: Provider>(provider: &P, d: &Deployment) -> Result<Settings, ChainError> {
    let g = governor_of(provider, d)?;
    let timelock = PeerflowTimelock::new(d.timelock, provider);
    Ok(Settings {
        governor: d.governor,
        timelock: d.timelock,
        voting_delay: g.votingDelay().call().await?.saturating_to(),
        voting_period: g.votingPeriod().call().await?.saturating_to(),
        proposal_threshold: g.proposalThreshold().call().await?.to_string(),
        quorum_numerator: g.quorumNumerator_1().call().await?.saturating_to(),
        quorum_denominator: g.quorumDenominator().call().await?.saturating_to(),
        timelock_delay: timelock.getMinDelay().call().await?.saturating_to(),
        clock: g.clock().call().await?.to(),
    })
}

/// `account`'s votes at block `block` (which must be in the past).
pub async fn voting_power<P: Provider>(
    provider: &P,
    d: &Deployment,
    account: Address,
    block: u64,
) -> Result<VotingPower, ChainError> {
    let v = VotePower::new(d.vote_power, provider);
    let t = U256::from(block);
    let token = WorkToken::new(d.work_token, provider);
    Ok(VotingPower {
        account,
        block,
        votes: v.getPastVotes(account, t).call().await?.to_string(),
        token_votes: token.getPastVotes(account, t).call().await?.to_string(),
        own_stake: v.getPastBalanceOf(account, t).call().await?.to_string(),
        stake_delegate: v.getPastDelegate(account, t).call().await?,
        token_delegate: token.delegates(account).call().await?,
    })
}

/// Every proposal made on the deployment's governor, oldest first.
pub async fn proposals<P: Provider>(
    provider: &P,
    d: &Deployment,
) -> Result<Vec<Proposal>, ChainError> {
    let created = created_since(provider, d, d.scan_from()).await?;
    let mut out = Vec::with_capacity(created.len());
    for c in created {
        out.push(read(provider, d, c).await?);
    }
    Ok(out)
}

/// One proposal by id.
pub async fn proposal<P: Provider>(
    provider: &P,
    d: &Deployment,
    id: U256,
) -> Result<Proposal, ChainError> {
    let created = created_since(provider, d, d.scan_from()).await?;
    let c = created
        .into_iter()
        .find(|c| c.event.proposalId == id)
        .ok_or_else(|| ChainError::Parameters(format!("no proposal {id} on this governor")))?;
    read(provider, d, c).await
}

/// A `ProposalCreated` event and its block.
#[derive(Debug, Clone)]
struct Created {
    event: PeerflowGovernor::ProposalCreated,
    block: Option<u64>,
}

async fn created_since<P: Provider>(
    provider: &P,
    d: &Deployment,
    from: u64,
) -> Result<Vec<Created>, ChainError> {
    let g = governor_of(provider, d)?;
    let filter = g.ProposalCreated_filter().filter;
    let logs = crate::logscan::scan_to_head(provider, filter, from).await?;
    Ok(logs
        .into_iter()
        .filter_map(|log| {
            let event = PeerflowGovernor::ProposalCreated::decode_log(&log.inner)
                .ok()?
                .data;
            Some(Created {
                event,
                block: log.block_number,
            })
        })
        .collect())
}

async fn read<P: Provider>(
    provider: &P,
    d: &Deployment,
    c: Created,
) -> Result<Proposal, ChainError> {
    let g = governor_of(provider, d)?;
    let e = c.event;
    let id = e.proposalId;
    let state = g.state(id).call().await?;
    let votes = g.proposalVotes(id).call().await?;
    let snapshot: u64 = g.proposalSnapshot(id).call().await?.saturating_to();
    let clock: u64 = g.clock().call().await?.to();
    let quorum = if snapshot < clock {
        Some(g.quorum(U256::from(snapshot)).call().await?.to_string())
    } else {
        None
    };
    let calls = e
        .targets
        .iter()
        .zip(&e.values)
        .zip(&e.calldatas)
        .map(|((&target, value), data)| {
            let (contract, summary) = describe_call(d, target, data);
            ProposalCall {
                target,
                contract,
                value: value.to_string(),
                calldata: data.clone(),
                summary,
            }
        })
        .collect();
    Ok(Proposal {
        id: id.to_string(),
        proposer: e.proposer,
        description: e.description,
        state: ProposalState::from_code(state).unwrap_or(ProposalState::Pending),
        snapshot,
        deadline: g.proposalDeadline(id).call().await?.saturating_to(),
        eta: g.proposalEta(id).call().await?.saturating_to(),
        tally: Tally {
            for_votes: votes.forVotes.to_string(),
            against: votes.againstVotes.to_string(),
            abstain: votes.abstainVotes.to_string(),
        },
        quorum,
        calls,
        created_block: c.block,
    })
}

/// The suite contract at `target` and the call `data` decoded against its ABI, in words.
pub fn describe_call(d: &Deployment, target: Address, data: &[u8]) -> (&'static str, String) {
    fn decoded<C: SolInterface + std::fmt::Debug>(name: &'static str, data: &[u8]) -> String {
        match C::abi_decode(data) {
            Ok(call) => format!("{name}.{}", strip_call_suffix(&format!("{call:?}"))),
            Err(_) => format!("{name}: undecodable call {}", Bytes::copy_from_slice(data)),
        }
    }
    let named: [(Address, &'static str); 10] = [
        (d.staking, "Staking"),
        (d.minter, "Minter"),
        (d.fault_claims, "FaultClaims"),
        (d.work_token, "WorkToken"),
        (d.ticket_broker, "TicketBroker"),
        (d.service_registry, "ServiceRegistry"),
        (d.job_escrow, "JobEscrow"),
        (d.governor, "Governor"),
        (d.timelock, "Timelock"),
        (d.vote_power, "VotePower"),
    ];
    let name = named
        .iter()
        .find(|(a, _)| *a == target && !a.is_zero())
        .map_or("unknown", |(_, n)| n);
    let summary = match name {
        "Staking" => decoded::<Staking::StakingCalls>(name, data),
        "Minter" => decoded::<Minter::MinterCalls>(name, data),
        "FaultClaims" => decoded::<FaultClaims::FaultClaimsCalls>(name, data),
        "WorkToken" => decoded::<WorkToken::WorkTokenCalls>(name, data),
        "TicketBroker" => decoded::<TicketBroker::TicketBrokerCalls>(name, data),
        "ServiceRegistry" => decoded::<ServiceRegistry::ServiceRegistryCalls>(name, data),
        "JobEscrow" => decoded::<JobEscrow::JobEscrowCalls>(name, data),
        "Governor" => decoded::<PeerflowGovernor::PeerflowGovernorCalls>(name, data),
        "Timelock" => decoded::<PeerflowTimelock::PeerflowTimelockCalls>(name, data),
        _ => format!("call {target} with {}", Bytes::copy_from_slice(data)),
    };
    (name, summary)
}

/// `setParameters(setParametersCall { params: .. })` → `setParameters(params: ..)`.
fn strip_call_suffix(debug: &str) -> String {
    let (name, inner) = crate::refusal::unwrap_variant(debug);
    let args = inner
        .split_once('{')
        .map(|(_, rest)| {
            let rest = rest.trim();
            rest.strip_suffix('}').unwrap_or(rest).trim()
        })
        .unwrap_or("");
    format!("{name}({args})")
}

/// The open proposals for a page, read at most once per `ttl`; event scans resume where the last
/// one ended.
pub struct ProposalBook {
    ttl: Duration,
    state: tokio::sync::Mutex<BookState>,
    last_error: Mutex<Option<String>>,
}

#[derive(Default)]
struct BookState {
    next_block: Option<u64>,
    created: Vec<Created>,
    open: Vec<Proposal>,
    read_at: Option<Instant>,
}

impl ProposalBook {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            state: tokio::sync::Mutex::new(BookState::default()),
            last_error: Mutex::new(None),
        }
    }

    /// The proposals still open (pending, active, succeeded or queued), newest first. On a read
    /// failure the last answer stands and the error is kept for [`ProposalBook::last_error`].
    pub async fn open<P: Provider>(&self, provider: &P, d: &Deployment) -> Vec<Proposal> {
        let mut s = self.state.lock().await;
        if s.read_at.is_some_and(|t| t.elapsed() < self.ttl) {
            return s.open.clone();
        }
        match refresh(provider, d, &mut s).await {
            Ok(()) => *self.last_error.lock().expect("poisoned") = None,
            Err(e) => *self.last_error.lock().expect("poisoned") = Some(e.to_string()),
        }
        s.read_at = Some(Instant::now());
        s.open.clone()
    }

    /// Why the last refresh failed, if it did.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().expect("poisoned").clone()
    }
}

async fn refresh<P: Provider>(
    provider: &P,
    d: &Deployment,
    s: &mut BookState,
) -> Result<(), ChainError> {
    if d.governor.is_zero() {
        return Ok(());
    }
    let head = provider
        .get_block_number()
        .await
        .map_err(alloy::contract::Error::from)?;
    let from = s.next_block.unwrap_or(d.scan_from());
    if from <= head {
        let g = governor_of(provider, d)?;
        let logs = crate::logscan::LogScanner::new(g.ProposalCreated_filter().filter)
            .scan(provider, from, head)
            .await?;
        s.created.extend(logs.into_iter().filter_map(|log| {
            Some(Created {
                event: PeerflowGovernor::ProposalCreated::decode_log(&log.inner)
                    .ok()?
                    .data,
                block: log.block_number,
            })
        }));
        s.next_block = Some(head + 1);
    }
    // A proposal that is canceled, defeated, expired or executed stays so: it is read one last time
    // and then dropped, so each refresh reads only the proposals still open.
    let mut open = Vec::new();
    let mut still = Vec::new();
    for c in s.created.iter().rev() {
        let p = read(provider, d, c.clone()).await?;
        if p.state.is_open() {
            open.push(p);
            still.push(c.clone());
        }
    }
    still.reverse();
    s.created = still;
    s.open = open;
    Ok(())
}

/// `GET /v1/governance` for the agents' pages: the open proposals, newest first, read at most every
/// 10 s. The JSON: `{"governor": "0x…", "proposals": [Proposal…], "error": null}`; `error` says why
/// the last read failed (the proposals are then those of the read before). A deployment without a
/// governor answers `governor: null` and no proposals.
#[cfg(feature = "http")]
pub fn routes<P: Provider + Clone + Send + Sync + 'static>(
    provider: P,
    d: Deployment,
) -> axum::Router {
    use std::sync::Arc;
    struct Shared<P> {
        provider: P,
        d: Deployment,
        book: ProposalBook,
    }
    async fn serve<P: Provider + Clone + Send + Sync + 'static>(
        axum::extract::State(s): axum::extract::State<Arc<Shared<P>>>,
    ) -> axum::Json<serde_json::Value> {
        let proposals = s.book.open(&s.provider, &s.d).await;
        axum::Json(serde_json::json!({
            "governor": (!s.d.governor.is_zero()).then_some(s.d.governor),
            "proposals": proposals,
            "error": s.book.last_error(),
        }))
    }
    let shared = Arc::new(Shared {
        provider,
        d,
        book: ProposalBook::new(Duration::from_secs(10)),
    });
    axum::Router::new()
        .route("/v1/governance", axum::routing::get(serve::<P>))
        .with_state(shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_follow_the_governor_enum() {
        assert_eq!(ProposalState::from_code(0), Some(ProposalState::Pending));
        assert_eq!(ProposalState::from_code(5), Some(ProposalState::Queued));
        assert_eq!(ProposalState::from_code(7), Some(ProposalState::Executed));
        assert_eq!(ProposalState::from_code(8), None);
        assert!(ProposalState::Queued.is_open());
        assert!(!ProposalState::Defeated.is_open());
    }

    #[test]
    fn support_words() {
        assert_eq!("for".parse::<Support>(), Ok(Support::For));
        assert_eq!("Against".parse::<Support>(), Ok(Support::Against));
        assert_eq!("abstain".parse::<Support>(), Ok(Support::Abstain));
        assert!("maybe".parse::<Support>().is_err());
    }

    #[test]
    fn calls_are_described_by_contract_and_function() {
        let d = Deployment {
            chain_id: 1,
            start_block: 0,
            deployment_block: None,
            round_length: 50,
            deployer: Address::ZERO,
            work_token: Address::repeat_byte(1),
            staking: Address::repeat_byte(2),
            minter: Address::repeat_byte(3),
            ticket_broker: Address::repeat_byte(4),
            service_registry: Address::repeat_byte(5),
            job_escrow: Address::repeat_byte(6),
            fault_claims: Address::repeat_byte(7),
            stream_support: Address::repeat_byte(8),
            timelock: Address::repeat_byte(9),
            governor: Address::repeat_byte(10),
            vote_power: Address::repeat_byte(11),
            team_vesting: Address::ZERO,
            treasury_vesting: Address::ZERO,
        };
        let data = alloy::sol_types::SolCall::abi_encode(&Staking::setMinActiveStakeCall {
            minActiveStake_: U256::from(5),
        });
        let (contract, summary) = describe_call(&d, d.staking, &data);
        assert_eq!(contract, "Staking");
        assert_eq!(summary, "Staking.setMinActiveStake(minActiveStake_: 5)");
        let params = alloy::sol_types::SolCall::abi_encode(&FaultClaims::setParametersCall {
            params: crate::bindings::fault_claims::IFaultClaims::Parameters {
                bond: 10,
                votingPeriod: 60,
                slashPpm: 500_000,
                finderFeePpm: 1,
            },
        });
        assert_eq!(
            describe_call(&d, d.fault_claims, &params).1,
            "FaultClaims.setParameters(params: Parameters { bond: 10, votingPeriod: 60, \
             slashPpm: 500000, finderFeePpm: 1 })"
        );
        let (contract, summary) = describe_call(&d, Address::repeat_byte(0xee), &data);
        assert_eq!(contract, "unknown");
        assert!(
            summary.to_lowercase().starts_with("call 0xeeee"),
            "{summary}"
        );
    }
}
