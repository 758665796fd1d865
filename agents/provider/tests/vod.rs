//! VOD as an escrowed job: the buyer uploads a video once, funds three replicas and goes away; two
//! honest providers package it with rav1e into byte-identical HLS and are paid their metered
//! charge; a third that alters one frame of the input commits a different result and loses its
//! collateral to the buyer. Balances are checked against the escrow's settlement, token by token.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{U256, utils::parse_ether};
use common::Market;
use peerflow_compute::Workload;
use peerflow_compute::buyer::{fetch_results, submit};
use peerflow_provider::agent::Executors;
use peerflow_provider::executor::{ExecError, ExecFuture, read_blob};
use peerflow_provider::{Executor, JobContext, JobPhase, VodExecutor};

/// A faulty provider: draws a box on frame 5 of the input (lossless re-encode, every other frame
/// unchanged), then packages honestly.
struct AlterOneFrame(VodExecutor);

impl Executor for AlterOneFrame {
    fn execute<'a>(&'a self, job: &'a JobContext) -> ExecFuture<'a> {
        Box::pin(async move {
            let mut spec = job.spec.clone();
            let Workload::Vod { input, .. } = &mut spec.workload else {
                return Err(ExecError::Unsupported("container"));
            };
            let original = read_blob(job, input.sha256)?;
            let src = job.work_dir.join("orig.ts");
            let dst = job.work_dir.join("altered.ts");
            std::fs::write(&src, original).unwrap();
            let status = std::process::Command::new("ffmpeg")
                .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
                .arg(&src)
                .args([
                    "-vf",
                    "drawbox=x=8:y=8:w=64:h=64:color=red:t=fill:enable='eq(n,5)'",
                    "-c:v",
                    "libx264",
                    "-qp",
                    "0",
                    "-preset",
                    "ultrafast",
                    "-c:a",
                    "copy",
                    "-f",
                    "mpegts",
                ])
                .arg(&dst)
                .status()
                .unwrap();
            assert!(status.success());
            let altered = std::fs::read(&dst).unwrap();
            input.size = altered.len() as u64;
            input.sha256 = job.blobs.put(&altered).unwrap();
            let ctx = JobContext {
                spec,
                ..job.clone()
            };
            self.0.execute(&ctx).await
        })
    }
}

fn vod_only(executor: Arc<dyn Executor>) -> Executors {
    Executors {
        container: None,
        vod: Some(executor),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_replicas_agree_and_are_paid_the_altered_one_is_slashed() {
    let m = Market::start(vec![
        vod_only(Arc::new(VodExecutor::new())),
        vod_only(Arc::new(VodExecutor::new())),
        vod_only(Arc::new(AlterOneFrame(VodExecutor::new()))),
    ])
    .await;
    // The buyer uploads once, to one provider's store, and funds three replicas.
    let spec = m
        .vod_spec(2, 320, 180, "180p:320x180:200k,144p:256x144:120k")
        .await;
    let price = parse_ether("1").unwrap();
    let collateral = parse_ether("5").unwrap();
    let terms = m.terms(3, "5", 900).await;
    let buyer = m.chain.address(common::BUYER);
    let buyer_before = m.balance(buyer).await;
    let before: Vec<U256> = futures_balances(&m).await;
    let (job, _) = submit(&m.buyer, &m.blobs, &m.urls[0], &spec, &terms)
        .await
        .unwrap();

    m.drive_until(Duration::from_secs(600), || async {
        m.providers.iter().all(|p| {
            p.job(job)
                .unwrap()
                .is_some_and(|r| r.phase == JobPhase::Settled)
        })
    })
    .await;

    // Outcomes: the two honest providers paid, the liar slashed.
    let outcomes: Vec<String> = m
        .providers
        .iter()
        .map(|p| p.job(job).unwrap().unwrap().detail)
        .collect();
    assert_eq!(outcomes, ["paid", "paid", "slashed"]);
    let results = m.buyer.results(job).await.unwrap();
    assert_eq!(results.len(), 3);
    let hash_of = |k: usize| {
        results
            .iter()
            .find(|r| r.provider == m.provider_address(k))
            .unwrap()
    };
    assert_eq!(hash_of(0).result_hash, hash_of(1).result_hash);
    assert_ne!(hash_of(0).result_hash, hash_of(2).result_hash);

    // Money: each honest provider gained exactly its committed charge; the liar lost its
    // collateral; the buyer paid exactly the two charges; the escrow holds nothing.
    let after = futures_balances(&m).await;
    for k in 0..2 {
        let charge = hash_of(k).charge;
        assert!(charge > U256::ZERO && charge <= price, "charge {charge}");
        assert_eq!(after[k], before[k] + charge, "provider {k}");
    }
    assert_eq!(after[2] + collateral, before[2]);
    assert_eq!(
        m.balance(buyer).await,
        buyer_before - hash_of(0).charge - hash_of(1).charge + collateral
    );
    assert_eq!(m.balance(m.d.job_escrow).await, U256::ZERO);
    let settled = m.buyer.settlements(job).await.unwrap();
    assert_eq!(settled.len(), 3);
    let record = m.buyer.record(m.provider_address(2)).await.unwrap();
    assert_eq!((record.completed, record.failed), (0, 1));

    // The buyer comes back and fetches the package from the providers that agreed.
    let out = m.dir.path().join("package");
    let manifest = fetch_results(&m.buyer, &m.blobs, job, &out).await.unwrap();
    assert!(manifest.file("master.m3u8").is_some());
    let info = peerflow_media::probe(&out.join("144p/index.m3u8")).unwrap();
    assert_eq!((info.width, info.height), (256, 144));
    assert!((info.duration_s - 2.0).abs() < 0.2, "{info:?}");
}

async fn futures_balances(m: &Market) -> Vec<U256> {
    let mut out = Vec::new();
    for k in 0..m.providers.len() {
        out.push(m.balance(m.provider_address(k)).await);
    }
    out
}
