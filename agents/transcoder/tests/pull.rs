//! A transcoder pulls a paid segment from a real orchestrator, encodes it with ffmpeg, and the
//! broadcaster's reply carries decodable renditions charged at the orchestrator's price for the
//! pixels really produced.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{U256, utils::parse_ether};
use alloy::providers::{Provider, ProviderBuilder, ext::AnvilApi};
use peerflow_chain::actions::{fund_sender, give, register_orchestrator};
use peerflow_chain::{DevChain, SuiteParams, deploy_suite};
use peerflow_media::{FfmpegTranscoder, Transcoder, probe_bytes, testsrc};
use peerflow_orchestrator::service::{ServiceConfig, start};
use peerflow_orchestrator::{GasPolicy, NodeConfig, ParamsPolicy};
use peerflow_protocol::api::{
    OrchestratorInfo, PAYMENT_HEADER, Payment, ProfileSpec, RENDITION_HEADER, REQUEST_AUTH_HEADER,
    RequestAuth, RequestContext, SEGMENT_HEADER, SegmentRequest, TicketMsg,
};
use peerflow_protocol::{Signature, TicketDomain, multipart};
use peerflow_transcoder::{PullConfig, pull_one};

const PRICE: u64 = 10;

#[tokio::test]
async fn pulled_segment_comes_back_as_decodable_renditions_charged_per_pixel() {
    let chain = DevChain::spawn().unwrap();
    let provider = |i: usize| {
        ProviderBuilder::new()
            .wallet(chain.signer(i))
            .connect_http(chain.endpoint().parse().unwrap())
            .erased()
    };
    let deployer = provider(0);
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    for i in [1, 2] {
        give(
            &deployer,
            &d,
            chain.address(i),
            parse_ether("1000").unwrap(),
        )
        .await
        .unwrap();
    }
    register_orchestrator(
        &provider(1),
        &d,
        chain.address(1),
        parse_ether("100").unwrap(),
        0,
        0,
    )
    .await
    .unwrap();
    fund_sender(&provider(2), &d, parse_ether("100").unwrap(), U256::ZERO)
        .await
        .unwrap();
    deployer
        .anvil_mine(Some(d.round_length), None)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let config = ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("orchestrator"),
        deployment: d.clone(),
        node: NodeConfig {
            policy: ParamsPolicy {
                price_per_pixel: U256::from(PRICE),
                face_value: parse_ether("1").unwrap(),
                win_prob: U256::MAX / U256::from(10u64),
                lifetime_blocks: 50,
            },
            codecs: vec!["h264".into()],
            transcoder_token: "secret".into(),
            refresh_margin_blocks: 5,
            job_timeout: Duration::from_secs(60),
            capacity_pixels_per_second: 1,
        },
        max_segment_bytes: 16 << 20,
        redeem_every: Duration::from_secs(1),
        confirmations: 1,
        reward_calls: true,
        max_face_value: U256::ZERO,
        gas: GasPolicy::default(),
    };
    let orchestrator = start(provider(1), chain.address(1), chain.secret_key(1), config)
        .await
        .unwrap();

    let transcoder: Arc<dyn Transcoder> = Arc::new(FfmpegTranscoder::new());
    let pull = PullConfig {
        wait: Duration::from_secs(30),
        ..PullConfig::new(orchestrator.url.clone(), "secret")
    };
    let worker = tokio::spawn(async move {
        pull_one(&reqwest::Client::new(), &pull, &transcoder)
            .await
            .unwrap()
    });

    let segments =
        testsrc::generate_segments(&dir.path().join("src"), 1, 2, 1280, 720, 30).unwrap();
    let segment = std::fs::read(&segments[0]).unwrap();
    let http = reqwest::Client::new();
    let sender = chain.address(2);
    let info: OrchestratorInfo = http
        .get(format!("{}/v1/info?sender={sender}", orchestrator.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let p = &info.ticket_params;
    let domain = TicketDomain {
        chain_id: info.chain_id,
        broker: info.ticket_broker,
    };
    let tickets = (0..2u64)
        .map(|nonce| {
            let t = p.ticket(sender, nonce);
            TicketMsg::new(
                &t,
                &Signature::sign(&chain.secret_key(2), t.hash(&domain)).unwrap(),
            )
        })
        .collect();
    let request = SegmentRequest {
        stream: "demo".into(),
        seq: 0,
        format: "ts".into(),
        profiles: vec![
            ProfileSpec {
                name: "360p".into(),
                width: 640,
                height: 360,
                bitrate_kbps: 800,
                codec: "h264".into(),
            },
            ProfileSpec {
                name: "240p".into(),
                width: 426,
                height: 240,
                bitrate_kbps: 400,
                codec: "h264".into(),
            },
        ],
    };
    let auth = RequestAuth::sign(
        &chain.secret_key(2),
        &RequestContext {
            domain: &domain,
            orchestrator: info.orchestrator,
            sender,
            request: &request,
            segment: &segment,
        },
        p.recipient_rand_hash,
        0,
    )
    .unwrap();
    let reply = http
        .post(format!("{}/v1/segment", orchestrator.url))
        .header(SEGMENT_HEADER, serde_json::to_string(&request).unwrap())
        .header(REQUEST_AUTH_HEADER, serde_json::to_string(&auth).unwrap())
        .header(
            PAYMENT_HEADER,
            serde_json::to_string(&Payment { sender, tickets }).unwrap(),
        )
        .body(segment)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "{:?}", reply.text().await);
    assert!(worker.await.unwrap(), "the transcoder ran the job");
    let charged: U256 = reply.headers()["x-peerflow-charged"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let content_type = reply.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let parts = multipart::decode(&content_type, &reply.bytes().await.unwrap()).unwrap();
    assert_eq!(parts.len(), 2);
    let mut pixels = 0u64;
    for (part, (w, h)) in parts.iter().zip([(640, 360), (426, 240)]) {
        let info = probe_bytes(&part.body).unwrap();
        assert_eq!(
            (info.width, info.height),
            (w, h),
            "{:?}",
            part.header(RENDITION_HEADER)
        );
        assert!(
            (info.duration_s - 2.0).abs() < 0.05,
            "duration {}",
            info.duration_s
        );
        assert!(info.audio_codec.is_some(), "audio passed through");
        pixels += info.frames * u64::from(w) * u64::from(h);
    }
    assert_eq!(
        charged,
        U256::from(PRICE) * U256::from(pixels),
        "charged for the pixels produced, at its own price"
    );
}
