//! `./script/bench lease`: what a lease costs beside what it buys. On anvil (a block a second) with
//! a provider and a buyer in this process and the local dockerd:
//! - `lease_open_ms`: from reading the provider's offer to a first command returning in the new
//!   lease's container (median of 5), beside `container_start_overhead_ms`, the runner's
//!   create-to-exit of `true` less a bare process spawn, measured here too;
//! - payment per interval (one ticket each): tickets, JSON body bytes exchanged (the intervals
//!   read, the tickets sent and their replies; HTTP headers not counted), and the CPU time of
//!   this process (provider metering and validating, buyer checking and signing) per interval,
//!   beside the CPU time the lease's busy workload used per interval;
//! - on-chain cost: gas of the redemptions of this run's winning tickets (every ticket wins
//!   here), and the gas of a lease-hour at the default interval (5 s) and win probability (0.05),
//!   where every winner is redeemed alone. `./script/bench lease` prints the escrowed-job path's
//!   gas for the same work beside it (forge, same run).

use std::time::{Duration, Instant};

use alloy::primitives::{U256, utils::parse_ether};
use alloy::providers::Provider;
use anyhow::{Context, Result};
use peerflow::provider::{ProviderOpts, start_provider};
use peerflow::roles::{NodeOpts, provider};
use peerflow_chain::actions::{fund_sender, give};
use peerflow_chain::bindings::ticket_broker::TicketBroker;
use peerflow_chain::{DevChain, DevChainOptions, SuiteParams, deploy_suite};
use peerflow_lease::buyer::Payer;
use peerflow_lease::buyer::client::LeaseClient;
use peerflow_lease::buyer::store::BuyerStore;
use peerflow_lease::{LeaseKey, OpenRequest};
use peerflow_protocol::TicketDomain;

const OPENS: usize = 5;
const INTERVALS: u64 = 20;
/// One interval a block (anvil mines one a second): winners come due one at a time, as at the
/// defaults, where a winner is rare.
const INTERVAL_S: f64 = 1.0;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CPU seconds this process has used (user + system, every thread).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat (utime, stime), counted after the command's ')'.
    (ticks(11) + ticks(12)) / clock_ticks()
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

async fn container_start_overhead_ms() -> Result<f64> {
    use peerflow_runner::{DiscardLogs, Engine, RunSpec, Runner};
    let bare = {
        let t = Instant::now();
        for _ in 0..20 {
            std::process::Command::new("true").status()?;
        }
        t.elapsed().as_secs_f64() * 1000.0 / 20.0
    };
    let runner = Runner::new(Engine::connect().await?);
    let image = peerflow_runner::testimage::busybox_image(runner.engine()).await?;
    let mut runs = Vec::new();
    for k in 0..5 {
        let spec = RunSpec::new(&image, vec!["true".to_string()]);
        let t = Instant::now();
        runner
            .run(&spec, &format!("bench-lease-{k}"), &mut DiscardLogs, None)
            .await?;
        runs.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(median(runs) - bare)
}

#[tokio::main]
async fn main() -> Result<()> {
    let chain = DevChain::spawn_with(&DevChainOptions {
        block_time: Some(1),
        ..DevChainOptions::default()
    })?;
    let deployer = provider(&chain.endpoint(), chain.signer(0))?;
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0))).await?;
    give(&deployer, &d, chain.address(1), parse_ether("1000")?).await?;
    let buyer_chain = provider(&chain.endpoint(), chain.signer(1))?;
    fund_sender(&buyer_chain, &d, parse_ether("500")?, U256::ZERO).await?;
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let opts = ProviderOpts {
        node: NodeOpts {
            listen: Some(([127, 0, 0, 1], port).into()),
            data_dir: Some(dir.path().join("provider")),
            ..Default::default()
        },
        cpus: Some(1.0),
        memory: Some("512M".into()),
        rates: Some("1e15,1e12,1e13".into()),
        lease_interval_secs: Some(INTERVAL_S),
        lease_credit_intervals: Some(8),
        lease_win_probability: Some(1.0),
        lease_params_blocks: Some(1),
        redeem_max_cost_ppm: Some(u64::MAX / 2),
        max_leases: Some(OPENS + 1),
        ..Default::default()
    };
    let p = start_provider(
        provider(&chain.endpoint(), chain.signer(2))?,
        chain.address(2),
        chain.secret_key(2),
        &d,
        &opts,
        true,
    )
    .await?;
    let client = LeaseClient::new(LeaseKey::new(chain.secret_key(1))?);
    let req = OpenRequest {
        milli_cpus: 1000,
        memory_mb: 64,
        gpus: 0,
        image: None,
        ports: vec![],
        port_readers: vec![],
    };

    // Open latency: offer, open, first command.
    let mut open_ms = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..OPENS {
        let t = Instant::now();
        client.offer(&p.url).await?;
        let view = client.open(&p.url, &req).await?;
        let (code, _, _) = client.run(&p.url, &view.id, &["true"]).await?;
        anyhow::ensure!(code == 0, "`true` exited {code}");
        open_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        ids.push(view);
    }
    for v in &ids[1..] {
        client.close(&p.url, &v.id).await?;
    }
    let lease = &ids[0];

    // Payment: one lease kept busy, paid every interval.
    let mut store = BuyerStore::open(&dir.path().join("buyer/leases.sqlite"))?;
    store.insert(&lease.id, &p.url, &lease.terms, lease.opened_ms)?;
    let payer = Payer::new(
        client.clone(),
        TicketDomain {
            chain_id: d.chain_id,
            broker: d.ticket_broker,
        },
    );
    let busy = {
        let (client, url, id) = (client.clone(), p.url.clone(), lease.id.clone());
        tokio::spawn(async move {
            let _ = client
                .run(&url, &id, &["sh", "-c", "while :; do :; done"])
                .await;
        })
    };
    // Settle what came before the busy loop, then count.
    let first = payer.pay_lease(&mut store, &lease.id).await?;
    anyhow::ensure!(first.refused.is_none(), "refused: {:?}", first.refused);
    let start_seq = store.get(&lease.id)?.context("the lease")?.next_seq;
    let cpu_before = cpu_seconds();
    let mut tickets = 0u64;
    let bytes_before = client.json_bytes();
    let deadline =
        Instant::now() + Duration::from_secs_f64(INTERVAL_S * INTERVALS as f64 * 6.0 + 20.0);
    while store.get(&lease.id)?.context("the lease")?.next_seq < start_seq + INTERVALS {
        anyhow::ensure!(Instant::now() < deadline, "the lease was not paid in time");
        let progress = payer.pay_lease(&mut store, &lease.id).await?;
        if let Some(why) = progress.refused {
            anyhow::bail!("the buyer refused an interval: {why}");
        }
        tickets += progress.tickets;
        tokio::time::sleep(Duration::from_secs_f64(INTERVAL_S / 2.0)).await;
    }
    let cpu = cpu_seconds() - cpu_before;
    let bytes = client.json_bytes() - bytes_before;
    let paid = store.get(&lease.id)?.context("the lease")?.next_seq - start_seq;
    let intervals = client
        .intervals(&p.url, &lease.id, start_seq)
        .await?
        .intervals;
    let workload_cpu: f64 = intervals
        .iter()
        .take(paid as usize)
        .map(|i| i.usage.cpu_seconds)
        .sum();
    let wall: f64 = intervals
        .iter()
        .take(paid as usize)
        .map(|i| i.usage.wall_seconds)
        .sum();
    client.close(&p.url, &lease.id).await?;
    payer.pay_lease(&mut store, &lease.id).await?;
    busy.abort();

    // Gas of this run's redemptions: wait for the last winners.
    let broker = TicketBroker::new(d.ticket_broker, &deployer);
    let mut gas_per_tx = Vec::new();
    let mut redeemed = 0usize;
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        let events = broker
            .WinningTicketRedeemed_filter()
            .from_block(0)
            .query()
            .await?;
        redeemed = events.len();
        if redeemed as u64 >= tickets {
            // In chain order: the first redemption also pays for the provider's first token
            // balance and is left out of the single-ticket figure below.
            let mut per_tx: Vec<(Option<alloy::primitives::B256>, usize)> = Vec::new();
            for (_, log) in &events {
                match per_tx.last_mut() {
                    Some((h, n)) if *h == log.transaction_hash => *n += 1,
                    _ => per_tx.push((log.transaction_hash, 1)),
                }
            }
            for (hash, n) in per_tx {
                let receipt = deployer
                    .get_transaction_receipt(hash.context("a mined log")?)
                    .await?
                    .context("a receipt")?;
                gas_per_tx.push((n, receipt.gas_used));
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let singles: Vec<f64> = gas_per_tx
        .iter()
        .skip(1)
        .filter(|(n, _)| *n == 1)
        .map(|(_, g)| *g as f64)
        .collect();
    let per_ticket = gas_per_tx.iter().map(|(_, g)| *g as f64).sum::<f64>()
        / gas_per_tx
            .iter()
            .map(|(n, _)| *n as f64)
            .sum::<f64>()
            .max(1.0);
    let single = if singles.is_empty() {
        per_ticket
    } else {
        median(singles)
    };
    // Defaults: a 5 s interval, winProb 0.05: 36 winners an hour, each redeemed alone.
    let winners_per_hour = 3600.0 / 5.0 * 0.05;

    println!("lease_open_ms: {:.1}", median(open_ms));
    println!(
        "container_start_overhead_ms: {:.1}",
        container_start_overhead_ms().await?
    );
    println!(
        "lease_intervals_paid: {paid} (set to {INTERVAL_S} s, metered every {:.2} s; win probability 1)",
        wall / paid.max(1) as f64
    );
    println!(
        "lease_tickets_per_interval: {:.2}",
        tickets as f64 / paid.max(1) as f64
    );
    println!(
        "lease_payment_bytes_per_interval: {:.0}",
        bytes as f64 / paid.max(1) as f64
    );
    println!(
        "lease_payment_cpu_ms_per_interval: {:.2} (provider and buyer in one process)",
        cpu * 1000.0 / paid.max(1) as f64
    );
    println!(
        "lease_workload_cpu_ms_per_interval: {:.1}",
        workload_cpu * 1000.0 / paid.max(1) as f64
    );
    println!(
        "lease_redemptions_measured: {redeemed} tickets in {} transactions",
        gas_per_tx.len()
    );
    println!("lease_redemption_gas_single: {single:.0}");
    println!("lease_redemption_gas_per_ticket: {per_ticket:.0}");
    println!(
        "lease_hour_gas_defaults: {:.0} ({winners_per_hour} winners)",
        single * winners_per_hour
    );
    drop(p);
    Ok(())
}
