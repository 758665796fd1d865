//! The JobEscrow client: the calls buyers and providers make (each waits for its transaction and
//! fails on a revert, with the contract's custom error decoded where possible) and the reads and
//! event queries they watch jobs with.

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::{SolEvent, SolValue};
use peerflow_chain::ChainError;
use peerflow_chain::bindings::job_escrow::{IJobEscrow, JobEscrow};
use peerflow_chain::bindings::work_token::WorkToken;
use peerflow_chain::deploy::{event_in, execute};
use peerflow_chain::logscan::{LogScanner, scan_to_head};

pub use IJobEscrow::{Job, JobParams, Record, Slot};

/// Errors from escrow calls.
#[derive(Debug, thiserror::Error)]
pub enum EscrowError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("contract call failed: {0}")]
    Call(#[from] alloy::contract::Error),
    #[error("rpc: {0}")]
    Rpc(String),
    #[error("the receipt has no {0} event")]
    MissingEvent(&'static str),
}

/// Escrow calls from one account (`provider`'s wallet).
#[derive(Debug, Clone)]
pub struct Escrow<P> {
    escrow: JobEscrow::JobEscrowInstance<P>,
    token: WorkToken::WorkTokenInstance<P>,
    /// Where event scans start (the deployment block; 0 until [`Escrow::scanning_from`]).
    start_block: u64,
}

/// A `JobCreated` event.
#[derive(Debug, Clone)]
pub struct CreatedJob {
    pub job_id: u64,
    pub buyer: Address,
    pub params: JobParams,
    pub spec_uri: String,
    pub block: u64,
}

/// The sealed result a provider commits: keccak256(abi.encode(jobId, provider, resultHash, salt)).
/// Bound to the provider, so another replica cannot reveal a copy of it.
pub fn result_commitment(job_id: u64, provider: Address, result_hash: B256, salt: B256) -> B256 {
    keccak256((U256::from(job_id), provider, result_hash, salt).abi_encode())
}

/// A revealed result: its `ResultRevealed` event joined with the `ResultCommitted` that sealed it.
#[derive(Debug, Clone)]
pub struct CommittedResult {
    pub provider: Address,
    pub result_hash: B256,
    pub charge: U256,
    pub usage_hash: B256,
    pub uri: String,
}

/// A `SlotSettled` event: how one provider's slot ended.
#[derive(Debug, Clone)]
pub struct SettledSlot {
    pub provider: Address,
    pub outcome: u8,
    pub to_provider: U256,
    pub to_buyer: U256,
}

impl From<JobEscrow::SlotSettled> for SettledSlot {
    fn from(e: JobEscrow::SlotSettled) -> Self {
        Self {
            provider: e.provider,
            outcome: e.outcome,
            to_provider: e.toProvider,
            to_buyer: e.toBuyer,
        }
    }
}

impl<P: Provider + Clone> Escrow<P> {
    /// The escrow at `escrow`, paid in the ERC-20 at `token`.
    pub fn new(escrow: Address, token: Address, provider: P) -> Self {
        Self {
            escrow: JobEscrow::new(escrow, provider.clone()),
            token: WorkToken::new(token, provider),
            start_block: 0,
        }
    }

    /// Event scans start at `block` (the deployment's, `Deployment::scan_from`) instead of 0.
    pub fn scanning_from(mut self, block: u64) -> Self {
        self.start_block = block;
        self
    }

    /// Every log of `filter` from the deployment block to the head, in bounded windows.
    async fn scan<E: alloy::sol_types::SolEvent>(
        &self,
        filter: alloy::rpc::types::Filter,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<(E, alloy::rpc::types::Log)>, EscrowError> {
        let from = from.max(self.start_block);
        let logs = match to {
            Some(to) => {
                LogScanner::new(filter)
                    .scan(self.provider(), from, to)
                    .await
            }
            None => scan_to_head(self.provider(), filter, from).await,
        }
        .map_err(|e| EscrowError::Rpc(e.to_string()))?;
        Ok(logs
            .into_iter()
            .filter_map(|l| Some((E::decode_log(&l.inner).ok()?.data, l)))
            .collect())
    }

    /// The contract.
    pub fn address(&self) -> Address {
        *self.escrow.address()
    }

    /// The provider it calls through.
    pub fn provider(&self) -> &P {
        self.escrow.provider()
    }

    /// Approves `price × replicas` and creates the job; returns its id.
    pub async fn create(&self, params: JobParams, spec_uri: &str) -> Result<u64, EscrowError> {
        let total = U256::from(params.price) * U256::from(params.replicas);
        execute(self.token.approve(self.address(), total)).await?;
        let receipt = execute(self.escrow.createJob(params, spec_uri.to_owned())).await?;
        let created = event_in::<JobEscrow::JobCreated>(&receipt)
            .ok_or(EscrowError::MissingEvent("JobCreated"))?;
        Ok(created.jobId.to())
    }

    /// Approves `collateral` and takes a slot in a fixed-price job.
    pub async fn accept(&self, job_id: u64, collateral: U256) -> Result<(), EscrowError> {
        if !collateral.is_zero() {
            execute(self.token.approve(self.address(), collateral)).await?;
        }
        execute(self.escrow.accept(U256::from(job_id))).await?;
        Ok(())
    }

    /// Approves `collateral` and commits a sealed bid.
    pub async fn commit_bid(
        &self,
        job_id: u64,
        commitment: B256,
        collateral: U256,
    ) -> Result<(), EscrowError> {
        if !collateral.is_zero() {
            execute(self.token.approve(self.address(), collateral)).await?;
        }
        execute(self.escrow.commitBid(U256::from(job_id), commitment)).await?;
        Ok(())
    }

    pub async fn reveal_bid(
        &self,
        job_id: u64,
        price: u128,
        salt: B256,
    ) -> Result<(), EscrowError> {
        let price = alloy::primitives::Uint::<96, 2>::from(price);
        execute(self.escrow.revealBid(U256::from(job_id), price, salt)).await?;
        Ok(())
    }

    pub async fn close_auction(&self, job_id: u64) -> Result<(), EscrowError> {
        execute(self.escrow.closeAuction(U256::from(job_id))).await?;
        Ok(())
    }

    /// Commits a sealed result (see [`result_commitment`]).
    pub async fn commit_result(
        &self,
        job_id: u64,
        commitment: B256,
        charge: U256,
        usage_hash: B256,
    ) -> Result<TransactionReceipt, EscrowError> {
        let charge = alloy::primitives::Uint::<96, 2>::from(charge.to::<u128>());
        Ok(execute(
            self.escrow
                .commitResult(U256::from(job_id), commitment, charge, usage_hash),
        )
        .await?)
    }

    /// Opens a sealed result and publishes where it is served.
    pub async fn reveal_result(
        &self,
        job_id: u64,
        result_hash: B256,
        salt: B256,
        uri: &str,
    ) -> Result<TransactionReceipt, EscrowError> {
        Ok(execute(
            self.escrow
                .revealResult(U256::from(job_id), result_hash, salt, uri.to_owned()),
        )
        .await?)
    }

    /// Announces this account's API base URL for the job (`announceEndpoint`; it must hold a slot,
    /// Accepted or Committed, of an open job; `uri` 1..=256 bytes). Announcing again replaces it.
    pub async fn announce_endpoint(
        &self,
        job_id: u64,
        uri: &str,
    ) -> Result<TransactionReceipt, EscrowError> {
        Ok(execute(
            self.escrow
                .announceEndpoint(U256::from(job_id), uri.to_owned()),
        )
        .await?)
    }

    /// The endpoints announced for the job (`EndpointAnnounced`), the latest per provider, in the
    /// order the providers first announced. Node order is [`Escrow::providers_of`]'s, not this.
    pub async fn endpoints(&self, job_id: u64) -> Result<Vec<(Address, String)>, EscrowError> {
        let filter = self
            .escrow
            .EndpointAnnounced_filter()
            .topic1(U256::from(job_id))
            .filter;
        let logs = self
            .scan::<JobEscrow::EndpointAnnounced>(filter, 0, None)
            .await?;
        Ok(latest_per_provider(
            logs.into_iter().map(|(e, _)| (e.provider, e.uri)),
        ))
    }

    /// Every checkpoint reported for the job (`CheckpointReported`): provider, index, state.
    pub async fn checkpoint_reports(
        &self,
        job_id: u64,
    ) -> Result<Vec<(Address, u64, B256)>, EscrowError> {
        let filter = self
            .escrow
            .CheckpointReported_filter()
            .topic1(U256::from(job_id))
            .filter;
        let logs = self
            .scan::<JobEscrow::CheckpointReported>(filter, 0, None)
            .await?;
        Ok(logs
            .into_iter()
            .map(|(e, _)| (e.provider, e.index.to(), e.stateHash))
            .collect())
    }

    /// The providers holding slots (or bids) in the job, in order of arrival: a cooperative job's
    /// node order (node i is `providers_of(job)[i]`).
    pub async fn providers_of(&self, job_id: u64) -> Result<Vec<Address>, EscrowError> {
        Ok(self.escrow.providersOf(U256::from(job_id)).call().await?)
    }

    /// Until when (exclusive) sealed results of the job may be revealed.
    pub async fn result_reveal_deadline(&self, job_id: u64) -> Result<u64, EscrowError> {
        Ok(self
            .escrow
            .resultRevealDeadline(U256::from(job_id))
            .call()
            .await?
            .to())
    }

    /// How long the reveal window lasts once open.
    pub async fn reveal_period(&self) -> Result<u64, EscrowError> {
        Ok(self.escrow.REVEAL_PERIOD().call().await?.to())
    }

    pub async fn report_checkpoint(
        &self,
        job_id: u64,
        index: u64,
        state_hash: B256,
    ) -> Result<(), EscrowError> {
        execute(
            self.escrow
                .reportCheckpoint(U256::from(job_id), U256::from(index), state_hash),
        )
        .await?;
        Ok(())
    }

    pub async fn release_checkpoint(
        &self,
        job_id: u64,
        provider: Address,
    ) -> Result<(), EscrowError> {
        execute(self.escrow.releaseCheckpoint(U256::from(job_id), provider)).await?;
        Ok(())
    }

    pub async fn dispute(&self, job_id: u64, provider: Address) -> Result<(), EscrowError> {
        execute(self.escrow.dispute(U256::from(job_id), provider)).await?;
        Ok(())
    }

    pub async fn vote(&self, job_id: u64, provider: Address, pay: bool) -> Result<(), EscrowError> {
        execute(self.escrow.vote(U256::from(job_id), provider, pay)).await?;
        Ok(())
    }

    /// Settles the job; returns the settlement of each slot.
    pub async fn finalize(&self, job_id: u64) -> Result<Vec<SettledSlot>, EscrowError> {
        let receipt = execute(self.escrow.finalize(U256::from(job_id))).await?;
        Ok(receipt
            .inner
            .logs()
            .iter()
            .filter_map(|l| JobEscrow::SlotSettled::decode_log(&l.inner).ok())
            .map(|e| SettledSlot::from(e.data))
            .collect())
    }

    pub async fn cancel(&self, job_id: u64) -> Result<(), EscrowError> {
        execute(self.escrow.cancel(U256::from(job_id))).await?;
        Ok(())
    }

    pub async fn job(&self, job_id: u64) -> Result<Job, EscrowError> {
        Ok(self.escrow.getJob(U256::from(job_id)).call().await?)
    }

    pub async fn job_count(&self) -> Result<u64, EscrowError> {
        Ok(self.escrow.jobCount().call().await?.to())
    }

    /// The job's providers with their slots, in order of arrival.
    pub async fn slots(&self, job_id: u64) -> Result<Vec<(Address, Slot)>, EscrowError> {
        let id = U256::from(job_id);
        let providers = self.escrow.providersOf(id).call().await?;
        let mut out = Vec::with_capacity(providers.len());
        for p in providers {
            out.push((p, self.escrow.getSlot(id, p).call().await?));
        }
        Ok(out)
    }

    pub async fn record(&self, provider: Address) -> Result<Record, EscrowError> {
        Ok(self.escrow.recordOf(provider).call().await?)
    }

    pub async fn finalizable_at(&self, job_id: u64) -> Result<u64, EscrowError> {
        Ok(self
            .escrow
            .finalizableAt(U256::from(job_id))
            .call()
            .await?
            .to())
    }

    /// The latest block's number and timestamp (the escrow's clock).
    pub async fn chain_time(&self) -> Result<(u64, u64), EscrowError> {
        let block = self
            .provider()
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(|e| EscrowError::Rpc(e.to_string()))?
            .ok_or_else(|| EscrowError::Rpc("no latest block".into()))?;
        Ok((block.header.number, block.header.timestamp))
    }

    /// Jobs created in blocks `from..=to`.
    pub async fn created(&self, from: u64, to: u64) -> Result<Vec<CreatedJob>, EscrowError> {
        let filter = self.escrow.JobCreated_filter().filter;
        let logs = self
            .scan::<JobEscrow::JobCreated>(filter, from, Some(to))
            .await?;
        Ok(logs
            .into_iter()
            .map(|(e, log)| CreatedJob {
                job_id: e.jobId.to(),
                buyer: e.buyer,
                params: e.params,
                spec_uri: e.specUri,
                block: log.block_number.unwrap_or(from),
            })
            .collect())
    }

    /// A job as its `JobCreated` event told it.
    pub async fn created_job(&self, job_id: u64) -> Result<CreatedJob, EscrowError> {
        let filter = self
            .escrow
            .JobCreated_filter()
            .topic1(U256::from(job_id))
            .filter;
        let logs = self.scan::<JobEscrow::JobCreated>(filter, 0, None).await?;
        logs.into_iter()
            .next()
            .map(|(e, log)| CreatedJob {
                job_id,
                buyer: e.buyer,
                params: e.params,
                spec_uri: e.specUri,
                block: log.block_number.unwrap_or_default(),
            })
            .ok_or(EscrowError::MissingEvent("JobCreated"))
    }

    /// The results revealed for a job so far, each with the charge and usage hash it was committed
    /// with (sealed results not yet revealed are not listed: nobody knows them).
    pub async fn results(&self, job_id: u64) -> Result<Vec<CommittedResult>, EscrowError> {
        let commits_filter = self
            .escrow
            .ResultCommitted_filter()
            .topic1(U256::from(job_id))
            .filter;
        let commits = self
            .scan::<JobEscrow::ResultCommitted>(commits_filter, 0, None)
            .await?;
        let reveals_filter = self
            .escrow
            .ResultRevealed_filter()
            .topic1(U256::from(job_id))
            .filter;
        let reveals = self
            .scan::<JobEscrow::ResultRevealed>(reveals_filter, 0, None)
            .await?;
        Ok(reveals
            .into_iter()
            .filter_map(|(r, _)| {
                let (c, _) = commits.iter().find(|(c, _)| c.provider == r.provider)?;
                Some(CommittedResult {
                    provider: r.provider,
                    result_hash: r.resultHash,
                    charge: U256::from(c.charge),
                    usage_hash: c.usageHash,
                    uri: r.uri,
                })
            })
            .collect())
    }

    /// How each slot of a finalized job ended.
    pub async fn settlements(&self, job_id: u64) -> Result<Vec<SettledSlot>, EscrowError> {
        let filter = self
            .escrow
            .SlotSettled_filter()
            .topic1(U256::from(job_id))
            .filter;
        let logs = self.scan::<JobEscrow::SlotSettled>(filter, 0, None).await?;
        Ok(logs
            .into_iter()
            .map(|(e, _)| SettledSlot::from(e))
            .collect())
    }

    /// The token balance of `who`.
    pub async fn balance_of(&self, who: Address) -> Result<U256, EscrowError> {
        Ok(self.token.balanceOf(who).call().await?)
    }
}

/// The last URI of each provider, in the order the providers first appear.
fn latest_per_provider(
    announcements: impl IntoIterator<Item = (Address, String)>,
) -> Vec<(Address, String)> {
    let mut out: Vec<(Address, String)> = Vec::new();
    for (provider, uri) in announcements {
        match out.iter_mut().find(|(p, _)| *p == provider) {
            Some(entry) => entry.1 = uri,
            None => out.push((provider, uri)),
        }
    }
    out
}

/// The escrow's enum values as the bindings carry them (`u8`), by name.
pub mod codes {
    /// `Mode.SealedBid` (`Mode.Fixed` is 0).
    pub const MODE_SEALED_BID: u8 = 1;
    /// `JobStatus.None`: no such job.
    pub const JOB_NONE: u8 = 0;
    pub const JOB_BIDDING: u8 = 1;
    pub const JOB_OPEN: u8 = 2;
    pub const JOB_FINALIZED: u8 = 3;
    pub const JOB_CANCELLED: u8 = 4;
    /// `SlotStatus.Bid` and `SlotStatus.Revealed`: a sealed bid, not a slot.
    pub const SLOT_BID: u8 = 1;
    pub const SLOT_REVEALED: u8 = 2;
    pub const SLOT_ACCEPTED: u8 = 3;
    pub const SLOT_COMMITTED: u8 = 4;
    /// `SlotStatus.Lost`: a sealed bid not awarded.
    pub const SLOT_LOST: u8 = 9;
    /// The first settled `SlotStatus` (Paid, Slashed, Refunded and Lost follow).
    pub const SLOT_PAID: u8 = 6;

    /// Whether a slot status is final.
    pub fn slot_settled(status: u8) -> bool {
        status >= SLOT_PAID
    }

    /// Whether a job status is final.
    pub fn job_ended(status: u8) -> bool {
        status == JOB_FINALIZED || status == JOB_CANCELLED
    }
}

/// Names of [`IJobEscrow::SlotStatus`] values, for CLIs and logs.
pub fn slot_status_name(status: u8) -> &'static str {
    match status {
        0 => "none",
        1 => "bid",
        2 => "revealed",
        3 => "accepted",
        4 => "committed",
        5 => "disputed",
        6 => "paid",
        7 => "slashed",
        8 => "refunded",
        9 => "lost",
        _ => "unknown",
    }
}

/// Names of [`IJobEscrow::JobStatus`] values.
pub fn job_status_name(status: u8) -> &'static str {
    match status {
        0 => "none",
        1 => "bidding",
        2 => "open",
        3 => "finalized",
        4 => "cancelled",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_announcement_of_each_provider_wins() {
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let got = latest_per_provider([
            (a, "http://a1".to_owned()),
            (b, "http://b1".to_owned()),
            (a, "http://a2".to_owned()),
        ]);
        assert_eq!(
            got,
            vec![(a, "http://a2".to_owned()), (b, "http://b1".to_owned())]
        );
        assert!(latest_per_provider([]).is_empty());
    }
}
