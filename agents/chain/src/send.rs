//! Sending a transaction until it is mined: a transaction still unmined after
//! [`SendPolicy::stuck_after`] (gas rose after it was priced) is replaced, same nonce, with fees
//! raised to at least 12.5 % above its own and to the current EIP-1559 estimate (from
//! `eth_feeHistory`) — also when the pool dropped it: always with the first version's nonce, so
//! that at most one version is ever mined — up to [`SendPolicy::bumps`] times; never above
//! [`SendPolicy::max_fee_per_gas`], the operator's ceiling: past it the send gives up with
//! [`ChainError::GasAboveCeiling`] (the transaction stays in the pool and may still be mined when
//! gas falls; the caller tries again later, and the contracts' replay rules make a second
//! inclusion a no-op: a used ticket nonce, a reward already called).
//!
//! [`until_confirmed`] then waits until the transaction is [`SendPolicy::confirmations`] blocks
//! deep, sending it again (same nonce) when a reorg took it out.
//!
//! Nonces come from [`crate::nonce`]; the policy is the process's ([`set_policy`]), set once from
//! the role's flags.

use std::sync::RwLock;
use std::time::Duration;

use alloy::consensus::Transaction as _;
use alloy::contract::{CallBuilder, CallDecoder};
use alloy::providers::{PendingTransactionError, Provider, WatchTxError};
use alloy::rpc::types::TransactionReceipt;

use crate::nonce;
use crate::{ChainError, FeeCeiling};

/// How a process sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPolicy {
    /// How long a sent transaction may wait unmined before it is replaced with higher fees.
    pub stuck_after: Duration,
    /// Replacements before the send gives up (the transaction stays in the pool).
    pub bumps: u32,
    /// The most wei per gas this process pays (`None`: no ceiling).
    pub max_fee_per_gas: Option<u128>,
    /// Blocks deep a transaction must be before [`until_confirmed`] counts it (1: mined).
    pub confirmations: u64,
}

impl Default for SendPolicy {
    fn default() -> Self {
        DEFAULT_POLICY
    }
}

const DEFAULT_POLICY: SendPolicy = SendPolicy {
    stuck_after: Duration::from_secs(60),
    bumps: 5,
    max_fee_per_gas: None,
    confirmations: 1,
};

static POLICY: RwLock<SendPolicy> = RwLock::new(DEFAULT_POLICY);

/// How often [`until_confirmed`] looks at the chain while it waits for depth.
const DEPTH_POLL: Duration = Duration::from_millis(500);

/// Sets how this process sends (from `--max-fee-gwei` and the like).
pub fn set_policy(policy: SendPolicy) {
    *POLICY.write().unwrap_or_else(|e| e.into_inner()) = policy;
}

/// How this process sends.
pub fn policy() -> SendPolicy {
    *POLICY.read().unwrap_or_else(|e| e.into_inner())
}

/// A fee 12.5 % (and at least 1 wei) above `fee`: what a node accepts as a replacement.
fn bumped(fee: u128) -> u128 {
    fee.saturating_add(fee / 8).saturating_add(1)
}

/// Sends `call` and waits until it is mined, replacing it while it is stuck (see the module);
/// returns the receipt, reverted or not.
pub async fn until_mined<P, D>(call: &CallBuilder<P, D>) -> Result<TransactionReceipt, ChainError>
where
    P: Provider + Clone,
    D: CallDecoder + Clone,
{
    let policy = policy();
    within_ceiling(&call.provider, &policy).await?;
    let mut pending = nonce::send(call).await?;
    let mut sent = vec![*pending.tx_hash()];
    // The nonce and fees of the last version sent: every later version reuses the nonce, so at
    // most one of them is ever mined (a fresh nonce could execute the call twice).
    let mut version = version_of(&call.provider, sent[0]).await?;
    let mut bumps = 0;
    loop {
        match pending
            .with_timeout(Some(policy.stuck_after))
            .get_receipt()
            .await
        {
            Ok(receipt) => return Ok(receipt),
            Err(PendingTransactionError::TxWatcher(WatchTxError::Timeout)) => {}
            // Seen in a block that a reorg took out before its receipt was read: look again.
            Err(PendingTransactionError::TransportError(alloy::transports::RpcError::NullResp)) => {
            }
            Err(e) => return Err(e.into()),
        }
        // One of the versions sent may have been mined meanwhile.
        if let Some(receipt) = mined(&call.provider, &sent).await? {
            return Ok(receipt);
        }
        let last = *sent.last().expect("one sent");
        // Still in the pool: its own fees; dropped (nodes evict what the base fee outgrew): the
        // fees it was sent with.
        if let Some(v) = version_of(&call.provider, last).await? {
            version = Some(v);
        }
        let Some(Version {
            nonce,
            max_fee,
            tip,
        }) = version
        else {
            // Its nonce was never seen: sending again could execute the call twice.
            return Err(ChainError::Stuck(last));
        };
        if bumps >= policy.bumps {
            return Err(ChainError::Stuck(last));
        }
        let estimate = call
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(|e| ChainError::Contract(e.into()))?;
        let tip = bumped(tip).max(estimate.max_priority_fee_per_gas);
        let max_fee = bumped(max_fee).max(estimate.max_fee_per_gas).max(tip);
        if let Some(ceiling) = policy.max_fee_per_gas
            && max_fee > ceiling
        {
            return Err(ChainError::GasAboveCeiling(Box::new(FeeCeiling {
                needed: max_fee,
                ceiling,
            })));
        }
        tracing::warn!(%last, nonce, max_fee, tip, "transaction not mined: sending it again, same nonce, higher fees");
        let replacement = call
            .clone()
            .nonce(nonce)
            .max_fee_per_gas(max_fee)
            .max_priority_fee_per_gas(tip);
        bumps += 1;
        match replacement.send().await {
            Ok(p) => {
                pending = p;
                sent.push(*pending.tx_hash());
                version = Some(Version {
                    nonce,
                    max_fee,
                    tip,
                });
            }
            Err(error) => {
                // One version may have been mined between the look and the replacement.
                if let Some(receipt) = mined(&call.provider, &sent).await? {
                    return Ok(receipt);
                }
                return Err(error.into());
            }
        }
    }
}

/// [`until_mined`], then until the transaction is [`SendPolicy::confirmations`] blocks deep. One a
/// reorg took out and the node no longer holds is sent again with its own nonce (so that at most
/// one of them executes), and waited for again; one the node holds again is waited for. If the
/// resend fails, any version already mined still counts.
pub async fn until_confirmed<P, D>(
    call: &CallBuilder<P, D>,
) -> Result<TransactionReceipt, ChainError>
where
    P: Provider + Clone,
    D: CallDecoder + Clone,
{
    let depth = policy().confirmations.max(1);
    let first = until_mined(call).await?;
    if depth == 1 {
        return Ok(first);
    }
    let chain = |e: alloy::transports::TransportError| ChainError::Contract(e.into());
    // The nonce every version shares (unknown if the node already lost the transaction).
    let nonce = version_of(&call.provider, first.transaction_hash)
        .await?
        .map(|v| v.nonce);
    let mut sent = vec![first.transaction_hash];
    loop {
        tokio::time::sleep(DEPTH_POLL).await;
        let head = call.provider.get_block_number().await.map_err(chain)?;
        if let Some(now) = mined(&call.provider, &sent).await? {
            let mined_at = now.block_number.unwrap_or(head);
            if head + 1 >= mined_at + depth {
                return Ok(now);
            }
            continue;
        }
        let last = *sent.last().expect("one sent");
        if version_of(&call.provider, last).await?.is_some() {
            continue; // back in the pool after a reorg: it will be mined again
        }
        let Some(nonce) = nonce else {
            return Err(ChainError::Stuck(last)); // reorged out, and its nonce was never read
        };
        tracing::warn!(hash = %last, nonce, "transaction reorged out: sending it again, same nonce");
        match until_mined(&call.clone().nonce(nonce)).await {
            Ok(again) => sent.push(again.transaction_hash),
            // Refused (its nonce is used): by one of ours that a node mined after all, or not.
            Err(e) => {
                if mined(&call.provider, &sent).await?.is_none() {
                    return Err(e);
                }
            }
        }
    }
}

/// What a sent version of a transaction committed to.
#[derive(Debug, Clone, Copy)]
struct Version {
    nonce: u64,
    max_fee: u128,
    tip: u128,
}

/// The nonce and fees of transaction `hash`, if the node knows it.
async fn version_of<P: Provider>(
    provider: &P,
    hash: alloy::primitives::TxHash,
) -> Result<Option<Version>, ChainError> {
    let tx = provider
        .get_transaction_by_hash(hash)
        .await
        .map_err(|e| ChainError::Contract(e.into()))?;
    Ok(tx.map(|tx| Version {
        nonce: tx.nonce(),
        max_fee: tx.max_fee_per_gas(),
        tip: tx.max_priority_fee_per_gas().unwrap_or(0),
    }))
}

/// Fails with [`ChainError::GasAboveCeiling`] when being mined now takes more than the ceiling.
async fn within_ceiling<P: Provider>(provider: &P, policy: &SendPolicy) -> Result<(), ChainError> {
    let Some(ceiling) = policy.max_fee_per_gas else {
        return Ok(());
    };
    let needed = provider
        .estimate_eip1559_fees()
        .await
        .map_err(|e| ChainError::Contract(e.into()))?
        .max_fee_per_gas;
    if needed > ceiling {
        return Err(ChainError::GasAboveCeiling(Box::new(FeeCeiling {
            needed,
            ceiling,
        })));
    }
    Ok(())
}

/// The receipt of whichever of `sent` was mined, if one was.
async fn mined<P: Provider>(
    provider: &P,
    sent: &[alloy::primitives::TxHash],
) -> Result<Option<TransactionReceipt>, ChainError> {
    for hash in sent {
        if let Some(r) = provider
            .get_transaction_receipt(*hash)
            .await
            .map_err(|e| ChainError::Contract(e.into()))?
        {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replacement_pays_at_least_an_eighth_more() {
        assert_eq!(bumped(0), 1);
        assert_eq!(bumped(800), 901);
        assert_eq!(bumped(u128::MAX), u128::MAX);
    }
}
