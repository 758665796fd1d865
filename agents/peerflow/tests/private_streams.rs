//! A private stream paid through the real network plays by its name and is named nowhere: not in
//! the stream listings, and not in `/v1/status`, whose per-stream records come from the network's
//! books (which see every stream they are handed).

use peerflow::devnet::{DevnetOptions, start};
use peerflow_broadcaster::access::read_admin_file;
use peerflow_media::testsrc;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_private_stream_paid_through_the_network_is_named_in_no_status() {
    let dir = tempfile::tempdir().unwrap();
    let net = start(&DevnetOptions::new(dir.path())).await.unwrap();
    let http = reqwest::Client::new();
    let token = read_admin_file(&net.data_dir().join("broadcaster"))
        .expect("the devnet broadcaster wrote its admin file")
        .token;
    let created: Value = http
        .post(format!("{}/v1/admin/keys", net.broadcaster_url))
        .bearer_auth(token)
        .json(&json!({ "private": true }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap();
    let playback_id = created["playbackId"].as_str().unwrap();

    let segments = testsrc::generate_segments(&dir.path().join("src"), 1, 2, 640, 360, 30).unwrap();
    let pushed = http
        .put(format!(
            "{}/live/{key}/zqsecretcam/0.ts",
            net.broadcaster_url
        ))
        .body(std::fs::read(&segments[0]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 200, "{}", pushed.text().await.unwrap());

    // It plays under its unguessable name.
    let name = format!("{playback_id}-zqsecretcam");
    let playlist = http
        .get(format!("{}/live/{name}/index.m3u8", net.broadcaster_url))
        .send()
        .await
        .unwrap();
    assert_eq!(playlist.status(), 200);

    // The network paid for it, yet no listing or status names it.
    for path in ["/v1/status", "/v1/streams", "/"] {
        let text = http
            .get(format!("{}{path}", net.broadcaster_url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !text.contains(playback_id) && !text.contains("zqsecretcam"),
            "{path} names the private stream:\n{text}"
        );
    }
    let status: Value = http
        .get(format!("{}/v1/status", net.broadcaster_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        status["totals"]["segmentsIn"].as_u64().unwrap() >= 1,
        "the network counted the segment: {status}"
    );
}
