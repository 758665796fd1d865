//! `peerflow devnet --demo`: pushes a generated 20 s 720p stream with audio through the devnet the
//! way an encoder would, waits for the winning tickets to be redeemed, and prints what happened.

use std::time::{Duration, Instant};

use alloy::primitives::{U256, utils::format_ether};
use alloy::providers::ext::AnvilApi;
use anyhow::{Context, Result, ensure};
use peerflow_chain::bindings::{staking::Staking, ticket_broker::TicketBroker};
use peerflow_media::{probe, testsrc};
use peerflow_orchestrator::WinningTicketStatus;

use crate::devnet::Devnet;

/// On-chain money of the parties, at one moment.
struct Balances {
    deposit: U256,
    reserve: U256,
    fees: Vec<U256>,
}

async fn balances(net: &Devnet) -> Result<Balances> {
    let broker = TicketBroker::new(net.deployment.ticket_broker, &net.deployer);
    let staking = Staking::new(net.deployment.staking, &net.deployer);
    let info = broker.getSenderInfo(net.broadcaster).call().await?;
    let mut fees = Vec::new();
    for (o, _) in &net.orchestrators {
        fees.push(staking.pendingFees(*o).call().await?);
    }
    Ok(Balances {
        deposit: info.deposit,
        reserve: info.reserve,
        fees,
    })
}

pub async fn run(net: &Devnet, stream: &str) -> Result<()> {
    let work = net.data_dir().join("demo-source");
    println!("generating a 20 s 720p30 test stream with audio (ten 2 s MPEG-TS segments)…");
    let segments = testsrc::generate_segments(&work, 10, 2, 1280, 720, 30)?;
    let before = balances(net).await?;

    let http = reqwest::Client::new();
    let mut latencies = Vec::new();
    for (seq, path) in segments.iter().enumerate() {
        let body = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let started = Instant::now();
        let reply = http
            .put(format!("{}/live/{stream}/{seq}.ts", net.broadcaster_url))
            .body(body)
            .send()
            .await?;
        let status = reply.status();
        ensure!(
            status.is_success(),
            "segment {seq}: {status} {}",
            reply.text().await.unwrap_or_default()
        );
        latencies.push(started.elapsed());
        println!(
            "  segment {seq}: transcoded and published in {:.0} ms",
            latencies[seq].as_secs_f64() * 1e3
        );
    }

    println!("waiting for the ticket parameters to expire and the winning tickets to be redeemed…");
    net.deployer.anvil_mine(Some(20), None).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending: usize = net
            .orchestrators
            .iter()
            .map(|(_, o)| {
                o.node
                    .store()
                    .winning_tickets(WinningTicketStatus::Pending)
                    .map(|t| t.len())
                    .unwrap_or(0)
            })
            .sum();
        if pending == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let after = balances(net).await?;
    let status: serde_json::Value = http
        .get(format!("{}/v1/streams/{stream}", net.broadcaster_url))
        .send()
        .await?
        .json()
        .await?;
    summary(net, stream, &segments, &latencies, &before, &after)?;
    print_stages(&status);
    Ok(())
}

/// Where the segments' time went, stage by stage, as the broadcaster accounts it.
fn print_stages(status: &serde_json::Value) {
    let Some(stages) = status["stages"].as_array() else {
        return;
    };
    let total: f64 = stages.iter().filter_map(|s| s["meanMs"].as_f64()).sum();
    println!("where a segment's time goes (mean of {total:.0} ms):");
    for s in stages {
        let (Some(stage), Some(mean)) = (s["stage"].as_str(), s["meanMs"].as_f64()) else {
            continue;
        };
        println!(
            "  {stage:<13} {mean:>7.1} ms  {:>4.1} %",
            100.0 * mean / total.max(f64::MIN_POSITIVE)
        );
    }
}

fn summary(
    net: &Devnet,
    stream: &str,
    segments: &[std::path::PathBuf],
    latencies: &[Duration],
    before: &Balances,
    after: &Balances,
) -> Result<()> {
    let recordings = net.data_dir().join("broadcaster/recordings").join(stream);
    println!("\n== demo summary");
    println!("segments in:  {}", segments.len());
    for profile in &net.ladder {
        let dir = recordings.join(&profile.name);
        let out = (0..segments.len())
            .filter(|seq| dir.join(format!("{seq}.ts")).exists())
            .count();
        let sample = probe(&dir.join("0.ts"))?;
        println!(
            "segments out: {out} of rendition {} ({}x{} {}, audio {})",
            profile.name,
            sample.width,
            sample.height,
            sample.video_codec,
            sample.audio_codec.as_deref().unwrap_or("none")
        );
    }
    let (mut sent, mut won, mut redeemed) = (0, 0, 0);
    for (_, o) in &net.orchestrators {
        let store = o.node.store();
        sent += store.next_nonce(net.broadcaster)?;
        won += store.winning_tickets(WinningTicketStatus::Pending)?.len()
            + store.winning_tickets(WinningTicketStatus::Redeemed)?.len();
        redeemed += store.winning_tickets(WinningTicketStatus::Redeemed)?.len();
    }
    println!("tickets:      {sent} sent, {won} won, {redeemed} redeemed on-chain");
    println!(
        "broadcaster:  deposit {} → {} FLOW, reserve {} → {} FLOW",
        format_ether(before.deposit),
        format_ether(after.deposit),
        format_ether(before.reserve),
        format_ether(after.reserve)
    );
    for (i, (o, _)) in net.orchestrators.iter().enumerate() {
        println!(
            "orchestrator {o}: fees {} → {} FLOW",
            format_ether(before.fees[i]),
            format_ether(after.fees[i])
        );
    }
    let mut ms: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "latency:      per segment min {:.0} ms, median {:.0} ms, max {:.0} ms",
        ms[0],
        ms[ms.len() / 2],
        ms[ms.len() - 1]
    );
    println!(
        "playback:     {}/live/{stream}/index.m3u8 (recording: {})",
        net.broadcaster_url,
        recordings.display()
    );
    Ok(())
}
