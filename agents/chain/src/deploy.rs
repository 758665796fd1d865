//! Deploys and wires the whole suite exactly as `script/SuiteDeployer.sol` does, from the bytecode in
//! `abi/`, and reads or writes the deployment file (the same JSON the forge deploy script writes).

use std::path::Path;

use alloy::primitives::{Address, U256, utils::parse_ether};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use serde::{Deserialize, Serialize};

use crate::ChainError;
use crate::bindings::{
    fault_claims::{FaultClaims, IFaultClaims},
    job_escrow::JobEscrow,
    minter::Minter,
    service_registry::ServiceRegistry,
    staking::Staking,
    stream_support::StreamSupport,
    ticket_broker::TicketBroker,
    vesting_wallet::VestingWallet,
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
        p.deployer,
    )
    .await?;
    execute(staking.setVerifier(*claims.address())).await?;
    // Last, as in SuiteDeployer: every earlier address is the same with or without it.
    let support = StreamSupport::deploy(provider, *token.address()).await?;

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
        team_vesting: *team.address(),
        treasury_vesting: *treasury.address(),
    })
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
