//! What a token holder reads before and after acting: an account's position (delegate, stake with
//! rewards, fees, unbonding locks, wallet balance), the registered orchestrators, and each
//! orchestrator's yield per staked token round by round, from its pool factors at round
//! boundaries (historical reads: the RPC must serve the state of past blocks, as anvil and archive
//! nodes do).

use alloy::eips::BlockId;
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;

use crate::ChainError;
use crate::bindings::staking::{IStaking, Staking};
use crate::bindings::work_token::WorkToken;
use crate::deploy::Deployment;
use crate::logscan::scan_to_head;

/// 1 token in wei: yields are in wei earned per token staked.
const TOKEN: u128 = 1_000_000_000_000_000_000;

/// An account's stake position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub account: Address,
    /// The orchestrator it delegates to (itself for an orchestrator); `None` when not bonded.
    pub delegate: Option<Address>,
    /// Bonded stake including rewards not yet claimed (`pendingStake`), wei.
    pub stake: U256,
    /// Fees earned and not withdrawn (`pendingFees`), wei.
    pub fees: U256,
    /// Work tokens in the wallet, wei.
    pub balance: U256,
    /// Unbonding locks not yet withdrawn or rebonded.
    pub locks: Vec<Lock>,
    /// Held by an open fault claim: cannot unbond or re-delegate.
    pub frozen: bool,
    pub current_round: u64,
}

/// Stake on its way out, withdrawable from `withdraw_round`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub id: u64,
    pub amount: U256,
    pub withdraw_round: u64,
}

/// What one staked token earned for its holder in one round (or part of the current one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundYield {
    pub round: u64,
    /// Reward tokens per staked token, in wei (1e18 = the stake doubled).
    pub reward_per_token: U256,
    /// Fees per staked token, in fee-token wei.
    pub fee_per_token: U256,
    /// False for the round in progress (its yield so far).
    pub complete: bool,
}

/// An orchestrator as a delegator compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrchestratorSummary {
    pub address: Address,
    pub info: Info,
    /// What a slash for this orchestrator's faults can take (`slashableStake`): its own bonded
    /// stake and unbonding locks. Delegated stake (`info.stake` beyond this) is not at risk.
    pub slashable: U256,
    /// The most recent rounds, oldest first, the current one last.
    pub yields: Vec<RoundYield>,
    /// Sums over `yields`.
    pub reward_per_token: U256,
    pub fee_per_token: U256,
}

/// `IStaking.OrchestratorInfo` in serializable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub registered: bool,
    pub in_active_set: bool,
    pub active_this_round: bool,
    pub reward_cut_ppm: u32,
    pub fee_share_ppm: u32,
    pub stake: U256,
    pub last_reward_round: u64,
}

impl From<IStaking::OrchestratorInfo> for Info {
    fn from(i: IStaking::OrchestratorInfo) -> Self {
        Self {
            registered: i.registered,
            in_active_set: i.inActiveSet,
            active_this_round: i.activeThisRound,
            reward_cut_ppm: i.rewardCut,
            fee_share_ppm: i.feeShare,
            stake: i.stake,
            last_reward_round: i.lastRewardRound.saturating_to(),
        }
    }
}

/// `account`'s position now.
pub async fn position<P: Provider>(
    provider: &P,
    d: &Deployment,
    account: Address,
) -> Result<Position, ChainError> {
    let staking = Staking::new(d.staking, provider);
    let delegate = staking.delegateOf(account).call().await?;
    let mut locks = Vec::new();
    for id in lock_ids(provider, d, account).await? {
        let lock = staking
            .unbondingLock(account, U256::from(id))
            .call()
            .await?;
        if lock.amount > 0 {
            locks.push(Lock {
                id,
                amount: U256::from(lock.amount),
                withdraw_round: lock.withdrawRound,
            });
        }
    }
    Ok(Position {
        account,
        delegate: (!delegate.is_zero()).then_some(delegate),
        stake: staking.pendingStake(account).call().await?,
        fees: staking.pendingFees(account).call().await?,
        balance: WorkToken::new(d.work_token, provider)
            .balanceOf(account)
            .call()
            .await?,
        locks,
        frozen: staking.frozen(account).call().await?,
        current_round: staking.currentRound().call().await?.saturating_to(),
    })
}

/// The ids of every unbonding lock `account` opened (from its `Unbond` events).
async fn lock_ids<P: Provider>(
    provider: &P,
    d: &Deployment,
    account: Address,
) -> Result<Vec<u64>, ChainError> {
    let filter = Filter::new()
        .address(d.staking)
        .event_signature(Staking::Unbond::SIGNATURE_HASH)
        .topic1(account.into_word());
    let logs = scan_to_head(provider, filter, d.scan_from()).await?;
    Ok(logs
        .iter()
        .filter_map(|l| Staking::Unbond::decode_log(&l.inner).ok())
        .map(|e| e.data.lockId.saturating_to())
        .collect())
}

/// Every account that ever registered as an orchestrator, in registration order.
pub async fn registered_orchestrators<P: Provider>(
    provider: &P,
    d: &Deployment,
) -> Result<Vec<Address>, ChainError> {
    let filter = Filter::new()
        .address(d.staking)
        .event_signature(Staking::OrchestratorRegistered::SIGNATURE_HASH);
    let logs = scan_to_head(provider, filter, d.scan_from()).await?;
    let mut out: Vec<Address> = Vec::new();
    for l in &logs {
        if let Ok(e) = Staking::OrchestratorRegistered::decode_log(&l.inner)
            && !out.contains(&e.data.orchestrator)
        {
            out.push(e.data.orchestrator);
        }
    }
    Ok(out)
}

/// `orchestrator`'s info and its yield in each of the last `rounds` rounds (the current one
/// included, as far as it went).
pub async fn summary<P: Provider>(
    provider: &P,
    d: &Deployment,
    orchestrator: Address,
    rounds: u64,
) -> Result<OrchestratorSummary, ChainError> {
    let staking = Staking::new(d.staking, provider);
    let info: Info = staking.orchestratorInfo(orchestrator).call().await?.into();
    let slashable = staking.slashableStake(orchestrator).call().await?;
    let latest = provider.get_block_number().await.map_err(rpc)?;
    let current = latest.saturating_sub(d.start_block) / d.round_length;
    let first = current.saturating_sub(rounds.saturating_sub(1));
    let mut yields = Vec::new();
    for round in first..=current {
        let from = boundary(d, round);
        let to = if round == current {
            latest
        } else {
            boundary(d, round + 1)
        };
        yields.push(RoundYield {
            round,
            complete: round < current,
            ..yield_between(provider, d, orchestrator, from, to).await?
        });
    }
    Ok(OrchestratorSummary {
        address: orchestrator,
        info,
        slashable,
        reward_per_token: yields.iter().map(|y| y.reward_per_token).sum(),
        fee_per_token: yields.iter().map(|y| y.fee_per_token).sum(),
        yields,
    })
}

/// The last block of the round before `round` (the state a round starts from).
fn boundary(d: &Deployment, round: u64) -> u64 {
    (d.start_block + round * d.round_length)
        .saturating_sub(1)
        .max(d.start_block)
}

/// What one token staked with `orchestrator` at the end of block `from` earned by the end of block
/// `to`: the reward factor's growth and the fee factor's increase over the reward factor.
pub async fn yield_between<P: Provider>(
    provider: &P,
    d: &Deployment,
    orchestrator: Address,
    from: u64,
    to: u64,
) -> Result<RoundYield, ChainError> {
    let staking = Staking::new(d.staking, provider);
    let at = |block: u64| {
        let call = staking
            .poolFactors(orchestrator)
            .block(BlockId::number(block));
        async move { call.call().await }
    };
    let (before, after) = (at(from).await?, at(to).await?);
    let (crf0, cff0) = (before.rewardFactor, before.feeFactor);
    let (crf1, cff1) = (after.rewardFactor, after.feeFactor);
    let per_token = |delta: U256| {
        if crf0.is_zero() {
            U256::ZERO // no pool yet at `from`
        } else {
            delta * U256::from(TOKEN) / crf0
        }
    };
    Ok(RoundYield {
        round: from.saturating_sub(d.start_block) / d.round_length,
        reward_per_token: per_token(crf1.saturating_sub(crf0)),
        fee_per_token: per_token(cff1.saturating_sub(cff0)),
        complete: true,
    })
}

fn rpc(e: alloy::transports::TransportError) -> ChainError {
    ChainError::Contract(alloy::contract::Error::from(e))
}
