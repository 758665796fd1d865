//! Who may use the provider's blob store and read its job logs ([`AgentAccess`]). Every upload
//! must be signed (the signer is recorded as the blob's owner); every read must be signed, and is
//! allowed to:
//! - this provider itself, and whoever uploaded the blob;
//! - for an output, a result manifest or a usage record this provider produced: the job's buyer
//!   only;
//! - for a job's spec and the blobs it names (image archive, inputs): the job's buyer, a provider
//!   holding a slot in it, and, while the job is open for slots or bids, any signer (a provider
//!   has to read a spec and its inputs before it can take a slot);
//! - a job's log: its buyer (and this provider).
//!
//! Anything else is 403 `forbidden`; an unsigned read is 401 `unauthorized`.

use std::sync::Arc;

use alloy::primitives::Address;
use alloy::providers::Provider;
use peerflow_compute::blob::{AccessFuture, BlobAccess, ReadAccess};
use peerflow_compute::escrow::codes;
use peerflow_compute::{Digest, JobSpec};

use crate::agent::{Agent, AgentError};

/// The blob store policy of a running provider.
pub struct AgentAccess<P>(pub Arc<Agent<P>>);

impl<P: Provider + Clone + 'static> BlobAccess for AgentAccess<P> {
    fn uploads_need_auth(&self) -> bool {
        true
    }

    fn uploaded(&self, digest: Digest, bytes: &[u8], by: Option<Address>) {
        if let Err(e) = self.0.blob_uploaded(digest, bytes, by) {
            tracing::warn!(blob = %digest, error = %e, "upload not recorded");
        }
    }

    fn may_read(&self, digest: Digest, reader: Option<Address>) -> AccessFuture<'_> {
        Box::pin(async move {
            let Some(reader) = reader else {
                return ReadAccess::Unauthenticated;
            };
            match self.0.may_read_blob(digest, reader).await {
                Ok(true) => ReadAccess::Allowed,
                Ok(false) => ReadAccess::Forbidden,
                Err(e) => {
                    tracing::warn!(blob = %digest, error = %e, "read access not decided");
                    ReadAccess::Forbidden
                }
            }
        })
    }
}

impl<P: Provider + Clone + 'static> Agent<P> {
    /// Records an upload: its owner, and, for a job spec, the blobs it names.
    pub(crate) fn blob_uploaded(
        &self,
        digest: Digest,
        bytes: &[u8],
        by: Option<Address>,
    ) -> Result<(), AgentError> {
        let store = self.store();
        if let Some(by) = by {
            store.add_owner(digest, by)?;
        }
        if let Ok(spec) = serde_json::from_slice::<JobSpec>(bytes) {
            let blobs: Vec<Digest> = spec.named_blobs().iter().map(|b| b.sha256).collect();
            store.add_spec_blobs(digest, &blobs)?;
        }
        Ok(())
    }

    /// Whether `reader` may read `digest` (see the module's rules).
    pub(crate) async fn may_read_blob(
        &self,
        digest: Digest,
        reader: Address,
    ) -> Result<bool, AgentError> {
        if reader == self.config().address || self.store().is_owner(digest, reader)? {
            return Ok(true);
        }
        let produced = self.store().jobs_producing(digest)?;
        for job in produced {
            if self.store().buyer_of(job)? == Some(reader) {
                return Ok(true);
            }
        }
        let mut jobs = self.jobs_naming(digest)?;
        if jobs.is_empty() {
            // A job created since the last look at the chain.
            self.sync_seen_jobs().await?;
            jobs = self.jobs_naming(digest)?;
        }
        if jobs.iter().any(|(_, buyer)| *buyer == reader) {
            return Ok(true);
        }
        for (job, _) in jobs {
            let state = self.escrow().job(job).await?;
            let open = state.status == codes::JOB_OPEN && state.filled < state.params.replicas;
            if open || state.status == codes::JOB_BIDDING {
                return Ok(true);
            }
            if self
                .escrow()
                .slots(job)
                .await?
                .iter()
                .any(|(p, _)| *p == reader)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether `reader` may read job `job_id`'s log: its buyer or this provider.
    pub(crate) async fn may_read_log(
        &self,
        job_id: u64,
        reader: Address,
    ) -> Result<bool, AgentError> {
        if reader == self.config().address {
            return Ok(true);
        }
        if self.store().buyer_of(job_id)?.is_none() {
            self.sync_seen_jobs().await?;
        }
        Ok(self.store().buyer_of(job_id)? == Some(reader))
    }

    /// The jobs seen whose spec is `digest` or names it, with their buyers.
    fn jobs_naming(&self, digest: Digest) -> Result<Vec<(u64, Address)>, AgentError> {
        let store = self.store();
        let mut jobs = Vec::new();
        for spec in store.specs_naming(digest)? {
            jobs.extend(store.jobs_with_spec(&spec)?);
        }
        Ok(jobs)
    }
}
