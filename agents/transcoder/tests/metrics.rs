//! A two-slot transcoder serving `--metrics-listen` works two jobs at once for a real orchestrator:
//! its `/metrics` shows the load while a job is held and counts each job by outcome; the
//! orchestrator lists it by name with its capacity and load.

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use alloy::primitives::{U256, utils::parse_ether};
use alloy::providers::{Provider, ProviderBuilder, ext::AnvilApi};
use peerflow_chain::actions::{fund_sender, give, register_orchestrator};
use peerflow_chain::{DevChain, SuiteParams, deploy_suite};
use peerflow_media::{
    FfmpegTranscoder, InputFormat, MediaError, Profile, Rendition, Transcoder, testsrc,
};
use peerflow_orchestrator::service::{ServiceConfig, start};
use peerflow_orchestrator::{GasPolicy, NodeConfig, ParamsPolicy};
use peerflow_protocol::api::{
    OrchestratorInfo, PAYMENT_HEADER, Payment, ProfileSpec, REQUEST_AUTH_HEADER, RequestAuth,
    RequestContext, SEGMENT_HEADER, SegmentRequest, TicketMsg,
};
use peerflow_protocol::metrics::Exposition;
use peerflow_protocol::{Signature, TicketDomain};
use peerflow_transcoder::{PullConfig, metrics as tm, run};

/// ffmpeg, except that the first job waits until `release` is signalled.
struct HoldsFirst {
    ffmpeg: FfmpegTranscoder,
    release: Mutex<Option<mpsc::Receiver<()>>>,
}

impl Transcoder for HoldsFirst {
    fn transcode(
        &self,
        input: &[u8],
        format: InputFormat,
        ladder: &[Profile],
    ) -> Result<Vec<Rendition>, MediaError> {
        let gate = self.release.lock().unwrap().take();
        if let Some(gate) = gate {
            gate.recv().unwrap();
        }
        self.ffmpeg.transcode(input, format, ladder)
    }

    fn name(&self) -> &str {
        "ffmpeg"
    }
}

async fn scrape(url: &str) -> Exposition {
    Exposition::parse(
        &reqwest::get(format!("{url}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_slot_transcoder_reports_its_load_and_each_job() {
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
                price_per_pixel: U256::from(1u64),
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
    let url = orchestrator.url.clone();

    let (release, gate) = mpsc::channel();
    let encoder: Arc<dyn Transcoder> = Arc::new(HoldsFirst {
        ffmpeg: FfmpegTranscoder::new(),
        release: Mutex::new(Some(gate)),
    });
    let pull = PullConfig {
        name: "tc".into(),
        slots: 2,
        wait: Duration::from_secs(5),
        ..PullConfig::new(url.clone(), "secret")
    };
    let (bound, _server) = peerflow_protocol::metrics_http::serve_on(
        "127.0.0.1:0".parse().unwrap(),
        Arc::clone(&pull.metrics),
    )
    .await
    .unwrap();
    let own = format!("http://{bound}");
    let worker = tokio::spawn(run(pull, encoder));

    let http = reqwest::Client::new();
    let sender = chain.address(2);
    let info: OrchestratorInfo = http
        .get(format!("{url}/v1/info?sender={sender}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let domain = TicketDomain {
        chain_id: info.chain_id,
        broker: info.ticket_broker,
    };
    let submit = |seq: u64, segment: Vec<u8>| {
        let ticket = info.ticket_params.ticket(sender, seq);
        let payment = Payment {
            sender,
            tickets: vec![TicketMsg::new(
                &ticket,
                &Signature::sign(&chain.secret_key(2), ticket.hash(&domain)).unwrap(),
            )],
        };
        let request = SegmentRequest {
            stream: "demo".into(),
            seq,
            format: "ts".into(),
            profiles: vec![ProfileSpec {
                name: "144p".into(),
                width: 256,
                height: 144,
                bitrate_kbps: 100,
                codec: "h264".into(),
            }],
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
            info.ticket_params.recipient_rand_hash,
            seq,
        )
        .unwrap();
        let (http, url) = (http.clone(), url.clone());
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
    };
    let segments = testsrc::generate_segments(&dir.path().join("src"), 1, 2, 320, 180, 30).unwrap();
    let good = tokio::spawn(submit(0, std::fs::read(&segments[0]).unwrap()));

    // The first job is held: one job in flight, of two slots.
    let mut held = scrape(&own).await;
    for _ in 0..100 {
        if held.value(tm::LOAD, &[]) == 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        held = scrape(&own).await;
    }
    assert_eq!(held.get(tm::LOAD, &[]), Some(1.0));
    assert_eq!(held.get(tm::CAPACITY, &[]), Some(2.0));
    let seen = scrape(&url).await;
    assert_eq!(
        seen.get(
            "peerflow_orchestrator_transcoder_load",
            &[("transcoder", "tc")]
        ),
        Some(1.0)
    );
    assert_eq!(
        seen.get(
            "peerflow_orchestrator_transcoder_capacity",
            &[("transcoder", "tc")]
        ),
        Some(2.0)
    );

    // A segment that does not decode is refused by the orchestrator itself (it counts the
    // frames it charges for): no transcoder ever spends work on it.
    let bad = submit(1, b"not a transport stream".to_vec()).await;
    assert_eq!(bad.status(), 400);
    release.send(()).unwrap();
    let good = good.await.unwrap();
    assert_eq!(good.status(), 200, "{:?}", good.text().await);

    let x = scrape(&own).await;
    assert_eq!(x.value(tm::SEGMENTS, &[("outcome", "transcoded")]), 1.0);
    assert_eq!(x.value(tm::SEGMENTS, &[("outcome", "bad_segment")]), 0.0);
    assert_eq!(x.sum(tm::SEGMENTS), 1.0);
    assert_eq!(
        x.value("peerflow_transcoder_transcode_seconds_count", &[]),
        1.0
    );
    assert_eq!(x.get(tm::LOAD, &[]), Some(0.0));
    let o = scrape(&url).await;
    assert_eq!(
        o.value(
            "peerflow_orchestrator_segments_total",
            &[("outcome", "transcoded")]
        ),
        1.0
    );
    assert_eq!(
        o.value(
            "peerflow_orchestrator_segments_total",
            &[("outcome", "bad_segment")]
        ),
        1.0
    );
    assert_eq!(
        o.value(
            "peerflow_orchestrator_errors_total",
            &[("code", "bad_segment")]
        ),
        1.0
    );
    worker.abort();
}
