//! `peerflow juror` (a fault-claim committee member judging claims from their evidence) and
//! `peerflow reputation` (one orchestrator's or provider's whole record, with its sources).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Address;
use alloy::providers::Provider;
use anyhow::{Context, Result};
use peerflow_broadcaster::network::juror::{self, Juror, JurorLimits};
use peerflow_broadcaster::network::record::{Record, RecordSources, record_of};
use peerflow_broadcaster::network::reputation::{Reputation, SuspensionPolicy};
use peerflow_broadcaster::network::verification::VerifyPolicy;
use peerflow_chain::bindings::fault_claims::FaultClaims;
use peerflow_chain::logscan::Cursors;
use peerflow_protocol::metrics::Metrics;

use crate::roles::NodeOpts;

/// Options of `peerflow juror`.
#[derive(Debug, Clone, clap::Args)]
pub struct JurorOpts {
    #[command(flatten)]
    pub node: NodeOpts,
    /// Judge claims filed from this block on (default: where this juror left off, kept in
    /// `<data-dir>/juror.sqlite`; the first time, the current block).
    #[arg(long)]
    pub from_block: Option<u64>,
    /// Seconds between looks at the chain.
    #[arg(long, default_value_t = 2.0)]
    pub poll_secs: f64,
    /// Serve Prometheus metrics (`GET /metrics`) on this address (default: not served).
    #[arg(long, env = "PEERFLOW_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Fetch claim evidence from private, loopback and link-local addresses too (a local
    /// devnet); by default such evidence URLs are voted down.
    #[arg(long)]
    pub allow_private_evidence: bool,
}

/// Runs a juror until Ctrl-C. Refuses to start for an account that is not on the current committee
/// (a member of an earlier term is told so; the claims of its term are decided by that term).
pub async fn juror(opts: &JurorOpts) -> Result<()> {
    let c = opts.node.connect().await?;
    let member = FaultClaims::new(c.deployment.fault_claims, &c.chain)
        .isMember(c.me)
        .call()
        .await
        .context("reading the committee")?;
    if !member {
        anyhow::bail!(
            "{} is not on the current fault-claim committee of {} (token holders elect it: `peerflow gov propose --add-committee-member`)",
            c.me,
            c.deployment.fault_claims
        );
    }
    let data_dir = opts
        .node
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("peerflow-juror"));
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let cursors = Cursors::open(&data_dir.join("juror.sqlite"))?;
    let from = match (opts.from_block, cursors.get(juror::CURSOR)?) {
        (Some(b), _) | (None, Some(b)) => b,
        (None, None) => c.chain.get_block_number().await?,
    };
    let metrics = Arc::new(Metrics::new());
    let _metrics = match opts.metrics_listen {
        Some(listen) => {
            Some(crate::metrics_http::serve("juror", listen, Arc::clone(&metrics)).await?)
        }
        None => None,
    };
    println!(
        "juror {}: judging fault claims filed from block {from} on (FaultClaims {})",
        c.me, c.deployment.fault_claims
    );
    let limits = JurorLimits {
        allow_private: opts.allow_private_evidence,
        ..JurorLimits::default()
    };
    let handle = Juror::new(
        c.chain,
        c.deployment,
        c.me,
        VerifyPolicy::default(),
        limits,
        metrics,
    )
    .with_cursor(cursors)
    .spawn(from, Duration::from_secs_f64(opts.poll_secs.max(0.1)));
    crate::shutdown::requested().await.ok();
    handle.abort();
    Ok(())
}

/// Options of `peerflow reputation`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReputationOpts {
    /// The orchestrator's or compute provider's address.
    pub address: Address,
    /// Chain RPC endpoint(s), http:// or https://, comma-separated (default: the --network's,
    /// else http://127.0.0.1:8545).
    #[arg(long, env = "PEERFLOW_RPC_URL")]
    pub rpc_url: Option<String>,
    /// Deployment file (addresses of the contract suite; default with --network:
    /// deployments/<chain-id>.json).
    #[arg(long, env = "PEERFLOW_DEPLOYMENT")]
    pub deployment: Option<PathBuf>,
    #[command(flatten)]
    pub net: crate::chain_access::NetworkArgs,
    /// A broadcaster's reputation store (`<broadcaster data dir>/reputation.sqlite`), for its
    /// scores; without it only the on-chain record is shown.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Print the record as JSON (the same document as `GET /v1/reputation/{address}`).
    #[arg(long)]
    pub json: bool,
}

/// Prints one record.
pub async fn reputation(opts: &ReputationOpts) -> Result<()> {
    let access = opts
        .net
        .connect(opts.rpc_url.as_deref(), opts.deployment.as_deref(), None)
        .await?;
    let (chain, deployment) = (access.chain, access.deployment);
    let (store, source) = match &opts.db {
        Some(path) => {
            if !path.is_file() {
                anyhow::bail!("--db {}: no such reputation store", path.display());
            }
            (
                Reputation::open(path, SuspensionPolicy::default())?,
                format!("sqlite:{}", path.display()),
            )
        }
        None => (
            Reputation::in_memory(SuspensionPolicy::default())?,
            "none (pass --db <broadcaster data dir>/reputation.sqlite)".into(),
        ),
    };
    let sources = RecordSources {
        reputation: Arc::new(store),
        reputation_source: source,
        chain,
        deployment,
    };
    let record = record_of(&sources, opts.address).await?;
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&record)?);
    } else {
        print!("{}", human(&record));
    }
    Ok(())
}

/// The record as lines for a terminal.
pub fn human(r: &Record) -> String {
    let mut out = format!("record of {}\n", r.address);
    out += &format!("  broadcaster scores ({}):\n", r.broadcaster.source);
    match &r.broadcaster.value {
        Some(s) => {
            out += &format!(
                "    {} attempts, {} succeeded, {} failed, {} verification faults (last: {}); success rate {:.3}\n",
                s.attempts,
                s.successes,
                s.failures,
                s.faults,
                s.last_fault.as_deref().unwrap_or("none"),
                s.success_rate()
            );
            out += &format!(
                "    latency EWMA {}; suspended until {}\n",
                s.latency_ewma_ms
                    .map_or("not measured".into(), |ms| format!("{ms:.0} ms")),
                if s.suspended_until_ms == 0 {
                    "never".to_owned()
                } else {
                    format!("unix ms {}", s.suspended_until_ms)
                }
            );
        }
        None => out += "    never used\n",
    }
    let st = &r.staking.value;
    out += &format!("  staking ({}):\n", r.staking.source);
    out += &format!(
        "    registered {}, active this round {}, stake {} FLOW, reward cut {} ppm, fee share {} ppm\n",
        st.registered,
        st.active_this_round,
        alloy::primitives::utils::format_ether(st.stake),
        st.reward_cut_ppm,
        st.fee_share_ppm
    );
    let c = &r.fault_claims.value;
    out += &format!("  fault claims ({}):\n", r.fault_claims.source);
    out += &format!(
        "    {} upheld, {} rejected, {} open, {} expired\n",
        c.upheld, c.rejected, c.open, c.expired
    );
    let e = &r.escrow.value;
    out += &format!("  compute jobs ({}):\n", r.escrow.source);
    out += &format!("    {} completed, {} failed\n", e.completed, e.failed);
    out
}
