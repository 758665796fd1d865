//! The wiring behind the `peerflow` binary: layered configuration, keys, each role, and the
//! embedded devnet (a whole network on one machine) that the main job and the end-to-end tests run.

pub mod broadcaster_keys;
pub mod buyer;
pub mod chain_access;
pub mod config;
pub mod demo;
pub mod devnet;
pub mod keys;
pub mod lease;
pub mod metrics_http;
pub mod provider;
pub mod roles;
pub mod shutdown;
pub mod trust;
pub mod wallet;
pub mod watch;
