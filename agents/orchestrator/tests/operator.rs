//! What an operator reads, over real HTTP against a started orchestrator on anvil: `/metrics`
//! counts exactly the work done (segments by outcome, tickets, errors by code, transcoder load and
//! capacity, redemptions, reward calls), `/v1/status` agrees with those counters, with the payment
//! database and, for its on-chain earnings, with direct contract reads; the page at `/` names only
//! fields the status has and loads nothing from elsewhere. A price change advertised on-chain is
//! quoted from the next quote on.

use crate::common::{TOKEN, service_config};

use std::sync::Arc;
use std::time::Duration;

use alloy::eips::BlockId;
use alloy::primitives::{Address, U256, utils::parse_ether};
use alloy::providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi};
use peerflow_chain::actions::{advertise, fund_sender, give, register_orchestrator};
use peerflow_chain::bindings::staking::Staking;
use peerflow_chain::bindings::ticket_broker::TicketBroker;
use peerflow_chain::{Deployment, DevChain, SuiteParams, deploy_suite};
use peerflow_orchestrator::http::{
    JOB_HEADER, JOB_SECRET_HEADER, JobHeader, PIXELS_HEADER, TRANSCODER_HEADER,
    TRANSCODER_PIXELS_HEADER, TRANSCODER_SLOTS_HEADER,
};
use peerflow_orchestrator::metrics as m;
use peerflow_orchestrator::service::{RunningOrchestrator, start};
use peerflow_protocol::api::{
    OrchestratorInfo, PAYMENT_HEADER, Payment, ProfileSpec, RENDITION_HEADER, REQUEST_AUTH_HEADER,
    RequestAuth, RequestContext, SEGMENT_HEADER, SegmentRequest, TicketMsg,
};
use peerflow_protocol::metrics::Exposition;
use peerflow_protocol::multipart::{self, Part};
use peerflow_protocol::{Signature, TicketDomain};
use serde_json::Value;
use tokio::sync::{Notify, mpsc};

const PIXELS: u64 = 1_000;
const NAME: &str = "fake-1";

fn wallet(chain: &DevChain, i: usize) -> DynProvider {
    ProviderBuilder::new()
        .wallet(chain.signer(i))
        .connect_http(chain.endpoint().parse().unwrap())
        .erased()
}

fn request(seq: u64) -> SegmentRequest {
    let profile = |name: &str, width, height| ProfileSpec {
        name: name.into(),
        width,
        height,
        bitrate_kbps: 400,
        codec: "h264".into(),
    };
    SegmentRequest {
        stream: "s".into(),
        seq,
        format: "ts".into(),
        profiles: vec![profile("240p", 426, 240), profile("144p", 256, 144)],
    }
}

/// A transcoder speaking the pull protocol (2 slots): it tells `took` of each job, waits for
/// `release` on the first one, and answers every job with one part per profile of `PIXELS`.
fn fake_transcoder(
    url: String,
    took: mpsc::UnboundedSender<u64>,
    release: Arc<Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut first = true;
        loop {
            let Ok(job) = http
                .get(format!("{url}/v1/transcoder/work?wait=5"))
                .bearer_auth(TOKEN)
                .header(TRANSCODER_HEADER, NAME)
                .header(TRANSCODER_SLOTS_HEADER, "2")
                .header(TRANSCODER_PIXELS_HEADER, "90000")
                .send()
                .await
            else {
                continue;
            };
            if job.status() != 200 {
                continue;
            }
            let meta: JobHeader =
                serde_json::from_slice(job.headers()[JOB_HEADER].as_bytes()).unwrap();
            took.send(meta.id).unwrap();
            if first {
                release.notified().await;
                first = false;
            }
            let parts: Vec<Part> = meta
                .request
                .profiles
                .iter()
                .map(|p| {
                    Part::new("video/mp2t", p.name.as_bytes().to_vec())
                        .with_header(RENDITION_HEADER, p.name.clone())
                        .with_header(PIXELS_HEADER, PIXELS.to_string())
                })
                .collect();
            let (content_type, body) = multipart::encode(&parts);
            let done = http
                .post(format!("{url}/v1/transcoder/result/{}", meta.id))
                .bearer_auth(TOKEN)
                .header(JOB_SECRET_HEADER, meta.secret.as_str())
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(done.status(), 204);
        }
    })
}

async fn metrics(http: &reqwest::Client, url: &str) -> Exposition {
    let reply = http.get(format!("{url}/metrics")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert!(
        reply.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    Exposition::parse(&reply.text().await.unwrap()).unwrap()
}

async fn status(http: &reqwest::Client, url: &str) -> Value {
    let reply = http.get(format!("{url}/v1/status")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    reply.json().await.unwrap()
}

fn wei(v: &Value) -> U256 {
    v["wei"].as_str().unwrap().parse().unwrap()
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not a count"))
}

/// Every `data-field="…"` of the page.
fn data_fields(page: &str) -> Vec<String> {
    page.split("data-field=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

/// The orchestrator's self-bond (and the sender's token grant).
const BOND_FLOW: &str = "100";

/// A registered orchestrator (account 1, [`BOND_FLOW`] self-bond, no reward cut) started on anvil at
/// 1 wei per pixel with every ticket winning, and a funded sender (account 2).
struct Started {
    chain: DevChain,
    d: Deployment,
    deployer: DynProvider,
    o: DynProvider,
    me: Address,
    sender: Address,
    face: U256,
    url: String,
    http: reqwest::Client,
    /// A real one-second segment, and the output pixels of [`request`]'s two profiles for it.
    segment: Vec<u8>,
    pixels: u64,
    request_nonce: Arc<std::sync::atomic::AtomicU64>,
    _running: RunningOrchestrator<DynProvider>,
    _dir: tempfile::TempDir,
}

async fn started() -> Started {
    let chain = DevChain::spawn().unwrap();
    let deployer = wallet(&chain, 0);
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    let (me, sender) = (chain.address(1), chain.address(2));
    let bond = parse_ether(BOND_FLOW).unwrap();
    for i in [1, 2] {
        give(&deployer, &d, chain.address(i), bond).await.unwrap();
    }
    let o = wallet(&chain, 1);
    // No reward cut and no delegators: every minted reward is the orchestrator's own stake.
    register_orchestrator(&o, &d, me, bond, 0, 500_000)
        .await
        .unwrap();
    fund_sender(
        &wallet(&chain, 2),
        &d,
        parse_ether("10").unwrap(),
        U256::ZERO,
    )
    .await
    .unwrap();
    deployer
        .anvil_mine(Some(d.round_length), None)
        .await
        .unwrap();

    let face = parse_ether("0.01").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = service_config(&d, dir.path(), face);
    let running = start(o.clone(), me, chain.secret_key(1), config)
        .await
        .unwrap();
    let segments =
        peerflow_media::testsrc::generate_segments(&dir.path().join("src"), 1, 1, 320, 180, 10)
            .unwrap();
    let segment = std::fs::read(&segments[0]).unwrap();
    let frames = peerflow_media::probe_bytes(&segment).unwrap().frames;
    Started {
        segment,
        pixels: (426 * 240 + 256 * 144) * frames,
        request_nonce: Arc::default(),
        url: running.url.clone(),
        chain,
        d,
        deployer,
        o,
        me,
        sender,
        face,
        http: reqwest::Client::new(),
        _running: running,
        _dir: dir,
    }
}

impl Started {
    async fn info(&self) -> OrchestratorInfo {
        self.http
            .get(format!("{}/v1/info?sender={}", self.url, self.sender))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// One ticket from the sender with `nonce`, on `info`'s parameters.
    fn payment(&self, info: &OrchestratorInfo, nonce: u64) -> Payment {
        let domain = TicketDomain {
            chain_id: info.chain_id,
            broker: info.ticket_broker,
        };
        let ticket = info.ticket_params.ticket(self.sender, nonce);
        Payment {
            sender: self.sender,
            tickets: vec![TicketMsg::new(
                &ticket,
                &Signature::sign(&self.chain.secret_key(2), ticket.hash(&domain)).unwrap(),
            )],
        }
    }

    /// Posts segment `seq` (two profiles) with `payment`, signed by the sender under the
    /// parameters its ticket was made on.
    fn submit(
        &self,
        seq: u64,
        payment: Payment,
    ) -> impl std::future::Future<Output = reqwest::Response> + Send + 'static {
        let (http, url, segment) = (self.http.clone(), self.url.clone(), self.segment.clone());
        let request = request(seq);
        let domain = TicketDomain {
            chain_id: self.chain.chain_id(),
            broker: self.d.ticket_broker,
        };
        let auth = RequestAuth::sign(
            &self.chain.secret_key(2),
            &RequestContext {
                domain: &domain,
                orchestrator: self.me,
                sender: self.sender,
                request: &request,
                segment: &segment,
            },
            payment.tickets[0].recipient_rand_hash,
            self.request_nonce
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst),
        )
        .unwrap();
        async move {
            http.post(format!("{url}/v1/segment"))
                .header(SEGMENT_HEADER, serde_json::to_string(&request).unwrap())
                .header(PAYMENT_HEADER, serde_json::to_string(&payment).unwrap())
                .header(REQUEST_AUTH_HEADER, serde_json::to_string(&auth).unwrap())
                .body(segment)
                .send()
                .await
                .unwrap()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_status_report_the_work_done_and_the_chain_agrees() {
    let net = started().await;
    let (d, deployer, o, me, sender, face) =
        (&net.d, &net.deployer, &net.o, net.me, net.sender, net.face);
    let (url, http) = (net.url.clone(), net.http.clone());
    let bond = parse_ether(BOND_FLOW).unwrap();
    let broker = TicketBroker::new(d.ticket_broker, o);
    let staking = Staking::new(d.staking, o);
    let deposit_before = broker.getSenderInfo(sender).call().await.unwrap().deposit;

    let (took_tx, mut took) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let transcoder = fake_transcoder(url.clone(), took_tx, Arc::clone(&release));

    let info = net.info().await;
    let payment = |nonce: u64| net.payment(&info, nonce);
    let submit = |seq: u64, payment: Payment| net.submit(seq, payment);

    // Segment 0 is held by the transcoder: its load shows while it works.
    let held = tokio::spawn(submit(0, payment(0)));
    took.recv().await.unwrap();
    let busy = metrics(&http, &url).await;
    assert_eq!(busy.get(m::TRANSCODERS_CONNECTED, &[]), Some(1.0));
    assert_eq!(
        busy.get(m::TRANSCODER_LOAD, &[("transcoder", NAME)]),
        Some(1.0)
    );
    assert_eq!(
        busy.get(m::TRANSCODER_CAPACITY, &[("transcoder", NAME)]),
        Some(2.0)
    );
    let s = status(&http, &url).await;
    assert_eq!(
        (
            n(&s["transcoders"]["connected"]),
            n(&s["transcoders"]["load"]),
            n(&s["transcoders"]["capacity"])
        ),
        (1, 1, 2),
        "{s}"
    );
    assert_eq!(s["transcoders"]["list"][0]["name"], NAME);
    assert_eq!(s["transcoders"]["list"][0]["pixelsPerSecond"], 90000);
    release.notify_one();
    assert_eq!(held.await.unwrap().status(), 200);
    for seq in [1, 2] {
        assert_eq!(submit(seq, payment(seq)).await.status(), 200);
    }

    // Refusals, each with its code: a replayed ticket, a pull without the token, a bad query.
    let replay = submit(3, payment(0)).await;
    assert_eq!(replay.status(), 409);
    let unauthorized = http
        .get(format!("{url}/v1/transcoder/work?wait=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    let bad = http.get(format!("{url}/v1/info")).send().await.unwrap();
    assert_eq!(bad.status(), 400);

    let x = metrics(&http, &url).await;
    assert_eq!(x.value(m::SEGMENTS, &[("outcome", "transcoded")]), 3.0);
    assert_eq!(x.value(m::SEGMENTS, &[("outcome", "ticket_replayed")]), 1.0);
    assert_eq!(x.sum(m::SEGMENTS), 4.0);
    assert_eq!(
        x.value("peerflow_orchestrator_segment_seconds_count", &[]),
        3.0
    );
    assert_eq!(x.value(m::TICKETS_RECEIVED, &[]), 3.0);
    assert_eq!(x.value(m::TICKETS_WINNING, &[]), 3.0);
    assert_eq!(
        x.value(m::TICKETS_REFUSED, &[("code", "ticket_replayed")]),
        1.0
    );
    assert_eq!(x.value(m::ERRORS, &[("code", "ticket_replayed")]), 1.0);
    assert_eq!(x.value(m::ERRORS, &[("code", "unauthorized")]), 1.0);
    assert_eq!(x.value(m::ERRORS, &[("code", "http_400")]), 1.0);
    assert_eq!(x.sum(m::ERRORS), 3.0);
    assert_eq!(x.get(m::PENDING_REDEMPTIONS, &[]), Some(3.0));
    assert_eq!(x.get(m::PENDING_REDEMPTION_TOKENS, &[]), Some(0.03));
    assert_eq!(
        x.get(m::TRANSCODER_LOAD, &[("transcoder", NAME)]),
        Some(0.0)
    );
    assert_eq!(x.get(m::SEGMENTS_QUEUED, &[]), Some(0.0));

    let s = status(&http, &url).await;
    assert_eq!(n(&s["tickets"]["received"]), 3);
    assert_eq!(n(&s["tickets"]["refused"]), 1);
    assert_eq!(n(&s["tickets"]["won"]), 3);
    assert_eq!(n(&s["tickets"]["redeemed"]), 0);
    assert_eq!(n(&s["pending"]["count"]), 3);
    assert_eq!(wei(&s["pending"]["faceValue"]), face * U256::from(3u64));
    assert_eq!(s["pending"]["faceValue"]["tokens"], "0.03");
    assert_eq!(
        (n(&s["segments"]["transcoded"]), n(&s["segments"]["failed"])),
        (3, 1)
    );
    let stream = &s["streams"][0];
    assert_eq!(
        stream["broadcaster"]
            .as_str()
            .unwrap()
            .parse::<Address>()
            .unwrap(),
        sender
    );
    assert_eq!(
        (
            n(&stream["segments"]),
            n(&stream["lastSeq"]),
            n(&stream["pixels"])
        ),
        (3, 2, 3 * net.pixels)
    );
    assert_eq!(n(&s["transcoders"]["list"][0]["completed"]), 3);

    // The parameters expire; the redeemer redeems all three winners.
    deployer.anvil_mine(Some(12), None).await.unwrap();
    let mut s = status(&http, &url).await;
    for _ in 0..100 {
        if n(&s["tickets"]["redeemed"]) == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        s = status(&http, &url).await;
    }
    assert_eq!(n(&s["tickets"]["redeemed"]), 3, "{s}");
    // A new round: reward() is called in it.
    deployer
        .anvil_mine(Some(d.round_length), None)
        .await
        .unwrap();
    let round = staking.currentRound().call().await.unwrap().to::<u64>();
    for _ in 0..100 {
        let info = staking.orchestratorInfo(me).call().await.unwrap();
        if info.lastRewardRound.to::<u64>() == round {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The chain is quiet now; the status is read at one block and compared with reads at it.
    let s = status(&http, &url).await;
    let x = metrics(&http, &url).await;
    let e = &s["earnings"];
    assert!(s["chainError"].is_null(), "{s}");
    let at = BlockId::number(n(&e["block"]));
    let pending_stake = staking.pendingStake(me).call().block(at).await.unwrap();
    assert_eq!(wei(&e["bondedStake"]), pending_stake);
    assert_eq!(
        wei(&e["pendingFees"]),
        staking.pendingFees(me).call().block(at).await.unwrap()
    );
    let info_at = staking.orchestratorInfo(me).call().block(at).await.unwrap();
    assert_eq!(wei(&e["poolStake"]), info_at.stake);
    let paid = deposit_before
        - broker
            .getSenderInfo(sender)
            .call()
            .block(at)
            .await
            .unwrap()
            .deposit;
    assert_eq!(
        paid,
        face * U256::from(3u64),
        "the broker paid three winners"
    );
    assert_eq!(wei(&e["redeemed"]["faceValue"]), paid);
    assert_eq!(n(&e["redeemed"]["count"]), 3);
    let credited = broker
        .WinningTicketRedeemed_filter()
        .topic2(me.into_word())
        .from_block(0)
        .to_block(n(&e["block"]))
        .query()
        .await
        .unwrap();
    assert_eq!(credited.len(), 3);

    let rewards = staking
        .Reward_filter()
        .topic1(me.into_word())
        .from_block(0)
        .to_block(n(&e["block"]))
        .query()
        .await
        .unwrap();
    let r = &s["rewards"];
    assert!(!rewards.is_empty(), "reward() was called");
    assert_eq!(n(&r["count"]), rewards.len() as u64);
    let minted: U256 = rewards.iter().map(|(ev, _)| ev.minted).sum();
    assert!(minted > U256::ZERO);
    assert_eq!(wei(&r["minted"]), minted);
    assert_eq!(n(&r["lastRound"]), info_at.lastRewardRound.to::<u64>());
    assert_eq!(n(&r["lastRound"]), round);
    assert_eq!(
        wei(&r["calls"][0]["minted"]),
        rewards.last().unwrap().0.minted
    );
    assert!(n(&r["calls"][0]["timestamp"]) > 0);
    // Sole delegator with no cut: its stake is its bond plus everything minted (to rounding).
    assert!(
        pending_stake.abs_diff(bond + minted) <= U256::from(10u64),
        "{pending_stake} vs {bond} + {minted}"
    );

    // The status and the counters agree.
    assert_eq!(
        n(&s["tickets"]["received"]) as f64,
        x.value(m::TICKETS_RECEIVED, &[])
    );
    assert_eq!(
        n(&s["tickets"]["won"]) as f64,
        x.value(m::TICKETS_WINNING, &[])
    );
    assert_eq!(
        n(&s["tickets"]["redeemed"]) as f64,
        x.value(m::TICKETS_REDEEMED, &[])
    );
    assert_eq!(x.value(m::TICKETS_REDEEMED, &[]), 3.0);
    assert_eq!(x.sum(m::REDEMPTION_FAILURES), 0.0);
    assert_eq!(x.get(m::PENDING_REDEMPTIONS, &[]), Some(0.0));
    assert_eq!(n(&s["pending"]["count"]), 0);
    assert_eq!(
        x.value(m::REWARD_CALLS, &[("outcome", "rewarded")]),
        n(&r["count"]) as f64,
        "every reward() call of this orchestrator was this process's"
    );

    // The page: HTML with only fields the status has, nothing loaded from elsewhere.
    let page = http.get(format!("{url}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = page.text().await.unwrap();
    let fields = data_fields(&page);
    for f in [
        "tickets.won",
        "earnings.pendingFees",
        "rewards.minted",
        "pending.count",
    ] {
        assert!(fields.iter().any(|x| x == f), "page shows {f}");
    }
    for f in &fields {
        let mut v = &s;
        for key in f.split('.') {
            v = v
                .get(key)
                .unwrap_or_else(|| panic!("page field {f}: no {key} in the status"));
        }
    }
    assert!(page.contains("fetch(\"/v1/status\""));
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "nothing external"
    );

    transcoder.abort();
}

/// `peerflow orchestrator set-price` changes the advertisement in the service registry; the running
/// orchestrator quotes that price from then on, while a sender quoted before keeps paying the price
/// it was told until it asks again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_advertised_price_change_is_quoted_and_charged_from_the_next_quote_on() {
    let net = started().await;
    let (took_tx, _took) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    release.notify_one(); // no job is held
    let _transcoder = fake_transcoder(net.url.clone(), took_tx, release);
    let charged = |r: &reqwest::Response| -> U256 {
        assert_eq!(r.status(), 200);
        r.headers()["x-peerflow-charged"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let pixels = U256::from(net.pixels); // two profiles, counted by the orchestrator
    // What `peerflow orchestrator set-price` sends: the advertisement with a new price.
    let advertise_price = async |price: U256| {
        advertise(
            &net.o,
            &net.d,
            &net.url,
            &["transcode:h264"],
            &["local"],
            price,
        )
        .await
        .unwrap()
    };

    let before = net.info().await;
    assert_eq!(before.price_per_pixel, U256::from(1u64));
    assert_eq!(
        charged(&net.submit(0, net.payment(&before, 0)).await),
        pixels
    );

    advertise_price(U256::from(3u64)).await;
    let mut s = status(&net.http, &net.url).await;
    for _ in 0..100 {
        if wei(&s["pricePerPixel"]) == U256::from(3u64) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        s = status(&net.http, &net.url).await;
    }
    assert_eq!(wei(&s["pricePerPixel"]), U256::from(3u64), "{s}");

    // Still on the old quote: the old price.
    assert_eq!(
        charged(&net.submit(1, net.payment(&before, 1)).await),
        pixels
    );
    // The next quote is the new price, on fresh parameters; work on it is charged at that price.
    let after = net.info().await;
    assert_eq!(after.price_per_pixel, U256::from(3u64));
    assert_ne!(
        after.ticket_params.recipient_rand_hash,
        before.ticket_params.recipient_rand_hash
    );
    assert_eq!(
        charged(&net.submit(2, net.payment(&after, 2)).await),
        U256::from(3u64) * pixels
    );
    // An advertisement without a price (0) leaves the quoted price alone.
    advertise_price(U256::ZERO).await;
    tokio::time::sleep(Duration::from_secs(3)).await; // past one look at the registry
    assert_eq!(net.info().await.price_per_pixel, U256::from(3u64));
}
