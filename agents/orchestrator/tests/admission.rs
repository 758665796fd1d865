//! Admission control over HTTP: a new stream is taken on only while the connected transcoders'
//! capacity covers it beside the streams held; beyond that its first segment is refused with
//! `capacity` (503, try elsewhere) before its payment is booked, while the streams held go on.
//! A transcoder that joins adds its capacity at once; one that leaves takes it away.

use crate::common::*;
use peerflow_orchestrator::http::{TRANSCODER_PIXELS_HEADER, TRANSCODER_SLOTS_HEADER};
use peerflow_orchestrator::transcoders::CAPACITY_LINGER;

/// A transcoder that announces `pixels_per_second` and answers every job at once with one
/// dummy rendition per profile, until aborted (it polls a second at a time).
fn transcoder(net: &Net, name: &str, pixels_per_second: u64) -> tokio::task::JoinHandle<()> {
    let (http, url, name) = (net.http.clone(), net.url.clone(), name.to_owned());
    tokio::spawn(async move {
        loop {
            let job = http
                .get(format!("{url}/v1/transcoder/work?wait=1"))
                .bearer_auth(TOKEN)
                .header("x-peerflow-transcoder", &name)
                // Many slots: a slow answer on a loaded machine cannot lower the estimate
                // below what it announces (its jobs' rate times its slots).
                .header(TRANSCODER_SLOTS_HEADER, "64")
                .header(TRANSCODER_PIXELS_HEADER, pixels_per_second.to_string())
                .send()
                .await
                .unwrap();
            if job.status() == 204 {
                continue;
            }
            let meta: JobHeader =
                serde_json::from_slice(job.headers()[JOB_HEADER].as_bytes()).unwrap();
            let parts: Vec<Part> = meta
                .request
                .profiles
                .iter()
                .map(|p| {
                    Part::new("video/mp2t", b"rendition".to_vec())
                        .with_header(RENDITION_HEADER, p.name.clone())
                        .with_header(PIXELS_HEADER, "1")
                })
                .collect();
            let (content_type, body) = multipart::encode(&parts);
            http.post(format!("{url}/v1/transcoder/result/{}", meta.id))
                .bearer_auth(TOKEN)
                .header(JOB_SECRET_HEADER, meta.secret.as_str())
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
        }
    })
}

/// Posts the test segment as a segment of `stream`, paid with one fresh ticket of account 2.
async fn push(net: &Net, stream: &str, nonce: u64) -> reqwest::Response {
    push_as(net, 2, stream, nonce).await
}

async fn push_as(net: &Net, account: usize, stream: &str, nonce: u64) -> reqwest::Response {
    let sender = net.chain.address(account);
    let info = net.info(sender).await;
    let request = SegmentRequest {
        stream: stream.into(),
        ..request()
    };
    let payment = net.payment(account, &info, nonce, 1);
    let auth = net.auth(&info, sender, &request, &net.segment);
    net.post(&request, &payment, Some(&auth), &net.segment)
        .await
}

/// One more segment of each of `streams` (each must be served); returns the next nonce.
async fn keep_pushing(net: &Net, streams: &[&str], mut nonce: u64) -> u64 {
    for stream in streams {
        let r = push(net, stream, nonce).await;
        assert_eq!(r.status(), 200, "{stream}: {}", r.text().await.unwrap());
        nonce += 1;
    }
    nonce
}

async fn status(net: &Net) -> serde_json::Value {
    net.http
        .get(format!("{}/v1/status", net.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_beyond_the_capacity_are_refused_and_the_held_ones_go_on() {
    // Streams are held a minute past their last segment, so that a loaded machine's waits
    // below cannot let one go.
    let net = start_with(Limits {
        info_sender_per_second: 1000.0,
        info_sender_burst: 1000.0,
        info_ip_per_second: 1000.0,
        info_ip_burst: 1000.0,
        stream_idle: Duration::from_secs(60),
        ..Limits::default()
    })
    .await;
    // The test segment's one 426x240 profile over its frames and duration.
    let info = probe_bytes(&net.segment).unwrap();
    let demand = (426.0 * 240.0 * info.frames as f64 / info.duration_s) as u64;
    // Room for two such streams and a half.
    let t1 = transcoder(&net, "t1", demand * 5 / 2);
    let sender = net.chain.address(2);
    // A sender whose payment is refused (its deposit cannot cover a ticket) takes no place.
    let (code, body) = error_of(push_as(&net, 3, "ghost", 0).await).await;
    assert_eq!((code, body.code.as_str()), (402, "insufficient_deposit"));
    assert_eq!(status(&net).await["transcoders"]["streamsHeld"], 0);
    let mut nonce = 0;
    for stream in ["a", "b"] {
        let r = push(&net, stream, nonce).await;
        assert_eq!(r.status(), 200, "{stream}: {}", r.text().await.unwrap());
        nonce += 1;
    }
    let before = net.info(sender).await;
    let (code, body) = error_of(push(&net, "c", nonce).await).await;
    assert_eq!(
        (code, body.code.as_str(), body.retry_elsewhere),
        (503, "capacity", true),
        "{}",
        body.message
    );
    let after = net.info(sender).await;
    assert_eq!(
        (after.next_nonce, after.balance),
        (before.next_nonce, before.balance),
        "the refused segment's ticket was not booked and nothing was charged"
    );
    // The streams held go on.
    for stream in ["a", "b"] {
        let r = push(&net, stream, nonce).await;
        assert_eq!(r.status(), 200, "{stream}");
        nonce += 1;
    }
    let s = status(&net).await;
    assert_eq!(s["transcoders"]["streamsHeld"], 2);
    assert_eq!(s["transcoders"]["pixelsPerSecond"], demand * 5 / 2);
    let metrics = net
        .http
        .get(format!("{}/metrics", net.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("peerflow_orchestrator_streams_held 2"),
        "{metrics}"
    );

    // A second transcoder joins: the third stream fits at once. (The running streams keep
    // pushing meanwhile: a stream that misses a few segments at its pace is let go.)
    let t2 = transcoder(&net, "t2", demand * 5 / 2);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while status(&net).await["transcoders"]["pixelsPerSecond"] != demand * 5 {
        assert!(std::time::Instant::now() < deadline, "t2 never counted");
        nonce = keep_pushing(&net, &["a", "b"], nonce).await;
    }
    nonce = keep_pushing(&net, &["a", "b"], nonce).await;
    let r = push(&net, "c", nonce).await;
    assert_eq!(r.status(), 200, "c: {}", r.text().await.unwrap());
    nonce += 1;

    // It leaves: its capacity goes with it, a fourth stream is refused; the three held go on.
    t2.abort();
    let deadline = std::time::Instant::now() + Duration::from_secs(5) + CAPACITY_LINGER;
    while status(&net).await["transcoders"]["pixelsPerSecond"] != demand * 5 / 2 {
        assert!(std::time::Instant::now() < deadline, "t2 still counted");
        nonce = keep_pushing(&net, &["a", "b", "c"], nonce).await;
    }
    nonce = keep_pushing(&net, &["a", "b", "c"], nonce).await;
    let (code, body) = error_of(push(&net, "d", nonce).await).await;
    assert_eq!((code, body.code.as_str()), (503, "capacity"));
    for stream in ["a", "b", "c"] {
        let r = push(&net, stream, nonce).await;
        assert_eq!(r.status(), 200, "{stream}");
        nonce += 1;
    }
    t1.abort();
}

/// The stage names of a segment's `Server-Timing` header.
fn stage_names(r: &reqwest::Response) -> Vec<String> {
    peerflow_protocol::timing::parse_server_timing(r.headers()["server-timing"].to_str().unwrap())
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

fn charged(r: &reqwest::Response) -> U256 {
    r.headers()["x-peerflow-charged"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A held stream's segment starts transcoding at once and is probed, admitted and charged while it
/// runs (no `probe` stage of its own), for what a stream's first segment is charged. A segment
/// that started so and was not served (unreadable, or not paid for) is refused and charged
/// nothing, and its stream's next segment waits for its probe again until one is served: a
/// broadcaster gets at most one unpaid transcode per paid one. A segment larger than the last
/// one served (more pixels a frame) waits for its probe too.
#[tokio::test]
async fn a_held_streams_segment_is_probed_while_it_runs_until_one_fails() {
    // A ticket (0.001 FLOW) pays for 1.2 segments of the test ladder at this price.
    let net = start_full(
        Limits {
            info_sender_per_second: 1000.0,
            info_sender_burst: 1000.0,
            ..Limits::default()
        },
        ParamsPolicy {
            price_per_pixel: U256::from(800_000_000u64),
            face_value: parse_ether("0.01").unwrap(),
            win_prob: U256::MAX / U256::from(10u64),
            lifetime_blocks: 20,
        },
    )
    .await;
    let t = transcoder(&net, "t1", 1_000_000_000_000);
    let b = net.chain.address(2);
    let serial = |r: &reqwest::Response| stage_names(r).contains(&"probe".to_string());
    let held = SegmentRequest {
        stream: "s".into(),
        ..request()
    };
    // A segment of the stream, paid with `tickets` tickets from `nonce`.
    let send = async |request: &SegmentRequest, segment: &[u8], nonce: u64, tickets: u64| {
        let info = net.info(b).await;
        let auth = net.auth(&info, b, request, segment);
        net.post(
            request,
            &net.payment(2, &info, nonce, tickets),
            Some(&auth),
            segment,
        )
        .await
    };

    let first = send(&held, &net.segment, 0, 1).await;
    assert_eq!(first.status(), 200);
    assert!(
        serial(&first),
        "a new stream is probed first: {:?}",
        stage_names(&first)
    );
    let second = send(&held, &net.segment, 1, 1).await;
    assert_eq!(second.status(), 200);
    assert_eq!(
        stage_names(&second),
        ["auth", "pay", "queue", "transcode", "sign"],
        "a held stream's segment is probed while it runs"
    );
    assert_eq!(charged(&second), charged(&first), "charged alike");

    // An unreadable segment (no larger) that started early: refused, nothing charged.
    let before = net.node.store().balance(b).unwrap();
    let garbage = vec![0x47u8; 188 * 40];
    let r = send(&held, &garbage, 2, 0).await;
    assert_ne!(r.status(), 200, "{:?}", stage_names(&r));
    let (status, body) = error_of(r).await;
    assert_eq!((status, body.code.as_str()), (400, "bad_segment"));
    assert_eq!(net.node.store().balance(b).unwrap(), before);
    // The next one waits for its probe; once served, the one after starts early again.
    let r = send(&held, &net.segment, 2, 1).await;
    assert_eq!(r.status(), 200);
    assert!(serial(&r), "{:?}", stage_names(&r));
    let r = send(&held, &net.segment, 3, 1).await;
    assert_eq!(r.status(), 200);
    assert!(!serial(&r), "{:?}", stage_names(&r));

    // One that started early and that its credit does not cover (no ticket, and less than a
    // segment's worth left): refused, nothing charged, and the next one is probed first again.
    let before = net.node.store().balance(b).unwrap();
    assert!(before < charged(&first), "{before}");
    let r = send(&held, &net.segment, 4, 0).await;
    let (status, body) = error_of(r).await;
    assert_eq!(
        (status, body.code.as_str()),
        (402, "insufficient_balance"),
        "{}",
        body.message
    );
    assert_eq!(
        net.node.store().balance(b).unwrap(),
        before,
        "nothing charged"
    );
    let r = send(&held, &net.segment, 4, 1).await;
    assert_eq!(r.status(), 200);
    assert!(serial(&r), "{:?}", stage_names(&r));

    // A larger segment (more pixels a frame than the one served) is probed before it starts.
    let mut larger = held.clone();
    larger.profiles[0].width = 480;
    larger.profiles[0].height = 270;
    let r = send(&larger, &net.segment, 5, 2).await;
    assert_eq!(r.status(), 200);
    assert!(serial(&r), "{:?}", stage_names(&r));
    t.abort();
}
