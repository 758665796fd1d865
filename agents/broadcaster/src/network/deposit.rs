//! Keeps the broadcaster's deposit at the broker topped up from its wallet, so that orchestrators
//! keep accepting its tickets (they refuse a sender whose deposit cannot cover a ticket).

use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use peerflow_chain::bindings::{ticket_broker::TicketBroker, work_token::WorkToken};
use peerflow_chain::deploy::execute;

/// Refill policy: when the deposit falls below `minimum`, bring it back to `target`.
#[derive(Debug, Clone, Copy)]
pub struct TopUp {
    pub minimum: U256,
    pub target: U256,
}

/// A failed check or refill (retried at the next interval).
#[derive(Debug, thiserror::Error)]
#[error("deposit top-up: {0}")]
pub struct TopUpError(pub String);

/// Checks the deposit once; returns the amount added, if any.
pub async fn top_up_once<P: Provider>(
    provider: &P,
    broker: Address,
    token: Address,
    me: Address,
    policy: TopUp,
) -> Result<Option<U256>, TopUpError> {
    let err = |e: &dyn std::fmt::Display| TopUpError(e.to_string());
    let broker_contract = TicketBroker::new(broker, provider);
    let deposit = broker_contract
        .getSenderInfo(me)
        .call()
        .await
        .map_err(|e| err(&e))?
        .deposit;
    if deposit >= policy.minimum {
        return Ok(None);
    }
    let amount = policy.target - deposit;
    let token = WorkToken::new(token, provider);
    if token
        .allowance(me, broker)
        .call()
        .await
        .map_err(|e| err(&e))?
        < amount
    {
        execute(token.approve(broker, amount))
            .await
            .map_err(|e| err(&e))?;
    }
    execute(broker_contract.fundDeposit(amount))
        .await
        .map_err(|e| err(&e))?;
    tracing::info!(%amount, "deposit topped up");
    Ok(Some(amount))
}

/// Checks every `every` until the task is aborted.
pub fn keep_topped_up<P: Provider + 'static>(
    provider: P,
    broker: Address,
    token: Address,
    me: Address,
    policy: TopUp,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = top_up_once(&provider, broker, token, me, policy).await {
                tracing::warn!(error = %e, "will retry");
            }
            tokio::time::sleep(every).await;
        }
    })
}
