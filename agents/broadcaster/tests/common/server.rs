//! A broadcaster served on 127.0.0.1:0 with its own data directory, and the HTTP calls the
//! tests make against it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use peerflow_broadcaster::{BroadcasterConfig, SegmentProcessor, Streams, router_and_streams};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tempfile::TempDir;

/// A running broadcaster.
pub struct TestServer {
    pub base: String,
    pub port: u16,
    pub data_dir: TempDir,
    pub client: reqwest::Client,
    /// The broadcaster's own view of its streams (what is held in memory).
    pub streams: Streams,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestServer {
    /// Serves a broadcaster using `processor`, with `tune` applied to the default config.
    pub async fn start(
        processor: impl SegmentProcessor,
        tune: impl FnOnce(&mut BroadcasterConfig),
    ) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = BroadcasterConfig::new(data_dir.path());
        tune(&mut config);
        let (app, streams) = router_and_streams(config, Arc::new(processor));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base: format!("http://127.0.0.1:{port}"),
            port,
            data_dir,
            client: reqwest::Client::new(),
            streams,
            server,
        }
    }

    /// Creates a stream key with `settings` through the admin API (the token from the admin
    /// file); returns the reply, secret included.
    pub async fn create_stream_key(&self, settings: Value) -> Value {
        let token = peerflow_broadcaster::access::read_admin_file(self.data_dir.path())
            .expect("the broadcaster wrote its admin file")
            .token;
        let response = self
            .client
            .post(self.url("/v1/admin/keys"))
            .bearer_auth(token)
            .json(&settings)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Where the recording of `stream` lives.
    pub fn recording(&self, stream: &str) -> PathBuf {
        self.data_dir.path().join("recordings").join(stream)
    }

    /// Pushes `body` to `path` with `method`; returns the status and the JSON reply (if any).
    pub async fn push(&self, method: Method, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let response = self
            .client
            .request(method, self.url(path))
            .header("content-duration", "2000")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// GETs `path`; returns the status, the Content-Type and the body.
    pub async fn get(&self, path: &str) -> (StatusCode, String, Vec<u8>) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (
            status,
            content_type,
            response.bytes().await.unwrap().to_vec(),
        )
    }

    /// GETs a playlist that must exist; returns its text.
    pub async fn playlist(&self, path: &str) -> String {
        let (status, content_type, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}");
        assert_eq!(content_type, "application/vnd.apple.mpegurl");
        String::from_utf8(body).unwrap()
    }

    /// Polls `path` until `ready` accepts the playlist text, for pushes that finish
    /// asynchronously.
    pub async fn wait_for_playlist(&self, path: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (status, _, body) = self.get(path).await;
            let text = String::from_utf8(body).unwrap();
            if status == StatusCode::OK && ready(&text) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} never became ready; last: {status} {text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Asserts an error reply: its status and `error.code`.
pub fn assert_error(reply: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(reply.0, status, "reply: {}", reply.1);
    assert_eq!(reply.1["error"]["code"], code, "reply: {}", reply.1);
    assert!(
        reply.1["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}
