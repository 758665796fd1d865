//! The evidence of a fault, bundled so that anyone can check it: the segment as sent, the faulty
//! rendition as received, the orchestrator's signed result over both, and what our checks found.
//! A bundle lives in `<fault_dir>/<digest>/` (the signed result's EIP-712 digest in hex, unique
//! per reply) and is served read-only over HTTP (`GET /v1/faults/{digest}/{file}`), so the jurors
//! of a fault claim fetch exactly what the claim's `evidenceHash` commits to:
//!
//! - `source.<ext>`: keccak256 equals the result's `inputHash`;
//! - `rendition.<ext>`: keccak256 equals the result's `renditionHashes[rendition]`;
//! - `result.json`: the [`SignedResult`];
//! - `finding.json`: the [`Finding`] (which rendition, which fault, what was measured);
//! - `manifest.json`: each file's keccak256; the claim's `evidenceHash` is the manifest's.
//!
//! A bundle is written to a temporary directory and renamed into place, so a bundle that exists
//! is complete; `claim.json` is added once a claim is on-chain. Jurors accept a manifest that lists
//! exactly these four files (`source` and `rendition` in `ts` or `mp4`) and nothing else
//! ([`super::juror::JurorLimits`] caps their sizes), so a bundle must not grow other files.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256, keccak256};
use peerflow_protocol::SignedResult;
use serde::{Deserialize, Serialize};

use super::verification::Finding;
use crate::IncomingSegment;

/// A bundle's contents by file name and keccak256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub stream: String,
    pub seq: u64,
    pub orchestrator: Address,
    pub digest: B256,
    /// Index of the faulty rendition in the signed result.
    pub rendition: usize,
    /// The fault's on-chain code.
    pub fault: u8,
    pub files: Vec<ManifestFile>,
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub name: String,
    pub keccak256: B256,
}

/// A bundle written: what the claim filer needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultReport {
    pub manifest: Manifest,
    /// keccak256 of `manifest.json` as written: the claim's `evidenceHash`.
    pub evidence_hash: B256,
    pub dir: PathBuf,
}

/// What `claim.json` records once a claim was filed (or refused for good).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRecord {
    /// The claim's id in FaultClaims, when it was accepted…
    pub claim_id: Option<u64>,
    /// …or the contract's reason for refusing it (e.g. already claimed).
    pub refused: Option<String>,
}

/// The bundle could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: not a fault bundle ({1})")]
    Malformed(PathBuf, String),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EvidenceError {
    let context = context.into();
    move |source| EvidenceError::Io { context, source }
}

/// The name of a bundle's directory: the digest in lowercase hex, `0x`-prefixed.
pub fn bundle_name(digest: &B256) -> String {
    format!("{digest:#x}")
}

/// Writes the bundle of `finding` on `segment`, whose faulty rendition is `rendition` (bytes as
/// received, in the container of `ext`), under `fault_dir`. Writing the same fault again (a
/// retried segment) keeps the first bundle.
pub async fn write_bundle(
    fault_dir: &Path,
    segment: &IncomingSegment,
    evidence: &SignedResult,
    finding: &Finding,
    rendition: &[u8],
    rendition_ext: &str,
) -> Result<FaultReport, EvidenceError> {
    let name = bundle_name(&evidence.digest);
    let dir = fault_dir.join(&name);
    if let Ok(report) = read_bundle(&dir).await {
        return Ok(report);
    }
    let staging = fault_dir.join(format!(".{name}.partial"));
    let _ = tokio::fs::remove_dir_all(&staging).await;
    tokio::fs::create_dir_all(&staging)
        .await
        .map_err(io(format!("creating {}", staging.display())))?;
    let files: Vec<(String, Vec<u8>)> = vec![
        (
            format!("source.{}", segment.format.extension()),
            segment.bytes.to_vec(),
        ),
        (format!("rendition.{rendition_ext}"), rendition.to_vec()),
        ("result.json".into(), pretty(evidence)),
        ("finding.json".into(), pretty(finding)),
    ];
    let mut listed = Vec::with_capacity(files.len());
    for (file, bytes) in &files {
        tokio::fs::write(staging.join(file), bytes)
            .await
            .map_err(io(format!("writing {file}")))?;
        listed.push(ManifestFile {
            name: file.clone(),
            keccak256: keccak256(bytes),
        });
    }
    let manifest = Manifest {
        stream: segment.stream.clone(),
        seq: segment.seq,
        orchestrator: evidence.result.orchestrator,
        digest: evidence.digest,
        rendition: finding.rendition,
        fault: finding.code,
        files: listed,
    };
    let manifest_bytes = pretty(&manifest);
    tokio::fs::write(staging.join("manifest.json"), &manifest_bytes)
        .await
        .map_err(io("writing manifest.json"))?;
    tokio::fs::rename(&staging, &dir)
        .await
        .map_err(io(format!("moving the bundle to {}", dir.display())))?;
    Ok(FaultReport {
        manifest,
        evidence_hash: keccak256(&manifest_bytes),
        dir,
    })
}

/// Reads the bundle in `dir`.
pub async fn read_bundle(dir: &Path) -> Result<FaultReport, EvidenceError> {
    let bytes = tokio::fs::read(dir.join("manifest.json"))
        .await
        .map_err(io(format!("reading {}/manifest.json", dir.display())))?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| EvidenceError::Malformed(dir.to_owned(), e.to_string()))?;
    Ok(FaultReport {
        manifest,
        evidence_hash: keccak256(&bytes),
        dir: dir.to_owned(),
    })
}

/// Every complete bundle under `fault_dir`, oldest name first (none if the directory is missing).
pub async fn list_bundles(fault_dir: &Path) -> Result<Vec<FaultReport>, EvidenceError> {
    let mut entries = match tokio::fs::read_dir(fault_dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(format!("listing {}", fault_dir.display()))(e)),
    };
    let mut reports = Vec::new();
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(io(format!("listing {}", fault_dir.display())))?
    {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("0x") {
            reports.push(read_bundle(&entry.path()).await?);
        }
    }
    reports.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(reports)
}

/// The claim filed for the bundle in `dir`, if any.
pub async fn read_claim(dir: &Path) -> Option<ClaimRecord> {
    let bytes = tokio::fs::read(dir.join("claim.json")).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Records that the claim for the bundle in `dir` is on-chain.
pub async fn write_claim(dir: &Path, claim: &ClaimRecord) -> Result<(), EvidenceError> {
    let partial = dir.join(".claim.json.partial");
    tokio::fs::write(
        &partial,
        serde_json::to_vec_pretty(claim).expect("serializable"),
    )
    .await
    .map_err(io("writing claim.json"))?;
    tokio::fs::rename(&partial, dir.join("claim.json"))
        .await
        .map_err(io("writing claim.json"))
}

/// Whether `name` may be served from a bundle: one of the files a manifest lists, or the manifest
/// and claim record themselves. Keeps `GET /v1/faults/{digest}/{file}` inside the bundle.
pub fn servable(report: &FaultReport, name: &str) -> bool {
    name == "manifest.json"
        || name == "claim.json"
        || report.manifest.files.iter().any(|f| f.name == name)
}

fn pretty<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("serializable")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SegmentFormat;
    use peerflow_media::verify::Fault;
    use peerflow_protocol::SegmentResult;
    use peerflow_protocol::api::{ProfileSpec, SegmentRequest};
    use peerflow_protocol::result::ResultDomain;

    fn signed(segment: &[u8], rendition: &[u8]) -> SignedResult {
        let request = SegmentRequest {
            stream: "s".into(),
            seq: 3,
            format: "ts".into(),
            profiles: vec![ProfileSpec {
                name: "360p".into(),
                width: 640,
                height: 360,
                bitrate_kbps: 800,
                codec: "h264".into(),
            }],
        };
        let key = [7u8; 32];
        let me = peerflow_protocol::signature::address_of_secret(&key).unwrap();
        let domain = ResultDomain {
            chain_id: 31337,
            staking: Address::repeat_byte(9),
        };
        let result =
            SegmentResult::new(me, Address::repeat_byte(1), &request, segment, &[rendition]);
        let signature = result.sign(&domain, &key).unwrap();
        SignedResult::new(result, &domain, &signature)
    }

    fn finding() -> Finding {
        let fault = Fault::AudioMissing;
        Finding {
            rendition: 0,
            profile: "360p".into(),
            code: fault.code(),
            name: fault.name(),
            fault,
            sampled: false,
        }
    }

    #[tokio::test]
    async fn a_bundle_is_complete_hashed_listed_and_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let segment = IncomingSegment {
            stream: "s".into(),
            seq: 3,
            format: SegmentFormat::Ts,
            bytes: bytes::Bytes::from_static(b"source bytes"),
            duration_hint: None,
            received_in: std::time::Duration::ZERO,
        };
        let evidence = signed(b"source bytes", b"rendition bytes");
        let report = write_bundle(
            dir.path(),
            &segment,
            &evidence,
            &finding(),
            b"rendition bytes",
            "ts",
        )
        .await
        .unwrap();
        assert_eq!(report.dir, dir.path().join(bundle_name(&evidence.digest)));
        assert_eq!(report.manifest.fault, 9);
        let manifest_bytes = std::fs::read(report.dir.join("manifest.json")).unwrap();
        assert_eq!(keccak256(&manifest_bytes), report.evidence_hash);
        for file in &report.manifest.files {
            let bytes = std::fs::read(report.dir.join(&file.name)).unwrap();
            assert_eq!(keccak256(&bytes), file.keccak256, "{}", file.name);
        }
        let source = &report.manifest.files[0];
        assert_eq!(source.keccak256, evidence.result.inputHash);
        assert_eq!(
            report.manifest.files[1].keccak256,
            evidence.result.renditionHashes[0]
        );

        // Servable: the listed files, the manifest and the claim record only.
        assert!(servable(&report, "rendition.ts"));
        assert!(servable(&report, "manifest.json"));
        assert!(!servable(&report, "../deployment.json"));
        assert!(!servable(&report, "rendition.mp4"));

        // Written again (a retried segment): the first bundle stands.
        let again = write_bundle(dir.path(), &segment, &evidence, &finding(), b"other", "ts")
            .await
            .unwrap();
        assert_eq!(again, report);
        assert_eq!(
            list_bundles(dir.path()).await.unwrap(),
            vec![report.clone()]
        );

        assert_eq!(read_claim(&report.dir).await, None);
        let record = ClaimRecord {
            claim_id: Some(4),
            refused: None,
        };
        write_claim(&report.dir, &record).await.unwrap();
        assert_eq!(read_claim(&report.dir).await, Some(record));
        assert!(
            list_bundles(&dir.path().join("missing"))
                .await
                .unwrap()
                .is_empty()
        );
    }
}
