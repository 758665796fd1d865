//! `peerflow provider`: a compute provider. Detects GPUs (cleanly reports none), connects to the
//! local Docker engine for container jobs (VOD jobs need only ffmpeg), optionally calibrates its
//! per-resource rates on the canonical workloads, then serves its API and works the escrow.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Address;
use alloy::primitives::utils::parse_ether;
use alloy::providers::DynProvider;
use anyhow::{Context, Result};
use peerflow_chain::Deployment;
use peerflow_compute::Resources;
use peerflow_compute::escrow::Escrow;
use peerflow_compute::manifest::RateCard;
use peerflow_lease::provider::docker::Containers;
use peerflow_lease::{ChainInfo, LeaseConfig, LeaseService};
use peerflow_provider::agent::Executors;
use peerflow_provider::container::ContainerExecutor;
use peerflow_provider::{Agent, ProviderConfig, VodExecutor};
use serde::{Deserialize, Serialize};

use crate::buyer::parse_megabytes;
use crate::config::layered;
use crate::roles::{Connected, NodeOpts};

/// Options of `peerflow provider`.
#[derive(Debug, Clone, Default, clap::Args, Serialize, Deserialize)]
pub struct ProviderOpts {
    #[command(flatten)]
    #[serde(flatten)]
    pub node: NodeOpts,
    /// URL buyers and other providers reach this provider's API at (default: http://LISTEN).
    #[arg(long)]
    pub public_url: Option<String>,
    /// CPUs one job may have (default: all of this machine's).
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Memory one job may have, e.g. 4G (default 2G).
    #[arg(long)]
    pub memory: Option<String>,
    /// Disk one job may have, e.g. 10G (default 10G).
    #[arg(long)]
    pub disk: Option<String>,
    /// Skip jobs paying less than this per replica, in FLOW (default 0.000001).
    #[arg(long)]
    pub min_price: Option<String>,
    /// Skip jobs asking more collateral than this, in FLOW (default 100).
    #[arg(long)]
    pub max_collateral: Option<String>,
    /// Per-resource rates in wei: CPU_SECOND,MEMORY_MB_SECOND,IO_MB (default: charge the price).
    #[arg(long)]
    pub rates: Option<String>,
    /// Derive the rates by running the canonical benchmark workloads at start-up.
    #[arg(long)]
    pub calibrate: Option<bool>,
    /// Seconds between looks at the chain.
    #[arg(long)]
    pub poll_secs: Option<f64>,
    /// Jobs run at once (default 2); more wait until one finishes.
    #[arg(long)]
    pub max_jobs: Option<usize>,
    /// Offer VOD jobs only (no Docker engine needed).
    #[arg(long)]
    pub no_containers: Option<bool>,
    /// An arbiter this provider accepts in disputes (repeatable; default: the deployment's
    /// deployer). Jobs naming another arbiter are skipped: with its own arbiter a buyer could
    /// outvote this provider and take its collateral.
    #[arg(long = "arbiter")]
    pub arbiters: Option<Vec<Address>>,
    /// Take container jobs that ask for a network (default false: skipped, reason
    /// `network_not_allowed`). They join the bridge `peerflow-jobs` (no traffic between
    /// containers) and reach whatever this host routes to, the host itself included: firewall
    /// the host's and the cloud metadata addresses in the DOCKER-USER chain before turning it on.
    #[arg(long)]
    pub allow_network_jobs: Option<bool>,
    /// Fetch buyers' specs and inputs from private, loopback and link-local addresses too
    /// (default false; a devnet on one machine needs it).
    #[arg(long)]
    pub allow_private_urls: Option<bool>,
    /// Lease containers to buyers, paid as they run (default: when Docker answers and a default
    /// lease image can be had; `true` makes a missing image an error).
    #[arg(long)]
    pub leases: Option<bool>,
    /// Seconds between a lease's metered and charged intervals (default 5).
    #[arg(long)]
    pub lease_interval_secs: Option<f64>,
    /// Unpaid usage a lease may run up before it is paused, in intervals at its full size
    /// (default 2); paused that long again without being paid, it is closed.
    #[arg(long)]
    pub lease_credit_intervals: Option<u32>,
    /// Probability that a lease ticket wins (default 0.05: one interval in twenty is redeemed
    /// on-chain, for twenty times its charge). 1 makes every ticket a payment.
    #[arg(long)]
    pub lease_win_probability: Option<f64>,
    /// Leases held at once (default 8).
    #[arg(long)]
    pub max_leases: Option<usize>,
    /// Image a lease runs when it names none (default: a busybox image built here).
    #[arg(long)]
    pub lease_image: Option<String>,
    /// Let leases publish ports (default false). Their containers then join the bridge
    /// `peerflow-jobs` (no traffic between containers) and reach whatever this host routes to,
    /// the host itself included: firewall it in the DOCKER-USER chain first, as for network jobs.
    #[arg(long)]
    pub lease_ports: Option<bool>,
    /// Another image a lease may name (repeatable); no other image of this host is offered.
    #[arg(long = "lease-offer-image")]
    pub lease_images: Option<Vec<String>>,
    /// Blocks an interval's ticket parameters are good for; unpaid ones are reissued (default 20).
    #[arg(long)]
    pub lease_params_blocks: Option<u64>,
    /// Largest share of a redemption's value its gas may cost, parts per million (default 10000).
    #[arg(long)]
    pub redeem_max_cost_ppm: Option<u64>,
    /// A dishonest meter multiplying the CPU time it charges leases, for the tests of the buyer's
    /// checks; not an option of the binary.
    #[arg(skip)]
    #[serde(skip)]
    pub lease_cpu_overreport: Option<f64>,
    /// A dishonest provider changing one digit of each result's first file before it commits it
    /// ([`ProviderConfig::tamper_results`]), for the tests of the escrow's majority rule; not an
    /// option of the binary.
    #[arg(skip)]
    #[serde(skip)]
    pub tamper_results: Option<bool>,
}

fn ether(s: Option<&str>, default: &str, what: &str) -> Result<alloy::primitives::U256> {
    parse_ether(s.unwrap_or(default)).with_context(|| format!("{what} (FLOW)"))
}

fn parse_rates(s: &str) -> Result<RateCard> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .context("--rates: three numbers CPU_SECOND,MEMORY_MB_SECOND,IO_MB")?;
    match v[..] {
        [c, m, i] if c >= 0.0 && m >= 0.0 && i >= 0.0 => Ok(RateCard {
            per_cpu_second: c,
            per_memory_mb_second: m,
            per_io_mb: i,
        }),
        _ => anyhow::bail!("--rates: three non-negative numbers CPU_SECOND,MEMORY_MB_SECOND,IO_MB"),
    }
}

/// A provider started in this process (its API server and its loop run as tasks).
pub struct RunningProvider {
    pub agent: Arc<Agent<DynProvider>>,
    /// Its leases, when it offers them.
    pub leases: Option<Arc<LeaseService<DynProvider>>>,
    pub url: String,
    /// Whether container jobs are offered (a Docker engine answered).
    pub containers: bool,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for RunningProvider {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

pub async fn provider(opts: &ProviderOpts, config: Option<&Path>) -> Result<()> {
    let o = layered(opts, config, "provider")?;
    let Connected {
        me,
        key,
        chain,
        deployment,
    } = o.node.connect().await?;
    let running = start_provider(chain, me, key, &deployment, &o, true).await?;
    println!(
        "provider {me} serving {} (offers {:?})",
        running.url,
        running.agent.config().offer
    );
    crate::shutdown::requested().await?;
    drop(running);
    Ok(())
}

/// Starts a provider from resolved options (shared with the devnet); `key` (`me`'s) signs its
/// requests to other providers' blob stores. Without a Docker engine it
/// fails when `require_docker`, else offers VOD only.
pub async fn start_provider(
    chain: DynProvider,
    me: Address,
    key: [u8; 32],
    deployment: &Deployment,
    o: &ProviderOpts,
    require_docker: bool,
) -> Result<RunningProvider> {
    let listen = o.node.listen.unwrap_or(([127, 0, 0, 1], 8940).into());
    let data_dir = o
        .node
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("peerflow-provider"));
    let gpus = peerflow_gpu::detect();
    tracing::info!(%gpus, "GPU detection");
    let mut executors = Executors {
        vod: Some(Arc::new(VodExecutor::new())),
        container: None,
    };
    let mut rates = match &o.rates {
        Some(r) => parse_rates(r)?,
        None => RateCard {
            per_cpu_second: 0.0,
            per_memory_mb_second: 0.0,
            per_io_mb: 0.0,
        },
    };
    if !o.no_containers.unwrap_or(false) {
        match peerflow_runner::Engine::connect().await {
            Ok(engine) => {
                let runner = peerflow_runner::Runner::new(engine);
                if o.calibrate.unwrap_or(false) {
                    tracing::info!("calibrating on the canonical workloads");
                    let cal = peerflow_runner::pricing::calibrate(&runner).await?;
                    rates = RateCard {
                        per_cpu_second: cal.fit.rates.per_cpu_second,
                        per_memory_mb_second: cal.fit.rates.per_memory_mb_second,
                        per_io_mb: cal.fit.rates.per_io_mb,
                    };
                    tracing::info!(?rates, r_squared = cal.fit.r_squared, "rates calibrated");
                }
                let prefix = format!("{me:x}");
                executors.container = Some(Arc::new(ContainerExecutor::new(runner, &prefix[..8])));
            }
            Err(e) if !require_docker => {
                tracing::warn!(error = %e, "no Docker engine: offering VOD jobs only");
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(
                    "no Docker engine (start dockerd, or pass --no-containers true to offer VOD only)",
                ));
            }
        }
    }
    let containers = executors.container.is_some();
    let lease_docker = match &executors.container {
        Some(_) if o.leases.unwrap_or(true) => Some(peerflow_runner::Engine::connect().await?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let bound = listener.local_addr()?;
    let cpus = o
        .cpus
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()) as f64);
    let cfg = ProviderConfig {
        address: me,
        public_url: o.public_url.clone().unwrap_or(format!("http://{bound}")),
        data_dir,
        offer: Resources {
            milli_cpus: (cpus * 1000.0) as u32,
            memory_mb: parse_megabytes(o.memory.as_deref().unwrap_or("2G"))
                .map_err(anyhow::Error::msg)?,
            disk_mb: parse_megabytes(o.disk.as_deref().unwrap_or("10G"))
                .map_err(anyhow::Error::msg)?,
            gpus: gpus.gpus().len() as u16,
        },
        min_price: ether(o.min_price.as_deref(), "0.000001", "--min-price")?,
        max_collateral: ether(o.max_collateral.as_deref(), "100", "--max-collateral")?,
        rates,
        poll: Duration::from_secs_f64(o.poll_secs.unwrap_or(1.0).max(0.05)),
        max_jobs: o.max_jobs.unwrap_or(2).max(1),
        arbiters: o
            .arbiters
            .clone()
            .unwrap_or_else(|| vec![deployment.deployer]),
        allow_network_jobs: o.allow_network_jobs.unwrap_or(false),
        allow_private_urls: o.allow_private_urls.unwrap_or(false),
        request_key: Some(
            peerflow_protocol::blobauth::RequestKey::new(key).context("the provider's key")?,
        ),
        tamper_results: o.tamper_results.unwrap_or(false),
    };
    let url = cfg.public_url.clone();
    let offer = cfg.offer;
    let lease_dir = cfg.data_dir.join("leases");
    let escrow = Escrow::new(deployment.job_escrow, deployment.work_token, chain.clone())
        .scanning_from(deployment.scan_from());
    let agent = Arc::new(Agent::new(cfg, escrow, executors)?);
    let mut app = peerflow_provider::http::router(Arc::clone(&agent));
    let mut tasks = Vec::new();
    // Without an image to lease, leases are not offered, unless the operator asked for them.
    let lease_engine = match lease_docker {
        Some(engine) => match &o.lease_image {
            Some(image) => Some((engine, image.clone())),
            None => match peerflow_runner::testimage::busybox_image(&engine).await {
                Ok(image) => Some((engine, image)),
                Err(e) if o.leases.is_none() => {
                    tracing::warn!(error = %e, "no default lease image (pass --lease-image): leases not offered");
                    None
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context("building the default lease image (or pass --lease-image)"));
                }
            },
        },
        None => None,
    };
    let leases = match lease_engine {
        Some((engine, default_image)) => {
            // Leases run image ids: a buyer's archive carrying the same tag cannot move them.
            let default_image = engine
                .image_id(&default_image)
                .await
                .with_context(|| format!("the lease image {default_image}"))?;
            let mut images = Vec::new();
            for image in o.lease_images.clone().unwrap_or_default() {
                images.push(
                    engine
                        .image_id(&image)
                        .await
                        .with_context(|| format!("the lease image {image}"))?,
                );
            }
            let lease_cfg = LeaseConfig {
                provider: me,
                data_dir: lease_dir,
                max: offer,
                max_leases: o.max_leases.unwrap_or(8).max(1),
                rates,
                interval: Duration::from_secs_f64(o.lease_interval_secs.unwrap_or(5.0).max(0.2)),
                credit_intervals: o.lease_credit_intervals.unwrap_or(2).max(1),
                win_prob: crate::roles::win_prob(o.lease_win_probability.unwrap_or(0.05)),
                lifetime_blocks: o.lease_params_blocks.unwrap_or(20).max(1),
                default_image,
                images,
                ports: o.lease_ports.unwrap_or(false),
                gas: peerflow_orchestrator::GasPolicy {
                    max_cost_ppm: o.redeem_max_cost_ppm.unwrap_or(10_000),
                    ..Default::default()
                },
                stop_after: Duration::from_secs_f64(
                    o.lease_interval_secs.unwrap_or(5.0).max(0.2)
                        * f64::from(o.lease_credit_intervals.unwrap_or(2).max(1)),
                ),
                io_mb_per_second: 200.0,
                cpu_overreport: o.lease_cpu_overreport.unwrap_or(1.0),
            };
            if lease_cfg.ports {
                engine.ensure_job_network().await?;
            }
            let svc = start_leases(lease_cfg, chain, deployment, &engine, &agent).await?;
            app = app.merge(peerflow_lease::provider::http::routes(Arc::clone(&svc)));
            tasks.push(tokio::spawn(Arc::clone(&svc).run()));
            Some(svc)
        }
        None => None,
    };
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "provider API stopped");
        }
    });
    tasks.push(server);
    tasks.push(tokio::spawn(Arc::clone(&agent).run(std::future::pending())));
    Ok(RunningProvider {
        agent,
        leases,
        url,
        containers,
        tasks,
    })
}

/// The lease service of a provider whose wallet is `chain`, sharing the agent's metrics.
pub async fn start_leases(
    cfg: LeaseConfig,
    chain: DynProvider,
    deployment: &Deployment,
    engine: &peerflow_runner::Engine,
    agent: &Agent<DynProvider>,
) -> Result<Arc<LeaseService<DynProvider>>> {
    let info = ChainInfo {
        broker: deployment.ticket_broker,
        chain_id: deployment.chain_id,
        start_block: deployment.start_block,
        round_length: deployment.round_length,
    };
    let svc = LeaseService::new(
        cfg,
        chain,
        info,
        Containers::new(engine.clone()),
        Arc::clone(agent.metrics()),
    )
    .await
    .context("starting the lease service")?;
    Ok(Arc::new(svc))
}
