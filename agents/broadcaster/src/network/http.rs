//! The network side's read-only HTTP API, merged into the broadcaster's router:
//!
//! | Method | Path | |
//! |---|---|---|
//! | `GET` | `/v1/faults` | every fault bundle: manifest, evidence hash, claim (if filed) |
//! | `GET` | `/v1/faults/{digest}/{file}` | one file of a bundle (what jurors fetch) |
//! | `GET` | `/v1/reputation` | this broadcaster's record of every orchestrator it used |
//! | `GET` | `/v1/reputation/{address}` | one orchestrator's or provider's whole record, with sources |
//! | `GET` | `/metrics` | Prometheus metrics (`peerflow_broadcaster_*`) |

use std::path::PathBuf;
use std::sync::Arc;

use alloy::primitives::Address;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use peerflow_protocol::metrics::Metrics;

use super::evidence::{self, ClaimRecord, FaultReport};
use super::record::{RecordSources, record_of};

/// What the handlers read.
pub struct NetworkApi {
    pub fault_dir: PathBuf,
    pub sources: RecordSources,
    pub metrics: Arc<Metrics>,
}

/// The routes above.
pub fn routes(api: Arc<NetworkApi>) -> Router {
    let metrics = Arc::clone(&api.metrics);
    Router::new()
        .route("/v1/faults", get(list_faults))
        .route("/v1/faults/{digest}/{file}", get(fault_file))
        .route("/v1/reputation", get(all_scores))
        .route("/v1/reputation/{address}", get(one_record))
        .with_state(api)
        .merge(peerflow_protocol::metrics_http::router(metrics))
}

/// A JSON error with a machine-readable code.
fn error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "code": code, "message": message })),
    )
        .into_response()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FaultEntry {
    #[serde(flatten)]
    report: FaultReport,
    claim: Option<ClaimRecord>,
}

async fn list_faults(State(api): State<Arc<NetworkApi>>) -> Response {
    match evidence::list_bundles(&api.fault_dir).await {
        Ok(reports) => {
            let mut entries = Vec::with_capacity(reports.len());
            for report in reports {
                let claim = evidence::read_claim(&report.dir).await;
                entries.push(FaultEntry { report, claim });
            }
            axum::Json(entries).into_response()
        }
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "evidence_store",
            e.to_string(),
        ),
    }
}

async fn fault_file(
    State(api): State<Arc<NetworkApi>>,
    Path((digest, file)): Path<(String, String)>,
) -> Response {
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no file {file} in fault {digest}"),
        )
    };
    let Ok(parsed) = digest.parse::<alloy::primitives::B256>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_digest",
            format!("{digest} is not a 32-byte hex digest"),
        );
    };
    let dir = api.fault_dir.join(evidence::bundle_name(&parsed));
    let Ok(report) = evidence::read_bundle(&dir).await else {
        return not_found();
    };
    if !evidence::servable(&report, &file) {
        return not_found();
    }
    match tokio::fs::read(dir.join(&file)).await {
        Ok(bytes) => {
            let kind = match file.rsplit('.').next() {
                Some("json") => "application/json",
                Some("ts") => "video/mp2t",
                Some("mp4") => "video/mp4",
                _ => "application/octet-stream",
            };
            ([(header::CONTENT_TYPE, kind)], bytes).into_response()
        }
        Err(_) => not_found(),
    }
}

async fn all_scores(State(api): State<Arc<NetworkApi>>) -> Response {
    match api.sources.reputation.scores() {
        Ok(scores) => axum::Json(scores).into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reputation_store",
            e.to_string(),
        ),
    }
}

async fn one_record(State(api): State<Arc<NetworkApi>>, Path(address): Path<String>) -> Response {
    let Ok(who) = address.parse::<Address>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_address",
            format!("{address} is not an address"),
        );
    };
    match record_of(&api.sources, who).await {
        Ok(record) => axum::Json(record).into_response(),
        Err(e) => error(StatusCode::BAD_GATEWAY, "chain_unavailable", e.to_string()),
    }
}
