//! `./script/bench rpc`: what the network costs a chain provider. A one-orchestrator devnet (every
//! ticket wins) carries a ten-segment stream and redeems its winners, twice: through a counting
//! stand-in that behaves like a plain local anvil (the reference), and through one that behaves
//! like a public provider (https, 500-block `eth_getLogs` cap, 1 % 503s and dropped connections,
//! 2 ms added) on a chain 50,000 blocks long. Prints the JSON-RPC requests per segment, counted
//! from the first push to the last winner redeemed (every role's background polling, the
//! payments and the redemption included), and some of them by method. (Winners are redeemed while
//! the stream goes on, as their parameters expire, so they are not counted apart.)

use std::time::{Duration, Instant};

use alloy::providers::ext::AnvilApi;
use anyhow::{Context, Result};
use peerflow::devnet::{DevnetOptions, start};
use peerflow_media::testsrc;
use peerflow_orchestrator::WinningTicketStatus;
use peerflow_rpc_standin::StandinConfig;

const SEGMENTS: usize = 10;

struct Run {
    per_segment: f64,
    get_logs_per_segment: f64,
    sent_transactions: u64,
    tickets: usize,
}

async fn run(public: bool) -> Result<Run> {
    let dir = tempfile::tempdir()?;
    let mut options = DevnetOptions::new(dir.path());
    options.orchestrators = 1;
    options.providers = 0;
    options.win_probability = 1.0;
    options.jurors = false;
    options.public_rpc = Some(if public {
        StandinConfig {
            unavailable_ppm: 10_000,
            drop_ppm: 10_000,
            latency: Duration::from_millis(2),
            ..StandinConfig::new("")
        }
    } else {
        StandinConfig {
            max_log_blocks: None,
            ..StandinConfig::new("")
        }
    });
    if public {
        options.history_blocks = 50_000;
    }
    let net = start(&options).await?;
    let standin = net.public_rpc.as_ref().context("stand-in")?;
    let segments = testsrc::generate_segments(&dir.path().join("src"), SEGMENTS, 2, 1280, 720, 30)?;
    let http = reqwest::Client::new();
    let before = standin.stats();
    for (seq, path) in segments.iter().enumerate() {
        let reply = http
            .put(format!("{}/live/bench/{seq}.ts", net.broadcaster_url))
            .body(std::fs::read(path)?)
            .send()
            .await?;
        anyhow::ensure!(
            reply.status().is_success(),
            "segment {seq}: {}",
            reply.status()
        );
    }
    // Let the last ticket parameters expire, then wait for every winner to be redeemed.
    net.deployer.anvil_mine(Some(20), None).await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    let (_, running) = &net.orchestrators[0];
    let tickets = loop {
        let (pending, redeemed) = {
            let store = running.node.store();
            (
                store.winning_tickets(WinningTicketStatus::Pending)?.len(),
                store.winning_tickets(WinningTicketStatus::Redeemed)?.len(),
            )
        };
        if pending == 0 && redeemed > 0 {
            break redeemed;
        }
        anyhow::ensure!(Instant::now() < deadline, "winners not redeemed in 5 min");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let after = standin.stats();
    let method = |name: &str| {
        after.forwarded.get(name).copied().unwrap_or(0)
            - before.forwarded.get(name).copied().unwrap_or(0)
    };
    Ok(Run {
        per_segment: (after.requests - before.requests) as f64 / SEGMENTS as f64,
        get_logs_per_segment: method("eth_getLogs") as f64 / SEGMENTS as f64,
        sent_transactions: method("eth_sendRawTransaction"),
        tickets,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> Result<()> {
    let local = run(false).await?;
    let public = run(true).await?;
    println!(
        "rpc_calls_per_segment_local_anvil_reference: {:.1}",
        local.per_segment
    );
    println!(
        "rpc_calls_per_segment_public_provider: {:.1}",
        public.per_segment
    );
    println!(
        "get_logs_per_segment_local_anvil_reference: {:.1}",
        local.get_logs_per_segment
    );
    println!(
        "get_logs_per_segment_public_provider: {:.1}",
        public.get_logs_per_segment
    );
    println!("transactions_sent_local: {}", local.sent_transactions);
    println!("transactions_sent_public: {}", public.sent_transactions);
    println!("redeemed_tickets_local: {}", local.tickets);
    println!("redeemed_tickets_public: {}", public.tickets);
    Ok(())
}
