//! peerflow's compute runner: a provider runs buyers' jobs in Docker containers, meters them
//! from cgroups and prices them.
//!
//! - [`Engine`]: the local Docker daemon (images: load a `docker save` archive, build, save).
//! - [`Runner::run`]: one [`RunSpec`] in a locked-down container (CPU, memory, pids limits, no
//!   capabilities, no network unless asked, a timeout), inputs in, logs streamed, outputs out,
//!   the container removed afterwards. The result is a [`RunOutcome`].
//! - [`meter`]: [`Usage`] from the container's cgroups, sampled while it runs and completed
//!   from a per-job parent cgroup after it exits.
//! - [`pricing`]: per-resource [`Rates`] fitted by least squares to the network's reference
//!   price list of canonical workloads ([`pricing::CANONICAL_WORKLOADS`]).
//! - [`testimage`]: a busybox image built from scratch, for tests, benchmarks and the devnet.
//!
//! Needs a Docker daemon on the local unix socket (`DOCKER_HOST` or `/var/run/docker.sock`)
//! and, for metering, the host's `/sys/fs/cgroup` (cgroupfs layout, v1 or v2); it runs as
//! a user allowed to write there (root), since it removes each job's cgroups.

#![warn(missing_docs)]

mod archive;
pub mod cgroup;
mod engine;
mod error;
mod imageid;
pub mod linalg;
mod logs;
pub mod meter;
pub mod pricing;
mod run;
mod scratch;
mod spec;
pub mod testimage;

pub use archive::{OutputData, OutputFile};
pub use engine::{BuildContext, Engine, JOB_NETWORK};
pub use error::RunnerError;
pub use imageid::archive_image_id;
pub use logs::{DiscardLogs, LogLine, LogSink, LogStream};
pub use meter::{Usage, UsageSample};
pub use pricing::{Fit, Rates};
pub use run::{JOB_LABEL, RunOutcome, Runner};
pub use spec::{Input, InputSource, Limits, RunSpec};
