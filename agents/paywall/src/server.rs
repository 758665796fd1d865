//! The broadcaster's side of paid playback: offers, sessions opened on a relayed grant, tickets
//! taken once a whole ticket's worth of video is due, segments charged or refused, winners
//! redeemed, and the streamer's view.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use axum::http::StatusCode;
use peerflow_broadcaster::{ApiError, SegmentRequest, Streams, ViewerGate};
use peerflow_chain::bindings::stream_support::StreamSupport;
use peerflow_chain::bindings::ticket_broker::TicketBroker;
use peerflow_orchestrator::chain_view::{ChainView, ChainViewError, Clock};
use peerflow_orchestrator::params::{expected_value, face_value_for};
use peerflow_orchestrator::{
    GasPolicy, PaymentError, PaymentStore, RecipientSecret, Redeemer,
    StoreError as TicketStoreError, TicketParams, Validator, WinningTicketStatus,
};
use peerflow_protocol::metrics::Metrics;
use peerflow_protocol::signature::Signature;
use peerflow_protocol::{TicketDomain, recipient_rand_hash};

use crate::grant::SignerGrant;
use crate::proto::{
    Offer, OpenSession, SessionState, SessionView, StatusView, TicketPayment, TicketToSign, Totals,
    ViewerFunds, ViewerRow,
};
use crate::store::{Account, Charge, NewSession, StoreError, ViewerStore};
use crate::support::SupportBook;

/// Metric names (served at the broadcaster's `GET /metrics`).
pub mod metrics {
    /// Counter: sessions opened (`kind`: `paying`, `subscriber`).
    pub const SESSIONS: &str = "peerflow_broadcaster_viewer_sessions_total";
    /// Gauge: viewers that fetched a segment in the last 30 s.
    pub const VIEWERS: &str = "peerflow_broadcaster_viewers";
    /// Counter: paid-stream segments served to viewers, and refused (by code).
    pub const SEGMENTS: &str = "peerflow_broadcaster_viewer_segments_total";
    pub const REFUSED: &str = "peerflow_broadcaster_viewer_refusals_total";
    /// Counters: viewer tickets taken, the milliseconds of video and the expected value they paid.
    pub const TICKETS: &str = "peerflow_broadcaster_viewer_tickets_total";
    pub const PAID_MS: &str = "peerflow_broadcaster_viewer_paid_ms_total";
    pub const PAID_WEI: &str = "peerflow_broadcaster_viewer_paid_wei_total";
    /// Gauges from the chain: tips received (count and wei) and subscribers now.
    pub const TIPS: &str = "peerflow_broadcaster_tips";
    pub const TIPS_WEI: &str = "peerflow_broadcaster_tips_wei";
    pub const SUBSCRIBERS: &str = "peerflow_broadcaster_subscribers";
}

/// How long the streamer's view is reused.
const STATUS_TTL: Duration = Duration::from_secs(1);
/// A session whose viewer fetched a segment this recently counts as watching.
const WATCHING_MS: u64 = 30_000;
/// Grants a funder may have relayed per hour (each costs the broadcaster a transaction).
pub const DEFAULT_GRANTS_PER_HOUR: u64 = 6;
/// Grants relayed per hour, every funder together.
pub const DEFAULT_RELAYS_PER_HOUR: u64 = 600;
/// A grant's suggested cap: this many winning tickets.
pub const GRANT_WINNERS: u64 = 25;
/// The broker's largest face value (`MAX_FACE_VALUE`, 96 bits).
const MAX_FACE_VALUE: U256 = U256::from_limbs([u64::MAX, (1 << 32) - 1, 0, 0]);

/// How this broadcaster charges its viewers.
#[derive(Debug, Clone)]
pub struct PaywallConfig {
    /// The broadcaster's account: the tickets' recipient.
    pub recipient: Address,
    pub data_dir: PathBuf,
    /// Video one ticket pays for.
    pub ms_per_ticket: u64,
    /// How far behind its payments a viewer may get (at least one ticket and a segment more).
    pub credit_ms: u64,
    pub win_prob: U256,
    /// Rounds a grant should authorize the hot key for (asked in the offer; grants must cover
    /// at least two rounds).
    pub grant_rounds: u64,
    pub deadline_secs: u64,
    /// Blocks a ticket's parameters stay valid.
    pub lifetime_blocks: u64,
    pub grants_per_hour: u64,
    /// Grants relayed per hour, every funder together (the broadcaster's gas budget for them).
    pub relays_per_hour: u64,
    pub gas: GasPolicy,
}

/// The deployment's addresses and clock.
#[derive(Debug, Clone, Copy)]
pub struct ChainInfo {
    pub chain_id: u64,
    pub broker: Address,
    pub token: Address,
    pub support: Address,
    pub start_block: u64,
    pub round_length: u64,
    /// Where event scans start.
    pub scan_from: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PaywallError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    BadGrant(String),
    #[error("{0}")]
    InsufficientDeposit(String),
    #[error("funder {0} gave too many grants in the last hour; wait")]
    TooManyGrants(Address),
    #[error("no session {0:?}")]
    UnknownSession(String),
    #[error("{0}")]
    Stream(ApiError),
    #[error("stream {0:?} is free to watch: no session needed")]
    FreeStream(String),
    #[error("nothing is due: {due_ms} ms watched and not paid, a ticket pays {ms_per_ticket} ms")]
    NothingDue { due_ms: u64, ms_per_ticket: u64 },
    #[error("this ticket's parameters were paid already")]
    AlreadyPaid,
    #[error("{0}")]
    BadPrice(String),
    #[error("the grant's cap is spent: open a new session with a new grant")]
    GrantSpent,
    #[error("the ticket must carry nonce {expected}, the one the session offered")]
    WrongNonce { expected: u64 },
    #[error("the ticket is not on the parameters the session offers")]
    WrongParams,
    #[error("ticket refused: {0}")]
    Ticket(#[from] PaymentError),
    #[error("chain: {0}")]
    Chain(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("ticket book: {0}")]
    TicketStore(#[from] TicketStoreError),
}

impl From<ChainViewError> for PaywallError {
    fn from(e: ChainViewError) -> Self {
        Self::Chain(e.to_string())
    }
}

impl PaywallError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::BadGrant(_) => "bad_grant",
            Self::InsufficientDeposit(_) => "insufficient_deposit",
            Self::TooManyGrants(_) => "too_many_grants",
            Self::UnknownSession(_) => "unknown_session",
            Self::Stream(e) => e.code(),
            Self::FreeStream(_) => "free_stream",
            Self::NothingDue { .. } => "nothing_due",
            Self::AlreadyPaid => "already_paid",
            Self::BadPrice(_) => "bad_price",
            Self::GrantSpent => "grant_spent",
            Self::WrongNonce { .. } => "wrong_nonce",
            Self::WrongParams => "wrong_params",
            Self::Ticket(e) => match e.code() {
                "insufficient_deposit" | "sender_unlocking" => "insufficient_funds",
                "invalid_signature" => "bad_signature",
                code => code,
            },
            Self::Chain(_) => "chain_unavailable",
            Self::Store(_) | Self::TicketStore(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::BadGrant(_) | Self::WrongParams | Self::FreeStream(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::InsufficientDeposit(_) => StatusCode::PAYMENT_REQUIRED,
            Self::TooManyGrants(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::UnknownSession(_) => StatusCode::NOT_FOUND,
            Self::Stream(e) => e.status(),
            Self::NothingDue { .. } | Self::AlreadyPaid | Self::GrantSpent => StatusCode::CONFLICT,
            Self::WrongNonce { .. } => StatusCode::BAD_REQUEST,
            Self::BadPrice(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Ticket(PaymentError::Store(TicketStoreError::NonceReplayed { .. })) => {
                StatusCode::CONFLICT
            }
            Self::Ticket(_) if self.code() == "insufficient_funds" => StatusCode::PAYMENT_REQUIRED,
            Self::Ticket(_) => StatusCode::BAD_REQUEST,
            Self::Chain(_) => StatusCode::BAD_GATEWAY,
            Self::Store(_) | Self::TicketStore(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub struct Paywall<P> {
    cfg: PaywallConfig,
    info: ChainInfo,
    streams: Streams,
    store: Mutex<ViewerStore>,
    payments: Mutex<PaymentStore>,
    validator: Validator,
    secret: RecipientSecret,
    chain: ChainView<P>,
    provider: P,
    redeemer: Redeemer<P>,
    support: SupportBook,
    metrics: Arc<Metrics>,
    /// One session opening or payment at a time: each reads the chain and the book, then writes.
    ops: tokio::sync::Mutex<()>,
    status_cache: tokio::sync::Mutex<Option<(std::time::Instant, StatusView)>>,
}

impl<P: Provider + Clone + 'static> Paywall<P> {
    /// Opens the viewers' book in `cfg.data_dir`; `provider` signs the grant relays and the
    /// redemptions (the broadcaster's wallet).
    pub async fn new(
        cfg: PaywallConfig,
        provider: P,
        info: ChainInfo,
        streams: Streams,
        metrics: Arc<Metrics>,
    ) -> Result<Self, PaywallError> {
        if cfg.ms_per_ticket == 0 || cfg.credit_ms < cfg.ms_per_ticket * 2 {
            return Err(PaywallError::BadRequest(format!(
                "the credit ({} ms) must cover two tickets ({} ms each)",
                cfg.credit_ms, cfg.ms_per_ticket
            )));
        }
        let io = |e: std::io::Error| PaywallError::BadRequest(format!("paywall data dir: {e}"));
        std::fs::create_dir_all(&cfg.data_dir).map_err(io)?;
        let db = cfg.data_dir.join("viewers.sqlite");
        let payments = PaymentStore::open(&db)?;
        let store = ViewerStore::open(&db)?;
        let secret =
            RecipientSecret::load_or_create(&cfg.data_dir.join("viewers-recipient.secret"))
                .map_err(io)?;
        let domain = TicketDomain {
            chain_id: info.chain_id,
            broker: info.broker,
        };
        // A winner is redeemed once its parameters expired, and must still be valid then.
        let validity: u64 = TicketBroker::new(info.broker, provider.clone())
            .ticketValidity()
            .call()
            .await
            .map_err(|e| PaywallError::Chain(e.to_string()))?
            .saturating_to();
        let longest = (validity.saturating_sub(1) * info.round_length / 2).max(1);
        let mut cfg = cfg;
        cfg.lifetime_blocks = cfg.lifetime_blocks.clamp(1, longest);
        let redeemer = Redeemer::new(info.broker, provider.clone(), cfg.gas)
            .await
            .map_err(|e| PaywallError::Chain(e.to_string()))?
            .with_metrics(Arc::clone(&metrics));
        Ok(Self {
            validator: Validator::new(cfg.recipient, domain, secret.clone()),
            chain: ChainView::new(
                provider.clone(),
                info.broker,
                cfg.recipient,
                info.start_block,
                info.round_length,
            ),
            support: SupportBook::new(info.support, cfg.recipient, info.scan_from),
            provider,
            secret,
            redeemer,
            store: Mutex::new(store),
            payments: Mutex::new(payments),
            streams,
            metrics,
            info,
            cfg,
            ops: tokio::sync::Mutex::new(()),
            status_cache: tokio::sync::Mutex::new(None),
        })
    }

    pub fn config(&self) -> &PaywallConfig {
        &self.cfg
    }

    fn store(&self) -> MutexGuard<'_, ViewerStore> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn payments(&self) -> MutexGuard<'_, PaymentStore> {
        self.payments.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn domain(&self) -> TicketDomain {
        self.validator.domain()
    }

    /// The price of `stream` per minute; `unknown_stream` when it published nothing.
    fn price(&self, stream: &str) -> Result<U256, PaywallError> {
        self.streams
            .price_per_minute(stream)
            .map_err(PaywallError::Stream)
    }

    /// Expected value of one ticket at `price` per minute: the price of `ms_per_ticket` of video.
    pub fn ticket_value(&self, price: U256) -> U256 {
        price.saturating_mul(U256::from(self.cfg.ms_per_ticket)) / U256::from(60_000u64)
    }

    /// One ticket's expected value and face value at `price` per minute; refused when a ticket
    /// would be worth nothing or its face value above what the broker redeems.
    fn ticket_terms(&self, price: U256) -> Result<(U256, U256), PaywallError> {
        let value = self.ticket_value(price);
        let face = face_value_for(value, self.cfg.win_prob);
        if value.is_zero() || face > MAX_FACE_VALUE {
            return Err(PaywallError::BadPrice(format!(
                "{price} wei a minute makes a ticket of {} ms worth {value} wei, face value {face}: \
                 a ticket must be worth something and its face value at most 2^96 - 1",
                self.cfg.ms_per_ticket
            )));
        }
        Ok((value, face))
    }

    fn broker(&self) -> TicketBroker::TicketBrokerInstance<P> {
        TicketBroker::new(self.info.broker, self.provider.clone())
    }

    fn support_contract(&self) -> Option<StreamSupport::StreamSupportInstance<P>> {
        (!self.info.support.is_zero())
            .then(|| StreamSupport::new(self.info.support, self.provider.clone()))
    }

    async fn subscribed_until(&self, viewer: Address) -> Result<u64, PaywallError> {
        let Some(support) = self.support_contract() else {
            return Ok(0);
        };
        let until = support
            .subscribedUntil(self.cfg.recipient, viewer)
            .call()
            .await
            .map_err(|e| PaywallError::Chain(e.to_string()))?;
        Ok(until.saturating_to())
    }

    /// What watching `stream` costs, and for `viewer` its grant nonce, deposit and subscription.
    pub async fn offer(
        &self,
        stream: &str,
        viewer: Option<Address>,
    ) -> Result<Offer, PaywallError> {
        let price = self.price(stream)?;
        let clock = self.chain.clock().await?;
        let face_value = if price.is_zero() {
            U256::ZERO
        } else {
            self.ticket_terms(price)?.1
        };
        let subscription_price = match self.support_contract() {
            Some(s) => s
                .subscriptionPrice(self.cfg.recipient)
                .call()
                .await
                .map_err(|e| PaywallError::Chain(e.to_string()))?,
            None => U256::ZERO,
        };
        let viewer = match viewer {
            None => None,
            Some(address) => {
                let broker = self.broker();
                let grant_nonce = broker
                    .signerGrantNonce(address)
                    .call()
                    .await
                    .map_err(|e| PaywallError::Chain(e.to_string()))?;
                let deposit = broker
                    .getSenderInfo(address)
                    .call()
                    .await
                    .map_err(|e| PaywallError::Chain(e.to_string()))?
                    .deposit;
                Some(ViewerFunds {
                    address,
                    grant_nonce,
                    deposit,
                    subscribed_until: self.subscribed_until(address).await?,
                })
            }
        };
        Ok(Offer {
            stream: stream.to_owned(),
            paid: !price.is_zero(),
            price_per_minute: price,
            recipient: self.cfg.recipient,
            chain_id: self.info.chain_id,
            broker: self.info.broker,
            token: self.info.token,
            support: self.info.support,
            ms_per_ticket: self.cfg.ms_per_ticket,
            credit_ms: self.cfg.credit_ms,
            face_value,
            win_prob: self.cfg.win_prob,
            round: clock.round,
            round_length_blocks: self.info.round_length,
            grant_rounds: self.cfg.grant_rounds,
            deadline_secs: self.cfg.deadline_secs,
            grant_max_spend: face_value.saturating_mul(U256::from(GRANT_WINNERS)),
            min_deposit: face_value,
            subscription_price,
            subscription_period_secs: crate::support::PERIOD_SECS,
            viewer,
        })
    }

    /// Opens (or reopens) the funder's session on `stream` on a grant its wallet signed: checks
    /// the grant and the funder's deposit (or subscription), relays the grant to the broker, and
    /// offers the first ticket. The relay waits for its transaction outside the lock payments
    /// take, so opening sessions never holds up the viewers paying.
    pub async fn open(&self, stream: &str, req: &OpenSession) -> Result<SessionView, PaywallError> {
        let price = self.price(stream)?;
        if price.is_zero() {
            return Err(PaywallError::FreeStream(stream.to_owned()));
        }
        let (_, face_value) = self.ticket_terms(price)?;
        let signature = Signature::from_bytes(&parse_hex(&req.signature)?)
            .map_err(|e| PaywallError::BadGrant(format!("grant signature: {e}")))?;
        if req.signer == req.funder || req.signer.is_zero() {
            return Err(PaywallError::BadGrant(
                "the hot key must not be the funder".into(),
            ));
        }
        if req.recipient != self.cfg.recipient {
            return Err(PaywallError::BadGrant(format!(
                "the grant names recipient {}; this broadcaster is {}",
                req.recipient, self.cfg.recipient
            )));
        }
        if req.max_spend < face_value {
            return Err(PaywallError::BadGrant(format!(
                "the grant's cap ({}) is below one ticket's face value ({face_value})",
                req.max_spend
            )));
        }
        let until_round: u64 = req
            .until_round
            .try_into()
            .map_err(|_| PaywallError::BadGrant("untilRound out of range".into()))?;
        let grant = SignerGrant {
            funder: req.funder,
            signer: req.signer,
            recipient: req.recipient,
            maxSpend: req.max_spend,
            untilRound: req.until_round,
            nonce: req.nonce,
            deadline: req.deadline,
        };
        let signed_by = grant
            .signer_of(&signature, &self.domain())
            .map_err(|e| PaywallError::BadGrant(format!("grant signature: {e}")))?;
        if signed_by != req.funder {
            return Err(PaywallError::BadGrant(format!(
                "the grant is signed by {signed_by}, not by its funder {}",
                req.funder
            )));
        }
        let now = now_ms();
        if req.deadline < U256::from(now / 1000 + 5) {
            return Err(PaywallError::BadGrant(
                "the grant's deadline has passed".into(),
            ));
        }
        let clock = self.chain.clock().await?;
        if until_round < clock.round + 2 {
            return Err(PaywallError::BadGrant(format!(
                "the grant ends at round {until_round}; it must reach round {} at least",
                clock.round + 2
            )));
        }
        let nonce = self
            .broker()
            .signerGrantNonce(req.funder)
            .call()
            .await
            .map_err(|e| PaywallError::Chain(e.to_string()))?;
        if nonce != req.nonce {
            return Err(PaywallError::BadGrant(format!(
                "the grant carries nonce {}, the funder's next is {nonce}",
                req.nonce
            )));
        }
        let subscribed_until = self.subscribed_until(req.funder).await?;
        let subscriber = subscribed_until > now / 1000;
        // Winners of this funder not yet redeemed here are spoken for.
        let spoken_for = self.payments().pending_face_value(req.funder)?;
        let funds = self
            .chain
            .sender_funds(req.funder, req.funder, clock.round, spoken_for)
            .await?;
        let can_pay = !funds.unlocking && funds.available >= face_value;
        if !subscriber && !can_pay {
            return Err(PaywallError::InsufficientDeposit(format!(
                "{} has {} wei free in its deposit{}; watching needs one ticket's face value, {face_value} wei",
                req.funder,
                funds.available,
                if funds.unlocking {
                    " and is unlocking it"
                } else {
                    ""
                }
            )));
        }
        let since = now.saturating_sub(3_600_000);
        {
            let store = self.store();
            if store.grants_since(req.funder, since)? >= self.cfg.grants_per_hour
                || store.all_grants_since(since)? >= self.cfg.relays_per_hour
            {
                return Err(PaywallError::TooManyGrants(req.funder));
            }
            // Taken before the relay: a grant is relayed once, whoever posts it twice at once.
            if store
                .take_grant(grant.digest(&self.domain()), req.funder, now, since)?
                .is_none()
            {
                return Err(PaywallError::BadGrant("this grant was used already".into()));
            }
        }
        if can_pay {
            self.relay(req, &signature).await?;
        }
        let _op = self.ops.lock().await;
        let session = B256::random().to_string()[2..].to_owned();
        let stored_until = if subscriber { subscribed_until } else { 0 };
        self.store().open_account(&NewSession {
            stream,
            funder: req.funder,
            session: &session,
            signer: req.signer,
            until_round,
            max_spend: if can_pay { req.max_spend } else { U256::ZERO },
            subscribed_until: stored_until,
            now_ms: now,
        })?;
        self.metrics.inc(
            metrics::SESSIONS,
            "Viewer sessions opened, by kind.",
            &[("kind", if subscriber { "subscriber" } else { "paying" })],
        );
        tracing::info!(stream, funder = %req.funder, signer = %req.signer, subscriber, "viewer session opened");
        let clock = self.chain.clock().await?;
        if can_pay {
            self.issue(stream, req.funder, price, &clock)?;
        }
        self.view_of(&session, &clock).await
    }

    /// Sends the grant to the broker (the broadcaster pays the gas), after a dry run so that a
    /// grant the broker would refuse costs nothing.
    async fn relay(&self, req: &OpenSession, signature: &Signature) -> Result<(), PaywallError> {
        let broker = self.broker();
        let call = broker.authorizeSignerWithSig(
            req.funder,
            req.signer,
            req.recipient,
            req.max_spend,
            req.until_round,
            req.deadline,
            Bytes::copy_from_slice(&signature.to_bytes()),
        );
        call.call().await.map_err(|e| {
            let reason = peerflow_chain::refusal::of_contract_error(&e, Some("TicketBroker"))
                .map_or_else(|| e.to_string(), |r| r.to_string());
            PaywallError::BadGrant(format!("the broker refuses the grant: {reason}"))
        })?;
        peerflow_chain::deploy::execute(call)
            .await
            .map_err(|e| PaywallError::Chain(format!("relaying the grant: {e}")))?;
        Ok(())
    }

    /// New parameters for the account's next ticket.
    fn issue(
        &self,
        stream: &str,
        funder: Address,
        price: U256,
        clock: &Clock,
    ) -> Result<TicketParams, PaywallError> {
        let (_, face_value) = self.ticket_terms(price)?;
        let seed = B256::random();
        let params = TicketParams {
            recipient: self.cfg.recipient,
            sender: funder,
            face_value,
            win_prob: self.cfg.win_prob,
            recipient_rand_hash: recipient_rand_hash(self.secret.recipient_rand(seed, funder)),
            seed,
            creation_round: clock.round,
            expiration_block: clock.block + self.cfg.lifetime_blocks,
            price_per_pixel: U256::ZERO,
        };
        self.payments().save_params(&params)?;
        self.store().issue(
            stream,
            funder,
            params.recipient_rand_hash,
            self.cfg.ms_per_ticket,
            expected_value(params.face_value, params.win_prob),
        )?;
        Ok(params)
    }

    fn account(&self, session: &str) -> Result<Account, PaywallError> {
        self.store()
            .by_session(session)?
            .ok_or_else(|| PaywallError::UnknownSession(session.to_owned()))
    }

    /// A session as its viewer sees it; parameters that expired unpaid are replaced.
    pub async fn view(&self, session: &str) -> Result<SessionView, PaywallError> {
        let clock = self.chain.clock().await?;
        self.view_of(session, &clock).await
    }

    async fn view_of(&self, session: &str, clock: &Clock) -> Result<SessionView, PaywallError> {
        let account = self.account(session)?;
        let subscriber = account.subscribed_until > now_ms() / 1000;
        let grant_left = account
            .max_spend
            .saturating_sub(self.payments().winners_face_by_signer(account.signer)?);
        let mut ticket = None;
        if let Some(hash) = account.pending {
            let params = self.payments().params(hash)?;
            let spent = self.payments().params_spent(hash)?;
            let params = match params {
                Some(p) if !spent && p.expiration_block >= clock.block => Some(p),
                _ if subscriber => None,
                // New parameters at the stream's price; none when the stream is gone.
                _ => match self.price(&account.stream) {
                    Ok(price) => Some(self.issue(&account.stream, account.funder, price, clock)?),
                    Err(e) => {
                        tracing::debug!(stream = %account.stream, error = %e, "no new ticket parameters");
                        None
                    }
                },
            };
            if let Some(p) = params.filter(|p| p.face_value <= grant_left) {
                let nonce = self.payments().next_nonce(account.signer)?;
                ticket = Some(TicketToSign {
                    recipient: p.recipient,
                    sender: p.sender,
                    signer: account.signer,
                    face_value: p.face_value,
                    win_prob: p.win_prob,
                    sender_nonce: U256::from(nonce),
                    recipient_rand_hash: p.recipient_rand_hash,
                    creation_round: U256::from(p.creation_round),
                });
            }
        }
        Ok(self.session_view(&account, subscriber, grant_left, ticket))
    }

    fn session_view(
        &self,
        a: &Account,
        subscriber: bool,
        grant_left: U256,
        ticket: Option<TicketToSign>,
    ) -> SessionView {
        SessionView {
            session: a.session.clone(),
            stream: a.stream.clone(),
            funder: a.funder,
            signer: a.signer,
            subscriber,
            subscribed_until: a.subscribed_until,
            paid_ms: a.paid_ms,
            consumed_ms: a.consumed_ms,
            due_ms: if subscriber {
                0
            } else {
                a.consumed_ms.saturating_sub(a.paid_ms)
            },
            credit_ms: self.cfg.credit_ms,
            ms_per_ticket: self.cfg.ms_per_ticket,
            tickets_accepted: a.tickets,
            state: if a.cut_off {
                SessionState::CutOff
            } else {
                SessionState::Ok
            },
            until_round: a.until_round,
            grant_left,
            ticket,
        }
    }

    /// Takes the session's ticket, signed by its hot key, once a whole ticket's worth of video is
    /// due.
    pub async fn pay(
        &self,
        session: &str,
        req: &TicketPayment,
    ) -> Result<SessionView, PaywallError> {
        let _op = self.ops.lock().await;
        let account = self.account(session)?;
        let due = account.consumed_ms.saturating_sub(account.paid_ms);
        if due < self.cfg.ms_per_ticket {
            return Err(self.refused(PaywallError::NothingDue {
                due_ms: due,
                ms_per_ticket: self.cfg.ms_per_ticket,
            }));
        }
        let hash = req.recipient_rand_hash;
        if account.pending != Some(hash) {
            if self.payments().params_spent(hash)? {
                return Err(self.refused(PaywallError::AlreadyPaid));
            }
            return Err(self.refused(PaywallError::WrongParams));
        }
        if self.payments().params_spent(hash)? {
            return Err(self.refused(PaywallError::AlreadyPaid));
        }
        let params = self
            .payments()
            .params(hash)?
            .ok_or(PaywallError::WrongParams)?;
        // The nonce the session offered: nonces in order keep every winner redeemable (the
        // broker remembers a window of the newest nonces per signer and recipient).
        let expected = self.payments().next_nonce(account.signer)?;
        if req.sender_nonce != U256::from(expected) {
            return Err(self.refused(PaywallError::WrongNonce { expected }));
        }
        // Within the grant's cap, counting this ticket as a winner before the draw: refusing a
        // ticket because it won would let the viewer pay with losers only.
        let taken = self.payments().winners_face_by_signer(account.signer)?;
        if taken.saturating_add(params.face_value) > account.max_spend {
            return Err(self.refused(PaywallError::GrantSpent));
        }
        let signature = Signature::from_bytes(&parse_hex(&req.signature)?)
            .map_err(|e| self.refused(PaywallError::Ticket(PaymentError::from(e))))?;
        let ticket = peerflow_protocol::Ticket {
            recipient: self.cfg.recipient,
            sender: account.funder,
            signer: account.signer,
            faceValue: params.face_value,
            winProb: params.win_prob,
            senderNonce: req.sender_nonce,
            recipientRandHash: hash,
            creationRound: U256::from(params.creation_round),
        };
        let clock = self.chain.clock().await?;
        let funds = self
            .chain
            .sender_funds(
                account.funder,
                account.signer,
                params.creation_round,
                U256::ZERO,
            )
            .await?;
        let (_, mut booking) = self
            .validator
            .check(&params, &ticket, &signature, &funds, clock.block)
            .map_err(|e| self.refused(e.into()))?;
        booking.credit = U256::ZERO;
        booking.spends_params = Some(hash);
        match self.payments().accept(&booking) {
            Ok(()) => {}
            Err(TicketStoreError::ParamsSpent(_)) => {
                return Err(self.refused(PaywallError::AlreadyPaid));
            }
            Err(
                e @ (TicketStoreError::NonceReplayed { .. }
                | TicketStoreError::FundsSpokenFor { .. }),
            ) => {
                return Err(self.refused(PaywallError::Ticket(PaymentError::from(e))));
            }
            Err(e) => return Err(e.into()),
        }
        let value = expected_value(params.face_value, params.win_prob);
        self.metrics
            .inc(metrics::TICKETS, "Viewer tickets taken.", &[]);
        self.metrics.add(
            metrics::PAID_MS,
            "Milliseconds of video paid for by viewer tickets.",
            &[],
            self.cfg.ms_per_ticket as f64,
        );
        self.metrics.add(
            metrics::PAID_WEI,
            "Expected value of the viewer tickets taken, token wei.",
            &[],
            u256_f64(value),
        );
        self.store().resume(session)?;
        // The ticket is taken: the next parameters are issued when the session is next read if
        // the stream is gone now.
        if let Ok(price) = self.price(&account.stream) {
            self.issue(&account.stream, account.funder, price, &clock)?;
        }
        self.view_of(session, &clock).await
    }

    fn refused(&self, e: PaywallError) -> PaywallError {
        self.metrics.inc(
            metrics::REFUSED,
            "Viewer requests refused, by code.",
            &[("code", e.code())],
        );
        e
    }

    /// Charges a paid segment to the viewer's session, or refuses it (402).
    pub fn charge(&self, request: &SegmentRequest<'_>) -> Result<(), ApiError> {
        let refuse = |code: &'static str, message: String| {
            self.metrics.inc(
                metrics::REFUSED,
                "Viewer requests refused, by code.",
                &[("code", code)],
            );
            ApiError::Gate {
                status: StatusCode::PAYMENT_REQUIRED,
                code,
                message,
            }
        };
        let internal = |e: StoreError| ApiError::Internal(e.to_string());
        let Some(session) = request.viewer else {
            return Err(refuse(
                "payment_required",
                format!(
                    "stream {:?} is paid: open a session (POST /v1/watch/{}/sessions) and send its token in X-Peerflow-Viewer",
                    request.stream, request.stream
                ),
            ));
        };
        let account = self.store().by_session(session).map_err(internal)?;
        let Some(account) = account.filter(|a| a.stream == request.stream) else {
            return Err(refuse(
                "payment_required",
                "no such session on this stream".into(),
            ));
        };
        let subscriber = account.subscribed_until > now_ms() / 1000;
        let charged = self
            .store()
            .charge(
                session,
                request.seq,
                // A segment is never free, however short its pusher said it was.
                request.duration_ms.max(1),
                self.cfg.credit_ms,
                subscriber,
                now_ms(),
            )
            .map_err(internal)?;
        match charged {
            Some(Charge::Served) => {
                self.metrics.inc(
                    metrics::SEGMENTS,
                    "Paid-stream segments served to viewers.",
                    &[],
                );
                Ok(())
            }
            Some(Charge::Due { due_ms }) => Err(refuse(
                "payment_due",
                format!(
                    "{due_ms} ms of video are unpaid and the credit is {} ms: pay the session's ticket (POST /v1/watch/sessions/{{session}}/tickets)",
                    self.cfg.credit_ms
                ),
            )),
            None => Err(refuse("payment_required", "no such session".into())),
        }
    }

    /// The streamer's view: viewers, payments, tips and subscribers.
    pub async fn status(&self) -> Result<StatusView, PaywallError> {
        // One computation a second at most, whoever asks (the page is public).
        let mut cached = self.status_cache.lock().await;
        if let Some((at, view)) = cached.as_ref()
            && at.elapsed() < STATUS_TTL
        {
            return Ok(view.clone());
        }
        let view = self.compute_status().await?;
        *cached = Some((std::time::Instant::now(), view.clone()));
        Ok(view)
    }

    async fn compute_status(&self) -> Result<StatusView, PaywallError> {
        let accounts = self.store().all()?;
        let now = now_ms();
        let (won_pending, _) = self
            .payments()
            .winning_summary(WinningTicketStatus::Pending)?;
        let (won_submitted, _) = self
            .payments()
            .winning_summary(WinningTicketStatus::Submitted)?;
        let (redeemed, redeemed_wei) = self
            .payments()
            .winning_summary(WinningTicketStatus::Redeemed)?;
        let (failed, _) = self
            .payments()
            .winning_summary(WinningTicketStatus::Failed)?;
        let support = self.support.refresh(&self.provider).await;
        let support = match support {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "could not read tips and subscriptions");
                self.support.last()
            }
        };
        let watching = accounts
            .iter()
            .filter(|a| now.saturating_sub(a.last_seen_ms) <= WATCHING_MS)
            .count() as u64;
        let totals = Totals {
            viewers: watching,
            paid_ms: accounts.iter().map(|a| a.paid_ms).sum(),
            tickets_received: accounts.iter().map(|a| a.tickets).sum(),
            tickets_won: won_pending + won_submitted + redeemed + failed,
            tickets_redeemed: redeemed,
            received_wei: accounts
                .iter()
                .fold(U256::ZERO, |s, a| s.saturating_add(a.received_wei)),
            redeemed_wei,
        };
        let now_s = now / 1000;
        let subscribers: Vec<_> = support
            .subscribers
            .into_iter()
            .filter(|s| s.until > now_s)
            .collect();
        self.metrics.set(
            metrics::VIEWERS,
            "Viewers that fetched a segment in the last 30 s.",
            &[],
            watching as f64,
        );
        self.metrics.set(
            metrics::TIPS,
            "Tips received (from the chain).",
            &[],
            support.tips.len() as f64,
        );
        self.metrics.set(
            metrics::TIPS_WEI,
            "Token wei received in tips.",
            &[],
            u256_f64(support.tips_wei),
        );
        self.metrics.set(
            metrics::SUBSCRIBERS,
            "Subscribers whose subscription runs now.",
            &[],
            subscribers.len() as f64,
        );
        Ok(StatusView {
            recipient: self.cfg.recipient,
            // Never a session's token (it plays the viewer's account), nor a private stream's
            // name (listed nowhere); their totals count.
            viewers: accounts
                .iter()
                .filter(|a| !self.streams.is_private(&a.stream))
                .map(|a| ViewerRow {
                    viewer: hex::encode(&alloy::primitives::keccak256(a.session.as_bytes())[..6]),
                    stream: a.stream.clone(),
                    funder: a.funder,
                    subscriber: a.subscribed_until > now_s,
                    paid_ms: a.paid_ms,
                    consumed_ms: a.consumed_ms,
                    tickets_accepted: a.tickets,
                    state: if a.cut_off {
                        SessionState::CutOff
                    } else {
                        SessionState::Ok
                    },
                    last_seen_ms: a.last_seen_ms,
                })
                .collect(),
            totals,
            tips: support.tips,
            subscribers,
            tips_wei: support.tips_wei,
            subscriptions_wei: support.subscriptions_wei,
        })
    }

    /// Redeems the winners whose parameters expired.
    pub async fn redeem(&self) -> Result<(), PaywallError> {
        let report = self
            .redeemer
            .redeem_due(&self.payments)
            .await
            .map_err(|e| PaywallError::Chain(e.to_string()))?;
        if report.redeemed + report.failed > 0 {
            tracing::info!(?report, "viewer tickets redeemed");
        }
        Ok(())
    }

    /// Redeems winners every `every`, and refreshes the chain-side gauges, until dropped.
    pub async fn run(self: Arc<Self>, every: Duration) {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = self.redeem().await {
                tracing::warn!(error = %e, "redeeming viewer tickets");
            }
            if let Err(e) = self.status().await {
                tracing::debug!(error = %e, "refreshing the viewer gauges");
            }
        }
    }
}

impl<P: Provider + Clone + 'static> ViewerGate for Paywall<P> {
    fn admit<'a>(
        &'a self,
        request: SegmentRequest<'a>,
    ) -> peerflow_broadcaster::gate::GateFuture<'a> {
        Box::pin(async move { self.charge(&request) })
    }
}

fn parse_hex(text: &str) -> Result<Vec<u8>, PaywallError> {
    hex::decode(text.trim_start_matches("0x"))
        .map_err(|e| PaywallError::BadRequest(format!("not hex: {e}")))
}

fn u256_f64(v: U256) -> f64 {
    v.to_string().parse().unwrap_or(f64::MAX)
}
