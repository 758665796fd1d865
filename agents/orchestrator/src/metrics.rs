//! The orchestrator's Prometheus metrics, served at `GET /metrics`:
//!
//! | Name | Kind | Labels | |
//! |---|---|---|---|
//! | `peerflow_orchestrator_segments_total` | counter | `outcome` | paid segment requests: `transcoded` or the error code of the reply |
//! | `peerflow_orchestrator_segment_seconds` | histogram | | arrival to reply, transcoded segments |
//! | `peerflow_orchestrator_tickets_received_total` | counter | | tickets accepted (valid, booked) |
//! | `peerflow_orchestrator_tickets_refused_total` | counter | `code` | tickets refused, by error code |
//! | `peerflow_orchestrator_tickets_winning_total` | counter | | accepted tickets that won |
//! | `peerflow_orchestrator_tickets_redeemed_total` | counter | | winners redeemed on-chain |
//! | `peerflow_orchestrator_redemption_failures_total` | counter | `reason` | winners given up (the broker's status, or `expired`) |
//! | `peerflow_orchestrator_redemption_retries_total` | counter | `reason` | attempts that left a winner pending for a retry |
//! | `peerflow_orchestrator_pending_redemptions` | gauge | | winners waiting to be redeemed |
//! | `peerflow_orchestrator_pending_redemption_tokens` | gauge | | their face value, in tokens |
//! | `peerflow_orchestrator_errors_total` | counter | `code` | error replies of the HTTP API, by machine-readable code (`http_<status>` for rejections without one) |
//! | `peerflow_orchestrator_transcoders_connected` | gauge | | transcoders connected |
//! | `peerflow_orchestrator_transcoder_capacity` | gauge | `transcoder` | jobs it takes at once |
//! | `peerflow_orchestrator_transcoder_load` | gauge | `transcoder` | jobs it holds |
//! | `peerflow_orchestrator_segments_queued` | gauge | | segments waiting for a transcoder |
//! | `peerflow_orchestrator_reward_calls_total` | counter | `outcome` | `reward()` calls: `rewarded`, `reverted`, `failed` (not sent or no receipt) |
//! | `peerflow_orchestrator_key_retired` | gauge | | 1 while the orchestrator no longer names this node's hot key (it serves nothing; its winners wait for the key named now) |
//!
//! Gauges are read from their sources (the payment database, the transcoder registry, the job
//! queue) when `/metrics` is rendered. A transcoder running in this process (`--local-transcoder`)
//! reports its `peerflow_transcoder_*` series into the same registry.

use std::sync::Arc;

use alloy::providers::Provider;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use peerflow_protocol::metrics::{CONTENT_TYPE, LATENCY_BUCKETS, Metrics};

use crate::node::Node;
use crate::store::WinningTicketStatus;

pub const SEGMENTS: &str = "peerflow_orchestrator_segments_total";
pub const SEGMENT_SECONDS: &str = "peerflow_orchestrator_segment_seconds";
pub const SEGMENT_STAGE_SECONDS: &str = "peerflow_orchestrator_segment_stage_seconds";
pub const TICKETS_RECEIVED: &str = "peerflow_orchestrator_tickets_received_total";
pub const TICKETS_REFUSED: &str = "peerflow_orchestrator_tickets_refused_total";
pub const TICKETS_WINNING: &str = "peerflow_orchestrator_tickets_winning_total";
pub const TICKETS_REDEEMED: &str = "peerflow_orchestrator_tickets_redeemed_total";
pub const REDEMPTION_FAILURES: &str = "peerflow_orchestrator_redemption_failures_total";
pub const REDEMPTION_RETRIES: &str = "peerflow_orchestrator_redemption_retries_total";
pub const PENDING_REDEMPTIONS: &str = "peerflow_orchestrator_pending_redemptions";
pub const PENDING_REDEMPTION_TOKENS: &str = "peerflow_orchestrator_pending_redemption_tokens";
pub const ERRORS: &str = "peerflow_orchestrator_errors_total";
pub const TRANSCODERS_CONNECTED: &str = "peerflow_orchestrator_transcoders_connected";
pub const TRANSCODER_CAPACITY: &str = "peerflow_orchestrator_transcoder_capacity";
pub const TRANSCODER_LOAD: &str = "peerflow_orchestrator_transcoder_load";
pub const SEGMENTS_QUEUED: &str = "peerflow_orchestrator_segments_queued";
pub const REWARD_CALLS: &str = "peerflow_orchestrator_reward_calls_total";
pub const KEY_RETIRED: &str = "peerflow_orchestrator_key_retired";
pub const CAPACITY_PIXELS: &str = "peerflow_orchestrator_capacity_pixels_per_second";
pub const STREAMS_HELD: &str = "peerflow_orchestrator_streams_held";
pub const DEMAND_PIXELS: &str = "peerflow_orchestrator_demand_pixels_per_second";

/// A paid segment request ended with `outcome` after `seconds`.
pub fn segment(m: &Metrics, outcome: &str, seconds: f64) {
    m.inc(
        SEGMENTS,
        "Paid segment requests, by outcome (transcoded or the error code).",
        &[("outcome", outcome)],
    );
    if outcome == "transcoded" {
        m.observe(
            SEGMENT_SECONDS,
            "Time from a segment's arrival to the reply with its renditions, transcoded segments only.",
            LATENCY_BUCKETS,
            &[],
            seconds,
        );
    }
}

/// Where a transcoded segment's time went, stage by stage (`auth`, `probe`, `pay`, `queue`,
/// `transcode`, `sign`).
pub fn stages(m: &Metrics, stages: &peerflow_protocol::timing::Stages) {
    for (stage, took) in stages.laps() {
        m.observe(
            SEGMENT_STAGE_SECONDS,
            "Time a transcoded segment spent in each stage here: auth (request signature), probe \
             (ffprobe and admission), pay (tickets booked), queue (waiting for a transcoder), \
             transcode, sign (result signed, reply built).",
            LATENCY_BUCKETS,
            &[("stage", stage)],
            took.as_secs_f64(),
        );
    }
}

/// A ticket was accepted (and won, or not).
pub fn ticket_accepted(m: &Metrics, winning: bool) {
    m.inc(
        TICKETS_RECEIVED,
        "Tickets accepted (valid and booked).",
        &[],
    );
    if winning {
        m.inc(
            TICKETS_WINNING,
            "Accepted tickets that won the lottery.",
            &[],
        );
    }
}

/// A ticket was refused with `code`.
pub fn ticket_refused(m: &Metrics, code: &str) {
    m.inc(
        TICKETS_REFUSED,
        "Tickets refused, by error code.",
        &[("code", code)],
    );
}

/// A winning ticket was redeemed on-chain.
pub fn redeemed(m: &Metrics) {
    m.inc(TICKETS_REDEEMED, "Winning tickets redeemed on-chain.", &[]);
}

/// A winning ticket was given up for `reason`.
pub fn redemption_failed(m: &Metrics, reason: &str) {
    m.inc(
        REDEMPTION_FAILURES,
        "Winning tickets given up, by reason (the broker's status, or expired).",
        &[("reason", reason)],
    );
}

/// A redemption attempt left the ticket pending for a retry, for `reason`.
pub fn redemption_retry(m: &Metrics, reason: &str) {
    m.inc(
        REDEMPTION_RETRIES,
        "Redemption attempts that left a winning ticket pending for a retry, by reason.",
        &[("reason", reason)],
    );
}

/// A `reward()` call ended with `outcome` (rewarded, reverted, failed).
pub fn reward_call(m: &Metrics, outcome: &str) {
    m.inc(
        REWARD_CALLS,
        "reward() calls, by outcome.",
        &[("outcome", outcome)],
    );
}

/// The machine-readable code of an error reply, put in its extensions by the handler.
#[derive(Debug, Clone)]
pub struct ErrorCode(pub String);

/// Middleware: counts every error reply by its code.
pub async fn count_errors(State(m): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let code = match response.extensions().get::<ErrorCode>() {
            Some(ErrorCode(code)) => code.clone(),
            None => format!("http_{}", status.as_u16()),
        };
        m.inc(
            ERRORS,
            "Error replies of the HTTP API, by machine-readable code.",
            &[("code", &code)],
        );
    }
    response
}

/// `wei` in tokens of 18 decimals, as a float (for gauges).
fn tokens(wei: alloy::primitives::U256) -> f64 {
    let wei: u128 = wei.try_into().unwrap_or(u128::MAX);
    wei as f64 / 1e18
}

/// Sets the gauges from their sources.
pub fn refresh<P: Provider + Clone>(node: &Node<P>) {
    let m = node.metrics();
    match node.store().winning_summary(WinningTicketStatus::Pending) {
        Ok((count, face)) => {
            m.set(
                PENDING_REDEMPTIONS,
                "Winning tickets waiting to be redeemed.",
                &[],
                count as f64,
            );
            m.set(
                PENDING_REDEMPTION_TOKENS,
                "Face value of the winning tickets waiting to be redeemed, in tokens.",
                &[],
                tokens(face),
            );
        }
        Err(e) => tracing::warn!(error = %e, "pending redemptions unreadable"),
    }
    m.set(
        KEY_RETIRED,
        "1 while the orchestrator no longer names this node's hot key.",
        &[],
        f64::from(u8::from(node.retired())),
    );
    let connected = node.transcoders_connected();
    let held = node.load();
    m.set(
        CAPACITY_PIXELS,
        "Output pixels per second the connected transcoders can take, as admission counts it.",
        &[],
        connected
            .iter()
            .map(|t| t.estimated_pixels_per_second as f64)
            .sum(),
    );
    m.set(
        STREAMS_HELD,
        "Streams admitted and held (a new one beyond the capacity is refused with `capacity`).",
        &[],
        held.streams as f64,
    );
    m.set(
        DEMAND_PIXELS,
        "Output pixels per second the streams held ask for.",
        &[],
        held.demand as f64,
    );
    m.set(
        TRANSCODERS_CONNECTED,
        "Transcoders connected (polling, working, or seen in the last 10 s).",
        &[],
        connected.len() as f64,
    );
    let capacity: Vec<(Vec<(&str, &str)>, f64)> = connected
        .iter()
        .map(|t| (vec![("transcoder", t.name.as_str())], f64::from(t.capacity)))
        .collect();
    let load: Vec<(Vec<(&str, &str)>, f64)> = connected
        .iter()
        .map(|t| (vec![("transcoder", t.name.as_str())], f64::from(t.load)))
        .collect();
    m.set_all(
        TRANSCODER_CAPACITY,
        "Jobs a connected transcoder takes at once.",
        &capacity,
    );
    m.set_all(
        TRANSCODER_LOAD,
        "Jobs a connected transcoder holds now.",
        &load,
    );
    m.set(
        SEGMENTS_QUEUED,
        "Segments waiting for a transcoder.",
        &[],
        node.jobs.queued() as f64,
    );
}

/// `GET /metrics`.
pub async fn serve<P: Provider + Clone>(State(node): State<Arc<Node<P>>>) -> Response {
    refresh(&node);
    (
        [(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)],
        node.metrics().render(),
    )
        .into_response()
}
