//! The payer against a dishonest orchestrator over real HTTP (a local stand-in server): oversized
//! replies are cut off, quotes that would make it sign millions of tickets or trust a lie are
//! refused with nothing signed, a reported balance of 0 costs no extra tickets (our own books
//! count the credit), and a refusal after payment is the orchestrator's fault.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use alloy::primitives::{Address, B256, U256};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use peerflow_broadcaster::network::discovery::Candidate;
use peerflow_broadcaster::network::ledger::Ledger;
use peerflow_broadcaster::network::pricing::{PaymentLimits, StreamCeiling, expected_value};
use peerflow_broadcaster::network::session::{AttemptError, Payer};
use peerflow_broadcaster::network::stats::Spend;
use peerflow_protocol::TicketDomain;
use peerflow_protocol::api::{
    OrchestratorInfo, PAYMENT_HEADER, Payment, SegmentRequest, TicketParamsMsg,
};
use peerflow_protocol::result::ResultDomain;

const ME: Address = Address::repeat_byte(0xb0);
const ORCH: Address = Address::repeat_byte(0x0c);
const DOMAIN: TicketDomain = TicketDomain {
    chain_id: 31337,
    broker: Address::repeat_byte(0xbb),
};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// An honest quote (1 wei/pixel, face 0.01 token at 1/10); segment replies are refused as
    /// `insufficient_balance`.
    Broke,
    /// Honest quote; segment replies `bad_segment`, `retry_elsewhere: false`.
    BadSegment,
    /// A 1 MiB `/v1/info` reply.
    Huge,
    /// Quotes a ticket value of 1 wei for a ticket worth far more.
    LowTicketValue,
    /// An honestly valued ticket worth 1 wei: paying a segment takes millions of tickets.
    Dust,
}

struct StandIn {
    mode: Mutex<Mode>,
    /// `/v1/segment` requests, and tickets in them.
    segments: AtomicUsize,
    tickets: AtomicUsize,
    next_nonce: AtomicUsize,
}

fn quote(mode: Mode, next_nonce: u64) -> OrchestratorInfo {
    let (face_value, win_prob) = match mode {
        Mode::Dust => (U256::from(1u64) << 59, U256::from(1u64) << 197),
        _ => (
            U256::from(10_000_000_000_000_000u64),
            U256::MAX / U256::from(10u64),
        ),
    };
    let mut ticket_value = expected_value(face_value, win_prob);
    if mode == Mode::LowTicketValue {
        ticket_value = U256::from(1u64);
    }
    OrchestratorInfo {
        orchestrator: ORCH,
        chain_id: DOMAIN.chain_id,
        ticket_broker: DOMAIN.broker,
        price_per_pixel: U256::from(1u64),
        codecs: vec!["h264".into()],
        capacity_pixels_per_second: 1,
        ticket_params: TicketParamsMsg {
            recipient: ORCH,
            sender: ME,
            face_value,
            win_prob,
            recipient_rand_hash: B256::repeat_byte(7),
            creation_round: 1,
            expiration_block: 1_000,
            ticket_value,
        },
        balance: U256::ZERO,
        next_nonce,
        next_request_nonce: 0,
    }
}

async fn info(State(s): State<Arc<StandIn>>) -> Response {
    let mode = *s.mode.lock().unwrap();
    if mode == Mode::Huge {
        return (
            [("content-type", "application/json")],
            format!("{{\"pad\": \"{}\"}}", "x".repeat(1 << 20)),
        )
            .into_response();
    }
    axum::Json(quote(mode, s.next_nonce.load(Ordering::SeqCst) as u64)).into_response()
}

async fn segment(State(s): State<Arc<StandIn>>, headers: HeaderMap) -> Response {
    s.segments.fetch_add(1, Ordering::SeqCst);
    let payment: Payment = serde_json::from_slice(headers[PAYMENT_HEADER].as_bytes()).unwrap();
    s.tickets.fetch_add(payment.tickets.len(), Ordering::SeqCst);
    s.next_nonce
        .fetch_add(payment.tickets.len(), Ordering::SeqCst);
    let (status, code, retry) = match *s.mode.lock().unwrap() {
        Mode::BadSegment => (StatusCode::BAD_REQUEST, "bad_segment", false),
        _ => (StatusCode::PAYMENT_REQUIRED, "insufficient_balance", true),
    };
    (
        status,
        axum::Json(serde_json::json!({"code": code, "message": "no", "retryElsewhere": retry})),
    )
        .into_response()
}

async fn serve(mode: Mode) -> (Arc<StandIn>, Candidate) {
    let s = Arc::new(StandIn {
        mode: Mutex::new(mode),
        segments: AtomicUsize::new(0),
        tickets: AtomicUsize::new(0),
        next_nonce: AtomicUsize::new(0),
    });
    let app = axum::Router::new()
        .route("/v1/info", get(info))
        .route("/v1/segment", post(segment))
        .with_state(Arc::clone(&s));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let candidate = Candidate {
        address: ORCH,
        uri,
        stake: U256::ZERO,
        at_risk: U256::ZERO,
        advertised_price: U256::from(1u64),
        services: vec!["transcode:h264".into()],
        regions: vec![],
        hot_key: None,
    };
    (s, candidate)
}

fn payer() -> Payer {
    Payer::new(
        [0x11; 32],
        ME,
        DOMAIN,
        ResultDomain {
            chain_id: DOMAIN.chain_id,
            staking: Address::repeat_byte(0x5a),
        },
        PaymentLimits::default(),
        Arc::new(Ledger::default()),
    )
}

fn request(seq: u64) -> SegmentRequest {
    SegmentRequest {
        stream: "s".into(),
        seq,
        format: "ts".into(),
        profiles: vec![],
    }
}

/// 640x360 at 60 frames.
const PIXELS: u64 = 640 * 360 * 60;

async fn submit(payer: &Payer, to: &Candidate, seq: u64) -> (AttemptError, Spend) {
    let mut spent = Spend::default();
    let err = payer
        .submit(
            to,
            &request(seq),
            b"segment",
            PIXELS,
            10,
            &StreamCeiling::default(),
            &mut spent,
        )
        .await
        .unwrap_err();
    (err, spent)
}

#[tokio::test]
async fn an_oversized_reply_is_cut_off() {
    let (s, to) = serve(Mode::Huge).await;
    let (err, spent) = submit(&payer(), &to, 0).await;
    assert!(
        matches!(&err, AttemptError::BadReply(m) if m.contains("larger than")),
        "{err}"
    );
    assert_eq!(spent.tickets, 0);
    assert_eq!(s.segments.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn lying_or_dust_quotes_are_refused_with_nothing_signed() {
    for (mode, code) in [
        (Mode::LowTicketValue, "bad_ticket_value"),
        // 1 wei tickets: 13.8M tickets for a segment; refused, not signed under a lock.
        (Mode::Dust, "too_many_tickets"),
    ] {
        let (s, to) = serve(mode).await;
        let payer = payer();
        let (err, spent) = submit(&payer, &to, 0).await;
        assert_eq!(err.quote_refusal(), Some(code), "{mode:?}: {err}");
        assert_eq!(spent, Spend::default(), "{mode:?}");
        assert_eq!(s.segments.load(Ordering::SeqCst), 0, "{mode:?}");
        assert_eq!(payer.ledger().refusals().get(code), Some(&1));
        assert_eq!(
            err.is_orchestrators_fault(),
            mode == Mode::LowTicketValue,
            "a lie is its fault; dust is only too fine for us"
        );
    }
}

#[tokio::test]
async fn a_reported_balance_of_zero_costs_at_most_one_catch_up_ticket_per_segment() {
    let (s, to) = serve(Mode::Broke).await;
    let payer = payer();
    // Segment 0: one ticket (worth 0.001 token, far more than the segment), refused as
    // insufficient balance; the catch-up pays once more in full: two tickets, then failure.
    let (err, spent) = submit(&payer, &to, 0).await;
    assert!(
        matches!(&err, AttemptError::Refused { code, paid: true, .. } if code == "insufficient_balance"),
        "{err}"
    );
    assert!(err.is_orchestrators_fault());
    assert_eq!(spent.tickets, 2);
    assert_eq!(s.segments.load(Ordering::SeqCst), 2);
    // Segment 1: our books hold two tickets of credit, so the first try pays nothing; the
    // catch-up pays one. Never one a try on the orchestrator's word.
    let (_, spent) = submit(&payer, &to, 1).await;
    assert_eq!(spent.tickets, 1);
    assert_eq!(s.tickets.load(Ordering::SeqCst), 3);
    assert_eq!(s.segments.load(Ordering::SeqCst), 4);
    let books = &payer.ledger().accounts()[0];
    assert_eq!(books.address, ORCH);
    assert_eq!(books.tickets_sent, 3);
    assert_eq!(books.charged, "0", "nothing was done, nothing charged");
}

#[tokio::test]
async fn bad_segment_after_payment_is_the_orchestrators_fault() {
    let (_, to) = serve(Mode::BadSegment).await;
    let (err, spent) = submit(&payer(), &to, 0).await;
    assert!(err.is_bad_segment());
    assert!(!err.retry_elsewhere(), "it says so");
    assert_eq!(spent.tickets, 1);
    assert!(
        err.is_orchestrators_fault(),
        "paid, then refused: its failure"
    );
}
