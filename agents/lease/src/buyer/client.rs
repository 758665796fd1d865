//! The buyer's HTTP client of a provider's lease API: every request about a lease signed with the
//! buyer's key.

use std::time::Duration;

use alloy::primitives::Address;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::auth::{LEASE_AUTH_HEADER, LeaseKey};
use crate::frames::{Decoder, Frame, FrameError};
use crate::proto::{
    ExecRequest, IntervalsReply, LeaseView, Offer, OpenRequest, PayReply, PayRequest,
};
use crate::provider::http::EXEC_HEADER;

/// Why a call to a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{status} {code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the command's output: {0}")]
    Frames(#[from] FrameError),
    #[error("the command's output ended without its exit code")]
    NoExit,
    #[error("the provider failed the command: {0}")]
    Exec(String),
}

impl ClientError {
    /// The provider's refusal code, if it refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// How long a connection to a provider may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a JSON request may take (an exec streams as long as its command runs).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long loading an image archive at a provider may take.
const IMAGE_TIMEOUT: Duration = Duration::from_secs(600);
/// The most output [`LeaseClient::run`] collects.
const MAX_RUN_OUTPUT: usize = 1 << 20;

#[derive(Clone)]
pub struct LeaseClient {
    http: reqwest::Client,
    key: LeaseKey,
    /// Body bytes of the JSON requests sent and replies read (exec and tunnel streams excluded).
    bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Each provider's account, by URL (from its offer): every request is signed for it, so a
    /// provider cannot replay a buyer's request at another.
    accounts: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Address>>>,
}

impl LeaseClient {
    pub fn new(key: LeaseKey) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .expect("an HTTP client without TLS builds");
        Self {
            http,
            key,
            bytes: Default::default(),
            accounts: Default::default(),
        }
    }

    /// The account of the provider at `base` (read from its offer once).
    async fn account(&self, base: &str) -> Result<Address, ClientError> {
        let known = self
            .accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(base)
            .copied();
        match known {
            Some(a) => Ok(a),
            None => {
                let a = self.offer(base).await?.provider;
                self.accounts
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(base.to_string(), a);
                Ok(a)
            }
        }
    }

    /// Body bytes of the JSON requests sent and replies read so far, by this client and its
    /// clones.
    pub fn json_bytes(&self) -> u64 {
        self.bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count(&self, n: usize) {
        self.bytes
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn key(&self) -> &LeaseKey {
        &self.key
    }

    fn http_err(url: &str) -> impl FnOnce(reqwest::Error) -> ClientError + '_ {
        move |source| ClientError::Http {
            url: url.to_string(),
            source,
        }
    }

    async fn reply<T: DeserializeOwned>(
        &self,
        url: &str,
        resp: reqwest::Response,
    ) -> Result<T, ClientError> {
        let status = resp.status();
        if !status.is_success() {
            return Err(Self::refusal(status, resp).await);
        }
        let body = resp.bytes().await.map_err(Self::http_err(url))?;
        self.count(body.len());
        serde_json::from_slice(&body).map_err(|e| ClientError::Refused {
            status: status.as_u16(),
            code: "malformed_reply".into(),
            message: e.to_string(),
        })
    }

    async fn refusal(status: StatusCode, resp: reqwest::Response) -> ClientError {
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        ClientError::Refused {
            status: status.as_u16(),
            code: body["code"].as_str().unwrap_or("unknown").to_string(),
            message: body["message"].as_str().unwrap_or("").to_string(),
        }
    }

    async fn signed<T: DeserializeOwned>(
        &self,
        method: Method,
        base: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, ClientError> {
        self.signed_within(method, base, path, body, REQUEST_TIMEOUT)
            .await
    }

    async fn signed_within<T: DeserializeOwned>(
        &self,
        method: Method,
        base: &str,
        path: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", base.trim_end_matches('/'));
        let auth = self
            .key
            .authorize(self.account(base).await?, method.as_str(), path, &body);
        self.count(body.len());
        let resp = self
            .http
            .request(method, &url)
            .header(LEASE_AUTH_HEADER, auth.to_header())
            .header("content-type", "application/json")
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(Self::http_err(&url))?;
        self.reply(&url, resp).await
    }

    pub async fn offer(&self, base: &str) -> Result<Offer, ClientError> {
        let url = format!("{}/v1/lease/offer", base.trim_end_matches('/'));
        let resp = self
            .http
            .get(&url)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(Self::http_err(&url))?;
        self.reply(&url, resp).await
    }

    pub async fn open(&self, base: &str, req: &OpenRequest) -> Result<LeaseView, ClientError> {
        let body = serde_json::to_vec(req).expect("a request serializes");
        self.signed(Method::POST, base, "/v1/leases", body).await
    }

    /// Loads an image archive (`docker save`) at the provider; the image id a lease may then name.
    pub async fn load_image(
        &self,
        base: &str,
        archive: Vec<u8>,
        reference: Option<&str>,
    ) -> Result<String, ClientError> {
        let path = match reference {
            Some(r) => format!(
                "/v1/lease/images?reference={}",
                r.bytes()
                    .map(|b| match b {
                        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                            (b as char).to_string()
                        }
                        _ => format!("%{b:02X}"),
                    })
                    .collect::<String>()
            ),
            None => "/v1/lease/images".to_string(),
        };
        // An archive may be large, and loading it takes the daemon a while.
        let reply: serde_json::Value = self
            .signed_within(Method::POST, base, &path, archive, IMAGE_TIMEOUT)
            .await?;
        reply["image"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ClientError::Refused {
                status: 200,
                code: "malformed_reply".into(),
                message: "no image id".into(),
            })
    }

    pub async fn view(&self, base: &str, id: &str) -> Result<LeaseView, ClientError> {
        self.signed(Method::GET, base, &format!("/v1/leases/{id}"), vec![])
            .await
    }

    pub async fn intervals(
        &self,
        base: &str,
        id: &str,
        from: u64,
    ) -> Result<IntervalsReply, ClientError> {
        let path = format!("/v1/leases/{id}/intervals?from={from}");
        self.signed(Method::GET, base, &path, vec![]).await
    }

    pub async fn pay(
        &self,
        base: &str,
        id: &str,
        req: &PayRequest,
    ) -> Result<PayReply, ClientError> {
        let url = format!("{}/v1/leases/{id}/pay", base.trim_end_matches('/'));
        let body = serde_json::to_vec(req).expect("a payment serializes");
        self.count(body.len());
        let resp = self
            .http
            .post(&url)
            .timeout(REQUEST_TIMEOUT)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(Self::http_err(&url))?;
        self.reply(&url, resp).await
    }

    pub async fn close(&self, base: &str, id: &str) -> Result<LeaseView, ClientError> {
        self.signed(
            Method::POST,
            base,
            &format!("/v1/leases/{id}/close"),
            vec![],
        )
        .await
    }

    /// Runs `cmd` in the lease's container; `stdin`, if given, is streamed to the command as it
    /// comes. Every output frame goes to `on_output`; returns the exit code.
    pub async fn exec<S>(
        &self,
        base: &str,
        id: &str,
        cmd: Vec<String>,
        stdin: Option<S>,
        mut on_output: impl FnMut(&Frame),
    ) -> Result<i64, ClientError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static,
    {
        let path = format!("/v1/leases/{id}/exec");
        let url = format!("{}{path}", base.trim_end_matches('/'));
        let spec = serde_json::to_string(&ExecRequest {
            cmd,
            stdin: stdin.is_some(),
        })
        .expect("a command serializes");
        let auth = self
            .key
            .authorize(self.account(base).await?, "POST", &path, spec.as_bytes());
        let mut req = self
            .http
            .post(&url)
            .header(LEASE_AUTH_HEADER, auth.to_header())
            .header(EXEC_HEADER, spec);
        if let Some(stdin) = stdin {
            req = req.body(reqwest::Body::wrap_stream(stdin));
        }
        let resp = req.send().await.map_err(Self::http_err(&url))?;
        if !resp.status().is_success() {
            return Err(Self::refusal(resp.status(), resp).await);
        }
        let mut decoder = Decoder::default();
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            decoder.push(&chunk.map_err(Self::http_err(&url))?);
            while let Some(frame) = decoder.next_frame()? {
                match frame {
                    Frame::Exit(code) => return Ok(code),
                    Frame::Error(m) => return Err(ClientError::Exec(m)),
                    f => on_output(&f),
                }
            }
        }
        Err(ClientError::NoExit)
    }

    /// A connection to published port `port` of lease `id`: `upstream` is sent to it as it comes;
    /// the returned stream is what it sends back.
    pub async fn tunnel<S>(
        &self,
        base: &str,
        id: &str,
        port: u16,
        upstream: S,
    ) -> Result<impl Stream<Item = Result<Bytes, reqwest::Error>> + use<S>, ClientError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static,
    {
        let path = format!("/v1/leases/{id}/ports/{port}");
        let url = format!("{}{path}", base.trim_end_matches('/'));
        let auth = self
            .key
            .authorize(self.account(base).await?, "POST", &path, b"");
        let resp = self
            .http
            .post(&url)
            .header(LEASE_AUTH_HEADER, auth.to_header())
            .body(reqwest::Body::wrap_stream(upstream))
            .send()
            .await
            .map_err(Self::http_err(&url))?;
        if !resp.status().is_success() {
            return Err(Self::refusal(resp.status(), resp).await);
        }
        Ok(resp.bytes_stream())
    }

    /// [`LeaseClient::exec`] without stdin, its output collected (up to 1 MiB each): (exit code,
    /// stdout, stderr).
    pub async fn run(
        &self,
        base: &str,
        id: &str,
        cmd: &[&str],
    ) -> Result<(i64, Vec<u8>, Vec<u8>), ClientError> {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = self
            .exec(
                base,
                id,
                cmd.iter().map(|s| s.to_string()).collect(),
                None::<futures_util::stream::Empty<Result<Bytes, std::io::Error>>>,
                |f| match f {
                    Frame::Stdout(b) if out.len() < MAX_RUN_OUTPUT => out.extend_from_slice(b),
                    Frame::Stderr(b) if err.len() < MAX_RUN_OUTPUT => err.extend_from_slice(b),
                    _ => {}
                },
            )
            .await?;
        Ok((code, out, err))
    }
}
