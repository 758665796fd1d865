//! `peerflow orchestrator` and `peerflow transcoder`: each role alone, configured by flags, env
//! and the TOML file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::U256;
use alloy::providers::DynProvider;
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, Result};
use peerflow_broadcaster::BroadcasterConfig;
use peerflow_broadcaster::network::claims::ClaimFiler;
use peerflow_broadcaster::network::deposit::{TopUp, keep_topped_up};
use peerflow_broadcaster::network::http::{NetworkApi, routes as network_routes};
use peerflow_broadcaster::network::ledger::{Ledger, WinPolicy, WinWatcher};
use peerflow_broadcaster::network::pricing::{PaymentLimits, StreamCeiling};
use peerflow_broadcaster::network::processor::{
    NetworkConfig, NetworkHandle, NetworkProcessor, spec_of,
};
use peerflow_broadcaster::network::record::RecordSources;
use peerflow_broadcaster::network::reputation::{Reputation, SuspensionPolicy};
use peerflow_broadcaster::network::session::Payer;
use peerflow_broadcaster::network::stats::StreamStats;
use peerflow_broadcaster::network::status::{StatusApi, routes as status_routes};
use peerflow_broadcaster::network::verification::VerifyPolicy;
use peerflow_chain::Deployment;
use peerflow_chain::actions::advertise;
use peerflow_chain::bindings::service_registry::ServiceRegistry;
use peerflow_chain::bindings::staking::Staking;
use peerflow_chain::bindings::ticket_broker::TicketBroker;
use peerflow_chain::rpc::RpcOptions;
use peerflow_media::{
    FfmpegTranscoder, Rav1eTranscoder, Transcoder, default_ladder, measure_capacity,
};
use peerflow_orchestrator::service::{RunningOrchestrator, ServiceConfig, start_with_keys};
use peerflow_orchestrator::{GasPolicy, NodeConfig, ParamsPolicy};
use peerflow_paywall::server::ChainInfo as PaywallChain;
use peerflow_paywall::{Paywall, PaywallConfig};
use peerflow_protocol::api::ProfileSpec;
use peerflow_protocol::metrics::Metrics;
use peerflow_protocol::result::ResultDomain;
use peerflow_transcoder::PullConfig;
use serde::{Deserialize, Serialize};

use crate::chain_access::NetworkArgs;
use crate::config::layered;
use crate::keys::KeyArgs;

/// What every chain-connected role (orchestrator, broadcaster) is given.
#[derive(Debug, Clone, Default, clap::Args, Serialize, Deserialize)]
pub struct NodeOpts {
    /// Chain RPC endpoint(s), http:// or https://: a comma-separated list is tried in order, the
    /// next when one keeps failing (default: the --network's, else http://127.0.0.1:8545).
    #[arg(long, env = "PEERFLOW_RPC_URL")]
    pub rpc_url: Option<String>,
    /// Deployment file (addresses of the contract suite), as written by the deploy script
    /// (default with --network: deployments/<chain-id>.json).
    #[arg(long, env = "PEERFLOW_DEPLOYMENT")]
    pub deployment: Option<PathBuf>,
    #[command(flatten)]
    #[serde(flatten)]
    pub net: NetworkArgs,
    /// Address of the role's HTTP server.
    #[arg(long, env = "PEERFLOW_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The role's state directory (databases, secrets, recordings).
    #[arg(long, env = "PEERFLOW_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    #[serde(flatten)]
    pub keys: KeyArgs,
}

/// A role's chain connection: its account, its wallet-backed provider and the deployment.
pub struct Connected {
    pub me: alloy::primitives::Address,
    pub key: [u8; 32],
    pub chain: DynProvider,
    pub deployment: Deployment,
}

impl NodeOpts {
    /// Connects with the role's key and checks the deployment against the chain.
    pub async fn connect(&self) -> Result<Connected> {
        let signer = self.keys.signer()?;
        let (me, key) = (signer.address(), signer.to_bytes().0);
        let access = self
            .net
            .connect(
                self.rpc_url.as_deref(),
                self.deployment.as_deref(),
                Some(signer),
            )
            .await?;
        let (chain, deployment) = (access.chain, access.deployment);
        Ok(Connected {
            me,
            key,
            chain,
            deployment,
        })
    }
}

/// Options of `peerflow orchestrator`.
#[derive(Debug, Clone, Default, clap::Args, Serialize, Deserialize)]
pub struct OrchestratorOpts {
    #[command(flatten)]
    #[serde(flatten)]
    pub node: NodeOpts,
    /// Price in fee-token wei per output pixel (default: the price this orchestrator already
    /// advertises in the service registry, else 1). The running orchestrator follows its
    /// advertisement (`peerflow orchestrator set-price`).
    #[arg(long)]
    pub price_per_pixel: Option<u64>,
    /// Ticket face value in fee-token wei.
    #[arg(long)]
    pub face_value: Option<u128>,
    /// Ticket win probability (0 < p ≤ 1).
    #[arg(long)]
    pub win_probability: Option<f64>,
    /// Blocks during which one set of ticket parameters is accepted.
    #[arg(long)]
    pub params_lifetime_blocks: Option<u64>,
    /// Token transcoders must present.
    #[arg(long, env = "PEERFLOW_TRANSCODER_TOKEN")]
    pub transcoder_token: Option<String>,
    /// Codecs offered (h264, av1-svt, av1-rav1e).
    #[arg(long, value_delimiter = ',')]
    pub codecs: Option<Vec<String>>,
    /// Advertise this URI (and the codecs and regions) in the service registry at start-up.
    #[arg(long)]
    pub service_uri: Option<String>,
    #[arg(long, value_delimiter = ',')]
    pub regions: Option<Vec<String>>,
    /// Also run an ffmpeg transcoder in this process.
    #[arg(long)]
    pub local_transcoder: Option<bool>,
    /// Output pixels per second the local transcoder announces (and what a transcoder that
    /// announces nothing counts for): admission takes on streams up to it. Default: four fifths of
    /// the throughput measured at start on the default ladder (a fifth kept free for bursts).
    #[arg(long)]
    pub capacity: Option<u64>,
    /// What one fee token is worth in the chain's gas currency (ETH), e.g. "0.0004": redemption
    /// gas, paid in ETH, is converted with it before it is held against a winner's face value
    /// (at most 1 %, else the winner waits for cheaper gas until its last valid round). Default
    /// 1 (the fee token priced as ETH).
    #[arg(long)]
    pub token_price_eth: Option<String>,
    /// Redeem winning tickets with this hot key (a raw hex key file) instead of the
    /// orchestrator's: it must be the redeemer the orchestrator named (`peerflow orchestrator
    /// set-keys --redeemer`); the fees go to the orchestrator. (That key may also sign the
    /// orchestrator's results: see --for.)
    #[arg(long)]
    pub redeem_key_file: Option<PathBuf>,
    /// Highest ticket face value in fee-token wei the gas outlook may raise it to (default 1 token;
    /// the configured --face-value is the floor; 0 keeps it fixed): redemption gas stays within 1 %
    /// of a ticket's value while gas rises.
    #[arg(long)]
    pub max_face_value: Option<u128>,
    /// Call reward() each round (default true); `false` when a reward-caller key does it
    /// (`peerflow orchestrator call-rewards --for <this orchestrator>`).
    #[arg(long)]
    pub reward_calls: Option<bool>,
    /// Serve this orchestrator with its hot key, its stake key staying offline: the key given
    /// (--key-file, keystore) is then the redeemer it named (`peerflow orchestrator set-keys
    /// --redeemer`), which signs segment results and redeems for it, and calls reward() for it
    /// if also named its reward caller. Advertising (`set-service`) needs the stake key.
    #[arg(long = "for", value_name = "ORCHESTRATOR")]
    #[serde(rename = "for")]
    pub for_orchestrator: Option<alloy::primitives::Address>,
}

impl OrchestratorOpts {
    /// The redemption gas policy, with the fee token priced by `--token-price-eth`.
    pub fn gas_policy(&self) -> Result<GasPolicy> {
        let mut gas = GasPolicy::default();
        if let Some(price) = &self.token_price_eth {
            let wei = peerflow_chain::amount::parse_amount(price, "ETH")
                .with_context(|| format!("--token-price-eth: `{price}` is not an amount of ETH"))?;
            anyhow::ensure!(!wei.is_zero(), "--token-price-eth must be above 0");
            gas.wei_per_token = wei;
        }
        Ok(gas)
    }
}

/// Options of `peerflow transcoder`.
#[derive(Debug, Clone, Default, clap::Args, Serialize, Deserialize)]
pub struct TranscoderOpts {
    /// The orchestrator's URL.
    #[arg(long, env = "PEERFLOW_ORCHESTRATOR")]
    pub orchestrator: Option<String>,
    #[arg(long, env = "PEERFLOW_TRANSCODER_TOKEN")]
    pub token: Option<String>,
    /// Encoder: ffmpeg (libx264 / SVT-AV1) or rav1e (in-process AV1).
    #[arg(long)]
    pub encoder: Option<String>,
    /// Serve Prometheus metrics (`GET /metrics`) on this address (default: not served).
    #[arg(long, env = "PEERFLOW_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Name the orchestrator lists this transcoder under (default: host-pid).
    #[arg(long)]
    pub name: Option<String>,
    /// Jobs taken at once (default 1).
    #[arg(long)]
    pub slots: Option<usize>,
    /// Output pixels per second to announce to the orchestrator, whose admission counts on it
    /// (default: four fifths of the throughput measured at start on the default ladder, for
    /// ffmpeg).
    #[arg(long)]
    pub capacity: Option<u64>,
}

/// A signing provider on `rpc` (one URL or a comma-separated list) through the retrying transport.
pub fn provider(rpc: &str, signer: PrivateKeySigner) -> Result<DynProvider> {
    Ok(RpcOptions::new([rpc]).wallet_provider(signer)?)
}

/// `win_probability` as the broker's `winProb` (`p × (2²⁵⁶ − 1)`, to 1e-18; 1 is certainty).
pub fn win_prob(p: f64) -> U256 {
    if p >= 1.0 {
        return U256::MAX;
    }
    let scale = 1_000_000_000_000_000_000u128;
    U256::MAX / U256::from(scale) * U256::from((p.clamp(0.0, 1.0) * scale as f64) as u128)
}

/// Measures the local encoder's capacity and returns what admission may count on: the
/// [`SUSTAINED`](peerflow_orchestrator::transcoders::SUSTAINED) share of its throughput, in output
/// pixels per second of the default ladder.
pub async fn local_capacity(transcoder: Arc<dyn Transcoder>) -> Result<u64> {
    let capacity = tokio::task::spawn_blocking(move || {
        measure_capacity(transcoder.as_ref(), &default_ladder())
    })
    .await??;
    Ok((capacity.pixels_per_second * peerflow_orchestrator::transcoders::SUSTAINED) as u64)
}

pub async fn orchestrator(opts: &OrchestratorOpts, config: Option<&Path>) -> Result<()> {
    let mut o = layered(opts, config, "orchestrator")?;
    let Connected {
        me: key_owner,
        key,
        chain,
        deployment,
    } = o.node.connect().await?;
    // With --for, the key is the orchestrator's hot key (start_orchestrator checks it is).
    let me = o.for_orchestrator.unwrap_or(key_owner);
    if me != key_owner {
        anyhow::ensure!(
            o.redeem_key_file.is_none(),
            "--for runs on the hot key, which redeems: --redeem-key-file is for a node holding the stake key"
        );
        anyhow::ensure!(
            o.service_uri.is_none(),
            "--service-uri advertises, which needs the stake key: run `peerflow orchestrator \
             set-service` with it, and start the node without --service-uri"
        );
        println!("serving {me} with its hot key {key_owner}");
    }
    // Without --price, keep the advertised one: a restart must not undo a `set-price`.
    let advertised = ServiceRegistry::new(deployment.service_registry, &chain)
        .getService(me)
        .call()
        .await
        .context("reading this orchestrator's advertisement")?
        .pricePerUnit;
    if o.price_per_pixel.is_none() && advertised > U256::ZERO {
        o.price_per_pixel = Some(
            u64::try_from(advertised)
                .with_context(|| format!("advertised price {advertised} is above 2^64 wei"))?,
        );
        println!("price: {advertised} wei per pixel, as advertised");
    }
    let redeemer = match &o.redeem_key_file {
        Some(file) => Some(redemption_key(&o, file, me, &deployment).await?),
        None => None,
    };
    let running = start_orchestrator(
        chain.clone(),
        redeemer,
        me,
        key,
        &o,
        deployment.clone(),
        o.capacity,
    )
    .await?;
    println!("orchestrator {me} listening on {}", running.url);
    if let Some(uri) = &o.service_uri {
        let codecs = o.codecs.clone().unwrap_or_else(|| vec!["h264".into()]);
        let services: Vec<String> = codecs.iter().map(|c| format!("transcode:{c}")).collect();
        let services: Vec<&str> = services.iter().map(String::as_str).collect();
        let regions: Vec<&str> = o.regions.iter().flatten().map(String::as_str).collect();
        advertise(
            &chain,
            &deployment,
            uri,
            &services,
            &regions,
            U256::from(o.price_per_pixel.unwrap_or(1)),
        )
        .await?;
        println!("advertised {uri} in the service registry");
    }
    crate::shutdown::requested().await?;
    drop(running);
    Ok(())
}

/// A provider signing with the redemption key in `file`, once the chain confirms `me` named it.
async fn redemption_key(
    o: &OrchestratorOpts,
    file: &Path,
    me: alloy::primitives::Address,
    deployment: &Deployment,
) -> Result<DynProvider> {
    let signer = crate::keys::KeyArgs {
        key_file: Some(file.to_path_buf()),
        ..Default::default()
    }
    .signer()
    .context("--redeem-key-file")?;
    let hot = signer.address();
    let access = o
        .node
        .net
        .connect(
            o.node.rpc_url.as_deref(),
            o.node.deployment.as_deref(),
            Some(signer),
        )
        .await?;
    let named = Staking::new(deployment.staking, &access.chain)
        .redeemerOf(me)
        .call()
        .await
        .context("reading this orchestrator's redeemer")?;
    anyhow::ensure!(
        named == hot,
        "--redeem-key-file is {hot}, but {me} names {named} as its redeemer: run \
         `peerflow orchestrator set-keys --redeemer {hot}` with the orchestrator's key first"
    );
    println!("redeeming with {hot} for {me}");
    Ok(access.chain)
}

/// Starts an orchestrator from resolved options (shared with the devnet); `key` is `me`'s secret
/// key, or the hot key `me` named (`--for`), which signs every segment result; `redeemer`, when
/// given, signs redemptions.
pub async fn start_orchestrator(
    chain: DynProvider,
    redeemer: Option<DynProvider>,
    me: alloy::primitives::Address,
    key: [u8; 32],
    o: &OrchestratorOpts,
    deployment: Deployment,
    capacity: Option<u64>,
) -> Result<RunningOrchestrator<DynProvider>> {
    let ffmpeg: Arc<dyn Transcoder> = Arc::new(FfmpegTranscoder::new());
    let capacity = match capacity {
        Some(c) => c,
        None => local_capacity(Arc::clone(&ffmpeg)).await?,
    };
    let token = o
        .transcoder_token
        .clone()
        .unwrap_or_else(|| format!("{:x}", alloy::primitives::B256::random()));
    let config = ServiceConfig {
        listen: o
            .node
            .listen
            .unwrap_or_else(|| "127.0.0.1:8935".parse().expect("constant")),
        data_dir: o
            .node
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("peerflow-orchestrator")),
        deployment,
        node: NodeConfig {
            policy: ParamsPolicy {
                price_per_pixel: U256::from(o.price_per_pixel.unwrap_or(1)),
                face_value: U256::from(o.face_value.unwrap_or(10_000_000_000_000_000)),
                win_prob: win_prob(o.win_probability.unwrap_or(0.1)),
                lifetime_blocks: o.params_lifetime_blocks.unwrap_or(20),
            },
            codecs: o.codecs.clone().unwrap_or_else(|| vec!["h264".into()]),
            transcoder_token: token.clone(),
            refresh_margin_blocks: 3,
            job_timeout: Duration::from_secs(30),
            capacity_pixels_per_second: capacity,
        },
        max_segment_bytes: 64 << 20,
        redeem_every: Duration::from_secs(2),
        gas: o.gas_policy()?,
        // --confirmations (the process's send policy): a redemption a reorg took out sooner is
        // redeemed again.
        confirmations: peerflow_chain::send::policy().confirmations,
        reward_calls: o.reward_calls.unwrap_or(true),
        max_face_value: U256::from(o.max_face_value.unwrap_or(1_000_000_000_000_000_000)),
    };
    let running = start_with_keys(chain, redeemer, me, key, config).await?;
    if o.local_transcoder.unwrap_or(false) {
        // It reports into the orchestrator's registry: its series are on the orchestrator's /metrics.
        let pull = PullConfig {
            name: "local".into(),
            pixels_per_second: Some(capacity),
            metrics: Arc::clone(running.node.metrics()),
            ..PullConfig::new(running.url.clone(), token)
        };
        tokio::spawn(async move {
            if let Err(e) = peerflow_transcoder::run(pull, ffmpeg).await {
                tracing::error!(error = %e, "local transcoder stopped");
            }
        });
    }
    Ok(running)
}

pub async fn transcoder(opts: &TranscoderOpts, config: Option<&Path>) -> Result<()> {
    let t = layered(opts, config, "transcoder")?;
    let encoder: Arc<dyn Transcoder> = match t.encoder.as_deref().unwrap_or("ffmpeg") {
        "ffmpeg" => Arc::new(FfmpegTranscoder::new()),
        "rav1e" => Arc::new(Rav1eTranscoder::new()),
        other => anyhow::bail!("unknown encoder {other} (ffmpeg or rav1e)"),
    };
    let orchestrator = t.orchestrator.context("--orchestrator is required")?;
    let token = t.token.context("--token is required")?;
    let mut pull = PullConfig::new(orchestrator.clone(), token);
    if let Some(capacity) = t.capacity {
        pull.pixels_per_second = Some(capacity);
    } else if encoder.name() == "ffmpeg" {
        let capacity = local_capacity(Arc::clone(&encoder)).await?;
        println!("capacity: {capacity} output pixels/s");
        pull.pixels_per_second = Some(capacity);
    }
    if let Some(name) = t.name {
        pull.name = name;
    }
    pull.slots = t.slots.unwrap_or(1).max(1);
    let _metrics = match t.metrics_listen {
        Some(listen) => {
            Some(crate::metrics_http::serve("transcoder", listen, Arc::clone(&pull.metrics)).await?)
        }
        None => None,
    };
    println!(
        "transcoder {} ({} slots) pulling work from {orchestrator}",
        pull.name, pull.slots
    );
    peerflow_transcoder::run(pull, encoder).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_price_flag_prices_redemption_gas() {
        let priced = |text: Option<&str>| {
            OrchestratorOpts {
                token_price_eth: text.map(str::to_string),
                ..Default::default()
            }
            .gas_policy()
        };
        assert_eq!(
            priced(None).unwrap().wei_per_token,
            U256::from(10u64).pow(U256::from(18u64)),
            "1:1 unless told"
        );
        assert_eq!(
            priced(Some("0.0004")).unwrap().wei_per_token,
            U256::from(400_000_000_000_000u64)
        );
        for bad in ["0", "cheap", "-1"] {
            let err = priced(Some(bad)).unwrap_err().to_string();
            assert!(err.contains("--token-price-eth"), "{bad}: {err}");
        }
    }

    #[test]
    fn broadcaster_price_flags_parse_into_limits_and_stream_ceilings() {
        let opts = BroadcasterOpts {
            max_price_per_pixel: Some("1000 wei".into()),
            max_price_per_segment: Some("5".into()),
            max_face_value: Some("0.5".into()),
            stream_max_price: vec![
                "cam1:0.000000000000000010".into(),
                "cam2:20 wei:0.01".into(),
            ],
            ..Default::default()
        };
        let limits = opts.payment_limits().unwrap();
        let token = U256::from(10u128.pow(18));
        assert_eq!(limits.max_price_per_pixel, U256::from(1000u64));
        assert_eq!(limits.max_price_per_segment, U256::from(5u64) * token);
        assert_eq!(limits.max_value_per_segment, U256::from(10u64) * token);
        assert_eq!(limits.max_face_value, token / U256::from(2u64));
        let ceilings = opts.stream_ceilings().unwrap();
        assert_eq!(
            ceilings["cam1"].max_price_per_pixel,
            Some(U256::from(10u64))
        );
        assert_eq!(ceilings["cam1"].max_price_per_segment, None);
        assert_eq!(
            ceilings["cam2"].max_price_per_pixel,
            Some(U256::from(20u64))
        );
        assert_eq!(
            ceilings["cam2"].max_price_per_segment,
            Some(token / U256::from(100u64))
        );
        for bad in ["cam1", "cam1:lots", "cam1:1:2:3"] {
            let opts = BroadcasterOpts {
                stream_max_price: vec![bad.into()],
                ..Default::default()
            };
            assert!(opts.stream_ceilings().is_err(), "{bad}");
        }
        assert_eq!(
            BroadcasterOpts::default().payment_limits().unwrap(),
            PaymentLimits::default()
        );
    }

    #[test]
    fn win_probability_maps_onto_the_full_range() {
        assert_eq!(win_prob(1.0), U256::MAX);
        assert_eq!(win_prob(0.0), U256::ZERO);
        let half = win_prob(0.5);
        assert!(
            half.abs_diff(U256::MAX / U256::from(2u64))
                < U256::MAX / U256::from(1_000_000_000_000_000u64)
        );
    }
}

/// Options of `peerflow broadcaster`.
#[derive(Debug, Clone, Default, clap::Args, Serialize, Deserialize)]
pub struct BroadcasterOpts {
    #[command(flatten)]
    #[serde(flatten)]
    pub node: NodeOpts,
    /// Rendition ladder, e.g. "360p:640x360:800k:h264,240p:426x240:400k:h264".
    #[arg(long)]
    pub ladder: Option<String>,
    /// Registry service id orchestrators must offer.
    #[arg(long)]
    pub service: Option<String>,
    /// Only orchestrators serving this region.
    #[arg(long)]
    pub region: Option<String>,
    /// Send each segment to this many orchestrators at once (2 for premium streams).
    #[arg(long)]
    pub redundancy: Option<usize>,
    /// Top the broker deposit up when it falls below this (fee-token wei; default 10 tokens)…
    #[arg(long)]
    pub min_deposit: Option<u128>,
    /// …back to this (default 100 tokens).
    #[arg(long)]
    pub deposit_target: Option<u128>,
    /// Share of segments that also get the quality check (SSIM/PSNR, reference encode), 0 to 1
    /// (default 0.1).
    #[arg(long)]
    pub sample_rate: Option<f64>,
    /// File fault claims on-chain (default true; the bond comes from this broadcaster's account).
    #[arg(long)]
    pub file_claims: Option<bool>,
    /// The URL jurors reach this broadcaster at, for fault evidence (default: the listen address).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Take pushes only with a stream key (`PUT /live/{key}/{stream}/{seq}.ts`; keys from
    /// `peerflow broadcaster keys create`). Default: required unless the listen address is
    /// loopback; `false` on a public address leaves the deposit open to anyone who reaches it.
    #[arg(long)]
    pub require_stream_keys: Option<bool>,
    /// The highest price per output pixel paid, in tokens (e.g. "0.000000001", or "1000 wei";
    /// default 1e9 wei). Quotes above it, or above the orchestrator's on-chain price, are refused.
    #[arg(long)]
    pub max_price_per_pixel: Option<String>,
    /// The highest price of one segment (all renditions), in tokens (default 1).
    #[arg(long)]
    pub max_price_per_segment: Option<String>,
    /// The highest face value of a ticket, in tokens (default 1; also never above a tenth of the
    /// deposit plus the reserve allocation per orchestrator).
    #[arg(long)]
    pub max_face_value: Option<String>,
    /// A stream's own price ceiling, `STREAM:PER_PIXEL[:PER_SEGMENT]` in tokens (repeatable;
    /// only ever tighter than the broadcaster-wide ceiling).
    #[arg(long = "stream-max-price")]
    #[serde(default)]
    pub stream_max_price: Vec<String>,
    /// Streams live at once, every key and keyless push together (default 64); a push that would
    /// open one more gets 429 `too_many_streams` before anything is paid.
    #[arg(long)]
    pub max_live_streams: Option<usize>,
    /// Ended streams kept in memory, listed and playable (default 32); older ones are dropped
    /// from memory, their recordings stay on disk.
    #[arg(long)]
    pub max_ended_streams: Option<usize>,
    /// Paid streams: seconds of video one viewer ticket pays for (default 4).
    #[arg(long)]
    pub viewer_ticket_seconds: Option<f64>,
    /// Paid streams: seconds of video a viewer may get ahead of its payments (default 10; at
    /// least two tickets' worth).
    #[arg(long)]
    pub viewer_credit_seconds: Option<f64>,
    /// Paid streams: the win probability of viewer tickets, 0 to 1 (default 0.1).
    #[arg(long)]
    pub viewer_win_probability: Option<f64>,
}

/// Whether a broadcaster listening on `listen` takes only keyed pushes: as the operator says, else
/// required everywhere but on loopback (where only this machine's processes reach it).
pub fn stream_keys_required(listen: std::net::SocketAddr, explicit: Option<bool>) -> bool {
    explicit.unwrap_or(!listen.ip().is_loopback())
}

/// Parses an amount of the fee token: tokens (18 decimals), or wei with a `wei` suffix.
fn tokens(what: &str, text: &str) -> Result<U256> {
    peerflow_chain::amount::parse_amount(text, "tokens")
        .with_context(|| format!("{what}: `{text}` is not an amount of tokens"))
}

impl BroadcasterOpts {
    /// How viewers of paid streams pay, from the flags.
    pub fn viewer_terms(&self) -> Result<ViewerTerms> {
        let d = ViewerTerms::default();
        let ms = |what: &str, s: Option<f64>, default: u64| -> Result<u64> {
            match s {
                None => Ok(default),
                Some(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => {
                    Ok((s * 1000.0).round() as u64)
                }
                Some(s) => anyhow::bail!("{what} must be between 0 and 3600 seconds, not {s}"),
            }
        };
        let terms = ViewerTerms {
            ms_per_ticket: ms(
                "--viewer-ticket-seconds",
                self.viewer_ticket_seconds,
                d.ms_per_ticket,
            )?,
            credit_ms: ms(
                "--viewer-credit-seconds",
                self.viewer_credit_seconds,
                d.credit_ms,
            )?,
            win_prob: match self.viewer_win_probability {
                None => d.win_prob,
                Some(p) if p > 0.0 && p <= 1.0 => win_prob(p),
                Some(p) => anyhow::bail!("--viewer-win-probability must be in (0, 1], not {p}"),
            },
            grant_rounds: d.grant_rounds,
        };
        if terms.credit_ms < 2 * terms.ms_per_ticket {
            anyhow::bail!(
                "--viewer-credit-seconds must cover two tickets ({} s)",
                2 * terms.ms_per_ticket / 1000
            );
        }
        Ok(terms)
    }

    /// The broadcaster-wide payment limits from the flags (defaults elsewhere).
    pub fn payment_limits(&self) -> Result<PaymentLimits> {
        let mut limits = PaymentLimits::default();
        if let Some(t) = &self.max_price_per_pixel {
            limits.max_price_per_pixel = tokens("--max-price-per-pixel", t)?;
        }
        if let Some(t) = &self.max_price_per_segment {
            limits.max_price_per_segment = tokens("--max-price-per-segment", t)?;
            limits.max_value_per_segment = limits.max_value_per_segment.max(
                limits
                    .max_price_per_segment
                    .saturating_mul(U256::from(2u64)),
            );
        }
        if let Some(t) = &self.max_face_value {
            limits.max_face_value = tokens("--max-face-value", t)?;
        }
        Ok(limits)
    }

    /// The per-stream ceilings from `--stream-max-price`.
    pub fn stream_ceilings(&self) -> Result<std::collections::HashMap<String, StreamCeiling>> {
        let mut out = std::collections::HashMap::new();
        for spec in &self.stream_max_price {
            let mut fields = spec.split(':');
            let (Some(stream), Some(per_pixel)) = (fields.next(), fields.next()) else {
                anyhow::bail!(
                    "--stream-max-price {spec:?}: expected STREAM:PER_PIXEL[:PER_SEGMENT]"
                );
            };
            let ceiling = StreamCeiling {
                max_price_per_pixel: Some(tokens("--stream-max-price", per_pixel)?),
                max_price_per_segment: fields
                    .next()
                    .map(|t| tokens("--stream-max-price", t))
                    .transpose()?,
            };
            if fields.next().is_some() {
                anyhow::bail!("--stream-max-price {spec:?}: too many fields");
            }
            out.insert(stream.to_string(), ceiling);
        }
        Ok(out)
    }
}

/// A broadcaster to build: who pays, where its state lives, what it asks for, how it checks.
pub struct BroadcasterSetup {
    pub chain: DynProvider,
    pub key: [u8; 32],
    pub me: alloy::primitives::Address,
    pub deployment: Deployment,
    /// Recordings, the reputation store (`reputation.sqlite`) and fault bundles (`faults/`).
    pub data_dir: PathBuf,
    pub ladder: Vec<peerflow_media::Profile>,
    /// Registry service id to require, region to prefer, orchestrators per segment.
    pub service: String,
    pub region: Option<String>,
    pub redundancy: usize,
    pub verify: VerifyPolicy,
    pub suspension: SuspensionPolicy,
    /// Where jurors reach this broadcaster's fault evidence, e.g. `http://b.example:8936`;
    /// `None`: claims are not filed (faults still fail over, suspend and are kept).
    pub claims_url: Option<String>,
    /// Pushes need a stream key ([`stream_keys_required`]).
    pub require_stream_keys: bool,
    /// What it pays at most, broadcaster-wide and per stream.
    pub limits: PaymentLimits,
    pub stream_ceilings: std::collections::HashMap<String, StreamCeiling>,
    /// Streams live at once, and ended streams kept in memory.
    pub max_live_streams: usize,
    pub max_ended_streams: usize,
    /// How viewers of paid streams pay.
    pub viewers: ViewerTerms,
}

/// How viewers of paid streams pay this broadcaster (see `peerflow_paywall`).
#[derive(Debug, Clone, Copy)]
pub struct ViewerTerms {
    /// Video one ticket pays for.
    pub ms_per_ticket: u64,
    /// How far behind its payments a viewer may get before segments are refused.
    pub credit_ms: u64,
    pub win_prob: U256,
    /// Rounds a viewer's grant authorizes its hot key for.
    pub grant_rounds: u64,
}

impl Default for ViewerTerms {
    /// A ticket per 4 s of video, 10 s of credit, one ticket in ten wins, grants for 200 rounds.
    fn default() -> Self {
        Self {
            ms_per_ticket: 4_000,
            credit_ms: 10_000,
            win_prob: win_prob(0.1),
            grant_rounds: 200,
        }
    }
}

/// A broadcaster built: its router (push, HLS, the web page and its status, faults, reputation)
/// and what runs beside it.
pub struct BroadcasterApp {
    pub router: axum::Router,
    pub reputation: Arc<Reputation>,
    /// Files fault claims; stops when the router (and its processor) is dropped.
    pub claim_filer: Option<tokio::task::JoinHandle<()>>,
    /// Our books per orchestrator (credit, wins), shared with `/v1/status`.
    pub ledger: Arc<Ledger>,
    /// Counts our tickets' on-chain wins per orchestrator and suspends implausible winners;
    /// abort it when the broadcaster stops.
    pub win_watch: tokio::task::JoinHandle<()>,
    /// Redeems viewers' winning tickets; abort it when the broadcaster stops.
    pub paywall: tokio::task::JoinHandle<()>,
}

/// Builds the broadcaster: push ingest and HLS in front of the paid network, with every reply
/// verified, faults kept as evidence (and claimed on-chain when `claims_url` is set), and the
/// reputation of every orchestrator kept in sqlite.
pub async fn broadcaster_app(s: BroadcasterSetup) -> Result<BroadcasterApp> {
    std::fs::create_dir_all(&s.data_dir)
        .with_context(|| format!("creating {}", s.data_dir.display()))?;
    let reputation_path = s.data_dir.join("reputation.sqlite");
    let reputation = Arc::new(
        Reputation::open(&reputation_path, s.suspension)
            .with_context(|| format!("opening {}", reputation_path.display()))?,
    );
    let fault_dir = s.data_dir.join("faults");
    let viewers_dir = s.data_dir.join("viewers");
    let mut broadcaster = BroadcasterConfig::new(s.data_dir);
    broadcaster.require_stream_keys = s.require_stream_keys;
    broadcaster.max_live_streams = s.max_live_streams;
    broadcaster.max_ended_streams = s.max_ended_streams;
    let result_domain = ResultDomain {
        chain_id: s.deployment.chain_id,
        staking: s.deployment.staking,
    };
    let metrics = Arc::new(Metrics::new());
    let stats = Arc::new(StreamStats::with_capacity(
        broadcaster.max_streams_in_memory(),
    ));
    let (faults, claim_filer) = match s.claims_url {
        Some(public_url) => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let filer = ClaimFiler {
                chain: s.chain.clone(),
                deployment: s.deployment.clone(),
                fault_dir: fault_dir.clone(),
                public_url,
                metrics: Arc::clone(&metrics),
            };
            (Some(tx), Some(filer.spawn(rx)))
        }
        None => (None, None),
    };
    let ledger = Arc::new(Ledger::new(WinPolicy::default()));
    let win_watch = WinWatcher {
        chain: s.chain.clone(),
        broker: s.deployment.ticket_broker,
        me: s.me,
        ledger: Arc::clone(&ledger),
        reputation: Arc::clone(&reputation),
        metrics: Arc::clone(&metrics),
    }
    .spawn(Duration::from_secs(5));
    let ticket_domain = peerflow_protocol::TicketDomain {
        chain_id: s.deployment.chain_id,
        broker: s.deployment.ticket_broker,
    };
    let processor = NetworkProcessor::new(
        s.chain.clone(),
        Payer::new(
            s.key,
            s.me,
            ticket_domain,
            result_domain,
            s.limits,
            Arc::clone(&ledger),
        ),
        Arc::clone(&reputation),
        NetworkConfig {
            registry: s.deployment.service_registry,
            service: s.service,
            region: s.region,
            ladder: s.ladder,
            redundancy: s.redundancy,
            rediscover_every: Duration::from_secs(30),
            // Beside the recording: `recordings/<stream>/<seq>.result.json`.
            evidence_dir: Some(broadcaster.recordings_dir()),
            fault_dir: fault_dir.clone(),
            verify: s.verify,
            stream_ceilings: s.stream_ceilings,
        },
        faults,
        Arc::clone(&metrics),
        Arc::clone(&stats),
    );
    let (router, streams) = peerflow_broadcaster::try_router_and_streams(
        broadcaster,
        Arc::new(NetworkHandle(Arc::new(processor))),
    )?;
    let paywall = Arc::new(
        Paywall::new(
            PaywallConfig {
                recipient: s.me,
                data_dir: viewers_dir,
                ms_per_ticket: s.viewers.ms_per_ticket,
                credit_ms: s.viewers.credit_ms,
                win_prob: s.viewers.win_prob,
                grant_rounds: s.viewers.grant_rounds,
                deadline_secs: 600,
                lifetime_blocks: 20,
                grants_per_hour: peerflow_paywall::server::DEFAULT_GRANTS_PER_HOUR,
                relays_per_hour: peerflow_paywall::server::DEFAULT_RELAYS_PER_HOUR,
                gas: GasPolicy::default(),
            },
            s.chain.clone(),
            PaywallChain {
                chain_id: s.deployment.chain_id,
                broker: s.deployment.ticket_broker,
                token: s.deployment.work_token,
                support: s.deployment.stream_support,
                start_block: s.deployment.start_block,
                round_length: s.deployment.round_length,
                scan_from: s.deployment.scan_from(),
            },
            streams.clone(),
            Arc::clone(&metrics),
        )
        .await
        .context("opening the viewers' book")?,
    );
    streams.set_gate(paywall.clone());
    let paywall_routes = peerflow_paywall::http::routes(Arc::clone(&paywall));
    let paywall_task = tokio::spawn(paywall.run(Duration::from_secs(5)));
    let status = StatusApi {
        streams,
        stats,
        chain: s.chain.clone(),
        deployment: s.deployment.clone(),
        me: s.me,
        ledger: Arc::clone(&ledger),
        limits: s.limits,
        won: Default::default(),
    };
    let api = NetworkApi {
        metrics,
        fault_dir,
        sources: RecordSources {
            reputation: Arc::clone(&reputation),
            reputation_source: format!("sqlite:{}", reputation_path.display()),
            chain: s.chain.clone(),
            deployment: s.deployment.clone(),
        },
    };
    let router = router
        .merge(peerflow_chain::governance::routes(s.chain, s.deployment))
        .merge(network_routes(Arc::new(api)))
        .merge(status_routes(Arc::new(status)))
        .merge(paywall_routes);
    Ok(BroadcasterApp {
        router,
        reputation,
        claim_filer,
        ledger,
        win_watch,
        paywall: paywall_task,
    })
}

/// The ladder as the HTTP API names it.
pub fn ladder_specs(ladder: &[peerflow_media::Profile]) -> Vec<ProfileSpec> {
    ladder.iter().map(spec_of).collect()
}

pub async fn broadcaster(opts: &BroadcasterOpts, config: Option<&Path>) -> Result<()> {
    let b = layered(opts, config, "broadcaster")?;
    let Connected {
        me,
        key,
        chain,
        deployment,
    } = b.node.connect().await?;
    let policy = TopUp {
        minimum: U256::from(b.min_deposit.unwrap_or(10_000_000_000_000_000_000)),
        target: U256::from(b.deposit_target.unwrap_or(100_000_000_000_000_000_000)),
    };
    let token = TicketBroker::new(deployment.ticket_broker, &chain)
        .token()
        .call()
        .await?;
    let keeper = keep_topped_up(
        chain.clone(),
        deployment.ticket_broker,
        token,
        me,
        policy,
        Duration::from_secs(10),
    );
    let sample_rate = b.sample_rate.unwrap_or(VerifyPolicy::default().sample_rate);
    if !(0.0..=1.0).contains(&sample_rate) {
        anyhow::bail!("--sample-rate must be between 0 and 1, not {sample_rate}");
    }
    let max_live_streams = b
        .max_live_streams
        .unwrap_or(peerflow_broadcaster::DEFAULT_MAX_LIVE_STREAMS);
    if max_live_streams == 0 {
        anyhow::bail!("--max-live-streams must be at least 1");
    }
    let ladder = match &b.ladder {
        Some(l) => peerflow_media::Profile::parse_ladder(l)?,
        None => default_ladder(),
    };
    let listen = b
        .node
        .listen
        .unwrap_or_else(|| "127.0.0.1:8936".parse().expect("constant"));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let bound = listener.local_addr()?;
    let claims_url = match (b.file_claims.unwrap_or(true), &b.public_url) {
        (false, _) => None,
        (true, Some(url)) => Some(url.clone()),
        (true, None) => Some(format!("http://{bound}")),
    };
    let require_stream_keys = stream_keys_required(bound, b.require_stream_keys);
    if !require_stream_keys && !bound.ip().is_loopback() {
        tracing::warn!(%bound, "keyless pushes on a non-loopback address: whoever reaches it spends the deposit");
    }
    let data_dir = b
        .node
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("peerflow-broadcaster"));
    let app = broadcaster_app(BroadcasterSetup {
        chain,
        key,
        me,
        deployment,
        data_dir: data_dir.clone(),
        ladder,
        service: b.service.clone().unwrap_or_else(|| "transcode:h264".into()),
        region: b.region.clone(),
        redundancy: b.redundancy.unwrap_or(1),
        verify: VerifyPolicy {
            sample_rate,
            ..VerifyPolicy::default()
        },
        suspension: SuspensionPolicy::default(),
        claims_url,
        require_stream_keys,
        limits: b.payment_limits()?,
        stream_ceilings: b.stream_ceilings()?,
        max_live_streams,
        max_ended_streams: b
            .max_ended_streams
            .unwrap_or(peerflow_broadcaster::DEFAULT_MAX_ENDED_STREAMS),
        viewers: b.viewer_terms()?,
    })
    .await?;
    let admin_url = crate::broadcaster_keys::publish_admin_url(&data_dir, bound)?;
    let push = if require_stream_keys {
        "live/<key>/<stream>/<seq>.ts"
    } else {
        "live/<stream>/<seq>.ts (or live/<key>/<stream>/<seq>.ts)"
    };
    println!(
        "broadcaster {me}: page at http://{bound}/, push to http://{bound}/{push}, watch http://{bound}/live/<stream>/index.m3u8, record of an orchestrator at http://{bound}/v1/reputation/<address>; stream keys: peerflow broadcaster keys create --data-dir {} (admin API {admin_url}/v1/admin/keys)",
        data_dir.display()
    );
    axum::serve(listener, app.router)
        .with_graceful_shutdown(async {
            crate::shutdown::requested().await.ok();
        })
        .await?;
    keeper.abort();
    app.win_watch.abort();
    app.paywall.abort();
    Ok(())
}
