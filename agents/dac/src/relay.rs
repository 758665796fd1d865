//! The provider side: the sessions a provider hosts, the signed HTTP relay between providers and
//! the peer routes (`/v1/dac/{job}/...`) it merges into its public API.
//!
//! - `POST /v1/dac/{job}/messages`: a peer's [`Message`], signed (see [`crate::message`]) by the
//!   provider that holds node `from`; 202, or 401 `unauthorized`, 403 `forbidden` (signer is not
//!   node `from`'s provider), 404 `no_session` (this provider does not run node `to` of the job,
//!   yet or any more; senders retry until their peer timeout), 429 `inbox_full` (more than
//!   [`crate::session::MAX_INBOX`] messages waiting), 400 `bad_request`.
//! - `GET /v1/dac/{job}/alive[?node=i]`: 200 `{node, dropped}` while the node runs, else 404.
//! - `GET /v1/dac/{job}/progress[?node=i]`: `{job, node, ops: [{op, epoch, rounds}], stats}`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use peerflow_protocol::blobauth::{RequestKey, unix_now};
use serde::Deserialize;
use serde_json::json;

use crate::message::{AUTH_HEADER, Message, authorize, signer};
use crate::session::{DacError, Outbox, Peer, Session, SessionConfig};

/// Closed sessions kept for their progress view.
const KEPT_CLOSED: usize = 32;

/// Whether `url` may be a peer's endpoint: an http(s) origin (no path, query or fragment: the
/// relay appends its own paths), public unless `allow_private`.
pub fn valid_endpoint(url: &str, allow_private: bool) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    peerflow_protocol::netguard::check_url(&parsed, allow_private).is_ok()
        && matches!(parsed.path(), "" | "/")
        && parsed.query().is_none()
        && parsed.fragment().is_none()
        && parsed.username().is_empty()
}

/// The sessions of one provider, and its relay to the others.
pub struct Relay {
    key: RequestKey,
    http: reqwest::Client,
    sessions: Mutex<HashMap<(u64, u32), Arc<Session>>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("signer", &self.key.address())
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// A relay signing with `key` (the provider's account key). Peers' URLs are others' choice:
    /// requests follow no redirect, use no proxy and, unless `allow_private` (a devnet), reach
    /// public addresses only ([`peerflow_protocol::netguard`]).
    pub fn new(key: RequestKey, allow_private: bool) -> Arc<Self> {
        Arc::new(Self {
            key,
            http: peerflow_protocol::netguard::guarded_client(
                allow_private,
                Duration::from_secs(5),
            )
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(64)
            .build()
            .expect("an http client builds"),
            sessions: Mutex::new(HashMap::new()),
        })
    }

    /// The account that signs this relay's messages.
    pub fn address(&self) -> alloy_primitives::Address {
        self.key.address()
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<(u64, u32), Arc<Session>>> {
        self.sessions.lock().expect("sessions")
    }

    /// Opens (or returns the already open) session for node `cfg.me` of job `cfg.job`. Peers'
    /// messages are accepted from then on.
    pub fn open(self: &Arc<Self>, cfg: SessionConfig) -> Result<Arc<Session>, DacError> {
        if cfg.peers.get(cfg.me as usize).map(|p| p.address) != Some(self.key.address()) {
            return Err(DacError::BadRequest(format!(
                "node {} is not held by this provider",
                cfg.me
            )));
        }
        let key = (cfg.job, cfg.me);
        let mut sessions = self.sessions();
        if let Some(s) = sessions.get(&key).filter(|s| s.running()) {
            return Ok(Arc::clone(s));
        }
        // Closed sessions stay for their progress view; the oldest go beyond a bound.
        let mut closed: Vec<(u64, u32)> = sessions
            .iter()
            .filter(|(_, s)| !s.running())
            .map(|(k, _)| *k)
            .collect();
        closed.sort_unstable();
        for k in closed.iter().take(closed.len().saturating_sub(KEPT_CLOSED)) {
            sessions.remove(k);
        }
        let outbox: Arc<dyn Outbox> = Arc::clone(self) as Arc<dyn Outbox>;
        let session = Session::new(cfg, outbox)?;
        sessions.insert(key, Arc::clone(&session));
        Ok(session)
    }

    /// Ends node `node` of `job`: it stops answering as alive and takes no more operations; its
    /// progress stays readable.
    pub fn close(&self, job: u64, node: u32) {
        if let Some(s) = self.sessions().get(&(job, node)) {
            s.close();
        }
    }

    /// The open session of `job` (node `node`, or the first one held).
    pub fn session(&self, job: u64, node: Option<u32>) -> Option<Arc<Session>> {
        let sessions = self.sessions();
        match node {
            Some(n) => sessions.get(&(job, n)).cloned(),
            None => sessions
                .iter()
                .filter(|((j, _), _)| *j == job)
                .min_by_key(|((_, n), _)| *n)
                .map(|(_, s)| Arc::clone(s)),
        }
    }

    /// The peer routes, to merge into the provider's public router.
    pub fn routes(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/v1/dac/{job}/messages", post(receive))
            .route("/v1/dac/{job}/alive", get(alive))
            .route("/v1/dac/{job}/progress", get(progress))
            .with_state(Arc::clone(self))
    }
}

impl Outbox for Relay {
    fn send(
        &self,
        job: u64,
        peer: Peer,
        msg: Message,
        patience: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, ()>> + Send>> {
        let http = self.http.clone();
        let key = self.key.clone();
        Box::pin(async move {
            let body = serde_json::to_vec(&msg).map_err(|_| ())?;
            let url = format!("{}/v1/dac/{job}/messages", peer.url.trim_end_matches('/'));
            let until = Instant::now() + patience;
            let mut pause = Duration::from_millis(20);
            loop {
                let sent = http
                    .post(&url)
                    .header(AUTH_HEADER, authorize(&key, job, &body))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => return Ok(body.len() as u64),
                    // Refused for good: retrying the same bytes will not help.
                    Ok(r) if matches!(r.status().as_u16(), 400 | 401 | 403) => {
                        tracing::warn!(job, to = msg.to, status = %r.status(), "peer refused a message");
                        return Err(());
                    }
                    // Not open yet (or any more), or not reachable: retried.
                    _ => {}
                }
                if Instant::now() >= until {
                    return Err(());
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
        })
    }

    fn sign(&self, digest: alloy_primitives::B256) -> alloy_primitives::Bytes {
        self.key.sign_digest(digest).to_bytes().to_vec().into()
    }

    fn alive(
        &self,
        job: u64,
        peer: Peer,
        node: u32,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>> {
        let http = self.http.clone();
        Box::pin(async move {
            let url = format!(
                "{}/v1/dac/{job}/alive?node={node}",
                peer.url.trim_end_matches('/')
            );
            matches!(
                http.get(&url).timeout(Duration::from_secs(5)).send().await,
                Ok(r) if r.status().is_success()
            )
        })
    }
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

async fn receive(
    State(relay): State<Arc<Relay>>,
    Path(job): Path<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(from_key) = headers
        .get(AUTH_HEADER)
        .and_then(|h| signer(h.as_bytes(), job, &body, unix_now()))
    else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a message needs a valid x-peerflow-dac-auth signature of its body",
        );
    };
    let msg: Message = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "bad_request", &e.to_string()),
    };
    let Some(session) = relay.session(job, Some(msg.to)) else {
        return refuse(
            StatusCode::NOT_FOUND,
            "no_session",
            "this provider does not run that node of the job",
        );
    };
    let holder = session
        .config()
        .peers
        .get(msg.from as usize)
        .map(|p| p.address);
    if holder != Some(from_key) {
        return refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the signer does not hold the sending node",
        );
    }
    if !session.deliver(msg) {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "inbox_full",
            "too many messages ahead of this node's rounds",
        );
    }
    StatusCode::ACCEPTED.into_response()
}

#[derive(Debug, Deserialize)]
struct NodeQuery {
    node: Option<u32>,
}

async fn alive(
    State(relay): State<Arc<Relay>>,
    Path(job): Path<u64>,
    Query(q): Query<NodeQuery>,
) -> Response {
    match relay.session(job, q.node).filter(|s| s.running()) {
        Some(s) => {
            axum::Json(json!({"node": s.config().me, "dropped": s.dropped()})).into_response()
        }
        None => refuse(
            StatusCode::NOT_FOUND,
            "not_running",
            "no such node runs here",
        ),
    }
}

async fn progress(
    State(relay): State<Arc<Relay>>,
    Path(job): Path<u64>,
    Query(q): Query<NodeQuery>,
) -> Response {
    match relay.session(job, q.node) {
        Some(s) => axum::Json(json!({
            "job": job,
            "node": s.config().me,
            "alive": s.alive(),
            "ops": s.progress(),
            "stats": s.stats(),
        }))
        .into_response(),
        None => refuse(
            StatusCode::NOT_FOUND,
            "no_session",
            "no such node runs here",
        ),
    }
}
