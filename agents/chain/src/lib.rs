//! peerflow's chain access: typed bindings to the contract suite (generated at compile time from the
//! ABIs in `abi/`, so a drifting ABI fails the build), deployment of the whole suite from the same
//! bytecode, the deployment file, and a local anvil for the devnet and the tests.

pub mod actions;
pub mod amount;
pub mod bindings;
pub mod claims;
pub mod deploy;
pub mod devchain;
pub mod head;
pub mod logscan;
pub mod network;
pub mod nonce;
pub mod refusal;
pub mod rpc;
pub mod stake_view;

pub use deploy::{Deployment, SuiteParams, deploy_suite};
pub use devchain::{DevChain, DevChainError, DevChainOptions};

/// Errors from chain calls made by this crate.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("contract call failed: {0}")]
    Contract(#[from] alloy::contract::Error),
    #[error("transaction failed: {0}")]
    PendingTransaction(#[from] alloy::providers::PendingTransactionError),
    #[error("transaction {0} reverted")]
    Reverted(alloy::primitives::TxHash),
    #[error("deployment file: {0}")]
    DeploymentFile(String),
    #[error("invalid parameters: {0}")]
    Parameters(String),
    /// A call the contract refused, with its custom error decoded (e.g. `NotBroadcaster { .. }`).
    #[error("{contract} refused the call: {reason}")]
    Refused {
        contract: &'static str,
        reason: String,
    },
    #[error("the receipt has no {0} event")]
    MissingEvent(&'static str),
    #[error(transparent)]
    Scan(#[from] logscan::ScanError),
}
