//! The JSON-RPC transport every role and command talks through: one HTTP(S) POST per request,
//! retried on what a public provider throws at a client (429 with or without `Retry-After`, 408,
//! 5xx, timeouts, refused or dropped connections, rate-limit error bodies) with exponential backoff
//! and jitter, moving to the next URL when one keeps failing. A call that finally fails carries its
//! method, the URL, the attempts and the last cause. JSON-RPC errors (a revert, a refused range) are
//! answers, not failures: they go back to the caller untouched.
//!
//! A retried `eth_sendRawTransaction` may find its first try already accepted (the reply was lost):
//! "already known" (or "nonce too low" once the transaction is found on-chain) then means success,
//! and the caller gets the transaction's hash.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task;
use std::time::Duration;

use alloy::primitives::{Bytes as TxBytes, keccak256};
use alloy::transports::{TransportError, TransportErrorKind, TransportFut};
use alloy_json_rpc::{ErrorPayload, RequestPacket, Response, ResponsePacket, ResponsePayload};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::StatusCode;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::value::RawValue;

use super::{Endpoint, RetryPolicy};

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Why a call failed after every retry.
#[derive(Debug, thiserror::Error)]
#[error("{method} failed after {attempts} attempts (last at {url}): {cause}")]
pub struct RpcFailure {
    pub method: String,
    pub attempts: u32,
    pub url: String,
    pub cause: String,
}

/// A transport over one or more endpoints, shared by every clone (the current endpoint too: when
/// one caller moves on from a failing URL, the others follow).
#[derive(Clone)]
pub struct RetryingTransport {
    inner: Arc<Inner>,
}

struct Inner {
    endpoints: Vec<Endpoint>,
    current: AtomicUsize,
    policy: RetryPolicy,
    client: HttpsClient,
}

/// What one attempt came to.
enum Attempt {
    Answer(ResponsePacket),
    /// Worth another try: `after` is the server's `Retry-After`, if it gave one.
    Retry {
        cause: String,
        after: Option<Duration>,
    },
    Fatal(TransportError),
}

impl std::fmt::Debug for RetryingTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<&str> = self.inner.endpoints.iter().map(|e| e.redacted()).collect();
        f.debug_struct("RetryingTransport")
            .field("urls", &urls)
            .finish()
    }
}

impl RetryingTransport {
    pub(super) fn new(
        endpoints: Vec<Endpoint>,
        tls: rustls::ClientConfig,
        policy: RetryPolicy,
    ) -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(20))
            .build(connector);
        Self {
            inner: Arc::new(Inner {
                endpoints,
                current: AtomicUsize::new(0),
                policy,
                client,
            }),
        }
    }

    /// The URL calls go to now.
    pub fn current_url(&self) -> &str {
        let i = self.inner.current.load(Ordering::Relaxed);
        self.inner.endpoints[i].redacted()
    }

    async fn send(self, req: RequestPacket) -> Result<ResponsePacket, TransportError> {
        let body = Bytes::from(serde_json::to_vec(&req).map_err(TransportError::ser_err)?);
        let method = req.method_names().collect::<Vec<_>>().join(",");
        let raw_tx = raw_transaction(&req);
        let policy = &self.inner.policy;
        let (mut attempts, mut on_this_url) = (0u32, 0u32);
        loop {
            let index = self.inner.current.load(Ordering::Relaxed);
            let endpoint = &self.inner.endpoints[index];
            let outcome = self.attempt(endpoint, body.clone()).await;
            attempts += 1;
            let (cause, after) = match outcome {
                Attempt::Answer(packet) => {
                    if attempts > 1
                        && let Some((id, hash)) = &raw_tx
                        && let Some(done) = self.resent(endpoint, &packet, id, hash).await
                    {
                        return Ok(done);
                    }
                    return Ok(packet);
                }
                Attempt::Fatal(e) => return Err(e),
                Attempt::Retry { cause, after } => (cause, after),
            };
            tracing::warn!(%method, url = endpoint.redacted(), attempt = attempts, %cause, "RPC call failed; retrying");
            if attempts >= policy.max_attempts {
                return Err(TransportErrorKind::custom(RpcFailure {
                    method,
                    attempts,
                    url: endpoint.redacted().to_string(),
                    cause,
                }));
            }
            on_this_url += 1;
            let others = self.inner.endpoints.len() > 1;
            let too_long = after.is_some_and(|a| a > policy.max_retry_after);
            if others && (on_this_url >= policy.attempts_per_url || too_long) {
                let next = (index + 1) % self.inner.endpoints.len();
                // Another caller may have moved on already; either way, start fresh there.
                let _ = self.inner.current.compare_exchange(
                    index,
                    next,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
                tracing::warn!(
                    from = endpoint.redacted(),
                    to = self.inner.endpoints[next].redacted(),
                    "moving to the next RPC URL"
                );
                on_this_url = 0;
                continue;
            }
            tokio::time::sleep(policy.delay(on_this_url, after)).await;
        }
    }

    /// One POST to `endpoint`, bounded by the request timeout (connect, headers and body).
    async fn attempt(&self, endpoint: &Endpoint, body: Bytes) -> Attempt {
        let request = hyper::Request::post(endpoint.uri.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::ACCEPT, "application/json");
        let request = match endpoint.authorization.as_deref() {
            Some(auth) => request.header(hyper::header::AUTHORIZATION, auth),
            None => request,
        };
        let request = match request.body(Full::new(body)) {
            Ok(r) => r,
            Err(e) => return Attempt::Fatal(TransportErrorKind::custom(e)),
        };
        let timeout = self.inner.policy.request_timeout;
        let exchange = async {
            let response = self.inner.client.request(request).await.map_err(|e| {
                let mut cause = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    cause = format!("{cause}: {s}");
                    source = s.source();
                }
                cause
            })?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(hyper::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("reading the reply: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, retry_after, body))
        };
        let (status, after, body) = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => {
                return Attempt::Retry {
                    cause: format!("no reply within {timeout:?}"),
                    after: None,
                };
            }
            // A certificate the client does not trust stays untrusted: no point in retrying.
            Ok(Err(cause)) if cause.contains("invalid peer certificate") => {
                return Attempt::Fatal(TransportErrorKind::custom_str(&format!(
                    "{} refused: {cause}",
                    endpoint.redacted()
                )));
            }
            Ok(Err(cause)) => return Attempt::Retry { cause, after: None },
            Ok(Ok(reply)) => reply,
        };
        classify(status, after, &body)
    }

    /// After a lost reply to `eth_sendRawTransaction`, a retry's "already known" or "nonce too low"
    /// is the first try's success once the transaction is found; `None`: `packet` stands.
    async fn resent(
        &self,
        endpoint: &Endpoint,
        packet: &ResponsePacket,
        id: &alloy_json_rpc::Id,
        hash: &alloy::primitives::B256,
    ) -> Option<ResponsePacket> {
        let error = packet.as_error()?;
        let message = error.message.to_ascii_lowercase();
        let known = ["already known", "known transaction", "already imported"]
            .iter()
            .any(|m| message.contains(m));
        if !known {
            if !message.contains("nonce too low") {
                return None;
            }
            let lookup = format!(
                r#"{{"jsonrpc":"2.0","id":0,"method":"eth_getTransactionByHash","params":["{hash}"]}}"#
            );
            let Attempt::Answer(ResponsePacket::Single(found)) =
                self.attempt(endpoint, Bytes::from(lookup)).await
            else {
                return None;
            };
            match found.payload {
                ResponsePayload::Success(tx) if tx.get() != "null" => {}
                _ => return None,
            }
        }
        tracing::info!(%hash, "a retried transaction was already accepted");
        let value = RawValue::from_string(format!("\"{hash}\"")).ok()?;
        Some(ResponsePacket::Single(Response {
            id: id.clone(),
            payload: ResponsePayload::Success(value),
        }))
    }
}

/// Sorts a reply into an answer, a failure worth retrying, or one that is not.
fn classify(status: StatusCode, after: Option<Duration>, body: &[u8]) -> Attempt {
    let text = || String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    let retryable = status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error();
    if retryable {
        return Attempt::Retry {
            cause: format!("HTTP {status}: {}", text()),
            after,
        };
    }
    if !status.is_success() {
        return Attempt::Fatal(TransportErrorKind::http_error(status.as_u16(), text()));
    }
    match serde_json::from_slice::<ResponsePacket>(body) {
        Ok(packet) => match rate_limited(&packet) {
            Some(e) => Attempt::Retry {
                cause: format!("rate limited: {} ({})", e.message, e.code),
                after,
            },
            None => Attempt::Answer(packet),
        },
        Err(e) => Attempt::Fatal(TransportError::deser_err(e, text())),
    }
}

/// A JSON-RPC error that says "slow down" rather than "no" (providers answer 200 with these).
fn rate_limited(packet: &ResponsePacket) -> Option<&ErrorPayload> {
    let error = packet.as_error()?;
    let message = error.message.to_ascii_lowercase();
    let limited = error.code == 429
        || message.contains("rate limit")
        || message.contains("too many requests")
        || message.contains("exceeded the limit of requests");
    limited.then_some(error)
}

/// The id and hash of a single `eth_sendRawTransaction` request.
fn raw_transaction(req: &RequestPacket) -> Option<(alloy_json_rpc::Id, alloy::primitives::B256)> {
    let RequestPacket::Single(single) = req else {
        return None;
    };
    if single.method() != "eth_sendRawTransaction" {
        return None;
    }
    let (raw,): (TxBytes,) = serde_json::from_str(single.params()?.get()).ok()?;
    Some((single.id().clone(), keccak256(&raw)))
}

impl tower_service::Service<RequestPacket> for RetryingTransport {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _cx: &mut task::Context<'_>) -> task::Poll<Result<(), Self::Error>> {
        task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: RequestPacket) -> Self::Future {
        Box::pin(self.clone().send(req))
    }
}
