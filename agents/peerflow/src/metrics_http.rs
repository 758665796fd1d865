//! `--metrics-listen` for the roles that serve no other HTTP API: the remote transcoder and the
//! juror.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use peerflow_protocol::metrics::Metrics;
use peerflow_protocol::metrics_http::serve_on;

/// Serves `GET /metrics` over `metrics` on `listen` and prints where (`{role} metrics on
/// http://…/metrics`); the server task runs until aborted or the process ends.
pub async fn serve(
    role: &str,
    listen: SocketAddr,
    metrics: Arc<Metrics>,
) -> Result<tokio::task::JoinHandle<()>> {
    let (bound, task) = serve_on(listen, metrics)
        .await
        .with_context(|| format!("--metrics-listen {listen}"))?;
    println!("{role} metrics on http://{bound}/metrics");
    Ok(task)
}
