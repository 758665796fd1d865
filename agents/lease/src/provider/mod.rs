//! The provider's side of leases: it opens containers for buyers, meters each one every interval,
//! asks one ticket per interval for exactly the metered charge, pauses a lease whose unpaid usage
//! goes over its credit, closes it when payment does not come back, and redeems the winners.
//!
//! Everything that matters is in sqlite ([`store`] for the leases and intervals, the
//! orchestrator's [`PaymentStore`] for ticket parameters, nonces and winners, in the same file),
//! and containers outlive the process: a restarted provider goes on metering the leases it had,
//! the first interval after the restart spanning the time it was down.

pub mod docker;
pub mod http;
pub mod page;
pub mod store;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use peerflow_compute::Resources;
use peerflow_compute::manifest::RateCard;
use peerflow_orchestrator::chain_view::{ChainView, ChainViewError, Clock};
use peerflow_orchestrator::{
    GasPolicy, PaymentError, PaymentStore, RecipientSecret, Redeemer, StoreError, TicketParams,
    Validator,
};
use peerflow_protocol::metrics::Metrics;
use peerflow_protocol::{TicketDomain, recipient_rand_hash};

use crate::meter::{Reading, face_value_for, usage_between};
use crate::proto::{
    Interval, IntervalTicket, IntervalsReply, LeaseState, LeaseView, Offer, OpenRequest, PayReply,
    PayRequest, Terms,
};
use docker::{Containers, DockerError, Exec, KEEPALIVE, Liveness, lease_cgroup};
use store::{LeaseRow, LeaseStore, LeaseStoreError};

/// Metric names (served at the provider's `GET /metrics`).
pub mod metrics {
    /// Gauge: leases by state (`running`, `paused`).
    pub const LEASES: &str = "peerflow_provider_leases";
    /// Counter: leases opened.
    pub const OPENED: &str = "peerflow_provider_leases_opened_total";
    /// Counter: leases closed, by reason.
    pub const CLOSED: &str = "peerflow_provider_leases_closed_total";
    /// Counter: lease pauses for unpaid usage.
    pub const PAUSES: &str = "peerflow_provider_lease_pauses_total";
    /// Counter: intervals metered.
    pub const INTERVALS: &str = "peerflow_provider_lease_intervals_total";
    /// Counters: token wei charged, and paid by accepted tickets.
    pub const CHARGED: &str = "peerflow_provider_lease_charged_wei_total";
    pub const PAID: &str = "peerflow_provider_lease_paid_wei_total";
    /// Counter: lease tickets refused, by code.
    pub const REFUSED: &str = "peerflow_provider_lease_tickets_refused_total";
}

/// How this provider leases out its machine.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub provider: Address,
    /// Where `leases.sqlite` and `lease-recipient.secret` live.
    pub data_dir: PathBuf,
    /// The most one lease may have.
    pub max: Resources,
    pub max_leases: usize,
    pub rates: RateCard,
    pub interval: Duration,
    /// Unpaid usage a lease may run up before it is paused, in intervals at its full size; and
    /// the intervals a charge may stay unpaid (payment stopped) before it is paused.
    pub credit_intervals: u32,
    pub win_prob: U256,
    /// Blocks during which an interval's ticket parameters are good (unpaid ones are reissued).
    pub lifetime_blocks: u64,
    pub default_image: String,
    /// Whether leases may publish ports (their containers then join the leases' bridge network,
    /// no traffic between containers, and reach whatever the host routes to).
    pub ports: bool,
    /// Other images a lease may name (an image on the host is never offered unless listed: it
    /// may hold the operator's secrets).
    pub images: Vec<String>,
    pub gas: GasPolicy,
    /// Paused this long without being paid back under its credit, a lease is closed.
    pub stop_after: Duration,
    /// The most block I/O a lease is charged for per second (MB/s).
    pub io_mb_per_second: f64,
    /// A dishonest meter, for the tests of the buyer's checks: metered CPU time is multiplied by
    /// it. 1.0 is honest.
    pub cpu_overreport: f64,
}

/// Where the chain and the broker are.
#[derive(Debug, Clone, Copy)]
pub struct ChainInfo {
    pub broker: Address,
    pub chain_id: u64,
    pub start_block: u64,
    pub round_length: u64,
}

/// Why a lease request is refused. Each has a code and an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("no lease {0} here")]
    NotFound(String),
    #[error("lease {0} is not yours")]
    Forbidden(String),
    #[error("lease {0} is closed")]
    Closed(String),
    #[error("{0}")]
    TooBig(String),
    #[error("this provider holds {0} leases, its most")]
    Full(usize),
    #[error("{0}")]
    BadRequest(String),
    #[error("interval {0} was paid already")]
    AlreadyPaid(u64),
    #[error("interval {0} charges nothing")]
    NothingToPay(u64),
    #[error("the ticket is not under interval {0}'s parameters")]
    WrongParams(u64),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Store(#[from] LeaseStoreError),
    #[error("chain: {0}")]
    Chain(String),
    #[error("{0}")]
    Unreachable(String),
}

impl From<ChainViewError> for LeaseError {
    fn from(e: ChainViewError) -> Self {
        Self::Chain(e.0)
    }
}

impl From<StoreError> for LeaseError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ParamsSpent(_) => Self::BadRequest("already paid".into()),
            e => Self::Payment(PaymentError::Store(e)),
        }
    }
}

impl LeaseError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::Forbidden(_) => "forbidden",
            Self::Closed(_) => "lease_closed",
            Self::TooBig(_) => "too_big",
            Self::Full(_) => "no_capacity",
            Self::BadRequest(_) => "bad_request",
            Self::AlreadyPaid(_) => "already_paid",
            Self::NothingToPay(_) => "nothing_to_pay",
            Self::WrongParams(_) => "ticket_params_mismatch",
            Self::Payment(e) => e.code(),
            Self::Docker(_) => "container",
            Self::Store(_) => "storage",
            Self::Chain(_) => "chain_unavailable",
            Self::Unreachable(_) => "port_unreachable",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound(_) => 404,
            Self::Forbidden(_) => 403,
            Self::Closed(_) | Self::AlreadyPaid(_) => 409,
            Self::TooBig(_)
            | Self::BadRequest(_)
            | Self::NothingToPay(_)
            | Self::WrongParams(_) => 400,
            Self::Full(_) | Self::Chain(_) => 503,
            Self::Unreachable(_) => 502,
            Self::Payment(e) => match e {
                PaymentError::Store(StoreError::Sqlite(_) | StoreError::Corrupt(_)) => 500,
                PaymentError::InsufficientFunds { .. }
                | PaymentError::Store(StoreError::FundsSpokenFor { .. }) => 402,
                _ => 400,
            },
            Self::Docker(_) | Self::Store(_) => 500,
        }
    }
}

/// The most connections open at once to one lease's ports.
pub const MAX_TUNNELS: usize = 64;

/// The most image archives one buyer may load at a provider.
pub const MAX_IMAGES_PER_BUYER: u64 = 4;

/// The most ports (and readers) one lease may name.
pub const MAX_PORTS: usize = 16;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub struct LeaseService<P> {
    cfg: LeaseConfig,
    store: Mutex<LeaseStore>,
    payments: Mutex<PaymentStore>,
    validator: Validator,
    secret: RecipientSecret,
    chain: ChainView<P>,
    redeemer: Redeemer<P>,
    containers: Containers,
    metrics: Arc<Metrics>,
    /// One state change at a time (open, meter, pay, close): each reads then writes the book.
    ops: tokio::sync::Mutex<()>,
    /// One image load at a time.
    loading: tokio::sync::Mutex<()>,
    /// This instance's name on its containers (from its data directory's secret).
    instance: String,
    /// Connections each lease may still open to its ports.
    tunnels: Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

impl<P: Provider + Clone + 'static> LeaseService<P> {
    /// Opens the lease book in `cfg.data_dir`; `chain` signs the redemptions (the provider's
    /// wallet).
    pub async fn new(
        cfg: LeaseConfig,
        chain: P,
        info: ChainInfo,
        containers: Containers,
        metrics: Arc<Metrics>,
    ) -> Result<Self, LeaseError> {
        let io = |e: std::io::Error| LeaseError::BadRequest(format!("lease data dir: {e}"));
        std::fs::create_dir_all(&cfg.data_dir).map_err(io)?;
        let db = cfg.data_dir.join("leases.sqlite");
        let payments = PaymentStore::open(&db)?;
        let store = LeaseStore::open(&db)?;
        let secret = RecipientSecret::load_or_create(&cfg.data_dir.join("lease-recipient.secret"))
            .map_err(io)?;
        let domain = TicketDomain {
            chain_id: info.chain_id,
            broker: info.broker,
        };
        let instance = hex::encode(&alloy::primitives::keccak256(secret.bytes())[..8]);
        let redeemer = Redeemer::new(info.broker, chain.clone(), cfg.gas)
            .await
            .map_err(|e| LeaseError::Chain(e.to_string()))?
            .with_metrics(Arc::clone(&metrics));
        Ok(Self {
            validator: Validator::new(cfg.provider, domain, secret.clone()),
            chain: ChainView::new(
                chain,
                info.broker,
                cfg.provider,
                info.start_block,
                info.round_length,
            ),
            secret,
            redeemer,
            store: Mutex::new(store),
            payments: Mutex::new(payments),
            containers,
            metrics,
            cfg,
            ops: tokio::sync::Mutex::new(()),
            loading: tokio::sync::Mutex::new(()),
            instance,
            tunnels: Mutex::new(std::collections::HashMap::new()),
        })
    }

    pub fn config(&self) -> &LeaseConfig {
        &self.cfg
    }

    fn store(&self) -> MutexGuard<'_, LeaseStore> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn payments(&self) -> MutexGuard<'_, PaymentStore> {
        self.payments.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn offer(&self) -> Result<Offer, LeaseError> {
        Ok(Offer {
            provider: self.cfg.provider,
            rates: self.cfg.rates,
            max: self.cfg.max,
            interval_ms: self.cfg.interval.as_millis() as u64,
            credit_intervals: self.cfg.credit_intervals,
            win_prob: self.cfg.win_prob,
            default_image: self.cfg.default_image.clone(),
            open: self.store().open_leases()?.len(),
            max_leases: self.cfg.max_leases,
        })
    }

    /// The most one interval of a lease of this size can charge: all its CPUs and memory busy for
    /// the interval (I/O is not bounded and not counted).
    fn full_interval_charge(&self, milli_cpus: u32, memory_mb: u64) -> U256 {
        let wall = self.cfg.interval.as_secs_f64();
        self.cfg
            .rates
            .quote(&peerflow_compute::manifest::MeteredUsage {
                cpu_seconds: f64::from(milli_cpus) / 1000.0 * wall,
                memory_mb_seconds: memory_mb as f64 * wall,
                ..Default::default()
            })
    }

    /// Opens a lease for `buyer`: its container starts now, metered from its first reading.
    pub async fn open(&self, buyer: Address, req: &OpenRequest) -> Result<LeaseView, LeaseError> {
        let _op = self.ops.lock().await;
        let max = &self.cfg.max;
        if req.milli_cpus == 0 || req.memory_mb < 4 {
            return Err(LeaseError::TooBig(
                "a lease needs some CPU and at least 4 MB of memory".into(),
            ));
        }
        if req.milli_cpus > max.milli_cpus
            || req.memory_mb > u64::from(max.memory_mb)
            || req.gpus > max.gpus
        {
            return Err(LeaseError::TooBig(format!(
                "this provider leases at most {} mCPU, {} MB and {} GPUs",
                max.milli_cpus, max.memory_mb, max.gpus
            )));
        }
        if !req.ports.is_empty() && !self.cfg.ports {
            return Err(LeaseError::BadRequest(
                "published ports are not offered by this provider".into(),
            ));
        }
        if req.ports.len() > MAX_PORTS || req.port_readers.len() > MAX_PORTS {
            return Err(LeaseError::BadRequest(format!(
                "at most {MAX_PORTS} ports and {MAX_PORTS} readers"
            )));
        }
        let open = self.store().open_leases()?.len();
        if open >= self.cfg.max_leases {
            return Err(LeaseError::Full(open));
        }
        let image = req
            .image
            .clone()
            .unwrap_or_else(|| self.cfg.default_image.clone());
        let loaded = self.store().has_image(&image)?;
        if image != self.cfg.default_image && !self.cfg.images.contains(&image) && !loaded {
            return Err(LeaseError::BadRequest(format!(
                "image {image} is not offered here (only {}, {:?} and images loaded by buyers, by id)",
                self.cfg.default_image, self.cfg.images
            )));
        }
        let credit = self
            .full_interval_charge(req.milli_cpus, req.memory_mb)
            .saturating_mul(U256::from(self.cfg.credit_intervals.max(1)));
        // The buyer's deposit must cover a ticket for its whole credit: a lease is not opened
        // for a key that could not pay for it.
        let clock = self.chain.clock().await?;
        let funds = self
            .chain
            .sender_funds(buyer, buyer, clock.round, U256::ZERO)
            .await?;
        let needed = face_value_for(credit, self.cfg.win_prob);
        if funds.unlocking {
            return Err(PaymentError::SenderUnlocking(buyer).into());
        }
        if funds.available < needed {
            return Err(PaymentError::InsufficientFunds {
                sender: buyer,
                available: funds.available,
                face_value: needed,
            }
            .into());
        }
        let terms = Terms {
            provider: self.cfg.provider,
            buyer,
            milli_cpus: req.milli_cpus,
            memory_mb: req.memory_mb,
            gpus: req.gpus,
            image,
            ports: req.ports.clone(),
            port_readers: req.port_readers.clone(),
            rates: self.cfg.rates,
            interval_ms: self.cfg.interval.as_millis() as u64,
            credit,
            win_prob: self.cfg.win_prob,
            io_mb_per_second: self.cfg.io_mb_per_second,
        };
        let id = hex::encode(&B256::random()[..8]);
        let cmd = KEEPALIVE.iter().map(|s| s.to_string()).collect();
        let container = self
            .containers
            .start(&id, &terms, cmd, &self.instance)
            .await?;
        let at = now_ms();
        let counters = lease_cgroup(&id).read_container(&container);
        let row = LeaseRow {
            id: id.clone(),
            terms,
            state: LeaseState::Running,
            reason: None,
            container: container.clone(),
            opened_ms: at,
            closed_ms: None,
            reading: Reading::from_counters(at, &counters),
            next_seq: 0,
            paused_ms: None,
        };
        let inserted = self.store().insert(&row);
        if let Err(e) = inserted {
            let _ = self.containers.remove(&container).await;
            return Err(e.into());
        }
        self.metrics.inc(metrics::OPENED, "Leases opened.", &[]);
        tracing::info!(lease = %id, %buyer, "lease opened");
        Ok(self.store().view(&row)?)
    }

    /// The lease `id`, if `buyer` holds it.
    fn owned(&self, buyer: Address, id: &str) -> Result<LeaseRow, LeaseError> {
        let row = self
            .store()
            .get(id)?
            .ok_or_else(|| LeaseError::NotFound(id.to_string()))?;
        if row.terms.buyer != buyer {
            return Err(LeaseError::Forbidden(id.to_string()));
        }
        Ok(row)
    }

    pub fn view(&self, buyer: Address, id: &str) -> Result<LeaseView, LeaseError> {
        let row = self.owned(buyer, id)?;
        Ok(self.store().view(&row)?)
    }

    /// Every lease, newest first (the operator's view).
    pub fn all(&self) -> Result<Vec<LeaseView>, LeaseError> {
        let store = self.store();
        let rows = store.all()?;
        Ok(rows
            .iter()
            .map(|r| store.view(r))
            .collect::<Result<_, _>>()?)
    }

    /// The intervals from `from` on. An unpaid interval whose parameters took their ticket is
    /// marked paid (a crash came between booking and marking); one whose parameters expired
    /// unspent gets fresh ones.
    pub async fn intervals(
        &self,
        buyer: Address,
        id: &str,
        from: u64,
    ) -> Result<IntervalsReply, LeaseError> {
        let row = self.owned(buyer, id)?;
        let unpaid: Vec<Interval> = self
            .store()
            .intervals(id, from)?
            .into_iter()
            .filter(|i| !i.paid && i.ticket.is_some())
            .collect();
        if !unpaid.is_empty() {
            let _op = self.ops.lock().await;
            let clock = self.chain.clock().await?;
            for i in unpaid {
                let t = i.ticket.as_ref().expect("filtered");
                let spent = self.payments().params_spent(t.recipient_rand_hash)?;
                if spent {
                    self.store().mark_paid(id, i.seq)?;
                } else if t.expiration_block < clock.block {
                    let fresh = self.issue(&row.terms, i.charge, &clock)?;
                    self.store().reissue(id, i.seq, &fresh)?;
                }
            }
        }
        let (lease, intervals) = {
            let store = self.store();
            (store.view(&row)?, store.intervals(id, from)?)
        };
        let next_nonce = self.payments().next_nonce(buyer)?;
        Ok(IntervalsReply {
            lease,
            intervals,
            next_nonce,
        })
    }

    /// Ticket parameters for one interval's charge, saved where the validator finds them.
    fn issue(
        &self,
        terms: &Terms,
        charge: U256,
        clock: &Clock,
    ) -> Result<IntervalTicket, LeaseError> {
        let seed = B256::random();
        let params = TicketParams {
            recipient: self.cfg.provider,
            sender: terms.buyer,
            face_value: face_value_for(charge, terms.win_prob),
            win_prob: terms.win_prob,
            recipient_rand_hash: recipient_rand_hash(self.secret.recipient_rand(seed, terms.buyer)),
            seed,
            creation_round: clock.round,
            expiration_block: clock.block + self.cfg.lifetime_blocks,
            price_per_pixel: U256::ZERO,
        };
        self.payments().save_params(&params)?;
        Ok(IntervalTicket {
            recipient_rand_hash: params.recipient_rand_hash,
            face_value: params.face_value,
            win_prob: params.win_prob,
            creation_round: params.creation_round,
            expiration_block: params.expiration_block,
        })
    }

    /// Takes the one ticket that pays interval `req.seq` of lease `id`.
    pub async fn pay(&self, id: &str, req: &PayRequest) -> Result<PayReply, LeaseError> {
        let _op = self.ops.lock().await;
        let row = self.owned(req.sender, id)?;
        let interval = self
            .store()
            .intervals(id, req.seq)?
            .into_iter()
            .find(|i| i.seq == req.seq)
            .ok_or_else(|| LeaseError::NotFound(format!("{id} interval {}", req.seq)))?;
        if interval.paid {
            return Err(LeaseError::AlreadyPaid(req.seq));
        }
        let Some(want) = &interval.ticket else {
            return Err(LeaseError::NothingToPay(req.seq));
        };
        let hash = req.ticket.recipient_rand_hash;
        if hash != want.recipient_rand_hash {
            return Err(LeaseError::WrongParams(req.seq));
        }
        let spent = self.payments().params_spent(hash)?;
        if spent {
            self.store().mark_paid(id, req.seq)?;
            return Err(LeaseError::AlreadyPaid(req.seq));
        }
        let refused = |e: LeaseError| {
            self.metrics.inc(
                metrics::REFUSED,
                "Lease tickets refused, by code.",
                &[("code", e.code())],
            );
            e
        };
        let (ticket, signature) = req
            .ticket
            .ticket(self.cfg.provider, req.sender)
            .map_err(|e| refused(PaymentError::from(e).into()))?;
        let clock = self.chain.clock().await?;
        let funds = self
            .chain
            .sender_funds(
                req.sender,
                req.ticket.signer,
                req.ticket.creation_round,
                U256::ZERO,
            )
            .await?;
        let params = self
            .payments()
            .params(hash)?
            .ok_or(PaymentError::UnknownParams)
            .map_err(|e| refused(e.into()))?;
        let (_, mut booking) = self
            .validator
            .check(&params, &ticket, &signature, &funds, clock.block)
            .map_err(|e| refused(e.into()))?;
        // The interval's charge is what pays it; the sender's running credit is the stream's.
        booking.credit = U256::ZERO;
        booking.spends_params = Some(hash);
        let booked = self.payments().accept(&booking);
        match booked {
            Ok(()) => {}
            Err(StoreError::ParamsSpent(_)) => {
                self.store().mark_paid(id, req.seq)?;
                return Err(LeaseError::AlreadyPaid(req.seq));
            }
            Err(e) => return Err(refused(e.into())),
        }
        self.store().mark_paid(id, req.seq)?;
        self.metrics.add(
            metrics::PAID,
            "Token wei paid for lease intervals by accepted tickets.",
            &[],
            u256_f64(interval.charge),
        );
        if row.state == LeaseState::Paused {
            self.resume_if_paid(&row).await?;
        }
        let row = self.owned(req.sender, id)?;
        let lease = self.store().view(&row)?;
        Ok(PayReply {
            seq: req.seq,
            lease,
        })
    }

    /// Starts `cmd` in the lease's container.
    pub async fn exec(
        &self,
        buyer: Address,
        id: &str,
        cmd: Vec<String>,
        stdin: bool,
    ) -> Result<Exec, LeaseError> {
        let row = self.owned(buyer, id)?;
        usable(&row)?;
        if cmd.is_empty() {
            return Err(LeaseError::BadRequest("an empty command".into()));
        }
        Ok(self.containers.exec(&row.container, cmd, stdin).await?)
    }

    /// Loads `buyer`'s image archive; the image id leases may then name.
    pub async fn load_image(
        &self,
        buyer: Address,
        archive: Vec<u8>,
        reference: Option<&str>,
    ) -> Result<String, LeaseError> {
        // Only a funded buyer, a few images each, one load at a time.
        let clock = self.chain.clock().await?;
        let funds = self
            .chain
            .sender_funds(buyer, buyer, clock.round, U256::ZERO)
            .await?;
        if funds.unlocking || funds.available.is_zero() {
            return Err(PaymentError::InsufficientFunds {
                sender: buyer,
                available: funds.available,
                face_value: U256::from(1u8),
            }
            .into());
        }
        let loaded = self.store().images_of(buyer)?;
        if loaded >= MAX_IMAGES_PER_BUYER {
            return Err(LeaseError::BadRequest(format!(
                "{buyer} loaded {loaded} images here, the most"
            )));
        }
        let _one = self.loading.lock().await;
        let id = self
            .containers
            .load(archive, reference)
            .await
            .map_err(|e| LeaseError::BadRequest(format!("image archive: {e}")))?;
        self.store().add_image(&id, buyer, now_ms())?;
        tracing::info!(%buyer, image = %id, "lease image loaded");
        Ok(id)
    }

    /// A TCP connection to published port `port` of lease `id`, for `who` (the buyer or a reader
    /// it named).
    pub async fn connect(
        &self,
        who: Address,
        id: &str,
        port: u16,
    ) -> Result<(tokio::net::TcpStream, tokio::sync::OwnedSemaphorePermit), LeaseError> {
        let row = self
            .store()
            .get(id)?
            .ok_or_else(|| LeaseError::NotFound(id.to_string()))?;
        if row.terms.buyer != who && !row.terms.port_readers.contains(&who) {
            return Err(LeaseError::Forbidden(id.to_string()));
        }
        if !row.terms.ports.contains(&port) {
            return Err(LeaseError::NotFound(format!("port {port} of lease {id}")));
        }
        usable(&row)?;
        let places = Arc::clone(
            self.tunnels
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(id.to_string())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(MAX_TUNNELS))),
        );
        let permit = places.try_acquire_owned().map_err(|_| {
            LeaseError::BadRequest(format!(
                "lease {id} has {MAX_TUNNELS} connections open, its most"
            ))
        })?;
        let ip = self
            .containers
            .address(&row.container)
            .await?
            .ok_or_else(|| {
                LeaseError::BadRequest(format!("lease {id}'s container has no address"))
            })?;
        let stream = tokio::net::TcpStream::connect((ip, port))
            .await
            .map_err(|e| LeaseError::Unreachable(format!("port {port} of lease {id}: {e}")))?;
        Ok((stream, permit))
    }

    /// A finished command's exit code.
    pub async fn exit_code(&self, exec: &str) -> Result<Option<i64>, LeaseError> {
        Ok(self.containers.exit_code(exec).await?)
    }

    /// Closes the lease at its buyer's request: a last interval is metered, the container removed.
    pub async fn close(&self, buyer: Address, id: &str) -> Result<LeaseView, LeaseError> {
        let _op = self.ops.lock().await;
        let row = self.owned(buyer, id)?;
        if row.state != LeaseState::Closed {
            self.finish(&row, "closed_by_buyer").await?;
        }
        self.view(buyer, id)
    }

    /// Meters a last interval, removes the container and its cgroup, marks the lease closed.
    async fn finish(&self, row: &LeaseRow, reason: &str) -> Result<(), LeaseError> {
        if let Err(e) = self.meter(row, true).await {
            tracing::warn!(lease = %row.id, error = %e, "last interval not metered");
        }
        self.containers.remove(&row.container).await?;
        self.tunnels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&row.id);
        if let Err(e) = lease_cgroup(&row.id).remove().await {
            tracing::debug!(lease = %row.id, error = %e, "lease cgroup not removed");
        }
        self.store()
            .set_state(&row.id, LeaseState::Closed, Some(reason), now_ms())?;
        self.metrics.inc(
            metrics::CLOSED,
            "Leases closed, by reason.",
            &[("reason", reason)],
        );
        tracing::info!(lease = %row.id, reason, "lease closed");
        Ok(())
    }

    /// Meters one interval of `row`, from its last reading to now. Nothing is recorded when the
    /// container's counters cannot be read (it is gone) or the chain cannot be read (the next
    /// interval will span this one).
    async fn meter(&self, row: &LeaseRow, last: bool) -> Result<Option<Interval>, LeaseError> {
        let at = now_ms();
        let counters = lease_cgroup(&row.id).read_container(&row.container);
        if counters.cpu_ns.is_none() {
            return Ok(None);
        }
        let reading = Reading::from_counters(at, &counters);
        let mut usage = usage_between(&row.reading, &reading);
        usage.cpu_seconds *= self.cfg.cpu_overreport;
        usage.io_mb = usage
            .io_mb
            .min(row.terms.io_mb_per_second * usage.wall_seconds);
        let charge = row.terms.rates.quote(&usage);
        let ticket = if charge.is_zero() {
            None
        } else {
            let clock = self.chain.clock().await?;
            Some(self.issue(&row.terms, charge, &clock)?)
        };
        let interval = Interval {
            seq: row.next_seq,
            start_ms: row.reading.at_ms,
            end_ms: at,
            usage,
            charge,
            ticket,
            paid: false,
            last,
        };
        self.store().record_interval(&row.id, &interval, &reading)?;
        self.metrics
            .inc(metrics::INTERVALS, "Lease intervals metered.", &[]);
        self.metrics.add(
            metrics::CHARGED,
            "Token wei charged for lease intervals.",
            &[],
            u256_f64(charge),
        );
        Ok(Some(interval))
    }

    fn unpaid(&self, id: &str) -> Result<U256, LeaseError> {
        let (_, charged, paid) = self.store().totals(id)?;
        Ok(charged.saturating_sub(paid))
    }

    /// Whether the lease's payment is behind: unpaid charges over its credit, or a charge left
    /// unpaid for longer than the credit's intervals (payment stopped, however small the usage).
    fn overdue(&self, row: &LeaseRow, now: u64) -> Result<bool, LeaseError> {
        if self.unpaid(&row.id)? > row.terms.credit {
            return Ok(true);
        }
        let patience = row.terms.interval_ms * u64::from(self.cfg.credit_intervals.max(1));
        Ok(self
            .store()
            .oldest_unpaid_end(&row.id)?
            .is_some_and(|end| now.saturating_sub(end) > patience))
    }

    async fn resume_if_paid(&self, row: &LeaseRow) -> Result<(), LeaseError> {
        if !self.overdue(row, now_ms())? {
            self.containers.unpause(&row.container).await?;
            self.store()
                .set_state(&row.id, LeaseState::Running, None, now_ms())?;
            tracing::info!(lease = %row.id, "lease resumed: paid back under its credit");
        }
        Ok(())
    }

    /// One pass over the open leases: meter each, then hold it to its credit.
    pub async fn tick(&self) -> Result<(), LeaseError> {
        let _op = self.ops.lock().await;
        let rows = self.store().open_leases()?;
        let mut running = 0;
        let mut paused = 0;
        for row in rows {
            if let Err(e) = self.tick_one(&row).await {
                tracing::warn!(lease = %row.id, error = %e, "lease not metered");
            }
            match self.store().get(&row.id)?.map(|r| r.state) {
                Some(LeaseState::Running) => running += 1,
                Some(LeaseState::Paused) => paused += 1,
                _ => {}
            }
        }
        for (state, n) in [("running", running), ("paused", paused)] {
            self.metrics.set(
                metrics::LEASES,
                "Leases by state.",
                &[("state", state)],
                f64::from(n),
            );
        }
        Ok(())
    }

    async fn tick_one(&self, row: &LeaseRow) -> Result<(), LeaseError> {
        if self.containers.liveness(&row.container).await? == Liveness::Gone {
            return self.finish(row, "container_exited").await;
        }
        self.meter(row, false).await?;
        let now = now_ms();
        let overdue = self.overdue(row, now)?;
        match row.state {
            LeaseState::Running if overdue => {
                let unpaid = self.unpaid(&row.id)?;
                self.containers.pause(&row.container).await?;
                self.store()
                    .set_state(&row.id, LeaseState::Paused, None, now)?;
                self.metrics
                    .inc(metrics::PAUSES, "Lease pauses for unpaid usage.", &[]);
                tracing::info!(lease = %row.id, %unpaid, credit = %row.terms.credit, "lease paused: payment behind");
            }
            LeaseState::Paused if !overdue => self.resume_if_paid(row).await?,
            LeaseState::Paused
                if now.saturating_sub(row.paused_ms.unwrap_or(now))
                    >= self.cfg.stop_after.as_millis() as u64 =>
            {
                self.finish(row, "unpaid").await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Redeems the winning tickets whose parameters expired.
    pub async fn redeem(&self) -> Result<(), LeaseError> {
        let report = self
            .redeemer
            .redeem_due(&self.payments)
            .await
            .map_err(|e| LeaseError::Chain(e.to_string()))?;
        if report.redeemed + report.failed > 0 {
            tracing::info!(?report, "lease tickets redeemed");
        }
        Ok(())
    }

    /// Removes lease containers of this provider that no open lease holds: one started just
    /// before a crash, before its lease was written, or one whose removal failed.
    pub async fn sweep(&self) -> Result<usize, LeaseError> {
        let _op = self.ops.lock().await;
        let open: Vec<String> = self
            .store()
            .open_leases()?
            .into_iter()
            .map(|r| r.container)
            .collect();
        let mut removed = 0;
        for (container, lease) in self.containers.of_provider(&self.instance).await? {
            if !open.contains(&container) {
                tracing::info!(%lease, %container, "removing a container no open lease holds");
                self.containers.remove(&container).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Meters every interval, and redeems winners beside it, until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        if let Err(e) = self.sweep().await {
            tracing::warn!(error = %e, "stray lease containers not swept");
        }
        let meter = async {
            let mut every = tokio::time::interval(self.cfg.interval);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                if let Err(e) = self.tick().await {
                    tracing::warn!(error = %e, "lease tick failed");
                }
            }
        };
        // Redemption waits on the chain: it must not hold up the meter.
        let redeem = async {
            let mut every = tokio::time::interval(self.cfg.interval.max(Duration::from_secs(1)));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(e) = self.redeem().await {
                    tracing::warn!(error = %e, "lease redemption failed");
                }
            }
        };
        tokio::join!(meter, redeem);
    }
}

/// Whether the lease's container may be used now (it runs, neither paused nor closed).
fn usable(row: &LeaseRow) -> Result<(), LeaseError> {
    match row.state {
        LeaseState::Running => Ok(()),
        LeaseState::Paused => Err(LeaseError::BadRequest(format!(
            "lease {} is paused until its unpaid usage is paid",
            row.id
        ))),
        LeaseState::Closed => Err(LeaseError::Closed(row.id.clone())),
    }
}

fn u256_f64(v: U256) -> f64 {
    f64::from(v)
}
