//! The provider's HTTP API: the blob store (`/v1/blobs/...`: inputs it fetched, outputs, result
//! manifests, usage records; signed requests only, see [`crate::access`]), `GET /v1/jobs/{id}`
//! (this provider's progress on a job, reason codes only), `GET /v1/jobs/{id}/logs` (signed by
//! the job's buyer), `GET /v1/rates` (its per-resource prices and what it offers), the consensus relay of cooperative
//! jobs (`/v1/dac/{job}/...`, see [`peerflow_dac::relay`]) and
//! `GET /metrics` (Prometheus, see [`crate::metrics`]).

use std::sync::Arc;

use alloy::providers::Provider;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use peerflow_compute::blob::{ReadAccess, refused, request_signer};
use serde_json::json;

use crate::agent::Agent;

/// Largest blob accepted over PUT.
pub const MAX_BLOB_BYTES: usize = 512 << 20;

/// The router over `agent`.
pub fn router<P: Provider + Clone + 'static>(agent: Arc<Agent<P>>) -> Router {
    let blobs = peerflow_compute::blob::routes_with(
        Arc::new(agent.blobs().clone()),
        MAX_BLOB_BYTES,
        Arc::new(crate::access::AgentAccess(Arc::clone(&agent))),
    );
    let metrics = Arc::clone(agent.metrics());
    let dac = agent.relay().map(|r| r.routes()).unwrap_or_default();
    Router::new()
        .route("/v1/jobs/{id}", get(job::<P>))
        .route("/v1/jobs/{id}/logs", get(logs::<P>))
        .route("/v1/rates", get(rates::<P>))
        .with_state(agent)
        .merge(blobs)
        .merge(dac)
        .merge(crate::gpu_api::routes(crate::gpu_api::gpu_prover()))
        .merge(peerflow_protocol::metrics_http::router(Arc::clone(
            &metrics,
        )))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::count_errors,
        ))
}

fn not_found(what: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"code": "not_found", "message": what})),
    )
        .into_response()
}

async fn job<P: Provider + Clone + 'static>(
    State(agent): State<Arc<Agent<P>>>,
    Path(id): Path<u64>,
) -> Response {
    match agent.job(id) {
        Ok(Some(row)) => axum::Json(row).into_response(),
        Ok(None) => not_found(format!("job {id} unknown to this provider")),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"code": "storage", "message": e.to_string()})),
        )
            .into_response(),
    }
}

async fn logs<P: Provider + Clone + 'static>(
    State(agent): State<Arc<Agent<P>>>,
    Path(id): Path<u64>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let reader = match request_signer(&method, &uri, &headers) {
        Ok(r) => r,
        Err(refusal) => return *refusal,
    };
    let access = match reader {
        None => ReadAccess::Unauthenticated,
        Some(r) => match agent.may_read_log(id, r).await {
            Ok(true) => ReadAccess::Allowed,
            Ok(false) => ReadAccess::Forbidden,
            Err(e) => {
                tracing::warn!(job = id, error = %e, "log access not decided");
                ReadAccess::Forbidden
            }
        },
    };
    if let Some(refusal) = refused(access) {
        return refusal;
    }
    match std::fs::read_to_string(agent.log_path(id)) {
        Ok(text) => text.into_response(),
        Err(_) => not_found(format!("no log for job {id}")),
    }
}

async fn rates<P: Provider + Clone + 'static>(State(agent): State<Arc<Agent<P>>>) -> Response {
    let cfg = agent.config();
    axum::Json(json!({
        "provider": cfg.address,
        "rates": cfg.rates,
        "offer": cfg.offer,
        "min_price": cfg.min_price,
    }))
    .into_response()
}
