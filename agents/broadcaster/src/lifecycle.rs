//! How a stream ends: `DELETE /live/{stream}`, or the idle rule, a background task that ends
//! every stream without a published segment for the configured time.

use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

use crate::broadcaster::Broadcaster;
use crate::error::ApiError;

/// `DELETE /live/{stream}`: ends the stream; `204` also when it had already ended. Takes the
/// admin token; without it, only a keyless stream of a broadcaster that takes keyless pushes.
pub async fn end_stream(
    State(broadcaster): State<Arc<Broadcaster>>,
    Path(stream): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    if broadcaster.access().check_admin(&headers).is_err() {
        broadcaster.authorize(None, &stream, false)?;
    }
    broadcaster.end(&stream).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /live/{key}/{stream}`: ends a stream of that key.
pub async fn end_keyed_stream(
    State(broadcaster): State<Arc<Broadcaster>>,
    Path((key, stream)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let grant = broadcaster.authorize(Some(&key), &stream, false)?;
    broadcaster.end(&grant.stream).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts the idle rule. The task holds the broadcaster weakly and stops once the router that
/// owns it is dropped.
///
/// # Panics
/// Outside a Tokio runtime.
pub fn spawn_idle_reaper(broadcaster: Weak<Broadcaster>, idle: Duration) {
    // Check a few times per idle period, so a stream ends at most a quarter late.
    let tick = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let Some(broadcaster) = broadcaster.upgrade() else {
                return;
            };
            broadcaster.end_idle_streams(idle).await;
        }
    });
}
