//! peerflow's chain access: typed bindings to the contract suite (generated at compile time from the
//! ABIs in `abi/`, so a drifting ABI fails the build), deployment of the whole suite from the same
//! bytecode, the deployment file, and a local anvil for the devnet and the tests.

pub mod actions;
pub mod amount;
pub mod bindings;
pub mod claims;
pub mod deploy;
pub mod devchain;
pub mod governance;
pub mod head;
pub mod logscan;
pub mod network;
pub mod nonce;
pub mod refusal;
pub mod rpc;
pub mod send;
pub mod stake_view;

pub use deploy::{Deployment, SuiteParams, deploy_suite};
pub use devchain::{DevChain, DevChainError, DevChainOptions};

/// What a send would have paid, and the ceiling that stopped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeCeiling {
    pub needed: u128,
    pub ceiling: u128,
}

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
    /// A transaction still unmined after every replacement the send policy allows.
    #[error("transaction {0} still not mined after every fee bump allowed")]
    Stuck(alloy::primitives::TxHash),
    /// Getting mined now would take more than the operator's fee ceiling.
    #[error(
        "gas needs {} wei per gas, above the ceiling of {} (--max-fee-gwei)",
        .0.needed,
        .0.ceiling
    )]
    GasAboveCeiling(Box<FeeCeiling>),
}
