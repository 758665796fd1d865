//! The broadcaster's memory is bounded: at most `max_live_streams` streams are live (a push that
//! would open one more gets 429 `too_many_streams` and costs nothing), and only the newest
//! `max_ended_streams` ended streams stay in memory; older ones leave every table, the
//! processor's included, while their recordings stay on disk and their names stay taken.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::media::source_segment;
use common::server::{TestServer, assert_error};
use peerflow_broadcaster::{
    BoxFuture, IncomingSegment, ProcessError, RenditionOut, SegmentProcessor, StreamCounts,
};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Publishes the pushed segment as it is, as one rendition, and counts the calls: each is a
/// segment the network would be paid for. Streams named `fail…` find no orchestrator. Keeps the
/// streams the broadcaster told it to forget.
#[derive(Clone, Default)]
struct Copied {
    calls: Arc<AtomicUsize>,
    forgotten: Arc<Mutex<Vec<String>>>,
}

impl SegmentProcessor for Copied {
    fn process(
        &self,
        segment: IncomingSegment,
    ) -> BoxFuture<'static, Result<Vec<RenditionOut>, ProcessError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if segment.stream.starts_with("fail") {
                return Err(ProcessError::Unavailable("no orchestrator answered".into()));
            }
            Ok(vec![RenditionOut {
                name: "source".into(),
                width: 1280,
                height: 720,
                bandwidth_bps: 3_000_000,
                codecs: None,
                container: segment.format,
                bytes: segment.bytes,
                duration_s: segment.duration_hint.unwrap_or(2.0),
            }])
        })
    }

    fn forget(&self, stream: &str) {
        self.forgotten.lock().unwrap().push(stream.to_owned());
    }
}

impl Copied {
    fn paid(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn forgotten(&self) -> Vec<String> {
        self.forgotten.lock().unwrap().clone()
    }
}

async fn push(server: &TestServer, stream: &str, seq: u64) -> (StatusCode, serde_json::Value) {
    server
        .push(
            Method::PUT,
            &format!("/live/{stream}/{seq}.ts"),
            source_segment(seq).await,
        )
        .await
}

async fn end(server: &TestServer, stream: &str) -> StatusCode {
    server
        .client
        .delete(server.url(&format!("/live/{stream}")))
        .send()
        .await
        .unwrap()
        .status()
}

fn counts(live: usize, ended: usize) -> StreamCounts {
    StreamCounts { live, ended }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_past_max_live_streams_gets_429_and_costs_nothing() {
    let processor = Copied::default();
    let server = TestServer::start(processor.clone(), |c| {
        c.idle_timeout = None;
        c.max_live_streams = 3;
    })
    .await;
    for stream in ["s0", "s1", "s2"] {
        let reply = push(&server, stream, 0).await;
        assert_eq!(reply.0, StatusCode::OK, "{stream}: {}", reply.1);
    }
    assert_eq!(server.streams.counts(), counts(3, 0));

    let refused = push(&server, "s3", 0).await;
    assert_error(&refused, StatusCode::TOO_MANY_REQUESTS, "too_many_streams");
    // A keyed push is refused before the key is charged or the name claimed for it.
    let key = server.create_stream_key(json!({ "label": "k" })).await;
    let keyed = server
        .push(
            Method::PUT,
            &format!("/live/{}/k1/0.ts", key["key"].as_str().unwrap()),
            source_segment(0).await,
        )
        .await;
    assert_error(&keyed, StatusCode::TOO_MANY_REQUESTS, "too_many_streams");
    let token = peerflow_broadcaster::access::read_admin_file(server.data_dir.path())
        .unwrap()
        .token;
    let keys: serde_json::Value = server
        .client
        .get(server.url("/v1/admin/keys"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        keys[0]["streams"],
        json!([]),
        "the refused stream was claimed"
    );
    assert_eq!(
        processor.paid(),
        3,
        "a refused push reached the paid network"
    );
    let (status, _, _) = server.get("/live/s3/index.m3u8").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The live ones go on.
    assert_eq!(push(&server, "s1", 1).await.0, StatusCode::OK);
    assert_eq!(processor.paid(), 4);

    // Ending one makes room for one, and only one, however many ask at once.
    assert_eq!(end(&server, "s0").await, StatusCode::NO_CONTENT);
    assert_eq!(server.streams.counts(), counts(2, 1));
    let (r0, r1, r2, r3) = tokio::join!(
        push(&server, "r0", 0),
        push(&server, "r1", 0),
        push(&server, "r2", 0),
        push(&server, "r3", 0),
    );
    let replies = [r0, r1, r2, r3];
    let won = replies.iter().filter(|r| r.0 == StatusCode::OK).count();
    assert_eq!(won, 1, "{replies:?}");
    for reply in replies.iter().filter(|r| r.0 != StatusCode::OK) {
        assert_error(reply, StatusCode::TOO_MANY_REQUESTS, "too_many_streams");
    }
    assert_eq!(processor.paid(), 5);
    assert_eq!(server.streams.counts(), counts(3, 1));
    // An ended stream is refused for having ended, not for the limit.
    assert_error(
        &push(&server, "s0", 1).await,
        StatusCode::CONFLICT,
        "stream_ended",
    );

    // A stream whose pushes all fail holds no live slot once they are done.
    assert_eq!(end(&server, "s1").await, StatusCode::NO_CONTENT);
    let failed = push(&server, "fail-x", 0).await;
    assert_error(&failed, StatusCode::SERVICE_UNAVAILABLE, "no_orchestrator");
    assert_eq!(server.streams.counts(), counts(2, 3));
    assert_eq!(push(&server, "s4", 0).await.0, StatusCode::OK);
    assert_eq!(server.streams.counts(), counts(3, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_newest_max_ended_streams_stay_in_memory() {
    const MAX_ENDED: usize = 3;
    const STREAMS: usize = 8;
    let processor = Copied::default();
    let server = TestServer::start(processor.clone(), |c| {
        c.idle_timeout = None;
        c.max_live_streams = 2;
        c.max_ended_streams = MAX_ENDED;
    })
    .await;
    for i in 0..STREAMS {
        let stream = format!("e{i}");
        for seq in 0..2 {
            let reply = push(&server, &stream, seq).await;
            assert_eq!(reply.0, StatusCode::OK, "{stream}/{seq}: {}", reply.1);
        }
        assert_eq!(end(&server, &stream).await, StatusCode::NO_CONTENT);
        let held = server.streams.counts();
        assert_eq!(held, counts(0, (i + 1).min(MAX_ENDED)), "after {stream}");
        // The newest ended stream is listed and plays to its end.
        let listed = server.streams.list();
        assert!(
            listed.iter().any(|s| s.id == stream && s.ended),
            "{stream} is not listed: {listed:?}"
        );
        assert!(listed.len() <= MAX_ENDED);
        let playlist = server
            .playlist(&format!("/live/{stream}/source.m3u8"))
            .await;
        assert!(playlist.ends_with("#EXT-X-ENDLIST\n"), "{playlist}");
        // Its segments come from the recording now.
        let (status, _, body) = server.get(&format!("/live/{stream}/source/1.ts")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, source_segment(1).await);
    }
    let kept: Vec<String> = server.streams.list().into_iter().map(|s| s.id).collect();
    assert_eq!(kept, ["e5", "e6", "e7"]);
    // The older ones left every table, the processor's too, oldest first…
    assert_eq!(processor.forgotten(), ["e0", "e1", "e2", "e3", "e4"]);
    let (status, _, _) = server.get("/live/e0/source.m3u8").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // …counted in the totals, while their recordings stay on disk…
    assert_eq!(server.streams.dropped_segments_out(), 2 * 5);
    let recorded = std::fs::read_to_string(server.recording("e0").join("source.m3u8")).unwrap();
    assert!(recorded.ends_with("#EXT-X-ENDLIST\n"), "{recorded}");
    assert!(server.recording("e0").join("source/1.ts").is_file());
    // …and their names taken: a late push is refused as for any ended stream, unpaid.
    let paid = processor.paid();
    assert_error(
        &push(&server, "e0", 2).await,
        StatusCode::CONFLICT,
        "stream_ended",
    );
    assert_eq!(processor.paid(), paid);
    assert!(!server.recording("e0").join("source/2.ts").exists());
    // The refusal pushed no ended stream out.
    assert_eq!(server.streams.counts(), counts(0, MAX_ENDED));
    let kept: Vec<String> = server.streams.list().into_iter().map(|s| s.id).collect();
    assert_eq!(kept, ["e5", "e6", "e7"]);
}
