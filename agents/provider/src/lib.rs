//! The compute provider (`peerflow provider`): watches JobEscrow for jobs, takes those that fit its
//! resources and price, runs them ([`executor`]: containers through Docker, VOD transcodes with
//! rav1e), publishes the outputs as blobs, commits the result hash with a metered charge, and
//! finalizes jobs once they can be settled. Cooperative jobs ([`cooperative`]) join their peers
//! through the consensus relay of [`peerflow_dac`] first. Its progress per job lives in sqlite ([`store`]), so a
//! restart resumes every job it holds a slot in. [`http`] serves blobs, job status and logs, and
//! [`metrics`] (Prometheus); [`access`] decides who may upload and read blobs and logs (signed
//! requests only).

pub mod access;
pub mod agent;
pub mod container;
mod cooperative;
pub mod executor;
pub mod gpu_api;
pub mod http;
pub mod joblog;
pub mod metrics;
pub mod store;

pub use agent::{Agent, AgentError, ProviderConfig};
pub use executor::{ExecError, Execution, Executor, JobContext, NodeContext, VodExecutor};
pub use store::{JobPhase, JobRow, ProviderStore};
