//! How every role and command reaches the chain: `--network NAME` (chain id, public RPC URLs,
//! `deployments/<chain-id>.json`), `--rpc-url` (one URL or a comma-separated list, tried in order),
//! `--rpc-ca-cert` (extra CAs for https), `--deployment`. The deployment is checked against the
//! chain behind the RPC (chain id and contract code) before anything is read or sent.

use std::path::{Path, PathBuf};

use alloy::providers::DynProvider;
use alloy::signers::local::PrivateKeySigner;
use anyhow::Result;
use peerflow_chain::Deployment;
use peerflow_chain::network::{Target, verify_deployment};
use peerflow_chain::rpc::RpcOptions;
use peerflow_chain::send::SendPolicy;
use serde::{Deserialize, Serialize};

/// The network flags every chain-connected role and command takes beside `--rpc-url` and
/// `--deployment`.
#[derive(Debug, Clone, Default, clap::Args, Serialize, Deserialize)]
pub struct NetworkArgs {
    /// Network by name (devnet, arbitrum-one, arbitrum-sepolia, base, base-sepolia, optimism,
    /// sepolia, ethereum): its public RPC URLs unless --rpc-url is given, and
    /// <deployments-dir>/<chain-id>.json unless --deployment is given.
    #[arg(long, env = "PEERFLOW_NETWORK")]
    pub network: Option<String>,
    /// A CA certificate (PEM) to trust for https RPC URLs, beside the system's roots and
    /// SSL_CERT_FILE's (repeatable).
    #[arg(long, env = "PEERFLOW_RPC_CA_CERT")]
    pub rpc_ca_cert: Option<Vec<PathBuf>>,
    /// Where --network finds deployment files (default: deployments).
    #[arg(long, env = "PEERFLOW_DEPLOYMENTS_DIR")]
    pub deployments_dir: Option<PathBuf>,
    /// The most this process pays per gas, in gwei (default: no ceiling). A transaction that would
    /// need more to be mined waits (redemptions are deferred, rewards tried again).
    #[arg(long, env = "PEERFLOW_MAX_FEE_GWEI")]
    pub max_fee_gwei: Option<f64>,
    /// Seconds a sent transaction may wait unmined before it is replaced with higher fees
    /// (default 60).
    #[arg(long, env = "PEERFLOW_STUCK_AFTER_SECS")]
    pub stuck_after_secs: Option<u64>,
    /// Blocks deep a transaction must be before it counts: redemptions, escrow actions and
    /// commands wait for it, and one a reorg took out is sent again (default 3; 1 on a local
    /// chain, chain id 31337, whose blocks may come only with transactions).
    #[arg(long, env = "PEERFLOW_CONFIRMATIONS")]
    pub confirmations: Option<u64>,
}

/// Chain id of anvil and other local development chains.
const LOCAL_CHAIN_ID: u64 = 31337;

/// A checked connection: the provider, the deployment it serves, and how it was reached.
pub struct Access {
    pub chain: DynProvider,
    pub deployment: Deployment,
    pub rpc: RpcOptions,
}

impl NetworkArgs {
    /// Resolves the flags, connects (signing with `signer` if given) and checks the deployment
    /// against the chain.
    pub async fn connect(
        &self,
        rpc_url: Option<&str>,
        deployment: Option<&Path>,
        signer: Option<PrivateKeySigner>,
    ) -> Result<Access> {
        let mut policy = SendPolicy::default();
        if let Some(gwei) = self.max_fee_gwei {
            anyhow::ensure!(gwei > 0.0, "--max-fee-gwei must be above 0");
            policy.max_fee_per_gas = Some((gwei * 1e9) as u128);
        }
        if let Some(secs) = self.stuck_after_secs {
            policy.stuck_after = std::time::Duration::from_secs(secs.max(1));
        }
        let resolved = Target {
            network: self.network.clone(),
            rpc_urls: rpc_url.map(|u| vec![u.to_string()]).unwrap_or_default(),
            ca_certs: self.rpc_ca_cert.clone().unwrap_or_default(),
            deployment: deployment.map(Path::to_path_buf),
            deployments_dir: self.deployments_dir.clone(),
        }
        .resolve()?;
        policy.confirmations = match self.confirmations {
            Some(n) => n.max(1),
            None if resolved.deployment.chain_id == LOCAL_CHAIN_ID => 1,
            None => 3,
        };
        peerflow_chain::send::set_policy(policy);
        let chain = match signer {
            Some(signer) => resolved.rpc.wallet_provider(signer)?,
            None => resolved.rpc.provider()?,
        };
        verify_deployment(&chain, &resolved.deployment, &resolved.deployment_path).await?;
        Ok(Access {
            chain,
            deployment: resolved.deployment,
            rpc: resolved.rpc,
        })
    }
}
