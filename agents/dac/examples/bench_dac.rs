//! `./script/bench dac`: distributed average consensus over the real signed HTTP relay on loopback
//! (N relays in this process, each with its own key and server: on a 2-core machine the nodes
//! share it). For ring, 4-regular and complete topologies at N = 4, 8, 16, each node holding a
//! random 5-vector in [0, 1):
//! - `rounds`: the first averaging round after which every node is within 1e-9 of the true mean
//!   (measured from the nodes' trajectories), beside `rounds_theory`, the spectral bound's round
//!   count ⌈ln(1e-9 / (√N · spread)) / ln λ⌉ and λ itself (`rate`);
//! - `wall_ms`: the operation's wall time run to a 1e-9 target (extremes included);
//! - `bytes_per_node_round`: JSON bytes each node sent per round (all phases).
//!
//! Reference, same run: `signed_message_rtt_us`, one signed message relayed and acknowledged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use peerflow_dac::message::{AUTH_HEADER, Message, Phase, authorize};
use peerflow_dac::{Session, Topology, TopologyKind};
use peerflow_protocol::blobauth::RequestKey;

const TARGET: f64 = 1e-9;
const DIM: usize = 5;

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

async fn start(n: usize, topology: Topology, job: u64) -> Vec<Arc<Session>> {
    peerflow_dac::loopback::cluster(n as u32, job, topology, 9, Duration::from_secs(30))
        .await
        .unwrap()
        .sessions
}

async fn message_rtt() -> f64 {
    let relays = start(
        2,
        Topology {
            kind: TopologyKind::Complete,
            degree: 0,
            seed: 0,
        },
        1,
    )
    .await;
    let to = relays[1].config().peers[1].url.clone();
    let key = RequestKey::new([1; 32]).unwrap();
    let http = reqwest::Client::new();
    let runs = 300;
    let mut total = Duration::ZERO;
    for round in 0..runs {
        let body = serde_json::to_vec(&Message {
            from: 0,
            to: 1,
            op: 1_000,
            dropped: 0,
            phase: Phase::Average,
            round,
            values: vec![0.5; DIM],
            source: 0,
            source_signature: Default::default(),
        })
        .unwrap();
        let t = Instant::now();
        let r = http
            .post(format!("{to}/v1/dac/1/messages"))
            .header(AUTH_HEADER, authorize(&key, 1, &body))
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        total += t.elapsed();
    }
    total.as_secs_f64() * 1e6 / f64::from(runs)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("signed_message_rtt_us: {:.0}", message_rtt().await);
    let mut job = 10;
    for (name, kind) in [
        ("ring", TopologyKind::Ring),
        ("regular4", TopologyKind::Regular),
        ("complete", TopologyKind::Complete),
    ] {
        for n in [4usize, 8, 16] {
            job += 1;
            let topology = Topology {
                kind,
                degree: 4,
                seed: 1,
            };
            let sessions = start(n, topology, job).await;
            let mut rng = Lcg(job);
            let inputs: Vec<Vec<f64>> = (0..n)
                .map(|_| (0..DIM).map(|_| rng.next()).collect())
                .collect();
            let mean: Vec<f64> = (0..DIM)
                .map(|c| inputs.iter().map(|x| x[c]).sum::<f64>() / n as f64)
                .collect();
            let spread = (0..DIM)
                .map(|c| {
                    let col = inputs.iter().map(|x| x[c]);
                    col.clone().fold(f64::MIN, f64::max) - col.fold(f64::MAX, f64::min)
                })
                .fold(0.0, f64::max);
            let scale = inputs.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
            let started = Instant::now();
            let tasks: Vec<_> = sessions
                .iter()
                .zip(inputs)
                .map(|(s, x)| {
                    let s = Arc::clone(s);
                    tokio::spawn(async move { s.average(&x, Some(TARGET / scale)).await.unwrap() })
                })
                .collect();
            let mut outcome = None;
            for t in tasks {
                outcome = Some(t.await.unwrap());
            }
            let wall = started.elapsed();
            let outcome = outcome.unwrap();
            // The first round at which every node is within TARGET of the mean.
            let trajectories: Vec<Vec<Vec<f64>>> = sessions
                .iter()
                .map(|s| s.progress().pop().unwrap().rounds)
                .collect();
            let rounds_run = trajectories[0].len();
            let reached = (0..rounds_run)
                .find(|&r| {
                    trajectories
                        .iter()
                        .all(|t| t[r].iter().zip(&mean).all(|(v, m)| (v - m).abs() <= TARGET))
                })
                .map_or("not reached".to_string(), |r| r.to_string());
            let rate = outcome.rate;
            let theory = if rate < 1e-12 {
                1.0
            } else {
                ((TARGET / ((n as f64).sqrt() * spread)).ln() / rate.ln()).ceil()
            };
            let stats: Vec<_> = sessions.iter().map(|s| s.stats()).collect();
            let bytes: u64 = stats.iter().map(|s| s.bytes_sent).sum();
            let node_rounds: u64 = stats.iter().map(|s| s.rounds).sum();
            let p = format!("dac_{name}_n{n}");
            println!("{p}_rounds: {reached}");
            println!("{p}_rounds_theory: {theory:.0}");
            println!("{p}_rate: {rate:.4}");
            println!("{p}_wall_ms: {:.0}", wall.as_secs_f64() * 1e3);
            println!(
                "{p}_bytes_per_node_round: {:.0}",
                bytes as f64 / node_rounds.max(1) as f64
            );
            for s in &sessions {
                s.close();
            }
        }
    }
}
