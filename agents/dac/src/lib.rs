//! Distributed average consensus (DAC) for peerflow's cooperative jobs: see the crate's README.
//!
//! - [`topology`]: the peer graph over the alive nodes, its weights and convergence rate;
//! - [`session`]: one node's engine (average, agree) with drop-out handling;
//! - [`message`]: what nodes send each other, signed by their providers;
//! - [`relay`]: the sessions a provider hosts, the signed relay between providers, the peer routes;
//! - [`local`]: the HTTP API a container calls over its Unix socket;
//! - [`loopback`]: a job's nodes in one process, for tests and benchmarks.

pub mod local;
pub mod loopback;
pub mod message;
pub mod relay;
pub mod session;
pub mod topology;

pub use relay::Relay;
pub use session::{Agreed, DacError, Outcome, Peer, Session, SessionConfig, Stats};
pub use topology::{Graph, Topology, TopologyKind};
