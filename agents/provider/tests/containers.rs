//! Container jobs end to end against anvil and the real Docker engine: three honest replicas agree
//! and are each paid exactly their metered charge with their collateral back; then a lying, a
//! failing and a late provider each end as the escrow says (collateral to the buyer), with every
//! balance checked against the committed charges.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{U256, utils::parse_ether};
use common::{BUYER, Market};
use peerflow_compute::buyer::{fetch_results, submit};
use peerflow_compute::escrow::slot_status_name;
use peerflow_compute::{BlobRef, ImageSpec, InputFile, JobSpec, Resources, Workload};
use peerflow_provider::agent::Executors;
use peerflow_provider::container::ContainerExecutor;
use peerflow_provider::executor::{ExecError, ExecFuture};
use peerflow_provider::{Executor, JobContext, JobPhase};
use peerflow_runner::{Engine, Runner};
use tokio::sync::Notify;

/// Runs honestly, then changes one byte of the first output.
struct Liar(ContainerExecutor);

impl Executor for Liar {
    fn execute<'a>(&'a self, job: &'a JobContext) -> ExecFuture<'a> {
        Box::pin(async move {
            let mut x = self.0.execute(job).await?;
            x.outputs[0].1[0] ^= 1;
            Ok(x)
        })
    }
}

/// Cannot run anything.
struct Failing;

impl Executor for Failing {
    fn execute<'a>(&'a self, _job: &'a JobContext) -> ExecFuture<'a> {
        Box::pin(async { Err(ExecError::Failed("disk full".into())) })
    }
}

/// Runs honestly but only once released (after the deadline).
struct Late(ContainerExecutor, Arc<Notify>);

impl Executor for Late {
    fn execute<'a>(&'a self, job: &'a JobContext) -> ExecFuture<'a> {
        Box::pin(async move {
            self.1.notified().await;
            self.0.execute(job).await
        })
    }
}

fn containers(e: Arc<dyn Executor>) -> Executors {
    Executors {
        container: Some(e),
        vod: None,
    }
}

struct Case {
    image: ImageSpec,
    words: BlobRef,
}

fn spec_for(case: &Case) -> JobSpec {
    JobSpec {
        version: 1,
        workload: Workload::Container {
            image: case.image.clone(),
            cmd: vec![
                "sh".into(),
                "-c".into(),
                "sort /in/words > /out/sorted && wc -l < /in/words > /out/count && \
                 i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo sorted $(cat /out/count) words"
                    .into(),
            ],
            env: vec![],
            inputs: vec![InputFile {
                path: "/in/words".into(),
                blob: case.words.clone(),
            }],
            output_dir: "/out".into(),
            network: false,
        },
        resources: Resources {
            milli_cpus: 500,
            memory_mb: 64,
            disk_mb: 64,
            gpus: 0,
        },
        timeout_secs: 60,
        max_output_bytes: 1 << 20,
        cooperative: None,
    }
}

/// Ticks providers `ks` until `done`.
async fn drive(m: &Market, ks: &[usize], limit: Duration, done: impl Fn(&Market) -> bool) {
    let start = std::time::Instant::now();
    loop {
        for &k in ks {
            m.providers[k].tick().await.unwrap();
        }
        if done(m) {
            return;
        }
        assert!(start.elapsed() < limit, "not done in {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn phase(m: &Market, k: usize, job: u64) -> Option<JobPhase> {
    m.providers[k].job(job).unwrap().map(|r| r.phase)
}

async fn balances(m: &Market) -> Vec<U256> {
    let mut out = Vec::new();
    for k in 0..m.providers.len() {
        out.push(m.balance(m.provider_address(k)).await);
    }
    out
}

async fn charge_of(m: &Market, job: u64, k: usize) -> U256 {
    m.buyer
        .results(job)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.provider == m.provider_address(k))
        .map(|r| r.charge)
        .unwrap()
}

async fn slot_outcome(m: &Market, job: u64, k: usize) -> &'static str {
    let slots = m.buyer.slots(job).await.unwrap();
    let (_, s) = slots
        .iter()
        .find(|(p, _)| *p == m.provider_address(k))
        .unwrap();
    slot_status_name(s.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicated_container_jobs_pay_honest_providers_and_slash_the_others() {
    let engine = Engine::connect()
        .await
        .expect("a Docker engine (./script/test starts one)");
    let runner = Runner::new(engine.clone()).with_sample_interval(Duration::from_millis(250));
    let image_ref = peerflow_runner::testimage::busybox_image(&engine)
        .await
        .unwrap();
    let archive = engine.save_image(&image_ref).await.unwrap();
    let release = Arc::new(Notify::new());
    let exec = |tag: &str| ContainerExecutor::new(runner.clone(), tag);
    let m = Market::start(vec![
        containers(Arc::new(exec("honest0"))),
        containers(Arc::new(exec("honest1"))),
        containers(Arc::new(exec("honest2"))),
        containers(Arc::new(Liar(exec("liar")))),
        containers(Arc::new(Failing)),
        containers(Arc::new(Late(exec("late"), Arc::clone(&release)))),
    ])
    .await;
    let store = m.urls[0].clone();
    let case = Case {
        image: ImageSpec {
            archive: m.blobs.upload(&store, archive).await.unwrap(),
            reference: image_ref.clone(),
        },
        words: m
            .blobs
            .upload(&store, b"pear\napple\nfig\nbanana\n".to_vec())
            .await
            .unwrap(),
    };
    let buyer = m.chain.address(BUYER);
    let collateral = parse_ether("5").unwrap();
    let honest = [0usize, 1, 2];

    // Job A: three honest replicas.
    let (b0, p0) = (m.balance(buyer).await, balances(&m).await);
    let spec = spec_for(&case);
    let (a, _) = submit(
        &m.buyer,
        &m.blobs,
        &store,
        &spec,
        &m.terms(3, "5", 600).await,
    )
    .await
    .unwrap();
    drive(&m, &honest, Duration::from_secs(180), |m| {
        honest
            .iter()
            .all(|&k| phase(m, k, a) == Some(JobPhase::Settled))
    })
    .await;
    let p1 = balances(&m).await;
    let mut paid = U256::ZERO;
    for k in honest {
        let charge = charge_of(&m, a, k).await;
        assert!(charge > U256::ZERO && charge <= parse_ether("1").unwrap());
        assert_eq!(
            p1[k],
            p0[k] + charge,
            "honest provider {k} is paid its charge exactly"
        );
        assert_eq!(slot_outcome(&m, a, k).await, "paid");
        paid += charge;
    }
    assert_eq!(m.balance(buyer).await, b0 - paid);
    assert_eq!(m.balance(m.d.job_escrow).await, U256::ZERO);
    let out = m.dir.path().join("a");
    let manifest = fetch_results(&m.buyer, &m.blobs, a, &out).await.unwrap();
    assert_eq!(manifest.exit_code, 0);
    assert_eq!(
        std::fs::read_to_string(out.join("sorted")).unwrap(),
        "apple\nbanana\nfig\npear\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("count")).unwrap().trim(),
        "4"
    );
    let log = std::fs::read_to_string(m.providers[0].log_path(a)).unwrap();
    assert!(log.contains("[stdout] sorted 4 words"), "{log}");

    // Job B: three honest, a liar and a failing provider among five replicas.
    let b1 = m.balance(buyer).await;
    let (bjob, _) = submit(
        &m.buyer,
        &m.blobs,
        &store,
        &spec,
        &m.terms(5, "5", 120).await,
    )
    .await
    .unwrap();
    let five = [0usize, 1, 2, 3, 4];
    // Results are sealed until every slot committed or the deadline passed.
    drive(&m, &five, Duration::from_secs(180), |m| {
        [0, 1, 2, 3]
            .iter()
            .all(|&k| phase(m, k, bjob) == Some(JobPhase::Sealed))
            && phase(m, 4, bjob) == Some(JobPhase::Failed)
    })
    .await;
    m.warp(200).await; // past the deadline: the failing provider never committed; reveals open
    drive(&m, &five, Duration::from_secs(60), |m| {
        [0, 1, 2, 3]
            .iter()
            .all(|&k| phase(m, k, bjob) == Some(JobPhase::Committed))
    })
    .await;
    m.warp(3600).await; // the reveal window stays open its full hour (one slot never committed)
    drive(&m, &five, Duration::from_secs(60), |m| {
        [0, 1, 2, 3]
            .iter()
            .all(|&k| phase(m, k, bjob) == Some(JobPhase::Settled))
    })
    .await;
    let p2 = balances(&m).await;
    let mut paid = U256::ZERO;
    for k in honest {
        let charge = charge_of(&m, bjob, k).await;
        assert_eq!(p2[k], p1[k] + charge);
        paid += charge;
    }
    assert_eq!(slot_outcome(&m, bjob, 3).await, "slashed");
    assert_eq!(slot_outcome(&m, bjob, 4).await, "slashed");
    assert_eq!(p2[3] + collateral, p1[3], "the liar lost its collateral");
    assert_eq!(
        p2[4] + collateral,
        p1[4],
        "the failing provider lost its collateral"
    );
    assert_eq!(
        m.balance(buyer).await,
        b1 - paid + collateral * U256::from(2)
    );

    // Job C: three honest and a late provider among four replicas.
    let b2 = m.balance(buyer).await;
    let (c, _) = submit(
        &m.buyer,
        &m.blobs,
        &store,
        &spec,
        &m.terms(4, "5", 120).await,
    )
    .await
    .unwrap();
    let four = [0usize, 1, 2, 5];
    drive(&m, &four, Duration::from_secs(180), |m| {
        honest
            .iter()
            .all(|&k| phase(m, k, c) == Some(JobPhase::Sealed))
            && phase(m, 5, c) == Some(JobPhase::Accepted)
    })
    .await;
    m.warp(200).await;
    release.notify_one();
    drive(&m, &four, Duration::from_secs(120), |m| {
        honest
            .iter()
            .all(|&k| phase(m, k, c) == Some(JobPhase::Committed))
            && phase(m, 5, c) == Some(JobPhase::Failed)
    })
    .await;
    m.warp(3600).await; // past the reveal window
    drive(&m, &four, Duration::from_secs(120), |m| {
        honest
            .iter()
            .all(|&k| phase(m, k, c) == Some(JobPhase::Settled))
            && phase(m, 5, c) == Some(JobPhase::Failed)
    })
    .await;
    let p3 = balances(&m).await;
    let mut paid = U256::ZERO;
    for k in honest {
        let charge = charge_of(&m, c, k).await;
        assert_eq!(p3[k], p2[k] + charge);
        paid += charge;
    }
    assert_eq!(slot_outcome(&m, c, 5).await, "slashed");
    assert_eq!(
        p3[5] + collateral,
        p2[5],
        "the late provider lost its collateral"
    );
    assert_eq!(m.balance(buyer).await, b2 - paid + collateral);
    assert_eq!(m.balance(m.d.job_escrow).await, U256::ZERO);
    for k in honest {
        let r = m.buyer.record(m.provider_address(k)).await.unwrap();
        assert_eq!((r.completed, r.failed), (3, 0));
    }
    for k in [3, 4, 5] {
        let r = m.buyer.record(m.provider_address(k)).await.unwrap();
        assert_eq!((r.completed, r.failed), (0, 1));
    }
}
