//! What the orchestrator reads from the chain to accept payments: the block clock and each sender's
//! funds, cached briefly so a busy stream does not cost an RPC round trip per segment. While the
//! RPC is down, the last head read and each sender's last funds read stand in for a bounded time
//! ([`HeadPolicy::max_stale`], well inside the broker's unlock period, so a sender that was not
//! unlocking cannot have withdrawn meanwhile): a chain outage does not stop paid work.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use peerflow_chain::bindings::ticket_broker::TicketBroker;
use peerflow_chain::head::{Head, HeadPolicy};

use crate::validator::SenderFunds;

/// A chain read failed.
#[derive(Debug, thiserror::Error)]
#[error("chain read failed: {0}")]
pub struct ChainViewError(pub String);

/// Sender funds cached per (sender, signer, creation round), with when they were read.
type FundsCache = HashMap<(Address, Address, u64), (Instant, SenderFunds)>;

/// The current block and round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub block: u64,
    pub round: u64,
}

/// Cached reads of one broker for one recipient.
pub struct ChainView<P> {
    provider: P,
    broker: TicketBroker::TicketBrokerInstance<P>,
    recipient: Address,
    start_block: u64,
    round_length: u64,
    ttl: Duration,
    funds: Mutex<FundsCache>,
    head: Head,
    outage: HeadPolicy,
}

impl<P: Provider + Clone> ChainView<P> {
    /// `start_block` and `round_length` come from the deployment (they are immutable on-chain).
    pub fn new(
        provider: P,
        broker: Address,
        recipient: Address,
        start_block: u64,
        round_length: u64,
    ) -> Self {
        Self {
            broker: TicketBroker::new(broker, provider.clone()),
            provider,
            recipient,
            start_block,
            round_length,
            ttl: Duration::from_secs(2),
            funds: Mutex::new(HashMap::new()),
            head: Head::new(HeadPolicy::default()),
            outage: HeadPolicy::default(),
        }
    }

    /// The deployment's start block.
    pub fn start_block(&self) -> u64 {
        self.start_block
    }

    pub fn provider(&self) -> &P {
        &self.provider
    }

    pub async fn clock(&self) -> Result<Clock, ChainViewError> {
        let block = self.head.block(&self.provider).await.map_err(err)?;
        Ok(Clock {
            block,
            round: block.saturating_sub(self.start_block) / self.round_length,
        })
    }

    /// The sender's deposit plus this recipient's claimable reserve share, unlock state and whether
    /// `signer` may sign tickets created in `creation_round` for it. `spoken_for` (face value of
    /// winners not yet redeemed) is subtracted from what is available.
    pub async fn sender_funds(
        &self,
        sender: Address,
        signer: Address,
        creation_round: u64,
        spoken_for: U256,
    ) -> Result<SenderFunds, ChainViewError> {
        let key = (sender, signer, creation_round);
        let cached = self.funds.lock().expect("funds cache").get(&key).copied();
        let funds = match cached {
            Some((at, funds)) if at.elapsed() < self.ttl => funds,
            // Three reads: thrice the time a head read may take.
            _ => match tokio::time::timeout(
                self.outage.read_timeout * 3,
                self.read_funds(sender, signer, creation_round),
            )
            .await
            .unwrap_or_else(|_| Err(err("no reply in time")))
            {
                Ok(funds) => {
                    self.funds
                        .lock()
                        .expect("funds cache")
                        .insert(key, (Instant::now(), funds));
                    funds
                }
                // The last funds read stand in during an outage, if recent enough and the sender
                // was not unlocking then (it cannot have withdrawn since).
                Err(e) => match cached {
                    Some((at, funds))
                        if at.elapsed() <= self.outage.max_stale && !funds.unlocking =>
                    {
                        tracing::warn!(%sender, error = %e, stale_for = ?at.elapsed(), "the chain does not answer; going on from the sender's last funds read");
                        funds
                    }
                    _ => return Err(e),
                },
            },
        };
        Ok(SenderFunds {
            available: funds.available.saturating_sub(spoken_for),
            ..funds
        })
    }
}

impl<P: Provider + Clone> ChainView<P> {
    async fn read_funds(
        &self,
        sender: Address,
        signer: Address,
        creation_round: u64,
    ) -> Result<SenderFunds, ChainViewError> {
        let info = self
            .broker
            .getSenderInfo(sender)
            .call()
            .await
            .map_err(err)?;
        let reserve = self
            .broker
            .claimableReserve(sender, self.recipient, U256::from(creation_round))
            .call()
            .await
            .map_err(err)?;
        let authorized = self
            .broker
            .isAuthorizedSigner(sender, signer, U256::from(creation_round))
            .call()
            .await
            .map_err(err)?;
        Ok(SenderFunds {
            available: info.deposit + reserve,
            unlocking: info.withdrawRound != U256::ZERO,
            signer_authorized: authorized,
        })
    }
}

fn err(e: impl std::fmt::Display) -> ChainViewError {
    ChainViewError(e.to_string())
}
