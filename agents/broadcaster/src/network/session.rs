//! Paying one orchestrator and submitting a segment to it. The payer keeps, per orchestrator, the
//! last quote (price and ticket parameters bound to us), the next nonce and our credit there; it
//! refreshes the quote before the parameters expire and sends just enough tickets to cover the
//! segment at the quoted price. Every reply must carry the orchestrator's signature over the
//! [`SegmentResult`] recomputed here from the segment sent, the ladder asked for and the renditions
//! received; a reply without one, or whose renditions do not match it, is refused like any other
//! bad reply.

use std::collections::HashMap;
use std::time::Duration;

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
use peerflow_protocol::{SegmentResult, Signature, SignedResult, TicketDomain};
use tokio::sync::Mutex;

use super::discovery::Candidate;
use super::stats::Spend;

/// Why one attempt at one orchestrator failed.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error("{code}: {message}")]
    Refused {
        code: String,
        message: String,
        retry_elsewhere: bool,
    },
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("bad reply: {0}")]
    BadReply(String),
    /// The reply's result signature is missing, not the orchestrator's, or does not cover the
    /// renditions received: a provable fault.
    #[error("unverified result: {0}")]
    Unverified(#[from] ResultError),
}

impl AttemptError {
    pub fn retry_elsewhere(&self) -> bool {
        match self {
            Self::Refused {
                retry_elsewhere, ..
            } => *retry_elsewhere,
            Self::Unreachable(_) | Self::BadReply(_) | Self::Unverified(_) => true,
        }
    }

    /// The segment itself is bad: no orchestrator will take it.
    pub fn is_bad_segment(&self) -> bool {
        matches!(self, Self::Refused { code, .. } if code == "bad_segment")
    }
}

/// A reply whose signature checked out.
#[derive(Debug)]
pub struct Verified {
    /// The rendition parts, in ladder (request) order.
    pub parts: Vec<Part>,
    /// The signed result, kept as evidence.
    pub evidence: SignedResult,
}

struct Quote {
    info: OrchestratorInfo,
    next_nonce: u64,
}

/// Our paying identity and the quotes we hold.
pub struct Payer {
    key: [u8; 32],
    pub sender: Address,
    http: reqwest::Client,
    /// Refresh parameters this many blocks before they expire.
    margin_blocks: u64,
    /// The domain orchestrators sign segment results under (our chain, the Staking contract).
    result_domain: ResultDomain,
    /// Pay this much more than the quoted cost (ppm), so small estimate errors cost no retry.
    headroom_ppm: u64,
    quotes: Mutex<HashMap<Address, Quote>>,
}

impl Payer {
    /// Pays as `sender` with `key`; replies must be signed under `result_domain`.
    pub fn new(
        key: [u8; 32],
        sender: Address,
        margin_blocks: u64,
        result_domain: ResultDomain,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        Self {
            key,
            sender,
            http,
            margin_blocks,
            result_domain,
            headroom_ppm: 200_000,
            quotes: Mutex::new(HashMap::new()),
        }
    }

    /// Pays for and submits one segment; returns the rendition parts with their verified
    /// signed result. Every ticket sent is added to `spent`, whatever the outcome.
    pub async fn submit(
        &self,
        to: &Candidate,
        request: &SegmentRequest,
        segment: &[u8],
        pixels: u64,
        block: u64,
        spent: &mut Spend,
    ) -> Result<Verified, AttemptError> {
        let mut refreshed = false;
        loop {
            let (payment, spend) = self.payment_for(to, pixels, block, refreshed).await?;
            spent.add(&spend);
            let auth = self.sign_request(to, request, segment).await?;
            match self.post(to, request, &payment, &auth, segment).await {
                Err(AttemptError::Refused { code, .. })
                    if !refreshed
                        && matches!(
                            code.as_str(),
                            "ticket_params_expired"
                                | "ticket_replayed"
                                | "request_replayed"
                                | "insufficient_balance"
                        ) =>
                {
                    refreshed = true; // our quote, nonce or credit view is stale: refresh once
                }
                other => return other,
            }
        }
    }

    /// Signs enough tickets to cover `pixels` at `to`'s quoted price (refreshing the quote if
    /// needed); returns them with what they are worth.
    async fn payment_for(
        &self,
        to: &Candidate,
        pixels: u64,
        block: u64,
        force_refresh: bool,
    ) -> Result<(Payment, Spend), AttemptError> {
        let mut quotes = self.quotes.lock().await;
        let stale = quotes.get(&to.address).is_none_or(|q| {
            force_refresh || q.info.ticket_params.expiration_block < block + self.margin_blocks
        });
        if stale {
            let info = self.fetch_info(to).await?;
            quotes.insert(
                to.address,
                Quote {
                    next_nonce: info.next_nonce,
                    info,
                },
            );
        }
        let quote = quotes.get_mut(&to.address).expect("just inserted");
        let p = &quote.info.ticket_params;
        if p.ticket_value.is_zero() {
            return Err(AttemptError::BadReply(
                "ticket parameters worth nothing".into(),
            ));
        }
        let cost = quote.info.price_per_pixel * U256::from(pixels);
        let wanted = cost + cost * U256::from(self.headroom_ppm) / U256::from(1_000_000u64);
        let missing = wanted.saturating_sub(quote.info.balance);
        let count = missing.div_ceil(p.ticket_value).to::<u64>().max(1);
        let domain = TicketDomain {
            chain_id: quote.info.chain_id,
            broker: quote.info.ticket_broker,
        };
        let mut tickets = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let ticket = p.ticket(self.sender, quote.next_nonce);
            let signature = Signature::sign(&self.key, ticket.hash(&domain))
                .map_err(|e| AttemptError::BadReply(e.to_string()))?;
            tickets.push(TicketMsg::new(&ticket, &signature));
            quote.next_nonce += 1;
        }
        // Our view of the credit after this payment and the work; corrected by the reply.
        quote.info.balance =
            (quote.info.balance + p.ticket_value * U256::from(count)).saturating_sub(cost);
        let spend = Spend {
            tickets: count,
            face_value: p.face_value * U256::from(count),
            expected_value: p.ticket_value * U256::from(count),
        };
        Ok((
            Payment {
                sender: self.sender,
                tickets,
            },
            spend,
        ))
    }

    /// Our signature over this request to `to` (see [`RequestAuth`]): without it the orchestrator
    /// lets nothing touch our credit. Uses the next request nonce of our quote from `to`.
    async fn sign_request(
        &self,
        to: &Candidate,
        request: &SegmentRequest,
        segment: &[u8],
    ) -> Result<RequestAuth, AttemptError> {
        let mut quotes = self.quotes.lock().await;
        let quote = quotes
            .get_mut(&to.address)
            .ok_or_else(|| AttemptError::BadReply("no quote to sign the request under".into()))?;
        let domain = TicketDomain {
            chain_id: quote.info.chain_id,
            broker: quote.info.ticket_broker,
        };
        let ctx = RequestContext {
            domain: &domain,
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
            .send()
            .await
            .map_err(|e| AttemptError::Unreachable(e.to_string()))?;
        if !reply.status().is_success() {
            return Err(refusal(reply).await);
        }
        let info: OrchestratorInfo = reply
            .json()
            .await
            .map_err(|e| AttemptError::BadReply(e.to_string()))?;
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
        let body = reply
            .bytes()
            .await
            .map_err(|e| AttemptError::Unreachable(e.to_string()))?;
        if let (Some(balance), Some(q)) = (balance, self.quotes.lock().await.get_mut(&to.address)) {
            q.info.balance = balance;
        }
        let parts = multipart::decode(&content_type, &body)
            .map_err(|e| AttemptError::BadReply(e.to_string()))?;
        self.verify(to, request, segment, parts, signature.as_deref())
    }

    /// Recomputes the result from what we sent and received, and checks `to` signed it.
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
        result.verify(&self.result_domain, &signature)?;
        let mut slots: Vec<Option<Part>> = parts.into_iter().map(Some).collect();
        let parts = order
            .into_iter()
            .map(|i| slots[i].take().expect("each index once"))
            .collect();
        Ok(Verified {
            parts,
            evidence: SignedResult::new(result, &self.result_domain, &signature),
        })
    }
}

async fn refusal(reply: reqwest::Response) -> AttemptError {
    let status = reply.status();
    match reply.json::<ErrorBody>().await {
        Ok(e) => AttemptError::Refused {
            code: e.code,
            message: e.message,
            retry_elsewhere: e.retry_elsewhere,
        },
        Err(_) => AttemptError::Refused {
            code: format!("http_{}", status.as_u16()),
            message: status.to_string(),
            retry_elsewhere: true,
        },
    }
}
