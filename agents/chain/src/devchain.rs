//! A local anvil chain for the devnet and the tests, using the anvil binary the repo's toolchain
//! installs (`node_modules/@foundry-rs/anvil-<os>-<arch>/bin/anvil`) or `$PEERFLOW_ANVIL`.

use std::path::PathBuf;

use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;

/// Why a local chain could not be started.
#[derive(Debug, thiserror::Error)]
pub enum DevChainError {
    #[error("anvil not found at {0} (run ./script/test or npm ci, or set PEERFLOW_ANVIL)")]
    AnvilNotFound(PathBuf),
    #[error("anvil failed to start: {0}")]
    Spawn(#[from] alloy::node_bindings::NodeError),
}

/// A running anvil with its funded development accounts. Stops when dropped.
pub struct DevChain {
    anvil: AnvilInstance,
}

impl DevChain {
    /// Starts anvil on a free port.
    pub fn spawn() -> Result<Self, DevChainError> {
        let path = anvil_path();
        if !path.exists() {
            return Err(DevChainError::AnvilNotFound(path));
        }
        let anvil = Anvil::at(path).try_spawn()?;
        Ok(Self { anvil })
    }

    /// The HTTP RPC endpoint.
    pub fn endpoint(&self) -> String {
        self.anvil.endpoint()
    }

    pub fn chain_id(&self) -> u64 {
        self.anvil.chain_id()
    }

    /// Development account `index` (funded with ETH by anvil) as a signer.
    pub fn signer(&self, index: usize) -> PrivateKeySigner {
        PrivateKeySigner::from(self.anvil.keys()[index].clone())
    }

    /// The 32-byte secret key of development account `index`.
    pub fn secret_key(&self, index: usize) -> [u8; 32] {
        self.anvil.keys()[index].to_bytes().into()
    }

    pub fn address(&self, index: usize) -> Address {
        self.anvil.addresses()[index]
    }
}

/// `$PEERFLOW_ANVIL`, or the binary from the repo's pinned npm toolchain.
pub fn anvil_path() -> PathBuf {
    if let Some(path) = std::env::var_os("PEERFLOW_ANVIL") {
        return PathBuf::from(path);
    }
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    repo.join(format!(
        "node_modules/@foundry-rs/anvil-{}-{arch}/bin/anvil",
        std::env::consts::OS
    ))
}
