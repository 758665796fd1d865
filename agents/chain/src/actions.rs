//! Account actions the devnet, the tests and the benchmarks perform: hand out tokens, make an
//! account a registered orchestrator, fund a broadcaster's deposit and reserve. Each waits for its
//! transactions and fails if one reverts.

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;

use crate::ChainError;
use crate::bindings::{staking::Staking, ticket_broker::TicketBroker, work_token::WorkToken};
use crate::deploy::{Deployment, execute};

/// Transfers work tokens from `provider`'s account to `to`.
pub async fn give<P: Provider>(
    provider: &P,
    d: &Deployment,
    to: Address,
    amount: U256,
) -> Result<(), ChainError> {
    execute(WorkToken::new(d.work_token, provider).transfer(to, amount)).await?;
    Ok(())
}

/// Self-bonds `stake` and registers `me` (`provider`'s account) as an orchestrator.
pub async fn register_orchestrator<P: Provider>(
    provider: &P,
    d: &Deployment,
    me: Address,
    stake: U256,
    reward_cut: u32,
    fee_share: u32,
) -> Result<(), ChainError> {
    execute(WorkToken::new(d.work_token, provider).approve(d.staking, stake)).await?;
    let staking = Staking::new(d.staking, provider);
    execute(staking.bond(stake, me)).await?;
    execute(staking.registerOrchestrator(reward_cut, fee_share)).await?;
    Ok(())
}

/// Funds `provider`'s account's deposit and reserve at the broker.
pub async fn fund_sender<P: Provider>(
    provider: &P,
    d: &Deployment,
    deposit: U256,
    reserve: U256,
) -> Result<(), ChainError> {
    let total = deposit + reserve;
    execute(WorkToken::new(d.work_token, provider).approve(d.ticket_broker, total)).await?;
    let broker = TicketBroker::new(d.ticket_broker, provider);
    execute(broker.fundDepositAndReserve(deposit, reserve)).await?;
    Ok(())
}

/// Advertises `provider`'s orchestrator in the service registry. Service ids and regions are
/// short strings stored as left-aligned `bytes32`.
pub async fn advertise<P: Provider>(
    provider: &P,
    d: &Deployment,
    uri: &str,
    services: &[&str],
    regions: &[&str],
    price_per_unit: U256,
) -> Result<(), ChainError> {
    let registry =
        crate::bindings::service_registry::ServiceRegistry::new(d.service_registry, provider);
    let ids = services.iter().map(|s| bytes32(s)).collect();
    let regs = regions.iter().map(|s| bytes32(s)).collect();
    execute(registry.setService(uri.to_string(), ids, regs, price_per_unit)).await?;
    Ok(())
}

/// A short string as a left-aligned, zero-padded `bytes32` (at most 32 bytes are kept).
pub fn bytes32(s: &str) -> alloy::primitives::B256 {
    let mut b = [0u8; 32];
    let n = s.len().min(32);
    b[..n].copy_from_slice(&s.as_bytes()[..n]);
    alloy::primitives::B256::from(b)
}

/// The string a [`bytes32`] holds.
pub fn string_of(b: &alloy::primitives::B256) -> String {
    String::from_utf8_lossy(b.as_slice())
        .trim_end_matches('\0')
        .to_string()
}
