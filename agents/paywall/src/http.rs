//! The paid-playback API, merged into the broadcaster's router:
//!
//! | Method | Path | |
//! |---|---|---|
//! | `GET` | `/v1/watch/{stream}/offer[?viewer=ADDR]` | price, ticket size, credit ([`Offer`]) |
//! | `POST` | `/v1/watch/{stream}/sessions` | open a session on a signed grant ([`OpenSession`] → [`SessionView`]) |
//! | `GET` | `/v1/watch/sessions/{session}` | the session ([`SessionView`]) |
//! | `POST` | `/v1/watch/sessions/{session}/tickets` | pay with its ticket ([`TicketPayment`] → [`SessionView`]) |
//! | `GET` | `/v1/watch/status` | the streamer's view ([`StatusView`]) |
//!
//! Errors are `{"error": {"code", "message"}}` with the status of [`PaywallError::status`].
//!
//! [`Offer`]: crate::proto::Offer
//! [`OpenSession`]: crate::proto::OpenSession
//! [`SessionView`]: crate::proto::SessionView
//! [`TicketPayment`]: crate::proto::TicketPayment
//! [`StatusView`]: crate::proto::StatusView

use std::sync::Arc;

use alloy::primitives::Address;
use alloy::providers::Provider;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::proto::{OpenSession, TicketPayment};
use crate::server::{Paywall, PaywallError};

impl IntoResponse for PaywallError {
    fn into_response(self) -> Response {
        let body =
            serde_json::json!({ "error": { "code": self.code(), "message": self.to_string() } });
        (self.status(), Json(body)).into_response()
    }
}

/// The routes, on their own state.
pub fn routes<P: Provider + Clone + 'static>(paywall: Arc<Paywall<P>>) -> Router {
    Router::new()
        .route("/v1/watch/status", get(status::<P>))
        .route("/v1/watch/{stream}/offer", get(offer::<P>))
        .route("/v1/watch/{stream}/sessions", post(open::<P>))
        .route("/v1/watch/sessions/{session}", get(view::<P>))
        .route("/v1/watch/sessions/{session}/tickets", post(pay::<P>))
        .with_state(paywall)
}

#[derive(Debug, Deserialize)]
struct OfferQuery {
    viewer: Option<String>,
}

fn body<T>(json: Result<Json<T>, JsonRejection>) -> Result<T, PaywallError> {
    json.map(|Json(v)| v)
        .map_err(|e| PaywallError::BadRequest(e.body_text()))
}

async fn offer<P: Provider + Clone + 'static>(
    State(paywall): State<Arc<Paywall<P>>>,
    Path(stream): Path<String>,
    Query(q): Query<OfferQuery>,
) -> Response {
    let viewer = match q.viewer.as_deref().map(str::parse::<Address>).transpose() {
        Ok(v) => v,
        Err(e) => return PaywallError::BadRequest(format!("viewer: {e}")).into_response(),
    };
    match paywall.offer(&stream, viewer).await {
        Ok(o) => Json(o).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn open<P: Provider + Clone + 'static>(
    State(paywall): State<Arc<Paywall<P>>>,
    Path(stream): Path<String>,
    req: Result<Json<OpenSession>, JsonRejection>,
) -> Response {
    let req = match body(req) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    match paywall.open(&stream, &req).await {
        Ok(v) => (axum::http::StatusCode::CREATED, Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn view<P: Provider + Clone + 'static>(
    State(paywall): State<Arc<Paywall<P>>>,
    Path(session): Path<String>,
) -> Response {
    match paywall.view(&session).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn pay<P: Provider + Clone + 'static>(
    State(paywall): State<Arc<Paywall<P>>>,
    Path(session): Path<String>,
    req: Result<Json<TicketPayment>, JsonRejection>,
) -> Response {
    let req = match body(req) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    match paywall.pay(&session, &req).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn status<P: Provider + Clone + 'static>(State(paywall): State<Arc<Paywall<P>>>) -> Response {
    match paywall.status().await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}
