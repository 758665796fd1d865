//! Deploys and wires the whole suite exactly as `script/SuiteDeployer.sol` does, from the bytecode in
//! `abi/`, and reads or writes the deployment file (the same JSON the forge deploy script writes).

use std::path::Path;

use alloy::primitives::{Address, B256, Bytes, U256, utils::parse_ether};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolCall;
use serde::{Deserialize, Serialize};

use crate::ChainError;
use crate::bindings::{
    fault_claims::{FaultClaims, IFaultClaims},
    governor::{IPeerflowGovernor, PeerflowGovernor},
    job_escrow::JobEscrow,
    minter::Minter,
    service_registry::ServiceRegistry,
    staking::Staking,
    stream_support::StreamSupport,
    ticket_broker::TicketBroker,
    timelock::PeerflowTimelock,
    vesting_wallet::VestingWallet,
    vote_power::VotePower,
    work_token::WorkToken,
};

/// Deployment parameters; [`SuiteParams::devnet`] matches `SuiteDeployer.devnetParams`.
#[derive(Debug, Clone)]
pub struct SuiteParams {
    pub deployer: Address,
    pub team: Address,
    pub treasury: Address,
    pub liquid_supply: U256,
    pub team_supply: U256,
    pub treasury_supply: U256,
    pub vesting_start: u64,
    pub vesting_duration: u64,
    pub round_length: u64,
    pub lock_blocks: u64,
    pub unbonding_period: u64,
    pub rate_change_cooldown: u64,
    pub min_active_stake: U256,
    pub max_active: u64,
    pub inflation: u64,
    pub inflation_change: u64,
    pub target_bonding_rate: u64,
    pub unlock_period: u64,
    pub ticket_validity: u64,
    /// The ERC-20 tickets are paid in; `None`: the work token.
    pub fee_token: Option<Address>,
    /// Seconds a compute-job dispute may stay undecided after its deadline and review period.
    pub dispute_period: u64,
    /// The fault-claim committee (FaultClaims is Staking's slashing verifier).
    pub committee: Vec<Address>,
    /// Votes that decide a fault claim (more than half the committee).
    pub quorum: u32,
    /// Work tokens a claimant posts with a fault claim.
    pub claim_bond: U256,
    /// Seconds a fault claim stays open for votes.
    pub claim_voting_period: u64,
    /// Share of an orchestrator's own stake an upheld claim slashes, parts per million.
    pub slash_ppm: u32,
    /// Share of the penalty paid to the claimant, parts per million.
    pub finder_fee_ppm: u32,
    /// Seconds a fault-claim committee's term lasts (it keeps serving past it until replaced).
    pub committee_term: u64,
    /// Token-holder governance (see [`Governance`]).
    pub governance: Governance,
}

/// The governor's and timelock's settings at deployment, and the bounds governance may later move
/// them within. Votes are counted in blocks (held tokens delegated on the work token plus bonded
/// stake); the timelock's delay in seconds.
#[derive(Debug, Clone)]
pub struct Governance {
    /// Blocks from a proposal to its snapshot (when voting opens).
    pub voting_delay: u64,
    /// Blocks a vote lasts.
    pub voting_period: u32,
    /// Votes needed to propose.
    pub proposal_threshold: U256,
    /// For + abstain votes needed, percent of the token supply at the snapshot.
    pub quorum_percent: u64,
    /// Seconds between queueing a passed proposal and executing it.
    pub timelock_delay: u64,
    pub timelock_min_delay: u64,
    pub timelock_max_delay: u64,
    pub max_voting_delay: u64,
    pub min_voting_period: u32,
    pub max_voting_period: u32,
    pub max_proposal_threshold: U256,
    pub min_quorum_percent: u64,
    pub max_quorum_percent: u64,
    /// Parts per billion of each round's inflation minted to the treasury (the timelock).
    pub treasury_reward_cut_rate: u64,
    /// The treasury's share stops once it holds this much.
    pub treasury_balance_ceiling: U256,
}

impl Governance {
    /// For an anvil mining a block a second (as `script/SuiteDeployer.sol`'s devnet parameters): a
    /// vote opens a block after its proposal and lasts 20 blocks, the timelock waits 10 s; threshold
    /// 100 tokens, quorum 4 %; 10 % of inflation to the treasury up to 750,000 tokens (LIP-92).
    pub fn devnet() -> Self {
        Self {
            voting_delay: 1,
            voting_period: 20,
            proposal_threshold: parse_ether("100").expect("constant"),
            quorum_percent: 4,
            timelock_delay: 10,
            timelock_min_delay: 1,
            timelock_max_delay: 30 * 24 * 3600,
            max_voting_delay: 50_400,
            min_voting_period: 5,
            max_voting_period: 201_600,
            max_proposal_threshold: parse_ether("1000000").expect("constant"),
            min_quorum_percent: 1,
            max_quorum_percent: 33,
            treasury_reward_cut_rate: 100_000_000,
            treasury_balance_ceiling: parse_ether("750000").expect("constant"),
        }
    }
}

impl SuiteParams {
    /// Local-devnet defaults: short rounds so that a demo sees several of them. The fault-claim
    /// committee is the deployer alone (quorum 1); see [`SuiteParams::with_committee`].
    pub fn devnet(deployer: Address) -> Self {
        Self {
            deployer,
            team: deployer,
            treasury: deployer,
            liquid_supply: parse_ether("10000000").expect("constant"),
            team_supply: parse_ether("2000000").expect("constant"),
            treasury_supply: parse_ether("3000000").expect("constant"),
            vesting_start: 0,
            vesting_duration: 4 * 365 * 24 * 3600,
            round_length: 50,
            lock_blocks: 5,
            unbonding_period: 7,
            rate_change_cooldown: 2,
            min_active_stake: parse_ether("1").expect("constant"),
            max_active: 100,
            inflation: 218_500,
            inflation_change: 500,
            target_bonding_rate: 500_000_000,
            unlock_period: 3,
            ticket_validity: 2,
            fee_token: None,
            dispute_period: 24 * 3600,
            committee: vec![deployer],
            quorum: 1,
            claim_bond: parse_ether("10").expect("constant"),
            claim_voting_period: 24 * 3600,
            slash_ppm: 250_000,
            finder_fee_ppm: 500_000,
            committee_term: 30 * 24 * 3600,
            governance: Governance::devnet(),
        }
    }

    /// The same parameters with another fault-claim committee and quorum.
    pub fn with_committee(mut self, committee: Vec<Address>, quorum: u32) -> Self {
        self.committee = committee;
        self.quorum = quorum;
        self
    }
}

/// Addresses of a deployed suite; the JSON keys are those of `script/Deploy.s.sol`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    #[serde(rename = "chainId")]
    pub chain_id: u64,
    /// The block the staking contract was deployed in (round 0 starts there).
    #[serde(rename = "startBlock")]
    pub start_block: u64,
    /// No contract of the suite existed before this block: every event scan starts here. Files
    /// written before it was recorded fall back to `startBlock`.
    #[serde(rename = "deploymentBlock", default)]
    pub deployment_block: Option<u64>,
    #[serde(rename = "roundLength")]
    pub round_length: u64,
    pub deployer: Address,
    #[serde(rename = "WorkToken")]
    pub work_token: Address,
    #[serde(rename = "Staking")]
    pub staking: Address,
    #[serde(rename = "Minter")]
    pub minter: Address,
    #[serde(rename = "TicketBroker")]
    pub ticket_broker: Address,
    #[serde(rename = "ServiceRegistry")]
    pub service_registry: Address,
    #[serde(rename = "JobEscrow")]
    pub job_escrow: Address,
    #[serde(rename = "FaultClaims")]
    pub fault_claims: Address,
    /// Tips and subscriptions (viewers pay streamers). Files written before it existed load with
    /// the zero address: no StreamSupport on that deployment.
    #[serde(rename = "StreamSupport", default)]
    pub stream_support: Address,
    /// Token-holder governance: the timelock that owns every contract, the governor that schedules
    /// on it, and the governor's vote source. Files written before governance existed load with
    /// zero addresses: no governance on that deployment.
    #[serde(rename = "Timelock", default)]
    pub timelock: Address,
    #[serde(rename = "Governor", default)]
    pub governor: Address,
    #[serde(rename = "VotePower", default)]
    pub vote_power: Address,
    #[serde(rename = "TeamVesting")]
    pub team_vesting: Address,
    #[serde(rename = "TreasuryVesting")]
    pub treasury_vesting: Address,
}

impl Deployment {
    /// Where event scans start: the deployment block (never block 0 of a long chain).
    pub fn scan_from(&self) -> u64 {
        self.deployment_block.unwrap_or(self.start_block)
    }

    pub fn load(path: &Path) -> Result<Self, ChainError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ChainError::DeploymentFile(format!("{}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| ChainError::DeploymentFile(format!("{}: {e}", path.display())))
    }

    pub fn save(&self, path: &Path) -> Result<(), ChainError> {
        let text = serde_json::to_string_pretty(self).expect("serializable");
        std::fs::write(path, text)
            .map_err(|e| ChainError::DeploymentFile(format!("{}: {e}", path.display())))
    }
}

/// Deploys and wires the suite with `provider`'s wallet as deployer and staking owner.
pub async fn deploy_suite<P: Provider>(
    provider: &P,
    p: &SuiteParams,
) -> Result<Deployment, ChainError> {
    let deployment_block = provider
        .get_block_number()
        .await
        .map_err(alloy::contract::Error::from)?
        + 1;
    let team = VestingWallet::deploy(provider, p.team, p.vesting_start, p.vesting_duration).await?;
    let treasury =
        VestingWallet::deploy(provider, p.treasury, p.vesting_start, p.vesting_duration).await?;
    let token = WorkToken::deploy(
        provider,
        "peerflow Work Token".into(),
        "FLOW".into(),
        vec![p.deployer, *team.address(), *treasury.address()],
        vec![p.liquid_supply, p.team_supply, p.treasury_supply],
    )
    .await?;
    let staking = Staking::deploy(
        provider,
        *token.address(),
        U256::from(p.round_length),
        U256::from(p.lock_blocks),
        U256::from(p.unbonding_period),
        U256::from(p.rate_change_cooldown),
        p.min_active_stake,
        U256::from(p.max_active),
        p.deployer,
    )
    .await?;
    let minter = Minter::deploy(
        provider,
        *token.address(),
        *staking.address(),
        U256::from(p.inflation),
        U256::from(p.inflation_change),
        U256::from(p.target_bonding_rate),
        p.deployer,
    )
    .await?;
    execute(token.setMinter(*minter.address())).await?;
    let broker = TicketBroker::deploy(
        provider,
        p.fee_token.unwrap_or(*token.address()),
        *staking.address(),
        U256::from(p.unlock_period),
        U256::from(p.ticket_validity),
    )
    .await?;
    let registry = ServiceRegistry::deploy(provider, *staking.address()).await?;
    let escrow =
        JobEscrow::deploy(provider, *token.address(), U256::from(p.dispute_period)).await?;
    execute(staking.wire(*minter.address(), *broker.address())).await?;
    let bond = u128::try_from(p.claim_bond)
        .map_err(|_| ChainError::Parameters("claim bond exceeds uint128".into()))?;
    let claims = FaultClaims::deploy(
        provider,
        *token.address(),
        *staking.address(),
        IFaultClaims::Parameters {
            bond,
            votingPeriod: p.claim_voting_period,
            slashPpm: p.slash_ppm,
            finderFeePpm: p.finder_fee_ppm,
        },
        p.committee.clone(),
        p.quorum,
        p.committee_term,
        p.deployer,
    )
    .await?;
    execute(staking.setVerifier(*claims.address())).await?;
    // Last, as in SuiteDeployer: every earlier address is the same with or without it.
    let support = StreamSupport::deploy(provider, *token.address()).await?;
    let gov = deploy_governance(provider, p, &token, &staking, &minter, &claims, &treasury).await?;

    Ok(Deployment {
        chain_id: provider
            .get_chain_id()
            .await
            .map_err(alloy::contract::Error::from)?,
        start_block: staking.startBlock().call().await?.to(),
        deployment_block: Some(deployment_block),
        round_length: p.round_length,
        deployer: p.deployer,
        work_token: *token.address(),
        staking: *staking.address(),
        minter: *minter.address(),
        ticket_broker: *broker.address(),
        service_registry: *registry.address(),
        job_escrow: *escrow.address(),
        fault_claims: *claims.address(),
        stream_support: *support.address(),
        timelock: gov.timelock,
        governor: gov.governor,
        vote_power: gov.vote_power,
        team_vesting: *team.address(),
        treasury_vesting: *treasury.address(),
    })
}

/// The governance contracts of a deployment.
struct GovernanceAddresses {
    vote_power: Address,
    timelock: Address,
    governor: Address,
}

/// G1–G9 of `script/SuiteDeployer.sol`, transaction by transaction: the vote source, the timelock
/// (delay 0, the deployer its only proposer and executor for the bootstrap) and the governor; every
/// owned contract handed to the timelock; then one timelock batch that accepts the ownerships, sets
/// the treasury's share, gives the governor its roles, takes the deployer's away and sets the real
/// delay. Afterwards the deployer owns nothing and holds no role.
async fn deploy_governance<P: Provider>(
    provider: &P,
    p: &SuiteParams,
    token: &WorkToken::WorkTokenInstance<&P>,
    staking: &Staking::StakingInstance<&P>,
    minter: &Minter::MinterInstance<&P>,
    claims: &FaultClaims::FaultClaimsInstance<&P>,
    treasury: &VestingWallet::VestingWalletInstance<&P>,
) -> Result<GovernanceAddresses, ChainError> {
    let g = &p.governance;
    let vote_power = VotePower::deploy(provider, *token.address(), *staking.address()).await?;
    let timelock = PeerflowTimelock::deploy(
        provider,
        U256::ZERO,
        vec![p.deployer],
        vec![p.deployer],
        Address::ZERO,
        U256::from(g.timelock_min_delay),
        U256::from(g.timelock_max_delay),
    )
    .await?;
    let governor = PeerflowGovernor::deploy(
        provider,
        *vote_power.address(),
        *timelock.address(),
        PeerflowGovernor::Settings {
            votingDelay: alloy::primitives::Uint::<48, 1>::from(g.voting_delay),
            votingPeriod: g.voting_period,
            proposalThreshold: g.proposal_threshold,
            quorumNumerator: U256::from(g.quorum_percent),
        },
        IPeerflowGovernor::Bounds {
            maxVotingDelay: alloy::primitives::Uint::<48, 1>::from(g.max_voting_delay),
            minVotingPeriod: g.min_voting_period,
            maxVotingPeriod: g.max_voting_period,
            maxProposalThreshold: g.max_proposal_threshold,
            minQuorumNumerator: U256::from(g.min_quorum_percent),
            maxQuorumNumerator: U256::from(g.max_quorum_percent),
        },
    )
    .await?;
    let t = *timelock.address();
    execute(staking.transferOwnership(t)).await?;
    execute(minter.transferOwnership(t)).await?;
    execute(claims.transferOwnership(t)).await?;
    if p.treasury == p.deployer {
        execute(treasury.transferOwnership(t)).await?;
    }
    let proposer = timelock.PROPOSER_ROLE().call().await?;
    let canceller = timelock.CANCELLER_ROLE().call().await?;
    let executor = timelock.EXECUTOR_ROLE().call().await?;
    let gov = *governor.address();
    let calls: Vec<(Address, Bytes)> = vec![
        (
            *staking.address(),
            Staking::acceptOwnershipCall {}.abi_encode().into(),
        ),
        (
            *minter.address(),
            Minter::acceptOwnershipCall {}.abi_encode().into(),
        ),
        (
            *claims.address(),
            FaultClaims::acceptOwnershipCall {}.abi_encode().into(),
        ),
        (
            *minter.address(),
            Minter::setTreasuryCall { treasury_: t }.abi_encode().into(),
        ),
        (
            *minter.address(),
            Minter::setTreasuryBalanceCeilingCall {
                ceiling: g.treasury_balance_ceiling,
            }
            .abi_encode()
            .into(),
        ),
        (
            *minter.address(),
            Minter::setTreasuryRewardCutRateCall {
                rate: U256::from(g.treasury_reward_cut_rate),
            }
            .abi_encode()
            .into(),
        ),
        (t, grant(proposer, gov)),
        (t, grant(canceller, gov)),
        (t, grant(executor, gov)),
        (t, revoke(proposer, p.deployer)),
        (t, revoke(canceller, p.deployer)),
        (t, revoke(executor, p.deployer)),
        (
            t,
            PeerflowTimelock::updateDelayCall {
                newDelay: U256::from(g.timelock_delay),
            }
            .abi_encode()
            .into(),
        ),
    ];
    let targets: Vec<Address> = calls.iter().map(|(a, _)| *a).collect();
    let payloads: Vec<Bytes> = calls.into_iter().map(|(_, d)| d).collect();
    let values = vec![U256::ZERO; targets.len()];
    execute(timelock.scheduleBatch(
        targets.clone(),
        values.clone(),
        payloads.clone(),
        B256::ZERO,
        B256::ZERO,
        U256::ZERO,
    ))
    .await?;
    execute(timelock.executeBatch(targets, values, payloads, B256::ZERO, B256::ZERO)).await?;
    Ok(GovernanceAddresses {
        vote_power: *vote_power.address(),
        timelock: t,
        governor: gov,
    })
}

fn grant(role: B256, account: Address) -> Bytes {
    PeerflowTimelock::grantRoleCall { role, account }
        .abi_encode()
        .into()
}

fn revoke(role: B256, account: Address) -> Bytes {
    PeerflowTimelock::revokeRoleCall { role, account }
        .abi_encode()
        .into()
}

/// Sends a contract call, waits for it to be mined (replacing it while it is stuck) and to be as
/// deep as the process's policy asks (sending it again if a reorg took it out, see
/// [`crate::send`]), and fails if it reverted.
pub async fn execute<P: Provider + Clone, D: alloy::contract::CallDecoder + Clone>(
    call: alloy::contract::CallBuilder<P, D>,
) -> Result<TransactionReceipt, ChainError> {
    confirm(crate::send::until_confirmed(&call).await?)
}

/// The first `E` event a mined transaction emitted, if any.
pub fn event_in<E: alloy::sol_types::SolEvent>(receipt: &TransactionReceipt) -> Option<E> {
    receipt
        .inner
        .logs()
        .iter()
        .find_map(|l| E::decode_log(&l.inner).ok().map(|d| d.data))
}

/// Fails if a mined transaction reverted.
pub fn confirm(receipt: TransactionReceipt) -> Result<TransactionReceipt, ChainError> {
    if receipt.status() {
        Ok(receipt)
    } else {
        Err(ChainError::Reverted(receipt.transaction_hash))
    }
}
