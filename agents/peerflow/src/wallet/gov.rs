//! `peerflow gov delegate|propose|vote|queue|execute|status`: token-holder governance. Proposals
//! change the suite's parameters through the timelock that owns every contract; votes come from
//! tokens held (delegated on the work token) and stake bonded (an orchestrator votes its pool, a
//! delegator may override it with its own stake).
//!
//! Each command plans its calls as the stake commands do (`--dry-run` prints and simulates them),
//! and refuses by rule before sending: a vote outside the voting window, an account without votes at
//! the snapshot, a queue before the vote passed, an execution before the timelock's delay. A
//! proposal's own calls are simulated as the timelock first, so a change the contracts' bounds would
//! refuse is never put to a vote.

use std::time::Duration;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use anyhow::{Context, Result, bail};
use peerflow_chain::bindings::{
    fault_claims::{FaultClaims, IFaultClaims},
    governor::PeerflowGovernor,
    minter::Minter,
    staking::Staking,
    timelock::PeerflowTimelock,
    work_token::WorkToken,
};
use peerflow_chain::governance::{self, Proposal, ProposalState, Support};

use super::{ChainOpts, Session, Step, Token};

/// `peerflow gov …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum GovCommand {
    /// Make held tokens count as votes: delegate them to yourself (default) or to --to. Bonded
    /// stake needs no delegation: it votes through the orchestrator it is bonded to.
    Delegate {
        #[arg(long)]
        to: Option<Address>,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Propose parameter changes (one or more), voted on by holders and executed by the timelock.
    Propose(Box<ProposeArgs>),
    /// Vote on an active proposal: for, against or abstain. Tokens delegated to you and the stake
    /// bonded to you as an orchestrator vote together; stake you bonded to an orchestrator votes
    /// separately, overriding the orchestrator's vote for that stake.
    Vote {
        id: U256,
        support: Support,
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Queue a proposal that passed in the timelock.
    Queue {
        id: U256,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Execute a queued proposal once the timelock's delay is over.
    Execute {
        id: U256,
        /// Wait for the end of the timelock's delay instead of refusing before it.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// The governance settings, your votes, and the proposals (open ones; --all for every one;
    /// or one by id).
    Status {
        id: Option<U256>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        chain: ChainOpts,
    },
}

/// `peerflow gov propose`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProposeArgs {
    /// What the proposal does and why, as voters will read it.
    #[arg(long)]
    description: String,
    #[command(flatten)]
    changes: Changes,
    #[command(flatten)]
    chain: ChainOpts,
}

/// The changes a proposal can make, each one call through the timelock.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Changes {
    /// FaultClaims: share of an orchestrator's own stake an upheld claim slashes (parts per million).
    #[arg(long)]
    pub slash_ppm: Option<u32>,
    /// FaultClaims: share of the penalty paid to the claimant (parts per million).
    #[arg(long)]
    pub finder_fee_ppm: Option<u32>,
    /// FaultClaims: the bond a claimant posts (e.g. `10` or `10 FLOW`).
    #[arg(long)]
    pub claim_bond: Option<String>,
    /// FaultClaims: seconds a claim stays open for committee votes.
    #[arg(long)]
    pub claim_voting_period: Option<u64>,
    /// FaultClaims: elect an account to the committee (repeatable).
    #[arg(long = "add-committee-member")]
    pub add_members: Vec<Address>,
    /// FaultClaims: remove an account from the committee (repeatable).
    #[arg(long = "remove-committee-member")]
    pub remove_members: Vec<Address>,
    /// FaultClaims: votes that decide a claim (default with a committee change: a bare majority).
    #[arg(long)]
    pub committee_quorum: Option<u32>,
    /// Staking: the minimum stake of the active set.
    #[arg(long)]
    pub min_active_stake: Option<String>,
    /// Staking: the minimum self-bond of an active orchestrator.
    #[arg(long)]
    pub min_self_bond: Option<String>,
    /// Staking: the cap on the active set.
    #[arg(long)]
    pub max_active: Option<u64>,
    /// FaultClaims: seconds a committee's term lasts (it serves on until governance replaces it).
    #[arg(long)]
    pub committee_term: Option<u64>,
    /// Staking: rounds before unbonded stake can be withdrawn (at least the tickets' validity).
    #[arg(long)]
    pub unbonding_period: Option<u64>,
    /// Minter: share of each round's inflation minted to the treasury, parts per billion.
    #[arg(long)]
    pub treasury_cut_ppb: Option<u64>,
    /// Minter: the treasury's share stops once it holds this much (e.g. `750000`).
    #[arg(long)]
    pub treasury_ceiling: Option<String>,
    /// Minter: per-round step of inflation toward the target bonding rate, parts per billion.
    #[arg(long)]
    pub inflation_change_ppb: Option<u64>,
    /// Minter: the bonded share of supply inflation steers toward, parts per billion.
    #[arg(long)]
    pub target_bonding_rate_ppb: Option<u64>,
    /// Governor: blocks between a proposal and its snapshot.
    #[arg(long)]
    pub voting_delay: Option<u64>,
    /// Governor: blocks a vote stays open.
    #[arg(long)]
    pub voting_period: Option<u64>,
    /// Governor: votes needed to propose (e.g. `1000` or `1000 FLOW`).
    #[arg(long)]
    pub proposal_threshold: Option<String>,
    /// Governor: quorum as a percentage of the token supply at the snapshot.
    #[arg(long)]
    pub quorum_percent: Option<u64>,
    /// Timelock: seconds between queueing and executing.
    #[arg(long)]
    pub timelock_delay: Option<u64>,
    /// Treasury: pay ADDRESS=AMOUNT of work tokens from the treasury (repeatable).
    #[arg(long = "treasury-pay")]
    pub treasury_pay: Vec<String>,
}

pub async fn run(c: &GovCommand) -> Result<()> {
    match c {
        GovCommand::Delegate { to, chain } => {
            let s = Session::for_sending(chain).await?;
            let to = to.unwrap_or(s.me);
            s.run(vec![Step::new(
                "WorkToken",
                s.d.work_token,
                WorkToken::delegateCall { delegatee: to },
                format!("delegate({to})"),
                vec![to.to_string()],
            )])
            .await?;
            Ok(())
        }
        GovCommand::Propose(p) => {
            propose(
                &Session::for_sending(&p.chain).await?,
                &p.description,
                &p.changes,
            )
            .await
        }
        GovCommand::Vote {
            id,
            support,
            reason,
            chain,
        } => vote(&Session::for_sending(chain).await?, *id, *support, reason).await,
        GovCommand::Queue { id, chain } => queue(&Session::for_sending(chain).await?, *id).await,
        GovCommand::Execute { id, wait, chain } => {
            execute(&Session::for_sending(chain).await?, *id, *wait).await
        }
        GovCommand::Status {
            id,
            all,
            json,
            chain,
        } => status(&Session::for_reading(chain).await?, *id, *all, *json).await,
    }
}

fn governor(
    s: &Session,
) -> PeerflowGovernor::PeerflowGovernorInstance<&alloy::providers::DynProvider> {
    PeerflowGovernor::new(s.d.governor, &s.chain)
}

async fn work_token(s: &Session) -> Result<Token> {
    s.token(s.d.work_token).await
}

fn require_governance(s: &Session) -> Result<()> {
    if s.d.governor.is_zero() {
        bail!("this deployment has no governor (it was deployed before token-holder governance)");
    }
    Ok(())
}

/// One call of a proposal, with how a voter reads it.
struct Action {
    target: Address,
    data: Bytes,
    summary: String,
}

impl Action {
    fn new<C: SolCall>(target: Address, call: C, summary: String) -> Self {
        Self {
            target,
            data: call.abi_encode().into(),
            summary,
        }
    }
}

/// The calls `changes` make, reading the current values they leave unchanged.
async fn actions(s: &Session, token: &Token, c: &Changes) -> Result<Vec<Action>> {
    let mut out = Vec::new();
    let claims = FaultClaims::new(s.d.fault_claims, &s.chain);
    if c.slash_ppm.is_some()
        || c.finder_fee_ppm.is_some()
        || c.claim_bond.is_some()
        || c.claim_voting_period.is_some()
    {
        let now = claims.parameters().call().await?;
        let bond = match &c.claim_bond {
            Some(text) => u128::try_from(token.parse(text, "--claim-bond")?)
                .context("--claim-bond is too large")?,
            None => now.bond,
        };
        let params = IFaultClaims::Parameters {
            bond,
            votingPeriod: c.claim_voting_period.unwrap_or(now.votingPeriod),
            slashPpm: c.slash_ppm.unwrap_or(now.slashPpm),
            finderFeePpm: c.finder_fee_ppm.unwrap_or(now.finderFeePpm),
        };
        let summary = format!(
            "FaultClaims.setParameters: slash {} ppm, finder fee {} ppm, bond {}, voting period {} s",
            params.slashPpm,
            params.finderFeePpm,
            token.format(U256::from(params.bond)),
            params.votingPeriod
        );
        out.push(Action::new(
            s.d.fault_claims,
            FaultClaims::setParametersCall { params },
            summary,
        ));
    }
    if !c.add_members.is_empty() || !c.remove_members.is_empty() || c.committee_quorum.is_some() {
        let mut members = claims.committee().call().await?;
        for m in &c.remove_members {
            if !members.contains(m) {
                bail!("--remove-committee-member {m}: not a member of the committee");
            }
        }
        members.retain(|m| !c.remove_members.contains(m));
        for m in &c.add_members {
            if members.contains(m) {
                bail!("--add-committee-member {m}: already a member of the committee");
            }
            members.push(*m);
        }
        let quorum = c
            .committee_quorum
            .unwrap_or(u32::try_from(members.len() / 2 + 1).unwrap_or(u32::MAX));
        let summary = format!(
            "FaultClaims.setCommittee: {} members ({}), quorum {quorum}",
            members.len(),
            members
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        out.push(Action::new(
            s.d.fault_claims,
            FaultClaims::setCommitteeCall {
                members,
                quorum_: quorum,
            },
            summary,
        ));
    }
    if let Some(v) = c.committee_term {
        out.push(Action::new(
            s.d.fault_claims,
            FaultClaims::setTermLengthCall { termLength_: v },
            format!("FaultClaims.setTermLength({v} s)"),
        ));
    }
    if let Some(v) = c.unbonding_period {
        out.push(Action::new(
            s.d.staking,
            Staking::setUnbondingPeriodCall {
                unbondingPeriod_: U256::from(v),
            },
            format!("Staking.setUnbondingPeriod({v} rounds)"),
        ));
    }
    if let Some(v) = c.treasury_cut_ppb {
        out.push(Action::new(
            s.d.minter,
            Minter::setTreasuryRewardCutRateCall {
                rate: U256::from(v),
            },
            format!("Minter.setTreasuryRewardCutRate({v} ppb)"),
        ));
    }
    if let Some(text) = &c.treasury_ceiling {
        let v = token.parse(text, "--treasury-ceiling")?;
        out.push(Action::new(
            s.d.minter,
            Minter::setTreasuryBalanceCeilingCall { ceiling: v },
            format!("Minter.setTreasuryBalanceCeiling({})", token.format(v)),
        ));
    }
    if let Some(v) = c.inflation_change_ppb {
        out.push(Action::new(
            s.d.minter,
            Minter::setInflationChangeCall {
                inflationChange_: U256::from(v),
            },
            format!("Minter.setInflationChange({v} ppb)"),
        ));
    }
    if let Some(v) = c.target_bonding_rate_ppb {
        out.push(Action::new(
            s.d.minter,
            Minter::setTargetBondingRateCall {
                targetBondingRate_: U256::from(v),
            },
            format!("Minter.setTargetBondingRate({v} ppb)"),
        ));
    }
    if let Some(text) = &c.min_active_stake {
        let v = token.parse(text, "--min-active-stake")?;
        out.push(Action::new(
            s.d.staking,
            Staking::setMinActiveStakeCall { minActiveStake_: v },
            format!("Staking.setMinActiveStake({})", token.format(v)),
        ));
    }
    if let Some(text) = &c.min_self_bond {
        let v = token.parse(text, "--min-self-bond")?;
        out.push(Action::new(
            s.d.staking,
            Staking::setMinSelfBondCall { minSelfBond_: v },
            format!("Staking.setMinSelfBond({})", token.format(v)),
        ));
    }
    if let Some(v) = c.max_active {
        out.push(Action::new(
            s.d.staking,
            Staking::setMaxActiveCall {
                maxActive_: U256::from(v),
            },
            format!("Staking.setMaxActive({v})"),
        ));
    }
    let gov = s.d.governor;
    if let Some(v) = c.voting_delay {
        out.push(Action::new(
            gov,
            PeerflowGovernor::setVotingDelayCall {
                newVotingDelay: alloy::primitives::Uint::<48, 1>::from(v),
            },
            format!("Governor.setVotingDelay({v} blocks)"),
        ));
    }
    if let Some(v) = c.voting_period {
        out.push(Action::new(
            gov,
            PeerflowGovernor::setVotingPeriodCall {
                newVotingPeriod: u32::try_from(v).context("--voting-period is too large")?,
            },
            format!("Governor.setVotingPeriod({v} blocks)"),
        ));
    }
    if let Some(text) = &c.proposal_threshold {
        let v = token.parse(text, "--proposal-threshold")?;
        out.push(Action::new(
            gov,
            PeerflowGovernor::setProposalThresholdCall {
                newProposalThreshold: v,
            },
            format!("Governor.setProposalThreshold({})", token.format(v)),
        ));
    }
    if let Some(v) = c.quorum_percent {
        out.push(Action::new(
            gov,
            PeerflowGovernor::updateQuorumNumeratorCall {
                newQuorumNumerator: U256::from(v),
            },
            format!("Governor.updateQuorumNumerator({v}%)"),
        ));
    }
    if let Some(v) = c.timelock_delay {
        out.push(Action::new(
            s.d.timelock,
            PeerflowTimelock::updateDelayCall {
                newDelay: U256::from(v),
            },
            format!("Timelock.updateDelay({v} s)"),
        ));
    }
    for pay in &c.treasury_pay {
        let (to, amount) = pay
            .split_once('=')
            .with_context(|| format!("--treasury-pay {pay}: give ADDRESS=AMOUNT"))?;
        let to: Address = to
            .trim()
            .parse()
            .with_context(|| format!("--treasury-pay {pay}: not an address"))?;
        let amount = token.parse(amount, "--treasury-pay")?;
        out.push(Action::new(
            s.d.work_token,
            WorkToken::transferCall { to, value: amount },
            format!("treasury pays {} to {to}", token.format(amount)),
        ));
    }
    if out.is_empty() {
        bail!("a proposal needs at least one change (see `peerflow gov propose --help`)");
    }
    Ok(out)
}

/// Simulates each call as the timelock would make it; the first one the contracts refuse stops
/// the proposal.
async fn check_as_timelock(s: &Session, actions: &[Action]) -> Result<()> {
    for a in actions {
        let request = TransactionRequest::default()
            .with_from(s.d.timelock)
            .with_to(a.target)
            .with_input(a.data.clone());
        if let Err(e) = s.chain.call(request).await {
            let why = peerflow_chain::refusal::revert_data_of(&e)
                .and_then(|data| peerflow_chain::refusal::decode(&data, None))
                .map_or_else(|| e.to_string(), |r| r.to_string());
            bail!(
                "{}: the timelock could not make this call now ({why}); nothing was proposed",
                a.summary
            );
        }
    }
    Ok(())
}

async fn propose(s: &Session, description: &str, changes: &Changes) -> Result<()> {
    require_governance(s)?;
    if description.trim().is_empty() {
        bail!("--description must say what the proposal does");
    }
    // The governor accepts a description ending in `#proposer=ADDRESS` only from that address, so
    // nobody can copy a proposal from the mempool, propose it first and cancel it.
    let description = format!("{description}\n\n#proposer={}", s.me);
    let description = description.as_str();
    let token = work_token(s).await?;
    let actions = actions(s, &token, changes).await?;
    check_as_timelock(s, &actions).await?;
    let g = governor(s);
    let clock: u64 = g.clock().call().await?.to();
    let threshold = g.proposalThreshold().call().await?;
    let votes = g
        .getVotes(s.me, U256::from(clock.saturating_sub(1)))
        .call()
        .await?;
    if votes < threshold {
        bail!(
            "refused by rule: proposing needs {} of votes at the previous block; {} has {} \
             (delegate held tokens with `peerflow gov delegate`, or bond stake)",
            token.format(threshold),
            s.me,
            token.format(votes)
        );
    }
    println!("proposal: {description}");
    for (i, a) in actions.iter().enumerate() {
        println!("  call {}: {}", i + 1, a.summary);
    }
    let targets: Vec<Address> = actions.iter().map(|a| a.target).collect();
    let values = vec![U256::ZERO; actions.len()];
    let calldatas: Vec<Bytes> = actions.iter().map(|a| a.data.clone()).collect();
    let id = g
        .hashProposal(
            targets.clone(),
            values.clone(),
            calldatas.clone(),
            keccak256(description.as_bytes()),
        )
        .call()
        .await?;
    s.run(vec![Step::new(
        "Governor",
        s.d.governor,
        PeerflowGovernor::proposeCall {
            targets: targets.clone(),
            values: values.clone(),
            calldatas: calldatas.clone(),
            description: description.to_string(),
        },
        format!("propose({} calls, {description:?})", actions.len()),
        vec![
            format!(
                "[{}]",
                targets
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            format!(
                "[{}]",
                values
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            format!(
                "[{}]",
                calldatas
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            format!("{description:?}"),
        ],
    )])
    .await?;
    if !s.is_dry_run() {
        let p = governance::proposal(&s.chain, &s.d, id).await?;
        println!("proposal {id}");
        println!(
            "  voting opens after block {} and closes at block {}",
            p.snapshot, p.deadline
        );
    }
    Ok(())
}

/// Refuses unless proposal `id` is in `wanted`, saying what it waits for.
async fn require_state(
    s: &Session,
    id: U256,
    wanted: ProposalState,
    action: &str,
) -> Result<Proposal> {
    let p = governance::proposal(&s.chain, &s.d, id).await?;
    if p.state == wanted {
        return Ok(p);
    }
    let clock: u64 = governor(s).clock().call().await?.to();
    let why = match p.state {
        ProposalState::Pending => format!(
            "it is pending: voting opens after block {} (now {clock})",
            p.snapshot
        ),
        ProposalState::Active => {
            format!("its vote is open until block {} (now {clock})", p.deadline)
        }
        ProposalState::Succeeded => {
            "it passed and waits to be queued (`peerflow gov queue`)".into()
        }
        ProposalState::Queued => "it is queued in the timelock (`peerflow gov execute`)".into(),
        other => format!("it is {}", other.name()),
    };
    bail!("refused by rule: proposal {id} cannot be {action} now: {why}");
}

async fn vote(s: &Session, id: U256, support: Support, reason: &str) -> Result<()> {
    require_governance(s)?;
    let token = work_token(s).await?;
    let p = require_state(s, id, ProposalState::Active, "voted on").await?;
    let power = governance::voting_power(&s.chain, &s.d, s.me, p.snapshot).await?;
    let votes: U256 = power.votes.parse()?;
    let own: U256 = power.own_stake.parse()?;
    let g = governor(s);
    let delegate = power.stake_delegate;
    let can_override = !own.is_zero() && !delegate.is_zero() && delegate != s.me;
    let voted = g.hasVoted(id, s.me).call().await?;
    let overridden = g.hasVotedOverride(id, s.me).call().await?;
    let mut steps = Vec::new();
    if !votes.is_zero() && !voted {
        steps.push(Step::new(
            "Governor",
            s.d.governor,
            PeerflowGovernor::castVoteWithReasonCall {
                proposalId: id,
                support: support as u8,
                reason: reason.to_string(),
            },
            format!("castVote({id}, {support:?}, {})", token.format(votes)),
            vec![
                id.to_string(),
                (support as u8).to_string(),
                format!("{reason:?}"),
            ],
        ));
    }
    if can_override && !overridden {
        steps.push(Step::new(
            "Governor",
            s.d.governor,
            PeerflowGovernor::castOverrideVoteCall {
                proposalId: id,
                support: support as u8,
                reason: reason.to_string(),
            },
            format!(
                "castOverrideVote({id}, {support:?}, {} bonded to {delegate})",
                token.format(own)
            ),
            vec![
                id.to_string(),
                (support as u8).to_string(),
                format!("{reason:?}"),
            ],
        ));
    }
    if steps.is_empty() {
        if voted || overridden {
            bail!(
                "refused by rule: {} has already voted on proposal {id}",
                s.me
            );
        }
        bail!(
            "refused by rule: {} had no votes at the snapshot block {} (tokens count once \
             delegated — `peerflow gov delegate` — before a proposal's snapshot; bonded stake \
             counts for the orchestrator, or for you with an override)",
            s.me,
            p.snapshot
        );
    }
    s.run(steps).await?;
    if !s.is_dry_run() {
        let p = governance::proposal(&s.chain, &s.d, id).await?;
        print_tally(&p, &token);
    }
    Ok(())
}

async fn queue(s: &Session, id: U256) -> Result<()> {
    require_governance(s)?;
    require_state(s, id, ProposalState::Succeeded, "queued").await?;
    s.run(vec![Step::new(
        "Governor",
        s.d.governor,
        PeerflowGovernor::queue_1Call { proposalId: id },
        format!("queue({id})"),
        vec![id.to_string()],
    )])
    .await?;
    if !s.is_dry_run() {
        let p = governance::proposal(&s.chain, &s.d, id).await?;
        println!(
            "proposal {id} queued: executable from {} (unix time)",
            p.eta
        );
    }
    Ok(())
}

async fn execute(s: &Session, id: U256, wait: bool) -> Result<()> {
    require_governance(s)?;
    let p = require_state(s, id, ProposalState::Queued, "executed").await?;
    loop {
        let now = latest_timestamp(s).await?;
        if now >= p.eta {
            break;
        }
        if !wait {
            bail!(
                "refused by rule: the timelock holds proposal {id} until {} ({} s from the last \
                 block); give --wait to wait for it",
                p.eta,
                p.eta - now
            );
        }
        println!(
            "waiting for the timelock: executable in {} s (block time {now}, eta {})",
            p.eta - now,
            p.eta
        );
        tokio::time::sleep(Duration::from_secs((p.eta - now).clamp(1, 5))).await;
    }
    s.run(vec![Step::new(
        "Governor",
        s.d.governor,
        PeerflowGovernor::execute_1Call { proposalId: id },
        format!("execute({id})"),
        vec![id.to_string()],
    )])
    .await?;
    if !s.is_dry_run() {
        println!("proposal {id} executed:");
        for c in &p.calls {
            println!("  {}", c.summary);
        }
    }
    Ok(())
}

async fn latest_timestamp(s: &Session) -> Result<u64> {
    let block = s
        .chain
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .context("the node has no latest block")?;
    Ok(block.header.timestamp)
}

async fn status(s: &Session, id: Option<U256>, all: bool, json: bool) -> Result<()> {
    require_governance(s)?;
    let token = work_token(s).await?;
    let settings = governance::settings(&s.chain, &s.d).await?;
    let power =
        governance::voting_power(&s.chain, &s.d, s.me, settings.clock.saturating_sub(1)).await?;
    let proposals: Vec<Proposal> = match id {
        Some(id) => vec![governance::proposal(&s.chain, &s.d, id).await?],
        None => governance::proposals(&s.chain, &s.d)
            .await?
            .into_iter()
            .rev()
            .filter(|p| all || p.state.is_open())
            .collect(),
    };
    if json {
        let value = serde_json::json!({
            "settings": settings,
            "voting_power": power,
            "proposals": proposals,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let amount = |v: &str| token.format(v.parse().unwrap_or_default());
    println!(
        "governor  {} (timelock {})",
        settings.governor, settings.timelock
    );
    println!(
        "rules     voting delay {} blocks, voting period {} blocks, threshold {}, quorum {}% of supply, timelock {} s",
        settings.voting_delay,
        settings.voting_period,
        amount(&settings.proposal_threshold),
        settings.quorum_numerator * 100 / settings.quorum_denominator.max(1),
        settings.timelock_delay
    );
    println!(
        "you       {}: {} of votes (tokens {}), own bonded stake {}{}",
        s.me,
        amount(&power.votes),
        amount(&power.token_votes),
        amount(&power.own_stake),
        if power.token_delegate.is_zero() {
            " — held tokens not delegated: `peerflow gov delegate` makes them count"
        } else {
            ""
        }
    );
    if proposals.is_empty() {
        println!("no {}proposals", if all { "" } else { "open " });
    }
    for p in &proposals {
        println!();
        println!("proposal {} [{}]", p.id, p.state.name());
        println!("  {}", p.description);
        println!(
            "  proposer {}; snapshot block {}; vote ends at block {}{}",
            p.proposer,
            p.snapshot,
            p.deadline,
            if p.eta > 0 {
                format!("; executable from {} (unix time)", p.eta)
            } else {
                String::new()
            }
        );
        for c in &p.calls {
            println!("  call {}", c.summary);
        }
        print_tally(p, &token);
    }
    Ok(())
}

fn print_tally(p: &Proposal, token: &Token) {
    let amount = |v: &str| token.format(v.parse().unwrap_or_default());
    println!(
        "  votes: for {}, against {}, abstain {}; quorum {}",
        amount(&p.tally.for_votes),
        amount(&p.tally.against),
        amount(&p.tally.abstain),
        p.quorum
            .as_deref()
            .map_or_else(|| "known after the snapshot".into(), amount)
    );
}
