//! Networks an operator can name (`--network NAME`: a chain id, public RPC URLs, and the deployment
//! file `deployments/<chain-id>.json` the deploy script writes), and the check every role and
//! command makes before acting: the deployment file belongs to the chain behind the RPC (same chain
//! id, and the suite's code at each address).

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, Bytes};
use alloy::providers::Provider;

use crate::Deployment;
use crate::bindings::{
    fault_claims::FaultClaims, governor::PeerflowGovernor, job_escrow::JobEscrow, minter::Minter,
    service_registry::ServiceRegistry, staking::Staking, ticket_broker::TicketBroker,
    timelock::PeerflowTimelock, vote_power::VotePower, work_token::WorkToken,
};
use crate::rpc::RpcOptions;

/// A network by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    pub name: &'static str,
    pub chain_id: u64,
    /// Public endpoints, used when no `--rpc-url` is given (an operator's own provider is better).
    pub rpc_urls: &'static [&'static str],
}

/// The networks `--network` knows.
pub const NETWORKS: &[Network] = &[
    Network {
        name: "devnet",
        chain_id: 31337,
        rpc_urls: &["http://127.0.0.1:8545"],
    },
    Network {
        name: "arbitrum-one",
        chain_id: 42161,
        rpc_urls: &["https://arb1.arbitrum.io/rpc"],
    },
    Network {
        name: "arbitrum-sepolia",
        chain_id: 421614,
        rpc_urls: &["https://sepolia-rollup.arbitrum.io/rpc"],
    },
    Network {
        name: "base",
        chain_id: 8453,
        rpc_urls: &["https://mainnet.base.org"],
    },
    Network {
        name: "base-sepolia",
        chain_id: 84532,
        rpc_urls: &["https://sepolia.base.org"],
    },
    Network {
        name: "optimism",
        chain_id: 10,
        rpc_urls: &["https://mainnet.optimism.io"],
    },
    Network {
        name: "sepolia",
        chain_id: 11155111,
        rpc_urls: &["https://ethereum-sepolia-rpc.publicnode.com"],
    },
    Network {
        name: "ethereum",
        chain_id: 1,
        rpc_urls: &["https://ethereum-rpc.publicnode.com"],
    },
];

/// Why a network, its deployment or its RPC cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("unknown network {name:?} (known: {known})")]
    Unknown { name: String, known: String },
    #[error("--deployment FILE or --network NAME is required")]
    NoDeployment,
    #[error(transparent)]
    Rpc(#[from] crate::rpc::RpcError),
    #[error(transparent)]
    File(#[from] crate::ChainError),
    #[error(
        "deployment file {file} is for chain {file_chain} but the RPC serves chain {rpc_chain}: wrong --rpc-url or deployment file"
    )]
    ChainId {
        file: String,
        file_chain: u64,
        rpc_chain: u64,
    },
    #[error(
        "deployment file {file} is for chain {file_chain} but --network {network} is chain {network_chain}"
    )]
    NetworkChainId {
        file: String,
        file_chain: u64,
        network: &'static str,
        network_chain: u64,
    },
    #[error(
        "deployment file {file}: no contract at {contract} {address} on chain {chain}: the suite is not deployed there (wrong file or RPC?)"
    )]
    NoCode {
        file: String,
        contract: &'static str,
        address: Address,
        chain: u64,
    },
    #[error(
        "deployment file {file}: the code at {contract} {address} is not peerflow's {contract} (another contract or another version): refusing to use it"
    )]
    CodeMismatch {
        file: String,
        contract: &'static str,
        address: Address,
    },
    #[error("reading the chain through the RPC: {0}")]
    Read(String),
}

/// The network called `name`.
pub fn by_name(name: &str) -> Result<&'static Network, NetworkError> {
    NETWORKS
        .iter()
        .find(|n| n.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| NetworkError::Unknown {
            name: name.into(),
            known: NETWORKS
                .iter()
                .map(|n| n.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Where the deploy script writes a chain's deployment: `<dir>/<chain-id>.json`.
pub fn deployment_file(dir: &Path, chain_id: u64) -> PathBuf {
    dir.join(format!("{chain_id}.json"))
}

/// What an operator gave: a network name, RPC URLs, extra CAs, a deployment file.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub network: Option<String>,
    pub rpc_urls: Vec<String>,
    pub ca_certs: Vec<PathBuf>,
    pub deployment: Option<PathBuf>,
    /// Where `--network` looks for `<chain-id>.json` (default `deployments`).
    pub deployments_dir: Option<PathBuf>,
}

/// A target resolved: how to reach the chain and which deployment to use there.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub rpc: RpcOptions,
    pub deployment_path: PathBuf,
    pub deployment: Deployment,
    pub network: Option<&'static Network>,
}

impl Target {
    /// Picks the RPC URLs (given ones first, else the network's, else the local devnet's) and
    /// loads the deployment file (given, else the network's `<chain-id>.json`).
    pub fn resolve(&self) -> Result<Resolved, NetworkError> {
        let network = self.network.as_deref().map(by_name).transpose()?;
        let urls: Vec<String> = if !self.rpc_urls.is_empty() {
            self.rpc_urls.clone()
        } else if let Some(n) = network {
            n.rpc_urls.iter().map(|u| u.to_string()).collect()
        } else {
            vec!["http://127.0.0.1:8545".into()]
        };
        let deployment_path = match (&self.deployment, network) {
            (Some(path), _) => path.clone(),
            (None, Some(n)) => deployment_file(
                self.deployments_dir
                    .as_deref()
                    .unwrap_or(Path::new("deployments")),
                n.chain_id,
            ),
            (None, None) => return Err(NetworkError::NoDeployment),
        };
        let deployment = Deployment::load(&deployment_path)?;
        if let Some(n) = network
            && n.chain_id != deployment.chain_id
        {
            return Err(NetworkError::NetworkChainId {
                file: deployment_path.display().to_string(),
                file_chain: deployment.chain_id,
                network: n.name,
                network_chain: n.chain_id,
            });
        }
        Ok(Resolved {
            rpc: RpcOptions::new(urls).with_ca_certs(self.ca_certs.iter().cloned()),
            deployment_path,
            deployment,
            network,
        })
    }
}

/// Fails unless the chain behind `provider` is the deployment's: the same chain id, and at each
/// address of the suite the code of peerflow's contract (immutables aside).
pub async fn verify_deployment<P: Provider>(
    provider: &P,
    d: &Deployment,
    file: &Path,
) -> Result<(), NetworkError> {
    let file = file.display().to_string();
    let chain = provider
        .get_chain_id()
        .await
        .map_err(|e| NetworkError::Read(e.to_string()))?;
    if chain != d.chain_id {
        return Err(NetworkError::ChainId {
            file,
            file_chain: d.chain_id,
            rpc_chain: chain,
        });
    }
    let mut suite: Vec<(&'static str, Address, &Bytes)> = vec![
        ("WorkToken", d.work_token, &WorkToken::DEPLOYED_BYTECODE),
        ("Staking", d.staking, &Staking::DEPLOYED_BYTECODE),
        ("Minter", d.minter, &Minter::DEPLOYED_BYTECODE),
        (
            "TicketBroker",
            d.ticket_broker,
            &TicketBroker::DEPLOYED_BYTECODE,
        ),
        (
            "ServiceRegistry",
            d.service_registry,
            &ServiceRegistry::DEPLOYED_BYTECODE,
        ),
        ("JobEscrow", d.job_escrow, &JobEscrow::DEPLOYED_BYTECODE),
        (
            "FaultClaims",
            d.fault_claims,
            &FaultClaims::DEPLOYED_BYTECODE,
        ),
    ];
    // Deployments written before governance existed have no governor.
    if !d.governor.is_zero() {
        suite.extend([
            (
                "PeerflowGovernor",
                d.governor,
                &PeerflowGovernor::DEPLOYED_BYTECODE,
            ),
            (
                "PeerflowTimelock",
                d.timelock,
                &PeerflowTimelock::DEPLOYED_BYTECODE,
            ),
            ("VotePower", d.vote_power, &VotePower::DEPLOYED_BYTECODE),
        ]);
    }
    for (contract, address, expected) in suite {
        let code = provider
            .get_code_at(address)
            .await
            .map_err(|e| NetworkError::Read(e.to_string()))?;
        if code.is_empty() {
            return Err(NetworkError::NoCode {
                file,
                contract,
                address,
                chain,
            });
        }
        if !same_code(expected, &code) {
            return Err(NetworkError::CodeMismatch {
                file,
                contract,
                address,
            });
        }
    }
    Ok(())
}

/// Whether `deployed` is `artifact` with its immutables filled in. The compiler leaves each
/// immutable as `PUSH32 0x00…00` in the artifact and writes the value at deployment, so those 32
/// bytes may differ; every other byte must match.
pub fn same_code(artifact: &[u8], deployed: &[u8]) -> bool {
    const PUSH1: u8 = 0x60;
    const PUSH32: u8 = 0x7f;
    if artifact.len() != deployed.len() {
        return false;
    }
    let mut i = 0;
    while i < artifact.len() {
        let op = artifact[i];
        if op != deployed[i] {
            return false;
        }
        if (PUSH1..=PUSH32).contains(&op) {
            let n = (op - PUSH1 + 1) as usize;
            let end = (i + 1 + n).min(artifact.len());
            let data = &artifact[i + 1..end];
            let immutable = op == PUSH32 && data.iter().all(|b| *b == 0);
            if !immutable && data != &deployed[i + 1..end] {
                return false;
            }
            i = end;
        } else {
            i += 1;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_immutable_slots_may_differ() {
        // PUSH1 0x80, PUSH32 <immutable>, ADD
        let mut artifact = vec![0x60, 0x80, 0x7f];
        artifact.extend([0u8; 32]);
        artifact.push(0x01);
        let mut deployed = artifact.clone();
        deployed[3..35].copy_from_slice(&[0xab; 32]);
        assert!(same_code(&artifact, &deployed));
        let mut changed = deployed.clone();
        changed[1] = 0x81;
        assert!(!same_code(&artifact, &changed), "a non-immutable operand");
        let mut changed = deployed.clone();
        changed[35] = 0x02;
        assert!(!same_code(&artifact, &changed), "an opcode");
        assert!(!same_code(&artifact, &deployed[..30]), "a length");
        // A PUSH32 whose artifact data is not all zeros is code, not an immutable.
        let mut artifact2 = artifact.clone();
        artifact2[10] = 1;
        assert!(!same_code(&artifact2, &deployed));
    }

    #[test]
    fn networks_resolve_to_their_deployment_file() {
        let dir = tempfile::tempdir().unwrap();
        let t = Target {
            network: Some("arbitrum-sepolia".into()),
            deployments_dir: Some(dir.path().into()),
            ..Target::default()
        };
        let err = t.resolve().unwrap_err();
        assert!(err.to_string().contains("421614.json"), "{err}");
        assert!(matches!(
            Target {
                network: Some("nope".into()),
                ..Target::default()
            }
            .resolve(),
            Err(NetworkError::Unknown { .. })
        ));
        assert!(matches!(
            Target::default().resolve(),
            Err(NetworkError::NoDeployment)
        ));
    }
}
