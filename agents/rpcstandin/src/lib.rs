//! Test support: a stand-in for a public RPC provider, in front of a local anvil. It serves https
//! with a certificate from its own CA (a CA plus a leaf: rustls refuses a self-signed CA used as the
//! server certificate), under a path as providers do (`/v3/<key>`), and misbehaves the way public
//! providers do:
//! - `eth_getLogs` over more than `max_log_blocks` blocks (or returning more than `max_log_results`
//!   logs) is refused with a JSON-RPC error;
//! - past `max_requests_per_second`, requests get `429 Too Many Requests` with `Retry-After`;
//! - a share of requests get `503 Service Unavailable`, another share a dropped connection (half
//!   before the request reaches the chain, half after: the effect happens, the reply is lost);
//! - every request waits `latency` first.
//!
//! It counts what it did ([`Stats`]) so that tests can check the faults really happened.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};

/// How the stand-in misbehaves.
#[derive(Debug, Clone)]
pub struct StandinConfig {
    /// The chain behind it (anvil's `http://127.0.0.1:PORT`).
    pub upstream: String,
    /// Widest `eth_getLogs` range served, in blocks (inclusive).
    pub max_log_blocks: Option<u64>,
    /// Most logs one `eth_getLogs` may return.
    pub max_log_results: Option<usize>,
    /// Requests admitted per one-second window; the rest get 429.
    pub max_requests_per_second: Option<u32>,
    /// The `Retry-After` sent with a 429, in seconds.
    pub retry_after_secs: u64,
    /// Share of requests answered 503, in parts per million.
    pub unavailable_ppm: u32,
    /// Share of requests whose connection is dropped, in parts per million.
    pub drop_ppm: u32,
    /// Added to every request.
    pub latency: Duration,
    /// The first request for this method reaches the chain and its reply is lost (a dropped
    /// connection after the effect).
    pub lose_first_reply_to: Option<String>,
    /// Seeds the fault draws: the n-th request meets the same fault in every run.
    pub seed: u64,
}

impl StandinConfig {
    /// A well-behaved provider except for the range cap (500 blocks, as many public providers).
    pub fn new(upstream: impl Into<String>) -> Self {
        Self {
            upstream: upstream.into(),
            max_log_blocks: Some(500),
            max_log_results: None,
            max_requests_per_second: None,
            retry_after_secs: 1,
            unavailable_ppm: 0,
            drop_ppm: 0,
            latency: Duration::ZERO,
            lose_first_reply_to: None,
            seed: 17,
        }
    }

    /// A public provider on a bad day: 500-block log cap, `rps` requests per second then 429,
    /// 3 % 503s, 3 % dropped connections, 5 ms added latency.
    pub fn flaky(upstream: impl Into<String>, rps: u32) -> Self {
        Self {
            max_requests_per_second: Some(rps),
            unavailable_ppm: 30_000,
            drop_ppm: 30_000,
            latency: Duration::from_millis(5),
            ..Self::new(upstream)
        }
    }
}

/// What the stand-in did, since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub requests: u64,
    pub rate_limited: u64,
    pub unavailable: u64,
    pub dropped: u64,
    pub range_refused: u64,
    /// The lowest `fromBlock` an `eth_getLogs` asked for (`u64::MAX`: none yet).
    pub lowest_log_block: u64,
    /// Requests forwarded to the chain, by JSON-RPC method.
    pub forwarded: BTreeMap<String, u64>,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    rate_limited: AtomicU64,
    unavailable: AtomicU64,
    dropped: AtomicU64,
    range_refused: AtomicU64,
    lowest_log_block: AtomicU64,
    reply_lost: AtomicBool,
    forwarded: Mutex<BTreeMap<String, u64>>,
}

struct State {
    config: StandinConfig,
    upstream: Client<HttpConnector, Full<Bytes>>,
    counters: Counters,
    window: Mutex<(Instant, u32)>,
    down: AtomicBool,
}

/// A running stand-in. Stops when dropped.
pub struct PublicRpc {
    url: String,
    addr: SocketAddr,
    ca_file: tempfile::NamedTempFile,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PublicRpc {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why the stand-in could not start.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rpc stand-in: {}", self.0)
    }
}

impl std::error::Error for StartError {}

impl PublicRpc {
    /// Starts on a free loopback port; must be called within a tokio runtime.
    pub async fn start(config: StandinConfig) -> Result<Self, StartError> {
        let err = |e: &dyn std::fmt::Display| StartError(e.to_string());
        let (ca_pem, tls) = certificates().map_err(|e| err(&e))?;
        let mut ca_file = tempfile::Builder::new()
            .prefix("peerflow-standin-ca-")
            .suffix(".pem")
            .tempfile()
            .map_err(|e| err(&e))?;
        std::io::Write::write_all(&mut ca_file, ca_pem.as_bytes()).map_err(|e| err(&e))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| err(&e))?;
        let addr = listener.local_addr().map_err(|e| err(&e))?;
        let state = Arc::new(State {
            upstream: Client::builder(TokioExecutor::new()).build_http(),
            config,
            counters: Counters {
                lowest_log_block: AtomicU64::new(u64::MAX),
                ..Counters::default()
            },
            window: Mutex::new((Instant::now(), 0)),
            down: AtomicBool::new(false),
        });
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let task = tokio::spawn(serve(listener, acceptor, Arc::clone(&state)));
        Ok(Self {
            url: format!("https://localhost:{}/v3/standin-key", addr.port()),
            addr,
            ca_file,
            state,
            task,
        })
    }

    /// The https URL, with its key path (`https://localhost:PORT/v3/standin-key`).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The PEM file of the CA that signed the server certificate.
    pub fn ca_file(&self) -> &Path {
        self.ca_file.path()
    }

    /// The CA file's path, owned.
    pub fn ca_path(&self) -> PathBuf {
        self.ca_file.path().to_path_buf()
    }

    /// While down, every connection is closed before a reply (a provider outage).
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    pub fn stats(&self) -> Stats {
        let c = &self.state.counters;
        Stats {
            requests: c.requests.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            unavailable: c.unavailable.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            range_refused: c.range_refused.load(Ordering::Relaxed),
            lowest_log_block: c.lowest_log_block.load(Ordering::Relaxed),
            forwarded: c.forwarded.lock().expect("not poisoned").clone(),
        }
    }
}

/// A CA, and a leaf for `localhost` and `127.0.0.1` signed by it; the CA's PEM and a server config.
fn certificates() -> Result<(String, rustls::ServerConfig), Box<dyn std::error::Error>> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "peerflow RPC stand-in CA");
    let ca = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate()?;
    let mut leaf_params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer)?;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)?;
    Ok((ca.pem(), config))
}

async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<State>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        if state.down.load(Ordering::SeqCst) {
            drop(tcp);
            continue;
        }
        let (acceptor, state) = (acceptor.clone(), Arc::clone(&state));
        tokio::spawn(async move {
            // A client that fails the handshake (an untrusted CA) just goes away.
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| handle(Arc::clone(&state), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// The error a handler returns to have hyper close the connection without a reply.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for Dropped {}

type Reply = Result<Response<Full<Bytes>>, Dropped>;

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let c = &state.counters;
    let n = c.requests.fetch_add(1, Ordering::Relaxed);
    if state.down.load(Ordering::SeqCst) {
        c.dropped.fetch_add(1, Ordering::Relaxed);
        return Err(Dropped);
    }
    if req.uri().path() != "/v3/standin-key" {
        return Ok(reply(StatusCode::NOT_FOUND, "unknown API key".into()));
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    tokio::time::sleep(state.config.latency).await;
    if state.over_rate() {
        c.rate_limited.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": null,
            "error": {"code": 429, "message": "Too Many Requests: rate limit exceeded"}});
        let mut r = reply(StatusCode::TOO_MANY_REQUESTS, body.to_string());
        r.headers_mut().insert(
            hyper::header::RETRY_AFTER,
            state.config.retry_after_secs.into(),
        );
        return Ok(r);
    }
    let draw = splitmix(state.config.seed ^ n) % 1_000_000;
    let (unavailable, drop) = (
        state.config.unavailable_ppm as u64,
        state.config.drop_ppm as u64,
    );
    if draw < unavailable {
        c.unavailable.fetch_add(1, Ordering::Relaxed);
        return Ok(reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream unavailable".into(),
        ));
    }
    let dropping = draw < unavailable + drop;
    if dropping && draw.is_multiple_of(2) {
        c.dropped.fetch_add(1, Ordering::Relaxed);
        return Err(Dropped);
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return Ok(reply(StatusCode::BAD_REQUEST, "not JSON".into()));
    };
    if let Some(refusal) = state.refuse_logs(&request).await {
        c.range_refused.fetch_add(1, Ordering::Relaxed);
        return Ok(reply(StatusCode::OK, refusal.to_string()));
    }
    let answer = match state.forward(&request, body).await {
        Ok(a) => a,
        Err(_) => return Ok(reply(StatusCode::BAD_GATEWAY, "upstream failed".into())),
    };
    let lose = state.config.lose_first_reply_to.as_deref() == request["method"].as_str()
        && !c.reply_lost.swap(true, Ordering::SeqCst);
    if dropping || lose {
        // After the chain acted: the effect stands, the reply is lost.
        c.dropped.fetch_add(1, Ordering::Relaxed);
        return Err(Dropped);
    }
    if let Some(refusal) = state.too_many_logs(&request, &answer) {
        c.range_refused.fetch_add(1, Ordering::Relaxed);
        return Ok(reply(StatusCode::OK, refusal.to_string()));
    }
    Ok(reply(StatusCode::OK, answer.to_string()))
}

/// A well-mixed 64-bit value from `x` (splitmix64).
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

impl State {
    fn over_rate(&self) -> bool {
        let Some(limit) = self.config.max_requests_per_second else {
            return false;
        };
        let mut w = self.window.lock().expect("not poisoned");
        if w.0.elapsed() >= Duration::from_secs(1) {
            *w = (Instant::now(), 0);
        }
        w.1 += 1;
        w.1 > limit
    }

    async fn forward(&self, request: &Value, body: Bytes) -> Result<Value, String> {
        let methods: Vec<&Value> = match request {
            Value::Array(batch) => batch.iter().collect(),
            single => vec![single],
        };
        {
            let mut f = self.counters.forwarded.lock().expect("not poisoned");
            for m in methods {
                let name = m["method"].as_str().unwrap_or("?").to_string();
                *f.entry(name).or_default() += 1;
            }
        }
        self.post(body).await
    }

    /// `body` to the chain, uncounted.
    async fn post(&self, body: Bytes) -> Result<Value, String> {
        let req = Request::post(self.config.upstream.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let res = self
            .upstream
            .request(req)
            .await
            .map_err(|e| e.to_string())?;
        let bytes = res
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }

    /// The error a provider sends for an `eth_getLogs` over too many blocks.
    async fn refuse_logs(&self, request: &Value) -> Option<Value> {
        let max = self.config.max_log_blocks?;
        if request["method"] != "eth_getLogs" {
            return None;
        }
        let filter = &request["params"][0];
        if filter.get("blockHash").is_some() {
            return None;
        }
        let from = self.block(&filter["fromBlock"]).await?;
        self.counters
            .lowest_log_block
            .fetch_min(from, Ordering::Relaxed);
        let to = self.block(&filter["toBlock"]).await?;
        if to < from || to - from < max {
            return None;
        }
        Some(
            json!({"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32602,
            "message": format!("eth_getLogs is limited to a {max} block range; query returned a range of {} blocks", to - from + 1)}}),
        )
    }

    /// The error a provider sends when a query matched too many logs.
    fn too_many_logs(&self, request: &Value, answer: &Value) -> Option<Value> {
        let max = self.config.max_log_results?;
        if request["method"] != "eth_getLogs" {
            return None;
        }
        let n = answer["result"].as_array()?.len();
        (n > max).then(|| {
            json!({"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32005,
            "message": format!("query returned more than {max} results")}})
        })
    }

    /// A block tag or number as a number (`latest` and a missing tag: the head).
    async fn block(&self, tag: &Value) -> Option<u64> {
        let tag = tag.as_str().unwrap_or("latest");
        if let Some(hex) = tag.strip_prefix("0x") {
            return u64::from_str_radix(hex, 16).ok();
        }
        if tag == "earliest" {
            return Some(0);
        }
        let head = json!({"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []});
        let body = Bytes::from(head.to_string());
        let answer = self.post(body).await.ok()?;
        u64::from_str_radix(answer["result"].as_str()?.strip_prefix("0x")?, 16).ok()
    }
}
