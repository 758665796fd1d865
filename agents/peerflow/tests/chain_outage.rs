//! A chain outage never stops video: the devnet's anvil is stopped (SIGSTOP: every RPC call hangs,
//! as behind a dead provider) for 60 s in the middle of a 40 s live stream. Every segment is
//! pushed in real time and published, each push answered in bounded time, on the orchestrators
//! found before the outage; winning tickets wait in the orchestrators' queues and are all redeemed
//! once the chain answers again.

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use common::proxy::push;
use peerflow::devnet::{DevnetOptions, start};
use peerflow_chain::bindings::ticket_broker::TicketBroker;
use peerflow_media::testsrc;
use peerflow_orchestrator::WinningTicketStatus;

/// Stops or continues a process (`kill -STOP|-CONT`).
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

/// Continues the chain even when the test fails midway, so no stopped anvil is left behind.
struct Resume(u32);

impl Drop for Resume {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_minute_without_the_chain_loses_no_segment_and_no_winning_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = DevnetOptions::new(dir.path());
    // Every ticket wins, so the outage certainly holds winners for the queue.
    options.win_probability = 1.0;
    let net = start(&options).await.unwrap();
    let segments =
        testsrc::generate_segments(&dir.path().join("src"), 20, 2, 640, 360, 30).unwrap();

    // Live: a 2 s segment every 2 s; the chain stops after the fourth and stays stopped for 60 s,
    // past the stream's end.
    let pid = net.chain.pid();
    let mut resume = None;
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for (seq, segment) in segments.iter().enumerate() {
        if seq == 4 {
            signal(pid, "-STOP");
            resume = Some((Resume(pid), Instant::now()));
        }
        let due = started + Duration::from_secs(2 * seq as u64);
        tokio::time::sleep_until(due.into()).await;
        let pushed = Instant::now();
        push(&net, "outage", seq, segment).await;
        slowest = slowest.max(pushed.elapsed());
    }
    let (guard, stopped_at) = resume.expect("the chain was stopped");
    // Every push was answered, well inside the outage (the orchestrators serve from the last head
    // and funds read; the broadcaster from the orchestrators it found before).
    assert!(
        slowest < Duration::from_secs(30),
        "a push took {slowest:?} during the outage"
    );
    let published = reqwest::get(format!("{}/live/outage/index.m3u8", net.broadcaster_url))
        .await
        .unwrap();
    assert_eq!(published.status(), 200);
    for profile in &net.ladder {
        let recorded = dir
            .path()
            .join("broadcaster/recordings/outage")
            .join(&profile.name);
        for seq in 0..segments.len() {
            assert!(
                recorded.join(format!("{seq}.ts")).exists(),
                "{} segment {seq} was published",
                profile.name
            );
        }
    }

    // The chain comes back after 60 s.
    tokio::time::sleep_until((stopped_at + Duration::from_secs(60)).into()).await;
    signal(pid, "-CONT");
    drop(guard);

    // Every winner any orchestrator queued is redeemed on-chain, none fails.
    let deadline = Instant::now() + Duration::from_secs(240);
    let (winners, redeemed_value) = loop {
        let mut pending = 0;
        let mut failed = 0;
        let mut redeemed = 0u64;
        let mut value = U256::ZERO;
        for (_, o) in &net.orchestrators {
            let store = o.node.store();
            pending += store
                .winning_tickets(WinningTicketStatus::Pending)
                .unwrap()
                .len();
            failed += store
                .winning_tickets(WinningTicketStatus::Failed)
                .unwrap()
                .len();
            let (n, v) = store
                .winning_summary(WinningTicketStatus::Redeemed)
                .unwrap();
            redeemed += n;
            value += v;
        }
        assert_eq!(failed, 0, "a winning ticket failed to redeem");
        if pending == 0 && redeemed > 0 {
            break (redeemed, value);
        }
        assert!(
            Instant::now() < deadline,
            "{pending} winners still pending, {redeemed} redeemed"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    // The chain agrees: the broker paid out exactly what the queues say was redeemed.
    let events = TicketBroker::new(net.deployment.ticket_broker, &net.deployer)
        .WinningTicketRedeemed_filter()
        .from_block(0)
        .query()
        .await
        .unwrap();
    assert_eq!(events.len() as u64, winners, "redemptions on-chain");
    let paid: U256 = events.iter().map(|(e, _)| e.faceValue).sum();
    assert_eq!(paid, redeemed_value, "face value paid on-chain");
}
