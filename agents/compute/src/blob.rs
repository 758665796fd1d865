//! Content-addressed blobs: a directory of files named by their sha256, served over HTTP
//! (`PUT|GET|HEAD /v1/blobs/{sha256}`, `POST /v1/blobs`), and a client that fetches a blob from any
//! of its sources and checks its hash, so no source has to be trusted.
//!
//! Who may upload and read is a [`BlobAccess`] policy ([`OpenAccess`]: anyone). Requests are
//! signed by the requester's key ([`peerflow_protocol::blobauth`], header
//! `x-peerflow-blob-auth`); a [`BlobClient::with_key`] client signs every request it makes. A
//! refused request gets 401 `unauthorized` (no valid signature) or 403 `forbidden`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use alloy::primitives::Address;
use peerflow_protocol::blobauth::{BLOB_AUTH_HEADER, BlobAuth, RequestKey, unix_now};
use peerflow_protocol::netguard::{self, UrlRefused};

use crate::Digest;
use crate::spec::BlobRef;

/// Errors storing or fetching blobs.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("blob {0} not found at any source")]
    NotFound(Digest),
    #[error("blob {expected} from {source_url}: content hashes to {got}")]
    Corrupt {
        expected: Digest,
        got: Digest,
        source_url: String,
    },
    #[error("blob {digest}: {size} bytes is over the limit of {limit}")]
    TooLarge {
        digest: Digest,
        size: u64,
        limit: u64,
    },
    #[error("http: {0}")]
    Http(String),
    /// Every source was refused before anything was fetched (see [`BlobClient::guarded`]).
    #[error("blob {digest}: {reason}")]
    Refused { digest: Digest, reason: UrlRefused },
}

impl BlobError {
    /// Machine-readable reason, safe to show to anyone (no URL, no OS error text).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "storage",
            Self::NotFound(_) => "unavailable",
            Self::Corrupt { .. } => "corrupt",
            Self::TooLarge { .. } => "too_large",
            Self::Http(_) => "http",
            Self::Refused { reason, .. } => reason.code(),
        }
    }
}

/// A directory of blobs named by sha256 hex.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    /// Opens (creating) the store at `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| BlobError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(Self { dir })
    }

    /// Where a blob lives (whether or not it is there).
    pub fn path(&self, digest: Digest) -> PathBuf {
        self.dir.join(digest.to_hex())
    }

    pub fn contains(&self, digest: Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Stores `bytes` durably (written to a temporary file, synced, renamed) and returns their hash.
    pub fn put(&self, bytes: &[u8]) -> Result<Digest, BlobError> {
        let digest = Digest::of(bytes);
        let path = self.path(digest);
        if path.is_file() {
            return Ok(digest);
        }
        let io = |source| BlobError::Io {
            path: path.clone(),
            source,
        };
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(io)?;
        tmp.write_all(bytes).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(&path).map_err(|e| io(e.error))?;
        Ok(digest)
    }

    /// A stored blob, if present.
    pub fn get(&self, digest: Digest) -> Result<Option<Vec<u8>>, BlobError> {
        let path = self.path(digest);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(BlobError::Io { path, source }),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The reply to a stored blob.
#[derive(Debug, Serialize)]
struct Stored {
    sha256: Digest,
    size: usize,
}

#[derive(Debug, Serialize)]
struct ApiError {
    code: &'static str,
    message: String,
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    let body = ApiError {
        code,
        message: message.into(),
    };
    (status, axum::Json(body)).into_response()
}

/// Whether a read is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAccess {
    Allowed,
    /// Not without a signed request.
    Unauthenticated,
    /// Not for this signer.
    Forbidden,
}

/// A boxed future of a [`BlobAccess`] decision.
pub type AccessFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = ReadAccess> + Send + 'a>>;

/// Who may upload and read a store's blobs.
pub trait BlobAccess: Send + Sync + 'static {
    /// Whether an upload must be signed.
    fn uploads_need_auth(&self) -> bool;
    /// Records that `by` (`None`: unsigned) stored `digest`, whose bytes are `bytes`.
    fn uploaded(&self, digest: Digest, bytes: &[u8], by: Option<Address>);
    /// Whether `reader` (`None`: an unsigned request) may read `digest`.
    fn may_read(&self, digest: Digest, reader: Option<Address>) -> AccessFuture<'_>;
}

/// Anyone uploads and reads, signed or not (a buyer's own store, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAccess;

impl BlobAccess for OpenAccess {
    fn uploads_need_auth(&self) -> bool {
        false
    }
    fn uploaded(&self, _: Digest, _: &[u8], _: Option<Address>) {}
    fn may_read(&self, _: Digest, _: Option<Address>) -> AccessFuture<'_> {
        Box::pin(async { ReadAccess::Allowed })
    }
}

/// The signer of a request: `Ok(None)` when unsigned, `Err` (401 `unauthorized`) when the
/// signature does not hold for this method and path now.
pub fn request_signer(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Option<Address>, Box<Response>> {
    let Some(value) = headers.get(BLOB_AUTH_HEADER) else {
        return Ok(None);
    };
    BlobAuth::parse(value.as_bytes())
        .and_then(|auth| auth.verify(method.as_str(), uri.path(), unix_now()))
        .map(Some)
        .map_err(|e| {
            Box::new(error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                e.to_string(),
            ))
        })
}

/// The reply to a refused read.
pub fn refused(access: ReadAccess) -> Option<Response> {
    match access {
        ReadAccess::Allowed => None,
        ReadAccess::Unauthenticated => Some(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("sign the request ({BLOB_AUTH_HEADER})"),
        )),
        ReadAccess::Forbidden => Some(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this key may not read it",
        )),
    }
}

#[derive(Clone)]
struct Served {
    store: Arc<BlobStore>,
    access: Arc<dyn BlobAccess>,
}

/// The blob routes over `store`, open to anyone; bodies up to `max_bytes`.
pub fn routes(store: Arc<BlobStore>, max_bytes: usize) -> Router {
    routes_with(store, max_bytes, Arc::new(OpenAccess))
}

/// The blob routes over `store` under the `access` policy; bodies up to `max_bytes`.
pub fn routes_with(store: Arc<BlobStore>, max_bytes: usize, access: Arc<dyn BlobAccess>) -> Router {
    Router::new()
        .route("/v1/blobs", post(post_blob))
        .route(
            "/v1/blobs/{digest}",
            get(get_blob).put(put_blob).head(head_blob),
        )
        .layer(DefaultBodyLimit::max(max_bytes))
        .with_state(Served { store, access })
}

fn parse(digest: &str) -> Result<Digest, Box<Response>> {
    digest.parse().map_err(|_| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "bad_digest",
            format!("{digest:?} is not a sha256 hex digest"),
        ))
    })
}

/// The uploader, when the policy lets this request upload.
fn uploader(
    served: &Served,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Option<Address>, Box<Response>> {
    let signer = request_signer(method, uri, headers)?;
    if signer.is_none() && served.access.uploads_need_auth() {
        return Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("uploads must be signed ({BLOB_AUTH_HEADER})"),
        )));
    }
    Ok(signer)
}

async fn store_blob(served: Served, body: Bytes, by: Option<Address>) -> Response {
    let size = body.len();
    let store = Arc::clone(&served.store);
    let bytes = body.clone();
    match tokio::task::spawn_blocking(move || store.put(&bytes)).await {
        Ok(Ok(sha256)) => {
            served.access.uploaded(sha256, &body, by);
            (StatusCode::CREATED, axum::Json(Stored { sha256, size })).into_response()
        }
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, "storage", e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "storage", e.to_string()),
    }
}

async fn post_blob(
    State(served): State<Served>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match uploader(&served, &method, &uri, &headers) {
        Ok(by) => store_blob(served, body, by).await,
        Err(r) => *r,
    }
}

async fn put_blob(
    State(served): State<Served>,
    UrlPath(digest): UrlPath<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let by = match uploader(&served, &method, &uri, &headers) {
        Ok(by) => by,
        Err(r) => return *r,
    };
    let want = match parse(&digest) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    let got = Digest::of(&body);
    if got != want {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "digest_mismatch",
            format!("body hashes to {got}, not {want}"),
        );
    }
    store_blob(served, body, by).await
}

/// The digest of a read the policy allows, or the reply refusing it.
async fn readable(
    served: &Served,
    digest: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Digest, Box<Response>> {
    let reader = request_signer(method, uri, headers)?;
    let digest = parse(digest)?;
    match refused(served.access.may_read(digest, reader).await) {
        None => Ok(digest),
        Some(r) => Err(Box::new(r)),
    }
}

async fn get_blob(
    State(served): State<Served>,
    UrlPath(digest): UrlPath<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let digest = match readable(&served, &digest, &method, &uri, &headers).await {
        Ok(d) => d,
        Err(r) => return *r,
    };
    let store = Arc::clone(&served.store);
    match tokio::task::spawn_blocking(move || store.get(digest)).await {
        Ok(Ok(Some(bytes))) => bytes.into_response(),
        Ok(Ok(None)) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no blob {digest}"),
        ),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, "storage", e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "storage", e.to_string()),
    }
}

async fn head_blob(
    State(served): State<Served>,
    UrlPath(digest): UrlPath<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match readable(&served, &digest, &method, &uri, &headers).await {
        Ok(d) if served.store.contains(d) => StatusCode::OK.into_response(),
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(r) => *r,
    }
}

/// Fetches and uploads blobs over HTTP: connections and headers wait at most
/// [`IDLE_TIMEOUT`], bodies are read within their limit ([`read_bounded`]). A
/// [`BlobClient::guarded`] client fetches only from public addresses (every redirect hop
/// included), for URLs someone else chose.
#[derive(Debug, Clone)]
pub struct BlobClient {
    http: reqwest::Client,
    idle: Duration,
    /// `Some(allow_private)` for a guarded client.
    guard: Option<bool>,
    /// Signs every request when set.
    key: Option<RequestKey>,
}

impl Default for BlobClient {
    fn default() -> Self {
        Self::with_idle_timeout(IDLE_TIMEOUT)
    }
}

/// The longest a source may keep a download waiting for its next bytes (or its headers).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a bounded fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum Fetch {
    /// More than the limit was declared or arrived (the bytes counted so far).
    #[error("{0} bytes is over the limit")]
    TooLarge(u64),
    /// Refused before anything was fetched.
    #[error(transparent)]
    Refused(UrlRefused),
    #[error("{0}")]
    Failed(String),
}

impl Fetch {
    /// Machine-readable reason, safe to show to anyone.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "too_large",
            Self::Refused(r) => r.code(),
            Self::Failed(_) => "unavailable",
        }
    }
}

/// Reads `resp`'s body, chunk by chunk, stopping as soon as it passes `limit` bytes (a chunked
/// body declares no length) or the source sends nothing for `idle`; so neither a huge
/// nor a trickling source can hold the provider's memory or its job.
pub async fn read_bounded(
    mut resp: reqwest::Response,
    limit: u64,
    idle: Duration,
) -> Result<Vec<u8>, Fetch> {
    let mut bytes = Vec::new();
    loop {
        let chunk = tokio::time::timeout(idle, resp.chunk())
            .await
            .map_err(|_| Fetch::Failed(format!("no bytes for {idle:?}")))?
            .map_err(|e| Fetch::Failed(e.to_string()))?;
        let Some(chunk) = chunk else {
            return Ok(bytes);
        };
        let size = bytes.len() as u64 + chunk.len() as u64;
        if size > limit {
            return Err(Fetch::TooLarge(size));
        }
        bytes.extend_from_slice(&chunk);
    }
}

/// The URL of a blob at a store.
pub fn blob_url(source: &str, digest: Digest) -> String {
    format!("{}/v1/blobs/{digest}", source.trim_end_matches('/'))
}

impl BlobClient {
    pub fn new() -> Self {
        Self::default()
    }

    /// A client that gives up on a source silent for `idle` (connecting, or between bytes).
    pub fn with_idle_timeout(idle: Duration) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(idle)
            .build()
            .unwrap_or_default();
        Self {
            http,
            idle,
            guard: None,
            key: None,
        }
    }

    /// A client for URLs others chose (a buyer's spec and input sources): only public addresses
    /// unless `allow_private` (a devnet), checked for address literals, resolved names and every
    /// redirect hop ([`peerflow_protocol::netguard`]).
    pub fn guarded(allow_private: bool) -> Self {
        let http = netguard::guarded_client(allow_private, IDLE_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            http,
            idle: IDLE_TIMEOUT,
            guard: Some(allow_private),
            key: None,
        }
    }

    /// The same client signing every request with `key` (a buyer's or a provider's key): stores
    /// record who uploaded a blob and let only those allowed read it.
    pub fn with_key(mut self, key: RequestKey) -> Self {
        self.key = Some(key);
        self
    }

    /// The key requests are signed with, if any.
    pub fn key(&self) -> Option<&RequestKey> {
        self.key.as_ref()
    }

    /// `request` signed for `method` on `url`'s path, when this client has a key.
    pub fn signed(
        &self,
        request: reqwest::RequestBuilder,
        method: &str,
        url: &str,
    ) -> reqwest::RequestBuilder {
        let Some(key) = &self.key else {
            return request;
        };
        let path = reqwest::Url::parse(url).map_or_else(|_| String::new(), |u| u.path().to_owned());
        request.header(BLOB_AUTH_HEADER, key.authorize(method, &path).to_header())
    }

    /// Uploads `bytes` to the store at `base` and returns the [`BlobRef`] naming it there.
    pub async fn upload(&self, base: &str, bytes: Vec<u8>) -> Result<BlobRef, BlobError> {
        let digest = Digest::of(&bytes);
        let size = bytes.len() as u64;
        let url = blob_url(base, digest);
        let resp = self
            .signed(self.http.put(&url), "PUT", &url)
            .body(bytes)
            .send()
            .await
            .map_err(|e| BlobError::Http(e.to_string()))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            return Err(BlobError::Http(format!(
                "upload to {base}: {status} {body}"
            )));
        }
        Ok(BlobRef {
            sha256: digest,
            size,
            sources: vec![base.trim_end_matches('/').to_owned()],
        })
    }

    /// GETs `url` (a 2xx answer), reading at most `limit` bytes, each wait (connect, headers,
    /// the next bytes) bounded by the idle timeout.
    pub async fn get_bounded(&self, url: &str, limit: u64) -> Result<Vec<u8>, Fetch> {
        if let Some(allow_private) = self.guard {
            netguard::check_url_str(url, allow_private).map_err(Fetch::Refused)?;
        }
        let request = self.signed(self.http.get(url), "GET", url);
        let resp = tokio::time::timeout(self.idle, request.send())
            .await
            .map_err(|_| Fetch::Failed(format!("no answer within {:?}", self.idle)))?
            .and_then(|r| r.error_for_status())
            .map_err(|e| Fetch::Failed(e.to_string()))?;
        if let Some(len) = resp.content_length().filter(|&l| l > limit) {
            return Err(Fetch::TooLarge(len));
        }
        read_bounded(resp, limit, self.idle).await
    }

    /// Fetches `blob` from the first of its sources (then `extra` sources) that has it with the
    /// right hash; a source serving other bytes is skipped with a warning.
    pub async fn fetch(&self, blob: &BlobRef, extra: &[String]) -> Result<Vec<u8>, BlobError> {
        let sources: Vec<String> = blob.sources.iter().chain(extra).cloned().collect();
        self.fetch_digest(blob.sha256, &sources, blob.size).await
    }

    /// Fetches the blob named `digest` from the first of `sources` that has it, refusing more than
    /// `limit` bytes.
    pub async fn fetch_digest(
        &self,
        digest: Digest,
        sources: &[String],
        limit: u64,
    ) -> Result<Vec<u8>, BlobError> {
        let mut refused = None;
        for source in sources {
            let url = blob_url(source, digest);
            let bytes = match self.get_bounded(&url, limit).await {
                Ok(b) => b,
                Err(Fetch::TooLarge(size)) => {
                    return Err(BlobError::TooLarge {
                        digest,
                        size,
                        limit,
                    });
                }
                Err(Fetch::Refused(reason)) => {
                    tracing::debug!(%url, %reason, "blob source refused");
                    refused = Some(reason);
                    continue;
                }
                Err(Fetch::Failed(e)) => {
                    tracing::debug!(%url, error = %e, "blob not fetched from this source");
                    continue;
                }
            };
            let got = Digest::of(&bytes);
            if got != digest {
                tracing::warn!(%url, %got, "blob source served other content; skipped");
                continue;
            }
            return Ok(bytes.to_vec());
        }
        Err(match refused {
            Some(reason) => BlobError::Refused { digest, reason },
            None => BlobError::NotFound(digest),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve(store: BlobStore) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = routes(Arc::new(store), 1 << 20);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    #[tokio::test]
    async fn upload_fetch_and_reject_bad_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().join("a")).unwrap();
        let url = serve(store.clone()).await;
        let client = BlobClient::new();

        let blob = client.upload(&url, b"hello".to_vec()).await.unwrap();
        assert_eq!(blob.sha256, Digest::of(b"hello"));
        assert_eq!(store.get(blob.sha256).unwrap().unwrap(), b"hello");
        assert_eq!(client.fetch(&blob, &[]).await.unwrap(), b"hello");

        // A PUT whose body does not hash to its name is refused with a code.
        let resp = reqwest::Client::new()
            .put(blob_url(&url, Digest::of(b"x")))
            .body("y")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 422);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "digest_mismatch");
        let resp = reqwest::get(format!("{url}/v1/blobs/nothex"))
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);

        // A source that serves other bytes under the name is skipped for the next one.
        let liar_dir = dir.path().join("liar");
        let liar = BlobStore::open(&liar_dir).unwrap();
        std::fs::write(liar.path(blob.sha256), b"HELLO").unwrap();
        let liar_url = serve(liar).await;
        let via_liar = BlobRef {
            sources: vec![liar_url.clone()],
            ..blob.clone()
        };
        assert!(matches!(
            client.fetch(&via_liar, &[]).await,
            Err(BlobError::NotFound(_))
        ));
        assert_eq!(
            client
                .fetch(&via_liar, std::slice::from_ref(&url))
                .await
                .unwrap(),
            b"hello"
        );
        // The size in the reference bounds the download.
        let small = BlobRef {
            size: 2,
            ..blob.clone()
        };
        assert!(matches!(
            client.fetch(&small, &[]).await,
            Err(BlobError::TooLarge { .. })
        ));
    }

    /// A hostile source: a chunked body that never ends, or headers and then silence.
    async fn hostile(flood: bool) -> String {
        use axum::body::Body;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(get(move || async move {
            let chunks = futures_stream(flood);
            Body::from_stream(chunks)
        }));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    /// 64 KiB chunks for ever (flood), or one byte then nothing for a minute (trickle).
    fn futures_stream(
        flood: bool,
    ) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
        futures_util::stream::unfold(0u64, move |sent| async move {
            if flood {
                Some((Ok(Bytes::from(vec![0u8; 64 << 10])), sent + 1))
            } else if sent == 0 {
                Some((Ok(Bytes::from_static(b"x")), 1))
            } else {
                tokio::time::sleep(Duration::from_secs(60)).await;
                None
            }
        })
    }

    #[tokio::test]
    async fn an_endless_or_silent_source_costs_a_bounded_read_and_the_next_source_serves() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let bytes = b"the honest copy".to_vec();
        let digest = Digest::of(&bytes);
        std::fs::write(store.path(digest), &bytes).unwrap();
        let honest = serve(store).await;
        let client = BlobClient::with_idle_timeout(Duration::from_millis(500));

        // An endless chunked body: refused as soon as it passes the declared size.
        let flood = hostile(true).await;
        let blob = BlobRef {
            sha256: digest,
            size: 1 << 20,
            sources: vec![flood],
        };
        match client.fetch(&blob, &[]).await {
            Err(BlobError::TooLarge { size, limit, .. }) => {
                assert_eq!(limit, 1 << 20);
                assert!(size <= limit + (64 << 10), "read {size} bytes");
            }
            other => panic!("{other:?}"),
        }

        // One byte then silence: given up after the idle timeout, the next source serves.
        let trickle = hostile(false).await;
        let started = std::time::Instant::now();
        let blob = BlobRef {
            sha256: digest,
            size: bytes.len() as u64,
            sources: vec![trickle, honest],
        };
        assert_eq!(client.fetch(&blob, &[]).await.unwrap(), bytes);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}
