//! The orchestrator's status for its operator: `GET /v1/status` (JSON) and `GET /` (a page that
//! shows it, refreshing every few seconds; `web/index.html`, no build step, nothing external).
//!
//! Amounts are `{"wei": "<decimal string>", "tokens": "<decimal string, 18 decimals, trailing
//! zeros trimmed>"}`. The JSON:
//!
//! ```json
//! {
//!   "orchestrator": "0x…", "chainId": 31337,
//!   "pricePerPixel": {"wei": "1", "tokens": "0.000000000000000001"},
//!   "transcoders": {
//!     "connected": 1, "capacity": 2, "load": 1, "queued": 0,
//!     "list": [{"name": "t1", "capacity": 2, "load": 1, "pixelsPerSecond": 90000000,
//!               "completed": 12, "lastSeen": 1733090000}]
//!   },
//!   "streams": [{"broadcaster": "0x…", "stream": "demo", "segments": 10, "pixels": 123,
//!                "lastSeq": 9, "lastSeen": 1733090000}],
//!   "segments": {"transcoded": 10, "failed": 0},
//!   "tickets": {"received": 10, "refused": 0, "won": 1, "redeemed": 1, "failed": 0},
//!   "pending": {"count": 0, "faceValue": {"wei": "0", "tokens": "0"}},
//!   "earnings": {
//!     "block": 120, "bondedStake": {…}, "poolStake": {…}, "pendingFees": {…},
//!     "redeemed": {"count": 1, "faceValue": {…}}
//!   },
//!   "rewards": {
//!     "count": 2, "minted": {…}, "lastRound": 2,
//!     "calls": [{"round": 2, "minted": {…}, "orchestratorCut": {…}, "block": 101,
//!                "timestamp": 1733090000, "tx": "0x…"}]
//!   },
//!   "signingKey": "0x…", "keyRetired": null,
//!   "chainError": null
//! }
//! ```
//!
//! `signingKey` signs segment results (the orchestrator's key, or the hot key it named);
//! `keyRetired` is the key the orchestrator names now when that is no longer `signingKey`: the
//! node then serves nothing and redeems nothing (see [`Node::follow_named_key`]).
//!
//! `tickets.received` and `tickets.refused` count since this process started (they are the
//! [`crate::metrics`] counters); `won`, `redeemed`, `failed` and `pending` come from the payment
//! database (every winner ever queued); `earnings` and `rewards` are read from the chain at
//! `earnings.block` (see [`crate::earnings`]); when the chain cannot be read they are `null` and
//! `chainError` says why. Timestamps are unix seconds. Segment figures count since start-up.

use std::sync::Arc;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::earnings::{Earnings, RewardCall};
use crate::metrics::{SEGMENTS, TICKETS_RECEIVED, TICKETS_REFUSED};
use crate::node::Node;
use crate::store::WinningTicketStatus;
use crate::streams::StreamStatus;
use crate::transcoders::TranscoderStatus;

/// The page (it fetches `/v1/status`).
pub const PAGE: &str = include_str!("../web/index.html");

/// An amount of the token (18 decimals).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Amount {
    pub wei: String,
    pub tokens: String,
}

impl From<U256> for Amount {
    fn from(wei: U256) -> Self {
        Self {
            wei: wei.to_string(),
            tokens: tokens(wei),
        }
    }
}

/// `wei` as tokens of 18 decimals, trailing zeros trimmed: 1.5e18 → "1.5", 1 → "0.000000000000000001".
pub fn tokens(wei: U256) -> String {
    peerflow_chain::amount::format_tokens(wei)
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub orchestrator: Address,
    pub chain_id: u64,
    pub price_per_pixel: Amount,
    pub transcoders: TranscodersView,
    pub streams: Vec<StreamStatus>,
    pub segments: SegmentsView,
    pub tickets: TicketsView,
    pub pending: PendingView,
    pub earnings: Option<EarningsView>,
    pub rewards: Option<RewardsView>,
    pub signing_key: Address,
    pub key_retired: Option<Address>,
    pub chain_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscodersView {
    pub connected: usize,
    /// Jobs the connected transcoders take at once, together.
    pub capacity: u64,
    /// Jobs they hold now.
    pub load: u64,
    /// Segments waiting for a transcoder.
    pub queued: usize,
    /// Output pixels per second they can take together, as admission counts it.
    pub pixels_per_second: u64,
    /// The streams admitted and held now, and the output pixels per second they ask for.
    pub streams_held: usize,
    pub demand_pixels_per_second: u64,
    pub list: Vec<TranscoderStatus>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentsView {
    pub transcoded: u64,
    /// Paid segment requests that ended in an error (any code).
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketsView {
    pub received: u64,
    pub refused: u64,
    pub won: u64,
    pub redeemed: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingView {
    pub count: u64,
    pub face_value: Amount,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EarningsView {
    pub block: u64,
    pub bonded_stake: Amount,
    pub pool_stake: Amount,
    pub pending_fees: Amount,
    pub redeemed: RedeemedView,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedeemedView {
    pub count: u64,
    pub face_value: Amount,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RewardsView {
    pub count: u64,
    pub minted: Amount,
    pub last_round: Option<u64>,
    pub calls: Vec<RewardCallView>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RewardCallView {
    pub round: u64,
    pub minted: Amount,
    pub orchestrator_cut: Amount,
    pub block: u64,
    pub timestamp: u64,
    pub tx: Option<B256>,
}

impl From<&RewardCall> for RewardCallView {
    fn from(c: &RewardCall) -> Self {
        Self {
            round: c.round,
            minted: c.minted.into(),
            orchestrator_cut: c.cut.into(),
            block: c.block,
            timestamp: c.timestamp,
            tx: c.tx,
        }
    }
}

/// Why the status could not be assembled (the payment database failed).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StatusError(#[from] crate::store::StoreError);

/// Assembles the status: local state, then the chain (whose failure is reported, not fatal).
pub async fn status<P: Provider + Clone>(node: &Node<P>) -> Result<Status, StatusError> {
    let m = node.metrics();
    let count = |name: &str, pairs: &[(&str, &str)]| m.counter(name, pairs) as u64;
    let transcoded = count(SEGMENTS, &[("outcome", "transcoded")]);
    let all_segments = m.sum(SEGMENTS) as u64;
    let (pending, redeemed, failed) = {
        let store = node.store();
        (
            {
                // In a redemption short of its confirmations: not paid for good yet.
                let (n, v) = store.winning_summary(WinningTicketStatus::Pending)?;
                let (m, w) = store.winning_summary(WinningTicketStatus::Submitted)?;
                (n + m, v + w)
            },
            store.winning_summary(WinningTicketStatus::Redeemed)?,
            store.winning_summary(WinningTicketStatus::Failed)?,
        )
    };
    let list = node.transcoders_connected();
    let held = node.load();
    let transcoders = TranscodersView {
        connected: list.len(),
        capacity: list.iter().map(|t| u64::from(t.capacity)).sum(),
        load: list.iter().map(|t| u64::from(t.load)).sum(),
        queued: node.jobs.queued(),
        pixels_per_second: list.iter().map(|t| t.estimated_pixels_per_second).sum(),
        streams_held: held.streams,
        demand_pixels_per_second: held.demand,
        list,
    };
    let chain = node
        .earnings
        .read(
            node.chain().provider(),
            node.staking(),
            node.domain().broker,
            node.recipient(),
            |json| {
                if let Err(error) = node.store().save_earnings_scan(json) {
                    tracing::warn!(%error, "saving the earnings scan");
                }
            },
        )
        .await;
    let (earnings, rewards, chain_error) = match chain {
        Ok(e) => {
            let (earnings, rewards) = chain_views(&e);
            (Some(earnings), Some(rewards), None)
        }
        Err(e) => {
            tracing::warn!(error = %e, "status: chain unreadable");
            (None, None, Some(e.to_string()))
        }
    };
    Ok(Status {
        orchestrator: node.recipient(),
        chain_id: node.domain().chain_id,
        price_per_pixel: node.price().into(),
        transcoders,
        streams: node.streams.all(),
        segments: SegmentsView {
            transcoded,
            failed: all_segments - transcoded,
        },
        tickets: TicketsView {
            received: count(TICKETS_RECEIVED, &[]),
            refused: m.sum(TICKETS_REFUSED) as u64,
            won: pending.0 + redeemed.0 + failed.0,
            redeemed: redeemed.0,
            failed: failed.0,
        },
        pending: PendingView {
            count: pending.0,
            face_value: pending.1.into(),
        },
        earnings,
        rewards,
        signing_key: node.signing_key(),
        key_retired: node.retired_for(),
        chain_error,
    })
}

fn chain_views(e: &Earnings) -> (EarningsView, RewardsView) {
    (
        EarningsView {
            block: e.block,
            bonded_stake: e.bonded_stake.into(),
            pool_stake: e.pool_stake.into(),
            pending_fees: e.pending_fees.into(),
            redeemed: RedeemedView {
                count: e.redeemed_count,
                face_value: e.redeemed_face_value.into(),
            },
        },
        RewardsView {
            count: e.reward_count,
            minted: e.reward_minted.into(),
            last_round: e.rewards.first().map(|c| c.round),
            calls: e.rewards.iter().map(RewardCallView::from).collect(),
        },
    )
}

/// `GET /v1/status` and `GET /`.
pub fn routes<P: Provider + Clone + 'static>() -> Router<Arc<Node<P>>> {
    Router::new()
        .route("/v1/status", get(serve::<P>))
        .route("/", get(page))
}

async fn serve<P: Provider + Clone>(State(node): State<Arc<Node<P>>>) -> Response {
    match status(&node).await {
        Ok(s) => axum::Json(s).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "status unavailable");
            let mut response = (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(peerflow_protocol::api::ErrorBody {
                    code: "internal".into(),
                    message: e.to_string(),
                    retry_elsewhere: false,
                }),
            )
                .into_response();
            response
                .extensions_mut()
                .insert(crate::metrics::ErrorCode("internal".into()));
            response
        }
    }
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_wei_and_trimmed_tokens() {
        let t = |w: u128| tokens(U256::from(w));
        assert_eq!(t(0), "0");
        assert_eq!(t(1), "0.000000000000000001");
        assert_eq!(t(1_500_000_000_000_000_000), "1.5");
        assert_eq!(t(100_000_000_000_000_000_000), "100");
        assert_eq!(t(10_000_000_000_000_000), "0.01");
        let a = Amount::from(U256::from(123_456_789_000_000_000_000u128));
        assert_eq!(
            (a.wei.as_str(), a.tokens.as_str()),
            ("123456789000000000000", "123.456789")
        );
    }
}
