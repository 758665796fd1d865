//! Segments pushed over HTTP come out as HLS that plays, live and from the recording.

use crate::common;

use common::hls::{parse_master, parse_media};
use common::media::{SEGMENT_SECONDS, SOURCE_SEGMENTS, probe, source_segment, source_segments};
use common::processor::{CODECS, FfmpegProcessor, LADDER};
use common::server::TestServer;
use reqwest::{Method, StatusCode};

/// Seconds a rendition segment may differ from its 2 s source.
const DURATION_SLACK: f64 = 0.1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_pushed_segments_play_as_hls_and_from_the_recording() {
    let server = TestServer::start(FfmpegProcessor, |c| c.idle_timeout = None).await;
    for seq in 0..SOURCE_SEGMENTS {
        let method = if seq % 2 == 0 {
            Method::PUT
        } else {
            Method::POST
        };
        let (status, reply) = server
            .push(
                method,
                &format!("/live/show/{seq}.ts"),
                source_segment(seq).await,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "push {seq}: {reply}");
        assert_eq!(reply["seq"], seq);
        let names: Vec<&str> = reply["renditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["360p", "240p"]);
    }

    let variants = parse_master(&server.playlist("/live/show/index.m3u8").await);
    assert_eq!(variants.len(), LADDER.len());
    for (variant, profile) in variants.iter().zip(LADDER) {
        assert_eq!(variant.uri, format!("{}.m3u8", profile.name));
        assert_eq!(variant.resolution, (profile.width, profile.height));
        assert_eq!(variant.codecs.as_deref(), Some(CODECS));
        assert!(variant.bandwidth >= profile.bitrate_bps);

        let media = parse_media(
            &server
                .playlist(&format!("/live/show/{}", variant.uri))
                .await,
        );
        assert_eq!(media.version, 3);
        assert!(!media.ended);
        assert_eq!(
            media.media_sequence,
            SOURCE_SEGMENTS - 6,
            "default window is 6"
        );
        assert_eq!(
            media.seqs(),
            (SOURCE_SEGMENTS - 6..SOURCE_SEGMENTS).collect::<Vec<_>>()
        );
        for entry in &media.entries {
            assert_eq!(entry.uri, format!("{}/{}.ts", profile.name, entry.seq));
            assert!(
                (entry.duration_s - SEGMENT_SECONDS).abs() < DURATION_SLACK,
                "{entry:?}"
            );
            let (status, content_type, bytes) =
                server.get(&format!("/live/show/{}", entry.uri)).await;
            assert_eq!(
                (status, content_type.as_str()),
                (StatusCode::OK, "video/mp2t")
            );
            let peak = bytes.len() as f64 * 8.0 / entry.duration_s;
            assert!(
                variant.bandwidth as f64 >= peak.floor(),
                "BANDWIDTH below a segment's bitrate"
            );
            let decoded = probe(&server.url(&format!("/live/show/{}", entry.uri))).await;
            assert_eq!(
                (decoded.width, decoded.height),
                (profile.width.into(), profile.height.into())
            );
            assert!(decoded.frames >= 55 && decoded.has_audio, "{decoded:?}");
        }
        // Out of the live window, a segment is still served, from the recording.
        let first = probe(&server.url(&format!("/live/show/{}/0.ts", profile.name))).await;
        assert_eq!(first.height, u64::from(profile.height));
    }

    let live = server
        .client
        .delete(server.url("/live/show"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::NO_CONTENT);
    assert!(parse_media(&server.playlist("/live/show/360p.m3u8").await).ended);

    let recording = server.recording("show");
    for profile in LADDER {
        let vod_path = recording.join(format!("{}.m3u8", profile.name));
        let vod = parse_media(&std::fs::read_to_string(&vod_path).unwrap());
        assert!(vod.ended);
        assert_eq!(vod.seqs(), (0..SOURCE_SEGMENTS).collect::<Vec<_>>());
        let played = probe(vod_path.to_str().unwrap()).await;
        assert_eq!(
            (played.width, played.height),
            (profile.width.into(), profile.height.into())
        );
        let expected = SOURCE_SEGMENTS as f64 * SEGMENT_SECONDS;
        assert!((played.duration_s - expected).abs() < 0.5, "{played:?}");
        assert!(played.frames >= 590, "{played:?}");
    }
    let master = parse_master(&std::fs::read_to_string(recording.join("index.m3u8")).unwrap());
    assert_eq!(master.len(), LADDER.len());
    probe(recording.join("index.m3u8").to_str().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_and_repeated_pushes_list_in_sequence_order() {
    let server = TestServer::start(FfmpegProcessor, |c| c.idle_timeout = None).await;
    let push = |seq: u64| {
        let server = &server;
        async move {
            let (status, reply) = server
                .push(
                    Method::PUT,
                    &format!("/live/ooo/{seq}.ts"),
                    source_segment(seq).await,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{reply}");
            reply
        }
    };

    push(0).await;
    push(2).await;
    let media = parse_media(&server.playlist("/live/ooo/360p.m3u8").await);
    assert_eq!(media.seqs(), [0, 2]);
    let gap = &media.entries[1];
    assert!(
        gap.gap && gap.seq == 1 && gap.uri == "360p/1.ts",
        "{media:?}"
    );

    push(1).await;
    let again = push(1).await;
    let media = parse_media(&server.playlist("/live/ooo/360p.m3u8").await);
    assert_eq!(media.seqs(), [0, 1, 2]);
    assert!(media.entries.iter().all(|e| !e.gap));

    let (_, _, served) = server.get("/live/ooo/360p/1.ts").await;
    assert_eq!(
        served.len() as u64,
        again["renditions"][0]["size_bytes"].as_u64().unwrap()
    );
    let mut files: Vec<String> = std::fs::read_dir(server.recording("ooo").join("360p"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["0.ts", "1.ts", "2.ts"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mp4_pushes_come_back_as_mp4_renditions() {
    let work = tempfile::tempdir().unwrap();
    let mp4 = work.path().join("0.mp4");
    let status = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-nostdin", "-i"])
        .arg(source_segments().await.join("0.ts"))
        .args(["-c", "copy", "-bsf:a", "aac_adtstoasc"])
        .args(["-movflags", "frag_keyframe+empty_moov+default_base_moof"])
        .arg(&mp4)
        .status()
        .await
        .unwrap();
    assert!(status.success());

    let server = TestServer::start(FfmpegProcessor, |c| c.idle_timeout = None).await;
    let (status, reply) = server
        .push(
            Method::POST,
            "/live/mp4/0.mp4",
            std::fs::read(&mp4).unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["renditions"][0]["container"], "mp4");

    let media = parse_media(&server.playlist("/live/mp4/240p.m3u8").await);
    assert_eq!(media.entries[0].uri, "240p/0.mp4");
    let (status, content_type, _) = server.get("/live/mp4/240p/0.mp4").await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "video/mp4")
    );
    let decoded = probe(&server.url("/live/mp4/240p/0.mp4")).await;
    assert_eq!((decoded.width, decoded.height), (426, 240));
}

/// ffmpeg's HLS muxer, as users run it (`-f hls -method PUT …/index.m3u8`), names its segments
/// `index0.ts`, `index1.ts`, …: every one is accepted and published under its trailing number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hls_muxer_push_with_its_default_segment_names_is_published() {
    let server = TestServer::start(FfmpegProcessor, |c| c.idle_timeout = None).await;
    let source = source_segments().await;
    let inputs: String = (0..3)
        .map(|seq| format!("file '{}'\n", source.join(format!("{seq}.ts")).display()))
        .collect();
    let list = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(list.path(), inputs).unwrap();
    let status = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-nostdin"])
        .args(["-f", "concat", "-safe", "0", "-i"])
        .arg(list.path())
        .args([
            "-c",
            "copy",
            "-f",
            "hls",
            "-hls_time",
            "2",
            "-method",
            "PUT",
        ])
        .arg(server.url("/live/muxed/index.m3u8"))
        .status()
        .await
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg's HLS push failed");

    let media = parse_media(
        &server
            .wait_for_playlist("/live/muxed/360p.m3u8", |p| {
                parse_media(p).seqs().len() == 3
            })
            .await,
    );
    assert_eq!(
        media.seqs(),
        [0, 1, 2],
        "index0.ts … index2.ts published as 0 … 2"
    );
}
