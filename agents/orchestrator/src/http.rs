//! The orchestrator's HTTP API (`/v1/...`): info for broadcasters, paid segment submission whose
//! reply carries the renditions (in the request's order) and the orchestrator's signature over
//! them (`x-peerflow-result-signature`, see [`peerflow_protocol::result`]), the pull endpoints
//! of its transcoders, and what operators read: `GET /metrics` (Prometheus, see [`crate::metrics`]),
//! `GET /v1/status` (JSON, see [`crate::status`]) and `GET /` (the status page).

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use alloy::providers::Provider;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use peerflow_protocol::api::{
    ErrorBody, PAYMENT_HEADER, Payment, RENDITION_HEADER, REQUEST_AUTH_HEADER, RequestAuth,
    SEGMENT_HEADER, SegmentRequest,
};
use peerflow_protocol::multipart::{self, Part};
use peerflow_protocol::result::RESULT_SIGNATURE_HEADER;
use peerflow_protocol::timing::{SERVER_TIMING_HEADER, Stages};
use serde::{Deserialize, Serialize};

use crate::jobs::{JobError, RenditionResult};
use crate::metrics::ErrorCode;
use crate::node::{Node, NodeError};

/// Header naming the output pixels of a rendition part.
pub const PIXELS_HEADER: &str = "x-peerflow-pixels";
/// Header carrying a JSON [`JobHeader`] on a job handed to a transcoder.
pub const JOB_HEADER: &str = "x-peerflow-job";
/// Header a transcoder sets on a failed job's result: "bad_segment" or "failed".
pub const JOB_ERROR_HEADER: &str = "x-peerflow-job-error";
/// Header naming the transcoder on its pulls (default [`ANONYMOUS_TRANSCODER`]).
pub const TRANSCODER_HEADER: &str = "x-peerflow-transcoder";
/// Header with the jobs a transcoder takes at once (default 1).
pub const TRANSCODER_SLOTS_HEADER: &str = "x-peerflow-transcoder-slots";
/// Header with a transcoder's measured capacity, output pixels per second (optional).
pub const TRANSCODER_PIXELS_HEADER: &str = "x-peerflow-transcoder-pixels-per-second";
/// The name of a transcoder that does not send [`TRANSCODER_HEADER`].
pub const ANONYMOUS_TRANSCODER: &str = "anonymous";

/// Header on a job's result carrying the job's secret ([`JobHeader::secret`], hex).
pub const JOB_SECRET_HEADER: &str = "x-peerflow-job-secret";

/// A job as a transcoder sees it (the segment is the body).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobHeader {
    pub id: u64,
    pub request: SegmentRequest,
    /// A secret only the transcoder the job was handed to learns (hex): its result is accepted
    /// only with it ([`JOB_SECRET_HEADER`]), so another token holder cannot answer the job.
    #[serde(default)]
    pub secret: String,
}

/// The API router. `max_segment_bytes` bounds request bodies. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so `/v1/info` can rate-limit per client IP.
pub fn router<P: Provider + Clone + 'static>(
    node: Arc<Node<P>>,
    max_segment_bytes: usize,
) -> Router {
    let metrics = Arc::clone(node.metrics());
    Router::new()
        .route("/v1/info", get(info::<P>))
        .route("/v1/segment", post(segment::<P>))
        .route("/v1/payment", post(payment::<P>))
        .route("/v1/transcoder/work", get(take_work::<P>))
        .route("/v1/transcoder/result/{id}", post(put_result::<P>))
        .route("/metrics", get(crate::metrics::serve::<P>))
        .merge(crate::status::routes::<P>())
        .layer(DefaultBodyLimit::max(max_segment_bytes))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::count_errors,
        ))
        .with_state(node)
}

struct ApiError(StatusCode, ErrorBody);

impl ApiError {
    fn new(
        status: StatusCode,
        code: &str,
        message: impl Into<String>,
        retry_elsewhere: bool,
    ) -> Self {
        Self(
            status,
            ErrorBody {
                code: code.into(),
                message: message.into(),
                retry_elsewhere,
            },
        )
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        let status = match e.code() {
            "bad_request"
            | "bad_segment"
            | "wrong_recipient"
            | "ticket_params_mismatch"
            | "invalid_signature" => StatusCode::BAD_REQUEST,
            "ticket_replayed" | "request_replayed" => StatusCode::CONFLICT,
            "unauthorized_request" | "unauthorized_signer" => StatusCode::UNAUTHORIZED,
            "rate_limited" => StatusCode::TOO_MANY_REQUESTS,
            "capacity" | "no_transcoder" | "chain_unavailable" | "key_retired" => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            "transcode_failed" => StatusCode::BAD_GATEWAY,
            "internal" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::PAYMENT_REQUIRED,
        };
        tracing::debug!(code = e.code(), error = %e, "request refused");
        Self::new(status, e.code(), e.to_string(), e.retry_elsewhere())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = ErrorCode(self.1.code.clone());
        let mut response = (self.0, axum::Json(self.1)).into_response();
        response.extensions_mut().insert(code);
        response
    }
}

#[derive(Deserialize)]
struct InfoQuery {
    sender: Address,
}

async fn info<P: Provider + Clone>(
    State(node): State<Arc<Node<P>>>,
    extensions: axum::http::Extensions,
    Query(q): Query<InfoQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let client = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    Ok(axum::Json(node.info_for(q.sender, client).await?))
}

fn json_header<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    name: &str,
) -> Result<T, ApiError> {
    let value = headers.get(name).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("missing {name} header"),
            false,
        )
    })?;
    serde_json::from_slice(value.as_bytes()).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("{name}: {e}"),
            false,
        )
    })
}

/// A paid segment, counted by outcome (and timed when transcoded).
async fn segment<P: Provider + Clone>(
    State(node): State<Arc<Node<P>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let reply = paid_segment(&node, &headers, body).await;
    let outcome = match &reply {
        Ok(_) => "transcoded",
        Err(ApiError(_, body)) => body.code.as_str(),
    };
    crate::metrics::segment(node.metrics(), outcome, started.elapsed().as_secs_f64());
    reply
}

async fn paid_segment<P: Provider + Clone>(
    node: &Node<P>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut stages = Stages::new();
    // A node whose key was retired refuses before it spends a request nonce or a chain call.
    node.serving()?;
    let request: SegmentRequest = json_header(headers, SEGMENT_HEADER)?;
    let payment: Payment = json_header(headers, PAYMENT_HEADER)?;
    if !headers.contains_key(REQUEST_AUTH_HEADER) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized_request",
            format!("a segment request must carry the sender's signature in {REQUEST_AUTH_HEADER}"),
            false,
        ));
    }
    let auth: RequestAuth = json_header(headers, REQUEST_AUTH_HEADER)?;
    if body.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_segment",
            "empty segment",
            false,
        ));
    }
    // Nothing touches the sender's credit before its signature over this request is checked.
    let params = node
        .authorize_request(payment.sender, &auth, &request, &body)
        .await?;
    stages.lap("auth");
    let done = match node.start_early(payment.sender, &request, &body) {
        // A held stream's segment is probed (its frames counted, admitted, charged) while it is
        // transcoded: the probe is part of its `transcode` stage.
        Some(early) => {
            node.accept_payment(&payment).await?;
            stages.lap("pay");
            node.transcode_early(payment.sender, &params, request, body.to_vec(), early)
                .await?
        }
        None => {
            // A new stream that does not fit is refused before its payment is booked.
            let admitted = node.admit(payment.sender, &request, &body).await?;
            stages.lap("probe");
            node.accept_payment(&payment).await?;
            stages.lap("pay");
            node.transcode(payment.sender, &params, request, body.to_vec(), admitted)
                .await?
        }
    };
    stages.add("queue", done.times.queued);
    stages.add("transcode", done.times.transcoding);
    let signature = alloy::primitives::hex::encode_prefixed(done.signature.to_bytes());
    let parts: Vec<Part> = done.renditions.into_iter().map(rendition_part).collect();
    let (content_type, body) = multipart::encode(&parts);
    stages.lap("sign");
    crate::metrics::stages(node.metrics(), &stages);
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type).expect("ascii"),
    );
    h.insert(
        "x-peerflow-charged",
        HeaderValue::from_str(&done.charged.to_string()).expect("ascii"),
    );
    h.insert(
        "x-peerflow-balance",
        HeaderValue::from_str(&done.balance.to_string()).expect("ascii"),
    );
    h.insert(
        RESULT_SIGNATURE_HEADER,
        HeaderValue::from_str(&signature).expect("ascii"),
    );
    h.insert(
        SERVER_TIMING_HEADER,
        HeaderValue::from_str(&stages.server_timing()).expect("ascii"),
    );
    Ok(response)
}

/// Reply to a payment on its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentReceipt {
    pub credited: alloy::primitives::U256,
    pub balance: alloy::primitives::U256,
}

/// Credit without work (prepaying, topping up): the same validation as with a segment.
async fn payment<P: Provider + Clone>(
    State(node): State<Arc<Node<P>>>,
    axum::Json(payment): axum::Json<Payment>,
) -> Result<axum::Json<PaymentReceipt>, ApiError> {
    let credited = node.accept_payment(&payment).await?;
    let balance = node
        .store()
        .balance(payment.sender)
        .map_err(NodeError::from)?;
    Ok(axum::Json(PaymentReceipt { credited, balance }))
}

fn rendition_part(r: RenditionResult) -> Part {
    Part::new(&r.content_type, r.bytes)
        .with_header(RENDITION_HEADER, r.name)
        .with_header(PIXELS_HEADER, r.pixels.to_string())
}

/// Whether `a` and `b` are equal, in time that depends on their lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorize<P: Provider + Clone>(node: &Node<P>, headers: &HeaderMap) -> Result<(), ApiError> {
    let expected = format!("Bearer {}", node.config.transcoder_token);
    match headers.get(header::AUTHORIZATION) {
        Some(v) if constant_time_eq(v.as_bytes(), expected.as_bytes()) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "transcoder token required",
            false,
        )),
    }
}

#[derive(Deserialize)]
struct WorkQuery {
    /// Seconds to wait for a job (long poll), at most 60.
    wait: Option<u64>,
}

async fn take_work<P: Provider + Clone>(
    State(node): State<Arc<Node<P>>>,
    headers: HeaderMap,
    Query(q): Query<WorkQuery>,
) -> Result<Response, ApiError> {
    authorize(&node, &headers)?;
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let name = text(TRANSCODER_HEADER)
        .filter(|n| !n.is_empty())
        .unwrap_or(ANONYMOUS_TRANSCODER)
        .to_owned();
    let slots = text(TRANSCODER_SLOTS_HEADER)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let pixels = text(TRANSCODER_PIXELS_HEADER).and_then(|s| s.parse().ok());
    let wait = Duration::from_secs(q.wait.unwrap_or(20).min(60));
    let poll = node.transcoders.poll(&name, slots, pixels);
    let job = node.jobs.take(wait).await;
    drop(poll);
    let Some(job) = job else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let Some(secret) = node.jobs.assign(job.id) else {
        // Its request gave up between the queue and here.
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    node.transcoders.took(&name, job.id, job.pixels);
    let meta = serde_json::to_string(&JobHeader {
        id: job.id,
        request: job.request,
        secret: alloy::primitives::hex::encode(secret),
    })
    .expect("serializable");
    let mut response = (StatusCode::OK, job.segment).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        JOB_HEADER,
        HeaderValue::from_str(&meta).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                e.to_string(),
                true,
            )
        })?,
    );
    Ok(response)
}

async fn put_result<P: Provider + Clone>(
    State(node): State<Arc<Node<P>>>,
    Path(id): Path<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    authorize(&node, &headers)?;
    let presented = headers
        .get(JOB_SECRET_HEADER)
        .and_then(|v| alloy::primitives::hex::decode(v.as_bytes()).ok())
        .unwrap_or_default();
    if !node.jobs.holds_secret(id, &presented) {
        if !node.jobs.is_waiting(id) {
            return Err(ApiError::new(
                StatusCode::GONE,
                "job_gone",
                format!("job {id} is no longer waited for"),
                false,
            ));
        }
        tracing::warn!(job = id, "a result without the job's secret was refused");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_transcoder",
            format!("job {id} was handed to another transcoder"),
            false,
        ));
    }
    let outcome = match headers.get(JOB_ERROR_HEADER).map(|v| v.as_bytes()) {
        Some(b"bad_segment") => Err(JobError::BadSegment(String::from_utf8_lossy(&body).into())),
        Some(_) => Err(JobError::Failed(String::from_utf8_lossy(&body).into())),
        None => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let parts = multipart::decode(content_type, &body).map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string(), false)
            })?;
            parts
                .into_iter()
                .map(result_from_part)
                .collect::<Result<Vec<_>, _>>()
                .map(Ok)?
        }
    };
    node.transcoders
        .answered(id, node.jobs.is_waiting(id), outcome.is_ok());
    if node.jobs.complete(id, outcome) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::GONE,
            "job_gone",
            format!("job {id} is no longer waited for"),
            false,
        ))
    }
}

fn result_from_part(part: Part) -> Result<RenditionResult, ApiError> {
    let bad = |what: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("rendition part without {what}"),
            false,
        )
    };
    Ok(RenditionResult {
        name: part
            .header(RENDITION_HEADER)
            .ok_or_else(|| bad(RENDITION_HEADER))?
            .to_string(),
        content_type: part
            .header("content-type")
            .unwrap_or("application/octet-stream")
            .to_string(),
        // What the orchestrator charges for it, counted there (a transcoder's claim, in an
        // x-peerflow-pixels header of older transcoders, is not read).
        pixels: 0,
        bytes: part.body,
    })
}
