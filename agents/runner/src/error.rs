//! The runner's error type.

use std::path::PathBuf;

/// Everything that can go wrong while talking to Docker, running a job, metering it or pricing.
///
/// A job that exits non-zero, times out or is OOM-killed is *not* an error: that is reported in
/// [`crate::RunOutcome`].
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// No Docker daemon answered at the configured address (`DOCKER_HOST` or the default socket).
    #[error(
        "no Docker daemon answers at {address}: {source} (start dockerd, or set DOCKER_HOST to its unix socket)"
    )]
    NoDaemon {
        /// Where we looked for the daemon.
        address: String,
        /// What the client reported.
        #[source]
        source: bollard::errors::Error,
    },
    /// A Docker API call failed.
    #[error("docker {op}: {source}")]
    Docker {
        /// The operation that failed, e.g. `create container`.
        op: &'static str,
        /// The client's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// Building or loading an image failed with a message from the daemon.
    #[error("image {op}: {message}")]
    Image {
        /// `build` or `load`.
        op: &'static str,
        /// The daemon's message.
        message: String,
    },
    /// The job asked for GPUs but this host has no NVIDIA runtime or device.
    #[error(
        "the job asks for {requested} GPU(s) but this host has none (no /dev/nvidia0 and no nvidia runtime in dockerd)"
    )]
    NoGpu {
        /// GPUs requested.
        requested: u16,
    },
    /// The [`crate::RunSpec`] is not acceptable.
    #[error("invalid run spec: {0}")]
    InvalidSpec(String),
    /// The job's outputs break the rules (absolute or `..` paths, too large).
    #[error("job outputs rejected: {0}")]
    BadOutputs(String),
    /// Reading or writing a local file or cgroup failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Packing or unpacking a tar archive failed.
    #[error("tar {op}: {source}")]
    Tar {
        /// What was being done.
        op: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The cgroup files of a job could not be found or parsed.
    #[error("cgroup: {0}")]
    Cgroup(String),
    /// The job was cancelled by the caller.
    #[error("the job was cancelled")]
    Cancelled,
    /// Calibration could not produce rates.
    #[error("calibration: {0}")]
    Calibration(String),
}

impl RunnerError {
    /// Wraps a bollard error with the operation that failed.
    pub(crate) fn docker(op: &'static str) -> impl FnOnce(bollard::errors::Error) -> RunnerError {
        move |source| RunnerError::Docker { op, source }
    }

    /// Wraps an I/O error with the path involved.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> RunnerError {
        let path = path.into();
        move |source| RunnerError::Io { path, source }
    }
}
