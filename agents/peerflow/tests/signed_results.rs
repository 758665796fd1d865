//! Signed results end to end: the broadcaster verifies every orchestrator reply's signature over
//! the segment, the ladder and the renditions. A test-only HTTP proxy in front of the first-ranked
//! orchestrator tampers with its replies (rendition bytes altered after signing, a signature from
//! another key, no signature); each such reply is refused, the segment fails over to the other
//! orchestrator and is not lost, the culprit is suspended, and the evidence kept beside the
//! recording verifies and matches the recorded renditions.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::primitives::{Address, U256, keccak256};
use axum::body::Bytes;
use axum::http::{HeaderValue, request};
use common::proxy::{Proxy, Reply, Rewrite, advertise_at, push, put_in_front, sign_reply};
use peerflow::devnet::{Devnet, DevnetOptions, start};
use peerflow_broadcaster::network::reputation::SuspensionPolicy;
use peerflow_media::testsrc;
use peerflow_protocol::multipart;
use peerflow_protocol::result::{RESULT_SIGNATURE_HEADER, ResultDomain};
use peerflow_protocol::{Signature, SignedResult};

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

struct Tamperer {
    mode: Mutex<Tamper>,
    /// Segment replies that went through (and were tampered with).
    segments: AtomicUsize,
    orchestrator: Address,
    domain: ResultDomain,
}

impl Rewrite for Tamperer {
    async fn rewrite(&self, head: &request::Parts, body: &Bytes, reply: &mut Reply) {
        self.segments.fetch_add(1, Ordering::SeqCst);
        let content_type = reply.headers["content-type"].to_str().unwrap().to_string();
        let mut parts = multipart::decode(&content_type, &reply.body).unwrap();
        let mode = *self.mode.lock().unwrap();
        match mode {
            Tamper::AlterRendition => {
                let body = &mut parts[0].body;
                let middle = body.len() / 2;
                body[middle] ^= 0x01;
                let (content_type, encoded) = multipart::encode(&parts);
                reply.headers.insert(
                    "content-type",
                    HeaderValue::from_str(&content_type).unwrap(),
                );
                reply.body = encoded;
            }
            Tamper::ForeignKey => {
                // The true result, signed by a key that is not the orchestrator's.
                sign_reply(
                    head,
                    body,
                    &parts,
                    self.orchestrator,
                    &self.domain,
                    &[0x42; 32],
                    reply,
                );
            }
            Tamper::Strip => {
                reply.headers.remove(RESULT_SIGNATURE_HEADER);
            }
        }
    }
}

/// Puts a tampering proxy in front of orchestrator `index` and advertises it in its place.
async fn tamper_with(net: &Devnet, index: usize) -> Arc<Proxy<Tamperer>> {
    let tamperer = Tamperer {
        mode: Mutex::new(Tamper::AlterRendition),
        segments: AtomicUsize::new(0),
        orchestrator: net.orchestrators[index].0,
        domain: ResultDomain {
            chain_id: net.deployment.chain_id,
            staking: net.deployment.staking,
        },
    };
    put_in_front(net, index, tamperer).await
}

/// Asserts that the broadcaster's record counts `failures` failures of `who` and that the last
/// one, after `tried` (unix ms), suspended it: by the record, not by whether the suspension is
/// still running, which a slow failover may outlast.
fn assert_failure_suspended(net: &Devnet, who: Address, failures: u64, tried: u64) {
    let score = net.reputation.score(who).unwrap().expect("a record");
    assert_eq!(score.failures, failures, "{score:?}");
    assert_eq!(
        score.faults, 0,
        "a bad reply is a failure, not a proven fault"
    );
    assert!(score.suspended_until_ms > tried, "{score:?}");
}

fn unix_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    u64::try_from(since.unwrap().as_millis()).unwrap()
}

/// Waits until the broadcaster's record no longer suspends `who` (at most 90 s).
async fn wait_out_suspension(net: &Devnet, who: Address) {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while net.reputation.is_suspended(who).unwrap() {
        assert!(
            std::time::Instant::now() < deadline,
            "still suspended after 90 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tampered_foreign_and_unsigned_replies_fail_over_and_lose_no_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = DevnetOptions::new(dir.path());
    // Suspensions long enough that a slow transcode under load (over 15 s in CI) does not outlast
    // them, so segment 1 certainly finds the culprit suspended; the test then waits each
    // suspension out by the broadcaster's own record, not by a guess at its length.
    options.suspension = SuspensionPolicy {
        base: Duration::from_secs(45),
        max: Duration::from_secs(45),
        ..SuspensionPolicy::default()
    };
    let net = start(&options).await.unwrap();
    // The tamperer is the cheapest, so it is tried first whenever it is not suspended (a worse
    // record only ranks an orchestrator after others of the same price).
    let proxy = tamper_with(&net, 1).await;
    let culprit = net.orchestrators[1].0;
    advertise_at(&net, 0, &net.orchestrators[0].1.url, 2).await;
    let honest = net.orchestrators[0].0;
    let segments =
        testsrc::generate_segments(&dir.path().join("src"), 4, 2, 1280, 720, 30).unwrap();

    // Rendition altered after signing: refused, the honest orchestrator transcodes segment 0.
    let tried = unix_ms();
    push(&net, "signed", 0, &segments[0]).await;
    assert_eq!(
        proxy.rewriter.segments.load(Ordering::SeqCst),
        1,
        "the proxy was tried"
    );
    assert_failure_suspended(&net, culprit, 1, tried);
    // The culprit is suspended: segment 1 goes straight to the honest orchestrator.
    assert!(net.reputation.is_suspended(culprit).unwrap());
    push(&net, "signed", 1, &segments[1]).await;
    assert_eq!(
        proxy.rewriter.segments.load(Ordering::SeqCst),
        1,
        "suspended"
    );

    // Once the suspension is over: a signature by another key, then none at all.
    wait_out_suspension(&net, culprit).await;
    *proxy.rewriter.mode.lock().unwrap() = Tamper::ForeignKey;
    let tried = unix_ms();
    push(&net, "signed", 2, &segments[2]).await;
    assert_eq!(proxy.rewriter.segments.load(Ordering::SeqCst), 2);
    assert_failure_suspended(&net, culprit, 2, tried);
    wait_out_suspension(&net, culprit).await;
    *proxy.rewriter.mode.lock().unwrap() = Tamper::Strip;
    let tried = unix_ms();
    push(&net, "signed", 3, &segments[3]).await;
    assert_eq!(proxy.rewriter.segments.load(Ordering::SeqCst), 3);
    assert_failure_suspended(&net, culprit, 3, tried);

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
        assert_eq!(result.verify(&domain, &signature, None), Ok(()));
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
