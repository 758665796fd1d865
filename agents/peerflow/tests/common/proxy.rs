//! A test-only HTTP proxy put in front of a devnet orchestrator and advertised in its place, so a
//! test can rewrite the orchestrator's segment replies (tamper with them, cheat on them) while
//! everything else passes through untouched.

use std::future::Future;
use std::sync::Arc;

use alloy::primitives::U256;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::{HeaderMap, StatusCode, request};
use axum::response::Response;
use peerflow::devnet::Devnet;
use peerflow::roles::provider;
use peerflow_chain::actions::advertise;
use peerflow_protocol::SegmentResult;
use peerflow_protocol::api::{
    PAYMENT_HEADER, Payment, RENDITION_HEADER, REQUEST_AUTH_HEADER, SEGMENT_HEADER, SegmentRequest,
};
use peerflow_protocol::multipart::Part;
use peerflow_protocol::result::{RESULT_SIGNATURE_HEADER, ResultDomain};

/// An orchestrator reply on its way back, which a [`Rewrite`] may change.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// What a test does to each successful `POST /v1/segment` reply.
pub trait Rewrite: Send + Sync + 'static {
    /// `head` and `body` are the broadcaster's request as sent.
    fn rewrite(
        &self,
        head: &request::Parts,
        body: &Bytes,
        reply: &mut Reply,
    ) -> impl Future<Output = ()> + Send;
}

pub struct Proxy<R> {
    target: String,
    http: reqwest::Client,
    pub rewriter: R,
}

async fn forward<R: Rewrite>(State(p): State<Arc<Proxy<R>>>, request: Request) -> Response {
    let (head, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 << 20).await.unwrap();
    let path = head.uri.path_and_query().map_or("/", |x| x.as_str());
    let mut out = p
        .http
        .request(head.method.clone(), format!("{}{path}", p.target))
        .body(body.clone());
    for name in [
        SEGMENT_HEADER,
        PAYMENT_HEADER,
        REQUEST_AUTH_HEADER,
        "content-type",
    ] {
        if let Some(v) = head.headers.get(name) {
            out = out.header(name, v.clone());
        }
    }
    let upstream = out.send().await.unwrap();
    let mut reply = Reply {
        status: upstream.status(),
        headers: upstream.headers().clone(),
        body: Vec::new(),
    };
    reply.headers.remove("content-length");
    reply.headers.remove("transfer-encoding");
    reply.body = upstream.bytes().await.unwrap().to_vec();
    if head.uri.path() == "/v1/segment" && reply.status.is_success() {
        p.rewriter.rewrite(&head, &body, &mut reply).await;
    }
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = reply.status;
    *response.headers_mut() = reply.headers;
    response
}

/// Serves a proxy in front of devnet orchestrator `index` and advertises it in its place (at the
/// devnet's price, 1).
pub async fn put_in_front<R: Rewrite>(net: &Devnet, index: usize, rewriter: R) -> Arc<Proxy<R>> {
    let proxy = Arc::new(Proxy {
        target: net.orchestrators[index].1.url.clone(),
        http: reqwest::Client::new(),
        rewriter,
    });
    let app = axum::Router::new()
        .fallback(forward::<R>)
        .with_state(Arc::clone(&proxy));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    advertise_at(net, index, &url, 1).await;
    proxy
}

/// Advertises devnet orchestrator `index` (anvil account `index + 1`) at `url` and `price`.
pub async fn advertise_at(net: &Devnet, index: usize, url: &str, price: u64) {
    let wallet = provider(&net.chain.endpoint(), net.chain.signer(index + 1)).unwrap();
    advertise(
        &wallet,
        &net.deployment,
        url,
        &["transcode:h264"],
        &["local"],
        U256::from(price),
    )
    .await
    .unwrap();
}

/// Pushes `segment` as `seq` of `stream` and asserts the broadcaster took it.
pub async fn push(net: &Devnet, stream: &str, seq: usize, segment: &std::path::Path) {
    let reply = reqwest::Client::new()
        .put(format!("{}/live/{stream}/{seq}.ts", net.broadcaster_url))
        .body(std::fs::read(segment).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        reply.status(),
        200,
        "segment {seq}: {}",
        reply.text().await.unwrap()
    );
}

/// Signs with `key` the result of `parts` (the renditions as they will be sent) from
/// `orchestrator` for the broadcaster's request (`head`, `body`), and sets the reply's signature
/// header to it.
pub fn sign_reply(
    head: &request::Parts,
    body: &Bytes,
    parts: &[Part],
    orchestrator: alloy::primitives::Address,
    domain: &ResultDomain,
    key: &[u8; 32],
    reply: &mut Reply,
) {
    let request: SegmentRequest =
        serde_json::from_slice(head.headers[SEGMENT_HEADER].as_bytes()).unwrap();
    let payment: Payment = serde_json::from_slice(head.headers[PAYMENT_HEADER].as_bytes()).unwrap();
    let (result, _) = SegmentResult::from_named(
        orchestrator,
        payment.sender,
        &request,
        body,
        parts
            .iter()
            .map(|part| (part.header(RENDITION_HEADER).unwrap(), part.body.as_slice())),
    )
    .unwrap();
    let signature = result.sign(domain, key).unwrap();
    reply.headers.insert(
        RESULT_SIGNATURE_HEADER,
        HeaderValue::from_str(&alloy::primitives::hex::encode_prefixed(
            signature.to_bytes(),
        ))
        .unwrap(),
    );
}
