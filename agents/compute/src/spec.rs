//! A job's spec: what runs (a container image and command over input files, or a VOD transcode),
//! with which resources and limits. Buyers publish the spec as a blob; its sha256 is the escrow's
//! `specHash`, so a provider knows the document it fetched is the one the buyer paid for.
//!
//! The canonical bytes are the compact JSON of [`JobSpec`] (struct fields in declaration order, no
//! maps), so the same spec always hashes the same.

use serde::{Deserialize, Serialize};

use crate::Digest;

/// Longest timeout a spec may ask for.
pub const MAX_TIMEOUT_SECS: u64 = 24 * 3600;

/// A job's spec, version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    pub version: u32,
    pub workload: Workload,
    pub resources: Resources,
    /// Wall-clock limit for one run.
    pub timeout_secs: u64,
    /// Upper bound on the total size of the outputs.
    pub max_output_bytes: u64,
}

/// What the job runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Workload {
    /// A command in a container. The outputs are the files under `output_dir` when it exits.
    Container {
        image: ImageSpec,
        cmd: Vec<String>,
        env: Vec<(String, String)>,
        inputs: Vec<InputFile>,
        output_dir: String,
        /// Whether the container gets a network; none unless asked.
        network: bool,
    },
    /// A VOD transcode: the input video to an HLS package, one AV1 (rav1e) rendition per rung,
    /// encoded deterministically so replicas agree byte for byte.
    Vod {
        input: BlobRef,
        /// Ladder in `name:WxH:kbps` form, comma-separated (as `peerflow vod submit --ladder`).
        ladder: String,
        /// Target HLS segment length.
        segment_secs: u32,
        /// rav1e speed preset (0..=10).
        speed: u8,
    },
}

/// A container image, shipped as a `docker save` archive blob (no registry is assumed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// The archive.
    pub archive: BlobRef,
    /// The image reference inside the archive (e.g. `peerflow/busybox:1`).
    pub reference: String,
}

/// A file placed in the container before it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputFile {
    /// Absolute path in the container.
    pub path: String,
    pub blob: BlobRef,
}

/// A blob by content hash, with where it can be fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobRef {
    pub sha256: Digest,
    pub size: u64,
    /// Base URLs of blob stores that hold it (`{source}/v1/blobs/{sha256}`).
    pub sources: Vec<String>,
}

/// What the job needs; the escrow records the same figures and providers filter on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub milli_cpus: u32,
    pub memory_mb: u32,
    pub disk_mb: u32,
    pub gpus: u16,
}

/// A spec that cannot run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("spec is not valid JSON for version 1: {0}")]
    Parse(String),
    #[error("unsupported spec version {0}")]
    Version(u32),
    #[error("spec hash {got} does not match the escrow's {expected}")]
    HashMismatch { expected: Digest, got: Digest },
    #[error("invalid spec: {0}")]
    Invalid(String),
}

impl JobSpec {
    /// The canonical bytes (published as the spec blob).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a spec serializes")
    }

    /// The spec's hash: the escrow's `specHash`.
    pub fn digest(&self) -> Digest {
        Digest::of(&self.to_bytes())
    }

    /// Parses a fetched spec and checks it is the one `expected` names, and that it can run.
    pub fn from_bytes_checked(bytes: &[u8], expected: Digest) -> Result<Self, SpecError> {
        let got = Digest::of(bytes);
        if got != expected {
            return Err(SpecError::HashMismatch { expected, got });
        }
        let spec: JobSpec =
            serde_json::from_slice(bytes).map_err(|e| SpecError::Parse(e.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks the limits and paths a provider relies on.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.version != 1 {
            return Err(SpecError::Version(self.version));
        }
        let invalid = |m: &str| Err(SpecError::Invalid(m.to_owned()));
        if self.timeout_secs == 0 || self.timeout_secs > MAX_TIMEOUT_SECS {
            return invalid("timeout_secs must be 1..=86400");
        }
        if self.resources.milli_cpus == 0 || self.resources.memory_mb == 0 {
            return invalid("resources need milli_cpus and memory_mb");
        }
        match &self.workload {
            Workload::Container {
                image,
                cmd,
                inputs,
                output_dir,
                ..
            } => {
                if cmd.is_empty() {
                    return invalid("cmd is empty");
                }
                if image.reference.is_empty() {
                    return invalid("image reference is empty");
                }
                for path in inputs.iter().map(|i| &i.path).chain([output_dir]) {
                    if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
                        return Err(SpecError::Invalid(format!(
                            "path {path:?} must be absolute without '..'"
                        )));
                    }
                }
            }
            Workload::Vod {
                ladder,
                segment_secs,
                speed,
                ..
            } => {
                if ladder.is_empty() || *segment_secs == 0 || *speed > 10 {
                    return invalid("vod needs a ladder, segment_secs > 0 and speed 0..=10");
                }
            }
        }
        Ok(())
    }

    /// The blobs the job reads (image archive, inputs).
    pub fn blobs(&self) -> Vec<&BlobRef> {
        match &self.workload {
            Workload::Container { image, inputs, .. } => std::iter::once(&image.archive)
                .chain(inputs.iter().map(|i| &i.blob))
                .collect(),
            Workload::Vod { input, .. } => vec![input],
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn container_spec() -> JobSpec {
        let blob = |b: &[u8]| BlobRef {
            sha256: Digest::of(b),
            size: b.len() as u64,
            sources: vec!["http://127.0.0.1:1".into()],
        };
        JobSpec {
            version: 1,
            workload: Workload::Container {
                image: ImageSpec {
                    archive: blob(b"image"),
                    reference: "peerflow/busybox:1".into(),
                },
                cmd: vec!["sh".into(), "-c".into(), "wc -c /in/a > /out/n".into()],
                env: vec![("A".into(), "1".into())],
                inputs: vec![InputFile {
                    path: "/in/a".into(),
                    blob: blob(b"input"),
                }],
                output_dir: "/out".into(),
                network: false,
            },
            resources: Resources {
                milli_cpus: 1000,
                memory_mb: 64,
                disk_mb: 100,
                gpus: 0,
            },
            timeout_secs: 60,
            max_output_bytes: 1 << 20,
        }
    }

    #[test]
    fn hash_is_stable_and_checked() {
        let spec = container_spec();
        let bytes = spec.to_bytes();
        assert_eq!(spec.digest(), Digest::of(&bytes));
        assert_eq!(
            JobSpec::from_bytes_checked(&bytes, spec.digest()).unwrap(),
            spec
        );
        let other = Digest::of(b"other");
        assert!(matches!(
            JobSpec::from_bytes_checked(&bytes, other),
            Err(SpecError::HashMismatch { .. })
        ));
        assert_eq!(spec.blobs().len(), 2);
    }

    #[test]
    fn bad_specs_are_rejected() {
        let mut spec = container_spec();
        spec.timeout_secs = 0;
        assert!(matches!(spec.validate(), Err(SpecError::Invalid(_))));
        let mut spec = container_spec();
        if let Workload::Container { output_dir, .. } = &mut spec.workload {
            *output_dir = "/out/../etc".into();
        }
        assert!(matches!(spec.validate(), Err(SpecError::Invalid(_))));
        let mut spec = container_spec();
        spec.version = 2;
        assert_eq!(spec.validate(), Err(SpecError::Version(2)));
        let mut json: serde_json::Value = serde_json::to_value(container_spec()).unwrap();
        json["extra"] = 1.into();
        let bytes = serde_json::to_vec(&json).unwrap();
        assert!(matches!(
            JobSpec::from_bytes_checked(&bytes, Digest::of(&bytes)),
            Err(SpecError::Parse(_))
        ));
    }
}
