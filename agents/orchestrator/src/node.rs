//! The orchestrator's business logic behind its HTTP API: quoting (price and ticket parameters bound
//! to a sender), taking payment, running a segment through the transcoders, and charging for it at
//! this orchestrator's own price for the pixels actually produced.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use peerflow_protocol::api::{OrchestratorInfo, Payment, SegmentRequest, TicketParamsMsg};
use peerflow_protocol::metrics::Metrics;
use peerflow_protocol::result::ResultSigner;
use peerflow_protocol::{SegmentResult, Signature, SignatureError, TicketDomain};

use crate::chain_view::{ChainView, ChainViewError};
use crate::earnings::EarningsReader;
use crate::jobs::{JobError, JobQueue, RenditionResult};
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
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("sender {sender} has {available} credit, the segment costs {cost}")]
    InsufficientBalance {
        sender: Address,
        available: U256,
        cost: U256,
    },
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
            Self::Payment(e) => e.code(),
            Self::Chain(_) => "chain_unavailable",
            Self::Job(JobError::NoCapacity(_)) => "capacity",
            Self::Job(JobError::BadSegment(_)) => "bad_segment",
            Self::Job(JobError::Failed(_)) => "transcode_failed",
            Self::BadRequest(_) => "bad_request",
            Self::InsufficientBalance { .. } => "insufficient_balance",
        }
    }

    /// Whether another orchestrator may succeed where this one failed.
    pub fn retry_elsewhere(&self) -> bool {
        matches!(
            self,
            Self::Chain(_) | Self::Job(JobError::NoCapacity(_) | JobError::Failed(_))
        ) || matches!(
            self,
            Self::Payment(PaymentError::Store(
                StoreError::Sqlite(_) | StoreError::Corrupt(_)
            ))
        )
    }
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
}

/// One orchestrator: its payment state, chain view and transcoder queue, and what it reports
/// (metrics, connected transcoders, streams served).
pub struct Node<P> {
    validator: Validator,
    store: Mutex<PaymentStore>,
    chain: ChainView<P>,
    signer: ResultSigner,
    metrics: Arc<Metrics>,
    pub jobs: JobQueue,
    pub transcoders: Transcoders,
    pub streams: Streams,
    /// Reads what it earned on-chain (for the status).
    pub earnings: EarningsReader,
    pub config: NodeConfig,
    /// The price quoted from now on (starts at `config.policy.price_per_pixel`; follows the
    /// on-chain advertisement, see [`Node::set_price`]).
    price: std::sync::RwLock<U256>,
}

impl<P: Provider + Clone> Node<P> {
    /// `signer` signs every segment result; it must be the recipient's (the orchestrator's) key.
    ///
    /// # Panics
    /// If `signer` is not the validator's recipient.
    pub fn new(
        validator: Validator,
        store: PaymentStore,
        chain: ChainView<P>,
        config: NodeConfig,
        signer: ResultSigner,
    ) -> Self {
        assert_eq!(
            signer.address(),
            validator.recipient,
            "segment results must be signed by the orchestrator"
        );
        let from_block = chain.start_block();
        Self {
            validator,
            store: Mutex::new(store),
            chain,
            signer,
            metrics: Arc::new(Metrics::new()),
            jobs: JobQueue::default(),
            transcoders: Transcoders::default(),
            streams: Streams::default(),
            earnings: EarningsReader::new(from_block),
            price: std::sync::RwLock::new(config.policy.price_per_pixel),
            config,
        }
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
        self.validator.domain
    }

    pub fn store(&self) -> std::sync::MutexGuard<'_, PaymentStore> {
        self.store.lock().expect("payment store")
    }

    /// Price, capabilities and ticket parameters for `sender` (reused while fresh, else new ones).
    pub async fn info(&self, sender: Address) -> Result<OrchestratorInfo, NodeError> {
        let clock = self.chain.clock().await?;
        let price = self.price();
        let store = self.store();
        let params = match store.latest_params(sender)? {
            Some(p)
                if p.creation_round == clock.round
                    && p.expiration_block >= clock.block + self.config.refresh_margin_blocks
                    && p.price_per_pixel == price =>
            {
                p
            }
            _ => {
                let p = TicketParams::issue(
                    self.validator.secret(),
                    &ParamsPolicy {
                        price_per_pixel: price,
                        ..self.config.policy.clone()
                    },
                    self.recipient(),
                    sender,
                    clock.block,
                    clock.round,
                );
                store.save_params(&p)?;
                p
            }
        };
        Ok(OrchestratorInfo {
            orchestrator: self.recipient(),
            chain_id: self.validator.domain.chain_id,
            ticket_broker: self.validator.domain.broker,
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
        })
    }

    /// Validates and books every ticket of `payment`; returns the credit they earned.
    pub async fn accept_payment(&self, payment: &Payment) -> Result<U256, NodeError> {
        let clock = self.chain.clock().await?;
        let mut credited = U256::ZERO;
        for msg in &payment.tickets {
            let (ticket, signature) =
                msg.ticket(self.recipient(), payment.sender).map_err(|e| {
                    let e = PaymentError::from(e);
                    crate::metrics::ticket_refused(&self.metrics, e.code());
                    e
                })?;
            let spoken_for = self.store().pending_face_value(payment.sender)?;
            let funds = self
                .chain
                .sender_funds(payment.sender, msg.signer, msg.creation_round, spoken_for)
                .await?;
            let mut store = self.store();
            match self
                .validator
                .accept(&mut store, &ticket, &signature, &funds, clock.block)
            {
                Ok(accepted) => {
                    crate::metrics::ticket_accepted(&self.metrics, accepted.winning);
                    credited += accepted.credited;
                }
                Err(e) => {
                    crate::metrics::ticket_refused(&self.metrics, e.code());
                    return Err(e.into());
                }
            }
        }
        Ok(credited)
    }

    /// Transcodes a segment for `sender` and charges it `price × pixels produced`. Nothing is
    /// charged if it fails; the renditions are withheld if the sender's credit does not cover them.
    pub async fn transcode(
        &self,
        sender: Address,
        request: SegmentRequest,
        segment: Vec<u8>,
    ) -> Result<Transcoded, NodeError> {
        if request.profiles.is_empty() {
            return Err(NodeError::BadRequest("no profiles requested".into()));
        }
        if let Some(p) = request
            .profiles
            .iter()
            .find(|p| !self.config.codecs.iter().any(|c| c == &p.codec))
        {
            return Err(NodeError::BadRequest(format!(
                "codec {} is not offered here",
                p.codec
            )));
        }
        let available = self.store().balance(sender)?;
        if available.is_zero() {
            return Err(NodeError::InsufficientBalance {
                sender,
                available,
                cost: U256::from(1u64),
            });
        }
        let renditions = self
            .jobs
            .run(request.clone(), segment.clone(), self.config.job_timeout)
            .await?;
        let (result, order) = SegmentResult::from_named(
            self.recipient(),
            sender,
            &request,
            &segment,
            renditions
                .iter()
                .map(|r| (r.name.as_str(), r.bytes.as_slice())),
        )
        .map_err(|e| JobError::Failed(format!("transcoder answered the wrong renditions: {e}")))?;
        let mut slots: Vec<Option<RenditionResult>> = renditions.into_iter().map(Some).collect();
        let renditions: Vec<RenditionResult> = order
            .into_iter()
            .map(|i| slots[i].take().expect("each index once"))
            .collect();
        let signature = self.signer.sign(&result)?;
        let pixels: u64 = renditions.iter().map(|r| r.pixels).sum();
        let mut store = self.store();
        // At the price this sender was last quoted (its latest parameters carry it).
        let price = store
            .latest_params(sender)?
            .map_or_else(|| self.price(), |p| p.price_per_pixel);
        let cost = price * U256::from(pixels);
        let balance = store.debit(sender, cost).map_err(|e| match e {
            StoreError::InsufficientBalance { available, .. } => NodeError::InsufficientBalance {
                sender,
                available,
                cost,
            },
            other => other.into(),
        })?;
        drop(store);
        self.streams
            .served(sender, &request.stream, request.seq, pixels);
        tracing::debug!(stream = %request.stream, seq = request.seq, digest = %result.digest(&self.signer.domain), "segment result signed");
        Ok(Transcoded {
            renditions,
            charged: cost,
            balance,
            signature,
        })
    }
}
