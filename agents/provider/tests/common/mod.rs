//! A compute market on anvil for the tests: the suite deployed, a buyer, an arbiter and providers
//! each serving its HTTP API, driven tick by tick.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, U256, utils::parse_ether};
use alloy::providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi};
use peerflow_chain::actions::give;
use peerflow_chain::{Deployment, DevChain, SuiteParams, deploy_suite};
use peerflow_compute::buyer::Terms;
use peerflow_compute::escrow::Escrow;
use peerflow_compute::manifest::RateCard;
use peerflow_compute::{BlobClient, JobSpec, Resources, Workload};
use peerflow_protocol::blobauth::RequestKey;
use peerflow_provider::agent::Executors;
use peerflow_provider::{Agent, ProviderConfig};

pub const BUYER: usize = 1;
pub const ARBITER: usize = 2;
pub const FIRST_PROVIDER: usize = 3;

pub struct Market {
    pub chain: DevChain,
    pub d: Deployment,
    pub buyer: Escrow<DynProvider>,
    pub providers: Vec<Arc<Agent<DynProvider>>>,
    pub urls: Vec<String>,
    pub blobs: BlobClient,
    pub dir: tempfile::TempDir,
}

pub fn wallet(chain: &DevChain, i: usize) -> DynProvider {
    ProviderBuilder::new()
        .wallet(chain.signer(i))
        .connect_http(chain.endpoint().parse().unwrap())
        .erased()
}

pub fn rates() -> RateCard {
    RateCard {
        per_cpu_second: 1e15,
        per_memory_mb_second: 1e10,
        per_io_mb: 1e13,
    }
}

impl Market {
    /// Anvil with the suite; the buyer and each provider hold 1000 FLOW; one provider per entry
    /// of `executors`.
    pub async fn start(executors: Vec<Executors>) -> Market {
        Self::start_with(executors, |_, _| {}).await
    }

    /// [`Market::start`] with each provider's configuration adjusted by `adjust(index, config)`.
    pub async fn start_with(
        executors: Vec<Executors>,
        adjust: impl Fn(usize, &mut ProviderConfig),
    ) -> Market {
        let chain = DevChain::spawn().unwrap();
        let deployer = wallet(&chain, 0);
        let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        give(
            &deployer,
            &d,
            chain.address(BUYER),
            parse_ether("1000").unwrap(),
        )
        .await
        .unwrap();
        let mut providers = Vec::new();
        let mut urls = Vec::new();
        for (k, executors) in executors.into_iter().enumerate() {
            let i = FIRST_PROVIDER + k;
            give(
                &deployer,
                &d,
                chain.address(i),
                parse_ether("1000").unwrap(),
            )
            .await
            .unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let mut cfg = ProviderConfig {
                address: chain.address(i),
                public_url: url.clone(),
                data_dir: dir.path().join(format!("provider{k}")),
                offer: Resources {
                    milli_cpus: 2000,
                    memory_mb: 1024,
                    disk_mb: 1024,
                    gpus: 0,
                },
                min_price: U256::from(1),
                max_collateral: parse_ether("100").unwrap(),
                rates: rates(),
                poll: Duration::from_millis(200),
                max_jobs: 4,
                arbiters: vec![chain.address(ARBITER)],
                allow_network_jobs: false,
                allow_private_urls: true,
                request_key: Some(RequestKey::new(chain.secret_key(i)).unwrap()),
                tamper_results: false,
            };
            adjust(k, &mut cfg);
            let escrow = Escrow::new(d.job_escrow, d.work_token, wallet(&chain, i));
            let agent = Arc::new(Agent::new(cfg, escrow, executors).unwrap());
            let app = peerflow_provider::http::router(Arc::clone(&agent));
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            providers.push(agent);
            urls.push(url);
        }
        let buyer = Escrow::new(d.job_escrow, d.work_token, wallet(&chain, BUYER));
        // The buyer signs its uploads and reads (the providers' stores refuse unsigned ones).
        let blobs = BlobClient::new().with_key(RequestKey::new(chain.secret_key(BUYER)).unwrap());
        Market {
            chain,
            d,
            buyer,
            providers,
            urls,
            blobs,
            dir,
        }
    }

    pub fn provider_address(&self, k: usize) -> Address {
        self.chain.address(FIRST_PROVIDER + k)
    }

    pub async fn now(&self) -> u64 {
        self.buyer.chain_time().await.unwrap().1
    }

    /// Moves the chain's clock forward and mines a block.
    pub async fn warp(&self, seconds: u64) {
        let p = wallet(&self.chain, 0);
        p.anvil_increase_time(seconds).await.unwrap();
        p.anvil_mine(Some(1), None).await.unwrap();
    }

    /// Ticks every provider until `done` holds or `limit` passes.
    pub async fn drive_until<F, Fut>(&self, limit: Duration, mut done: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = std::time::Instant::now();
        loop {
            for p in &self.providers {
                p.tick().await.unwrap();
            }
            if done().await {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "market did not get there in {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn balance(&self, who: Address) -> U256 {
        self.buyer.balance_of(who).await.unwrap()
    }
}

impl Market {
    /// Generates a `seconds`-long `width`×`height` test clip (15 fps), uploads it to provider 0's
    /// store and returns the VOD spec packaging it with `ladder` (1 CPU, 512 MiB, 5 min, 50 MiB out).
    pub async fn vod_spec(&self, seconds: u32, width: u32, height: u32, ladder: &str) -> JobSpec {
        let segs = peerflow_media::testsrc::generate_segments(
            &self.dir.path().join("src"),
            1,
            seconds,
            width,
            height,
            15,
        )
        .unwrap();
        let input = self
            .blobs
            .upload(&self.urls[0], std::fs::read(&segs[0]).unwrap())
            .await
            .unwrap();
        JobSpec {
            version: 1,
            workload: Workload::Vod {
                input,
                ladder: ladder.into(),
                segment_secs: 1,
                speed: 10,
            },
            resources: Resources {
                milli_cpus: 1000,
                memory_mb: 512,
                disk_mb: 200,
                gpus: 0,
            },
            timeout_secs: 300,
            max_output_bytes: 50 << 20,
            cooperative: None,
        }
    }

    /// Fixed-price terms: 1 FLOW per replica, `collateral` FLOW each, results due `deadline_in`
    /// seconds from now, no review period, the test arbiter.
    pub async fn terms(&self, replicas: u8, collateral: &str, deadline_in: u64) -> Terms {
        Terms {
            price: parse_ether("1").unwrap(),
            collateral: parse_ether(collateral).unwrap(),
            replicas,
            checkpoints: 0,
            min_completed: 0,
            deadline: self.now().await + deadline_in,
            review_period: 0,
            arbiter: self.chain.address(ARBITER),
            sealed_bid: None,
        }
    }
}
