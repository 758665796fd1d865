//! Redeems queued winning tickets on-chain once their parameters have expired (so revealing
//! `recipientRand` gives a broadcaster nothing to game), in one batch per call. The broker keeps
//! replay state per nonce within a window: per (signer, recipient), the nonces of the newest
//! redeemed 192-nonce word and of the 15 words before it (3,072 nonces) pay in any order, so a
//! winner due later (older parameters that expire after newer ones) or one skipped for insufficient
//! funds stays redeemable whatever was redeemed before it, as long as it is within that window.
//! Due tickets are sent oldest nonce first per signer, so a batch never pushes one of its own
//! tickets out of the window. Every outcome is written back: a ticket is marked redeemed, kept
//! pending with the reason when it may still succeed later, or marked failed with the reason. None
//! is ever dropped. `NonceUsed` means this orchestrator was already paid for that (signer, nonce):
//! the validator queues each (signer, nonce) at most once, so it was this ticket, redeemed by an
//! earlier transaction whose outcome was not recorded (e.g. the receipt was lost): it is marked
//! redeemed, not failed. `NonceTooOld` means a winner 16 or more words newer was redeemed first and
//! took the ticket's slot: the broker will never pay it, so it is marked failed (and logged).
//!
//! Reorgs: with [`Redeemer::with_confirmations`] above 1, a mined redemption only marks its tickets
//! `Submitted`; each pass looks at the transaction again, and counts its outcomes once it is that
//! many blocks deep. A transaction a reorg took out (no receipt any more, or one that now reverts)
//! puts its tickets back to `Pending`, and they are sent again in the same pass: the broker's replay
//! state makes a second inclusion of the first transaction pay nothing twice (`NonceUsed`).

use alloy::primitives::{B256, Log, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolEvent;
use peerflow_chain::bindings::ticket_broker::{ITicketBroker, TicketBroker};

use std::sync::{Arc, Mutex};

use peerflow_protocol::metrics::Metrics;

use crate::metrics::{redeemed, redemption_failed, redemption_retry};
use crate::store::{PaymentStore, StoreError, WinningTicket, WinningTicketStatus};

/// Errors that stop a redemption pass (per-ticket refusals are recorded, not returned).
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("chain: {0}")]
    Chain(String),
}

/// When redemption is worth its gas.
#[derive(Debug, Clone, Copy)]
pub struct GasPolicy {
    /// Gas of a batch: `base + per_ticket × n` (measured by `./script/bench gas`).
    pub base_gas: u64,
    pub per_ticket_gas: u64,
    /// Largest share of the batch's face value the transaction may cost, in parts per million.
    /// Tickets in the last round of their validity are redeemed whatever the cost.
    pub max_cost_ppm: u64,
    /// What one whole fee token (10^18 base units) is worth in wei of the chain's gas currency:
    /// gas is paid in ETH and tickets in the fee token, so the cost is converted with it before
    /// it is compared with the face value. 10^18 (the default) prices them 1:1.
    pub wei_per_token: U256,
}

impl GasPolicy {
    /// The cost of `gas` at `gas_price` (wei), in fee-token base units.
    pub fn cost_in_tokens(&self, gas: u64, gas_price: u128) -> U256 {
        let wei = U256::from(gas_price).saturating_mul(U256::from(gas));
        // A zero price is refused where the policy is built; treat it as "worth nothing" here.
        if self.wei_per_token.is_zero() {
            return U256::MAX;
        }
        wei.saturating_mul(U256::from(ONE_TOKEN)) / self.wei_per_token
    }

    /// Whether a batch of `tickets` worth `value` (fee-token base units) is worth redeeming at
    /// `gas_price`.
    pub fn worth_it(&self, tickets: usize, value: U256, gas_price: u128) -> bool {
        let gas = self
            .base_gas
            .saturating_add(self.per_ticket_gas.saturating_mul(tickets as u64));
        let allowed =
            value.saturating_mul(U256::from(self.max_cost_ppm)) / U256::from(1_000_000u64);
        self.cost_in_tokens(gas, gas_price) <= allowed
    }
}

/// 10^18: base units in one fee token (and wei in one ether).
const ONE_TOKEN: u64 = 1_000_000_000_000_000_000;

impl Default for GasPolicy {
    /// From `./script/bench gas`: with winners far apart (low winProb), each takes over a slot of the
    /// broker's replay window that held an older word: about 15,000 gas per ticket in a batch
    /// (`redeem_batch10_sparse_marginal_gas`), 61,000 for a batch of one (`redeem_batch1_gas`).
    fn default() -> Self {
        Self {
            base_gas: 46_000,
            per_ticket_gas: 15_000,
            max_cost_ppm: 10_000,
            wei_per_token: U256::from(ONE_TOKEN),
        }
    }
}

/// Outcome of one pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RedeemReport {
    pub redeemed: usize,
    pub retrying: usize,
    pub failed: usize,
    /// Due tickets left for a cheaper moment.
    pub deferred: usize,
    /// Tickets in a mined redemption not yet deep enough to count.
    pub submitted: usize,
    /// Tickets whose mined redemption a reorg took out (sent again).
    pub reorged: usize,
}

/// Redeems for the orchestrator whose wallet `provider` signs with.
pub struct Redeemer<P> {
    broker: TicketBroker::TicketBrokerInstance<P>,
    ticket_validity: u64,
    gas: GasPolicy,
    max_batch: usize,
    /// Blocks a redemption must be deep (1: its own block) before its outcome counts.
    confirmations: u64,
    /// The orchestrator whose tickets these are, when `provider` signs with its redemption key
    /// (`Staking.setRedeemer`) rather than its own.
    recipient: Option<alloy::primitives::Address>,
    metrics: Arc<Metrics>,
}

impl<P: Provider> Redeemer<P> {
    pub async fn new(
        broker: alloy::primitives::Address,
        provider: P,
        gas: GasPolicy,
    ) -> Result<Self, RedeemError> {
        let broker = TicketBroker::new(broker, provider);
        let ticket_validity = broker
            .ticketValidity()
            .call()
            .await
            .map_err(chain)?
            .to::<u64>();
        Ok(Self {
            broker,
            ticket_validity,
            gas,
            max_batch: 50,
            confirmations: 1,
            recipient: None,
            metrics: Arc::new(Metrics::new()),
        })
    }

    /// Redeems `recipient`'s tickets with a redemption key it named (`Staking.setRedeemer`): the
    /// broker pays the recipient, the key only pays the gas.
    pub fn for_recipient(mut self, recipient: alloy::primitives::Address) -> Self {
        self.recipient = Some(recipient);
        self
    }

    /// Counts a redemption only once its transaction is `blocks` deep (at least 1: mined).
    pub fn with_confirmations(mut self, blocks: u64) -> Self {
        self.confirmations = blocks.max(1);
        self
    }

    /// Counts redemptions into `metrics` (the orchestrator's, see [`crate::metrics`]).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Redeems every due ticket in `store` (parameters expired by the current block). The store is
    /// locked only around each database step, never across a chain call.
    pub async fn redeem_due(
        &self,
        store: &Mutex<PaymentStore>,
    ) -> Result<RedeemReport, RedeemError> {
        let provider = self.broker.provider();
        let block = provider.get_block_number().await.map_err(chain)?;
        let round = self
            .broker
            .currentRound()
            .call()
            .await
            .map_err(chain)?
            .to::<u64>();
        let mut report = RedeemReport::default();
        self.settle_submitted(store, block, &mut report).await?;
        let mut due = Vec::new();
        let pending = lock(store).winning_tickets(WinningTicketStatus::Pending)?;
        for t in pending {
            if t.redeemable_from_block > block {
                continue;
            }
            if round >= t.creation_round + self.ticket_validity {
                lock(store).record_attempt(
                    t.id,
                    WinningTicketStatus::Failed,
                    Some("expired before redemption"),
                    None,
                )?;
                redemption_failed(&self.metrics, "expired");
                report.failed += 1;
            } else {
                due.push(t);
            }
        }
        // Oldest nonce first per signer: redeeming a nonce evicts the older words of its slot in the
        // broker's window (16, 32, ... words older), so a newer ticket sent first could push an
        // older one of the same batch (or of a later batch) out of it.
        due.sort_by_key(|t| (t.signer, t.nonce));
        for batch in due.chunks(self.max_batch) {
            if !self.worth_it(batch, round).await? {
                report.deferred += batch.len();
                continue;
            }
            self.redeem_batch(store, batch, &mut report).await?;
        }
        Ok(report)
    }

    async fn worth_it(&self, batch: &[WinningTicket], round: u64) -> Result<bool, RedeemError> {
        if batch
            .iter()
            .any(|t| round + 1 >= t.creation_round + self.ticket_validity)
        {
            return Ok(true); // last chance
        }
        let gas_price = self
            .broker
            .provider()
            .get_gas_price()
            .await
            .map_err(chain)?;
        let value = batch
            .iter()
            .fold(U256::ZERO, |sum, t| sum.saturating_add(t.face_value));
        let worth = self.gas.worth_it(batch.len(), value, gas_price);
        if !worth {
            tracing::info!(tickets = batch.len(), %value, gas_price, "redemption deferred: gas would cost more than the policy allows");
        }
        Ok(worth)
    }

    async fn redeem_batch(
        &self,
        store: &Mutex<PaymentStore>,
        batch: &[WinningTicket],
        report: &mut RedeemReport,
    ) -> Result<(), RedeemError> {
        let tickets: Vec<ITicketBroker::SignedTicket> =
            batch.iter().map(|t| t.wire.into()).collect();
        let mined = match self.recipient {
            Some(recipient) => {
                let call = self.broker.redeemWinningTicketsFor(recipient, tickets);
                peerflow_chain::send::until_mined(&call).await
            }
            None => {
                let call = self.broker.redeemWinningTickets(tickets);
                peerflow_chain::send::until_mined(&call).await
            }
        };
        let receipt = match mined {
            Ok(receipt) => receipt,
            Err(e) => {
                // Refused (e.g. not a registered orchestrator), or not mined in time: keep every
                // ticket; one that was paid after all comes back as "nonce used" next time.
                for t in batch {
                    lock(store).record_attempt(
                        t.id,
                        WinningTicketStatus::Pending,
                        Some(&e.to_string()),
                        None,
                    )?;
                    redemption_retry(&self.metrics, "not_sent");
                }
                report.retrying += batch.len();
                return Ok(());
            }
        };
        let tx = receipt.transaction_hash;
        if !receipt.status() {
            for t in batch {
                lock(store).record_attempt(
                    t.id,
                    WinningTicketStatus::Pending,
                    Some("batch reverted"),
                    Some(tx),
                )?;
                redemption_retry(&self.metrics, "reverted");
            }
            report.retrying += batch.len();
            return Ok(());
        }
        if self.confirmations > 1 {
            for t in batch {
                lock(store).record_attempt(t.id, WinningTicketStatus::Submitted, None, Some(tx))?;
            }
            report.submitted += batch.len();
            return Ok(());
        }
        self.count_outcomes(store, batch, &receipt, report)
    }

    /// Looks again at every submitted redemption: counts the outcomes of those deep enough, puts
    /// back to pending the tickets of those a reorg took out.
    async fn settle_submitted(
        &self,
        store: &Mutex<PaymentStore>,
        head: u64,
        report: &mut RedeemReport,
    ) -> Result<(), RedeemError> {
        let submitted = lock(store).winning_tickets(WinningTicketStatus::Submitted)?;
        // One batch per transaction, in the order it was sent ((signer, nonce), as listed).
        let mut batches: Vec<(B256, Vec<WinningTicket>)> = Vec::new();
        for t in submitted {
            let tx = t.tx_hash.unwrap_or_default();
            match batches.iter_mut().find(|(h, _)| *h == tx) {
                Some((_, b)) => b.push(t),
                None => batches.push((tx, vec![t])),
            }
        }
        for (tx, batch) in batches {
            let receipt = self.broker.provider().get_transaction_receipt(tx).await;
            let receipt = match receipt {
                Ok(r) => r,
                Err(error) => {
                    // Looked at again next pass; the other batches and new winners go on.
                    tracing::warn!(%tx, %error, "reading a submitted redemption's receipt");
                    report.submitted += batch.len();
                    continue;
                }
            };
            let gone = match &receipt {
                None => Some("the redemption transaction was reorged out"),
                Some(r) if !r.status() => Some("the redemption reverted after a reorg"),
                Some(_) => None,
            };
            if let Some(why) = gone {
                tracing::warn!(%tx, tickets = batch.len(), why, "redeeming again");
                for t in &batch {
                    lock(store).record_attempt(
                        t.id,
                        WinningTicketStatus::Pending,
                        Some(why),
                        None,
                    )?;
                    redemption_retry(&self.metrics, "reorged");
                }
                report.reorged += batch.len();
                continue;
            }
            let receipt = receipt.expect("present");
            // A receipt without its block is not counted as deep yet.
            let deep = receipt
                .block_number
                .is_some_and(|mined| head + 1 >= mined + self.confirmations);
            if deep {
                self.count_outcomes(store, &batch, &receipt, report)?;
            } else {
                report.submitted += batch.len();
            }
        }
        Ok(())
    }

    /// Records what a mined (and deep enough) redemption did to each ticket of its batch.
    fn count_outcomes(
        &self,
        store: &Mutex<PaymentStore>,
        batch: &[WinningTicket],
        receipt: &alloy::rpc::types::TransactionReceipt,
        report: &mut RedeemReport,
    ) -> Result<(), RedeemError> {
        let tx = receipt.transaction_hash;
        // The broker emits exactly one of these two events per ticket, in batch order.
        let outcomes = receipt
            .inner
            .logs()
            .iter()
            .filter(|l| l.address() == *self.broker.address())
            .filter_map(|l| {
                let log: &Log = &l.inner;
                if TicketBroker::WinningTicketRedeemed::decode_log(log).is_ok() {
                    Some(None)
                } else {
                    TicketBroker::TicketRejected::decode_log(log)
                        .ok()
                        .map(|e| Some(e.data.status))
                }
            });
        for (t, outcome) in batch.iter().zip(outcomes) {
            match outcome {
                None => {
                    lock(store).record_attempt(
                        t.id,
                        WinningTicketStatus::Redeemed,
                        None,
                        Some(tx),
                    )?;
                    redeemed(&self.metrics);
                    report.redeemed += 1;
                }
                Some(status) if status == NONCE_USED => {
                    lock(store).record_attempt(
                        t.id,
                        WinningTicketStatus::Redeemed,
                        Some("paid by an earlier transaction (nonce used)"),
                        None,
                    )?;
                    redeemed(&self.metrics);
                    report.redeemed += 1;
                }
                Some(status) if status == NONCE_TOO_OLD => {
                    // Permanent: a newer word took the ticket's slot in the broker's window.
                    tracing::warn!(
                        signer = %t.signer,
                        nonce = t.nonce,
                        sender = %t.sender,
                        face_value = %t.face_value,
                        tx = %tx,
                        "winning ticket given up: its nonce fell out of the broker's replay window \
                         (a winner 16 or more words of 192 nonces newer was redeemed first)"
                    );
                    lock(store).record_attempt(
                        t.id,
                        WinningTicketStatus::Failed,
                        Some(status_name(status)),
                        Some(tx),
                    )?;
                    redemption_failed(&self.metrics, status_name(status));
                    report.failed += 1;
                }
                Some(status) if status == INSUFFICIENT_FUNDS => {
                    // The sender may top up before the ticket expires: try again later.
                    lock(store).record_attempt(
                        t.id,
                        WinningTicketStatus::Pending,
                        Some(status_name(status)),
                        Some(tx),
                    )?;
                    redemption_retry(&self.metrics, status_name(status));
                    report.retrying += 1;
                }
                Some(status) => {
                    lock(store).record_attempt(
                        t.id,
                        WinningTicketStatus::Failed,
                        Some(status_name(status)),
                        Some(tx),
                    )?;
                    redemption_failed(&self.metrics, status_name(status));
                    report.failed += 1;
                }
            }
        }
        Ok(())
    }
}

/// `ITicketBroker.RedeemStatus`, in declaration order.
const REDEEM_STATUS: [&str; 11] = [
    "Redeemed",
    "ZeroFaceValue",
    "FutureRound",
    "Expired",
    "NotWinning",
    "InvalidSignature",
    "UnauthorizedSigner",
    "NonceUsed",
    "FundsUnlocked",
    "InsufficientFunds",
    "NonceTooOld",
];
const NONCE_USED: u8 = 7;
const INSUFFICIENT_FUNDS: u8 = 9;
const NONCE_TOO_OLD: u8 = 10;

fn status_name(status: u8) -> &'static str {
    REDEEM_STATUS
        .get(usize::from(status))
        .copied()
        .unwrap_or("unknown status")
}

fn lock(store: &Mutex<PaymentStore>) -> std::sync::MutexGuard<'_, PaymentStore> {
    store.lock().expect("payment store")
}

fn chain(e: impl std::fmt::Display) -> RedeemError {
    RedeemError::Chain(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(wei_per_token: u64) -> GasPolicy {
        GasPolicy {
            wei_per_token: U256::from(wei_per_token),
            ..GasPolicy::default()
        }
    }

    #[test]
    fn gas_is_priced_in_the_fee_token_before_it_is_compared() {
        let one = U256::from(ONE_TOKEN);
        // 61,000 gas (a batch of one) at 100 gwei is 0.0061 ETH.
        let gas_price = 100_000_000_000u128;
        // 1:1, that is 0.61 % of a 1-token ticket: worth it.
        assert_eq!(
            policy(ONE_TOKEN).cost_in_tokens(61_000, gas_price),
            U256::from(6_100_000_000_000_000u64)
        );
        assert!(policy(ONE_TOKEN).worth_it(1, one, gas_price));
        // A token worth 0.1 ETH: the same gas is 0.061 tokens, 6.1 % of the ticket: deferred.
        assert_eq!(
            policy(ONE_TOKEN / 10).cost_in_tokens(61_000, gas_price),
            U256::from(61_000_000_000_000_000u64)
        );
        assert!(!policy(ONE_TOKEN / 10).worth_it(1, one, gas_price));
        // ... until gas is ten times cheaper.
        assert!(policy(ONE_TOKEN / 10).worth_it(1, one, gas_price / 10));
        // No overflow on absurd inputs; a zero price never redeems on cost alone.
        assert!(!policy(1).worth_it(usize::MAX, one, u128::MAX));
        assert!(!policy(0).worth_it(1, U256::MAX, 1));
    }
}
