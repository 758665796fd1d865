//! Filing fault claims: every bundle the processor writes ([`super::evidence`]) goes on-chain to
//! `FaultClaims` with its signed result, the faulty rendition's index, the fault's code and the
//! bundle's evidence hash and URL (where jurors fetch it: `<public_url>/v1/faults/<digest>`). The
//! bond is approved and paid from the broadcaster's account, the one the result names. The
//! outcome is kept beside the bundle as `claim.json`, so a restart files exactly the bundles that
//! were not filed yet, and a refused claim (already claimed, orchestrator no longer registered)
//! is recorded instead of retried forever.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use alloy::providers::Provider;
use peerflow_chain::claims::{Fault, file_claim};
use peerflow_chain::{ChainError, Deployment};
use peerflow_protocol::metrics::Metrics;
use peerflow_protocol::{Signature, SignedResult};
use tokio::sync::mpsc;

use super::evidence::{self, ClaimRecord, FaultReport, bundle_name};

/// How long to wait before trying a claim again after a chain error that may pass.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// Tries per claim before it waits for the next restart.
const TRIES: u32 = 5;

/// Files the claims of one broadcaster.
pub struct ClaimFiler<P> {
    pub chain: P,
    pub deployment: Deployment,
    pub fault_dir: PathBuf,
    /// The broadcaster's URL as jurors reach it, e.g. `http://b.example:8936`.
    pub public_url: String,
    /// Counts claims filed and refused (`peerflow_broadcaster_claims_total`).
    pub metrics: Arc<Metrics>,
}

impl<P: Provider + Clone + 'static> ClaimFiler<P> {
    /// Files every bundle not filed yet, then each one `reports` delivers, until the sender is
    /// dropped.
    pub fn spawn(
        self,
        mut reports: mpsc::UnboundedReceiver<FaultReport>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            match evidence::list_bundles(&self.fault_dir).await {
                Ok(pending) => {
                    for report in pending {
                        if evidence::read_claim(&report.dir).await.is_none() {
                            self.file_with_retries(&report).await;
                        }
                    }
                }
                Err(error) => tracing::error!(%error, "listing fault bundles"),
            }
            while let Some(report) = reports.recv().await {
                if evidence::read_claim(&report.dir).await.is_none() {
                    self.file_with_retries(&report).await;
                }
            }
        })
    }

    async fn file_with_retries(&self, report: &FaultReport) {
        for attempt in 1..=TRIES {
            match self.file(report).await {
                Ok(record) => {
                    let outcome = if record.claim_id.is_some() {
                        "filed"
                    } else {
                        "refused"
                    };
                    self.metrics.inc(
                        "peerflow_broadcaster_claims_total",
                        "Fault claims sent on-chain, by outcome (filed, refused).",
                        &[("outcome", outcome)],
                    );
                    if let Err(error) = evidence::write_claim(&report.dir, &record).await {
                        tracing::error!(%error, "recording a filed claim");
                    }
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, attempt, orchestrator = %report.manifest.orchestrator, "filing a fault claim");
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
    }

    /// Files the claim of `report`; a refusal by the contract is a final outcome, not an error.
    async fn file(&self, report: &FaultReport) -> Result<ClaimRecord, FileError> {
        let bytes = tokio::fs::read(report.dir.join("result.json"))
            .await
            .map_err(|e| FileError::Bundle(e.to_string()))?;
        let signed: SignedResult =
            serde_json::from_slice(&bytes).map_err(|e| FileError::Bundle(e.to_string()))?;
        let signature = Signature::from_bytes(&signed.signature)
            .map_err(|e| FileError::Bundle(e.to_string()))?;
        let fault = Fault::from_code(report.manifest.fault).ok_or_else(|| {
            FileError::Bundle(format!("unknown fault code {}", report.manifest.fault))
        })?;
        let rendition = u32::try_from(report.manifest.rendition)
            .map_err(|e| FileError::Bundle(e.to_string()))?;
        let uri = format!(
            "{}/v1/faults/{}",
            self.public_url.trim_end_matches('/'),
            bundle_name(&signed.digest)
        );
        let filed = file_claim(
            &self.chain,
            &self.deployment,
            &signed.result,
            &signature,
            rendition,
            fault,
            report.evidence_hash,
            &uri,
        )
        .await;
        match filed {
            Ok(id) => {
                tracing::info!(claim = %id, orchestrator = %signed.result.orchestrator, fault = fault.name(), "fault claim filed");
                Ok(ClaimRecord {
                    claim_id: Some(id.saturating_to()),
                    refused: None,
                })
            }
            Err(ChainError::Refused { contract, reason }) => {
                tracing::warn!(contract, %reason, "fault claim refused");
                Ok(ClaimRecord {
                    claim_id: None,
                    refused: Some(format!("{contract}: {reason}")),
                })
            }
            Err(e) => Err(FileError::Chain(e)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error("fault bundle: {0}")]
    Bundle(String),
    #[error(transparent)]
    Chain(ChainError),
}
