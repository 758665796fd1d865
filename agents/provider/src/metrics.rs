//! The provider's Prometheus metrics, served at `GET /metrics`:
//!
//! | Name | Kind | Labels | |
//! |---|---|---|---|
//! | `peerflow_provider_jobs_total` | counter | `outcome` | jobs by what this provider did: `skipped`, `deferred`, `bid`, `accepted` (slot taken), `failed` (run failed or finished late), `committed` (sealed result committed), `revealed` (sealed result revealed) |
//! | `peerflow_provider_jobs_skipped_total` | counter | `reason` | jobs left alone, by reason code (`network_not_allowed`, `spec_url_not_public`, `input_unavailable`, `price_below_minimum`, …; the same code is the job view's `detail`) |
//! | `peerflow_provider_jobs_settled_total` | counter | `status` | slots settled, by the escrow's slot status (`paid`, `slashed`, `refunded`, `lost`, …) |
//! | `peerflow_provider_running_jobs` | gauge | | jobs executing now |
//! | `peerflow_provider_job_seconds` | histogram | `workload` | time to execute a job (`container`, `vod`), failed runs included |
//! | `peerflow_provider_errors_total` | counter | `source`, `code` | `source="api"`: error replies of the HTTP API by their JSON `code` (`http_<status>` without one); `source="loop"`: failed ticks (`escrow`, `store`, `blob`, `other`) |

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use peerflow_protocol::metrics::Metrics;

pub const JOBS: &str = "peerflow_provider_jobs_total";
pub const JOBS_SKIPPED: &str = "peerflow_provider_jobs_skipped_total";
pub const JOBS_SETTLED: &str = "peerflow_provider_jobs_settled_total";
pub const RUNNING_JOBS: &str = "peerflow_provider_running_jobs";
pub const JOB_SECONDS: &str = "peerflow_provider_job_seconds";
pub const ERRORS: &str = "peerflow_provider_errors_total";

/// Upper bounds (seconds) for job durations: 100 ms to 2 h.
pub const JOB_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 7200.0,
];

/// Largest error body read to find its code.
const MAX_ERROR_BODY: usize = 64 << 10;

pub fn job(m: &Metrics, outcome: &str) {
    m.inc(
        JOBS,
        "Jobs by what this provider did with them.",
        &[("outcome", outcome)],
    );
}

pub fn skipped(m: &Metrics, reason: &str) {
    m.inc(
        JOBS_SKIPPED,
        "Jobs left alone, by reason code.",
        &[("reason", reason)],
    );
}

pub fn settled(m: &Metrics, status: &str) {
    m.inc(
        JOBS_SETTLED,
        "Slots settled, by the escrow's slot status.",
        &[("status", status)],
    );
}

pub fn job_seconds(m: &Metrics, workload: &str, seconds: f64) {
    m.observe(
        JOB_SECONDS,
        "Time to execute a job, failed runs included.",
        JOB_BUCKETS,
        &[("workload", workload)],
        seconds,
    );
}

pub fn error(m: &Metrics, source: &str, code: &str) {
    m.inc(
        ERRORS,
        "Errors: API error replies by code, and failed ticks of the loop.",
        &[("source", source), ("code", code)],
    );
}

/// One job executing, for as long as this lives.
pub struct Running<'a>(&'a Metrics);

impl<'a> Running<'a> {
    pub fn start(m: &'a Metrics) -> Self {
        m.shift(RUNNING_JOBS, "Jobs executing now.", &[], 1.0);
        Self(m)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.shift(RUNNING_JOBS, "Jobs executing now.", &[], -1.0);
    }
}

/// Makes every series that has a fixed label set visible from the start (as 0).
pub fn init(m: &Metrics) {
    m.shift(RUNNING_JOBS, "Jobs executing now.", &[], 0.0);
}

/// Middleware: counts error replies by the `code` of their JSON body.
pub async fn count_errors(State(m): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let fallback = format!("http_{}", status.as_u16());
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !json {
        error(&m, "api", &fallback);
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "error reply unreadable");
            error(&m, "api", &fallback);
            return Response::from_parts(parts, Body::empty());
        }
    };
    let code = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("code")?.as_str().map(str::to_owned))
        .unwrap_or(fallback);
    error(&m, "api", &code);
    Response::from_parts(parts, Body::from(bytes))
}
