//! The whole network on one machine: ffmpeg-cut segments pushed over HTTP to the broadcaster, paid
//! orchestrators found on-chain, renditions back as HLS, winning tickets redeemed on anvil.

use crate::common;

use std::time::Duration;

use alloy::eips::BlockId;
use alloy::primitives::U256;
use alloy::providers::Provider;
use alloy::providers::ext::AnvilApi;
use peerflow::devnet::{Devnet, DevnetOptions, start};
use peerflow::roles::provider;
use peerflow_chain::actions::give;
use peerflow_chain::bindings::{
    staking::Staking, ticket_broker::TicketBroker, work_token::WorkToken,
};
use peerflow_chain::deploy::confirm;
use peerflow_media::{probe_bytes, testsrc};
use peerflow_orchestrator::WinningTicketStatus;
use peerflow_protocol::metrics::Exposition;
use peerflow_rpc_standin::StandinConfig;

async fn scrape(url: &str) -> Exposition {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    Exposition::parse(&text).unwrap()
}

/// Pushes `segments` as sequence numbers `first..`.
async fn push_segments(net: &Devnet, stream: &str, first: usize, segments: &[std::path::PathBuf]) {
    for (i, path) in segments.iter().enumerate() {
        common::proxy::push(net, stream, first + i, path).await;
    }
}

/// The live playlists list the newest segments (a window of at most 6), every one served and
/// decodable at its rendition's size; the recording on disk holds the whole stream. Returns the
/// pixels of every recorded rendition segment.
async fn check_hls(net: &Devnet, dir: &std::path::Path, stream: &str, segments: usize) -> u64 {
    let http = reqwest::Client::new();
    let base = format!("{}/live/{stream}", net.broadcaster_url);
    let master = http
        .get(format!("{base}/index.m3u8"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut pixels = 0;
    for profile in &net.ladder {
        assert!(
            master.contains(&format!("{}.m3u8", profile.name)),
            "master lists {}:\n{master}",
            profile.name
        );
        let media = http
            .get(format!("{base}/{}.m3u8", profile.name))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let uris: Vec<&str> = media
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .collect();
        assert_eq!(uris.len(), segments.min(6), "{}:\n{media}", profile.name);
        assert!(
            uris.last()
                .unwrap()
                .ends_with(&format!("/{}.ts", segments - 1)),
            "newest last:\n{media}"
        );
        for uri in uris {
            let bytes = http
                .get(format!("{base}/{uri}"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let info = probe_bytes(&bytes).unwrap();
            assert_eq!((info.width, info.height), (profile.width, profile.height));
            assert!(
                (info.duration_s - 2.0).abs() < 0.1,
                "duration {}",
                info.duration_s
            );
        }
    }
    // Ending the stream finalizes the recording as a VOD playlist.
    let ended = http.delete(&base).send().await.unwrap();
    assert_eq!(ended.status(), 204);
    for profile in &net.ladder {
        let recorded = dir
            .join("broadcaster/recordings")
            .join(stream)
            .join(&profile.name);
        for seq in 0..segments {
            let info = peerflow_media::probe(&recorded.join(format!("{seq}.ts"))).unwrap();
            assert_eq!(
                (info.width, info.height),
                (profile.width, profile.height),
                "recorded {seq}"
            );
            pixels += info.frames * u64::from(profile.width) * u64::from(profile.height);
        }
        let vod = peerflow_media::probe(&recorded.with_extension("m3u8")).unwrap();
        assert!(
            (vod.duration_s - 2.0 * segments as f64).abs() < 0.5,
            "recording plays: {}",
            vod.duration_s
        );
    }
    pixels
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_segments_are_transcoded_paid_and_redeemed_exactly() {
    let dir = tempfile::tempdir().unwrap();
    ten_segments_paid_exactly(DevnetOptions::new(dir.path()), dir.path()).await;
}

/// The same ten segments on a chain with 50,000 blocks of history, every role reaching it through
/// a public provider's RPC: https with its own CA, `eth_getLogs` capped at 500 blocks, 429s past
/// 400 requests a second, 1 % 503s and 1 % dropped connections, 2 ms more per request. Every
/// ticket and balance comes out as exact, and no scan reaches back before the deployment.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_segments_through_a_public_provider_over_a_long_chain() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = DevnetOptions::new(dir.path());
    options.history_blocks = 50_000;
    options.public_rpc = Some(StandinConfig {
        max_requests_per_second: Some(400),
        unavailable_ppm: 10_000,
        drop_ppm: 10_000,
        latency: Duration::from_millis(2),
        ..StandinConfig::new("")
    });
    let net = ten_segments_paid_exactly(options, dir.path()).await;
    let standin = net.public_rpc.as_ref().unwrap();
    let stats = standin.stats();
    let deployed = net.deployment.deployment_block.unwrap();
    assert!(deployed > 50_000, "deployed after the history: {deployed}");
    assert!(
        stats.lowest_log_block >= deployed,
        "a scan reached back to block {} (deployed at {deployed})",
        stats.lowest_log_block
    );
    assert!(
        stats.unavailable + stats.dropped > 0,
        "the faults were met: {stats:?}"
    );
    eprintln!("through the stand-in: {stats:?}");
}

/// Pushes ten segments through a one-orchestrator devnet where every ticket wins and checks every
/// balance, ticket and figure against the chain.
async fn ten_segments_paid_exactly(mut options: DevnetOptions, dir: &std::path::Path) -> Devnet {
    options.orchestrators = 1;
    options.win_probability = 1.0;
    options.reward_cut = 0; // rewards then keep stake proportions exactly: the fee split is exact
    let net = start(&options).await.unwrap();
    let (o, running) = &net.orchestrators[0];

    // A delegator beside the orchestrator in its pool.
    let delegator = net.chain.address(5);
    let d_wallet = provider(&net.chain.endpoint(), net.chain.signer(5)).unwrap();
    let pool = Staking::new(net.deployment.staking, &d_wallet)
        .orchestratorInfo(*o)
        .call()
        .await
        .unwrap()
        .stake;
    give(&net.deployer, &net.deployment, delegator, pool)
        .await
        .unwrap();
    confirm(
        WorkToken::new(net.deployment.work_token, &d_wallet)
            .approve(net.deployment.staking, pool)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap(),
    )
    .unwrap();
    confirm(
        Staking::new(net.deployment.staking, &d_wallet)
            .bond(pool, *o)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap(),
    )
    .unwrap();
    // Stake earns from the round after it arrives: the work is paid from the next round on.
    let d = &net.deployment;
    let block = net.deployer.get_block_number().await.unwrap();
    let next_round =
        d.start_block + ((block - d.start_block) / d.round_length + 1) * d.round_length;
    net.deployer
        .anvil_mine(Some(next_round - block), None)
        .await
        .unwrap();

    let broker = TicketBroker::new(net.deployment.ticket_broker, &net.deployer);
    let staking = Staking::new(net.deployment.staking, &net.deployer);
    let deposit_before = broker.getSenderInfo(net.broadcaster).call().await.unwrap();

    let segments = testsrc::generate_segments(&dir.join("src"), 10, 2, 1280, 720, 30).unwrap();
    push_segments(&net, "demo", 0, &segments).await;
    let pixels = check_hls(&net, dir, "demo", 10).await;

    // Let the parameters expire, then the redeemer pays every winner (winProb = 1: all of them).
    net.deployer.anvil_mine(Some(20), None).await.unwrap();
    let mut redeemed = Vec::new();
    for _ in 0..100 {
        let (pending, done) = {
            let store = running.node.store();
            (
                store.winning_tickets(WinningTicketStatus::Pending).unwrap(),
                store
                    .winning_tickets(WinningTicketStatus::Redeemed)
                    .unwrap(),
            )
        };
        if pending.is_empty() {
            redeemed = done;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!redeemed.is_empty(), "winners redeemed");
    let paid: U256 = redeemed.iter().map(|t| t.face_value).sum();
    let deposit_after = broker.getSenderInfo(net.broadcaster).call().await.unwrap();
    assert_eq!(
        deposit_before.deposit - deposit_after.deposit,
        paid,
        "the broadcaster paid exactly the tickets' face value"
    );

    let o_fees = staking.pendingFees(*o).call().await.unwrap();
    let d_fees = staking.pendingFees(delegator).call().await.unwrap();
    assert!(
        o_fees + d_fees <= paid && o_fees + d_fees + U256::from(2u64) >= paid,
        "fee pool grew by what was paid"
    );
    // feeShare 50% to the pool, split by stake (with no reward cut, rewards keep the proportions).
    let d_stake = staking.pendingStake(delegator).call().await.unwrap();
    let pool_stake = staking.orchestratorInfo(*o).call().await.unwrap().stake;
    let expected_delegator = paid / U256::from(2u64) * d_stake / pool_stake;
    assert!(
        d_fees.abs_diff(expected_delegator) <= U256::from(2u64),
        "delegator fee share {d_fees} vs {expected_delegator}"
    );

    // The orchestrator charged its own price (1 wei/pixel) for exactly the pixels produced.
    let credit = running.node.store().balance(net.broadcaster).unwrap();
    assert_eq!(
        credit,
        paid - U256::from(pixels),
        "credit left = paid − price × pixels"
    );

    // What its operator reads: the metrics count exactly this work, the status agrees with them
    // and with the chain.
    let x = scrape(&running.url).await;
    let count = |name: &str, pairs: &[(&str, &str)]| x.value(name, pairs) as usize;
    assert_eq!(
        count(
            "peerflow_orchestrator_segments_total",
            &[("outcome", "transcoded")]
        ),
        10
    );
    assert_eq!(
        count(
            "peerflow_transcoder_segments_total",
            &[("outcome", "transcoded")]
        ),
        10,
        "the local transcoder reports into the orchestrator's registry"
    );
    assert_eq!(
        count("peerflow_orchestrator_segment_seconds_count", &[]),
        10
    );
    let received = count("peerflow_orchestrator_tickets_received_total", &[]);
    // The broadcaster keeps its own books: a ticket (worth 0.01 token here) covers many
    // segments, so it sends one only when its credit there runs short, never one a segment.
    assert!(received >= 1, "the work was paid for");
    assert!(
        paid >= U256::from(pixels),
        "the tickets cover the work: {paid} for {pixels} pixels at 1 wei"
    );
    assert!(
        U256::from(received - 1) * U256::from(10_000_000_000_000_000u64)
            < U256::from(pixels) * U256::from(2u64),
        "{received} tickets for {pixels} wei of work: no ticket beyond what the credit needed"
    );
    assert_eq!(
        count("peerflow_orchestrator_tickets_winning_total", &[]),
        received,
        "winProb = 1"
    );
    assert_eq!(
        count("peerflow_orchestrator_tickets_redeemed_total", &[]),
        redeemed.len()
    );
    assert_eq!(redeemed.len(), received);
    assert_eq!(
        x.get("peerflow_orchestrator_pending_redemptions", &[]),
        Some(0.0)
    );
    let status: serde_json::Value = reqwest::get(format!("{}/v1/status", running.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let num = |v: &serde_json::Value| v.as_u64().unwrap() as usize;
    let wei = |v: &serde_json::Value| v["wei"].as_str().unwrap().parse::<U256>().unwrap();
    assert_eq!(num(&status["tickets"]["received"]), received);
    assert_eq!(num(&status["tickets"]["redeemed"]), redeemed.len());
    let stream = &status["streams"][0];
    assert_eq!(stream["stream"], "demo");
    assert_eq!(num(&stream["segments"]), 10);
    assert_eq!(stream["pixels"].as_u64().unwrap(), pixels);
    assert_eq!(status["transcoders"]["list"][0]["name"], "local");
    let e = &status["earnings"];
    assert_eq!(wei(&e["redeemed"]["faceValue"]), paid);
    let at = BlockId::number(e["block"].as_u64().unwrap());
    assert_eq!(
        wei(&e["pendingFees"]),
        staking.pendingFees(*o).call().block(at).await.unwrap()
    );
    assert_eq!(
        wei(&e["poolStake"]),
        staking
            .orchestratorInfo(*o)
            .call()
            .block(at)
            .await
            .unwrap()
            .stake
    );
    for (_, p) in &net.providers {
        let x = scrape(&p.url).await;
        assert_eq!(x.get("peerflow_provider_running_jobs", &[]), Some(0.0));
    }
    net
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_chosen_orchestrator_mid_stream_loses_no_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = start(&DevnetOptions::new(dir.path())).await.unwrap();
    let segments =
        testsrc::generate_segments(&dir.path().join("src"), 6, 2, 1280, 720, 30).unwrap();
    // Who served the stream's latest segment, as the broadcaster reports it.
    let latest = |net: &Devnet| {
        let url = format!("{}/v1/streams/failover", net.broadcaster_url);
        async move {
            let s: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
            (
                s["orchestrator"]["address"]
                    .as_str()
                    .unwrap()
                    .parse::<alloy::primitives::Address>()
                    .unwrap(),
                s["orchestrator"]["seq"].as_u64().unwrap(),
            )
        }
    };
    push_segments(&net, "failover", 0, &segments[..3]).await;
    let (served, seq) = latest(&net).await;
    assert_eq!(seq, 2);
    // The orchestrator chosen for the latest segment is killed: its API goes away mid-stream.
    let chosen = net
        .orchestrators
        .iter()
        .position(|(a, _)| *a == served)
        .expect("someone served segment 2");
    net.orchestrators.remove(chosen);
    let survivor = net.orchestrators[0].0;
    push_segments(&net, "failover", 3, &segments[3..]).await;
    check_hls(&net, dir.path(), "failover", 6).await;
    assert_eq!(
        latest(&net).await,
        (survivor, 5),
        "the other orchestrator took over"
    );
}

/// Through the public-provider stand-in (https, 500-block log cap, 429s, 1 % 503s and dropped
/// connections) on a chain with 50,000 blocks of history, the one orchestrator of a live stream
/// is restarted mid-stream (same key, data directory and address, as a restarted process): the
/// stream goes on on the credit and ticket parameters from before, no segment is lost, and every
/// winning ticket is redeemed once, after the restart, from what the orchestrator kept in sqlite:
/// the broadcaster's deposit falls by exactly their face value.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_orchestrator_restarted_mid_stream_through_a_public_provider_loses_no_segment_or_winner()
{
    let dir = tempfile::tempdir().unwrap();
    let mut options = DevnetOptions::new(dir.path());
    options.orchestrators = 1;
    options.win_probability = 1.0;
    options.history_blocks = 50_000;
    options.public_rpc = Some(StandinConfig {
        max_requests_per_second: Some(400),
        unavailable_ppm: 10_000,
        drop_ppm: 10_000,
        latency: Duration::from_millis(2),
        ..StandinConfig::new("")
    });
    let mut net = start(&options).await.unwrap();
    let broker = TicketBroker::new(net.deployment.ticket_broker, net.deployer.clone());
    let deposit_before = broker.getSenderInfo(net.broadcaster).call().await.unwrap();
    let segments =
        testsrc::generate_segments(&dir.path().join("src"), 6, 2, 1280, 720, 30).unwrap();
    push_segments(&net, "restart", 0, &segments[..1]).await;
    // The winner the first segment's ticket made waits for its parameters to expire: queued in
    // sqlite, not redeemed, when the orchestrator goes down.
    let queued: Vec<u64> = net.orchestrators[0]
        .1
        .node
        .store()
        .winning_tickets(WinningTicketStatus::Pending)
        .unwrap()
        .iter()
        .map(|t| t.nonce)
        .collect();
    assert!(!queued.is_empty(), "a winner queued before the restart");
    net.restart_orchestrator(0).await.unwrap();
    push_segments(&net, "restart", 1, &segments[1..]).await;
    check_hls(&net, dir.path(), "restart", 6).await;

    // Parameters expire, then the restarted orchestrator redeems every winner it kept.
    net.deployer.anvil_mine(Some(20), None).await.unwrap();
    let mut redeemed = Vec::new();
    for _ in 0..300 {
        let (pending, submitted, done) = {
            let store = net.orchestrators[0].1.node.store();
            (
                store.winning_tickets(WinningTicketStatus::Pending).unwrap(),
                store
                    .winning_tickets(WinningTicketStatus::Submitted)
                    .unwrap(),
                store
                    .winning_tickets(WinningTicketStatus::Redeemed)
                    .unwrap(),
            )
        };
        if pending.is_empty() && submitted.is_empty() {
            redeemed = done;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // One ticket's value covers many segments: the credit it bought before the restart pays for
    // the segments after it (the balance is in sqlite too).
    for nonce in &queued {
        assert!(
            redeemed.iter().any(|t| t.nonce == *nonce),
            "the winner queued before the restart (nonce {nonce}) is redeemed after it"
        );
    }
    let sent: u64 = {
        let s: serde_json::Value =
            reqwest::get(format!("{}/v1/streams/restart", net.broadcaster_url))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        s["money"]["ticketsSent"].as_u64().unwrap()
    };
    assert_eq!(
        redeemed.len() as u64,
        sent,
        "every ticket sent won (winProb 1) and is redeemed, once"
    );
    let paid: U256 = redeemed.iter().map(|t| t.face_value).sum();
    let deposit_after = broker.getSenderInfo(net.broadcaster).call().await.unwrap();
    assert_eq!(
        deposit_before.deposit - deposit_after.deposit,
        paid,
        "the broadcaster paid exactly the winners' face value, each once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn premium_streams_send_each_segment_to_two_orchestrators_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = DevnetOptions::new(dir.path());
    options.redundancy = 2;
    let net = start(&options).await.unwrap();
    let segments =
        testsrc::generate_segments(&dir.path().join("src"), 2, 2, 1280, 720, 30).unwrap();
    push_segments(&net, "premium", 0, &segments).await;
    // Both are paid (their tickets accepted: the first segment's, whose credit then covers the
    // second); the first result is kept and the slower request is dropped (its credit stays with
    // that orchestrator for later segments).
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (address, o) in &net.orchestrators {
        assert!(
            o.node.store().next_nonce(net.broadcaster).unwrap() >= 1,
            "{address} took part"
        );
    }
    let status: serde_json::Value = reqwest::get(format!("{}/v1/status", net.broadcaster_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let accounts = status["payments"]["orchestrators"].as_array().unwrap();
    assert_eq!(accounts.len(), 2, "both were paid: {accounts:?}");
    check_hls(&net, dir.path(), "premium", 2).await;
}

/// Admission control across the network: two orchestrators whose transcoders announce room for
/// one and a half streams each. The first stream is taken on by one, the second (refused there
/// with `capacity`) by the other; a third finds both full and its first push is answered 503
/// `no_capacity`, while the two running streams go on at the orchestrators that hold them. A
/// full orchestrator is not suspended for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_network_refuses_a_new_stream_and_the_running_ones_go_on() {
    use peerflow_media::{Profile, VideoCodec};
    let dir = tempfile::tempdir().unwrap();
    let segments = testsrc::generate_segments(&dir.path().join("src"), 3, 2, 320, 180, 10).unwrap();
    let info = probe_bytes(&std::fs::read(&segments[0]).unwrap()).unwrap();
    let demand = (426.0 * 240.0 * info.frames as f64 / info.duration_s) as u64;
    let mut options = DevnetOptions::new(dir.path());
    options.providers = 0;
    options.ladder = vec![Profile::new("240p", 426, 240, 300, VideoCodec::H264)];
    options.capacity = Some(demand * 3 / 2);
    let net = start(&options).await.unwrap();
    let http = reqwest::Client::new();
    let put = |stream: &str, seq: usize| {
        let (http, url, body) = (
            http.clone(),
            format!("{}/live/{stream}/{seq}.ts", net.broadcaster_url),
            std::fs::read(&segments[seq]).unwrap(),
        );
        async move { http.put(url).body(body).send().await.unwrap() }
    };
    let holder = |stream: &str| {
        let url = format!("{}/v1/streams/{stream}", net.broadcaster_url);
        async move {
            let s: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
            s["orchestrator"]["address"].as_str().unwrap().to_owned()
        }
    };
    for stream in ["one", "two"] {
        let r = put(stream, 0).await;
        assert_eq!(r.status(), 200, "{stream}: {}", r.text().await.unwrap());
    }
    let (one, two) = (holder("one").await, holder("two").await);
    assert_ne!(one, two, "each orchestrator holds one stream");
    // Both running (each served a segment a moment ago) when the third stream comes.
    for stream in ["one", "two"] {
        let r = put(stream, 1).await;
        assert_eq!(r.status(), 200, "{stream}: {}", r.text().await.unwrap());
    }

    let r = put("three", 0).await;
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_capacity", "{body}");

    for stream in ["one", "two"] {
        let r = put(stream, 2).await;
        assert_eq!(r.status(), 200, "{stream}: {}", r.text().await.unwrap());
    }
    assert_eq!((holder("one").await, holder("two").await), (one, two));
    for (address, _) in &net.orchestrators {
        let score = net.reputation.score(*address).unwrap();
        assert!(
            !score.is_some_and(|s| s.is_suspended()),
            "a full orchestrator is not suspended"
        );
    }
    let b = scrape(&net.broadcaster_url).await;
    assert_eq!(
        b.value(
            "peerflow_broadcaster_segments_total",
            &[("outcome", "no_capacity")]
        ),
        1.0
    );
    assert!(b.value("peerflow_broadcaster_capacity_refusals_total", &[]) >= 2.0);
    let mut transcoded = 0.0;
    for (_, o) in &net.orchestrators {
        let m = scrape(&o.url).await;
        assert_eq!(m.value("peerflow_orchestrator_streams_held", &[]), 1.0);
        transcoded += m.value(
            "peerflow_orchestrator_segment_stage_seconds_count",
            &[("stage", "transcode")],
        );
    }
    assert_eq!(
        transcoded, 6.0,
        "every transcoded segment's stages are counted"
    );

    // Every millisecond accounted: each published segment's time, stage by stage, in order.
    let s: serde_json::Value = reqwest::get(format!("{}/v1/streams/one", net.broadcaster_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stages: Vec<(&str, f64)> = s["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| {
            (
                st["stage"].as_str().unwrap(),
                st["meanMs"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        stages.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        peerflow_broadcaster::network::stats::STAGES,
        "{s}"
    );
    let of = |name: &str| stages.iter().find(|(n, _)| *n == name).unwrap().1;
    assert!(
        of("transcode") > 0.0 && of("verify") > 0.0 && of("pay") > 0.0,
        "{s}"
    );
    // The stages up to the renditions add up to the round trip from arrival to renditions.
    let before_publish: f64 = stages
        .iter()
        .filter(|(n, _)| !matches!(*n, "receive" | "publish"))
        .map(|(_, ms)| ms)
        .sum();
    let latency = s["latencyMs"]["mean"].as_f64().unwrap();
    assert!(
        (before_publish - latency).abs() < 0.05 * latency + 5.0,
        "stages {before_publish} ms vs latency {latency} ms: {s}"
    );
    assert_eq!(
        b.value(
            "peerflow_broadcaster_segment_stage_seconds_count",
            &[("stage", "publish")]
        ),
        6.0
    );
}
