//! A stream whose segments stall in the network (a chain outage, a slow orchestrator) while its
//! pushes keep arriving is not idle: it is not ended under the encoder, and every segment is
//! published once the network answers again.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::media::source_segment;
use common::processor::FfmpegProcessor;
use common::server::TestServer;
use peerflow_broadcaster::{
    BoxFuture, IncomingSegment, ProcessError, RenditionOut, SegmentProcessor,
};
use reqwest::{Method, StatusCode};

/// Transcodes segment 0 for real; every later segment waits out the outage (until the instant
/// set in `stalled_until`), then gets segment 0's renditions back at once, so that publications
/// follow the outage's end without a transcode's delay.
#[derive(Clone, Default)]
struct Outage {
    stalled_until: Arc<Mutex<Option<Instant>>>,
    first: Arc<Mutex<Option<Vec<RenditionOut>>>>,
}

impl SegmentProcessor for Outage {
    fn process(
        &self,
        segment: IncomingSegment,
    ) -> BoxFuture<'static, Result<Vec<RenditionOut>, ProcessError>> {
        let this = self.clone();
        Box::pin(async move {
            if segment.seq == 0 {
                let renditions = FfmpegProcessor.process(segment).await?;
                *this.first.lock().unwrap() = Some(renditions.clone());
                return Ok(renditions);
            }
            let until = this.stalled_until.lock().unwrap().expect("outage set");
            tokio::time::sleep_until(until.into()).await;
            Ok(this
                .first
                .lock()
                .unwrap()
                .clone()
                .expect("segment 0 came first"))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_that_keep_arriving_keep_a_stalled_stream_live() {
    let idle = Duration::from_secs(1);
    let outage = Outage::default();
    let server = Arc::new(TestServer::start(outage.clone(), |c| c.idle_timeout = Some(idle)).await);
    let segment = source_segment(0).await;
    let (status, reply) = server
        .push(Method::PUT, "/live/stalled/0.ts", segment.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    // The network stalls for three idle periods, while the encoder pushes every 300 ms through
    // it and a little past it.
    *outage.stalled_until.lock().unwrap() = Some(Instant::now() + 3 * idle);
    let mut pushes = Vec::new();
    for seq in 1..=12u64 {
        let (server, body) = (Arc::clone(&server), segment.clone());
        pushes.push(tokio::spawn(async move {
            server
                .push(Method::PUT, &format!("/live/stalled/{seq}.ts"), body)
                .await
        }));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for (seq, push) in (1..).zip(pushes) {
        let (status, reply) = push.await.unwrap();
        assert_eq!(
            status,
            StatusCode::OK,
            "push {seq}, answered after the outage: {reply}"
        );
    }
    let media = server.playlist("/live/stalled/360p.m3u8").await;
    assert!(!media.contains("#EXT-X-ENDLIST"), "the stream was ended");
    assert!(media.contains("360p/12.ts"), "{media}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_push_slower_than_the_idle_timeout_keeps_its_stream_live() {
    let idle = Duration::from_secs(1);
    let outage = Outage::default();
    let server = TestServer::start(outage.clone(), |c| c.idle_timeout = Some(idle)).await;
    let segment = source_segment(0).await;
    let (status, reply) = server
        .push(Method::PUT, "/live/slow/0.ts", segment.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    // One push takes three idle periods (a loaded orchestrator), and nothing else arrives
    // meanwhile: a push in flight is not idleness.
    *outage.stalled_until.lock().unwrap() = Some(Instant::now() + 3 * idle);
    let (status, reply) = server
        .push(Method::PUT, "/live/slow/1.ts", segment.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "the slow push: {reply}");
    let (status, reply) = server
        .push(Method::PUT, "/live/slow/2.ts", segment.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "the next push: {reply}");
    let media = server.playlist("/live/slow/360p.m3u8").await;
    assert!(!media.contains("#EXT-X-ENDLIST"), "the stream was ended");
    assert!(media.contains("360p/2.ts"), "{media}");
}
