//! The lease routes of the provider's HTTP API (see [`crate::proto`] for what each says).
//! Every route about a lease but `pay` (whose ticket is signed) takes a [`LeaseAuth`] by the
//! lease's buyer, used once.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Address;
use alloy::providers::Provider;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{LeaseError, LeaseService};
use crate::auth::{AuthError, LEASE_AUTH_HEADER, LeaseAuth, unix_now};
use crate::frames::Frame;
use crate::proto::{ExecRequest, OpenRequest, PayRequest};

/// Header carrying an exec's JSON [`ExecRequest`] (the body is the command's stdin).
pub const EXEC_HEADER: &str = "x-peerflow-exec";

/// A tunnel with nothing sent either way for this long is closed.
const TUNNEL_IDLE: Duration = Duration::from_secs(600);

/// Largest image archive a buyer may load.
pub const MAX_IMAGE_ARCHIVE: usize = 256 << 20;

/// Largest JSON body taken.
const MAX_JSON: usize = 64 << 10;

type Svc<P> = Arc<LeaseService<P>>;

pub fn routes<P: Provider + Clone + 'static>(svc: Svc<P>) -> Router {
    Router::new()
        .route("/v1/lease/offer", get(offer::<P>))
        .route("/leases", get(page::<P>))
        .route("/v1/leases", post(open::<P>))
        .route(
            "/v1/lease/images",
            post(load_image::<P>).layer(axum::extract::DefaultBodyLimit::max(MAX_IMAGE_ARCHIVE)),
        )
        .route("/v1/leases/{id}", get(view::<P>))
        .route("/v1/leases/{id}/intervals", get(intervals::<P>))
        .route("/v1/leases/{id}/pay", post(pay::<P>))
        .route("/v1/leases/{id}/exec", post(exec::<P>))
        .route("/v1/leases/{id}/close", post(close::<P>))
        .route("/v1/leases/{id}/ports/{port}", post(port::<P>))
        .with_state(svc)
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

impl IntoResponse for LeaseError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        error(status, self.code(), self.to_string())
    }
}

fn refused(e: AuthError) -> Box<Response> {
    Box::new(error(StatusCode::UNAUTHORIZED, e.code(), e.to_string()))
}

/// The signer of this request, its nonce used up.
fn signer<P: Provider + Clone + 'static>(
    svc: &LeaseService<P>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    signed: &[u8],
) -> Result<Address, Box<Response>> {
    let header = headers
        .get(LEASE_AUTH_HEADER)
        .ok_or_else(|| refused(AuthError::Missing))?;
    let auth = LeaseAuth::parse(header.as_bytes()).map_err(refused)?;
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let now = unix_now();
    let who = auth
        .verify(svc.config().provider, method.as_str(), path, signed, now)
        .map_err(refused)?;
    match svc.store().use_nonce(who, auth.nonce, auth.expires, now) {
        Ok(true) => Ok(who),
        Ok(false) => Err(refused(AuthError::Replayed)),
        Err(e) => Err(Box::new(LeaseError::from(e).into_response())),
    }
}

/// A request signed by its sender ([`LeaseAuth`] over its method, path, and body), the nonce
/// used up: who sent it, and the body.
struct Signed {
    who: Address,
    body: Bytes,
}

impl<P: Provider + Clone + 'static> axum::extract::FromRequest<Svc<P>> for Signed {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, svc: &Svc<P>) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let body =
            Bytes::from_request(axum::extract::Request::from_parts(parts.clone(), body), svc)
                .await
                .map_err(IntoResponse::into_response)?;
        let who = signer(svc, &parts.method, &parts.uri, &parts.headers, &body).map_err(|r| *r)?;
        Ok(Signed { who, body })
    }
}

/// The JSON of `result`, or its error's status and code.
fn reply<T: serde::Serialize>(result: Result<T, LeaseError>) -> Response {
    match result {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    if body.len() > MAX_JSON {
        return Err(Box::new(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "request body over 64 KiB".into(),
        )));
    }
    serde_json::from_slice(body)
        .map_err(|e| Box::new(error(StatusCode::BAD_REQUEST, "bad_request", e.to_string())))
}

async fn offer<P: Provider + Clone + 'static>(State(svc): State<Svc<P>>) -> Response {
    reply(svc.offer())
}

/// The operator's page: every lease, newest first.
async fn page<P: Provider + Clone + 'static>(State(svc): State<Svc<P>>) -> Response {
    match svc.all() {
        Ok(all) => axum::response::Html(super::page::render(&all)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn open<P: Provider + Clone + 'static>(
    State(svc): State<Svc<P>>,
    signed: Signed,
) -> Response {
    let req: OpenRequest = match json_body(&signed.body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    match svc.open(signed.who, &req).await {
        Ok(v) => (StatusCode::CREATED, axum::Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn view<P: Provider + Clone + 'static>(
    State(svc): State<Svc<P>>,
    Path(id): Path<String>,
    signed: Signed,
) -> Response {
    reply(svc.view(signed.who, &id))
}

#[derive(Deserialize)]
struct From {
    #[serde(default)]
    from: u64,
}

async fn intervals<P: Provider + Clone + 'static>(
    State(svc): State<Svc<P>>,
    Path(id): Path<String>,
    Query(q): Query<From>,
    signed: Signed,
) -> Response {
    reply(svc.intervals(signed.who, &id, q.from).await)
}

async fn pay<P: Provider + Clone + 'static>(
    State(svc): State<Svc<P>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    match json_body::<PayRequest>(&body) {
        Ok(req) => reply(svc.pay(&id, &req).await),
        Err(r) => *r,
    }
}

async fn close<P: Provider + Clone + 'static>(
    State(svc): State<Svc<P>>,
    Path(id): Path<String>,
    signed: Signed,
) -> Response {
    reply(svc.close(signed.who, &id).await)
}

/// Runs the command of the [`EXEC_HEADER`] and streams its output as [`Frame`]s, then its exit
/// code. With `stdin` in the (signed) request, the request body is piped to its stdin as it
/// arrives.
async fn exec<P: Provider + Clone + 'static>(
    State(svc): State<Svc<P>>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(spec) = headers.get(EXEC_HEADER).map(|v| v.as_bytes().to_vec()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the command goes in {EXEC_HEADER}"),
        );
    };
    let buyer = match signer(&svc, &method, &uri, &headers, &spec) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let req: ExecRequest = match json_body(&spec) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let stdin = req.stdin;
    let exec = match svc.exec(buyer, &id, req.cmd, stdin).await {
        Ok(e) => e,
        Err(e) => return e.into_response(),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(32);
    let mut input = exec.input;
    let pump = stdin.then(|| {
        tokio::spawn(async move {
            let mut body = body.into_data_stream();
            while let Some(Ok(chunk)) = body.next().await {
                if input.write_all(&chunk).await.is_err() {
                    return;
                }
            }
            let _ = input.shutdown().await;
        })
    });
    let mut output = exec.output;
    let exec_id = exec.id;
    tokio::spawn(async move {
        while let Some(item) = output.next().await {
            let frame = match item {
                Ok(bollard::container::LogOutput::StdOut { message }) => Frame::Stdout(message),
                Ok(bollard::container::LogOutput::StdErr { message }) => Frame::Stderr(message),
                Ok(_) => continue,
                Err(e) => Frame::Error(e.to_string()),
            };
            let end = matches!(frame, Frame::Error(_));
            if tx.send(frame.encode()).await.is_err() || end {
                return;
            }
        }
        if let Some(p) = pump {
            p.abort();
        }
        // The output ends as the command does; its exit code follows within moments.
        for _ in 0..100 {
            match svc.exit_code(&exec_id).await {
                Ok(Some(code)) => {
                    let _ = tx.send(Frame::Exit(code).encode()).await;
                    return;
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => {
                    let _ = tx.send(Frame::Error(e.to_string()).encode()).await;
                    return;
                }
            }
        }
        let _ = tx
            .send(Frame::Error("the command's exit code did not come".into()).encode())
            .await;
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Response::builder()
        .header("content-type", "application/octet-stream")
        .body(Body::from_stream(stream))
        .expect("a streaming response")
}

/// A TCP connection to a published port: the request body goes to it as it arrives, what it sends
/// back is the response body.
async fn port<P: Provider + Clone + 'static>(
    State(svc): State<Svc<P>>,
    Path((id, port)): Path<(String, u16)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let who = match signer(&svc, &method, &uri, &headers, b"") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let (stream, permit) = match svc.connect(who, &id, port).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let (from, mut to) = stream.into_split();
    tokio::spawn(async move {
        let mut body = body.into_data_stream();
        // A connection idle both ways for TUNNEL_IDLE ends.
        while let Ok(Some(Ok(chunk))) = tokio::time::timeout(TUNNEL_IDLE, body.next()).await {
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    // The permit (one of the lease's connections) is held until the reply stream ends.
    let back = futures_util::stream::unfold((from, permit), |(mut from, permit)| async move {
        let mut buf = vec![0u8; 16 << 10];
        match tokio::time::timeout(TUNNEL_IDLE, from.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => None,
            Ok(Ok(n)) => {
                buf.truncate(n);
                Some((Ok::<_, Infallible>(Bytes::from(buf)), (from, permit)))
            }
        }
    });
    Response::builder()
        .header("content-type", "application/octet-stream")
        .body(Body::from_stream(back))
        .expect("a streaming response")
}

#[derive(Deserialize)]
struct ImageQuery {
    reference: Option<String>,
}

/// Loads a buyer's `docker save` archive (the body); the reply names the image id leases may run.
async fn load_image<P: Provider + Clone + 'static>(
    State(svc): State<Svc<P>>,
    Query(q): Query<ImageQuery>,
    signed: Signed,
) -> Response {
    match svc
        .load_image(signed.who, signed.body.to_vec(), q.reference.as_deref())
        .await
    {
        Ok(image) => (StatusCode::CREATED, axum::Json(json!({ "image": image }))).into_response(),
        Err(e) => e.into_response(),
    }
}
