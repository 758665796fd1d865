//! The HTTP surface: which handler answers which method and path, CORS for browser players
//! (hls.js), and JSON errors for unknown paths and methods.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};

use crate::broadcaster::Broadcaster;
use crate::error::ApiError;
use crate::{admin, hls, ingest, lifecycle, web};

/// Every route of the broadcaster.
pub fn build(broadcaster: Arc<Broadcaster>) -> Router {
    Router::new()
        .route("/live/{stream}", delete(lifecycle::end_stream))
        .route(
            "/live/{stream}/{file}",
            get(hls::playlist)
                .put(ingest::push)
                .post(ingest::push)
                // `DELETE /live/{key}/{stream}`: the end of a stream by its key.
                .delete(lifecycle::end_keyed_stream)
                // The ingest handler enforces the configured limit with a JSON 413.
                .layer(DefaultBodyLimit::disable()),
        )
        // Three parts: a rendition segment to GET, or a push / an end with a stream key.
        .route(
            "/live/{stream}/{rendition}/{file}",
            get(hls::segment)
                .put(ingest::keyed_push)
                .post(ingest::keyed_push)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/v1/admin/keys", get(admin::list).post(admin::create))
        .route("/v1/admin/keys/{id}", delete(admin::revoke))
        .merge(web::routes())
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn(cors))
        .with_state(broadcaster)
}

/// Lets any origin read playlists and segments, and answers preflights.
async fn cors(request: Request, next: Next) -> Response {
    let mut response = if request.method() == Method::OPTIONS {
        let mut preflight = StatusCode::NO_CONTENT.into_response();
        let headers = preflight.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, PUT, POST, DELETE, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("*"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
        preflight
    } else {
        next.run(request).await
    };
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}
