//! The orchestrator's HTTP API over real HTTP against anvil: quoting, payment, every refusal with
//! its code (and nothing debited), the transcoder pull protocol, and charging at its own price.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, U256, utils::parse_ether};
use alloy::providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi};
use peerflow_chain::actions::{fund_sender, give, register_orchestrator};
use peerflow_chain::{Deployment, DevChain, SuiteParams, deploy_suite};
use peerflow_orchestrator::chain_view::ChainView;
use peerflow_orchestrator::http::{JOB_HEADER, JobHeader, PIXELS_HEADER, router};
use peerflow_orchestrator::{
    Node, NodeConfig, ParamsPolicy, PaymentStore, RecipientSecret, Validator,
};
use peerflow_protocol::api::{
    ErrorBody, OrchestratorInfo, PAYMENT_HEADER, Payment, ProfileSpec, RENDITION_HEADER,
    SEGMENT_HEADER, SegmentRequest, TicketMsg,
};
use peerflow_protocol::multipart::{self, Part};
use peerflow_protocol::result::{RESULT_SIGNATURE_HEADER, ResultDomain, parse_signature_header};
use peerflow_protocol::{ResultSigner, SegmentResult, Signature, TicketDomain};

const TOKEN: &str = "transcoder-secret";
const PRICE: u64 = 1_000;

struct Net {
    chain: DevChain,
    d: Deployment,
    url: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn provider(chain: &DevChain, i: usize) -> DynProvider {
    ProviderBuilder::new()
        .wallet(chain.signer(i))
        .connect_http(chain.endpoint().parse().unwrap())
        .erased()
}

fn result_domain(chain: &DevChain, d: &Deployment) -> ResultDomain {
    ResultDomain {
        chain_id: chain.chain_id(),
        staking: d.staking,
    }
}

fn request() -> SegmentRequest {
    SegmentRequest {
        stream: "s".into(),
        seq: 0,
        format: "ts".into(),
        profiles: vec![ProfileSpec {
            name: "240p".into(),
            width: 426,
            height: 240,
            bitrate_kbps: 400,
            codec: "h264".into(),
        }],
    }
}

/// Anvil with the suite; account 1 a registered orchestrator serving HTTP; accounts 2 and 3 funded
/// broadcasters (10 and 0.000001 FLOW of deposit).
async fn start() -> Net {
    let chain = DevChain::spawn().unwrap();
    let deployer = provider(&chain, 0);
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    for i in 1..=3 {
        give(&deployer, &d, chain.address(i), parse_ether("100").unwrap())
            .await
            .unwrap();
    }
    let o = provider(&chain, 1);
    register_orchestrator(&o, &d, chain.address(1), parse_ether("50").unwrap(), 0, 0)
        .await
        .unwrap();
    fund_sender(
        &provider(&chain, 2),
        &d,
        parse_ether("10").unwrap(),
        U256::ZERO,
    )
    .await
    .unwrap();
    fund_sender(
        &provider(&chain, 3),
        &d,
        U256::from(1_000_000_000_000u64),
        U256::ZERO,
    )
    .await
    .unwrap();
    deployer
        .anvil_mine(Some(d.round_length), None)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let domain = TicketDomain {
        chain_id: chain.chain_id(),
        broker: d.ticket_broker,
    };
    let validator = Validator::new(chain.address(1), domain, RecipientSecret::random());
    let store = PaymentStore::open(&dir.path().join("payments.sqlite")).unwrap();
    let view = ChainView::new(
        o.clone(),
        d.ticket_broker,
        chain.address(1),
        d.start_block,
        d.round_length,
    );
    let config = NodeConfig {
        policy: ParamsPolicy {
            price_per_pixel: U256::from(PRICE),
            face_value: parse_ether("0.01").unwrap(),
            win_prob: U256::MAX / U256::from(10u64),
            lifetime_blocks: 20,
        },
        codecs: vec!["h264".into()],
        transcoder_token: TOKEN.into(),
        refresh_margin_blocks: 5,
        job_timeout: Duration::from_secs(3),
        capacity_pixels_per_second: 1_000_000,
    };
    let signer = ResultSigner::new(chain.secret_key(1), result_domain(&chain, &d)).unwrap();
    let node = Arc::new(Node::new(validator, store, view, config, signer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(node, 8 << 20)).await.unwrap() });
    Net {
        chain,
        d,
        url,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

impl Net {
    async fn info(&self, sender: Address) -> OrchestratorInfo {
        let r = self
            .http
            .get(format!("{}/v1/info?sender={sender}", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// A payment of `n` tickets from broadcaster account `i` under `info`'s parameters.
    fn payment(&self, i: usize, info: &OrchestratorInfo, first_nonce: u64, n: u64) -> Payment {
        let p = &info.ticket_params;
        let sender = self.chain.address(i);
        let domain = TicketDomain {
            chain_id: info.chain_id,
            broker: info.ticket_broker,
        };
        let tickets = (first_nonce..first_nonce + n)
            .map(|nonce| {
                let ticket = p.ticket(sender, nonce);
                TicketMsg::new(
                    &ticket,
                    &Signature::sign(&self.chain.secret_key(i), ticket.hash(&domain)).unwrap(),
                )
            })
            .collect();
        Payment { sender, tickets }
    }

    async fn submit(&self, payment: &Payment, segment: &[u8]) -> reqwest::Response {
        let request = request();
        self.http
            .post(format!("{}/v1/segment", self.url))
            .header(SEGMENT_HEADER, serde_json::to_string(&request).unwrap())
            .header(PAYMENT_HEADER, serde_json::to_string(payment).unwrap())
            .body(segment.to_vec())
            .send()
            .await
            .unwrap()
    }
}

async fn error_of(r: reqwest::Response) -> (u16, ErrorBody) {
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn info_binds_ticket_params_to_the_sender_and_reuses_them_while_fresh() {
    let net = start().await;
    let (b, other) = (net.chain.address(2), net.chain.address(3));
    let first = net.info(b).await;
    assert_eq!(first.orchestrator, net.chain.address(1));
    assert_eq!(
        (first.chain_id, first.ticket_broker),
        (net.chain.chain_id(), net.d.ticket_broker)
    );
    assert_eq!(first.ticket_params.sender, b);
    assert_eq!(
        first.ticket_params.ticket_value,
        parse_ether("0.001").unwrap() - U256::from(1u64)
    );
    assert_eq!(
        net.info(b).await.ticket_params,
        first.ticket_params,
        "reused while fresh"
    );
    assert_ne!(
        net.info(other).await.ticket_params.recipient_rand_hash,
        first.ticket_params.recipient_rand_hash
    );

    provider(&net.chain, 0)
        .anvil_mine(Some(20), None)
        .await
        .unwrap();
    let later = net.info(b).await.ticket_params;
    assert_ne!(
        later.recipient_rand_hash, first.ticket_params.recipient_rand_hash,
        "refreshed near expiry"
    );
}

#[tokio::test]
async fn paid_segment_is_transcoded_by_a_pulling_transcoder_and_charged_at_the_orchestrators_price()
{
    let net = start().await;
    let info = net.info(net.chain.address(2)).await;

    let unauthorized = net
        .http
        .get(format!("{}/v1/transcoder/work?wait=0", net.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    let idle = net
        .http
        .get(format!("{}/v1/transcoder/work?wait=0", net.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(idle.status(), 204);

    // A transcoder behind NAT: it pulls the job and posts a rendition back.
    let (http, url) = (net.http.clone(), net.url.clone());
    let transcoder = tokio::spawn(async move {
        let job = http
            .get(format!("{url}/v1/transcoder/work?wait=10"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(job.status(), 200);
        let meta: JobHeader = serde_json::from_slice(job.headers()[JOB_HEADER].as_bytes()).unwrap();
        assert_eq!(job.bytes().await.unwrap().as_ref(), b"segment bytes");
        let part = Part::new("video/mp2t", b"rendition bytes".to_vec())
            .with_header(RENDITION_HEADER, meta.request.profiles[0].name.clone())
            .with_header(PIXELS_HEADER, "6000");
        let (content_type, body) = multipart::encode(&[part]);
        let done = http
            .post(format!("{url}/v1/transcoder/result/{}", meta.id))
            .bearer_auth(TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 204);
    });

    let reply = net
        .submit(&net.payment(2, &info, 0, 2), b"segment bytes")
        .await;
    assert_eq!(reply.status(), 200);
    let charged: U256 = reply.headers()["x-peerflow-charged"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        charged,
        U256::from(6000 * PRICE),
        "price × pixels produced, at the orchestrator's price"
    );
    let content_type = reply.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let signature = parse_signature_header(
        reply
            .headers()
            .get(RESULT_SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok()),
    )
    .unwrap();
    let parts = multipart::decode(&content_type, &reply.bytes().await.unwrap()).unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(
        (parts[0].header(RENDITION_HEADER), parts[0].body.as_slice()),
        (Some("240p"), &b"rendition bytes"[..])
    );
    // The reply is signed by the orchestrator over the input, the profile and the rendition.
    let result = SegmentResult::new(
        net.chain.address(1),
        net.chain.address(2),
        &request(),
        b"segment bytes",
        &[b"rendition bytes"],
    );
    let domain = result_domain(&net.chain, &net.d);
    assert_eq!(result.verify(&domain, &signature), Ok(()));
    let tampered = SegmentResult::new(
        net.chain.address(1),
        net.chain.address(2),
        &request(),
        b"segment bytes",
        &[b"rendition bytez"],
    );
    assert!(tampered.verify(&domain, &signature).is_err());
    transcoder.await.unwrap();
    let balance = net.info(net.chain.address(2)).await.balance;
    assert_eq!(
        balance,
        info.ticket_params.ticket_value * U256::from(2u64) - charged
    );
}

#[tokio::test]
async fn refused_payments_say_why_and_debit_nothing() {
    let net = start().await;
    let b = net.chain.address(2);
    let info = net.info(b).await;

    // No transcoder connected: the tickets pay, the work is refused with "capacity", nothing is charged.
    let (status, body) = error_of(net.submit(&net.payment(2, &info, 0, 1), b"segment").await).await;
    assert_eq!(
        (status, body.code.as_str(), body.retry_elsewhere),
        (503, "capacity", true)
    );
    let credit = net.info(b).await.balance;
    assert_eq!(credit, info.ticket_params.ticket_value);

    let (status, body) = error_of(net.submit(&net.payment(2, &info, 0, 1), b"segment").await).await;
    assert_eq!(
        (status, body.code.as_str(), body.retry_elsewhere),
        (409, "ticket_replayed", false)
    );

    let mut foreign = net.payment(2, &info, 5, 1);
    foreign.tickets[0].recipient_rand_hash = alloy::primitives::B256::repeat_byte(7);
    let (status, body) = error_of(net.submit(&foreign, b"segment").await).await;
    assert_eq!((status, body.code.as_str()), (402, "ticket_params_expired"));

    // Signed for another orchestrator: the signature does not match a ticket addressed here.
    let mut elsewhere = info.clone();
    elsewhere.ticket_params.recipient = net.chain.address(9);
    let (status, body) = error_of(
        net.submit(&net.payment(2, &elsewhere, 6, 1), b"segment")
            .await,
    )
    .await;
    assert_eq!((status, body.code.as_str()), (400, "invalid_signature"));

    let poor = net.info(net.chain.address(3)).await;
    let (status, body) = error_of(net.submit(&net.payment(3, &poor, 0, 1), b"segment").await).await;
    assert_eq!((status, body.code.as_str()), (402, "insufficient_deposit"));

    provider(&net.chain, 0)
        .anvil_mine(Some(21), None)
        .await
        .unwrap();
    let (status, body) = error_of(net.submit(&net.payment(2, &info, 7, 1), b"segment").await).await;
    assert_eq!((status, body.code.as_str()), (402, "ticket_params_expired"));

    let (status, body) = error_of(net.submit(&net.payment(2, &info, 8, 0), b"").await).await;
    assert_eq!((status, body.code.as_str()), (400, "bad_segment"));
    let missing = net
        .http
        .post(format!("{}/v1/segment", net.url))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(missing).await.1.code, "bad_request");

    assert_eq!(
        net.info(b).await.balance,
        credit,
        "no refusal debited anything"
    );
}
