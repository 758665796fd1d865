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
    #[error("writing anvil's genesis file: {0}")]
    Genesis(std::io::Error),
    #[error("making anvil's home directory: {0}")]
    Home(std::io::Error),
}

/// A running anvil with its funded development accounts. Stops when dropped, and leaves nothing
/// behind: anvil spills old block states to `$HOME/.foundry/anvil/tmp` and never removes them (a
/// test suite left tens of gigabytes there), so each chain gets a home directory of its own, removed
/// after anvil has stopped.
pub struct DevChain {
    // Fields drop in order: anvil stops (SIGTERM, then SIGKILL) before its home is removed.
    anvil: AnvilInstance,
    _home: tempfile::TempDir,
    /// The genesis file written for `genesis_block`, removed on drop.
    genesis: Option<PathBuf>,
}

impl Drop for DevChain {
    fn drop(&mut self) {
        if let Some(path) = &self.genesis {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// How to run the local chain.
#[derive(Debug, Clone, Default)]
pub struct DevChainOptions {
    /// Mine a block every this many seconds (default: only when a transaction arrives).
    pub block_time: Option<u64>,
    /// Load the chain from this file if it exists and save it there on exit (`anvil --state`).
    pub state: Option<PathBuf>,
    pub port: Option<u16>,
    /// Funded development accounts (`anvil --accounts`, default 10).
    pub accounts: Option<usize>,
    /// Address to listen on (`anvil --host`, default 127.0.0.1), e.g. `0.0.0.0` to serve other
    /// hosts or network namespaces.
    pub host: Option<String>,
    /// Start the chain at this block number (a genesis block numbered so), as if that much history
    /// came before: event scans then face a long chain without mining it block by block.
    pub genesis_block: Option<u64>,
}

impl DevChain {
    /// Starts anvil on a free port, mining on demand.
    pub fn spawn() -> Result<Self, DevChainError> {
        Self::spawn_with(&DevChainOptions::default())
    }

    pub fn spawn_with(options: &DevChainOptions) -> Result<Self, DevChainError> {
        let path = anvil_path();
        if !path.exists() {
            return Err(DevChainError::AnvilNotFound(path));
        }
        let home = tempfile::Builder::new()
            .prefix("peerflow-anvil-")
            .tempdir()
            .map_err(DevChainError::Home)?;
        let mut anvil = Anvil::at(path).env("HOME", home.path());
        if let Some(seconds) = options.block_time {
            anvil = anvil.block_time(seconds);
        }
        if let Some(state) = &options.state {
            anvil = anvil.arg("--state").arg(state);
        }
        if let Some(port) = options.port {
            anvil = anvil.port(port);
        }
        if let Some(accounts) = options.accounts {
            anvil = anvil.arg("--accounts").arg(accounts.to_string());
        }
        if let Some(host) = &options.host {
            anvil = anvil.arg("--host").arg(host);
        }
        let genesis = match options.genesis_block {
            Some(number) => {
                static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let path = std::env::temp_dir()
                    .join(format!("peerflow-genesis-{}-{n}.json", std::process::id()));
                // Stamped now, as a chain with that history would be (a timestamp of 0 keeps the
                // next blocks' timestamps near 0, where the timelock reads 1 as "done").
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let genesis = format!(
                    r#"{{"config":{{"chainId":31337}},"number":"{number:#x}","timestamp":"{now:#x}","gasLimit":"0x1c9c380","difficulty":"0x0","alloc":{{}}}}"#
                );
                std::fs::write(&path, genesis).map_err(DevChainError::Genesis)?;
                anvil = anvil.arg("--init").arg(&path);
                Some(path)
            }
            None => None,
        };
        Ok(Self {
            anvil: anvil.try_spawn()?,
            _home: home,
            genesis,
        })
    }

    /// Anvil's home directory (where it spills old block states), removed once the chain stops.
    pub fn home(&self) -> &std::path::Path {
        self._home.path()
    }

    /// The port anvil listens on.
    pub fn port(&self) -> u16 {
        self.anvil.port()
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

    /// The anvil process's id (tests stop and continue it to stand in for an RPC outage).
    pub fn pid(&self) -> u32 {
        self.anvil.child().id()
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
