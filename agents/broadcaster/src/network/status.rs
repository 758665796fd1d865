//! The status API behind the web page, merged into the broadcaster's router:
//!
//! | Method | Path | |
//! |---|---|---|
//! | `GET` | `/v1/status` | this broadcaster: its on-chain deposit, totals and every stream |
//! | `GET` | `/v1/streams` | every stream (the `streams` of `/v1/status`) |
//! | `GET` | `/v1/streams/{id}` | one stream; `400 bad_request` for a malformed id, `404 unknown_stream` |
//!
//! `GET /v1/status` answers (amounts are [`Wei`]: `{"wei": "<decimal>", "human": "<tokens>"}`, the
//! human form with 18 decimals, trailing zeros cut):
//!
//! ```text
//! {
//!   "broadcaster": { "address": "0x…", "chainId": 31337, "ticketBroker": "0x…" },
//!   "chain": {                        // read at one block; null when the read failed
//!     "block": 1234,
//!     "deposit": Wei, "reserve": Wei, // TicketBroker.getSenderInfo(address) at `block`
//!     "withdrawRound": 0,
//!     "ticketsWon": 3,                // WinningTicketRedeemed(sender = address) up to `block`
//!     "paid": Wei                     // their face values
//!   },
//!   "chainError": null,               // or { "code": "chain_unavailable", "message": "…" }
//!   "totals": { "segmentsIn", "segmentsOut", "ticketsSent", "faceValueSent": Wei,
//!               "expectedValue": Wei, "renditionsChecked", "renditionsSampled", "faults" },
//!   "payments": {
//!     "limits": { "maxPricePerPixel": Wei, "maxPricePerSegment": Wei, "maxFaceValue": Wei,
//!                 "maxValuePerSegment": Wei, "maxTicketsPerSegment": 1000 },
//!     "quotesRefused": { "price_too_high": 2, … },   // by reason, see pricing::QuoteError::code
//!     "orchestrators": [ { "address", "ticketsSent", "valueSent", "charged", "credit",
//!                          "expectedWins", "wins", "faceValueWon", "winPValue",
//!                          "winRateFlagged" } ]      // amounts in wei, decimal strings
//!   },
//!   "streams": [ Stream, … ]          // by id
//! }
//! ```
//!
//! and a `Stream` is:
//!
//! ```text
//! {
//!   "id": "cam1",
//!   "published": true,                // false: pushed, but no segment came out yet
//!   "ended": false,
//!   "playlist": "/live/cam1/index.m3u8",          // null until published
//!   "segmentsIn": 12,                 // handed to the network since this process started
//!   "segmentsOut": 11,                // distinct sequence numbers published
//!   "latestSeq": 10, "idleMs": 850,
//!   "renditions": [ { "name": "360p", "width": 640, "height": 360, "bandwidthBps": 800000,
//!                     "codecs": null, "container": "ts", "playlist": "/live/cam1/360p.m3u8",
//!                     "segmentsOut": 11, "latestSeq": 10 } ],
//!   "orchestrator": { "address": "0x…", "url": "http://…", "seq": 10 },   // latest segment's
//!   "latencyMs": { "last": 812.5, "mean": 790.1, "count": 11 },          // arrival to renditions
//!   "verification": { "segmentsChecked": 11, "renditionsChecked": 22, "renditionsSampled": 2,
//!                     "faults": [ { "code": 3, "name": "wrong_resolution", "count": 1 } ] },
//!   "money": { "ticketsSent": 40, "faceValueSent": Wei, "expectedValue": Wei },
//!   "quotesRefused": { "segment_price_too_high": 1 },
//!   "stages": [ { "stage": "receive", "lastMs": 3.1, "meanMs": 2.8 }, …,   // where the time went:
//!               { "stage": "transcode", "lastMs": 612.0, "meanMs": 598.4 }, …  // see stats::STAGES
//!               { "stage": "publish", "lastMs": 4.0, "meanMs": 3.7 } ]
//! }
//! ```
//!
//! Counts, latencies and money are this process's since it started ([`super::stats`]); the
//! chain part is read on every request. `streams` lists the streams the broadcaster holds in
//! memory (every live one, the newest ended ones); `totals` also count those dropped since.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use alloy::eips::BlockId;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::sol_types::SolEvent;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use peerflow_chain::Deployment;
use peerflow_chain::bindings::ticket_broker::TicketBroker;
use peerflow_chain::logscan::LogScanner;
use serde::Serialize;

use super::ledger::{AccountView, Ledger};
use super::pricing::PaymentLimits;
use super::stats::{StreamRecord, StreamStats};
use crate::{ApiError, RenditionSummary, StreamSummary, Streams, is_valid_stream_name};

/// What the handlers read.
pub struct StatusApi {
    pub streams: Streams,
    pub stats: Arc<StreamStats>,
    pub chain: DynProvider,
    pub deployment: Deployment,
    /// This broadcaster's account (the tickets' sender).
    pub me: Address,
    /// Our books per orchestrator and the quotes refused.
    pub ledger: Arc<Ledger>,
    /// Our broadcaster-wide limits.
    pub limits: PaymentLimits,
    /// Our redeemed winners counted so far: each status scans only the blocks since the last.
    pub won: tokio::sync::Mutex<WonTally>,
}

/// Our winning tickets redeemed in blocks before `next_block`, and what they paid.
#[derive(Debug, Default)]
pub struct WonTally {
    next_block: u64,
    tickets: u64,
    paid: U256,
}

/// The routes above.
pub fn routes(api: Arc<StatusApi>) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/streams", get(all_streams))
        .route("/v1/streams/{id}", get(one_stream))
        .with_state(api)
}

/// An amount of the fee token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wei(pub U256);

impl Wei {
    /// The amount in whole tokens (18 decimals), exact, without trailing zeros: `"100"`, `"0.01"`.
    pub fn human(&self) -> String {
        peerflow_chain::amount::format_tokens(self.0)
    }
}

impl Serialize for Wei {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("Wei", 2)?;
        out.serialize_field("wei", &self.0.to_string())?;
        out.serialize_field("human", &self.human())?;
        out.end()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub broadcaster: Identity,
    pub chain: Option<ChainStatus>,
    pub chain_error: Option<serde_json::Value>,
    pub totals: Totals,
    pub payments: Payments,
    pub streams: Vec<StreamStatus>,
}

/// What this broadcaster pays and refuses to pay.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Payments {
    pub limits: LimitsStatus,
    /// Quotes refused since this process started, by reason (e.g. `price_too_high`).
    pub quotes_refused: std::collections::BTreeMap<&'static str, u64>,
    /// Our own books per orchestrator, with the win-rate watch.
    pub orchestrators: Vec<AccountView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitsStatus {
    pub max_price_per_pixel: Wei,
    pub max_price_per_segment: Wei,
    pub max_face_value: Wei,
    pub max_value_per_segment: Wei,
    pub max_tickets_per_segment: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub address: Address,
    pub chain_id: u64,
    pub ticket_broker: Address,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainStatus {
    pub block: u64,
    pub deposit: Wei,
    pub reserve: Wei,
    pub withdraw_round: U256,
    pub tickets_won: u64,
    pub paid: Wei,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub segments_in: u64,
    pub segments_out: u64,
    pub tickets_sent: u64,
    pub face_value_sent: Wei,
    pub expected_value: Wei,
    pub renditions_checked: u64,
    pub renditions_sampled: u64,
    pub faults: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamStatus {
    pub id: String,
    pub published: bool,
    pub ended: bool,
    pub playlist: Option<String>,
    pub segments_in: u64,
    pub segments_out: u64,
    pub latest_seq: Option<u64>,
    pub idle_ms: Option<u64>,
    pub renditions: Vec<RenditionSummary>,
    pub orchestrator: Option<ChosenStatus>,
    pub latency_ms: Option<LatencyStatus>,
    pub verification: VerificationStatus,
    pub money: MoneyStatus,
    /// Quotes refused for this stream's segments, by reason.
    pub quotes_refused: std::collections::BTreeMap<&'static str, u64>,
    /// Where its published segments' time went, stage by stage in order (see
    /// `peerflow_broadcaster::network::stats::STAGES`): the last segment's and the mean.
    pub stages: Vec<StageStatus>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageStatus {
    pub stage: &'static str,
    pub last_ms: f64,
    pub mean_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct ChosenStatus {
    pub address: Address,
    pub url: String,
    pub seq: u64,
}

#[derive(Debug, Serialize)]
pub struct LatencyStatus {
    pub last: f64,
    pub mean: f64,
    pub count: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationStatus {
    pub segments_checked: u64,
    pub renditions_checked: u64,
    pub renditions_sampled: u64,
    pub faults: Vec<FaultCount>,
}

#[derive(Debug, Serialize)]
pub struct FaultCount {
    pub code: u8,
    pub name: &'static str,
    pub count: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MoneyStatus {
    pub tickets_sent: u64,
    pub face_value_sent: Wei,
    pub expected_value: Wei,
}

/// One stream from what the broadcaster published (`summary`) and what the network did (`record`).
fn stream_status(
    id: &str,
    summary: Option<StreamSummary>,
    record: Option<StreamRecord>,
) -> StreamStatus {
    let record = record.unwrap_or_default();
    let latency = &record.latency;
    StreamStatus {
        id: id.to_owned(),
        published: summary.is_some(),
        ended: summary.as_ref().is_some_and(|s| s.ended),
        playlist: summary.as_ref().map(|s| s.playlist.clone()),
        segments_in: record.segments_in,
        segments_out: summary.as_ref().map_or(0, |s| s.segments_out),
        latest_seq: summary.as_ref().and_then(|s| s.latest_seq),
        idle_ms: summary.as_ref().map(|s| s.idle_ms),
        renditions: summary.map(|s| s.renditions).unwrap_or_default(),
        orchestrator: record.chosen.map(|c| ChosenStatus {
            address: c.address,
            url: c.url,
            seq: c.seq,
        }),
        latency_ms: latency.mean_ms().map(|mean| LatencyStatus {
            last: latency.last_ms,
            mean,
            count: latency.count,
        }),
        verification: VerificationStatus {
            segments_checked: record.checks.segments,
            renditions_checked: record.checks.renditions,
            renditions_sampled: record.checks.sampled,
            faults: record
                .checks
                .faults
                .iter()
                .map(|(&code, &(name, count))| FaultCount { code, name, count })
                .collect(),
        },
        money: MoneyStatus {
            tickets_sent: record.spend.tickets,
            face_value_sent: Wei(record.spend.face_value),
            expected_value: Wei(record.spend.expected_value),
        },
        stages: super::stats::STAGES
            .iter()
            .filter_map(|stage| {
                let l = record.stages.get(stage)?;
                Some(StageStatus {
                    stage,
                    last_ms: l.last_ms,
                    mean_ms: l.mean_ms()?,
                })
            })
            .collect(),
        quotes_refused: record.refused,
    }
}

/// Every stream the broadcaster published or the network was handed, by id.
fn every_stream(api: &StatusApi) -> Vec<StreamStatus> {
    let mut published: HashMap<String, StreamSummary> = api
        .streams
        .list()
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let mut records = api.stats.all();
    let ids: BTreeSet<String> = published.keys().chain(records.keys()).cloned().collect();
    ids.into_iter()
        .map(|id| {
            let (summary, record) = (published.remove(&id), records.remove(&id));
            stream_status(&id, summary, record)
        })
        .collect()
}

/// `streams` less the private ones (pushed with a private key: played by name, listed nowhere).
fn listed(api: &StatusApi, streams: Vec<StreamStatus>) -> Vec<StreamStatus> {
    streams
        .into_iter()
        .filter(|s| !api.streams.is_private(&s.id))
        .collect()
}

/// The totals of `streams`, plus what the streams dropped from memory counted (`retired`, and
/// their `dropped_segments_out`).
fn totals(streams: &[StreamStatus], retired: &StreamRecord, dropped_segments_out: u64) -> Totals {
    let mut t = Totals {
        segments_in: 0,
        segments_out: 0,
        tickets_sent: 0,
        face_value_sent: Wei(U256::ZERO),
        expected_value: Wei(U256::ZERO),
        renditions_checked: 0,
        renditions_sampled: 0,
        faults: 0,
    };
    t.segments_in += retired.segments_in;
    t.segments_out += dropped_segments_out;
    t.tickets_sent += retired.spend.tickets;
    t.face_value_sent.0 += retired.spend.face_value;
    t.expected_value.0 += retired.spend.expected_value;
    t.renditions_checked += retired.checks.renditions;
    t.renditions_sampled += retired.checks.sampled;
    t.faults += retired.checks.faults.values().map(|(_, n)| n).sum::<u64>();
    for s in streams {
        t.segments_in += s.segments_in;
        t.segments_out += s.segments_out;
        t.tickets_sent += s.money.tickets_sent;
        t.face_value_sent.0 += s.money.face_value_sent.0;
        t.expected_value.0 += s.money.expected_value.0;
        t.renditions_checked += s.verification.renditions_checked;
        t.renditions_sampled += s.verification.renditions_sampled;
        t.faults += s.verification.faults.iter().map(|f| f.count).sum::<u64>();
    }
    t
}

/// The deposit, reserve and redeemed winners of `me`, all read at the latest block.
async fn chain_status(api: &StatusApi) -> Result<ChainStatus, ApiError> {
    let failed =
        |what: &str, e: &dyn std::fmt::Display| ApiError::ChainUnavailable(format!("{what}: {e}"));
    let block = api
        .chain
        .get_block_number()
        .await
        .map_err(|e| failed("eth_blockNumber", &e))?;
    let broker = TicketBroker::new(api.deployment.ticket_broker, &api.chain);
    let info = broker
        .getSenderInfo(api.me)
        .block(BlockId::number(block))
        .call()
        .await
        .map_err(|e| failed("TicketBroker.getSenderInfo", &e))?;
    let mut won = api.won.lock().await;
    let from = won.next_block.max(api.deployment.scan_from());
    if from <= block {
        let filter = broker.WinningTicketRedeemed_filter().topic1(api.me).filter;
        let logs = LogScanner::new(filter)
            .scan(&api.chain, from, block)
            .await
            .map_err(|e| failed("TicketBroker WinningTicketRedeemed logs", &e))?;
        for e in logs
            .iter()
            .filter_map(|l| TicketBroker::WinningTicketRedeemed::decode_log(&l.inner).ok())
        {
            won.tickets += 1;
            won.paid += e.faceValue;
        }
        won.next_block = block + 1;
    }
    Ok(ChainStatus {
        block,
        deposit: Wei(info.deposit),
        reserve: Wei(info.reserve),
        withdraw_round: info.withdrawRound,
        tickets_won: won.tickets,
        paid: Wei(won.paid),
    })
}

async fn status(State(api): State<Arc<StatusApi>>) -> Json<Status> {
    let (chain, chain_error) = match chain_status(&api).await {
        Ok(c) => (Some(c), None),
        Err(e) => {
            tracing::warn!(error = %e, "status: chain read failed");
            (None, Some(e.body()))
        }
    };
    let streams = every_stream(&api);
    let totals = totals(
        &streams,
        &api.stats.retired(),
        api.streams.dropped_segments_out(),
    );
    // The network's records name every stream it was handed: private ones count in the totals
    // but are listed nowhere.
    let streams = listed(&api, streams);
    Json(Status {
        broadcaster: Identity {
            address: api.me,
            chain_id: api.deployment.chain_id,
            ticket_broker: api.deployment.ticket_broker,
        },
        chain,
        chain_error,
        totals,
        payments: Payments {
            limits: LimitsStatus {
                max_price_per_pixel: Wei(api.limits.max_price_per_pixel),
                max_price_per_segment: Wei(api.limits.max_price_per_segment),
                max_face_value: Wei(api.limits.max_face_value),
                max_value_per_segment: Wei(api.limits.max_value_per_segment),
                max_tickets_per_segment: api.limits.max_tickets_per_segment,
            },
            quotes_refused: api.ledger.refusals(),
            orchestrators: api.ledger.accounts(),
        },
        streams,
    })
}

async fn all_streams(State(api): State<Arc<StatusApi>>) -> Json<Vec<StreamStatus>> {
    Json(listed(&api, every_stream(&api)))
}

async fn one_stream(
    State(api): State<Arc<StatusApi>>,
    Path(id): Path<String>,
) -> Result<Json<StreamStatus>, ApiError> {
    if !is_valid_stream_name(&id) {
        return Err(ApiError::BadRequest(format!(
            "{id:?} is not a stream id ([A-Za-z0-9_-]{{1,64}})"
        )));
    }
    let (summary, record) = (api.streams.get(&id), api.stats.get(&id));
    if summary.is_none() && record.is_none() {
        return Err(ApiError::UnknownStream(format!("no stream {id:?}")));
    }
    Ok(Json(stream_status(&id, summary, record)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::stats::Spend;

    #[test]
    fn wei_reads_as_tokens_with_eighteen_decimals() {
        let wei = |s: &str| Wei(s.parse().unwrap());
        assert_eq!(wei("0").human(), "0");
        assert_eq!(wei("100000000000000000000").human(), "100");
        assert_eq!(wei("10000000000000000").human(), "0.01");
        assert_eq!(wei("1").human(), "0.000000000000000001");
        assert_eq!(wei("99990000000000000001").human(), "99.990000000000000001");
        let json = serde_json::to_value(wei("1500000000000000000")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "wei": "1500000000000000000", "human": "1.5" })
        );
    }

    #[test]
    fn a_stream_the_network_saw_but_never_published_is_listed_unpublished() {
        let stats = StreamStats::default();
        stats.pushed("lost");
        stats.paid(
            "lost",
            &Spend {
                tickets: 3,
                face_value: U256::from(30u64),
                expected_value: U256::from(3u64),
            },
        );
        stats.faulted("lost", 5, "stale_segment");
        let s = stream_status("lost", None, stats.get("lost"));
        assert!(!s.published && s.playlist.is_none() && s.latency_ms.is_none());
        assert_eq!((s.segments_in, s.segments_out), (1, 0));
        assert_eq!(s.money.tickets_sent, 3);
        let faults: Vec<(u8, &str, u64)> = s
            .verification
            .faults
            .iter()
            .map(|f| (f.code, f.name, f.count))
            .collect();
        assert_eq!(faults, vec![(5, "stale_segment", 1)]);
        let t = totals(&[s], &StreamRecord::default(), 0);
        assert_eq!((t.tickets_sent, t.faults), (3, 1));
        assert_eq!(t.face_value_sent, Wei(U256::from(30u64)));
        // A stream dropped from memory still counts.
        stats.forget("lost");
        let t = totals(&[], &stats.retired(), 7);
        assert_eq!((t.segments_in, t.segments_out), (1, 7));
        assert_eq!((t.tickets_sent, t.faults), (3, 1));
        assert_eq!(t.face_value_sent, Wei(U256::from(30u64)));
        let json = serde_json::to_value(stream_status("x", None, None)).unwrap();
        for key in [
            "segmentsIn",
            "latencyMs",
            "verification",
            "money",
            "orchestrator",
        ] {
            assert!(json.get(key).is_some(), "{key} in {json}");
        }
    }
}
