//! A job's spec: what runs (a container image and command over input files, or a VOD transcode),
//! with which resources and limits. Buyers publish the spec as a blob; its sha256 is the escrow's
//! `specHash`, so a provider knows the document it fetched is the one the buyer paid for.
//!
//! The canonical bytes are the compact JSON of [`JobSpec`] (struct fields in declaration order, no
//! maps), so the same spec always hashes the same. Optional fields added since version 1 (such as
//! [`JobSpec::cooperative`]) are left out when absent, so older specs keep their bytes and hashes.
//!
//! A *cooperative* job ([`Cooperative`], issue 21) runs one container on each of `nodes` providers
//! (the escrow job's `replicas`), each with its own shard of the input on top of the workload's
//! common inputs; the containers reach a distributed average consensus through their providers.

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
    /// A cooperative job: one node per replica, each with its own input shard (absent for an
    /// ordinary job, and then left out of the canonical bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooperative: Option<Cooperative>,
}

/// Fewest nodes of a cooperative job.
pub const MIN_NODES: u8 = 2;
/// Most nodes of a cooperative job (the escrow's `MAX_REPLICAS`).
pub const MAX_NODES: u8 = 16;
/// Most decimals a cooperative job's results are rounded to.
pub const MAX_DECIMALS: u8 = 15;
/// Bounds of [`Cooperative::peer_timeout_ms`].
pub const PEER_TIMEOUT_MS: std::ops::RangeInclusive<u32> = 1_000..=600_000;

/// A cooperative job (issue 21): `nodes` containers on `nodes` providers (the escrow job's
/// `replicas` must equal `nodes`), node i being the provider at position i of the escrow's
/// `providersOf(jobId)`. Each node gets the workload's common inputs plus its own shard, and the
/// nodes average values by distributed consensus over `topology`, their providers relaying the
/// messages (see DAC-API.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cooperative {
    /// Number of nodes, [`MIN_NODES`]..=[`MAX_NODES`].
    pub nodes: u8,
    /// Which nodes exchange values with which.
    pub topology: Topology,
    /// Shard i's input files, mounted only on node i (in addition to the common inputs). Not in
    /// [`JobSpec::blobs`]: a provider fetches its own shard ([`JobSpec::shard_blobs`]) only once it
    /// knows its node index, after taking a slot.
    pub shards: Vec<Vec<InputFile>>,
    /// Results are rounded to 10^-decimals before they are written (0..=[`MAX_DECIMALS`]), so
    /// that honest nodes write byte-identical results.
    pub decimals: u8,
    /// A peer silent this long is dropped ([`PEER_TIMEOUT_MS`]).
    pub peer_timeout_ms: u32,
    /// How long the nodes wait for every slot to be filled and announced before starting without
    /// the missing ones (1..=[`MAX_TIMEOUT_SECS`]).
    pub join_timeout_secs: u32,
}

/// A consensus graph over the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    pub kind: TopologyKind,
    /// Each node's number of neighbours for [`TopologyKind::Regular`] (2 <= degree < nodes,
    /// nodes x degree even); ignored by the other kinds.
    pub degree: u32,
    /// Seeds the random regular graph (ignored by the other kinds).
    pub seed: u64,
}

/// The shape of a [`Topology`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopologyKind {
    /// Node i next to i-1 and i+1 (mod n); needs 3 or more nodes.
    Ring,
    /// A random `degree`-regular graph drawn from `seed`.
    Regular,
    /// Every node next to every other.
    Complete,
}

impl TopologyKind {
    /// The kind's name in the spec (`ring`, `regular`, `complete`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ring => "ring",
            Self::Regular => "regular",
            Self::Complete => "complete",
        }
    }
}

impl std::str::FromStr for TopologyKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ring" => Ok(Self::Ring),
            "regular" => Ok(Self::Regular),
            "complete" => Ok(Self::Complete),
            _ => Err(format!("unknown topology {s:?} (ring, regular, complete)")),
        }
    }
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
                network,
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
                if let Some(coop) = &self.cooperative {
                    if *network {
                        return invalid("a cooperative job's containers get no network");
                    }
                    coop.validate(inputs)?;
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
                if self.cooperative.is_some() {
                    return invalid("only a container workload can be cooperative");
                }
            }
        }
        Ok(())
    }

    /// The blobs every replica reads (image archive, common inputs): what a provider fetches
    /// before it takes a slot. A cooperative job's shards are not among them (see
    /// [`JobSpec::shard_blobs`]).
    pub fn blobs(&self) -> Vec<&BlobRef> {
        match &self.workload {
            Workload::Container { image, inputs, .. } => std::iter::once(&image.archive)
                .chain(inputs.iter().map(|i| &i.blob))
                .collect(),
            Workload::Vod { input, .. } => vec![input],
        }
    }

    /// Node `index`'s shard of a cooperative job: its input files, mounted on that node only
    /// (`None` for an ordinary job or an index out of range).
    pub fn shard(&self, index: usize) -> Option<&[InputFile]> {
        self.cooperative
            .as_ref()?
            .shards
            .get(index)
            .map(Vec::as_slice)
    }

    /// The blobs of node `index`'s shard (empty for an ordinary job or an index out of range):
    /// fetched by that node's provider only, once it holds slot `index`, in addition to
    /// [`JobSpec::blobs`].
    pub fn shard_blobs(&self, index: usize) -> Vec<&BlobRef> {
        self.shard(index)
            .map(|files| files.iter().map(|f| &f.blob).collect())
            .unwrap_or_default()
    }

    /// Every blob the job names: [`JobSpec::blobs`] and every shard. A blob store lets the job's
    /// providers read these (each fetches only its own shard, but the store cannot tell which
    /// node a provider will be before the slots are taken).
    pub fn named_blobs(&self) -> Vec<&BlobRef> {
        let shards = self
            .cooperative
            .iter()
            .flat_map(|c| c.shards.iter().flatten().map(|f| &f.blob));
        self.blobs().into_iter().chain(shards).collect()
    }
}

/// Whether two absolute paths name the same file or one lies under the other.
fn paths_clash(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_end_matches('/'), b.trim_end_matches('/'));
    a == b || a.starts_with(&format!("{b}/")) || b.starts_with(&format!("{a}/"))
}

impl Cooperative {
    /// Checks the bounds, the topology and the shard paths against the workload's common `inputs`.
    pub fn validate(&self, inputs: &[InputFile]) -> Result<(), SpecError> {
        let invalid = |m: String| Err(SpecError::Invalid(m));
        let n = self.nodes;
        if !(MIN_NODES..=MAX_NODES).contains(&n) {
            return invalid(format!(
                "cooperative nodes must be {MIN_NODES}..={MAX_NODES}, not {n}"
            ));
        }
        if self.shards.len() != usize::from(n) {
            return invalid(format!(
                "a cooperative job of {n} nodes needs {n} shards, not {}",
                self.shards.len()
            ));
        }
        match self.topology.kind {
            TopologyKind::Ring if n < 3 => {
                return invalid("a ring needs at least 3 nodes (use complete for 2)".into());
            }
            TopologyKind::Regular => {
                let d = self.topology.degree;
                if d < 2 || d >= u32::from(n) {
                    return invalid(format!(
                        "a regular topology of {n} nodes needs 2 <= degree < {n}, not {d}"
                    ));
                }
                if !(u32::from(n) * d).is_multiple_of(2) {
                    return invalid(format!(
                        "no {d}-regular graph on {n} nodes: nodes x degree must be even"
                    ));
                }
            }
            _ => {}
        }
        if self.decimals > MAX_DECIMALS {
            return invalid(format!(
                "decimals must be 0..={MAX_DECIMALS}, not {}",
                self.decimals
            ));
        }
        if !PEER_TIMEOUT_MS.contains(&self.peer_timeout_ms) {
            return invalid(format!(
                "peer_timeout_ms must be {}..={}, not {}",
                PEER_TIMEOUT_MS.start(),
                PEER_TIMEOUT_MS.end(),
                self.peer_timeout_ms
            ));
        }
        if self.join_timeout_secs == 0 || u64::from(self.join_timeout_secs) > MAX_TIMEOUT_SECS {
            return invalid(format!(
                "join_timeout_secs must be 1..={MAX_TIMEOUT_SECS}, not {}",
                self.join_timeout_secs
            ));
        }
        for (i, shard) in self.shards.iter().enumerate() {
            for (k, file) in shard.iter().enumerate() {
                let path = &file.path;
                if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
                    return invalid(format!(
                        "shard {i} path {path:?} must be absolute without '..'"
                    ));
                }
                if let Some(common) = inputs.iter().find(|c| paths_clash(&c.path, path)) {
                    return invalid(format!(
                        "shard {i} path {path:?} clashes with the common input {:?}",
                        common.path
                    ));
                }
                if let Some(other) = shard[..k].iter().find(|o| paths_clash(&o.path, path)) {
                    return invalid(format!(
                        "shard {i} paths {:?} and {path:?} clash",
                        other.path
                    ));
                }
            }
        }
        Ok(())
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
            cooperative: None,
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

    /// The canonical bytes of a version-1 spec, as written before `cooperative` existed.
    const V1_BYTES: &str = r#"{"version":1,"workload":{"kind":"container","image":{"archive":{"sha256":"6105d6cc76af400325e94d588ce511be5bfdbb73b437dc51eca43917d7a43e3d","size":5,"sources":["http://127.0.0.1:1"]},"reference":"peerflow/busybox:1"},"cmd":["sh","-c","wc -c /in/a > /out/n"],"env":[["A","1"]],"inputs":[{"path":"/in/a","blob":{"sha256":"c96c6d5be8d08a12e7b5cdc1b207fa6b2430974c86803d8891675e76fd992c20","size":5,"sources":["http://127.0.0.1:1"]}}],"output_dir":"/out","network":false},"resources":{"milli_cpus":1000,"memory_mb":64,"disk_mb":100,"gpus":0},"timeout_secs":60,"max_output_bytes":1048576}"#;

    #[test]
    fn an_ordinary_spec_keeps_its_bytes_and_digest() {
        let spec = container_spec();
        assert_eq!(String::from_utf8(spec.to_bytes()).unwrap(), V1_BYTES);
        assert_eq!(
            spec.digest().to_hex(),
            "3e9eedda82c1230a3bd7d534acb31435b8a500de533a48ee2cb77e22b0cad938"
        );
        let parsed = JobSpec::from_bytes_checked(V1_BYTES.as_bytes(), spec.digest()).unwrap();
        assert_eq!(parsed.cooperative, None);
        assert_eq!(parsed, spec);
    }

    fn shard_file(path: &str, content: &[u8]) -> InputFile {
        InputFile {
            path: path.into(),
            blob: BlobRef {
                sha256: Digest::of(content),
                size: content.len() as u64,
                sources: vec!["http://127.0.0.1:1".into()],
            },
        }
    }

    pub(crate) fn cooperative_spec(nodes: u8) -> JobSpec {
        let mut spec = container_spec();
        spec.cooperative = Some(Cooperative {
            nodes,
            topology: Topology {
                kind: TopologyKind::Ring,
                degree: 2,
                seed: 1,
            },
            shards: (0..nodes)
                .map(|i| vec![shard_file("/in/shard", format!("shard {i}").as_bytes())])
                .collect(),
            decimals: 9,
            peer_timeout_ms: 10_000,
            join_timeout_secs: 120,
        });
        spec
    }

    fn coop(spec: &mut JobSpec) -> &mut Cooperative {
        spec.cooperative.as_mut().unwrap()
    }

    fn rejected(spec: &JobSpec, needle: &str) {
        match spec.validate() {
            Err(SpecError::Invalid(m)) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
            other => panic!("expected Invalid({needle:?}), got {other:?}"),
        }
    }

    #[test]
    fn cooperative_canonical_bytes_round_trip() {
        let spec = cooperative_spec(3);
        spec.validate().unwrap();
        let bytes = spec.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(&V1_BYTES[..V1_BYTES.len() - 1]), "{text}");
        assert!(text.contains(
            r#","cooperative":{"nodes":3,"topology":{"kind":"ring","degree":2,"seed":1},"shards":[[{"path":"/in/shard","blob":{"sha256":"#
        ));
        assert!(
            text.ends_with(r#"],"decimals":9,"peer_timeout_ms":10000,"join_timeout_secs":120}}"#)
        );
        let parsed = JobSpec::from_bytes_checked(&bytes, spec.digest()).unwrap();
        assert_eq!(parsed, spec);
        assert_eq!(parsed.to_bytes(), bytes);
        assert_ne!(spec.digest(), container_spec().digest());
        // Unknown fields inside the cooperative part are refused like anywhere else.
        let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        json["cooperative"]["extra"] = 1.into();
        let bytes = serde_json::to_vec(&json).unwrap();
        assert!(matches!(
            JobSpec::from_bytes_checked(&bytes, Digest::of(&bytes)),
            Err(SpecError::Parse(_))
        ));
        for (kind, name) in [
            (TopologyKind::Ring, "\"ring\""),
            (TopologyKind::Regular, "\"regular\""),
            (TopologyKind::Complete, "\"complete\""),
        ] {
            assert_eq!(serde_json::to_string(&kind).unwrap(), name);
            assert_eq!(kind.as_str().parse::<TopologyKind>(), Ok(kind));
        }
        assert!("star".parse::<TopologyKind>().is_err());
    }

    #[test]
    fn shards_are_not_common_blobs() {
        let spec = cooperative_spec(3);
        assert_eq!(spec.blobs(), container_spec().blobs());
        for i in 0..3 {
            let blobs = spec.shard_blobs(i);
            assert_eq!(blobs.len(), 1);
            assert_eq!(blobs[0].sha256, Digest::of(format!("shard {i}").as_bytes()));
            assert_eq!(spec.shard(i).unwrap()[0].path, "/in/shard");
        }
        assert!(spec.shard_blobs(3).is_empty());
        assert!(spec.shard(3).is_none());
        assert!(container_spec().shard_blobs(0).is_empty());
    }

    #[test]
    fn cooperative_bounds() {
        for nodes in [3, 16] {
            cooperative_spec(nodes).validate().unwrap();
        }
        rejected(&cooperative_spec(17), "nodes must be 2..=16");
        let mut spec = cooperative_spec(2);
        rejected(&spec, "a ring needs at least 3 nodes");
        coop(&mut spec).topology.kind = TopologyKind::Complete;
        spec.validate().unwrap();
        let mut spec = cooperative_spec(1);
        coop(&mut spec).topology.kind = TopologyKind::Complete;
        rejected(&spec, "nodes must be 2..=16");

        let mut spec = cooperative_spec(3);
        coop(&mut spec).shards.pop();
        rejected(&spec, "needs 3 shards, not 2");

        let mut spec = cooperative_spec(3);
        coop(&mut spec).decimals = 16;
        rejected(&spec, "decimals");
        coop(&mut spec).decimals = 15;
        spec.validate().unwrap();
        coop(&mut spec).decimals = 0;
        spec.validate().unwrap();

        for (ms, ok) in [
            (999, false),
            (1000, true),
            (600_000, true),
            (600_001, false),
        ] {
            let mut spec = cooperative_spec(3);
            coop(&mut spec).peer_timeout_ms = ms;
            assert_eq!(spec.validate().is_ok(), ok, "{ms}");
        }
        let mut spec = cooperative_spec(3);
        coop(&mut spec).join_timeout_secs = 0;
        rejected(&spec, "join_timeout_secs");
    }

    #[test]
    fn cooperative_regular_topology() {
        let regular = |nodes: u8, degree: u32| {
            let mut spec = cooperative_spec(nodes);
            coop(&mut spec).topology = Topology {
                kind: TopologyKind::Regular,
                degree,
                seed: 7,
            };
            spec
        };
        regular(4, 2).validate().unwrap();
        regular(4, 3).validate().unwrap();
        regular(6, 3).validate().unwrap();
        regular(16, 15).validate().unwrap();
        rejected(&regular(4, 1), "2 <= degree < 4");
        rejected(&regular(4, 4), "2 <= degree < 4");
        rejected(&regular(5, 3), "must be even");
        rejected(&regular(2, 1), "2 <= degree < 2");
        // The degree means nothing to the other kinds.
        let mut spec = cooperative_spec(3);
        coop(&mut spec).topology.degree = 40;
        spec.validate().unwrap();
    }

    #[test]
    fn cooperative_workload_and_paths() {
        let mut spec = cooperative_spec(3);
        if let Workload::Container { network, .. } = &mut spec.workload {
            *network = true;
        }
        rejected(&spec, "no network");

        let mut spec = cooperative_spec(3);
        spec.workload = Workload::Vod {
            input: container_spec().blobs()[0].clone(),
            ladder: "360p:640x360:600k".into(),
            segment_secs: 2,
            speed: 10,
        };
        rejected(&spec, "only a container workload");

        for (path, needle) in [
            ("in/shard", "absolute"),
            ("/in/../etc/passwd", "absolute"),
            ("/in/a", "clashes with the common input \"/in/a\""),
            ("/in/a/x", "clashes with the common input"),
            ("/in", "clashes with the common input"),
        ] {
            let mut spec = cooperative_spec(3);
            coop(&mut spec).shards[1][0].path = path.into();
            rejected(&spec, needle);
        }
        let mut spec = cooperative_spec(3);
        coop(&mut spec).shards[2].push(shard_file("/in/shard/", b"again"));
        rejected(&spec, "clash");
        // Different shards may use the same path (each is mounted on its own node), and a node
        // may get several files or none.
        let mut spec = cooperative_spec(3);
        coop(&mut spec).shards[0].push(shard_file("/in/shard-extra", b"x"));
        coop(&mut spec).shards[1].clear();
        spec.validate().unwrap();
    }
}
