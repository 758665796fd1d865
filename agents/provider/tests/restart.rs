//! A provider that stops after taking a slot resumes the job from its sqlite state when it starts
//! again: the job runs, its result is committed and it is paid — nothing it accepted is lost.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::U256;
use common::{FIRST_PROVIDER, Market, wallet};
use peerflow_compute::buyer::submit;
use peerflow_compute::escrow::Escrow;
use peerflow_provider::agent::Executors;
use peerflow_provider::executor::ExecFuture;
use peerflow_provider::{Agent, Executor, JobContext, JobPhase, VodExecutor};

/// Takes the job and never finishes it (the process "dies" mid-run).
struct Hangs;

impl Executor for Hangs {
    fn execute<'a>(&'a self, _job: &'a JobContext) -> ExecFuture<'a> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_job_survives_a_provider_restart() {
    let m = Market::start(vec![Executors {
        container: None,
        vod: Some(Arc::new(Hangs)),
    }])
    .await;
    let spec = m.vod_spec(2, 320, 180, "144p:256x144:100k").await;
    let terms = m.terms(1, "1", 600).await;
    let (job, _) = submit(&m.buyer, &m.blobs, &m.urls[0], &spec, &terms)
        .await
        .unwrap();
    let first = &m.providers[0];
    let before = m.balance(m.provider_address(0)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while first.job(job).unwrap().map(|r| r.phase) != Some(JobPhase::Accepted) {
        first.tick().await.unwrap();
        assert!(std::time::Instant::now() < deadline);
    }
    assert_eq!(
        m.balance(m.provider_address(0)).await + terms.collateral,
        before,
        "collateral posted"
    );

    // The same provider comes back: same account, same data directory, a working executor.
    let config = first.config().clone();
    let escrow = Escrow::new(
        m.d.job_escrow,
        m.d.work_token,
        wallet(&m.chain, FIRST_PROVIDER),
    );
    let again = Arc::new(
        Agent::new(
            config,
            escrow,
            Executors {
                container: None,
                vod: Some(Arc::new(VodExecutor::new())),
            },
        )
        .unwrap(),
    );
    while again.job(job).unwrap().map(|r| r.phase) != Some(JobPhase::Settled) {
        again.tick().await.unwrap();
        assert!(
            std::time::Instant::now() < deadline,
            "the job did not settle"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(again.job(job).unwrap().unwrap().detail, "paid");
    let charge = m.buyer.results(job).await.unwrap()[0].charge;
    assert!(charge > U256::ZERO);
    assert_eq!(m.balance(m.provider_address(0)).await, before + charge);
}

/// Holds every run until released.
struct Gated(VodExecutor, Arc<tokio::sync::Notify>);

impl Executor for Gated {
    fn execute<'a>(&'a self, job: &'a JobContext) -> ExecFuture<'a> {
        Box::pin(async move {
            self.1.notified().await;
            self.0.execute(job).await
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_provider_defers_a_job_and_takes_it_when_free() {
    let gate = Arc::new(tokio::sync::Notify::new());
    let m = Market::start_with(
        vec![Executors {
            container: None,
            vod: Some(Arc::new(Gated(VodExecutor::new(), Arc::clone(&gate)))),
        }],
        |_, cfg| cfg.max_jobs = 1,
    )
    .await;
    let spec = m.vod_spec(1, 160, 90, "90p:160x90:50k").await;
    let terms = m.terms(1, "0.1", 600).await;
    let p = &m.providers[0];
    let (first, _) = submit(&m.buyer, &m.blobs, &m.urls[0], &spec, &terms)
        .await
        .unwrap();
    p.tick().await.unwrap();
    assert_eq!(p.job(first).unwrap().unwrap().phase, JobPhase::Accepted);
    let (second, _) = submit(&m.buyer, &m.blobs, &m.urls[0], &spec, &terms)
        .await
        .unwrap();
    p.tick().await.unwrap();
    assert_eq!(p.job(second).unwrap().unwrap().phase, JobPhase::Deferred);

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    for job in [first, second] {
        while p.job(job).unwrap().unwrap().phase != JobPhase::Settled {
            gate.notify_one();
            p.tick().await.unwrap();
            assert!(
                std::time::Instant::now() < deadline,
                "job {job} did not settle"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(p.job(second).unwrap().unwrap().detail, "paid");
}
