//! Tips and subscriptions (the StreamSupport contract): the streamer's book of them, read from the
//! chain's events (the calls themselves are `peerflow support …`).

use std::collections::BTreeMap;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use peerflow_chain::bindings::stream_support::StreamSupport;
use peerflow_chain::logscan::{LogScanner, ScanError};

use crate::proto::{Subscriber, Tip};

/// One subscription period (`StreamSupport.PERIOD`).
pub const PERIOD_SECS: u64 = 30 * 24 * 3600;

/// What the chain says of one streamer's tips and subscriptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SupportSnapshot {
    pub tips: Vec<Tip>,
    pub tips_wei: U256,
    /// Every subscriber ever, with its latest end.
    pub subscribers: Vec<Subscriber>,
    pub subscriptions_wei: U256,
}

#[derive(Default)]
struct Scanned {
    next_block: u64,
    tips: Vec<Tip>,
    subscribers: BTreeMap<Address, Subscriber>,
}

/// The streamer's tips and subscriptions, scanned from the events incrementally.
pub struct SupportBook {
    contract: Address,
    streamer: Address,
    state: tokio::sync::Mutex<Scanned>,
    last: std::sync::Mutex<SupportSnapshot>,
}

impl SupportBook {
    pub fn new(contract: Address, streamer: Address, scan_from: u64) -> Self {
        Self {
            contract,
            streamer,
            state: tokio::sync::Mutex::new(Scanned {
                next_block: scan_from,
                ..Scanned::default()
            }),
            last: Default::default(),
        }
    }

    /// The last snapshot read.
    pub fn last(&self) -> SupportSnapshot {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the events since the last call, then the whole book.
    pub async fn refresh<P: Provider>(&self, provider: &P) -> Result<SupportSnapshot, ScanError> {
        if self.contract.is_zero() {
            return Ok(SupportSnapshot::default());
        }
        let mut state = self.state.lock().await;
        let head = provider.get_block_number().await.map_err(ScanError::Head)?;
        let filter = Filter::new()
            .address(self.contract)
            .event_signature(vec![
                StreamSupport::Tipped::SIGNATURE_HASH,
                StreamSupport::Subscribed::SIGNATURE_HASH,
            ])
            .topic1(self.streamer.into_word());
        let logs = LogScanner::new(filter)
            .scan(provider, state.next_block, head)
            .await?;
        for log in logs {
            let block = log.block_number.unwrap_or_default();
            let tx = log.transaction_hash.unwrap_or_default();
            if let Ok(t) = StreamSupport::Tipped::decode_log(&log.inner) {
                state.tips.push(Tip {
                    from: t.from,
                    amount: t.amount,
                    message: t.message.clone(),
                    block,
                    tx,
                });
            } else if let Ok(s) = StreamSupport::Subscribed::decode_log(&log.inner) {
                let entry = state.subscribers.entry(s.subscriber).or_insert(Subscriber {
                    subscriber: s.subscriber,
                    until: 0,
                    paid: U256::ZERO,
                });
                entry.until = entry.until.max(s.until.saturating_to());
                entry.paid = entry.paid.saturating_add(s.paid);
            }
        }
        state.next_block = state.next_block.max(head + 1);
        let snapshot = SupportSnapshot {
            tips_wei: state
                .tips
                .iter()
                .fold(U256::ZERO, |a, t| a.saturating_add(t.amount)),
            tips: state.tips.clone(),
            subscriptions_wei: state
                .subscribers
                .values()
                .fold(U256::ZERO, |a, s| a.saturating_add(s.paid)),
            subscribers: state.subscribers.values().cloned().collect(),
        };
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = snapshot.clone();
        Ok(snapshot)
    }
}
