//! How streams end (DELETE, idle time) and what browsers need (CORS).

use crate::common;

use std::time::Duration;

use common::hls::parse_media;
use common::media::source_segment;
use common::processor::FfmpegProcessor;
use common::server::{TestServer, assert_error};
use reqwest::{Method, StatusCode};

fn recorded_playlist(server: &TestServer, stream: &str) -> String {
    std::fs::read_to_string(server.recording(stream).join("360p.m3u8")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_ends_the_stream_and_refuses_further_pushes() {
    let server = TestServer::start(FfmpegProcessor, |c| c.idle_timeout = None).await;
    for seq in 0..2 {
        let reply = server
            .push(
                Method::PUT,
                &format!("/live/ending/{seq}.ts"),
                source_segment(seq).await,
            )
            .await;
        assert_eq!(reply.0, StatusCode::OK);
    }
    assert!(!parse_media(&recorded_playlist(&server, "ending")).ended);

    let delete = || server.client.delete(server.url("/live/ending")).send();
    assert_eq!(delete().await.unwrap().status(), StatusCode::NO_CONTENT);
    let live = parse_media(&server.playlist("/live/ending/360p.m3u8").await);
    assert!(live.ended);
    assert_eq!(live.seqs(), [0, 1]);
    let recorded = parse_media(&recorded_playlist(&server, "ending"));
    assert!(recorded.ended);

    let late = server
        .push(Method::PUT, "/live/ending/2.ts", source_segment(2).await)
        .await;
    assert_error(&late, StatusCode::CONFLICT, "stream_ended");
    assert_eq!(
        parse_media(&server.playlist("/live/ending/360p.m3u8").await).seqs(),
        [0, 1]
    );
    assert!(!server.recording("ending").join("360p/2.ts").exists());

    assert_eq!(
        delete().await.unwrap().status(),
        StatusCode::NO_CONTENT,
        "idempotent"
    );
    let unknown = server
        .client
        .delete(server.url("/live/never"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_stream_ends_by_itself() {
    let server = TestServer::start(FfmpegProcessor, |c| {
        c.idle_timeout = Some(Duration::from_secs(1));
    })
    .await;
    let reply = server
        .push(Method::PUT, "/live/quiet/0.ts", source_segment(0).await)
        .await;
    assert_eq!(reply.0, StatusCode::OK);
    server
        .wait_for_playlist("/live/quiet/240p.m3u8", |text| {
            text.ends_with("#EXT-X-ENDLIST\n")
        })
        .await;
    assert!(parse_media(&recorded_playlist(&server, "quiet")).ended);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_may_read_everything_cross_origin() {
    let server = TestServer::start(FfmpegProcessor, |c| c.idle_timeout = None).await;
    let reply = server
        .push(Method::PUT, "/live/web/0.ts", source_segment(0).await)
        .await;
    assert_eq!(reply.0, StatusCode::OK);
    for path in [
        "/live/web/index.m3u8",
        "/live/web/360p.m3u8",
        "/live/web/360p/0.ts",
        "/live/gone/index.m3u8",
    ] {
        let response = server
            .client
            .get(server.url(path))
            .header("origin", "https://player.example")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "*",
            "{path}"
        );
    }
    let preflight = server
        .client
        .request(Method::OPTIONS, server.url("/live/web/index.m3u8"))
        .header("origin", "https://player.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let methods = preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(methods.contains("GET"));
}
