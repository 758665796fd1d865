//! `./script/bench compute` (with the runner's bench_runner): job scheduling latency, from the
//! buyer's `createJob` being mined to the container running at a provider, measured against a
//! plain token transfer's send-to-receipt time and the provider's poll interval in the same run.
//! Needs anvil and a Docker engine.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use alloy::primitives::{U256, utils::parse_ether};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use peerflow_chain::actions::give;
use peerflow_chain::bindings::work_token::WorkToken;
use peerflow_chain::deploy::execute;
use peerflow_chain::{DevChain, SuiteParams, deploy_suite};
use peerflow_compute::buyer::{Terms, submit};
use peerflow_compute::escrow::Escrow;
use peerflow_compute::manifest::RateCard;
use peerflow_compute::{BlobClient, ImageSpec, JobSpec, Resources, Workload};
use peerflow_protocol::blobauth::RequestKey;
use peerflow_provider::agent::Executors;
use peerflow_provider::container::ContainerExecutor;
use peerflow_provider::executor::ExecFuture;
use peerflow_provider::{Agent, Executor, JobContext, ProviderConfig};
use peerflow_runner::{Engine, Runner};

const JOBS: usize = 7;
const POLL: Duration = Duration::from_millis(100);

/// Records when each job's container started.
struct Recording(ContainerExecutor, Arc<Mutex<Vec<SystemTime>>>);

impl Executor for Recording {
    fn execute<'a>(&'a self, job: &'a JobContext) -> ExecFuture<'a> {
        Box::pin(async move {
            let x = self.0.execute(job).await?;
            if let Some(t) = x.started_at {
                self.1.lock().unwrap().push(t);
            }
            Ok(x)
        })
    }
}

fn wallet(chain: &DevChain, i: usize) -> DynProvider {
    ProviderBuilder::new()
        .wallet(chain.signer(i))
        .connect_http(chain.endpoint().parse().unwrap())
        .erased()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let chain = DevChain::spawn().expect("anvil");
    let deployer = wallet(&chain, 0);
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
    let engine = Engine::connect().await.expect("a Docker engine");
    let image = peerflow_runner::testimage::busybox_image(&engine)
        .await
        .unwrap();
    let archive = engine.save_image(&image).await.unwrap();
    let started = Arc::new(Mutex::new(Vec::new()));
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let cfg = ProviderConfig {
        address: chain.address(2),
        public_url: url.clone(),
        data_dir: dir.path().join("provider"),
        offer: Resources {
            milli_cpus: 2000,
            memory_mb: 1024,
            disk_mb: 1024,
            gpus: 0,
        },
        min_price: U256::from(1),
        max_collateral: parse_ether("10").unwrap(),
        rates: RateCard {
            per_cpu_second: 1e15,
            per_memory_mb_second: 1e10,
            per_io_mb: 1e13,
        },
        poll: POLL,
        max_jobs: 2,
        arbiters: vec![chain.address(0)],
        allow_network_jobs: false,
        allow_private_urls: true,
        request_key: Some(RequestKey::new(chain.secret_key(2)).unwrap()),
        tamper_results: false,
    };
    let executor = Recording(
        ContainerExecutor::new(Runner::new(engine.clone()), "bench"),
        Arc::clone(&started),
    );
    let agent = Arc::new(
        Agent::new(
            cfg,
            Escrow::new(d.job_escrow, d.work_token, wallet(&chain, 2)),
            Executors {
                container: Some(Arc::new(executor)),
                vod: None,
            },
        )
        .unwrap(),
    );
    let app = peerflow_provider::http::router(Arc::clone(&agent));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    tokio::spawn(Arc::clone(&agent).run(std::future::pending()));

    // One provider per account: its nonce cache is shared by the transfer and the escrow calls.
    let buyer_wallet = wallet(&chain, 1);
    let buyer = Escrow::new(d.job_escrow, d.work_token, buyer_wallet.clone());
    let blobs = BlobClient::new().with_key(RequestKey::new(chain.secret_key(1)).unwrap());
    let archive = blobs.upload(&url, archive).await.unwrap();
    let token = WorkToken::new(d.work_token, buyer_wallet);
    let mut transfer_ms = Vec::new();
    let mut latency_ms = Vec::new();
    for i in 0..JOBS {
        let t = Instant::now();
        execute(token.transfer(chain.address(3), U256::from(1)))
            .await
            .unwrap();
        transfer_ms.push(t.elapsed().as_secs_f64() * 1e3);

        let spec = JobSpec {
            version: 1,
            workload: Workload::Container {
                image: ImageSpec {
                    archive: archive.clone(),
                    reference: image.clone(),
                },
                cmd: vec!["sh".into(), "-c".into(), format!("echo {i} > /out/n")],
                env: vec![],
                inputs: vec![],
                output_dir: "/out".into(),
                network: false,
            },
            resources: Resources {
                milli_cpus: 500,
                memory_mb: 64,
                disk_mb: 64,
                gpus: 0,
            },
            timeout_secs: 30,
            max_output_bytes: 1 << 20,
            cooperative: None,
        };
        let (_, now) = buyer.chain_time().await.unwrap();
        let terms = Terms {
            price: parse_ether("0.01").unwrap(),
            collateral: parse_ether("0.001").unwrap(),
            replicas: 1,
            checkpoints: 0,
            min_completed: 0,
            deadline: now + 600,
            review_period: 0,
            arbiter: chain.address(0),
            sealed_bid: None,
        };
        let before = started.lock().unwrap().len();
        submit(&buyer, &blobs, &url, &spec, &terms).await.unwrap();
        let mined = SystemTime::now();
        let waited = Instant::now();
        while started.lock().unwrap().len() == before {
            assert!(
                waited.elapsed() < Duration::from_secs(60),
                "job never started"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let at = started.lock().unwrap()[before];
        latency_ms.push(at.duration_since(mined).unwrap_or_default().as_secs_f64() * 1e3);
    }
    let p = deployer.get_block_number().await.unwrap();
    println!("job_scheduling_latency_ms: {:.1}", median(latency_ms));
    println!("tx_confirm_ms: {:.1}", median(transfer_ms));
    println!("provider_poll_interval_ms: {}", POLL.as_millis());
    println!("scheduling_jobs_measured: {JOBS} (blocks: {p})");
}
