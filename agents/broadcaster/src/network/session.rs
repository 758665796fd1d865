//! Paying one orchestrator and submitting a segment to it. The payer keeps, per orchestrator, the
//! last quote (price and ticket parameters bound to us) and the next nonce, and in its
//! [`Ledger`] our credit there by our own count (expected value sent less work charged at the
//! quoted price); it refreshes the quote before the parameters expire, checks every field of it
//! against our deployment and [`PaymentLimits`] (see [`super::pricing`]) before signing anything,
//! and sends just enough tickets to cover the segment at the quoted price. Replies are read with a
//! size limit. Every reply must carry the orchestrator's signature over the
//! [`SegmentResult`] recomputed here from the segment sent, the ladder asked for and the renditions
//! received; a reply without one, or whose renditions do not match it, is refused like any other
//! bad reply.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use peerflow_protocol::api::RENDITION_HEADER;
use peerflow_protocol::api::{
    ErrorBody, OrchestratorInfo, PAYMENT_HEADER, Payment, REQUEST_AUTH_HEADER, RequestAuth,
    RequestContext, SEGMENT_HEADER, SegmentRequest, TicketMsg,
};
use peerflow_protocol::multipart::{self, Part};
use peerflow_protocol::result::{
    RESULT_SIGNATURE_HEADER, ResultDomain, ResultError, parse_signature_header,
};
use peerflow_protocol::timing::{SERVER_TIMING_HEADER, parse_server_timing};
use peerflow_protocol::{SegmentResult, Signature, SignedResult, TicketDomain};
use tokio::sync::Mutex;

use super::discovery::Candidate;
use super::ledger::Ledger;
use super::pricing::{
    Expectations, PaymentLimits, QuoteError, StreamCeiling, bill, check_quote, expected_value,
};
use super::stats::Spend;

/// Why one attempt at one orchestrator failed.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error("{code}: {message}")]
    Refused {
        code: String,
        message: String,
        retry_elsewhere: bool,
        /// Tickets were sent with the request that was refused.
        paid: bool,
        /// …after the orchestrator said our credit was short and we paid the segment in full
        /// again on our books' word.
        repaid: bool,
    },
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("bad reply: {0}")]
    BadReply(String),
    /// The reply's result signature is missing, not the orchestrator's, or does not cover the
    /// renditions received: a provable fault.
    #[error("unverified result: {0}")]
    Unverified(#[from] ResultError),
    /// We refused the quote: nothing was signed.
    #[error("quote refused: {0}")]
    Quote(#[from] QuoteError),
    /// The renditions could not be checked: never published unchecked. `ours`: our own tools
    /// failed (nobody is blamed); otherwise the rendition made the check fail.
    #[error("renditions could not be checked: {message}")]
    Unchecked { message: String, ours: bool },
}

impl AttemptError {
    pub fn retry_elsewhere(&self) -> bool {
        match self {
            Self::Refused {
                retry_elsewhere, ..
            } => *retry_elsewhere,
            Self::Unreachable(_)
            | Self::BadReply(_)
            | Self::Unverified(_)
            | Self::Quote(_)
            | Self::Unchecked { .. } => true,
        }
    }

    /// Whether the failure is the orchestrator's, so that it is suspended: everything but an
    /// honest quote above our ceiling, or a refusal that names our side (e.g. our deposit) before
    /// any ticket was sent. A refusal after payment is always the orchestrator's failure: it
    /// cannot keep the money and decline the work without a penalty.
    pub fn is_orchestrators_fault(&self) -> bool {
        match self {
            Self::Refused {
                retry_elsewhere,
                paid,
                ..
            } => *retry_elsewhere || *paid,
            Self::Quote(e) => e.is_dishonest(),
            Self::Unchecked { ours, .. } => !ours,
            Self::Unreachable(_) | Self::BadReply(_) | Self::Unverified(_) => true,
        }
    }

    /// The orchestrator is full (`capacity`): it takes on no new stream now, which is not a
    /// failure of its own. Tickets sent with the refused request stay in our books as credit
    /// there (our next segments there send fewer), whether or not it booked them: one that did
    /// and refuses anyway gains nothing it can spend. Not after we paid a segment in full again
    /// on its word that our credit was short: that refusal is its failure (else "short, then
    /// full" would be paid in full once per try).
    pub fn is_capacity(&self) -> bool {
        matches!(self, Self::Refused { code, repaid: false, .. } if code == "capacity")
    }

    /// The orchestrator says the segment itself is bad: no orchestrator will take it.
    pub fn is_bad_segment(&self) -> bool {
        matches!(self, Self::Refused { code, .. } if code == "bad_segment")
    }

    /// The refused quote's reason, if that is what failed.
    pub fn quote_refusal(&self) -> Option<&'static str> {
        match self {
            Self::Quote(e) => Some(e.code()),
            _ => None,
        }
    }
}

/// A reply whose signature checked out.
#[derive(Debug)]
pub struct Verified {
    /// The rendition parts, in ladder (request) order.
    pub parts: Vec<Part>,
    /// The signed result, kept as evidence.
    pub evidence: SignedResult,
    /// Time spent paying (quotes, tickets, the request's signature) and on the wire with the
    /// orchestrator (every try at it), and the stages it said its own time went to (its
    /// `Server-Timing`, milliseconds: its word, for the accounts only).
    pub paying: Duration,
    pub round_trip: Duration,
    pub remote_stages: Vec<(String, f64)>,
}

struct Quote {
    info: OrchestratorInfo,
    next_nonce: u64,
}

/// The most bytes read from an orchestrator's `/v1/info` or error reply.
pub const MAX_SMALL_REPLY: usize = 64 << 10;

/// Our paying identity, our limits and the quotes we hold.
pub struct Payer {
    key: [u8; 32],
    pub sender: Address,
    /// Our deployment: tickets are signed for this chain and broker, whatever a quote says.
    domain: TicketDomain,
    http: reqwest::Client,
    /// Refresh parameters this many blocks before they expire.
    margin_blocks: u64,
    /// The domain orchestrators sign segment results under (our chain, the Staking contract).
    result_domain: ResultDomain,
    /// Pay this much more than the quoted cost (ppm), so small estimate errors cost no retry.
    headroom_ppm: u64,
    limits: PaymentLimits,
    /// The most bytes read from a segment reply.
    max_reply_bytes: usize,
    ledger: Arc<Ledger>,
    /// Our deposit plus reserve allocation per recipient, when last read (caps face values).
    funds: std::sync::Mutex<Option<U256>>,
    /// The price each orchestrator last quoted us (what ranking uses).
    prices: std::sync::Mutex<HashMap<Address, U256>>,
    /// One slot per orchestrator, so that a slow one never holds up payments to the others.
    quotes: std::sync::Mutex<HashMap<Address, Arc<Mutex<Option<Quote>>>>>,
}

impl Payer {
    /// Pays as `sender` with `key` for tickets valid in `domain` (our deployment), within
    /// `limits`, keeping its books in `ledger`; replies must be signed under `result_domain`.
    pub fn new(
        key: [u8; 32],
        sender: Address,
        domain: TicketDomain,
        result_domain: ResultDomain,
        limits: PaymentLimits,
        ledger: Arc<Ledger>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        Self {
            key,
            sender,
            domain,
            http,
            margin_blocks: 3,
            result_domain,
            headroom_ppm: 200_000,
            limits,
            max_reply_bytes: 64 << 20,
            ledger,
            funds: std::sync::Mutex::new(None),
            prices: std::sync::Mutex::new(HashMap::new()),
            quotes: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Reads at most `bytes` of each segment reply (default 64 MiB).
    pub fn with_max_reply_bytes(mut self, bytes: usize) -> Self {
        self.max_reply_bytes = bytes;
        self
    }

    /// The broker our tickets are for.
    pub fn broker(&self) -> Address {
        self.domain.broker
    }

    /// The books this payer keeps.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// Our limits.
    pub fn limits(&self) -> &PaymentLimits {
        &self.limits
    }

    /// Our funds at the broker (deposit plus reserve allocation per recipient), which caps the
    /// face value accepted; `None` when unknown.
    pub fn set_funds(&self, funds: Option<U256>) {
        *self.funds.lock().unwrap_or_else(PoisonError::into_inner) = funds;
    }

    /// The price `who` last quoted us, if it ever did.
    pub fn quoted_price(&self, who: Address) -> Option<U256> {
        self.prices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&who)
            .copied()
    }

    fn slot(&self, who: Address) -> Arc<Mutex<Option<Quote>>> {
        Arc::clone(
            self.quotes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(who)
                .or_default(),
        )
    }

    /// Pays for and submits one segment within `ceiling` (the stream's own price ceiling);
    /// returns the rendition parts with their verified signed result. Every ticket sent is added
    /// to `spent`, whatever the outcome.
    #[allow(clippy::too_many_arguments)]
    pub async fn submit(
        &self,
        to: &Candidate,
        request: &SegmentRequest,
        segment: &[u8],
        pixels: u64,
        block: u64,
        ceiling: &StreamCeiling,
        spent: &mut Spend,
    ) -> Result<Verified, AttemptError> {
        let (mut refreshed, mut caught_up) = (false, false);
        let mut paid = false;
        let (mut paying, mut round_trip) = (Duration::ZERO, Duration::ZERO);
        loop {
            let started = Instant::now();
            let (payment, spend, cost) = self
                .payment_for(to, pixels, block, ceiling, refreshed, caught_up)
                .await?;
            spent.add(&spend);
            paid |= spend.tickets > 0;
            let auth = self.sign_request(to, request, segment).await?;
            paying += started.elapsed();
            let sent = Instant::now();
            let posted = self.post(to, request, &payment, &auth, segment).await;
            round_trip += sent.elapsed();
            match posted {
                Ok(mut verified) => {
                    self.ledger.charged(to.address, cost);
                    verified.paying = paying;
                    verified.round_trip = round_trip;
                    return Ok(verified);
                }
                Err(AttemptError::Refused { code, .. })
                    if !caught_up && code == "insufficient_balance" =>
                {
                    // Our books say the credit covered it; pay this segment in full once more
                    // (within the per-segment caps), never on the orchestrator's word alone.
                    tracing::warn!(orchestrator = %to.address, "refused for insufficient balance although our books cover it; paying the segment in full once");
                    caught_up = true;
                    refreshed = true;
                }
                Err(AttemptError::Refused { code, .. })
                    if !refreshed
                        && matches!(
                            code.as_str(),
                            "ticket_params_expired" | "ticket_replayed" | "request_replayed"
                        ) =>
                {
                    refreshed = true; // our quote or nonce is stale: refresh once
                }
                Err(AttemptError::Refused {
                    code,
                    message,
                    retry_elsewhere,
                    ..
                }) => {
                    return Err(AttemptError::Refused {
                        code,
                        message,
                        retry_elsewhere,
                        paid,
                        repaid: caught_up,
                    });
                }
                Err(other) => return Err(other),
            }
        }
    }

    /// Checks `to`'s quote (refreshing it if needed) and signs enough tickets to cover `pixels`
    /// at its price, less our credit there (none when `full`); returns them with what they are
    /// worth and the cost of the work.
    async fn payment_for(
        &self,
        to: &Candidate,
        pixels: u64,
        block: u64,
        ceiling: &StreamCeiling,
        force_refresh: bool,
        full: bool,
    ) -> Result<(Payment, Spend, U256), AttemptError> {
        let slot = self.slot(to.address);
        let mut held = slot.lock().await;
        let expect = Expectations {
            domain: self.domain,
            sender: self.sender,
            recipient: to.address,
            advertised: to.advertised_price,
            block,
            funds: *self.funds.lock().unwrap_or_else(PoisonError::into_inner),
        };
        let stale = held.as_ref().is_none_or(|q| {
            force_refresh || q.info.ticket_params.expiration_block < block + self.margin_blocks
        });
        let mut fetched = false;
        loop {
            if stale && !fetched || held.is_none() {
                *held = Some(self.fetch_quote(to).await?);
                fetched = true;
            }
            let quote = held.as_ref().expect("just fetched");
            match check_quote(&quote.info, &expect, &self.limits, ceiling) {
                Ok(()) => break,
                // A quote we held may have been outdone (a lower price advertised since): ask
                // again once before refusing.
                Err(_) if !fetched => {
                    *held = None;
                }
                Err(e) => {
                    self.ledger.refused(e.code());
                    return Err(e.into());
                }
            }
        }
        let quote = held.as_mut().expect("checked above");
        let credit = if full {
            U256::ZERO
        } else {
            // Our own books; a higher balance reported by the orchestrator only lowers what we pay.
            self.ledger.credit(to.address).max(quote.info.balance)
        };
        let bill = match bill(
            &quote.info,
            pixels,
            credit,
            self.headroom_ppm,
            &self.limits,
            ceiling,
        ) {
            Ok(b) => b,
            Err(e) => {
                self.ledger.refused(e.code());
                return Err(e.into());
            }
        };
        let p = &quote.info.ticket_params;
        let first_nonce = quote.next_nonce;
        let end = first_nonce
            .checked_add(bill.tickets)
            .ok_or(AttemptError::Quote(QuoteError::Overflow))?;
        let mut tickets = Vec::with_capacity(bill.tickets as usize);
        for nonce in first_nonce..end {
            let ticket = p.ticket(self.sender, nonce);
            let signature = Signature::sign(&self.key, ticket.hash(&self.domain))
                .map_err(|e| AttemptError::BadReply(e.to_string()))?;
            tickets.push(TicketMsg::new(&ticket, &signature));
        }
        quote.next_nonce = end;
        let ticket_value = expected_value(p.face_value, p.win_prob);
        self.ledger.sent(
            to.address,
            first_nonce,
            bill.tickets,
            ticket_value,
            p.win_prob,
        );
        // The orchestrator's view of the credit after this payment and the work, as it reported
        // it; corrected by the reply.
        quote.info.balance = quote
            .info
            .balance
            .saturating_add(bill.value)
            .saturating_sub(bill.cost);
        let spend = Spend {
            tickets: bill.tickets,
            face_value: p.face_value.saturating_mul(U256::from(bill.tickets)),
            expected_value: bill.value,
        };
        Ok((
            Payment {
                sender: self.sender,
                tickets,
            },
            spend,
            bill.cost,
        ))
    }

    async fn fetch_quote(&self, to: &Candidate) -> Result<Quote, AttemptError> {
        let info = self.fetch_info(to).await?;
        self.prices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(to.address, info.price_per_pixel);
        Ok(Quote {
            next_nonce: info.next_nonce,
            info,
        })
    }

    /// Our signature over this request to `to` (see [`RequestAuth`]): without it the orchestrator
    /// lets nothing touch our credit. Uses the next request nonce of our quote from `to`.
    async fn sign_request(
        &self,
        to: &Candidate,
        request: &SegmentRequest,
        segment: &[u8],
    ) -> Result<RequestAuth, AttemptError> {
        let slot = self.slot(to.address);
        let mut held = slot.lock().await;
        let quote = held
            .as_mut()
            .ok_or_else(|| AttemptError::BadReply("no quote to sign the request under".into()))?;
        let ctx = RequestContext {
            domain: &self.domain,
            orchestrator: to.address,
            sender: self.sender,
            request,
            segment,
        };
        let nonce = quote.info.next_request_nonce;
        quote.info.next_request_nonce += 1;
        RequestAuth::sign(
            &self.key,
            &ctx,
            quote.info.ticket_params.recipient_rand_hash,
            nonce,
        )
        .map_err(|e| AttemptError::BadReply(e.to_string()))
    }

    async fn fetch_info(&self, to: &Candidate) -> Result<OrchestratorInfo, AttemptError> {
        let url = format!("{}/v1/info?sender={}", to.uri, self.sender);
        let reply = self
            .http
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| AttemptError::Unreachable(e.to_string()))?;
        if !reply.status().is_success() {
            return Err(refusal(reply).await);
        }
        let body = read_limited(reply, MAX_SMALL_REPLY).await?;
        let info: OrchestratorInfo =
            serde_json::from_slice(&body).map_err(|e| AttemptError::BadReply(e.to_string()))?;
        if info.orchestrator != to.address {
            return Err(AttemptError::BadReply(format!(
                "{} answers for {}",
                to.uri, info.orchestrator
            )));
        }
        Ok(info)
    }

    async fn post(
        &self,
        to: &Candidate,
        request: &SegmentRequest,
        payment: &Payment,
        auth: &RequestAuth,
        segment: &[u8],
    ) -> Result<Verified, AttemptError> {
        let reply = self
            .http
            .post(format!("{}/v1/segment", to.uri))
            .header(
                SEGMENT_HEADER,
                serde_json::to_string(request).expect("serializable"),
            )
            .header(
                PAYMENT_HEADER,
                serde_json::to_string(payment).expect("serializable"),
            )
            .header(
                REQUEST_AUTH_HEADER,
                serde_json::to_string(auth).expect("serializable"),
            )
            .body(segment.to_vec())
            .send()
            .await
            .map_err(|e| AttemptError::Unreachable(e.to_string()))?;
        if !reply.status().is_success() {
            return Err(refusal(reply).await);
        }
        let balance = reply
            .headers()
            .get("x-peerflow-balance")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<U256>().ok());
        let content_type = reply
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let signature = reply
            .headers()
            .get(RESULT_SIGNATURE_HEADER)
            .map(|v| v.to_str().unwrap_or_default().to_string());
        let remote_stages = reply
            .headers()
            .get(SERVER_TIMING_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(parse_server_timing)
            .unwrap_or_default();
        let body = read_limited(reply, self.max_reply_bytes).await?;
        if let Some(balance) = balance
            && let Some(q) = self.slot(to.address).lock().await.as_mut()
        {
            q.info.balance = balance;
        }
        let parts = multipart::decode(&content_type, &body)
            .map_err(|e| AttemptError::BadReply(e.to_string()))?;
        let mut verified = self.verify(to, request, segment, parts, signature.as_deref())?;
        verified.remote_stages = remote_stages;
        Ok(verified)
    }

    /// Recomputes the result from what we sent and received, and checks `to` (or its hot key) signed
    /// it.
    fn verify(
        &self,
        to: &Candidate,
        request: &SegmentRequest,
        segment: &[u8],
        parts: Vec<Part>,
        signature: Option<&str>,
    ) -> Result<Verified, AttemptError> {
        let (result, order) = SegmentResult::from_named(
            to.address,
            self.sender,
            request,
            segment,
            parts.iter().map(|p| {
                (
                    p.header(RENDITION_HEADER).unwrap_or_default(),
                    p.body.as_slice(),
                )
            }),
        )?;
        let signature = parse_signature_header(signature)?;
        result.verify(&self.result_domain, &signature, to.hot_key)?;
        let mut slots: Vec<Option<Part>> = parts.into_iter().map(Some).collect();
        let parts = order
            .into_iter()
            .map(|i| slots[i].take().expect("each index once"))
            .collect();
        Ok(Verified {
            parts,
            evidence: SignedResult::new(result, &self.result_domain, &signature),
            paying: Duration::ZERO,
            round_trip: Duration::ZERO,
            remote_stages: Vec::new(),
        })
    }
}

async fn refusal(reply: reqwest::Response) -> AttemptError {
    let status = reply.status();
    let body = read_limited(reply, MAX_SMALL_REPLY).await;
    match body.map(|b| serde_json::from_slice::<ErrorBody>(&b)) {
        Ok(Ok(e)) => AttemptError::Refused {
            code: e.code,
            message: e.message,
            retry_elsewhere: e.retry_elsewhere,
            paid: false,
            repaid: false,
        },
        _ => AttemptError::Refused {
            code: format!("http_{}", status.as_u16()),
            message: status.to_string(),
            retry_elsewhere: true,
            paid: false,
            repaid: false,
        },
    }
}

/// Reads a reply's body, refusing it once it passes `limit` bytes (announced or streamed).
async fn read_limited(mut reply: reqwest::Response, limit: usize) -> Result<Vec<u8>, AttemptError> {
    let too_big = || AttemptError::BadReply(format!("reply larger than {limit} bytes"));
    if reply.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = reply
        .chunk()
        .await
        .map_err(|e| AttemptError::Unreachable(e.to_string()))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
