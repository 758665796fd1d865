//! The provider's `/metrics` over its real HTTP API: a job held mid-run shows as running, a run
//! that fails and one that is paid are counted by outcome with their run times, and error replies
//! are counted by their code.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::Market;
use peerflow_compute::buyer::submit;
use peerflow_protocol::metrics::Exposition;
use peerflow_provider::agent::Executors;
use peerflow_provider::executor::{ExecError, ExecFuture};
use peerflow_provider::metrics as pm;
use peerflow_provider::{Executor, JobContext, JobPhase, VodExecutor};

/// The first run waits for `release`, then transcodes; every later run fails.
struct FirstHeldThenFailing {
    vod: VodExecutor,
    release: Arc<tokio::sync::Notify>,
    calls: AtomicUsize,
}

impl Executor for FirstHeldThenFailing {
    fn execute<'a>(&'a self, job: &'a JobContext) -> ExecFuture<'a> {
        Box::pin(async move {
            if self.calls.fetch_add(1, Ordering::SeqCst) > 0 {
                return Err(ExecError::Failed("the test's executor fails".into()));
            }
            self.release.notified().await;
            self.vod.execute(job).await
        })
    }
}

async fn scrape(url: &str) -> Exposition {
    let reply = reqwest::get(format!("{url}/metrics")).await.unwrap();
    assert_eq!(reply.status(), 200);
    Exposition::parse(&reply.text().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_counted_by_outcome_and_errors_by_code() {
    let release = Arc::new(tokio::sync::Notify::new());
    let m = Market::start(vec![Executors {
        container: None,
        vod: Some(Arc::new(FirstHeldThenFailing {
            vod: VodExecutor::new(),
            release: Arc::clone(&release),
            calls: AtomicUsize::new(0),
        })),
    }])
    .await;
    let (p, url) = (&m.providers[0], m.urls[0].clone());
    let spec = m.vod_spec(1, 160, 90, "90p:160x90:50k").await;
    let terms = m.terms(1, "0.1", 600).await;
    let idle = scrape(&url).await;
    assert_eq!(idle.get(pm::RUNNING_JOBS, &[]), Some(0.0));

    let (paid, _) = submit(&m.buyer, &m.blobs, &url, &spec, &terms)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut x = scrape(&url).await;
    while x.value(pm::RUNNING_JOBS, &[]) < 1.0 {
        p.tick().await.unwrap();
        assert!(std::time::Instant::now() < deadline, "the job never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
        x = scrape(&url).await;
    }
    assert_eq!(x.get(pm::RUNNING_JOBS, &[]), Some(1.0));

    let (failing, _) = submit(&m.buyer, &m.blobs, &url, &spec, &terms)
        .await
        .unwrap();
    while p.job(failing).unwrap().map(|r| r.phase) != Some(JobPhase::Failed) {
        p.tick().await.unwrap();
        assert!(
            std::time::Instant::now() < deadline,
            "the second run never failed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    release.notify_one();
    while p.job(paid).unwrap().map(|r| r.phase) != Some(JobPhase::Settled) {
        p.tick().await.unwrap();
        assert!(
            std::time::Instant::now() < deadline,
            "the job did not settle"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(p.job(paid).unwrap().unwrap().detail, "paid");

    let before = scrape(&url).await;
    let http = reqwest::Client::new();
    let unknown = http
        .get(format!("{url}/v1/jobs/424242"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let body: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(
        body["code"], "not_found",
        "the reply still carries its body"
    );
    let malformed = http.get(format!("{url}/v1/jobs/xyz")).send().await.unwrap();
    assert_eq!(malformed.status(), 400);

    let x = scrape(&url).await;
    let api = |x: &Exposition, code| x.value(pm::ERRORS, &[("source", "api"), ("code", code)]);
    assert_eq!(api(&x, "not_found") - api(&before, "not_found"), 1.0);
    assert_eq!(api(&x, "http_400") - api(&before, "http_400"), 1.0);
    assert_eq!(x.value(pm::JOBS, &[("outcome", "accepted")]), 2.0);
    assert_eq!(x.value(pm::JOBS, &[("outcome", "failed")]), 1.0);
    assert_eq!(x.value(pm::JOBS, &[("outcome", "committed")]), 1.0);
    assert_eq!(x.value(pm::JOBS, &[("outcome", "skipped")]), 0.0);
    assert_eq!(x.value(pm::JOBS_SETTLED, &[("status", "paid")]), 1.0);
    assert_eq!(x.sum(pm::JOBS_SETTLED), 1.0);
    assert_eq!(x.get(pm::RUNNING_JOBS, &[]), Some(0.0));
    assert_eq!(
        x.value(
            "peerflow_provider_job_seconds_count",
            &[("workload", "vod")]
        ),
        2.0
    );
}
