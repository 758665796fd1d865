//! The orchestrator's business logic behind its HTTP API: quoting (price and ticket parameters bound
//! to a sender), taking payment, running a segment through the transcoders, and charging for it at
//! this orchestrator's own price for the pixels actually produced.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use peerflow_protocol::api::{
    MAX_PROFILES, OrchestratorInfo, Payment, RequestAuth, RequestContext, SegmentRequest,
    TicketParamsMsg,
};
use peerflow_protocol::metrics::Metrics;
use peerflow_protocol::result::ResultSigner;
use peerflow_protocol::{SegmentResult, Signature, SignatureError, TicketDomain};

use crate::admission::{Admission, Full};
use crate::book::TicketBook;
use crate::chain_view::{ChainView, ChainViewError};
use crate::earnings::EarningsReader;
use crate::jobs::{JobError, JobQueue, JobTimes, Pixels, RenditionResult};
use crate::limits::{Limits, RateLimiter};
use crate::params::{ParamsPolicy, TicketParams};
use crate::store::{PaymentStore, StoreError};
use crate::streams::Streams;
use crate::transcoders::Transcoders;
use crate::validator::{PaymentError, Validator};

/// How this orchestrator runs.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub policy: ParamsPolicy,
    /// Codecs its transcoders encode ("h264", "av1", "av1-rav1e").
    pub codecs: Vec<String>,
    /// Bearer token transcoders present when pulling work.
    pub transcoder_token: String,
    /// New parameters are issued when the current ones have fewer blocks left than this.
    pub refresh_margin_blocks: u64,
    /// How long a segment may wait for a transcoder before the broadcaster is told to go elsewhere.
    pub job_timeout: Duration,
    /// Measured capacity of the transcoders (output pixels per second).
    pub capacity_pixels_per_second: u64,
}

/// Why a request failed; [`NodeError::code`] is what clients see.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Chain(#[from] ChainViewError),
    #[error(transparent)]
    Job(#[from] JobError),
    /// A new stream beyond what the transcoders can take on now.
    #[error("no capacity: {0}")]
    Full(#[from] Full),
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The request is not covered by a valid signature of the sender (or its authorized signer).
    #[error("unauthorized request: {0}")]
    Unauthorized(String),
    #[error("too many requests: {0}")]
    RateLimited(&'static str),
    #[error("sender {sender} has {available} credit, the segment costs {cost}")]
    InsufficientBalance {
        sender: Address,
        available: U256,
        cost: U256,
    },
    /// The hot key this node signs and redeems with is no longer the one its orchestrator names
    /// (`Staking.setRedeemer` replaced or cleared it): it takes no new work or tickets.
    #[error("this node's key {key} is no longer the orchestrator's hot key (it names {named})")]
    KeyRetired { key: Address, named: Address },
}

impl From<StoreError> for NodeError {
    fn from(e: StoreError) -> Self {
        Self::Payment(PaymentError::Store(e))
    }
}

impl From<SignatureError> for NodeError {
    fn from(e: SignatureError) -> Self {
        Self::Payment(PaymentError::Signature(e))
    }
}

impl NodeError {
    /// Machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Payment(PaymentError::Store(StoreError::RequestReplayed { .. })) => {
                "request_replayed"
            }
            Self::Payment(e) => e.code(),
            Self::Chain(_) => "chain_unavailable",
            Self::Full(_) => "capacity",
            Self::Job(JobError::NoTranscoder(_)) => "no_transcoder",
            Self::Job(JobError::BadSegment(_)) => "bad_segment",
            Self::Job(JobError::Failed(_)) => "transcode_failed",
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) => "unauthorized_request",
            Self::RateLimited(_) => "rate_limited",
            Self::InsufficientBalance { .. } => "insufficient_balance",
            Self::KeyRetired { .. } => "key_retired",
        }
    }

    /// Whether another orchestrator may succeed where this one failed.
    pub fn retry_elsewhere(&self) -> bool {
        matches!(
            self,
            Self::Chain(_)
                | Self::Job(JobError::NoTranscoder(_) | JobError::Failed(_))
                | Self::Full(_)
                | Self::KeyRetired { .. }
        ) || matches!(
            self,
            Self::Payment(PaymentError::Store(
                StoreError::Sqlite(_)
                    | StoreError::Corrupt(_)
                    | StoreError::Batch(_)
                    | StoreError::BookClosed
            ))
        )
    }
}

/// A segment probed and its stream found to fit: the frames it is charged for, and the output
/// pixels per second it asks for (see [`crate::admission`]).
pub struct Admitted {
    frames: u64,
    demand: u64,
    /// The segment's duration, as admission counts it.
    lasted: Duration,
}

/// Result of a paid segment.
#[derive(Debug)]
pub struct Transcoded {
    /// One per requested profile, in the request's (ladder) order.
    pub renditions: Vec<RenditionResult>,
    pub charged: U256,
    pub balance: U256,
    /// This orchestrator's signature over the [`SegmentResult`] of the renditions.
    pub signature: Signature,
    /// Where the job's time went (waiting for a transcoder, then with it).
    pub times: JobTimes,
}

/// One orchestrator: its payment state, chain view and transcoder queue, and what it reports
/// (metrics, connected transcoders, streams served).
pub struct Node<P> {
    validator: Validator,
    store: Mutex<PaymentStore>,
    /// Books accepted tickets, many payments to a commit (see [`crate::book`]).
    book: TicketBook,
    chain: ChainView<P>,
    signer: ResultSigner,
    metrics: Arc<Metrics>,
    pub jobs: JobQueue,
    pub transcoders: Transcoders,
    admission: Admission,
    pub streams: Streams,
    /// Reads what it earned on-chain (for the status).
    pub earnings: EarningsReader,
    pub config: NodeConfig,
    /// The price quoted from now on (starts at `config.policy.price_per_pixel`; follows the
    /// on-chain advertisement, see [`Node::set_price`]).
    price: std::sync::RwLock<U256>,
    /// The face value quoted from now on (starts at `config.policy.face_value`; follows the gas
    /// outlook, see [`crate::gas_outlook`]).
    face_value: std::sync::RwLock<U256>,
    limits: Limits,
    /// The key the orchestrator names now, when it is not the one this node signs with (see
    /// [`Node::follow_named_key`]); `None` while this node's key is the orchestrator's.
    retired_for: std::sync::RwLock<Option<Address>>,
    info_by_ip: RateLimiter<std::net::IpAddr>,
    info_by_sender: RateLimiter<Address>,
}

/// The sender's credit held back for one segment while it is transcoded: given back unless
/// [`Reservation::commit`]ted, also when the request is dropped mid-way (client gone).
struct Reservation<'a> {
    store: &'a Mutex<PaymentStore>,
    sender: Address,
    amount: U256,
    committed: bool,
}

impl Reservation<'_> {
    fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.committed || self.amount.is_zero() {
            return;
        }
        let refunded = self
            .store
            .lock()
            .map_err(|_| "payment store lock poisoned".to_string())
            .and_then(|mut s| {
                s.refund(self.sender, self.amount)
                    .map_err(|e| e.to_string())
            });
        match refunded {
            Ok(balance) => {
                tracing::debug!(sender = %self.sender, amount = %self.amount, %balance, "reservation refunded")
            }
            Err(e) => {
                tracing::error!(sender = %self.sender, amount = %self.amount, error = %e, "reservation not refunded")
            }
        }
    }
}

impl<P: Provider + Clone> Node<P> {
    /// `signer` signs every segment result: the recipient's (the orchestrator's) key, or the hot
    /// key it named (`Staking.redeemerOf`, checked by [`crate::service::start_with_keys`]).
    pub fn new(
        validator: Validator,
        store: PaymentStore,
        book: TicketBook,
        chain: ChainView<P>,
        config: NodeConfig,
        signer: ResultSigner,
    ) -> Self {
        let from_block = chain.start_block();
        let saved = store.earnings_scan().unwrap_or_else(|error| {
            tracing::warn!(%error, "reading the earnings scan state");
            None
        });
        let earnings = EarningsReader::resume(from_block, saved.as_deref());
        Self {
            validator,
            store: Mutex::new(store),
            book,
            chain,
            signer,
            metrics: Arc::new(Metrics::new()),
            jobs: JobQueue::default(),
            transcoders: Transcoders::default(),
            admission: Admission::default(),
            streams: Streams::default(),
            earnings,
            price: std::sync::RwLock::new(config.policy.price_per_pixel),
            face_value: std::sync::RwLock::new(config.policy.face_value),
            config,
            limits: Limits::default(),
            retired_for: std::sync::RwLock::new(None),
            info_by_ip: RateLimiter::new(0.0, 0.0, 1),
            info_by_sender: RateLimiter::new(0.0, 0.0, 1),
        }
        .with_limits(Limits::default())
    }

    /// Runs with `limits` on what strangers may ask (see [`Limits`]).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.info_by_ip = RateLimiter::new(
            limits.info_ip_per_second,
            limits.info_ip_burst,
            limits.max_tracked_keys,
        );
        self.info_by_sender = RateLimiter::new(
            limits.info_sender_per_second,
            limits.info_sender_burst,
            limits.max_tracked_keys,
        );
        self.admission = Admission::new(limits.stream_idle);
        self.limits = limits;
        self
    }

    /// Keys the `/v1/info` rate limiters track now (per IP, per sender): bounded by the limits.
    pub fn tracked_clients(&self) -> (usize, usize) {
        (self.info_by_ip.tracked(), self.info_by_sender.tracked())
    }

    /// The price (fee-token wei per output pixel) quoted to senders from now on.
    pub fn price(&self) -> U256 {
        *self.price.read().expect("price lock")
    }

    /// Quotes `price` from now on. A sender keeps paying the price it was last quoted until it
    /// next asks for `/v1/info`, which issues it fresh parameters at the new price: nobody is
    /// charged a price it was not told.
    pub fn set_price(&self, price: U256) {
        let mut current = self.price.write().expect("price lock");
        if *current != price {
            tracing::info!(from = %*current, to = %price, "price per pixel changed");
            *current = price;
        }
    }

    /// Quotes tickets of `face` from now on (fresh parameters are issued at the next `/v1/info`).
    pub fn set_face_value(&self, face: U256) {
        let mut current = self.face_value.write().expect("face value lock");
        if *current != face {
            tracing::info!(from = %*current, to = %face, "ticket face value changed with the gas outlook");
            *current = face;
        }
    }

    /// The face value quoted now.
    pub fn face_value(&self) -> U256 {
        *self.face_value.read().expect("face value lock")
    }

    /// Reports into `metrics` (shared, e.g., with a transcoder in the same process).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// This orchestrator's metrics (see [`crate::metrics`]).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn chain(&self) -> &ChainView<P> {
        &self.chain
    }

    /// The Staking contract its results are signed for (its stake and fees live there).
    pub fn staking(&self) -> Address {
        self.signer.domain.staking
    }

    pub fn recipient(&self) -> Address {
        self.validator.recipient
    }

    pub fn domain(&self) -> TicketDomain {
        self.validator.domain()
    }

    pub fn store(&self) -> std::sync::MutexGuard<'_, PaymentStore> {
        self.store.lock().expect("payment store")
    }

    /// The key that signs this node's segment results.
    pub fn signing_key(&self) -> Address {
        self.signer.address()
    }

    /// Records that the orchestrator names `named` as its hot key now (read from
    /// `Staking.redeemerOf` by [`crate::service`]): if that is not this node's key, the node
    /// refuses new work and tickets ([`NodeError::KeyRetired`]) until it is named again. Results
    /// it signed before stay answerable on-chain for an unbonding period, and its queued winners
    /// wait in the payment store for the key that is named now (a node started on this data
    /// directory with that key, or with the stake key, redeems them).
    pub fn follow_named_key(&self, named: Address) {
        let key = self.signing_key();
        let retired = (named != key).then_some(named);
        {
            // Released before the store is read below: `accept_payment` takes the two the
            // other way round.
            let mut current = self.retired_for.write().expect("retired lock");
            if *current == retired {
                return;
            }
            *current = retired;
        }
        let orchestrator = self.recipient();
        match retired {
            Some(named) => {
                let (waiting, face) = self
                    .store()
                    .winning_summary(crate::store::WinningTicketStatus::Pending)
                    .unwrap_or_default();
                tracing::error!(
                    %key,
                    %named,
                    %orchestrator,
                    waiting,
                    %face,
                    "this node's hot key was replaced: refusing new work and tickets, and \
                     redeeming nothing; run this data directory with the key named now (or the \
                     stake key) before its waiting winners expire"
                )
            }
            None => {
                tracing::info!(%key, %orchestrator, "this node's key is the orchestrator's hot key again: serving")
            }
        }
    }

    /// Whether the orchestrator no longer names this node's key ([`Node::follow_named_key`]).
    pub fn retired(&self) -> bool {
        self.retired_for().is_some()
    }

    /// The key the orchestrator names now, when it is no longer this node's.
    pub fn retired_for(&self) -> Option<Address> {
        *self.retired_for.read().expect("retired lock")
    }

    /// Refuses with [`NodeError::KeyRetired`] while this node's key is not the one named.
    pub fn serving(&self) -> Result<(), NodeError> {
        match *self.retired_for.read().expect("retired lock") {
            Some(named) => Err(NodeError::KeyRetired {
                key: self.signing_key(),
                named,
            }),
            None => Ok(()),
        }
    }

    /// Price, capabilities and ticket parameters for `sender` (reused while fresh, else new ones),
    /// asked from `client`. A sender without credit here is a stranger: its requests are rate
    /// limited per client IP and per sender address, and the parameters kept for strangers are
    /// bounded ([`Limits::max_unpaid_params`]), so a flood of made-up senders holds no more state
    /// than that and never touches a paying sender's quotes.
    pub async fn info_for(
        &self,
        sender: Address,
        client: Option<std::net::IpAddr>,
    ) -> Result<OrchestratorInfo, NodeError> {
        let paying = !self.store().balance(sender)?.is_zero();
        if !paying {
            if client.is_some_and(|ip| !self.info_by_ip.allow(&ip)) {
                return Err(NodeError::RateLimited(
                    "ticket parameters asked too often from this address",
                ));
            }
            if !self.info_by_sender.allow(&sender) {
                return Err(NodeError::RateLimited(
                    "ticket parameters asked too often for this sender",
                ));
            }
        }
        self.info(sender).await
    }

    /// Price, capabilities and ticket parameters for `sender` (reused while fresh, else new ones),
    /// without rate limits (see [`Node::info_for`]).
    pub async fn info(&self, sender: Address) -> Result<OrchestratorInfo, NodeError> {
        self.serving()?;
        let clock = self.chain.clock().await?;
        let price = self.price();
        let face_value = self.face_value();
        let store = self.store();
        let params = match store.latest_params(sender)? {
            Some(p)
                if p.creation_round == clock.round
                    && p.expiration_block >= clock.block + self.config.refresh_margin_blocks
                    && p.price_per_pixel == price
                    && p.face_value == face_value =>
            {
                p
            }
            _ => {
                let p = TicketParams::issue(
                    self.validator.secret(),
                    &ParamsPolicy {
                        price_per_pixel: price,
                        face_value,
                        ..self.config.policy.clone()
                    },
                    self.recipient(),
                    sender,
                    clock.block,
                    clock.round,
                );
                store.save_params(&p)?;
                let pruned = store.prune_params(clock.block, self.limits.max_unpaid_params)?;
                if pruned > 0 {
                    tracing::debug!(pruned, "ticket parameters dropped (expired or unpaid)");
                }
                // A stranger's fresh parameters may themselves have been dropped to make room:
                // it is then told to come back later rather than handed parameters it cannot use.
                if store.params(p.recipient_rand_hash)?.is_none() {
                    return Err(NodeError::RateLimited("too many unpaid senders"));
                }
                p
            }
        };
        Ok(OrchestratorInfo {
            orchestrator: self.recipient(),
            chain_id: self.validator.domain().chain_id,
            ticket_broker: self.validator.domain().broker,
            price_per_pixel: params.price_per_pixel,
            codecs: self.config.codecs.clone(),
            capacity_pixels_per_second: self.config.capacity_pixels_per_second,
            ticket_params: TicketParamsMsg {
                recipient: params.recipient,
                sender,
                face_value: params.face_value,
                win_prob: params.win_prob,
                recipient_rand_hash: params.recipient_rand_hash,
                creation_round: params.creation_round,
                expiration_block: params.expiration_block,
                ticket_value: params.ticket_value(),
            },
            balance: store.balance(sender)?,
            next_nonce: store.next_nonce(sender)?,
            next_request_nonce: store.next_request_nonce(sender)?,
        })
    }

    /// Validates and books every ticket of `payment`; returns the credit they earned.
    pub async fn accept_payment(&self, payment: &Payment) -> Result<U256, NodeError> {
        self.serving()?;
        let clock = self.chain.clock().await?;
        let refused = |e: PaymentError| {
            crate::metrics::ticket_refused(&self.metrics, e.code());
            e
        };
        // Checked one by one (signature, parameters, the draw) up to the first bad one; the good
        // ones before it are booked together, in order, then the payment answered.
        let mut checked = Vec::with_capacity(payment.tickets.len());
        let mut bookings = Vec::with_capacity(payment.tickets.len());
        let mut bad = None;
        for msg in &payment.tickets {
            let check = async {
                let (ticket, signature) = msg
                    .ticket(self.recipient(), payment.sender)
                    .map_err(PaymentError::from)?;
                let funds = self
                    .chain
                    .sender_funds(payment.sender, msg.signer, msg.creation_round, U256::ZERO)
                    .await
                    .map_err(NodeError::from)?;
                let params = self
                    .store()
                    .params(ticket.recipientRandHash)?
                    .ok_or(PaymentError::UnknownParams)?;
                Ok::<_, NodeError>(self.validator.check(
                    &params,
                    &ticket,
                    &signature,
                    &funds,
                    clock.block,
                )?)
            };
            match check.await {
                Ok((accepted, booking)) => {
                    checked.push(accepted);
                    bookings.push(booking);
                }
                Err(e) => {
                    bad = Some(e);
                    break;
                }
            }
        }
        // No ticket is booked once the key is retired (it could not be redeemed from here).
        self.serving()?;
        let booked = self.book.book(bookings).await;
        let mut credited = U256::ZERO;
        for accepted in &checked[..booked.booked] {
            crate::metrics::ticket_accepted(&self.metrics, accepted.winning);
            credited += accepted.credited;
        }
        if let Some(e) = booked.refused {
            return Err(refused(e.into()).into());
        }
        match bad {
            Some(NodeError::Payment(e)) => Err(refused(e).into()),
            Some(e) => Err(e),
            None => Ok(credited),
        }
    }

    /// Checks that `auth` is the sender's signature over this very request and segment, under
    /// parameters issued here to that sender and still valid, with a request nonce never used
    /// before (it is used up here). Returns the parameters the work is charged under.
    pub async fn authorize_request(
        &self,
        sender: Address,
        auth: &RequestAuth,
        request: &SegmentRequest,
        segment: &[u8],
    ) -> Result<TicketParams, NodeError> {
        let domain = self.domain();
        let ctx = RequestContext {
            domain: &domain,
            orchestrator: self.recipient(),
            sender,
            request,
            segment,
        };
        let recovered = auth
            .recover(&ctx)
            .map_err(|e| NodeError::Unauthorized(format!("request signature: {e}")))?;
        if recovered != auth.signer {
            return Err(NodeError::Unauthorized(format!(
                "request signed by {recovered}, not by {}",
                auth.signer
            )));
        }
        let params = self
            .store()
            .params(auth.params)?
            .filter(|p| p.sender == sender && p.recipient == self.recipient())
            .ok_or(PaymentError::UnknownParams)?;
        let clock = self.chain.clock().await?;
        if clock.block > params.expiration_block {
            return Err(PaymentError::ParamsExpired {
                expiration_block: params.expiration_block,
                block: clock.block,
            }
            .into());
        }
        if auth.signer != sender {
            let funds = self
                .chain
                .sender_funds(sender, auth.signer, params.creation_round, U256::ZERO)
                .await?;
            if !funds.signer_authorized {
                return Err(PaymentError::UnauthorizedSigner {
                    sender,
                    signer: auth.signer,
                }
                .into());
            }
        }
        self.store().use_request_nonce(sender, auth.nonce)?;
        Ok(params)
    }

    /// Refuses a request this orchestrator will not run: no profiles or more than
    /// [`MAX_PROFILES`], a codec not offered here, or an output size out of range.
    fn check_request(&self, request: &SegmentRequest) -> Result<(), NodeError> {
        if request.profiles.is_empty() {
            return Err(NodeError::BadRequest("no profiles requested".into()));
        }
        if request.profiles.len() > MAX_PROFILES {
            return Err(NodeError::BadRequest(format!(
                "{} profiles requested, at most {MAX_PROFILES} per segment",
                request.profiles.len()
            )));
        }
        for p in &request.profiles {
            if !self.config.codecs.iter().any(|c| c == &p.codec) {
                return Err(NodeError::BadRequest(format!(
                    "codec {} is not offered here",
                    p.codec
                )));
            }
            if !(2..=MAX_DIMENSION).contains(&p.width) || !(2..=MAX_DIMENSION).contains(&p.height) {
                return Err(NodeError::BadRequest(format!(
                    "profile {} is {}x{}, each side must be 2..={MAX_DIMENSION}",
                    p.name, p.width, p.height
                )));
            }
        }
        Ok(())
    }

    /// Probes a segment of `sender` and admits its stream (see [`crate::admission`]): refused
    /// with `capacity` when it is a new stream that the transcoders connected now cannot take on
    /// beside the streams held. Checked before the payment is booked.
    pub async fn admit(
        &self,
        sender: Address,
        request: &SegmentRequest,
        segment: &[u8],
    ) -> Result<Admitted, NodeError> {
        self.admit_probed(sender, request, segment, false).await
    }

    /// [`Node::admit`], probing `in_background` (see [`peerflow_media::in_background`]) when the
    /// segment is already being transcoded.
    async fn admit_probed(
        &self,
        sender: Address,
        request: &SegmentRequest,
        segment: &[u8],
        in_background: bool,
    ) -> Result<Admitted, NodeError> {
        self.check_request(request)?;
        let info = probe(segment, in_background).await?;
        let per_frame = shape(request, segment).pixels_per_frame;
        let seconds = if info.duration_s > 0.0 {
            info.duration_s
        } else {
            info.frames as f64 / if info.fps > 0.0 { info.fps } else { 30.0 }
        };
        let demand = crate::admission::demand(per_frame, info.frames, seconds);
        let lasted =
            Duration::from_secs_f64(crate::admission::segment_seconds(info.frames, seconds));
        self.admission
            .check(sender, &request.stream, demand, self.capacity())
            .inspect_err(|full| {
                tracing::info!(%sender, stream = %request.stream, %full, "stream refused: no capacity");
            })?;
        Ok(Admitted {
            frames: info.frames,
            demand,
            lasted,
        })
    }

    /// The output pixels per second the connected transcoders can take together, as far as
    /// this orchestrator can tell (see [`crate::transcoders::TranscoderStatus`]).
    pub fn capacity(&self) -> u64 {
        self.transcoders_connected()
            .iter()
            .map(|t| t.estimated_pixels_per_second)
            .sum()
    }

    /// The connected transcoders, with what admission counts on from each.
    pub fn transcoders_connected(&self) -> Vec<crate::transcoders::TranscoderStatus> {
        self.transcoders
            .connected(&self.jobs, self.config.capacity_pixels_per_second)
    }

    /// What the streams held ask for now.
    pub fn load(&self) -> crate::admission::Load {
        self.admission.load()
    }

    /// Transcodes an [`admitted`](Node::admit) segment for `sender` and charges it, at the price
    /// of `params` (the parameters its request was signed under), for the output pixels the
    /// request asks for: each profile's width × height × the frames the orchestrator itself
    /// counts in the segment (never what a transcoder reports). The cost is reserved from the
    /// sender's credit before any work starts (refused with `insufficient_balance` if it does not
    /// cover it) and given back if the work fails or the request is dropped.
    pub async fn transcode(
        &self,
        sender: Address,
        params: &TicketParams,
        request: SegmentRequest,
        segment: Vec<u8>,
        admitted: Admitted,
    ) -> Result<Transcoded, NodeError> {
        self.serving()?;
        let charge = self.charge(sender, params, &request, &admitted)?;
        let (renditions, times) = self
            .jobs
            .run_timed(
                request.clone(),
                segment.clone(),
                charge.pixels,
                self.config.job_timeout,
            )
            .await;
        self.finish(
            sender,
            &request,
            &segment,
            renditions?,
            times,
            charge,
            &admitted,
        )
    }

    /// [`Node::transcode`] for a segment of a held stream that may start before its probe ends
    /// (see [`Admission::start_early`]): its job is queued at once and the segment probed,
    /// admitted and charged while it runs, as [`Node::admit`] and [`Node::transcode`] would
    /// before. If any of that fails the job is dropped (a transcoder that took it is not
    /// answered), nothing is charged, and the stream loses the right to start early until one of
    /// its segments is served again.
    pub async fn transcode_early(
        &self,
        sender: Address,
        params: &TicketParams,
        request: SegmentRequest,
        segment: Vec<u8>,
        early: crate::admission::Early<'_>,
    ) -> Result<Transcoded, NodeError> {
        self.serving()?;
        self.check_request(&request)?;
        let pixels = Pixels::default();
        let job = self.jobs.run_timed(
            request.clone(),
            segment.clone(),
            pixels.clone(),
            self.config.job_timeout,
        );
        // The probe's answer is needed once the transcode is done: it takes the CPU the
        // transcode leaves.
        let admit = self.admit_probed(sender, &request, &segment, true);
        tokio::pin!(job, admit);
        let mut answered = None;
        let admitted = loop {
            tokio::select! {
                admitted = &mut admit => break admitted?,
                outcome = &mut job, if answered.is_none() => answered = Some(outcome),
            }
        };
        let charge = self.charge(sender, params, &request, &admitted)?;
        pixels.set(charge.pixels);
        let (renditions, times) = match answered {
            Some(outcome) => outcome,
            None => job.await,
        };
        let done = self.finish(
            sender,
            &request,
            &segment,
            renditions?,
            times,
            charge,
            &admitted,
        )?;
        early.served();
        Ok(done)
    }

    /// Reserves the cost of an admitted segment from `sender`'s credit and takes its stream's
    /// place (see [`Node::transcode`]).
    fn charge(
        &self,
        sender: Address,
        params: &TicketParams,
        request: &SegmentRequest,
        admitted: &Admitted,
    ) -> Result<Charge<'_>, NodeError> {
        let per_profile: Vec<u64> = request
            .profiles
            .iter()
            .map(|p| u64::from(p.width) * u64::from(p.height) * admitted.frames)
            .collect();
        let pixels: u64 = per_profile.iter().sum();
        let cost = params.price_per_pixel * U256::from(pixels);
        let reservation = {
            let mut store = self.store();
            store.debit(sender, cost).map_err(|e| match e {
                StoreError::InsufficientBalance { available, .. } => {
                    NodeError::InsufficientBalance {
                        sender,
                        available,
                        cost,
                    }
                }
                other => other.into(),
            })?;
            Reservation {
                store: &self.store,
                sender,
                amount: cost,
                committed: false,
            }
        };
        // The place is taken once the work is paid for: a stream that no longer fits (another
        // took the room since the check) is refused and the reservation given back.
        let seat =
            self.admission
                .admit(sender, &request.stream, admitted.demand, self.capacity())?;
        Ok(Charge {
            reservation,
            seat,
            per_profile,
            pixels,
            cost,
        })
    }

    /// Signs the renditions of a charged segment and commits its charge and its stream's place.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        sender: Address,
        request: &SegmentRequest,
        segment: &[u8],
        renditions: Vec<RenditionResult>,
        times: JobTimes,
        charge: Charge<'_>,
        admitted: &Admitted,
    ) -> Result<Transcoded, NodeError> {
        let (result, order) = SegmentResult::from_named(
            self.recipient(),
            sender,
            request,
            segment,
            renditions
                .iter()
                .map(|r| (r.name.as_str(), r.bytes.as_slice())),
        )
        .map_err(|e| JobError::Failed(format!("transcoder answered the wrong renditions: {e}")))?;
        let mut slots: Vec<Option<RenditionResult>> = renditions.into_iter().map(Some).collect();
        let renditions: Vec<RenditionResult> = order
            .into_iter()
            .zip(&charge.per_profile)
            .map(|(i, &pixels)| RenditionResult {
                pixels,
                ..slots[i].take().expect("each index once")
            })
            .collect();
        // Retired while transcoding: a broadcaster that already knows the new key would refuse a
        // result signed with this one; the reservation is refunded instead of charged.
        self.serving()?;
        let signature = self.signer.sign(&result)?;
        // Read before the charge is committed: past that point nothing may fail the request.
        let balance = self.store().balance(sender)?;
        charge.reservation.commit();
        charge.seat.keep(admitted.lasted, shape(request, segment));
        self.streams
            .served(sender, &request.stream, request.seq, charge.pixels);
        tracing::debug!(stream = %request.stream, seq = request.seq, digest = %result.digest(&self.signer.domain), "segment result signed");
        Ok(Transcoded {
            renditions,
            charged: charge.cost,
            balance,
            signature,
            times,
        })
    }

    /// Whether `sender`'s segment of `request` may start before its probe ends (see
    /// [`Admission::start_early`]).
    pub fn start_early(
        &self,
        sender: Address,
        request: &SegmentRequest,
        segment: &[u8],
    ) -> Option<crate::admission::Early<'_>> {
        self.admission
            .start_early(sender, &request.stream, shape(request, segment))
    }
}

/// A segment's cost reserved and its stream's place taken, until the segment is served.
struct Charge<'a> {
    reservation: Reservation<'a>,
    seat: crate::admission::Seat<'a>,
    /// Output pixels charged, per requested profile.
    per_profile: Vec<u64>,
    pixels: u64,
    cost: U256,
}

/// How large a segment of `request` is before it is probed (see [`crate::admission::Shape`]).
fn shape(request: &SegmentRequest, segment: &[u8]) -> crate::admission::Shape {
    crate::admission::Shape {
        pixels_per_frame: request
            .profiles
            .iter()
            .map(|p| u64::from(p.width) * u64::from(p.height))
            .fold(0, u64::saturating_add),
        bytes: segment.len() as u64,
    }
}

/// The largest width or height a profile may ask for.
pub const MAX_DIMENSION: u32 = 8192;

/// `segment` probed by ffprobe (off the async runtime); a segment it cannot read, or without
/// video frames, is a bad segment. An H.264 or HEVC segment's packets are read, not decoded (see
/// [`peerflow_media::probe_packets_bytes`]: the transcoder decodes it anyway, and a segment that
/// yields no rendition fails there, its reservation given back): its frames are its video
/// packets, as the broadcaster counts them when it pays.
async fn probe(
    segment: &[u8],
    in_background: bool,
) -> Result<peerflow_media::MediaInfo, NodeError> {
    let bytes = segment.to_vec();
    let info = tokio::task::spawn_blocking(move || {
        let probe = || peerflow_media::probe_packets_bytes(&bytes);
        if in_background {
            peerflow_media::in_background(probe)
        } else {
            probe()
        }
    })
    .await
    .map_err(|e| JobError::Failed(format!("probe task: {e}")))?
    .map_err(|e| JobError::BadSegment(format!("unreadable segment: {e}")))?;
    if info.frames == 0 {
        return Err(JobError::BadSegment("segment without video frames".into()).into());
    }
    Ok(info)
}
