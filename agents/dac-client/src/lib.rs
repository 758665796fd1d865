//! Client of peerflow's distributed average consensus (DAC), used from inside the containers of
//! a cooperative job (DAC-API.md). Each of the job's N containers talks to its own provider over
//! the Unix socket `PF_DAC_SOCKET` (default `/run/peerflow/dac.sock`); the providers run the
//! consensus between themselves. Calls are SPMD: every node makes the same sequence of calls,
//! with vectors of the same lengths, and each call blocks until the consensus answers.
//!
//! - [`Client::average`]: the average over the alive nodes (the primitive); [`Client::agree`]:
//!   rounding every honest node agrees on, for the values written out.
//! - [`Client::sum`], [`Client::dot`], [`Client::matvec`], [`Client::mean_rows`],
//!   [`Client::lstsq`]: built on the average; each returns its value and the residual bound it
//!   reached (a bound on its distance to the single-machine value over every alive node's data).
//! - [`http`]: the blocking HTTP/1.1 client over the socket (std only), and the [`Transport`]
//!   trait that tests fake.
//! - `image` (feature `image`): a `FROM scratch` job image around a host binary.
//!
//! The `dac-job` binary of this crate is a ready-made cooperative job: column means or least
//! squares over CSV shards.

#![warn(missing_docs)]

mod client;
mod error;
pub mod http;
#[cfg(feature = "image")]
pub mod image;
pub mod linalg;
mod ops;

pub use client::{
    Agreed, Client, DEFAULT_SOCKET, NodeInfo, Outcome, SOCKET_ENV, Scalar, TIMEOUT_ENV, Topology,
};
pub use error::{Error, Result};
pub use http::{Transport, UnixTransport};
pub use ops::Solution;
