//! Chain RPC for every role and command. One or more `http://` / `https://` URLs (tried in order:
//! the next when one keeps failing), TLS through rustls with the system roots plus the CAs an
//! operator names (`--rpc-ca-cert`, `SSL_CERT_FILE`), and a transport that retries what a public
//! provider throws at a client ([`transport`]). Nothing in peerflow subscribes: it polls, so `ws://`
//! and `wss://` URLs are refused with a pointer to the provider's https URL.

pub mod tls;
pub mod transport;

use std::path::PathBuf;
use std::time::Duration;

use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::client::RpcClient;
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::utils::guess_local_url;

pub use transport::{RetryingTransport, RpcFailure};

/// Why an RPC connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("no RPC URL given (--rpc-url or --network)")]
    NoUrl,
    #[error("RPC URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("CA certificate file {}: {reason}", path.display())]
    CaCert { path: PathBuf, reason: String },
    #[error(
        "{url} needs TLS but no CA is trusted: no system CA bundle was found; give --rpc-ca-cert FILE or SSL_CERT_FILE"
    )]
    NoRoots { url: String },
    #[error("TLS configuration: {0}")]
    Tls(String),
}

/// How hard to try before a call is reported failed.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per call, over all URLs.
    pub max_attempts: u32,
    /// Consecutive failures on one URL before the next URL is tried (when there is one).
    pub attempts_per_url: u32,
    /// First backoff; it doubles with each failure on a URL, up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest `Retry-After` waited out; a longer one moves to the next URL (or waits this
    /// long when there is none).
    pub max_retry_after: Duration,
    /// Bound on one request: connect, TLS, headers and body.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            attempts_per_url: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry `n` (1-based) on a URL: exponential with equal jitter (half fixed,
    /// half random, so that clients rate-limited together do not come back together), and never
    /// shorter than the server's `Retry-After`.
    pub fn delay(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << n.saturating_sub(1).min(16))
            .min(self.max_backoff);
        let half = exp / 2;
        let random = getrandom::u64().unwrap_or(0) % (half.as_millis() as u64 + 1);
        let jittered = half + Duration::from_millis(random);
        match retry_after {
            Some(after) => after.min(self.max_retry_after) + Duration::from_millis(random),
            None => jittered,
        }
    }
}

/// One RPC URL, split for the transport: basic-auth credentials become a header, and logs see the
/// URL without its path (providers put API keys there).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub uri: hyper::Uri,
    pub authorization: Option<String>,
    redacted: String,
    pub https: bool,
    pub local: bool,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Self, RpcError> {
        let invalid = |reason: &str| RpcError::InvalidUrl {
            url: redact(url),
            reason: reason.into(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("expected http:// or https://"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            "ws" | "wss" => {
                return Err(invalid(
                    "peerflow polls and never subscribes: give the provider's https:// URL",
                ));
            }
            _ => return Err(invalid("expected http:// or https://")),
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let path = if path.is_empty() { "/" } else { path };
        let uri: hyper::Uri = format!("{scheme}://{host}{path}")
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| invalid(&e.to_string()))?;
        let authorization = userinfo.map(|u| {
            use base64::Engine;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(u)
            )
        });
        Ok(Self {
            local: guess_local_url(uri.to_string()),
            redacted: redact(url),
            uri,
            authorization,
            https,
        })
    }

    /// The URL as logs and errors show it: scheme and host only.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }
}

fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<invalid URL>".into();
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let hidden = rest.len() > authority.len() + 1 || authority.contains('@');
    format!("{scheme}://{host}{}", if hidden { "/…" } else { "" })
}

/// Where and how to reach the chain.
#[derive(Debug, Clone, Default)]
pub struct RpcOptions {
    /// URLs in order of preference; each entry may itself be a comma-separated list.
    pub urls: Vec<String>,
    /// Extra CA certificates (PEM files) to trust beside the system's.
    pub ca_certs: Vec<PathBuf>,
    pub policy: RetryPolicy,
}

impl RpcOptions {
    pub fn new(urls: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            urls: urls.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    pub fn with_ca_certs(mut self, files: impl IntoIterator<Item = PathBuf>) -> Self {
        self.ca_certs.extend(files);
        self
    }

    /// The endpoints, commas split out, in order.
    pub fn endpoints(&self) -> Result<Vec<Endpoint>, RpcError> {
        let endpoints = self
            .urls
            .iter()
            .flat_map(|u| u.split(','))
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(Endpoint::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if endpoints.is_empty() {
            return Err(RpcError::NoUrl);
        }
        Ok(endpoints)
    }

    /// The transport alone (for tests and for callers that layer their own client).
    pub fn transport(&self) -> Result<RetryingTransport, RpcError> {
        let endpoints = self.endpoints()?;
        let roots = tls::trusted_roots(&self.ca_certs)?;
        if roots.store.is_empty()
            && let Some(e) = endpoints.iter().find(|e| e.https)
        {
            return Err(RpcError::NoRoots {
                url: e.redacted().into(),
            });
        }
        let config = tls::client_config(roots.store)?;
        Ok(RetryingTransport::new(
            endpoints,
            config,
            self.policy.clone(),
        ))
    }

    /// A JSON-RPC client over the retrying transport.
    pub fn client(&self) -> Result<RpcClient, RpcError> {
        let local = self.endpoints()?.iter().all(|e| e.local);
        Ok(RpcClient::new(self.transport()?, local))
    }

    /// A read-only provider.
    pub fn provider(&self) -> Result<DynProvider, RpcError> {
        Ok(ProviderBuilder::new()
            .connect_client(self.client()?)
            .erased())
    }

    /// A provider that signs and sends with `signer`, its nonces from the process-wide
    /// [`SharedNonces`](crate::nonce::SharedNonces) (every provider of one key agrees).
    pub fn wallet_provider(&self, signer: PrivateKeySigner) -> Result<DynProvider, RpcError> {
        Ok(ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_nonce_management(crate::nonce::SharedNonces)
            .fetch_chain_id()
            .wallet(signer)
            .connect_client(self.client()?)
            .erased())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_on_commas_and_refuse_websockets() {
        let o = RpcOptions::new([
            "http://127.0.0.1:8545, https://a.example/v3/secret",
            "https://b.example",
        ]);
        let e = o.endpoints().unwrap();
        assert_eq!(e.len(), 3);
        assert!(!e[0].https && e[0].local);
        assert!(e[1].https && !e[1].local);
        assert_eq!(
            e[1].redacted(),
            "https://a.example/…",
            "the API key stays out of logs"
        );
        let err = RpcOptions::new(["wss://a.example"])
            .endpoints()
            .unwrap_err();
        assert!(err.to_string().contains("https://"), "{err}");
        assert!(matches!(
            RpcOptions::new([" , "]).endpoints(),
            Err(RpcError::NoUrl)
        ));
        assert!(RpcOptions::new(["ftp://x"]).endpoints().is_err());
    }

    #[test]
    fn basic_auth_moves_from_the_url_to_a_header() {
        let e = Endpoint::parse("https://user:pw@rpc.example/key").unwrap();
        assert_eq!(e.uri.to_string(), "https://rpc.example/key");
        assert_eq!(e.authorization.as_deref(), Some("Basic dXNlcjpwdw=="));
        assert_eq!(e.redacted(), "https://rpc.example/…");
    }

    #[test]
    fn backoff_grows_with_jitter_and_honors_retry_after() {
        let p = RetryPolicy::default();
        for n in 1..8 {
            let exp = (p.initial_backoff * (1 << (n - 1))).min(p.max_backoff);
            let d = p.delay(n, None);
            assert!(
                d >= exp / 2 && d <= exp,
                "retry {n}: {d:?} outside [{:?}, {exp:?}]",
                exp / 2
            );
        }
        let d = p.delay(1, Some(Duration::from_secs(3)));
        assert!(d >= Duration::from_secs(3), "Retry-After is a floor: {d:?}");
        let d = p.delay(1, Some(Duration::from_secs(3600)));
        assert!(
            d <= p.max_retry_after + p.max_backoff,
            "an absurd Retry-After is capped: {d:?}"
        );
    }

    #[test]
    fn a_named_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let err = RpcOptions::new(["https://rpc.example"])
            .with_ca_certs([empty.clone()])
            .transport()
            .unwrap_err();
        assert!(
            matches!(err, RpcError::CaCert { ref path, .. } if *path == empty),
            "{err}"
        );
        let err = RpcOptions::new(["https://rpc.example"])
            .with_ca_certs([dir.path().join("missing.pem")])
            .transport()
            .unwrap_err();
        assert!(matches!(err, RpcError::CaCert { .. }), "{err}");
    }
}
