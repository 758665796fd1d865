//! The orchestrator over real HTTP against anvil, shared by the HTTP API tests and the
//! dishonest-broadcaster tests.
#![allow(dead_code, unused_imports)]

pub use std::sync::Arc;
pub use std::time::Duration;

pub use alloy::primitives::{Address, U256, utils::parse_ether};
pub use alloy::providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi};
pub use peerflow_chain::actions::{fund_sender, give, register_orchestrator};
pub use peerflow_chain::{Deployment, DevChain, SuiteParams, deploy_suite};
pub use peerflow_media::{probe_bytes, testsrc};
pub use peerflow_orchestrator::chain_view::ChainView;
pub use peerflow_orchestrator::http::{
    JOB_HEADER, JOB_SECRET_HEADER, JobHeader, PIXELS_HEADER, router,
};
pub use peerflow_orchestrator::service::ServiceConfig;
pub use peerflow_orchestrator::{
    GasPolicy, Limits, Node, NodeConfig, ParamsPolicy, PaymentStore, RecipientSecret, TicketBook,
    Validator,
};
pub use peerflow_protocol::api::{
    ErrorBody, OrchestratorInfo, PAYMENT_HEADER, Payment, ProfileSpec, RENDITION_HEADER,
    REQUEST_AUTH_HEADER, RequestAuth, RequestContext, SEGMENT_HEADER, SegmentRequest, TicketMsg,
};
pub use peerflow_protocol::multipart::{self, Part};
pub use peerflow_protocol::result::{
    RESULT_SIGNATURE_HEADER, ResultDomain, parse_signature_header,
};
pub use peerflow_protocol::{ResultSigner, SegmentResult, Signature, TicketDomain};

pub const TOKEN: &str = "transcoder-secret";
pub const PRICE: u64 = 1_000;

pub struct Net {
    pub node: Arc<Node<DynProvider>>,
    pub chain: DevChain,
    pub d: Deployment,
    pub url: String,
    pub http: reqwest::Client,
    /// A real 1 s 320x180 MPEG-TS segment, and its video frames.
    pub segment: Vec<u8>,
    pub frames: u64,
    pub request_nonce: std::sync::atomic::AtomicU64,
    pub _dir: tempfile::TempDir,
}

pub fn provider(chain: &DevChain, i: usize) -> DynProvider {
    ProviderBuilder::new()
        .wallet(chain.signer(i))
        .connect_http(chain.endpoint().parse().unwrap())
        .erased()
}

pub fn result_domain(chain: &DevChain, d: &Deployment) -> ResultDomain {
    ResultDomain {
        chain_id: chain.chain_id(),
        staking: d.staking,
    }
}

pub fn request() -> SegmentRequest {
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
pub async fn start() -> Net {
    start_with(Limits {
        info_sender_per_second: 1000.0,
        info_sender_burst: 1000.0,
        info_ip_per_second: 1000.0,
        info_ip_burst: 1000.0,
        ..Limits::default()
    })
    .await
}

/// [`start`] with `limits` on strangers.
pub async fn start_with(limits: Limits) -> Net {
    start_full(
        limits,
        ParamsPolicy {
            price_per_pixel: U256::from(PRICE),
            face_value: parse_ether("0.01").unwrap(),
            win_prob: U256::MAX / U256::from(10u64),
            lifetime_blocks: 20,
        },
    )
    .await
}

/// [`start_with`] issuing ticket parameters by `policy`.
pub async fn start_full(limits: Limits, policy: ParamsPolicy) -> Net {
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
    let book = TicketBook::open(&dir.path().join("payments.sqlite")).unwrap();
    let view = ChainView::new(
        o.clone(),
        d.ticket_broker,
        chain.address(1),
        d.start_block,
        d.round_length,
    );
    let config = NodeConfig {
        policy,
        codecs: vec!["h264".into()],
        transcoder_token: TOKEN.into(),
        refresh_margin_blocks: 5,
        job_timeout: Duration::from_secs(3),
        capacity_pixels_per_second: 1_000_000,
    };
    let signer = ResultSigner::new(chain.secret_key(1), result_domain(&chain, &d)).unwrap();
    let node =
        Arc::new(Node::new(validator, store, book, view, config, signer).with_limits(limits));
    let segments = testsrc::generate_segments(&dir.path().join("src"), 1, 1, 320, 180, 10).unwrap();
    let segment = std::fs::read(&segments[0]).unwrap();
    let frames = probe_bytes(&segment).unwrap().frames;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = router(Arc::clone(&node), 8 << 20)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Net {
        node,
        chain,
        d,
        url,
        http: reqwest::Client::new(),
        segment,
        frames,
        request_nonce: std::sync::atomic::AtomicU64::new(0),
        _dir: dir,
    }
}

impl Net {
    pub async fn info(&self, sender: Address) -> OrchestratorInfo {
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
    pub fn payment(&self, i: usize, info: &OrchestratorInfo, first_nonce: u64, n: u64) -> Payment {
        payment(&self.chain, i, info, first_nonce, n)
    }

    /// The sender's signature (its account's key) over `request` and `segment` under `info`'s
    /// parameters, with a fresh request nonce.
    pub fn auth(
        &self,
        info: &OrchestratorInfo,
        sender: Address,
        request: &SegmentRequest,
        segment: &[u8],
    ) -> RequestAuth {
        let i = (0..10)
            .find(|&i| self.chain.address(i) == sender)
            .expect("a dev account");
        let domain = TicketDomain {
            chain_id: info.chain_id,
            broker: info.ticket_broker,
        };
        let ctx = RequestContext {
            domain: &domain,
            orchestrator: info.orchestrator,
            sender,
            request,
            segment,
        };
        let nonce = self
            .request_nonce
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        RequestAuth::sign(
            &self.chain.secret_key(i),
            &ctx,
            info.ticket_params.recipient_rand_hash,
            nonce,
        )
        .unwrap()
    }

    pub async fn submit(
        &self,
        info: &OrchestratorInfo,
        payment: &Payment,
        segment: &[u8],
    ) -> reqwest::Response {
        let request = request();
        let auth = self.auth(info, payment.sender, &request, segment);
        self.post(&request, payment, Some(&auth), segment).await
    }

    pub async fn post(
        &self,
        request: &SegmentRequest,
        payment: &Payment,
        auth: Option<&RequestAuth>,
        segment: &[u8],
    ) -> reqwest::Response {
        let mut post = self
            .http
            .post(format!("{}/v1/segment", self.url))
            .header(SEGMENT_HEADER, serde_json::to_string(request).unwrap())
            .header(PAYMENT_HEADER, serde_json::to_string(payment).unwrap());
        if let Some(auth) = auth {
            post = post.header(REQUEST_AUTH_HEADER, serde_json::to_string(auth).unwrap());
        }
        post.body(segment.to_vec()).send().await.unwrap()
    }
}

/// A payment of `n` tickets that development account `i` of `chain` signs under `info`'s
/// parameters, nonces from `first_nonce`.
pub fn payment(
    chain: &DevChain,
    i: usize,
    info: &OrchestratorInfo,
    first_nonce: u64,
    n: u64,
) -> Payment {
    let p = &info.ticket_params;
    let sender = chain.address(i);
    let domain = TicketDomain {
        chain_id: info.chain_id,
        broker: info.ticket_broker,
    };
    let tickets = (first_nonce..first_nonce + n)
        .map(|nonce| {
            let ticket = p.ticket(sender, nonce);
            TicketMsg::new(
                &ticket,
                &Signature::sign(&chain.secret_key(i), ticket.hash(&domain)).unwrap(),
            )
        })
        .collect();
    Payment { sender, tickets }
}

/// A service for `d` keeping its data in `dir`, on a free local port: every ticket wins at `face`
/// (1 wei per pixel), redemption is tried every 200 ms and counts at once, `reward()` is called,
/// and the face value stays where it is. Tests change what they are about.
pub fn service_config(d: &Deployment, dir: &std::path::Path, face: U256) -> ServiceConfig {
    ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        deployment: d.clone(),
        node: NodeConfig {
            policy: ParamsPolicy {
                price_per_pixel: U256::from(1u64),
                face_value: face,
                win_prob: U256::MAX,
                lifetime_blocks: 10,
            },
            codecs: vec!["h264".into()],
            transcoder_token: TOKEN.into(),
            refresh_margin_blocks: 2,
            job_timeout: Duration::from_secs(10),
            capacity_pixels_per_second: 1,
        },
        max_segment_bytes: 1 << 20,
        redeem_every: Duration::from_millis(200),
        gas: GasPolicy::default(),
        confirmations: 1,
        reward_calls: true,
        max_face_value: U256::ZERO,
    }
}

pub async fn error_of(r: reqwest::Response) -> (u16, ErrorBody) {
    (r.status().as_u16(), r.json().await.unwrap())
}
