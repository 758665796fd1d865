//! The compute marketplace's shared vocabulary, used by buyers (`peerflow compute`, `peerflow vod`)
//! and providers (`peerflow provider`):
//! - [`spec`]: what a job runs, hashed into the escrow as its `specHash`;
//! - [`blob`]: content-addressed storage of inputs, images, specs and outputs, on disk and over HTTP;
//! - [`manifest`]: a result (hashed into `commitResult`) and the usage record behind a charge;
//! - [`escrow`]: the JobEscrow client;
//! - [`progress`]: a cooperative job's consensus progress, as its providers report it.

pub mod blob;
pub mod buyer;
pub mod digest;
pub mod escrow;
pub mod manifest;
pub mod progress;
pub mod spec;

pub use blob::{BlobClient, BlobError, BlobStore};
pub use digest::Digest;
pub use escrow::{Escrow, EscrowError};
pub use manifest::{ManifestFile, ResultManifest, UsageRecord};
pub use spec::{
    BlobRef, Cooperative, ImageSpec, InputFile, JobSpec, Resources, SpecError, Topology,
    TopologyKind, Workload,
};
