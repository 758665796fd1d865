//! Signed results end to end: the broadcaster verifies every orchestrator reply's signature over
//! the segment, the ladder and the renditions. A test-only HTTP proxy in front of the first-ranked
//! orchestrator tampers with its replies (rendition bytes altered after signing, a signature from
//! another key, no signature); each such reply is refused, the segment fails over to the other
//! orchestrator and is not lost, the culprit is suspended, and the evidence kept beside the
//! recording verifies and matches the recorded renditions.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::primitives::{Address, U256, keccak256};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::response::Response;
use peerflow::devnet::{Devnet, DevnetOptions, start};
use peerflow::roles::provider;
use peerflow_chain::actions::advertise;
use peerflow_media::testsrc;
use peerflow_protocol::api::{
    PAYMENT_HEADER, Payment, RENDITION_HEADER, SEGMENT_HEADER, SegmentRequest,
};
use peerflow_protocol::multipart;
use peerflow_protocol::result::{RESULT_SIGNATURE_HEADER, ResultDomain};
use peerflow_protocol::{SegmentResult, Signature, SignedResult};

/// What the proxy does to a successful segment reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tamper {
    /// Flips a byte of the first rendition (the signature no longer covers it).
    AlterRendition,
    /// Re-signs the true result with a key that is not the orchestrator's.
    ForeignKey,
    /// Drops the signature header.
    Strip,
}

struct Proxy {
    target: String,
    http: reqwest::Client,
    mode: Mutex<Tamper>,
    /// Segment replies that went through (and were tampered with).
    segments: AtomicUsize,
    orchestrator: Address,
    domain: ResultDomain,
}

async fn forward(State(p): State<Arc<Proxy>>, request: Request) -> Response {
    let (head, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 << 20).await.unwrap();
    let path = head.uri.path_and_query().map_or("/", |x| x.as_str());
    let mut out = p
        .http
        .request(head.method.clone(), format!("{}{path}", p.target))
        .body(body.clone());
    for name in [SEGMENT_HEADER, PAYMENT_HEADER, "content-type"] {
        if let Some(v) = head.headers.get(name) {
            out = out.header(name, v.clone());
        }
    }
    let reply = out.send().await.unwrap();
    let status = reply.status();
    let mut headers = reply.headers().clone();
    headers.remove("content-length");
    headers.remove("transfer-encoding");
    let mut bytes = reply.bytes().await.unwrap().to_vec();
    if head.uri.path() == "/v1/segment" && status.is_success() {
        p.segments.fetch_add(1, Ordering::SeqCst);
        let content_type = headers["content-type"].to_str().unwrap().to_string();
        let mut parts = multipart::decode(&content_type, &bytes).unwrap();
        match *p.mode.lock().unwrap() {
            Tamper::AlterRendition => {
                let body = &mut parts[0].body;
                let middle = body.len() / 2;
                body[middle] ^= 0x01;
                let (content_type, encoded) = multipart::encode(&parts);
                headers.insert(
                    "content-type",
                    HeaderValue::from_str(&content_type).unwrap(),
                );
                bytes = encoded;
            }
            Tamper::ForeignKey => {
                let request: SegmentRequest =
                    serde_json::from_slice(head.headers[SEGMENT_HEADER].as_bytes()).unwrap();
                let payment: Payment =
                    serde_json::from_slice(head.headers[PAYMENT_HEADER].as_bytes()).unwrap();
                let (result, _) = SegmentResult::from_named(
                    p.orchestrator,
                    payment.sender,
                    &request,
                    &body,
                    parts
                        .iter()
                        .map(|part| (part.header(RENDITION_HEADER).unwrap(), part.body.as_slice())),
                )
                .unwrap();
                let forged = result.sign(&p.domain, &[0x42; 32]).unwrap();
                headers.insert(
                    RESULT_SIGNATURE_HEADER,
                    HeaderValue::from_str(&alloy::primitives::hex::encode_prefixed(
                        forged.to_bytes(),
                    ))
                    .unwrap(),
                );
            }
            Tamper::Strip => {
                headers.remove(RESULT_SIGNATURE_HEADER);
            }
        }
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Puts a tampering proxy in front of orchestrator `index` and advertises it in its place.
async fn tamper_with(net: &Devnet, index: usize) -> Arc<Proxy> {
    let (address, running) = &net.orchestrators[index];
    let proxy = Arc::new(Proxy {
        target: running.url.clone(),
        http: reqwest::Client::new(),
        mode: Mutex::new(Tamper::AlterRendition),
        segments: AtomicUsize::new(0),
        orchestrator: *address,
        domain: ResultDomain {
            chain_id: net.deployment.chain_id,
            staking: net.deployment.staking,
        },
    });
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(Arc::clone(&proxy));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // Devnet orchestrator i + 1 is anvil account i + 1.
    let wallet = provider(&net.chain.endpoint(), net.chain.signer(index + 1)).unwrap();
    advertise(
        &wallet,
        &net.deployment,
        &url,
        &["transcode:h264"],
        &["local"],
        U256::from(1u64),
    )
    .await
    .unwrap();
    proxy
}

async fn push(net: &Devnet, stream: &str, seq: usize, segment: &std::path::Path) {
    let reply = reqwest::Client::new()
        .put(format!("{}/live/{stream}/{seq}.ts", net.broadcaster_url))
        .body(std::fs::read(segment).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        reply.status(),
        200,
        "segment {seq}: {}",
        reply.text().await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tampered_foreign_and_unsigned_replies_fail_over_and_lose_no_segment() {
    let dir = tempfile::tempdir().unwrap();
    let net = start(&DevnetOptions::new(dir.path())).await.unwrap();
    // Equal prices, no latency measured yet: the orchestrator with the most stake (the second,
    // 100 FLOW + 2 wei) is tried first.
    let proxy = tamper_with(&net, 1).await;
    let honest = net.orchestrators[0].0;
    let segments =
        testsrc::generate_segments(&dir.path().join("src"), 4, 2, 1280, 720, 30).unwrap();

    // Rendition altered after signing: refused, the honest orchestrator transcodes segment 0.
    push(&net, "signed", 0, &segments[0]).await;
    assert_eq!(
        proxy.segments.load(Ordering::SeqCst),
        1,
        "the proxy was tried"
    );
    // The culprit is suspended (5 s): segment 1 goes straight to the honest orchestrator.
    push(&net, "signed", 1, &segments[1]).await;
    assert_eq!(proxy.segments.load(Ordering::SeqCst), 1, "suspended");

    // Once the suspension (5 s, then 10 s) is over: a signature by another key, then none at all.
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    *proxy.mode.lock().unwrap() = Tamper::ForeignKey;
    push(&net, "signed", 2, &segments[2]).await;
    assert_eq!(proxy.segments.load(Ordering::SeqCst), 2);
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    *proxy.mode.lock().unwrap() = Tamper::Strip;
    push(&net, "signed", 3, &segments[3]).await;
    assert_eq!(proxy.segments.load(Ordering::SeqCst), 3);

    // Every segment is recorded, from the honest orchestrator, with its signed result beside it.
    let domain = ResultDomain {
        chain_id: net.deployment.chain_id,
        staking: net.deployment.staking,
    };
    let recording = dir.path().join("broadcaster/recordings/signed");
    for (seq, segment) in segments.iter().enumerate() {
        let text = std::fs::read_to_string(recording.join(format!("{seq}.result.json")))
            .unwrap_or_else(|e| panic!("evidence of segment {seq}: {e}"));
        let evidence: SignedResult = serde_json::from_str(&text).unwrap();
        let result = &evidence.result;
        assert_eq!(
            result.orchestrator, honest,
            "segment {seq} served by the honest one"
        );
        assert_eq!(result.broadcaster, net.broadcaster);
        assert_eq!(result.seq, U256::from(seq));
        assert_eq!(result.streamHash, keccak256(b"signed"));
        assert_eq!(result.inputHash, keccak256(std::fs::read(segment).unwrap()));
        assert_eq!(result.digest(&domain), evidence.digest);
        let signature = Signature::from_bytes(&evidence.signature).unwrap();
        assert_eq!(result.verify(&domain, &signature), Ok(()));
        assert_eq!(result.profiles.len(), net.ladder.len());
        for (i, profile) in net.ladder.iter().enumerate() {
            assert_eq!(result.profiles[i].name, profile.name);
            let recorded =
                std::fs::read(recording.join(&profile.name).join(format!("{seq}.ts"))).unwrap();
            assert_eq!(
                result.renditionHashes[i],
                keccak256(&recorded),
                "segment {seq} {}: the recorded rendition is the signed one",
                profile.name
            );
        }
    }
}
