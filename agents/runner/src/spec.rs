//! What a job is: image, command, inputs, limits.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::RunnerError;

/// A file placed in the container before the job starts.
#[derive(Debug, Clone)]
pub struct Input {
    /// Absolute path inside the container, e.g. `/in/data.csv`.
    pub container_path: String,
    /// Its content.
    pub source: InputSource,
}

/// Where an input's bytes come from.
#[derive(Debug, Clone)]
pub enum InputSource {
    /// Bytes held in memory.
    Bytes(Vec<u8>),
    /// A regular file on the host.
    HostFile(PathBuf),
}

/// Resource limits enforced on the container.
///
/// Disk: with overlay2 on ext4 (as here) Docker's `storage-opt size` needs an xfs backing
/// filesystem with project quotas, so a writable layer cannot be bounded. With
/// [`Limits::disk_bytes`] the job gets none: its root filesystem is read-only and `/tmp`, the
/// output directory and its in-memory inputs live on a tmpfs of that size (see the crate's
/// `scratch` module), so writing past it fails with `ENOSPC` ([`crate::RunOutcome::disk_full`]).
/// Without it (the provider's own calibration workloads) the writable layer is unbounded.
/// Outputs are capped by [`RunSpec::max_output_bytes`] either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// CPU, in thousandths of a core (`1000` = one core); becomes `nano_cpus`.
    pub milli_cpus: u64,
    /// Memory limit in bytes; swap is set equal, so the job gets no swap.
    pub memory_bytes: u64,
    /// Maximum number of processes/threads.
    pub pids: u64,
    /// Wall-clock limit; the job is killed when it is reached.
    pub timeout: Duration,
    /// Everything the job may write (`/tmp` and the output directory together), in bytes; backed
    /// by memory and charged to the job's memory cgroup. `None`: an unbounded writable layer.
    pub disk_bytes: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            milli_cpus: 1000,
            memory_bytes: 512 << 20,
            pids: 256,
            timeout: Duration::from_secs(600),
            disk_bytes: None,
        }
    }
}

/// A job to run in a container.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Image reference (tag or id); it must already be on the daemon.
    pub image: String,
    /// Command (overrides the image's `CMD`; the image's entrypoint applies).
    pub cmd: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Working directory inside the container, if not the image's.
    pub workdir: Option<String>,
    /// Files put into the container before it starts.
    pub inputs: Vec<Input>,
    /// Container directory whose contents are the job's outputs, e.g. `/out`. It is created
    /// (world-writable) before the job starts.
    pub output_dir: String,
    /// Cap on the total size of the outputs, in bytes.
    pub max_output_bytes: u64,
    /// Where outputs are written on the host; `None` keeps them in memory.
    pub output_host_dir: Option<PathBuf>,
    /// Resource limits.
    pub limits: Limits,
    /// Whether the job gets a network (`false`: network mode `none`, only loopback; `true`: the
    /// jobs' own bridge, [`crate::JOB_NETWORK`]).
    pub network: bool,
    /// NVIDIA GPUs to attach (0 for none).
    pub gpus: u16,
}

impl RunSpec {
    /// A job with default limits, no inputs, no network, outputs in `/out` (capped at 64 MiB).
    pub fn new(image: impl Into<String>, cmd: Vec<String>) -> RunSpec {
        RunSpec {
            image: image.into(),
            cmd,
            env: Vec::new(),
            workdir: None,
            inputs: Vec::new(),
            output_dir: "/out".to_string(),
            max_output_bytes: 64 << 20,
            output_host_dir: None,
            limits: Limits::default(),
            network: false,
            gpus: 0,
        }
    }

    /// A `sh -c script` job.
    pub fn shell(image: impl Into<String>, script: &str) -> RunSpec {
        RunSpec::new(
            image,
            vec!["sh".to_string(), "-c".to_string(), script.to_string()],
        )
    }

    /// Checks what can be checked without Docker.
    pub fn validate(&self) -> Result<(), RunnerError> {
        let bad = |m: String| Err(RunnerError::InvalidSpec(m));
        if self.image.is_empty() {
            return bad("no image".into());
        }
        if !is_clean_absolute(&self.output_dir) || self.output_dir == "/" {
            return bad(format!(
                "output_dir {:?} must be an absolute path below /, without . or ..",
                self.output_dir
            ));
        }
        for input in &self.inputs {
            if !is_clean_absolute(&input.container_path) || input.container_path.ends_with('/') {
                return bad(format!(
                    "input path {:?} must be an absolute file path without . or ..",
                    input.container_path
                ));
            }
        }
        for (k, _) in &self.env {
            if k.is_empty() || k.contains('=') {
                return bad(format!("environment variable name {k:?}"));
            }
        }
        if self.limits.milli_cpus == 0 || self.limits.memory_bytes < (6 << 20) {
            return bad("limits need some CPU and at least 6 MiB of memory".into());
        }
        if self.limits.pids == 0 || self.limits.timeout.is_zero() {
            return bad("limits need a pid limit and a timeout".into());
        }
        if self.limits.disk_bytes.is_some_and(|d| d < (1 << 20)) {
            return bad("a disk limit must be at least 1 MiB".into());
        }
        Ok(())
    }
}

/// Whether `p` is absolute and has no empty, `.` or `..` components.
pub(crate) fn is_clean_absolute(p: &str) -> bool {
    let Some(rest) = p.strip_prefix('/') else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    rest.is_empty()
        || rest
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Whether a job label can name a cgroup and a container label: `[A-Za-z0-9_.-]{1,64}`, not
/// starting with a dot.
pub(crate) fn is_valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 64
        && !label.starts_with('.')
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_be_clean_and_absolute() {
        assert!(is_clean_absolute("/out"));
        assert!(is_clean_absolute("/in/a/b.txt"));
        assert!(is_clean_absolute("/out/"));
        assert!(!is_clean_absolute("out"));
        assert!(!is_clean_absolute("/in/../etc/passwd"));
        assert!(!is_clean_absolute("/in//x"));
        assert!(!is_clean_absolute("/./x"));
    }

    #[test]
    fn labels_are_restricted() {
        assert!(is_valid_label("job-42_a.b"));
        assert!(!is_valid_label(""));
        assert!(!is_valid_label("../x"));
        assert!(!is_valid_label("a/b"));
        assert!(!is_valid_label(".hidden"));
        assert!(!is_valid_label(&"x".repeat(65)));
    }

    #[test]
    fn validate_rejects_bad_specs() {
        let ok = RunSpec::shell("img", "true");
        assert!(ok.validate().is_ok());
        let mut s = ok.clone();
        s.output_dir = "/".into();
        assert!(s.validate().is_err());
        let mut s = ok.clone();
        s.inputs.push(Input {
            container_path: "/in/../../x".into(),
            source: InputSource::Bytes(vec![]),
        });
        assert!(s.validate().is_err());
        let mut s = ok.clone();
        s.limits.memory_bytes = 1024;
        assert!(s.validate().is_err());
        let mut s = ok;
        s.env.push(("A=B".into(), "x".into()));
        assert!(s.validate().is_err());
    }
}
