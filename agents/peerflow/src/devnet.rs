//! The embedded default: a local chain with the suite deployed, several orchestrators (each with
//! its transcoder) advertised in the registry, and a broadcaster paying them, all in one process
//! with their state in one data directory. Optionally the roles reach the chain the way they
//! would on a public network ([`DevnetOptions::public_rpc`]: through a stand-in public provider,
//! https with its own CA, capped log ranges, rate limits and faults) over a chain with history
//! ([`DevnetOptions::history_blocks`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy::primitives::{Address, U256, utils::parse_ether};
use alloy::providers::{DynProvider, ext::AnvilApi};
use anyhow::{Context, Result};
use peerflow_broadcaster::network::deposit::{TopUp, keep_topped_up};
use peerflow_broadcaster::network::juror::{Juror, JurorLimits};
use peerflow_broadcaster::network::reputation::{Reputation, SuspensionPolicy};
use peerflow_broadcaster::network::verification::VerifyPolicy;
use peerflow_chain::actions::{advertise, fund_sender, give, register_orchestrator};
use peerflow_chain::rpc::RpcOptions;
use peerflow_chain::{Deployment, DevChain, DevChainOptions, SuiteParams, deploy_suite};
use peerflow_orchestrator::service::RunningOrchestrator;
use peerflow_protocol::api::ProfileSpec;
use peerflow_protocol::metrics::Metrics;
use peerflow_rpc_standin::{PublicRpc, StandinConfig};

use crate::provider::{ProviderOpts, RunningProvider, start_provider};
use crate::roles::{
    BroadcasterSetup, NodeOpts, OrchestratorOpts, broadcaster_app, ladder_specs, start_orchestrator,
};

/// How big a devnet to run.
#[derive(Debug, Clone)]
pub struct DevnetOptions {
    pub data_dir: PathBuf,
    pub orchestrators: usize,
    /// Compute providers (0 to 2).
    pub providers: usize,
    /// Address of the broadcaster's HTTP ingest and HLS.
    pub broadcaster_listen: SocketAddr,
    /// Seconds per block (rounds are 50 blocks).
    pub block_time: u64,
    pub win_probability: f64,
    /// What the orchestrators advertise and charge, fee-token wei per output pixel.
    pub price_per_pixel: u64,
    /// Segments sent to two orchestrators at once.
    pub redundancy: usize,
    /// Orchestrators' reward cut and fee share, parts per million.
    pub reward_cut: u32,
    pub fee_share: u32,
    /// The broadcaster's ladder (default: [`peerflow_media::default_ladder`]).
    pub ladder: Vec<peerflow_media::Profile>,
    /// How the broadcaster checks renditions, and how long failures and faults suspend.
    pub verify: VerifyPolicy,
    pub suspension: SuspensionPolicy,
    /// Run the fault-claim committee's jurors (else [`spawn_jurors`] starts them later).
    pub jurors: bool,
    /// Every role reaches the chain through a stand-in public provider misbehaving as this says
    /// (its `upstream` is set to the devnet's anvil); the devnet's own admin calls go direct.
    pub public_rpc: Option<StandinConfig>,
    /// Blocks of history before the suite is deployed (the chain starts at this block number):
    /// event scans must start at the deployment block, not at 0.
    pub history_blocks: u64,
    /// What each orchestrator's local transcoder announces it can encode, output pixels per
    /// second (admission counts on it); `None` measures the machine once and gives each
    /// orchestrator its share (they all run on this machine).
    pub capacity: Option<u64>,
    /// How viewers of paid streams pay the broadcaster.
    pub viewers: crate::roles::ViewerTerms,
}

impl DevnetOptions {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            orchestrators: 2,
            providers: 2,
            broadcaster_listen: "127.0.0.1:0".parse().expect("constant"),
            block_time: 1,
            win_probability: 0.1,
            price_per_pixel: 1,
            redundancy: 1,
            reward_cut: 100_000,
            fee_share: 500_000,
            ladder: peerflow_media::default_ladder(),
            verify: VerifyPolicy::default(),
            suspension: SuspensionPolicy::default(),
            jurors: true,
            public_rpc: None,
            history_blocks: 0,
            capacity: None,
            viewers: crate::roles::ViewerTerms::default(),
        }
    }
}

/// A running devnet; everything stops when it is dropped.
pub struct Devnet {
    pub chain: DevChain,
    pub deployment: Deployment,
    pub deployer: DynProvider,
    pub orchestrators: Vec<(Address, RunningOrchestrator<DynProvider>)>,
    /// Compute providers (VOD always; containers where a Docker engine answers).
    pub providers: Vec<(Address, RunningProvider)>,
    /// The compute buyer's account; its raw key is in `buyer.key` under the data dir.
    pub buyer: Address,
    pub broadcaster: Address,
    pub broadcaster_url: String,
    pub ladder: Vec<ProfileSpec>,
    /// The broadcaster's record of each orchestrator.
    pub reputation: Arc<Reputation>,
    /// How the broadcaster (and so the devnet's jurors) checks renditions.
    pub verify: VerifyPolicy,
    /// How the roles reach the chain: anvil, or the stand-in public provider in front of it.
    pub rpc: RpcOptions,
    /// The stand-in public provider, when the roles go through one.
    pub public_rpc: Option<PublicRpc>,
    data_dir: PathBuf,
    options: DevnetOptions,
    server: tokio::task::JoinHandle<()>,
    deposit_keeper: tokio::task::JoinHandle<()>,
    claim_filer: Option<tokio::task::JoinHandle<()>>,
    paywall: tokio::task::JoinHandle<()>,
    jurors: Vec<RunningJuror>,
}

impl Devnet {
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops orchestrator `index` and starts it again as a restarted process would: same key,
    /// address and data directory, so what it kept in sqlite (winning tickets, ticket parameters,
    /// its recipient secret) carries over.
    pub async fn restart_orchestrator(&mut self, index: usize) -> Result<()> {
        let (me, old) = self.orchestrators.remove(index);
        let account = (1..=5)
            .find(|&i| self.chain.address(i) == me)
            .context("not a devnet orchestrator")?;
        let listen: SocketAddr = old.url.trim_start_matches("http://").parse()?;
        let capacity = old.node.config.capacity_pixels_per_second;
        drop(old);
        let opts = orchestrator_opts(&self.options, account, listen);
        let mut attempt = 0;
        let running = loop {
            // The stopped server lets go of its port as its task ends.
            match start_orchestrator(
                self.rpc.wallet_provider(self.chain.signer(account))?,
                None,
                me,
                self.chain.secret_key(account),
                &opts,
                self.deployment.clone(),
                Some(capacity),
            )
            .await
            {
                Ok(running) => break running,
                Err(e) if attempt < 50 => {
                    attempt += 1;
                    tracing::debug!(error = %e, "orchestrator restart: trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        };
        self.orchestrators.insert(index, (me, running));
        Ok(())
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        self.server.abort();
        self.deposit_keeper.abort();
        self.paywall.abort();
        if let Some(filer) = &self.claim_filer {
            filer.abort();
        }
        for juror in &self.jurors {
            juror.task.abort();
        }
    }
}

/// How the devnet runs orchestrator `i` (anvil account `i`), listening on `listen`.
fn orchestrator_opts(options: &DevnetOptions, i: usize, listen: SocketAddr) -> OrchestratorOpts {
    OrchestratorOpts {
        node: NodeOpts {
            listen: Some(listen),
            data_dir: Some(options.data_dir.join(format!("orchestrator-{i}"))),
            ..Default::default()
        },
        win_probability: Some(options.win_probability),
        price_per_pixel: Some(options.price_per_pixel),
        face_value: Some(10_000_000_000_000_000),
        params_lifetime_blocks: Some(10),
        local_transcoder: Some(true),
        ..Default::default()
    }
}

/// Anvil accounts: 0 deploys, 1..=N (at most 5) orchestrate, 6 buys compute (its key is written to
/// `buyer.key`), 7 and 8 provide compute, 9 broadcasts, 10, 11 and 12 are the fault-claim committee.
const BROADCASTER: usize = 9;
const BUYER: usize = 6;
const PROVIDERS: [usize; 2] = [7, 8];
const COMMITTEE: [usize; 3] = [10, 11, 12];
/// Votes of [`COMMITTEE`] that decide a fault claim.
const QUORUM: u32 = 2;

pub async fn start(options: &DevnetOptions) -> Result<Devnet> {
    if options.orchestrators > 5 || options.providers > PROVIDERS.len() {
        anyhow::bail!("the devnet runs at most 5 orchestrators and 2 compute providers");
    }
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("creating {}", options.data_dir.display()))?;
    let chain = DevChain::spawn_with(&DevChainOptions {
        block_time: Some(options.block_time),
        accounts: Some(COMMITTEE[COMMITTEE.len() - 1] + 1),
        genesis_block: (options.history_blocks > 0).then_some(options.history_blocks),
        ..Default::default()
    })?;
    let direct = RpcOptions::new([chain.endpoint()]);
    let deployer = direct.wallet_provider(chain.signer(0))?;
    let (rpc, public_rpc) = match &options.public_rpc {
        Some(config) => {
            let standin = PublicRpc::start(StandinConfig {
                upstream: chain.endpoint(),
                ..config.clone()
            })
            .await?;
            let rpc = RpcOptions::new([standin.url()]).with_ca_certs([standin.ca_path()]);
            (rpc, Some(standin))
        }
        None => (direct, None),
    };
    let wallet_of = |i: usize| rpc.wallet_provider(chain.signer(i));
    let committee = COMMITTEE.iter().map(|&i| chain.address(i)).collect();
    let params = SuiteParams::devnet(chain.address(0)).with_committee(committee, QUORUM);
    let deployment = deploy_suite(&deployer, &params).await?;
    deployment.save(&options.data_dir.join("deployment.json"))?;

    // Every orchestrator's transcoder runs on this machine: each announces its share of it.
    let capacity = match options.capacity {
        Some(c) => Some(c),
        None if options.orchestrators > 0 => {
            let machine =
                crate::roles::local_capacity(Arc::new(peerflow_media::FfmpegTranscoder::new()))
                    .await?;
            Some(machine / options.orchestrators as u64)
        }
        None => None,
    };
    let mut orchestrators = Vec::new();
    for i in 1..=options.orchestrators {
        let me = chain.address(i);
        let wallet = wallet_of(i)?;
        give(&deployer, &deployment, me, parse_ether("1000")?).await?;
        register_orchestrator(
            &wallet,
            &deployment,
            me,
            parse_ether("100")? + U256::from(i),
            options.reward_cut,
            options.fee_share,
        )
        .await?;
        let opts = orchestrator_opts(options, i, "127.0.0.1:0".parse()?);
        let running = start_orchestrator(
            wallet.clone(),
            None,
            me,
            chain.secret_key(i),
            &opts,
            deployment.clone(),
            capacity,
        )
        .await?;
        advertise(
            &wallet,
            &deployment,
            &running.url,
            &["transcode:h264"],
            &["local"],
            U256::from(options.price_per_pixel),
        )
        .await?;
        orchestrators.push((me, running));
    }

    let mut providers = Vec::new();
    for (k, &i) in PROVIDERS.iter().take(options.providers).enumerate() {
        let me = chain.address(i);
        give(&deployer, &deployment, me, parse_ether("1000")?).await?;
        let opts = ProviderOpts {
            node: NodeOpts {
                listen: Some("127.0.0.1:0".parse()?),
                data_dir: Some(options.data_dir.join(format!("provider-{}", k + 1))),
                ..Default::default()
            },
            rates: Some("1e15,1e10,1e13".into()),
            poll_secs: Some(0.5),
            // Everything in the devnet listens on 127.0.0.1.
            allow_private_urls: Some(true),
            ..Default::default()
        };
        let wallet = wallet_of(i)?;
        providers.push((
            me,
            start_provider(wallet, me, chain.secret_key(i), &deployment, &opts, false).await?,
        ));
    }
    let buyer = chain.address(BUYER);
    give(&deployer, &deployment, buyer, parse_ether("1000")?).await?;
    std::fs::write(
        options.data_dir.join("buyer.key"),
        alloy::primitives::hex::encode(chain.secret_key(BUYER)),
    )?;

    let broadcaster = chain.address(BROADCASTER);
    let wallet = wallet_of(BROADCASTER)?;
    give(&deployer, &deployment, broadcaster, parse_ether("1000")?).await?;
    fund_sender(
        &wallet,
        &deployment,
        parse_ether("100")?,
        parse_ether("100")?,
    )
    .await?;
    // Orchestrators join the active set, and reserves count, from the next round.
    deployer
        .anvil_mine(Some(deployment.round_length), None)
        .await?;

    let deposit_keeper = keep_topped_up(
        wallet.clone(),
        deployment.ticket_broker,
        deployment.work_token,
        broadcaster,
        TopUp {
            minimum: parse_ether("50")?,
            target: parse_ether("100")?,
        },
        std::time::Duration::from_secs(5),
    );
    let listener = tokio::net::TcpListener::bind(options.broadcaster_listen).await?;
    let broadcaster_url = format!("http://{}", listener.local_addr()?);
    let app = broadcaster_app(BroadcasterSetup {
        chain: wallet,
        key: chain.secret_key(BROADCASTER),
        me: broadcaster,
        deployment: deployment.clone(),
        data_dir: options.data_dir.join("broadcaster"),
        ladder: options.ladder.clone(),
        service: "transcode:h264".into(),
        region: None,
        redundancy: options.redundancy,
        verify: options.verify.clone(),
        suspension: options.suspension,
        claims_url: Some(broadcaster_url.clone()),
        require_stream_keys: crate::roles::stream_keys_required(listener.local_addr()?, None),
        limits: Default::default(),
        stream_ceilings: Default::default(),
        max_live_streams: peerflow_broadcaster::DEFAULT_MAX_LIVE_STREAMS,
        max_ended_streams: peerflow_broadcaster::DEFAULT_MAX_ENDED_STREAMS,
        viewers: options.viewers,
    })
    .await?;
    crate::broadcaster_keys::publish_admin_url(
        &options.data_dir.join("broadcaster"),
        listener.local_addr()?,
    )?;
    let ladder = ladder_specs(&options.ladder);
    let (router, reputation, claim_filer, paywall) =
        (app.router, app.reputation, app.claim_filer, app.paywall);
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "broadcaster HTTP server stopped");
        }
    });
    let mut net = Devnet {
        chain,
        deployment,
        deployer,
        orchestrators,
        providers,
        buyer,
        broadcaster,
        broadcaster_url,
        ladder,
        reputation,
        verify: options.verify.clone(),
        rpc,
        public_rpc,
        data_dir: options.data_dir.clone(),
        options: options.clone(),
        server,
        deposit_keeper,
        claim_filer,
        paywall,
        jurors: Vec::new(),
    };
    if options.jurors {
        net.jurors = spawn_jurors(&net, 0);
    }
    Ok(net)
}

/// One of the devnet's jurors: its committee account, its metrics and its task.
pub struct RunningJuror {
    pub member: Address,
    pub metrics: Arc<Metrics>,
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts one juror per committee member (anvil accounts 10 to 12), judging claims filed from
/// `from_block` on; they stop when their tasks are aborted.
pub fn spawn_jurors(net: &Devnet, from_block: u64) -> Vec<RunningJuror> {
    COMMITTEE
        .iter()
        .filter_map(|&i| {
            let wallet = net.rpc.wallet_provider(net.chain.signer(i)).ok()?;
            let metrics = Arc::new(Metrics::new());
            // Everything in a devnet is on loopback: its jurors fetch evidence there.
            let juror = Juror::new(
                wallet,
                net.deployment.clone(),
                net.chain.address(i),
                net.verify.clone(),
                JurorLimits {
                    allow_private: true,
                    ..JurorLimits::default()
                },
                Arc::clone(&metrics),
            );
            Some(RunningJuror {
                member: net.chain.address(i),
                metrics,
                task: juror.spawn(from_block, std::time::Duration::from_millis(500)),
            })
        })
        .collect()
}
