//! Dishonest orchestrators against the broadcaster, over real HTTP on a real devnet chain: a
//! stand-in server takes the place of a devnet orchestrator in the service registry and lies to
//! the broadcaster. Every lie in a quote is refused before a single ticket is signed; a reported
//! balance of 0 costs no extra tickets; a `bad_segment` refusal after payment fails over and is
//! penalized; and an orchestrator whose tickets win far more often than their win probability is
//! caught by the win-rate watch from its own on-chain redemptions and suspended. Each test checks
//! the chain: nothing paid that was not earned (or, for the lucky cheat, no more than the watch
//! lets through).

use crate::common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::eips::BlockId;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use common::proxy::{advertise_at, push};
use peerflow::devnet::{Devnet, DevnetOptions, start};
use peerflow::roles::provider;
use peerflow_broadcaster::network::pricing::expected_value;
use peerflow_broadcaster::network::reputation::SuspensionPolicy;
use peerflow_chain::bindings::ticket_broker::TicketBroker;
use peerflow_media::testsrc;
use peerflow_protocol::api::{OrchestratorInfo, PAYMENT_HEADER, Payment};
use peerflow_protocol::lottery::recipient_rand_hash;
use peerflow_protocol::{Signature, SignedTicket, TicketDomain};

/// The devnet broadcaster's development account.
const BROADCASTER_ACCOUNT: usize = 9;

/// What the stand-in does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Quotes what the real orchestrator quotes, with one field changed (see [`Lie`]).
    Lie(Lie),
    /// Passes everything through but reports a balance of 0 in every quote and reply.
    ZeroBalance,
    /// Takes the payment and answers `bad_segment`, `retry_elsewhere: false`.
    BadSegmentAfterPayment,
    /// Wins every ticket quoted at a win probability of 1/1000, as a flaw in the draw would let
    /// it (grinding `recipientRand` did before the draw took in the sender's signature; the
    /// broker's attack tests show it no longer can). The flaw is stood in for by the test, which
    /// holds the sender's key: under the nonce of each ticket received it redeems a twin signed
    /// at certainty, so the chain shows what such a flaw would show, winners on our nonces far
    /// above chance. It answers `insufficient_balance` to keep tickets coming.
    Flawed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lie {
    /// Face value = the whole deposit, at certainty, honestly valued.
    WholeDeposit,
    /// Ticket value 1 wei (the old payer signed cost / 1 tickets).
    TinyTicketValue,
    WrongChain,
    WrongBroker,
    WrongRecipient,
    WrongSender,
    /// 1000 × the advertised price.
    Price1000x,
}

impl Lie {
    const ALL: [Lie; 7] = [
        Lie::WholeDeposit,
        Lie::TinyTicketValue,
        Lie::WrongChain,
        Lie::WrongBroker,
        Lie::WrongRecipient,
        Lie::WrongSender,
        Lie::Price1000x,
    ];

    /// The reason the broadcaster must refuse it with.
    fn code(self) -> &'static str {
        match self {
            Lie::WholeDeposit => "face_value_too_high",
            Lie::TinyTicketValue => "bad_ticket_value",
            Lie::WrongChain => "wrong_chain",
            Lie::WrongBroker => "wrong_broker",
            Lie::WrongRecipient => "wrong_recipient",
            Lie::WrongSender => "wrong_sender",
            Lie::Price1000x => "price_above_advertised",
        }
    }

    fn apply(self, info: &mut OrchestratorInfo) {
        let p = &mut info.ticket_params;
        match self {
            Lie::WholeDeposit => {
                p.face_value = U256::from(100u128 * 10u128.pow(18));
                p.win_prob = U256::MAX;
                p.ticket_value = p.face_value;
            }
            Lie::TinyTicketValue => p.ticket_value = U256::from(1u64),
            Lie::WrongChain => info.chain_id += 1,
            Lie::WrongBroker => info.ticket_broker = Address::repeat_byte(0xee),
            Lie::WrongRecipient => p.recipient = Address::repeat_byte(0xee),
            Lie::WrongSender => p.sender = Address::repeat_byte(0xee),
            Lie::Price1000x => info.price_per_pixel *= U256::from(1000u64),
        }
    }
}

/// The dishonest stand-in: a server advertised in place of a devnet orchestrator, which it uses
/// for what it does not fake.
struct StandIn {
    mode: Mutex<Mode>,
    upstream: String,
    http: reqwest::Client,
    /// `/v1/info` requests and `/v1/segment` requests seen, tickets received.
    infos: AtomicUsize,
    segments: AtomicUsize,
    tickets: AtomicUsize,
    /// The flaw: the next nonce it announces (past every nonce it was paid with), the rand behind
    /// each commitment, the sender's key, tickets redeemed.
    next_nonce: AtomicU64,
    rands: Mutex<HashMap<B256, B256>>,
    sender_key: [u8; 32],
    redeemed: AtomicUsize,
    domain: TicketDomain,
    /// The orchestrator it stands in for (the tickets' recipient).
    recipient: Address,
    /// The orchestrator account it redeems as.
    wallet: alloy::providers::DynProvider,
    broker: Address,
}

impl StandIn {
    async fn info(self: &Arc<Self>, query: &str) -> Response {
        self.infos.fetch_add(1, Ordering::SeqCst);
        let upstream = self
            .http
            .get(format!("{}/v1/info?{query}", self.upstream))
            .send()
            .await
            .unwrap();
        let mut info: OrchestratorInfo = upstream.json().await.unwrap();
        match *self.mode.lock().unwrap() {
            Mode::Lie(lie) => lie.apply(&mut info),
            Mode::ZeroBalance => info.balance = U256::ZERO,
            Mode::BadSegmentAfterPayment => {}
            Mode::Flawed => self.commit(&mut info),
        }
        axum::Json(info).into_response()
    }

    /// Quotes 0.01-token tickets at 1/1000 under a commitment to a fresh rand of its own.
    fn commit(&self, info: &mut OrchestratorInfo) {
        info.next_nonce = info.next_nonce.max(self.next_nonce.load(Ordering::SeqCst));
        let p = &mut info.ticket_params;
        p.face_value = U256::from(10_000_000_000_000_000u64); // 0.01 token
        p.win_prob = U256::MAX / U256::from(1000u64);
        p.ticket_value = expected_value(p.face_value, p.win_prob);
        let rand = B256::random();
        p.recipient_rand_hash = recipient_rand_hash(rand);
        self.rands
            .lock()
            .unwrap()
            .insert(p.recipient_rand_hash, rand);
    }

    async fn segment(self: &Arc<Self>, request: Request) -> Response {
        self.segments.fetch_add(1, Ordering::SeqCst);
        let (head, body) = request.into_parts();
        let body = axum::body::to_bytes(body, 64 << 20).await.unwrap();
        let payment: Payment =
            serde_json::from_slice(head.headers[PAYMENT_HEADER].as_bytes()).unwrap();
        self.tickets
            .fetch_add(payment.tickets.len(), Ordering::SeqCst);
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Lie(_) | Mode::ZeroBalance => self.forward(head, body, mode).await,
            Mode::BadSegmentAfterPayment => refuse(
                StatusCode::BAD_REQUEST,
                "bad_segment",
                "this segment will not decode",
                false,
            ),
            Mode::Flawed => {
                for t in &payment.tickets {
                    self.next_nonce
                        .fetch_max(t.sender_nonce + 1, Ordering::SeqCst);
                    let rand = self
                        .rands
                        .lock()
                        .unwrap()
                        .get(&t.recipient_rand_hash)
                        .copied();
                    let Some(rand) = rand else { continue };
                    let (mut ticket, _) = t.ticket(self.recipient, payment.sender).unwrap();
                    ticket.winProb = U256::MAX;
                    let signature =
                        Signature::sign(&self.sender_key, ticket.hash(&self.domain)).unwrap();
                    let signed = SignedTicket::pack(&ticket, rand, &signature).unwrap();
                    let broker = TicketBroker::new(self.broker, &self.wallet);
                    // The orchestrator behind the stand-in sends with the same key: through
                    // the shared nonces, as every role does.
                    let call = broker.redeemWinningTicket(signed.into());
                    let receipt = peerflow_chain::nonce::send(&call)
                        .await
                        .unwrap()
                        .get_receipt()
                        .await
                        .unwrap();
                    assert!(receipt.status(), "the flawed draw's winner redeems");
                    self.redeemed.fetch_add(1, Ordering::SeqCst);
                }
                refuse(
                    StatusCode::PAYMENT_REQUIRED,
                    "insufficient_balance",
                    "your credit does not cover the segment",
                    true,
                )
            }
        }
    }

    async fn forward(&self, head: axum::http::request::Parts, body: Bytes, mode: Mode) -> Response {
        let mut out = self
            .http
            .post(format!("{}/v1/segment", self.upstream))
            .body(body);
        for (name, value) in &head.headers {
            if name != "host" && name != "content-length" {
                out = out.header(name, value);
            }
        }
        let upstream = out.send().await.unwrap();
        let status = upstream.status();
        let mut headers = upstream.headers().clone();
        headers.remove("content-length");
        headers.remove("transfer-encoding");
        if mode == Mode::ZeroBalance {
            headers.insert("x-peerflow-balance", HeaderValue::from_static("0"));
        }
        let bytes = upstream.bytes().await.unwrap();
        let mut response = Response::new(Body::from(bytes));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }
}

fn refuse(status: StatusCode, code: &str, message: &str, retry_elsewhere: bool) -> Response {
    (
        status,
        axum::Json(serde_json::json!({
            "code": code, "message": message, "retryElsewhere": retry_elsewhere
        })),
    )
        .into_response()
}

async fn serve(State(s): State<Arc<StandIn>>, request: Request) -> Response {
    match request.uri().path() {
        "/v1/info" => {
            let query = request.uri().query().unwrap_or_default().to_string();
            s.info(&query).await
        }
        "/v1/segment" => s.segment(request).await,
        _ => refuse(StatusCode::NOT_FOUND, "not_found", "no such route", false),
    }
}

/// Serves a stand-in for devnet orchestrator 1 (anvil account 2), advertised in its place at
/// price 1, with orchestrator 0 advertised at 2 (so the stand-in ranks first).
async fn stand_in(net: &Devnet, mode: Mode) -> Arc<StandIn> {
    let index = 1;
    let wallet = provider(&net.chain.endpoint(), net.chain.signer(index + 1)).unwrap();
    let s = Arc::new(StandIn {
        mode: Mutex::new(mode),
        upstream: net.orchestrators[index].1.url.clone(),
        http: reqwest::Client::new(),
        infos: AtomicUsize::new(0),
        segments: AtomicUsize::new(0),
        tickets: AtomicUsize::new(0),
        next_nonce: AtomicU64::new(0),
        rands: Mutex::new(HashMap::new()),
        sender_key: net.chain.secret_key(BROADCASTER_ACCOUNT),
        redeemed: AtomicUsize::new(0),
        domain: TicketDomain {
            chain_id: net.deployment.chain_id,
            broker: net.deployment.ticket_broker,
        },
        recipient: net.orchestrators[index].0,
        wallet,
        broker: net.deployment.ticket_broker,
    });
    let app = axum::Router::new()
        .fallback(serve)
        .with_state(Arc::clone(&s));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    advertise_at(net, index, &url, 1).await;
    advertise_at(net, 0, &net.orchestrators[0].1.url, 2).await;
    // Orchestrator 0 quotes its new price from its next look at the registry (every 2 s).
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    s
}

/// A devnet whose failures suspend for no time (so the stand-in stays in every ranking until a
/// proven fault), with `redundancy` orchestrators per segment.
async fn devnet(dir: &std::path::Path, redundancy: usize) -> Devnet {
    let mut options = DevnetOptions::new(dir);
    options.redundancy = redundancy;
    options.jurors = false;
    options.suspension = SuspensionPolicy {
        base: Duration::ZERO,
        max: Duration::ZERO,
        fault: Duration::from_secs(24 * 3600),
    };
    start(&options).await.unwrap()
}

async fn status(net: &Devnet) -> serde_json::Value {
    reqwest::get(format!("{}/v1/status", net.broadcaster_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The broadcaster's funds (deposit + reserve) and its redeemed winners (recipient, face value),
/// read at one block.
async fn books(net: &Devnet) -> (U256, Vec<(Address, U256)>) {
    let chain = &net.deployer;
    let block = chain.get_block_number().await.unwrap();
    let broker = TicketBroker::new(net.deployment.ticket_broker, chain);
    let info = broker
        .getSenderInfo(net.broadcaster)
        .block(BlockId::number(block))
        .call()
        .await
        .unwrap();
    let won = broker
        .WinningTicketRedeemed_filter()
        .topic1(net.broadcaster)
        .from_block(net.deployment.start_block)
        .to_block(block)
        .query()
        .await
        .unwrap();
    (
        info.deposit + info.reserve,
        won.iter()
            .map(|(e, _)| (e.recipient, e.faceValue))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_lie_in_a_quote_is_refused_before_a_ticket_is_signed() {
    let dir = tempfile::tempdir().unwrap();
    // Two orchestrators per segment: the liar is asked every time, the honest one publishes.
    let net = devnet(dir.path(), 2).await;
    let (funds_before, won_before) = books(&net).await;
    assert!(won_before.is_empty());
    let liar = stand_in(&net, Mode::Lie(Lie::WholeDeposit)).await;
    let segments =
        testsrc::generate_segments(&dir.path().join("src"), Lie::ALL.len(), 2, 640, 360, 30)
            .unwrap();
    for (seq, lie) in Lie::ALL.iter().enumerate() {
        *liar.mode.lock().unwrap() = Mode::Lie(*lie);
        let infos = liar.infos.load(Ordering::SeqCst);
        push(&net, "lies", seq, &segments[seq]).await;
        assert!(
            liar.infos.load(Ordering::SeqCst) > infos,
            "{lie:?}: the liar was asked for a quote"
        );
    }
    assert_eq!(
        (
            liar.segments.load(Ordering::SeqCst),
            liar.tickets.load(Ordering::SeqCst)
        ),
        (0, 0),
        "no segment and no ticket ever went to the liar"
    );
    let status = status(&net).await;
    let refused = &status["payments"]["quotesRefused"];
    for lie in Lie::ALL {
        assert!(
            refused[lie.code()].as_u64().unwrap_or(0) >= 1,
            "{lie:?} counted as {}: {refused}",
            lie.code()
        );
    }
    let stream_refused = &status["streams"][0]["quotesRefused"];
    assert!(
        stream_refused["wrong_chain"].as_u64() >= Some(1),
        "{status}"
    );
    // Lies about who is paid or what a ticket is worth are the liar's failures; an honest price
    // above ours is not.
    let score = net
        .reputation
        .score(net.orchestrators[1].0)
        .unwrap()
        .unwrap();
    assert_eq!(score.failures, 5, "{score:?}");
    assert_eq!(score.successes, 0);
    // The chain: every winner redeemed was the honest orchestrator's, and the funds went down by
    // exactly those winners (the liar holds no ticket to redeem).
    let (funds_after, won) = books(&net).await;
    let honest = net.orchestrators[0].0;
    assert!(won.iter().all(|(to, _)| *to == honest), "{won:?}");
    let paid: U256 = won.iter().map(|(_, v)| *v).sum();
    assert_eq!(funds_before - funds_after, paid);
    // Everything was published.
    let stream = &status["streams"][0];
    assert_eq!(stream["segmentsOut"].as_u64(), Some(Lie::ALL.len() as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reported_balances_refusals_after_payment_and_implausible_wins_cost_the_cheat() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path(), 1).await;
    let cheat_address = net.orchestrators[1].0;
    let cheat = stand_in(&net, Mode::ZeroBalance).await;
    let segments =
        testsrc::generate_segments(&dir.path().join("src"), 14, 2, 640, 360, 30).unwrap();
    let mut seq = 0;

    // 1. A balance of 0 reported in every quote and reply: our own books know the first ticket
    // (worth 0.001 token) covers many segments, so only one ticket is ever sent.
    for _ in 0..3 {
        push(&net, "cheat", seq, &segments[seq]).await;
        seq += 1;
    }
    assert_eq!(
        cheat.segments.load(Ordering::SeqCst),
        3,
        "the cheat served them"
    );
    assert_eq!(
        cheat.tickets.load(Ordering::SeqCst),
        1,
        "one ticket for three segments, not one a segment"
    );

    // 2. `bad_segment` (retry_elsewhere: false) for a segment our probe accepted: the segment is
    // published by the next orchestrator, and the cheat is penalized.
    *cheat.mode.lock().unwrap() = Mode::BadSegmentAfterPayment;
    let failures = |net: &Devnet| {
        net.reputation
            .score(cheat_address)
            .unwrap()
            .map_or(0, |s| s.failures)
    };
    let before = failures(&net);
    push(&net, "cheat", seq, &segments[seq]).await;
    seq += 1;
    assert_eq!(
        failures(&net),
        before + 1,
        "a refusal after payment is the cheat's failure"
    );

    // 3. A flawed draw: every ticket it receives wins at 1/1000. It redeems them; the win-rate
    // watch counts them against the expectation and suspends it (fault period: a day).
    *cheat.mode.lock().unwrap() = Mode::Flawed;
    let deadline = Instant::now() + Duration::from_secs(120);
    let flagged = loop {
        assert!(
            Instant::now() < deadline,
            "the lucky cheat was never suspended"
        );
        let s = status(&net).await;
        let account = s["payments"]["orchestrators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["address"].as_str().unwrap().parse::<Address>().unwrap() == cheat_address)
            .cloned()
            .unwrap();
        if account["winRateFlagged"] == true {
            break account;
        }
        // The last segment is kept for after the flag (pushed once it is suspended); the watch
        // may flag only after the winners' redemptions, once every other segment was pushed.
        if seq + 1 < segments.len() {
            push(&net, "cheat", seq, &segments[seq]).await;
            seq += 1;
        } else {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let wins = flagged["wins"].as_u64().unwrap();
    assert!(wins >= 5, "{flagged}");
    assert!(flagged["winPValue"].as_f64().unwrap() < 1e-6, "{flagged}");
    assert!(flagged["expectedWins"].as_f64().unwrap() < 0.2, "{flagged}");
    let score = net.reputation.score(cheat_address).unwrap().unwrap();
    assert_eq!(score.last_fault.as_deref(), Some("win_rate"));
    assert!(score.is_suspended());
    // Suspended: the next segment never reaches it, and it gets no more tickets.
    let (infos, tickets) = (
        cheat.infos.load(Ordering::SeqCst),
        cheat.tickets.load(Ordering::SeqCst),
    );
    push(&net, "cheat", seq, &segments[seq]).await;
    assert_eq!(cheat.infos.load(Ordering::SeqCst), infos);
    assert_eq!(cheat.tickets.load(Ordering::SeqCst), tickets);
    // The chain: the cheat took exactly the winners it redeemed (each counted by the watch), and
    // the watch stopped it within a few of them.
    let (_, won) = books(&net).await;
    let to_cheat = won.iter().filter(|(to, _)| *to == cheat_address).count();
    // (The real orchestrator behind the stand-in may have redeemed one honest winner of part 1.)
    let lucky = cheat.redeemed.load(Ordering::SeqCst);
    assert!(
        to_cheat >= lucky && to_cheat <= lucky + 1,
        "{to_cheat} winners, {lucky} lucky"
    );
    // The watch flags at five wins or more; one of them may be that honest winner.
    assert!(
        lucky as u64 + 1 >= 5 && lucky <= 8,
        "the watch stopped it after {lucky} lucky winners"
    );
    assert!(
        to_cheat as u64 >= wins,
        "{to_cheat} winners, {wins} counted"
    );
}
