//! What a buyer does, shared by `peerflow compute`, `peerflow vod` and the tests: publish a spec
//! and create its job, read a job's progress, and fetch a settled job's outputs from any provider
//! whose result the escrow confirmed (every file checked against the manifest's hashes).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;

use crate::escrow::{CommittedResult, Escrow, EscrowError, JobParams};
use crate::{BlobClient, BlobError, Digest, JobSpec, ResultManifest};
use peerflow_chain::bindings::job_escrow::IJobEscrow;

/// Errors of buyer operations.
#[derive(Debug, thiserror::Error)]
pub enum BuyerError {
    #[error(transparent)]
    Escrow(#[from] EscrowError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("job {0} has no confirmed result")]
    NoResult(u64),
    #[error("result manifest {0} is not valid: {1}")]
    BadManifest(Digest, String),
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A job's commercial terms (the spec carries the resources).
#[derive(Debug, Clone)]
pub struct Terms {
    /// Per replica.
    pub price: U256,
    /// Per provider.
    pub collateral: U256,
    pub replicas: u8,
    pub checkpoints: u8,
    pub min_completed: u32,
    /// Unix seconds by which results must be committed.
    pub deadline: u64,
    pub review_period: u32,
    pub arbiter: Address,
    /// Sealed-bid mode: (bid deadline, reveal deadline), unix seconds; `price` is then the most
    /// the buyer pays per replica. `None`: fixed price.
    pub sealed_bid: Option<(u64, u64)>,
}

/// Publishes `spec` to the blob store at `store` and creates its fixed-price job; returns the job
/// id and the spec's URI.
pub async fn submit<P: Provider + Clone>(
    escrow: &Escrow<P>,
    blobs: &BlobClient,
    store: &str,
    spec: &JobSpec,
    terms: &Terms,
) -> Result<(u64, String), BuyerError> {
    let blob = blobs.upload(store, spec.to_bytes()).await?;
    let uri = crate::blob::blob_url(store, blob.sha256);
    let r = spec.resources;
    let params = JobParams {
        specHash: spec.digest().to_b256(),
        arbiter: terms.arbiter,
        resources: IJobEscrow::Resources {
            milliCpus: r.milli_cpus,
            memoryMb: r.memory_mb,
            diskMb: r.disk_mb,
            gpus: r.gpus,
        },
        mode: if terms.sealed_bid.is_some() {
            crate::escrow::codes::MODE_SEALED_BID
        } else {
            0
        },
        price: alloy::primitives::Uint::from(terms.price.to::<u128>()),
        collateral: alloy::primitives::Uint::from(terms.collateral.to::<u128>()),
        replicas: terms.replicas,
        checkpoints: terms.checkpoints,
        minCompleted: terms.min_completed,
        bidDeadline: terms.sealed_bid.map_or(0, |(b, _)| b),
        revealDeadline: terms.sealed_bid.map_or(0, |(_, r)| r),
        deadline: terms.deadline,
        reviewPeriod: terms.review_period,
    };
    let id = escrow.create(params, &uri).await?;
    Ok((id, uri))
}

/// The result hash revealed by more than half of the revealed results (the escrow's rule), with
/// those results.
pub fn majority(results: &[CommittedResult]) -> Option<(B256, Vec<&CommittedResult>)> {
    let mut by_hash: HashMap<B256, Vec<&CommittedResult>> = HashMap::new();
    for r in results {
        by_hash.entry(r.result_hash).or_default().push(r);
    }
    by_hash
        .into_iter()
        .find(|(_, v)| v.len() * 2 > results.len())
}

/// The job's confirmed result: the escrow's own `majorityHash` once finalized, else the majority
/// of the results revealed so far; with the results that carry it.
pub fn confirmed<'a>(
    job: &crate::escrow::Job,
    results: &'a [CommittedResult],
) -> Option<(B256, Vec<&'a CommittedResult>)> {
    if job.majorityHash != B256::ZERO {
        let h = job.majorityHash;
        return Some((h, results.iter().filter(|r| r.result_hash == h).collect()));
    }
    majority(results)
}

/// Fetches the confirmed result of `job_id` into `out_dir`: the manifest from a provider that
/// committed it, then every file (from any of those providers), each checked against its hash.
/// Returns the manifest.
pub async fn fetch_results<P: Provider + Clone>(
    escrow: &Escrow<P>,
    blobs: &BlobClient,
    job_id: u64,
    out_dir: &Path,
) -> Result<ResultManifest, BuyerError> {
    let job = escrow.job(job_id).await?;
    let results = escrow.results(job_id).await?;
    let (hash, commits) = confirmed(&job, &results).ok_or(BuyerError::NoResult(job_id))?;
    let sources: Vec<String> = commits.iter().map(|c| c.uri.clone()).collect();
    let digest = Digest::from(hash);
    let bytes = blobs.fetch_digest(digest, &sources, 16 << 20).await?;
    let manifest: ResultManifest = serde_json::from_slice(&bytes)
        .map_err(|e| BuyerError::BadManifest(digest, e.to_string()))?;
    let io = |path: &Path, source| BuyerError::Io {
        path: path.to_path_buf(),
        source,
    };
    for file in &manifest.files {
        if file.path.starts_with('/') || file.path.split('/').any(|c| c == ".." || c.is_empty()) {
            return Err(BuyerError::BadManifest(
                digest,
                format!("path {:?}", file.path),
            ));
        }
        let data = blobs.fetch_digest(file.sha256, &sources, file.size).await?;
        let path = out_dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::write(&path, data).map_err(|e| io(&path, e))?;
    }
    Ok(manifest)
}
