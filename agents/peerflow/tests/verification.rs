//! Verification end to end: a cheating orchestrator is caught by the broadcaster's checks, the
//! stream goes on at an honest one without losing a segment, and the claims go on-chain, where the
//! committee's jurors uphold them from the evidence alone and Staking slashes the cheater.
//!
//! A test-only HTTP proxy in front of the first-ranked orchestrator replaces one rendition of each
//! reply with a cheat ([`Cheat`]: black frames, wrong resolution, a stale segment, a truncated
//! rendition, a lower bitrate than paid for, audio dropped) and signs the result with the
//! orchestrator's own key, as a dishonest operator would: the signature is valid, so only the
//! checks of the renditions can catch it.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::eips::BlockId;
use alloy::primitives::{Address, U256};
use axum::body::Bytes;
use axum::http::{HeaderValue, request};
use common::proxy::{Proxy, Reply, Rewrite, advertise_at, push, put_in_front, sign_reply};
use peerflow::devnet::{Devnet, DevnetOptions, spawn_jurors, start};
use peerflow::roles::provider;
use peerflow_broadcaster::network::claims::ClaimFiler;
use peerflow_broadcaster::network::evidence::{self, FaultReport};
use peerflow_broadcaster::network::juror;
use peerflow_broadcaster::network::reputation::SuspensionPolicy;
use peerflow_broadcaster::network::verification::{Finding, VerifyPolicy};
use peerflow_chain::bindings::fault_claims::FaultClaims;
use peerflow_chain::bindings::staking::Staking;
use peerflow_chain::bindings::work_token::WorkToken;
use peerflow_chain::claims::{ClaimStatus, claim, claims_filed_since};
use peerflow_media::cheat::Cheat;
use peerflow_media::{InputFormat, Profile, VideoCodec, testsrc};
use peerflow_protocol::SignedResult;
use peerflow_protocol::api::{ProfileSpec, RENDITION_HEADER, SEGMENT_HEADER, SegmentRequest};
use peerflow_protocol::metrics::Exposition;
use peerflow_protocol::multipart;
use peerflow_protocol::result::ResultDomain;

/// The devnet's broadcaster is anvil account 9.
const BROADCASTER: usize = 9;
/// The devnet's first fault-claim committee member (anvil account 10).
const JUROR: usize = 10;

/// Cheats on rendition 0 of every segment reply, signing with the orchestrator's real key.
struct Cheater {
    cheat: Mutex<Option<Cheat>>,
    /// The last honest rendition 0 it saw (what a stale reply sends).
    previous: Mutex<Option<Vec<u8>>>,
    /// Segment replies it cheated on.
    cheated: AtomicUsize,
    orchestrator: Address,
    key: [u8; 32],
    domain: ResultDomain,
}

fn profile_of(spec: &ProfileSpec) -> Profile {
    let codec: VideoCodec = spec.codec.parse().unwrap();
    Profile::new(
        &spec.name,
        spec.width,
        spec.height,
        spec.bitrate_kbps,
        codec,
    )
}

impl Rewrite for Cheater {
    async fn rewrite(&self, head: &request::Parts, body: &Bytes, reply: &mut Reply) {
        let cheat = *self.cheat.lock().unwrap();
        let content_type = reply.headers["content-type"].to_str().unwrap().to_string();
        let mut parts = multipart::decode(&content_type, &reply.body).unwrap();
        let honest = parts[0].body.clone();
        let previous = self.previous.lock().unwrap().replace(honest.clone());
        let (Some(cheat), Some(previous)) = (cheat, previous) else {
            return;
        };
        let request: SegmentRequest =
            serde_json::from_slice(head.headers[SEGMENT_HEADER].as_bytes()).unwrap();
        let name = parts[0].header(RENDITION_HEADER).unwrap().to_owned();
        let spec = request.profiles.iter().find(|s| s.name == name).unwrap();
        let profile = profile_of(spec);
        let source = body.to_vec();
        parts[0].body = tokio::task::spawn_blocking(move || {
            cheat
                .apply(&source, InputFormat::MpegTs, &profile, &honest, &previous)
                .unwrap()
        })
        .await
        .unwrap();
        sign_reply(
            head,
            body,
            &parts,
            self.orchestrator,
            &self.domain,
            &self.key,
            reply,
        );
        let (content_type, encoded) = multipart::encode(&parts);
        reply.headers.insert(
            "content-type",
            HeaderValue::from_str(&content_type).unwrap(),
        );
        reply.body = encoded;
        self.cheated.fetch_add(1, Ordering::SeqCst);
    }
}

/// Puts a cheating proxy in front of orchestrator `index` and advertises it in its place.
async fn cheat_with(net: &Devnet, index: usize) -> Arc<Proxy<Cheater>> {
    let cheater = Cheater {
        cheat: Mutex::new(None),
        previous: Mutex::new(None),
        cheated: AtomicUsize::new(0),
        orchestrator: net.orchestrators[index].0,
        // Devnet orchestrator i + 1 is anvil account i + 1.
        key: net.chain.secret_key(index + 1),
        domain: ResultDomain {
            chain_id: net.deployment.chain_id,
            staking: net.deployment.staking,
        },
    };
    put_in_front(net, index, cheater).await
}

/// The fault bundles the broadcaster serves, each with its claim once filed.
async fn faults(net: &Devnet) -> Vec<serde_json::Value> {
    reqwest::get(format!("{}/v1/faults", net.broadcaster_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn wait_for<T>(what: &str, timeout: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_cheat_is_caught_claimed_and_slashed_without_losing_a_segment() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("peerflow_broadcaster=info,peerflow_chain=info")
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let mut options = DevnetOptions::new(dir.path());
    options.providers = 0;
    // Every segment sampled, so every cheat meets every check; a fault suspends for 1 s only, so
    // the same cheater is tried again for the next cheat.
    options.verify = VerifyPolicy {
        sample_rate: 1.0,
        ..VerifyPolicy::default()
    };
    options.suspension = SuspensionPolicy {
        base: Duration::from_millis(500),
        max: Duration::from_secs(1),
        fault: Duration::from_secs(1),
    };
    // The jurors start once every claim is filed: the first upheld claim unregisters the cheater.
    options.jurors = false;
    let net = start(&options).await.unwrap();
    // The cheater is the cheapest, so it is tried first whenever it is not suspended.
    let cheater = cheat_with(&net, 1).await;
    advertise_at(&net, 0, &net.orchestrators[0].1.url, 2).await;
    let (honest, culprit) = (net.orchestrators[0].0, net.orchestrators[1].0);
    let segments = testsrc::generate_segments(
        &dir.path().join("src"),
        1 + Cheat::ALL.len(),
        2,
        854,
        480,
        30,
    )
    .unwrap();

    // Segment 0 passes through untouched (the cheater keeps its rendition for the stale cheat).
    push(&net, "cheats", 0, &segments[0]).await;
    for (k, cheat) in Cheat::ALL.iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(1_200)).await; // past the 1 s suspension
        *cheater.rewriter.cheat.lock().unwrap() = Some(*cheat);
        push(&net, "cheats", k + 1, &segments[k + 1]).await;
        assert_eq!(
            cheater.rewriter.cheated.load(Ordering::SeqCst),
            k + 1,
            "{}: the cheater was tried",
            cheat.as_str()
        );
    }

    // Every segment is recorded, the cheated ones from the honest orchestrator.
    let recording = dir.path().join("broadcaster/recordings/cheats");
    for seq in 1..segments.len() {
        let text = std::fs::read_to_string(recording.join(format!("{seq}.result.json"))).unwrap();
        let kept: SignedResult = serde_json::from_str(&text).unwrap();
        assert_eq!(
            kept.result.orchestrator, honest,
            "segment {seq} from the honest one"
        );
    }
    let playlist = reqwest::get(format!("{}/live/cheats/360p.m3u8", net.broadcaster_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The live window (the newest six) has every cheated segment, and no gap.
    assert!(!playlist.contains("EXT-X-GAP"), "{playlist}");
    for seq in 1..segments.len() {
        assert!(playlist.contains(&format!("360p/{seq}.ts")), "{playlist}");
    }

    // One bundle per cheat, with the expected fault, each filed as a claim.
    let filed = wait_for("six claims filed", Duration::from_secs(60), async || {
        let all = faults(&net).await;
        let ids: Vec<u64> = all
            .iter()
            .filter_map(|f| f["claim"]["claimId"].as_u64())
            .collect();
        (ids.len() == Cheat::ALL.len()).then_some(all)
    })
    .await;
    let mut by_seq: Vec<(u64, u8, u64)> = filed
        .iter()
        .map(|f| {
            let m = &f["manifest"];
            (
                m["seq"].as_u64().unwrap(),
                u8::try_from(m["fault"].as_u64().unwrap()).unwrap(),
                f["claim"]["claimId"].as_u64().unwrap(),
            )
        })
        .collect();
    by_seq.sort();
    for (cheat, (seq, code, _)) in Cheat::ALL.iter().zip(&by_seq) {
        let found = peerflow_media::verify::Fault::name_of(*code).unwrap_or("none");
        assert!(
            cheat.is_caught_by(found),
            "segment {seq}: {} found as {found}",
            cheat.as_str()
        );
    }
    // The evidence on disk is what the manifest says.
    for bundle in evidence::list_bundles(&dir.path().join("broadcaster/faults"))
        .await
        .unwrap()
    {
        let FaultReport { manifest, dir, .. } = bundle;
        assert_eq!(manifest.orchestrator, culprit);
        for file in &manifest.files {
            let bytes = std::fs::read(dir.join(&file.name)).unwrap();
            assert_eq!(alloy::primitives::keccak256(&bytes), file.keccak256);
        }
    }

    // The broadcaster's metrics count what happened.
    let metrics = reqwest::get(format!("{}/metrics", net.broadcaster_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        format!(
            "peerflow_broadcaster_segments_total{{outcome=\"published\"}} {}",
            segments.len()
        ),
        "peerflow_broadcaster_attempts_total{outcome=\"fault\"} 6".into(),
        "peerflow_broadcaster_verification_faults_total{fault=\"low_quality\"} 1".into(),
        "peerflow_broadcaster_verification_faults_total{fault=\"audio_missing\"} 1".into(),
        "peerflow_broadcaster_claims_total{outcome=\"filed\"} 6".into(),
        format!(
            "peerflow_broadcaster_segment_seconds_count {}",
            segments.len()
        ),
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?} in\n{metrics}"
        );
    }

    // Bad requests for evidence are refused with a code, and nothing outside a bundle is served.
    let bad = reqwest::get(format!(
        "{}/v1/faults/nothex/manifest.json",
        net.broadcaster_url
    ))
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<serde_json::Value>().await.unwrap()["code"],
        "bad_digest"
    );
    let digest = filed[0]["manifest"]["digest"].as_str().unwrap();
    let outside = reqwest::get(format!(
        "{}/v1/faults/{digest}/..%2F..%2Fdeployment.json",
        net.broadcaster_url
    ))
    .await
    .unwrap();
    assert_eq!(outside.status(), 404);

    // A false claim: the broadcaster says an honest rendition (segment 1, from orchestrator 0)
    // has black frames. Its bundle is served like any other; the jurors will find nothing wrong.
    let honest_result: SignedResult =
        serde_json::from_str(&std::fs::read_to_string(recording.join("1.result.json")).unwrap())
            .unwrap();
    let honest_rendition = std::fs::read(recording.join("360p/1.ts")).unwrap();
    let false_fault = peerflow_media::verify::Fault::LowQuality {
        ssim: 0.1,
        psnr_db: 5.0,
    };
    let false_report = evidence::write_bundle(
        &dir.path().join("broadcaster/faults"),
        &peerflow_broadcaster::IncomingSegment {
            stream: "cheats".into(),
            seq: 1,
            format: peerflow_broadcaster::SegmentFormat::Ts,
            bytes: std::fs::read(&segments[1]).unwrap().into(),
            duration_hint: None,
            received_in: std::time::Duration::ZERO,
        },
        &honest_result,
        &Finding {
            rendition: 0,
            profile: "360p".into(),
            code: false_fault.code(),
            name: false_fault.name(),
            fault: false_fault,
            sampled: true,
        },
        &honest_rendition,
        "ts",
    )
    .await
    .unwrap();
    // A broadcaster that restarts files every bundle not filed yet: a fresh claim filer over the
    // same directory picks the false claim up (nothing new arrives on its channel).
    let broadcaster_wallet =
        provider(&net.chain.endpoint(), net.chain.signer(BROADCASTER)).unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    drop(tx);
    ClaimFiler {
        chain: broadcaster_wallet,
        deployment: net.deployment.clone(),
        fault_dir: dir.path().join("broadcaster/faults"),
        public_url: net.broadcaster_url.clone(),
        metrics: Default::default(),
    }
    .spawn(rx)
    .await
    .unwrap();
    let false_claim = U256::from(
        evidence::read_claim(&false_report.dir)
            .await
            .and_then(|c| c.claim_id)
            .expect("the restarted filer filed the pending bundle"),
    );

    // The committee judges from the evidence alone: every claim upheld, the stake slashed once.
    let staking = Staking::new(net.deployment.staking, &net.deployer);
    let token = WorkToken::new(net.deployment.work_token, &net.deployer);
    let honest_before = token.balanceOf(honest).call().await.unwrap();
    // While its claims are open the cheater cannot take its stake out of reach.
    assert!(staking.frozen(culprit).call().await.unwrap());
    let culprit_wallet = provider(&net.chain.endpoint(), net.chain.signer(2)).unwrap();
    let unbond = Staking::new(net.deployment.staking, &culprit_wallet)
        .unbond(U256::from(1u64))
        .call()
        .await
        .unwrap_err();
    assert!(
        matches!(
            unbond.as_decoded_interface_error::<Staking::StakingErrors>(),
            Some(Staking::StakingErrors::StakeFrozen(_))
        ),
        "{unbond}"
    );
    let jurors = spawn_jurors(&net, 0);
    for (_, _, id) in &by_seq {
        let id = U256::from(*id);
        wait_for(
            "the claim to be decided",
            // A hang detector: jurors re-encode the reference single-threaded, and on two loaded
            // cores a claim can take minutes (a juror gives a slow claim more time each attempt).
            Duration::from_secs(300),
            async || {
                let c = claim(&net.deployer, &net.deployment, id).await.unwrap();
                c.status.is_final().then_some(())
            },
        )
        .await;
        let c = claim(&net.deployer, &net.deployment, id).await.unwrap();
        assert_eq!(c.status, ClaimStatus::Upheld, "claim {id}");
    }
    // The false claim is rejected: its bond goes to the orchestrator it accused.
    wait_for(
        "the false claim to be decided",
        Duration::from_secs(300),
        async || {
            let c = claim(&net.deployer, &net.deployment, false_claim)
                .await
                .unwrap();
            c.status.is_final().then_some(c.status)
        },
    )
    .await;
    let c = claim(&net.deployer, &net.deployment, false_claim)
        .await
        .unwrap();
    assert_eq!(c.status, ClaimStatus::Rejected);
    assert_eq!(
        token.balanceOf(honest).call().await.unwrap(),
        honest_before + c.bond
    );
    // Each juror's /metrics count the votes it cast, as the chain records them.
    let voted = FaultClaims::new(net.deployment.fault_claims, &net.deployer)
        .Voted_filter()
        .from_block(0)
        .query()
        .await
        .unwrap();
    let upheld_by = |member: Address, uphold: bool| {
        voted
            .iter()
            .filter(|(v, _)| v.member == member && v.uphold == uphold)
            .count() as f64
    };
    assert_eq!(voted.len(), 2 * (by_seq.len() + 1), "quorum 2: {voted:?}");
    for j in &jurors {
        let (up, down) = (upheld_by(j.member, true), upheld_by(j.member, false));
        wait_for(
            "the juror to count its votes",
            Duration::from_secs(10),
            async || {
                (j.metrics.counter(juror::CLAIMS, &[("outcome", "uphold")]) == up
                    && j.metrics.counter(juror::CLAIMS, &[("outcome", "reject")]) == down)
                    .then_some(())
            },
        )
        .await;
    }
    for j in jurors {
        j.task.abort();
    }

    // The first upheld claim slashed 25 % of the cheater's own stake (rewards included) and paid
    // half of that to the broadcaster with its bond back, in one transaction; the others were
    // upheld with nothing left to slash (the first unregistered it). Read around that block. The
    // devnet mines a block a second, so the cheater's own reward() for the round may share that
    // block, before or after the slash (it stays active until the round ends, as in Livepeer).
    let resolved = FaultClaims::new(net.deployment.fault_claims, &net.deployer)
        .ClaimResolved_filter()
        .from_block(0)
        .query()
        .await
        .unwrap();
    let slashing: Vec<_> = resolved
        .iter()
        .filter(|(e, _)| e.penalty > U256::ZERO)
        .collect();
    assert_eq!(slashing.len(), 1, "{resolved:?}");
    let (event, log) = slashing[0];
    let at = log.block_number.unwrap();
    let before = BlockId::number(at - 1);
    let rewards = staking
        .Reward_filter()
        .topic1(culprit)
        .from_block(at)
        .to_block(at)
        .query()
        .await
        .unwrap();
    assert!(rewards.len() <= 1, "one reward a round: {rewards:?}");
    let minted: U256 = rewards.iter().map(|(r, _)| r.minted).sum();
    let rewarded_first = rewards
        .iter()
        .any(|(_, l)| l.log_index.unwrap() < log.log_index.unwrap());
    let own_at = |block: BlockId| {
        let staking = staking.clone();
        async move {
            staking
                .pendingStake(culprit)
                .call()
                .block(block)
                .await
                .unwrap()
        }
    };
    // The own stake the slash saw: the block before's, or, when the reward came first in the
    // block, what is left after the slash plus the penalty.
    let own = if rewarded_first {
        own_at(BlockId::number(at)).await + event.penalty
    } else {
        own_at(before).await
    };
    let ppm = |x: U256, rate: u64| x * U256::from(rate) / U256::from(1_000_000u64);
    assert_eq!(event.penalty, ppm(own, 250_000));
    assert_eq!(event.finderFee, ppm(event.penalty, 500_000));
    let stake_at = |block: BlockId| {
        let staking = staking.clone();
        async move {
            staking
                .orchestratorInfo(culprit)
                .call()
                .block(block)
                .await
                .unwrap()
                .stake
        }
    };
    assert_eq!(
        stake_at(BlockId::number(at)).await,
        stake_at(before).await - event.penalty + minted
    );
    // The finder's fee (from Staking) and the bond (from FaultClaims) came back in the slash's
    // own transaction; over its block, the broadcaster's balance moved by exactly its transfers
    // (its deposit keeper may top up the broker in the same block).
    // The slashing claim's own bond: bonds scale with what the accused can lose.
    let bond = claim(&net.deployer, &net.deployment, event.id)
        .await
        .unwrap()
        .bond;
    let transfers = token
        .Transfer_filter()
        .from_block(at)
        .to_block(at)
        .query()
        .await
        .unwrap();
    let to_broadcaster: Vec<(Address, U256)> = transfers
        .iter()
        .filter(|(t, l)| t.to == net.broadcaster && l.transaction_hash == log.transaction_hash)
        .map(|(t, _)| (t.from, t.value))
        .collect();
    assert_eq!(
        to_broadcaster,
        vec![
            (net.deployment.staking, event.finderFee),
            (net.deployment.fault_claims, bond)
        ],
        "the finder's fee and the bond back"
    );
    let moved = transfers
        .iter()
        .fold(alloy::primitives::I256::ZERO, |sum, (t, _)| {
            match (t.from == net.broadcaster, t.to == net.broadcaster) {
                (false, true) => sum + alloy::primitives::I256::from_raw(t.value),
                (true, false) => sum - alloy::primitives::I256::from_raw(t.value),
                _ => sum,
            }
        });
    let balance_at = |block: BlockId| {
        let token = token.clone();
        let who = net.broadcaster;
        async move { token.balanceOf(who).call().block(block).await.unwrap() }
    };
    assert_eq!(
        alloy::primitives::I256::from_raw(balance_at(BlockId::number(at)).await)
            - alloy::primitives::I256::from_raw(balance_at(before).await),
        moved
    );
    assert!(
        !staking
            .orchestratorInfo(culprit)
            .call()
            .await
            .unwrap()
            .registered
    );
    assert!(
        !staking.frozen(culprit).call().await.unwrap(),
        "every claim resolved"
    );
    // The record view shows it all, with its sources.
    let record: serde_json::Value =
        reqwest::get(format!("{}/v1/reputation/{culprit}", net.broadcaster_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(record["faultClaims"]["value"]["upheld"], 6, "{record}");
    assert_eq!(record["broadcaster"]["value"]["faults"], 6, "{record}");
    assert_eq!(record["staking"]["value"]["registered"], false, "{record}");
    // What a claim can still slash, as Staking counts it (delegations are never slashed).
    let at_risk = staking.slashableStake(culprit).call().await.unwrap();
    assert_eq!(
        record["staking"]["value"]["atRisk"],
        serde_json::to_value(at_risk).unwrap(),
        "{record}"
    );
    assert!(
        record["broadcaster"]["source"]
            .as_str()
            .unwrap()
            .starts_with("sqlite:"),
        "{record}"
    );
    assert_eq!(
        reqwest::get(format!("{}/v1/reputation/0x12", net.broadcaster_url))
            .await
            .unwrap()
            .status(),
        400
    );
    // The same record from the command line, for the honest orchestrator too.
    let cli = |who: Address| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_peerflow"))
            .arg("reputation")
            .arg(who.to_string())
            .arg("--rpc-url")
            .arg(net.chain.endpoint())
            .arg("--deployment")
            .arg(dir.path().join("deployment.json"))
            .arg("--db")
            .arg(dir.path().join("broadcaster/reputation.sqlite"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let culprit_text = cli(culprit);
    assert!(
        culprit_text.contains("6 upheld, 0 rejected, 0 open"),
        "{culprit_text}"
    );
    assert!(
        culprit_text.contains("6 verification faults"),
        "{culprit_text}"
    );
    // `peerflow juror` refuses an account that is not on the committee (here the broadcaster's).
    let key_file = dir.path().join("broadcaster.key");
    std::fs::write(
        &key_file,
        alloy::primitives::hex::encode(net.chain.secret_key(BROADCASTER)),
    )
    .unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_peerflow"))
        .args(["juror", "--rpc-url", &net.chain.endpoint(), "--deployment"])
        .arg(dir.path().join("deployment.json"))
        .arg("--key-file")
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("is not on the current fault-claim committee"),
        "{stderr}"
    );
    let honest_text = cli(honest);
    assert!(
        honest_text.contains("0 upheld, 1 rejected"),
        "{honest_text}"
    );
    assert!(honest_text.contains("registered true"), "{honest_text}");

    // A committee member's `peerflow juror --metrics-listen` looks at every claim from block 0 and
    // serves what it did: all seven closed before it looked (this account already voted or the
    // quorum was met), none pending, no errors.
    let member_key = dir.path().join("juror.key");
    std::fs::write(
        &member_key,
        alloy::primitives::hex::encode(net.chain.secret_key(JUROR)),
    )
    .unwrap();
    let juror_dir = dir.path().join("juror");
    let spawn_juror = |port: u16, from: &[&str]| {
        common::Kill(
            std::process::Command::new(env!("CARGO_BIN_EXE_peerflow"))
                .args(["juror", "--rpc-url", &net.chain.endpoint(), "--deployment"])
                .arg(dir.path().join("deployment.json"))
                .arg("--key-file")
                .arg(&member_key)
                .arg("--data-dir")
                .arg(&juror_dir)
                .args(from)
                .args(["--poll-secs", "0.2", "--metrics-listen"])
                .arg(format!("127.0.0.1:{port}"))
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        )
    };
    let port = common::free_port();
    let first = spawn_juror(port, &["--from-block", "0"]);
    let url = format!("http://127.0.0.1:{port}/metrics");
    common::wait_http(&url).await;
    let scrape = async || {
        let response = reqwest::get(&url).await.ok()?;
        assert_eq!(
            response.headers()["content-type"],
            peerflow_protocol::metrics::CONTENT_TYPE
        );
        Exposition::parse(&response.text().await.ok()?).ok()
    };
    let metrics = wait_for(
        "the juror CLI to finish with every claim",
        Duration::from_secs(60),
        async || {
            let m = scrape().await?;
            (m.sum(juror::CLAIMS) == (by_seq.len() + 1) as f64).then_some(m)
        },
    )
    .await;
    assert_eq!(
        metrics.value(juror::CLAIMS, &[("outcome", "closed")]),
        (by_seq.len() + 1) as f64
    );
    assert_eq!(metrics.value(juror::PENDING, &[]), 0.0);
    assert_eq!(metrics.sum(juror::ERRORS), 0.0);

    // Restarted without --from-block, it resumes where it left off (its place is in
    // <data-dir>/juror.sqlite): after the last claim, with nothing to read again.
    drop(first);
    let last_claim = claims_filed_since(&net.deployer, &net.deployment, 0)
        .await
        .unwrap()
        .iter()
        .filter_map(|c| c.block)
        .max()
        .unwrap();
    let port = common::free_port();
    let mut again = spawn_juror(port, &[]);
    // Its first lines say where its metrics are and where it resumes.
    let mut out = std::io::BufReader::new(again.0.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("filed from block ") {
        line.clear();
        assert!(
            std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0,
            "no start line"
        );
    }
    let resumed: u64 = line
        .split("filed from block ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(resumed > last_claim, "resumed at {resumed}: {line}");
    let url = format!("http://127.0.0.1:{port}/metrics");
    common::wait_http(&url).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let m = Exposition::parse(&reqwest::get(&url).await.unwrap().text().await.unwrap()).unwrap();
    assert_eq!(m.sum(juror::CLAIMS), 0.0, "no claim read twice");
    drop(again);
    drop(out);
}
