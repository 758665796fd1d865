//! What this orchestrator has earned, as the chain records it, read at one block so the figures
//! are consistent: its bonded stake with rewards (`Staking.pendingStake`), its pool's stake, its
//! claimable fees (`Staking.pendingFees`), the winning tickets the TicketBroker credited to it
//! (`WinningTicketRedeemed` events naming it as recipient) and its `reward()` calls (`Reward`
//! events). Events are scanned incrementally from the deployment's start block, in windows that
//! adapt to the provider's caps (`peerflow_chain::logscan`), so each read fetches only the blocks
//! since the last one.

use alloy::eips::BlockId;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use peerflow_chain::bindings::staking::Staking;
use peerflow_chain::bindings::ticket_broker::TicketBroker;
use peerflow_chain::logscan::LogScanner;
use tokio::sync::Mutex;

/// The `E` events among `logs`, each with its log.
fn decoded<E: alloy::sol_types::SolEvent>(
    logs: Vec<alloy::rpc::types::Log>,
) -> Vec<(E, alloy::rpc::types::Log)> {
    logs.into_iter()
        .filter_map(|l| Some((E::decode_log(&l.inner).ok()?.data, l)))
        .collect()
}

/// Reward calls kept (newest); totals cover every call.
pub const REWARDS_KEPT: usize = 50;

/// A chain read failed.
#[derive(Debug, thiserror::Error)]
#[error("chain read failed: {0}")]
pub struct EarningsError(String);

fn err(e: impl std::fmt::Display) -> EarningsError {
    EarningsError(e.to_string())
}

/// One `reward()` call of this orchestrator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RewardCall {
    pub round: u64,
    /// Minted into the pool.
    pub minted: U256,
    /// The orchestrator's own cut of `minted`.
    pub cut: U256,
    pub block: u64,
    /// Unix seconds of its block.
    pub timestamp: u64,
    pub tx: Option<B256>,
}

/// The earnings at `block`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earnings {
    pub block: u64,
    /// `Staking.pendingStake(me)`: its own bond with the rewards it earned.
    pub bonded_stake: U256,
    /// `Staking.orchestratorInfo(me).stake`: its pool (its bond and its delegators').
    pub pool_stake: U256,
    /// `Staking.pendingFees(me)`: fees it can withdraw.
    pub pending_fees: U256,
    /// Winning tickets the broker paid it: how many, and their face value.
    pub redeemed_count: u64,
    pub redeemed_face_value: U256,
    /// Every `reward()` call: how many, the total minted, and the newest [`REWARDS_KEPT`] (newest
    /// first).
    pub reward_count: u64,
    pub reward_minted: U256,
    pub rewards: Vec<RewardCall>,
}

/// Where the scan is and what it counted: kept in the orchestrator's database
/// ([`EarningsReader::resume`], [`EarningsReader::read`]'s `persist`), so that a restart goes on
/// from there instead of scanning from the deployment again.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Scan {
    next_block: u64,
    redeemed_count: u64,
    redeemed_face_value: U256,
    reward_count: u64,
    reward_minted: U256,
    /// Oldest first.
    rewards: Vec<RewardCall>,
}

/// The incremental reader.
#[derive(Debug)]
pub struct EarningsReader {
    scan: Mutex<Scan>,
}

impl EarningsReader {
    /// Scans events from `from_block` (the deployment's start block) on.
    pub fn new(from_block: u64) -> Self {
        Self {
            scan: Mutex::new(Scan {
                next_block: from_block,
                redeemed_count: 0,
                redeemed_face_value: U256::ZERO,
                reward_count: 0,
                reward_minted: U256::ZERO,
                rewards: Vec::new(),
            }),
        }
    }

    /// Goes on from a scan state `persist` saved (unless it is unreadable or before `from_block`),
    /// else starts at `from_block`.
    pub fn resume(from_block: u64, saved: Option<&str>) -> Self {
        match saved.map(serde_json::from_str::<Scan>) {
            Some(Ok(scan)) if scan.next_block >= from_block => Self {
                scan: Mutex::new(scan),
            },
            Some(Err(error)) => {
                tracing::warn!(%error, "earnings scan state unreadable: scanning again");
                Self::new(from_block)
            }
            _ => Self::new(from_block),
        }
    }

    /// The earnings of `me` at the current block; `persist` is handed the scan state (JSON) each
    /// time it moves on.
    pub async fn read<P: Provider + Clone>(
        &self,
        provider: &P,
        staking: Address,
        broker: Address,
        me: Address,
        persist: impl Fn(&str),
    ) -> Result<Earnings, EarningsError> {
        let head = provider.get_block_number().await.map_err(err)?;
        let staking = Staking::new(staking, provider.clone());
        let broker = TicketBroker::new(broker, provider.clone());
        let mut scan = self.scan.lock().await;
        let mut redeemed_scan = LogScanner::new(
            broker
                .WinningTicketRedeemed_filter()
                .topic2(me.into_word())
                .filter,
        );
        let mut reward_scan =
            LogScanner::new(staking.Reward_filter().topic1(me.into_word()).filter);
        while scan.next_block <= head {
            let from = scan.next_block;
            // Windows that fit the provider's caps; the reward scan covers the redeemed one's.
            let (redeemed, to) = redeemed_scan
                .next_window(provider, from, head)
                .await
                .map_err(err)?;
            let rewards = reward_scan.scan(provider, from, to).await.map_err(err)?;
            let redeemed = decoded::<TicketBroker::WinningTicketRedeemed>(redeemed);
            let rewards = decoded::<Staking::Reward>(rewards);
            let mut calls = Vec::with_capacity(rewards.len());
            for (event, log) in rewards {
                let block = log.block_number.unwrap_or(to);
                let timestamp = match log.block_timestamp {
                    Some(t) => t,
                    None => provider
                        .get_block_by_number(block.into())
                        .await
                        .map_err(err)?
                        .map_or(0, |b| b.header.timestamp),
                };
                calls.push(RewardCall {
                    round: event.round.saturating_to(),
                    minted: event.minted,
                    cut: event.orchestratorCut,
                    block,
                    timestamp,
                    tx: log.transaction_hash,
                });
            }
            // Only now, with every read of the chunk done, is the scan state advanced.
            for (event, _) in redeemed {
                scan.redeemed_count += 1;
                scan.redeemed_face_value += event.faceValue;
            }
            for call in calls {
                scan.reward_count += 1;
                scan.reward_minted += call.minted;
                scan.rewards.push(call);
            }
            let excess = scan.rewards.len().saturating_sub(REWARDS_KEPT);
            scan.rewards.drain(..excess);
            scan.next_block = to + 1;
            if let Ok(json) = serde_json::to_string(&*scan) {
                persist(&json);
            }
        }
        let at = BlockId::number(head);
        let bonded_stake = staking
            .pendingStake(me)
            .call()
            .block(at)
            .await
            .map_err(err)?;
        let pending_fees = staking
            .pendingFees(me)
            .call()
            .block(at)
            .await
            .map_err(err)?;
        let pool_stake = staking
            .orchestratorInfo(me)
            .call()
            .block(at)
            .await
            .map_err(err)?
            .stake;
        Ok(Earnings {
            block: head,
            bonded_stake,
            pool_stake,
            pending_fees,
            redeemed_count: scan.redeemed_count,
            redeemed_face_value: scan.redeemed_face_value,
            reward_count: scan.reward_count,
            reward_minted: scan.reward_minted,
            rewards: scan.rewards.iter().rev().cloned().collect(),
        })
    }
}
