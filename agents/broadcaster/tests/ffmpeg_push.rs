//! ffmpeg itself as the encoder: its segment muxer (chunked `POST`) and its HLS muxer
//! (chunked `PUT`, playlists included) push straight into the broadcaster.

use crate::common;

use common::hls::parse_media;
use common::media::{ENCODE_720P, LAVFI_AUDIO, LAVFI_SOURCE, probe};
use common::processor::{FfmpegProcessor, LADDER};
use common::server::TestServer;
use reqwest::StatusCode;
use tokio::process::Command;

/// Seconds of video ffmpeg encodes and pushes: four 2 s segments.
const PUSHED_SECONDS: &str = "8";
const PUSHED_SEGMENTS: usize = 4;

/// Runs ffmpeg on the live test source with `output` arguments; asserts it succeeds.
async fn encode_and_push(output: &[String]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "warning", "-nostdin"])
        .args(LAVFI_SOURCE)
        .args(LAVFI_AUDIO)
        .args(["-t", PUSHED_SECONDS])
        .args(ENCODE_720P)
        .args(output)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until every rendition lists the pushed segments, ends the stream, then checks that
/// each rendition plays from its playlist.
async fn assert_stream_fills(server: &TestServer, stream: &str) {
    for profile in LADDER {
        let path = format!("/live/{stream}/{}.m3u8", profile.name);
        server
            .wait_for_playlist(&path, |text| {
                parse_media(text).seqs().len() == PUSHED_SEGMENTS
            })
            .await;
    }
    let ended = server
        .client
        .delete(server.url(&format!("/live/{stream}")))
        .send();
    assert_eq!(ended.await.unwrap().status(), StatusCode::NO_CONTENT);
    for profile in LADDER {
        let path = format!("/live/{stream}/{}.m3u8", profile.name);
        let media = parse_media(&server.playlist(&path).await);
        assert!(media.ended);
        assert_eq!(media.seqs(), [0, 1, 2, 3]);
        // Played over HTTP, as a viewer would.
        let played = probe(&server.url(&path)).await;
        assert_eq!(
            (played.width, played.height),
            (profile.width.into(), profile.height.into())
        );
        assert!(played.frames >= 230, "{played:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_segment_muxer_pushes_chunked_posts() {
    let server = TestServer::start(FfmpegProcessor, |c| c.idle_timeout = None).await;
    let output = [
        "-f",
        "segment",
        "-segment_time",
        "2",
        "-segment_format",
        "mpegts",
        "-method",
        "PUT",
    ]
    .map(String::from);
    let target = server.url("/live/seg/%d.ts");
    encode_and_push(&[&output[..], &[target]].concat()).await;
    assert_stream_fills(&server, "seg").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_hls_muxer_pushes_chunked_puts() {
    let server = TestServer::start(FfmpegProcessor, |c| c.idle_timeout = None).await;
    let output = [
        "-f".into(),
        "hls".into(),
        "-hls_time".into(),
        "2".into(),
        "-hls_list_size".into(),
        "0".into(),
        "-method".into(),
        "PUT".into(),
        "-hls_segment_filename".into(),
        server.url("/live/hlsmux/%d.ts"),
        server.url("/live/hlsmux/index.m3u8"),
    ];
    encode_and_push(&output).await;
    assert_stream_fills(&server, "hlsmux").await;
}

/// The same segment muxer with a stream key in the URL, into a broadcaster that requires one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_segment_muxer_pushes_with_a_stream_key() {
    let server = TestServer::start(FfmpegProcessor, |c| {
        c.idle_timeout = None;
        c.require_stream_keys = true;
    })
    .await;
    let created = server.create_stream_key(serde_json::json!({})).await;
    let key = created["key"].as_str().unwrap();
    let output = [
        "-f",
        "segment",
        "-segment_time",
        "2",
        "-segment_format",
        "mpegts",
        "-method",
        "PUT",
    ]
    .map(String::from);
    let target = server.url(&format!("/live/{key}/keyed/%d.ts"));
    encode_and_push(&[&output[..], &[target]].concat()).await;
    for profile in LADDER {
        let path = format!("/live/keyed/{}.m3u8", profile.name);
        server
            .wait_for_playlist(&path, |text| {
                parse_media(text).seqs().len() == PUSHED_SEGMENTS
            })
            .await;
    }
}
