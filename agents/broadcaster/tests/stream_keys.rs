//! Stream keys: a push without a valid key gets 401 and costs nothing (the processor, which pays
//! orchestrators, never sees it); keys are created, listed and revoked through the admin API,
//! which takes the admin token only; a key's rate, live streams and streams are its own; a
//! private stream plays by its name and is listed nowhere.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::media::source_segment;
use common::processor::FfmpegProcessor;
use common::server::{TestServer, assert_error};
use peerflow_broadcaster::access::read_admin_file;
use peerflow_broadcaster::{
    BoxFuture, IncomingSegment, ProcessError, RenditionOut, SegmentProcessor,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The real transcode, counted: each call is a segment the network would be paid for.
#[derive(Clone, Default)]
struct Counted(Arc<AtomicUsize>);

impl SegmentProcessor for Counted {
    fn process(
        &self,
        segment: IncomingSegment,
    ) -> BoxFuture<'static, Result<Vec<RenditionOut>, ProcessError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        FfmpegProcessor.process(segment)
    }
}

impl Counted {
    fn paid(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

async fn keyed_server() -> (TestServer, Counted) {
    let counted = Counted::default();
    let server = TestServer::start(counted.clone(), |c| {
        c.require_stream_keys = true;
        c.idle_timeout = None;
    })
    .await;
    (server, counted)
}

fn admin_token(server: &TestServer) -> String {
    read_admin_file(server.data_dir.path())
        .expect("the broadcaster wrote its admin file")
        .token
}

async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = server.client.request(method, server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_without_a_valid_key_gets_401_and_costs_nothing() {
    let (server, paid) = keyed_server().await;
    let segment = source_segment(0).await;
    let keyless = server
        .push(Method::PUT, "/live/show/0.ts", segment.clone())
        .await;
    assert_error(&keyless, StatusCode::UNAUTHORIZED, "stream_key_required");
    let forged = server
        .push(
            Method::PUT,
            &format!("/live/sk_{}/show/0.ts", "0".repeat(40)),
            segment,
        )
        .await;
    assert_error(&forged, StatusCode::UNAUTHORIZED, "invalid_stream_key");
    // The refused body is left unread, so the reply says the connection closes: a client that
    // reused it would see its next request fail with no reply at all.
    let refused = server
        .client
        .put(server.url("/live/show/1.ts"))
        .body(source_segment(1).await)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.headers()["connection"], "close");
    assert_eq!(paid.paid(), 0, "a refused push reached the paid network");
    let (status, _, _) = server.get("/live/show/index.m3u8").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Ending a stream is a change of state too: not without the admin token.
    let end = call(&server, Method::DELETE, "/live/show", None).await;
    assert_error(&end, StatusCode::UNAUTHORIZED, "stream_key_required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_created_listed_and_revoked_through_the_authenticated_admin_api() {
    let (server, paid) = keyed_server().await;
    for token in [None, Some("wrong")] {
        let listed = call(&server, Method::GET, "/v1/admin/keys", token).await;
        assert_error(&listed, StatusCode::UNAUTHORIZED, "admin_token_required");
        let created = call(&server, Method::POST, "/v1/admin/keys", token).await;
        assert_error(&created, StatusCode::UNAUTHORIZED, "admin_token_required");
    }

    let alice = server.create_stream_key(json!({ "label": "alice" })).await;
    let bob = server.create_stream_key(json!({ "label": "bob" })).await;
    let alice_key = alice["key"].as_str().unwrap();
    let bob_key = bob["key"].as_str().unwrap();
    assert!(alice_key.starts_with("sk_") && alice_key.len() == 43);

    let pushed = server
        .push(
            Method::PUT,
            &format!("/live/{alice_key}/show/0.ts"),
            source_segment(0).await,
        )
        .await;
    assert_eq!(pushed.0, StatusCode::OK, "{}", pushed.1);
    // Playback stays public.
    server.playlist("/live/show/index.m3u8").await;
    // The stream is alice's: bob's key and a keyless end cannot touch it.
    let hijack = server
        .push(
            Method::PUT,
            &format!("/live/{bob_key}/show/1.ts"),
            source_segment(1).await,
        )
        .await;
    assert_error(&hijack, StatusCode::FORBIDDEN, "forbidden");
    let end = call(
        &server,
        Method::DELETE,
        &format!("/live/{bob_key}/show"),
        None,
    )
    .await;
    assert_error(&end, StatusCode::FORBIDDEN, "forbidden");

    let token = admin_token(&server);
    let (status, listed) = call(&server, Method::GET, "/v1/admin/keys", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !listed.to_string().contains(alice_key),
        "the listing shows a secret"
    );
    assert_eq!(listed[0]["label"], "alice");
    assert_eq!(listed[0]["streams"], json!(["show"]));
    assert_eq!(listed[1]["streams"], json!([]));

    let id = alice["id"].as_i64().unwrap();
    let (status, revoked) = call(
        &server,
        Method::DELETE,
        &format!("/v1/admin/keys/{id}"),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(revoked["revoked"], true);
    let after = server
        .push(
            Method::PUT,
            &format!("/live/{alice_key}/show/1.ts"),
            source_segment(1).await,
        )
        .await;
    assert_error(&after, StatusCode::UNAUTHORIZED, "invalid_stream_key");
    let unknown = call(&server, Method::DELETE, "/v1/admin/keys/999", Some(&token)).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "unknown_key");
    assert_eq!(paid.paid(), 1, "only the one accepted push was paid for");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_held_to_its_rate_and_its_live_streams() {
    let (server, paid) = keyed_server().await;
    let created = server
        .create_stream_key(json!({ "maxStreams": 1, "segmentsPerMinute": 2 }))
        .await;
    let key = created["key"].as_str().unwrap();
    let push = |path: String, seq: u64| {
        let server = &server;
        async move {
            server
                .push(Method::PUT, &path, source_segment(seq).await)
                .await
        }
    };
    assert_eq!(
        push(format!("/live/{key}/a/0.ts"), 0).await.0,
        StatusCode::OK
    );
    let second = push(format!("/live/{key}/b/0.ts"), 0).await;
    assert_error(&second, StatusCode::TOO_MANY_REQUESTS, "stream_limit");
    assert_eq!(
        push(format!("/live/{key}/a/1.ts"), 1).await.0,
        StatusCode::OK
    );
    let fast = push(format!("/live/{key}/a/2.ts"), 2).await;
    assert_error(&fast, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(paid.paid(), 2);
    // Once its stream ends, the key may start another (the rate still applies: refills at 2/min).
    let end = call(&server, Method::DELETE, &format!("/live/{key}/a"), None).await;
    assert_eq!(end.0, StatusCode::NO_CONTENT, "{}", end.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_stream_plays_by_its_name_and_is_listed_nowhere() {
    let counted = Counted::default();
    let data = tempfile::tempdir().unwrap();
    let mut config = peerflow_broadcaster::BroadcasterConfig::new(data.path());
    config.require_stream_keys = true;
    config.idle_timeout = None;
    let (app, streams) =
        peerflow_broadcaster::router_and_streams(config, Arc::new(counted.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    let token = read_admin_file(data.path()).unwrap().token;
    let created: Value = http
        .post(format!("{base}/v1/admin/keys"))
        .bearer_auth(&token)
        .json(&json!({ "private": true }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap();
    let playback_id = created["playbackId"].as_str().unwrap();
    let reply = http
        .put(format!("{base}/live/{key}/secret/0.ts"))
        .body(source_segment(0).await)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let published = format!("{playback_id}-secret");
    let by_name = http
        .get(format!("{base}/live/{published}/index.m3u8"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_name.status(), StatusCode::OK);
    let guessed = http
        .get(format!("{base}/live/secret/index.m3u8"))
        .send()
        .await
        .unwrap();
    assert_eq!(guessed.status(), StatusCode::NOT_FOUND);
    assert!(streams.list().is_empty(), "a private stream was listed");
}
