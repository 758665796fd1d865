//! `./script/bench load`: more live streams than the network can carry. A devnet (two
//! orchestrators, each with a local transcoder that measured the machine at its start) gets K
//! concurrent 720p30 streams of 2 s segments, each pushed in real time (a segment every 2 s, the
//! next one sent when both its time has come and the previous one was answered, as ffmpeg does),
//! for K = 1, 2, 4, 8. Per K: streams taken on and refused (`no_capacity` on their first push),
//! segments published, push latency p50/p95, and how far the slowest stream ended behind real
//! time; then the K at which the first refusal came, beside the capacity the orchestrators
//! announce and what one stream asks of it. Rounds are 21 s apart, so that the streams of one
//! are no longer held (20 s after their last segment) when the next begins.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use peerflow::devnet::{DevnetOptions, start};
use peerflow_media::testsrc;

const SEGMENTS: usize = 5;
const SEGMENT_S: f64 = 2.0;
const ROUNDS: [usize; 4] = [1, 2, 4, 8];

/// One stream's pushes: (status, latency) per segment, and when its last answer came.
struct Pushed {
    answers: Vec<(u16, Duration)>,
    lag: Duration,
}

async fn stream(
    http: reqwest::Client,
    url: String,
    segments: Vec<Vec<u8>>,
    start: Instant,
) -> Pushed {
    let mut answers = Vec::new();
    for (seq, body) in segments.into_iter().enumerate() {
        let due = start + Duration::from_secs_f64(seq as f64 * SEGMENT_S);
        tokio::time::sleep_until(due.into()).await;
        let sent = Instant::now();
        let status = match http.put(format!("{url}/{seq}.ts")).body(body).send().await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        };
        answers.push((status, sent.elapsed()));
        if seq == 0 && status != 200 {
            break; // refused: a real encoder would stop too
        }
    }
    // Real time ends when the last segment's source has been recorded.
    let real_time = start + Duration::from_secs_f64(SEGMENTS as f64 * SEGMENT_S);
    Pushed {
        answers,
        lag: Instant::now().saturating_duration_since(real_time),
    }
}

/// The output pixels per second the devnet's orchestrators count on together (each one's
/// transcoders, as its admission estimates them).
async fn capacity(http: &reqwest::Client, net: &peerflow::devnet::Devnet) -> Result<u64> {
    let mut total = 0u64;
    for (_, o) in &net.orchestrators {
        let status: serde_json::Value = http
            .get(format!("{}/v1/status", o.url))
            .send()
            .await?
            .json()
            .await?;
        total += status["transcoders"]["pixelsPerSecond"]
            .as_u64()
            .context("transcoders.pixelsPerSecond")?;
    }
    Ok(total)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut options = DevnetOptions::new(dir.path());
    options.providers = 0;
    options.jurors = false;
    let net = start(&options).await?;
    let paths = testsrc::generate_segments(&dir.path().join("src"), SEGMENTS, 2, 1280, 720, 30)?;
    let segments: Vec<Vec<u8>> = paths.iter().map(std::fs::read).collect::<Result<_, _>>()?;
    let info = peerflow_media::probe_bytes(&segments[0])?;
    let per_frame: u64 = net
        .ladder
        .iter()
        .map(|p| u64::from(p.width) * u64::from(p.height))
        .sum();
    let demand = per_frame as f64 * info.frames as f64 / info.duration_s;
    let http = reqwest::Client::new();
    let announced = capacity(&http, &net).await?;
    println!("capacity_announced_pixels_per_s: {announced}");
    println!("stream_demand_pixels_per_s: {demand:.0}");
    println!(
        "capacity_announced_streams: {:.2}",
        announced as f64 / demand
    );

    let mut first_refusal = None;
    for (round, &k) in ROUNDS.iter().enumerate() {
        let start = Instant::now() + Duration::from_millis(200);
        let tasks: Vec<_> = (0..k)
            .map(|i| {
                tokio::spawn(stream(
                    http.clone(),
                    format!("{}/live/load{round}-{i}", net.broadcaster_url),
                    segments.clone(),
                    start,
                ))
            })
            .collect();
        let mut pushed = Vec::new();
        for t in tasks {
            pushed.push(t.await?);
        }
        let refused = pushed
            .iter()
            .filter(|p| p.answers.first().is_some_and(|(s, _)| *s == 503))
            .count();
        let accepted = pushed
            .iter()
            .filter(|p| p.answers.first().is_some_and(|(s, _)| *s == 200))
            .count();
        let mut published: Vec<Duration> = pushed
            .iter()
            .flat_map(|p| p.answers.iter().filter(|(s, _)| *s == 200).map(|(_, d)| *d))
            .collect();
        published.sort();
        let failed = pushed
            .iter()
            .filter(|p| p.answers.first().is_some_and(|(s, _)| *s == 200))
            .map(|p| p.answers.iter().filter(|(s, _)| *s != 200).count())
            .sum::<usize>();
        let lag = pushed
            .iter()
            .filter(|p| p.answers.first().is_some_and(|(s, _)| *s == 200))
            .map(|p| p.lag)
            .max()
            .unwrap_or_default();
        println!("k{k}_streams_accepted: {accepted}");
        println!("k{k}_streams_refused: {refused}");
        println!("k{k}_segments_published: {}", published.len());
        println!("k{k}_segments_failed_after_acceptance: {failed}");
        println!("k{k}_latency_p50_ms: {:.0}", percentile(&published, 0.5));
        println!("k{k}_latency_p95_ms: {:.0}", percentile(&published, 0.95));
        println!(
            "k{k}_slowest_stream_behind_real_time_ms: {}",
            lag.as_millis()
        );
        // What admission counts on now, corrected by what the round's jobs showed.
        println!(
            "k{k}_capacity_estimated_streams: {:.2}",
            capacity(&http, &net).await? as f64 / demand
        );
        if refused > 0 && first_refusal.is_none() {
            first_refusal = Some(k);
        }
        tokio::time::sleep(Duration::from_secs(21)).await;
    }
    match first_refusal {
        Some(k) => println!("first_refusal_at_k: {k}"),
        None => println!("first_refusal_at_k: none"),
    }
    Ok(())
}
