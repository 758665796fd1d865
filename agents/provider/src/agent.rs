//! The provider's loop. Each tick: scan new `JobCreated` events and take the jobs that fit; run
//! accepted jobs; commit finished results; finalize committed jobs once the escrow allows and
//! record how this provider's slot ended. All progress is in [`ProviderStore`].

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256, Uint, keccak256};
use alloy::providers::Provider;
use alloy::sol_types::SolValue;
use peerflow_compute::blob::Fetch;
use peerflow_compute::escrow::{
    CreatedJob, Escrow, EscrowError, JobParams, codes, result_commitment, slot_status_name,
};
use peerflow_compute::manifest::{ManifestFile, RateCard, UsageRecord};
use peerflow_compute::{
    BlobClient, BlobStore, Digest, JobSpec, Resources, ResultManifest, Workload,
};

use crate::executor::{Execution, Executor, JobContext};
use crate::joblog::JobLog;
use crate::metrics;
use crate::store::{JobPhase, ProviderStore, StoreError};
use peerflow_protocol::metrics::Metrics;

/// Largest spec document a provider reads.
pub const MAX_SPEC_BYTES: u64 = 1 << 20;

/// What the provider offers and accepts.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// This provider's account (the wallet the escrow client sends from).
    pub address: Address,
    /// Base URL of this provider's HTTP API, published with every result.
    pub public_url: String,
    pub data_dir: PathBuf,
    /// The most one job may ask for.
    pub offer: Resources,
    /// Jobs paying less per replica are skipped.
    pub min_price: U256,
    /// Jobs asking more collateral are skipped.
    pub max_collateral: U256,
    /// Per-resource prices; a result's charge is rates · usage, capped at the slot's price. All
    /// zero: charge the full price.
    pub rates: RateCard,
    /// How often to look at the chain.
    pub poll: Duration,
    /// Jobs run at once; jobs that fit while all are busy wait (deferred) for a free one.
    pub max_jobs: usize,
    /// Arbiters this provider accepts. A dispute is decided by two of buyer, provider and the
    /// job's arbiter, so a buyer naming its own arbiter could slash this provider at will: jobs
    /// naming any other arbiter are skipped.
    pub arbiters: Vec<Address>,
    /// Whether jobs asking for a network (`network: true`) are taken at all; when not, they are
    /// skipped with `network_not_allowed`. Such a job joins the runner's own bridge
    /// ([`peerflow_runner::JOB_NETWORK`], no traffic between containers) and reaches whatever the
    /// host routes to, the host itself included.
    pub allow_network_jobs: bool,
    /// Whether buyer-supplied URLs (the spec URI, blob sources) may name private, loopback or
    /// link-local addresses: for a devnet or tests only. Off, such a URL is never fetched (nor
    /// any redirect to one) and the job is skipped with a reason code.
    pub allow_private_urls: bool,
    /// This provider's key, signing its requests to other blob stores (which let only signed
    /// readers fetch a job's spec and inputs). `None`: unsigned requests.
    pub request_key: Option<peerflow_protocol::blobauth::RequestKey>,
    /// A dishonest provider, for the tests of the escrow's majority rule: one digit of each
    /// result's first file is changed before it is published and committed. Never set by the
    /// binary's options.
    pub tamper_results: bool,
}

/// Errors of one tick (the loop logs them and goes on).
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Escrow(#[from] EscrowError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("blob: {0}")]
    Blob(#[from] peerflow_compute::BlobError),
    #[error("{0}")]
    Other(String),
}

impl AgentError {
    /// Machine-readable kind, for the metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Escrow(_) => "escrow",
            Self::Store(_) => "store",
            Self::Blob(_) => "blob",
            Self::Other(_) => "other",
        }
    }
}

/// Executors by workload kind.
#[derive(Clone, Default)]
pub struct Executors {
    pub container: Option<Arc<dyn Executor>>,
    pub vod: Option<Arc<dyn Executor>>,
}

/// A running provider.
pub struct Agent<P> {
    cfg: ProviderConfig,
    escrow: Escrow<P>,
    store: Mutex<ProviderStore>,
    blobs: BlobStore,
    client: BlobClient,
    executors: Executors,
    running: Mutex<HashSet<u64>>,
    metrics: Arc<Metrics>,
    /// The consensus relay of cooperative jobs (needs the provider's signing key).
    relay: Option<Arc<peerflow_dac::Relay>>,
}

impl<P: Provider + Clone + 'static> Agent<P> {
    /// Opens the provider's store and blob directory under `cfg.data_dir`.
    pub fn new(
        cfg: ProviderConfig,
        escrow: Escrow<P>,
        executors: Executors,
    ) -> Result<Self, AgentError> {
        std::fs::create_dir_all(&cfg.data_dir).map_err(|e| AgentError::Other(e.to_string()))?;
        let store = ProviderStore::open(&cfg.data_dir.join("provider.sqlite"))?;
        let blobs = BlobStore::open(cfg.data_dir.join("blobs"))?;
        let metrics = Arc::new(Metrics::new());
        metrics::init(&metrics);
        let cfg_relay = cfg
            .request_key
            .clone()
            .map(|key| peerflow_dac::Relay::new(key, cfg.allow_private_urls));
        let client = match &cfg.request_key {
            Some(key) => BlobClient::guarded(cfg.allow_private_urls).with_key(key.clone()),
            None => BlobClient::guarded(cfg.allow_private_urls),
        };
        Ok(Self {
            cfg,
            escrow,
            store: Mutex::new(store),
            blobs,
            client,
            executors,
            running: Mutex::new(HashSet::new()),
            metrics,
            relay: cfg_relay,
        })
    }

    /// This provider's metrics (see [`crate::metrics`]).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.cfg
    }

    /// The job's row, if this provider has looked at it.
    pub fn job(&self, job_id: u64) -> Result<Option<crate::JobRow>, StoreError> {
        self.store().get(job_id)
    }

    pub(crate) fn escrow(&self) -> &Escrow<P> {
        &self.escrow
    }

    /// The consensus relay (cooperative jobs), when this provider signs its requests.
    pub fn relay(&self) -> Option<&Arc<peerflow_dac::Relay>> {
        self.relay.as_ref()
    }

    /// Fetches `blob` into the store unless it is there.
    pub(crate) async fn fetch_blob(
        &self,
        blob: &peerflow_compute::BlobRef,
    ) -> Result<(), AgentError> {
        if !self.blobs.contains(blob.sha256) {
            let bytes = self.client.fetch(blob, &[]).await?;
            self.blobs.put(&bytes)?;
        }
        Ok(())
    }

    /// Records the jobs created since the last look (their spec and buyer), for the blob store's
    /// access policy.
    pub(crate) async fn sync_seen_jobs(&self) -> Result<(), AgentError> {
        let head = self.escrow.chain_time().await?.0;
        let from = self.store().seen_cursor()?.map_or(0, |c| c + 1);
        if from > head {
            return Ok(());
        }
        for job in self.escrow.created(from, head).await? {
            self.store()
                .record_seen(job.job_id, Digest::from(job.params.specHash), job.buyer)?;
        }
        self.store().set_seen_cursor(head)?;
        Ok(())
    }

    pub(crate) fn store(&self) -> std::sync::MutexGuard<'_, ProviderStore> {
        self.store.lock().expect("store lock")
    }

    fn logs_dir(&self) -> PathBuf {
        self.cfg.data_dir.join("logs")
    }

    /// Directory of the per-job logs.
    pub fn log_path(&self, job_id: u64) -> PathBuf {
        crate::joblog::log_path(&self.logs_dir(), job_id)
    }

    /// Ticks every `poll` until `shutdown` resolves.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.tick().await {
                metrics::error(&self.metrics, "loop", e.code());
                tracing::warn!(error = %e, "provider tick failed");
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(self.cfg.poll) => {}
            }
        }
    }

    /// One pass: new jobs, runs to start, results to commit, jobs to settle. Runs are spawned;
    /// [`Agent::idle`] tells when none is in flight.
    pub async fn tick(self: &Arc<Self>) -> Result<(), AgentError> {
        let (head, now) = self.escrow.chain_time().await?;
        let from = self.store().cursor()?.map_or(0, |c| c + 1);
        if from <= head {
            for job in self.escrow.created(from, head).await? {
                self.store().record_seen(
                    job.job_id,
                    Digest::from(job.params.specHash),
                    job.buyer,
                )?;
                if self.store().get(job.job_id)?.is_none() {
                    self.consider(job, now).await?;
                }
            }
            self.store().set_cursor(head)?;
            if self.store().seen_cursor()?.is_none_or(|c| c < head) {
                self.store().set_seen_cursor(head)?;
            }
        }
        let deferred = self.store().in_phase(JobPhase::Deferred)?;
        for row in deferred {
            if self.busy()? {
                break;
            }
            let job = self.escrow.created_job(row.job_id).await?;
            self.consider(job, now).await?;
        }
        for phase in [JobPhase::Bid, JobPhase::Revealed] {
            let rows = self.store().in_phase(phase)?;
            for row in rows {
                self.auction(row.job_id, phase, now).await?;
            }
        }
        let accepted = self.store().in_phase(JobPhase::Accepted)?;
        for row in accepted {
            if self.running.lock().expect("running").insert(row.job_id) {
                let me = Arc::clone(self);
                tokio::spawn(async move {
                    let id = row.job_id;
                    if let Err(e) = me.run_job(id).await {
                        tracing::warn!(job = id, error = %e, "job run failed; will retry");
                    }
                    me.running.lock().expect("running").remove(&id);
                });
            }
        }
        let sealed = self.store().in_phase(JobPhase::Sealed)?;
        for row in sealed {
            self.reveal(&row, now).await?;
        }
        let committed = self.store().in_phase(JobPhase::Committed)?;
        for row in committed {
            self.settle(row.job_id, now).await?;
        }
        Ok(())
    }

    /// Reveals a sealed result once the escrow's reveal window is open (every slot committed, or
    /// the deadline passed) and before it closes; a missed window leaves the slot to settlement.
    async fn reveal(&self, row: &crate::JobRow, now: u64) -> Result<(), AgentError> {
        let id = row.job_id;
        let until = self.escrow.result_reveal_deadline(id).await?;
        let opens = until.saturating_sub(self.escrow.reveal_period().await?);
        if now < opens {
            return Ok(());
        }
        if now >= until {
            tracing::warn!(
                job = id,
                "reveal window missed; the sealed result will not be paid"
            );
            self.store()
                .set(id, JobPhase::Committed, "reveal window missed", None)?;
            return Ok(());
        }
        let result = parse(row.result.as_deref().unwrap_or_default())?;
        let salt: B256 = self
            .store()
            .result_salt(id)?
            .ok_or_else(|| AgentError::Other("sealed result without its salt".into()))?
            .parse()
            .map_err(|_| AgentError::Other("corrupt result salt".into()))?;
        if let Err(e) = self
            .escrow
            .reveal_result(id, result.to_b256(), salt, &self.cfg.public_url)
            .await
        {
            // The window may not be open yet in the block the reveal lands in; tried again next tick.
            tracing::debug!(job = id, error = %e, "reveal not done");
            return Ok(());
        }
        tracing::info!(job = id, result = %result, "result revealed");
        self.store().set(id, JobPhase::Committed, "", None)?;
        metrics::job(&self.metrics, "revealed");
        Ok(())
    }

    /// Whether no run is in flight.
    pub fn idle(&self) -> bool {
        self.running.lock().expect("running").is_empty()
    }

    /// Whether every job slot of this provider is taken.
    fn busy(&self) -> Result<bool, AgentError> {
        Ok(self.store().in_phase(JobPhase::Accepted)?.len() >= self.cfg.max_jobs.max(1))
    }

    /// Leaves a job alone. `why` is a reason code (shown in the public job view and counted by
    /// reason in the metrics), never an error's text, which may name internal URLs or addresses.
    fn skip(&self, job_id: u64, why: &'static str) -> Result<(), AgentError> {
        tracing::info!(job = job_id, reason = why, "job skipped");
        self.store().set(job_id, JobPhase::Skipped, why, None)?;
        metrics::job(&self.metrics, "skipped");
        metrics::skipped(&self.metrics, why);
        Ok(())
    }

    /// Decides on a new job: it must fit, pay enough, and its spec and inputs must be fetchable;
    /// then takes a slot.
    async fn consider(&self, job: CreatedJob, now: u64) -> Result<(), AgentError> {
        let id = job.job_id;
        let p = &job.params;
        let r = &p.resources;
        let offer = &self.cfg.offer;
        let fits = r.milliCpus <= offer.milli_cpus
            && r.memoryMb <= offer.memory_mb
            && r.diskMb <= offer.disk_mb
            && r.gpus <= offer.gpus;
        if job.buyer == self.cfg.address {
            return self.skip(id, "own_job");
        }
        if !self.cfg.arbiters.contains(&p.arbiter) {
            return self.skip(id, "arbiter_not_trusted");
        }
        if !fits {
            return self.skip(id, "resources_over_offer");
        }
        if U256::from(p.price) < self.cfg.min_price {
            return self.skip(id, "price_below_minimum");
        }
        if U256::from(p.collateral) > self.cfg.max_collateral {
            return self.skip(id, "collateral_above_maximum");
        }
        let state = self.escrow.job(id).await?;
        let sealed = p.mode == codes::MODE_SEALED_BID;
        if sealed && (state.status != codes::JOB_BIDDING || now >= p.bidDeadline) {
            return self.skip(id, "bidding_closed");
        }
        if !sealed && (state.status != codes::JOB_OPEN || state.filled >= p.replicas) {
            return self.skip(id, "not_open_or_full");
        }
        if self.busy()? {
            tracing::info!(job = id, "all job slots busy; deferred");
            // Counted once, when first deferred (a deferred job is reconsidered every tick).
            let first = self
                .store()
                .get(id)?
                .is_none_or(|row| row.phase != JobPhase::Deferred);
            self.store()
                .set(id, JobPhase::Deferred, "all job slots busy", None)?;
            if first {
                metrics::job(&self.metrics, "deferred");
            }
            return Ok(());
        }
        let record = self.escrow.record(self.cfg.address).await?;
        if record.completed < u64::from(p.minCompleted) {
            return self.skip(id, "record_below_minimum");
        }
        let spec = match self.fetch_spec(&job).await {
            Ok(s) => s,
            Err(why) => return self.skip(id, why),
        };
        if matches!(spec.workload, Workload::Container { network: true, .. })
            && !self.cfg.allow_network_jobs
        {
            return self.skip(id, "network_not_allowed");
        }
        if spec.resources
            != (Resources {
                milli_cpus: r.milliCpus,
                memory_mb: r.memoryMb,
                disk_mb: r.diskMb,
                gpus: r.gpus,
            })
        {
            return self.skip(id, "spec_resources_mismatch");
        }
        // A sealed-bid job runs only once its auction closed.
        let starts = if sealed {
            now.max(p.revealDeadline)
        } else {
            now
        };
        // A cooperative job may first wait for its peers up to its join timeout.
        let join = spec
            .cooperative
            .as_ref()
            .map_or(0, |c| u64::from(c.join_timeout_secs));
        if starts + join + spec.timeout_secs >= p.deadline {
            return self.skip(id, "deadline_too_close");
        }
        if spec
            .cooperative
            .as_ref()
            .is_some_and(|c| c.nodes != p.replicas)
        {
            return self.skip(id, "cooperative_nodes_mismatch");
        }
        let supported = match spec.workload {
            Workload::Container { .. } => self.executors.container.is_some(),
            Workload::Vod { .. } => self.executors.vod.is_some(),
        };
        if !supported {
            return self.skip(id, "workload_not_offered");
        }
        if spec.cooperative.is_some() && self.relay.is_none() {
            return self.skip(id, "cooperative_not_offered");
        }
        // Every blob the job names, a cooperative job's shards included: which node this provider
        // will be is known only once the slots are taken, and a shard that cannot be fetched
        // after accepting would cost the collateral.
        for blob in spec.named_blobs() {
            if self.blobs.contains(blob.sha256) {
                continue;
            }
            match self.client.fetch(blob, &[]).await {
                Ok(bytes) => {
                    self.blobs.put(&bytes)?;
                }
                Err(e) => {
                    tracing::info!(job = id, blob = %blob.sha256, error = %e, "input not fetched");
                    return self.skip(id, input_reason(&e));
                }
            }
        }
        if sealed {
            return self.bid(id, p).await;
        }
        match self.escrow.accept(id, U256::from(p.collateral)).await {
            Ok(()) => {
                tracing::info!(job = id, "slot accepted");
                self.store().set(id, JobPhase::Accepted, "", None)?;
                metrics::job(&self.metrics, "accepted");
                if spec.cooperative.is_some()
                    && let Err(e) = self.announce(id).await
                {
                    // Tried again before the run starts.
                    tracing::warn!(job = id, error = %e, "endpoint not announced yet");
                }
                Ok(())
            }
            Err(e) => {
                tracing::info!(job = id, error = %e, "accept failed");
                self.skip(id, "accept_failed")
            }
        }
    }

    /// Commits a sealed bid at this provider's minimum price: in a reverse Vickrey auction the
    /// winner is paid the lowest losing bid, so bidding one's true cost is the best strategy.
    async fn bid(&self, id: u64, p: &JobParams) -> Result<(), AgentError> {
        let price: u128 = self.cfg.min_price.to();
        let salt = B256::random();
        let commitment = keccak256(
            (
                U256::from(id),
                self.cfg.address,
                Uint::<96, 2>::from(price),
                salt,
            )
                .abi_encode(),
        );
        self.store().set_bid(id, price, &salt.to_string())?;
        match self
            .escrow
            .commit_bid(id, commitment, U256::from(p.collateral))
            .await
        {
            Ok(()) => {
                tracing::info!(job = id, price, "sealed bid committed");
                self.store().set(id, JobPhase::Bid, "", None)?;
                metrics::job(&self.metrics, "bid");
                Ok(())
            }
            Err(e) => {
                tracing::info!(job = id, error = %e, "bid failed");
                self.skip(id, "bid_failed")
            }
        }
    }

    /// Moves sealed bids on: reveal in the reveal window, then close the auction (anyone may) and
    /// take the slot if won.
    async fn auction(&self, id: u64, phase: JobPhase, now: u64) -> Result<(), AgentError> {
        let job = self.escrow.job(id).await?;
        let p = &job.params;
        if phase == JobPhase::Bid {
            if now < p.bidDeadline {
                return Ok(());
            }
            if now >= p.revealDeadline {
                self.store()
                    .set(id, JobPhase::Settled, "lost: not revealed in time", None)?;
                metrics::settled(&self.metrics, "lost");
                return Ok(());
            }
            let (price, salt) = self
                .store()
                .bid(id)?
                .ok_or_else(|| AgentError::Other("bid without its salt".into()))?;
            let salt: B256 = salt
                .parse()
                .map_err(|_| AgentError::Other("corrupt bid salt".into()))?;
            self.escrow.reveal_bid(id, price, salt).await?;
            tracing::info!(job = id, price, "sealed bid revealed");
            self.store().set(id, JobPhase::Revealed, "", None)?;
            return Ok(());
        }
        if now < p.revealDeadline {
            return Ok(());
        }
        if job.status == codes::JOB_BIDDING
            && let Err(e) = self.escrow.close_auction(id).await
        {
            tracing::debug!(job = id, error = %e, "closeAuction not done");
            return Ok(());
        }
        let status = self
            .escrow
            .slots(id)
            .await?
            .into_iter()
            .find(|(a, _)| *a == self.cfg.address)
            .map(|(_, s)| s.status);
        match status {
            Some(codes::SLOT_ACCEPTED) => {
                tracing::info!(job = id, "auction won; slot taken");
                self.store()
                    .set(id, JobPhase::Accepted, "won the auction", None)?;
                metrics::job(&self.metrics, "accepted");
            }
            Some(s) if codes::slot_settled(s) => {
                self.store()
                    .set(id, JobPhase::Settled, slot_status_name(s), None)?;
                metrics::settled(&self.metrics, slot_status_name(s));
            }
            _ => {}
        }
        Ok(())
    }

    /// The job's spec, checked against its hash; on failure, the reason code to skip it with
    /// (the details are logged, not published).
    async fn fetch_spec(&self, job: &CreatedJob) -> Result<JobSpec, &'static str> {
        let expected = Digest::from(job.params.specHash);
        let stored = self.blobs.get(expected).map_err(|e| {
            tracing::warn!(job = job.job_id, error = %e, "spec blob unreadable");
            "storage"
        })?;
        let bytes = match stored {
            Some(b) => b,
            None => self
                .client
                .get_bounded(&job.spec_uri, MAX_SPEC_BYTES)
                .await
                .map_err(|e| {
                    tracing::info!(job = job.job_id, uri = job.spec_uri, error = %e, "spec not fetched");
                    match e {
                        Fetch::TooLarge(_) => "spec_too_large",
                        Fetch::Refused(r) if r.code() == "url_not_public" => "spec_url_not_public",
                        Fetch::Refused(_) => "spec_url_invalid",
                        Fetch::Failed(_) => "spec_unavailable",
                    }
                })?,
        };
        let spec = JobSpec::from_bytes_checked(&bytes, expected).map_err(|e| {
            tracing::info!(job = job.job_id, error = %e, "spec refused");
            match e {
                peerflow_compute::SpecError::HashMismatch { .. } => "spec_hash_mismatch",
                _ => "spec_invalid",
            }
        })?;
        let names: Vec<Digest> = spec.named_blobs().iter().map(|b| b.sha256).collect();
        let stored = self
            .blobs
            .put(&bytes)
            .map_err(AgentError::from)
            .and_then(|_| Ok(self.store().add_spec_blobs(expected, &names)?));
        stored.map_err(|e| {
            tracing::warn!(job = job.job_id, error = %e, "spec blob not stored");
            "storage"
        })?;
        Ok(spec)
    }

    /// Runs an accepted job (or, when its result is already stored, only commits it).
    async fn run_job(&self, id: u64) -> Result<(), AgentError> {
        let row = self
            .store()
            .get(id)?
            .ok_or_else(|| AgentError::Other("no row".into()))?;
        let state = self.escrow.job(id).await?;
        let (result, usage) = match (row.result, row.usage) {
            (Some(r), Some(u)) => (parse(&r)?, parse(&u)?),
            _ => {
                let spec_hash = Digest::from(state.params.specHash);
                let spec_bytes = self
                    .blobs
                    .get(spec_hash)?
                    .ok_or_else(|| AgentError::Other("spec blob missing".into()))?;
                let spec = JobSpec::from_bytes_checked(&spec_bytes, spec_hash)
                    .map_err(|e| AgentError::Other(e.to_string()))?;
                let executor = match spec.workload {
                    Workload::Container { .. } => self.executors.container.clone(),
                    Workload::Vod { .. } => self.executors.vod.clone(),
                }
                .ok_or_else(|| AgentError::Other("no executor".into()))?;
                let work = tempfile::tempdir_in(&self.cfg.data_dir)
                    .map_err(|e| AgentError::Other(e.to_string()))?;
                // A cooperative job's node joins its peers first; it leaves when `joined` drops.
                let joined = match &spec.cooperative {
                    Some(coop) => Some(self.join_group(id, coop, spec.timeout_secs).await?),
                    None => None,
                };
                let ctx = JobContext {
                    job_id: id,
                    spec,
                    spec_hash,
                    blobs: self.blobs.clone(),
                    work_dir: work.path().to_path_buf(),
                    log: JobLog::open(&self.logs_dir(), id)
                        .map_err(|e| AgentError::Other(e.to_string()))?,
                    node: joined.as_ref().map(|j| j.ctx.clone()),
                };
                tracing::info!(job = id, "running");
                let workload = match ctx.spec.workload {
                    Workload::Container { .. } => "container",
                    Workload::Vod { .. } => "vod",
                };
                let started = Instant::now();
                let running = metrics::Running::start(&self.metrics);
                let mut executed = executor.execute(&ctx).await;
                if let (Some(j), Ok(x)) = (&joined, &mut executed) {
                    // A cooperative node commits its agreement, not the container's files.
                    match j.result() {
                        Some(file) => {
                            x.outputs = vec![file];
                            x.exit_code = 0;
                        }
                        None => {
                            executed = Err(crate::executor::ExecError::Failed(
                                "the node reached no agreement".into(),
                            ))
                        }
                    }
                }
                drop(joined);
                drop(running);
                metrics::job_seconds(&self.metrics, workload, started.elapsed().as_secs_f64());
                let execution = match executed {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(job = id, error = %e, "run failed; no result committed");
                        ctx.log.line("provider", &format!("run failed: {e}"));
                        self.store().set(id, JobPhase::Failed, e.code(), None)?;
                        metrics::job(&self.metrics, "failed");
                        return Ok(());
                    }
                };
                let (result, usage) =
                    self.publish(id, spec_hash, execution, U256::from(state.clearingPrice))?;
                self.store().set(
                    id,
                    JobPhase::Accepted,
                    "result ready",
                    Some((&result.to_hex(), &usage.to_hex())),
                )?;
                (result, usage)
            }
        };
        let record: UsageRecord = serde_json::from_slice(
            &self
                .blobs
                .get(usage)?
                .ok_or_else(|| AgentError::Other("usage blob missing".into()))?,
        )
        .map_err(|e| AgentError::Other(e.to_string()))?;
        let (_, now) = self.escrow.chain_time().await?;
        if now > state.params.deadline {
            self.store()
                .set(id, JobPhase::Failed, "finished after the deadline", None)?;
            metrics::job(&self.metrics, "failed");
            return Ok(());
        }
        // Commit–reveal: only a hash bound to this provider and a secret salt goes on-chain now, so
        // no other replica can copy the result; the salt is stored before the commit is sent.
        let salt: B256 = self
            .store()
            .result_salt_or(id, &B256::random().to_string())?
            .parse()
            .map_err(|_| AgentError::Other("corrupt result salt".into()))?;
        let commitment = result_commitment(id, self.cfg.address, result.to_b256(), salt);
        let on_chain = self
            .escrow
            .slots(id)
            .await?
            .into_iter()
            .find(|(a, _)| *a == self.cfg.address)
            .map(|(_, s)| s.resultCommitment);
        if on_chain == Some(commitment) {
            // Committed before a restart that came before the store recorded it.
            self.store().set(id, JobPhase::Sealed, "", None)?;
            return Ok(());
        }
        self.escrow
            .commit_result(id, commitment, record.charge, usage.to_b256())
            .await?;
        tracing::info!(job = id, result = %result, charge = %record.charge, "result committed sealed");
        self.store().set(id, JobPhase::Sealed, "", None)?;
        metrics::job(&self.metrics, "committed");
        Ok(())
    }

    /// Stores the outputs, the manifest and the usage record as blobs; returns the manifest's and
    /// the usage record's hashes.
    fn publish(
        &self,
        id: u64,
        spec: Digest,
        x: Execution,
        price: U256,
    ) -> Result<(Digest, Digest), AgentError> {
        let mut x = x;
        if self.cfg.tamper_results
            && let Some(d) = x
                .outputs
                .first_mut()
                .and_then(|(_, bytes)| bytes.iter_mut().find(|b| b.is_ascii_digit()))
        {
            *d = b'0' + (*d - b'0' + 1) % 10;
        }
        let mut files = Vec::with_capacity(x.outputs.len());
        for (path, bytes) in &x.outputs {
            let sha256 = self.blobs.put(bytes)?;
            self.store().add_job_output(sha256, id)?;
            files.push(ManifestFile {
                path: path.clone(),
                sha256,
                size: bytes.len() as u64,
            });
        }
        let manifest = ResultManifest::new(spec, x.exit_code, files);
        let result = self.blobs.put(&manifest.to_bytes())?;
        self.store().add_job_output(result, id)?;
        let quote = self.cfg.rates.quote(&x.usage);
        let charge = if self.cfg.rates.is_unpriced() {
            price
        } else {
            quote.min(price)
        };
        let record = UsageRecord {
            job_id: id,
            provider: self.cfg.address,
            rates: self.cfg.rates,
            usage: x.usage,
            quote,
            charge,
        };
        let usage = self.blobs.put(&record.to_bytes())?;
        self.store().add_job_output(usage, id)?;
        Ok((result, usage))
    }

    /// Finalizes a committed job once the escrow allows it, then records this slot's outcome.
    async fn settle(&self, id: u64, now: u64) -> Result<(), AgentError> {
        let job = self.escrow.job(id).await?;
        if job.status == codes::JOB_OPEN {
            if now < self.escrow.finalizable_at(id).await? {
                return Ok(());
            }
            if let Err(e) = self.escrow.finalize(id).await {
                // Another party may have finalized first, or a dispute is still open.
                tracing::debug!(job = id, error = %e, "finalize not done");
                return Ok(());
            }
        }
        let slot = self
            .escrow
            .slots(id)
            .await?
            .into_iter()
            .find(|(p, _)| *p == self.cfg.address)
            .map(|(_, s)| s.status);
        if let Some(status) = slot.filter(|s| codes::slot_settled(*s)) {
            let outcome = slot_status_name(status);
            tracing::info!(job = id, outcome, "job settled");
            self.store().set(id, JobPhase::Settled, outcome, None)?;
            metrics::settled(&self.metrics, outcome);
        }
        Ok(())
    }
}

/// The reason code for an input that could not be fetched.
fn input_reason(e: &peerflow_compute::BlobError) -> &'static str {
    match e.code() {
        "url_not_public" => "input_url_not_public",
        "url_invalid" => "input_url_invalid",
        "too_large" => "input_too_large",
        "storage" => "storage",
        _ => "input_unavailable",
    }
}

fn parse(hex: &str) -> Result<Digest, AgentError> {
    hex.parse()
        .map_err(|e: peerflow_compute::digest::BadDigest| AgentError::Other(e.to_string()))
}
