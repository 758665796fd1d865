//! The local API a container calls: HTTP/1.1 over a Unix socket the provider mounts into the
//! container (no network is needed). Any language with an HTTP client can use it; the Rust crate
//! `peerflow-dac-client` and the Python module `peerflow_dac` wrap it.
//!
//! - `GET /v1/node` → `{job, node, nodes, alive, topology, decimals}`
//! - `POST /v1/average` `{"values": [f64], "tolerance"?: f64}` → [`Outcome`](crate::session::Outcome)
//! - `POST /v1/agree` `{"values": [f64], "bound"?: f64}` → [`Agreed`](crate::session::Agreed)
//!
//! Errors: `{"code", "message"}` with 400 `bad_request`, 410 `dropped`, 409 `isolated`,
//! 503 `closed`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::session::{DacError, Session};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AverageRequest {
    values: Vec<f64>,
    #[serde(default)]
    tolerance: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgreeRequest {
    values: Vec<f64>,
    /// How far `values` may be from the consensus value (the caller's residual bound).
    #[serde(default)]
    bound: Option<f64>,
}

/// The local API's router over one session.
pub fn router(session: Arc<Session>) -> Router {
    Router::new()
        .route("/v1/node", get(node))
        .route("/v1/average", post(average))
        .route("/v1/agree", post(agree))
        .with_state(session)
}

/// Serves the local API of `session` on a Unix socket at `path` (replacing a stale one). The
/// socket is open to any user (the container's user is the job's, not the provider's) but its
/// directory only to the provider's user: the container reaches it through its bind mount, other
/// users of the host cannot reach it at all. The server stops when the task is aborted.
pub async fn serve(
    session: Arc<Session>,
    path: &Path,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    let app = router(session);
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "dac local api stopped");
        }
    }))
}

fn failure(e: DacError) -> Response {
    let status = match e {
        DacError::BadRequest(_) => StatusCode::BAD_REQUEST,
        DacError::Dropped => StatusCode::GONE,
        DacError::Isolated => StatusCode::CONFLICT,
        DacError::Closed => StatusCode::SERVICE_UNAVAILABLE,
    };
    (
        status,
        axum::Json(json!({"code": e.code(), "message": e.to_string()})),
    )
        .into_response()
}

async fn node(State(s): State<Arc<Session>>) -> Response {
    let c = s.config();
    axum::Json(json!({
        "job": c.job,
        "node": c.me,
        "nodes": c.peers.len(),
        "alive": s.alive(),
        "topology": c.topology,
        "decimals": c.decimals,
    }))
    .into_response()
}

async fn average(
    State(s): State<Arc<Session>>,
    body: Result<axum::Json<AverageRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let req = match body {
        Ok(axum::Json(r)) => r,
        Err(e) => return failure(DacError::BadRequest(e.body_text())),
    };
    match s.average(&req.values, req.tolerance).await {
        Ok(o) => axum::Json(o).into_response(),
        Err(e) => failure(e),
    }
}

async fn agree(
    State(s): State<Arc<Session>>,
    body: Result<axum::Json<AgreeRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let req = match body {
        Ok(axum::Json(r)) => r,
        Err(e) => return failure(DacError::BadRequest(e.body_text())),
    };
    match s.agree(&req.values, req.bound).await {
        Ok(a) => axum::Json(a).into_response(),
        Err(e) => failure(e),
    }
}
