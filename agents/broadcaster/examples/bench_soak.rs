//! `./script/bench soak`: the broadcaster's memory over a long run of streams starting and
//! ending. Prints one `name: value` line per figure.
//!
//! A broadcaster with the default limits runs in this process on a loopback port, with a local
//! processor that publishes each pushed segment as it is (one rendition, no chain, no transcode:
//! what is measured is the broadcaster, not an encoder) and keeps the network's per-stream
//! statistics ([`StreamStats`]) as the paying processor does. `PEERFLOW_SOAK_STREAMS` (default 8)
//! pushers each push a stream in real time, one generated 2 s 640x360 MPEG-TS segment every 2 s
//! (`peerflow_media::testsrc`, generated once), for `PEERFLOW_SOAK_STREAM_SECS` (default 60),
//! end it with `DELETE` and start the next under a new name; their starts are staggered so that
//! streams end all the time. The run lasts `PEERFLOW_SOAK_MINUTES` (default 30).
//!
//! - `rss_mb_idle_reference`: the process's resident memory (`VmRSS`) with the broadcaster up and
//!   the segments loaded, before any stream: the reference.
//! - `rss_mb_at_<t>`: resident memory every `PEERFLOW_SOAK_EVERY_SECS` (default 300, so `5min`,
//!   `10min`, …).
//! - `rss_growth_mb_after_first_<t>`: the last figure minus the first.
//! - `rss_mb_peak`: the most resident memory of the run (`VmHWM`).
//! - `streams_started`, `streams_ended`, `segments_pushed`, `push_failures`.
//! - `streams_in_memory_max` (live and ended, sampled every second) next to
//!   `streams_in_memory_bound` (`max_live_streams + max_ended_streams`), and
//!   `stream_stats_records_max`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use peerflow_broadcaster::network::stats::StreamStats;
use peerflow_broadcaster::{
    BoxFuture, BroadcasterConfig, IncomingSegment, ProcessError, RenditionOut, SegmentProcessor,
    Streams, router_and_streams,
};
use peerflow_media::testsrc;

const SEGMENT_S: u32 = 2;
const SOURCE_SEGMENTS: usize = 5;
const WIDTH: u32 = 640;
const HEIGHT: u32 = 360;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Publishes each segment as it came, as the paying processor would publish its renditions, and
/// keeps the same per-stream statistics.
struct LocalProcessor {
    stats: Arc<StreamStats>,
}

impl SegmentProcessor for LocalProcessor {
    fn process(
        &self,
        segment: IncomingSegment,
    ) -> BoxFuture<'static, Result<Vec<RenditionOut>, ProcessError>> {
        let stats = Arc::clone(&self.stats);
        Box::pin(async move {
            let started = Instant::now();
            stats.pushed(&segment.stream);
            let duration_s = segment.duration_hint.unwrap_or(f64::from(SEGMENT_S));
            let bandwidth_bps = (segment.bytes.len() as f64 * 8.0 / duration_s) as u64;
            let rendition = RenditionOut {
                name: "source".into(),
                width: WIDTH,
                height: HEIGHT,
                bandwidth_bps,
                codecs: Some("avc1.64001e,mp4a.40.2".into()),
                container: segment.format,
                bytes: segment.bytes,
                duration_s,
            };
            stats.published(&segment.stream, started.elapsed());
            Ok(vec![rendition])
        })
    }

    fn forget(&self, stream: &str) {
        self.stats.forget(stream);
    }
}

/// What the pushers did.
#[derive(Default)]
struct Tally {
    started: AtomicU64,
    ended: AtomicU64,
    pushed: AtomicU64,
    failed: AtomicU64,
    first_failure: std::sync::Mutex<Option<String>>,
}

impl Tally {
    fn fail(&self, what: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_failure.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert(what);
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T, Error> {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("{name}={text:?} is not a valid value").into()),
        Err(_) => Ok(default),
    }
}

/// A field of `/proc/self/status` in MiB (`VmRSS`, `VmHWM`; the kernel gives kB).
fn proc_status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let rest = line.strip_prefix(field)?.strip_prefix(':')?;
                rest.split_whitespace().next()?.parse::<f64>().ok()
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// `5min` for whole minutes, `30s` otherwise.
fn label(secs: u64) -> String {
    if secs.is_multiple_of(60) {
        format!("{}min", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// What every pusher shares.
#[derive(Clone)]
struct Pushers {
    base: String,
    client: reqwest::Client,
    segments: Arc<Vec<Bytes>>,
    lifetime: Duration,
    deadline: Instant,
    tally: Arc<Tally>,
}

/// Pushes streams one after the other until the deadline, the first after `delay`.
async fn pusher(slot: usize, delay: Duration, p: Pushers) {
    let Pushers {
        base,
        client,
        segments,
        lifetime,
        deadline,
        tally,
    } = p;
    tokio::time::sleep(delay).await;
    let period = Duration::from_secs(u64::from(SEGMENT_S));
    let per_stream = (lifetime.as_secs_f64() / period.as_secs_f64())
        .ceil()
        .max(1.0) as u64;
    let mut n = 0u64;
    while Instant::now() < deadline {
        let stream = format!("soak-{slot}-{n}");
        n += 1;
        tally.started.fetch_add(1, Ordering::Relaxed);
        let start = tokio::time::Instant::now();
        for seq in 0..per_stream {
            if Instant::now() >= deadline {
                break;
            }
            let body = segments[seq as usize % segments.len()].clone();
            let url = format!("{base}/live/{stream}/{seq}.ts");
            let sent = client
                .put(&url)
                .header("content-duration", (SEGMENT_S * 1000).to_string())
                .body(body)
                .send()
                .await;
            match sent {
                Ok(reply) if reply.status().is_success() => {
                    tally.pushed.fetch_add(1, Ordering::Relaxed);
                }
                Ok(reply) => {
                    let status = reply.status();
                    let text = reply.text().await.unwrap_or_default();
                    tally.fail(format!("PUT {url}: {status} {text}"));
                }
                Err(err) => tally.fail(format!("PUT {url}: {err}")),
            }
            let next = start + period * u32::try_from(seq + 1).unwrap_or(u32::MAX);
            tokio::time::sleep_until(next).await;
        }
        match client.delete(format!("{base}/live/{stream}")).send().await {
            Ok(reply) if reply.status().is_success() => {
                tally.ended.fetch_add(1, Ordering::Relaxed);
            }
            Ok(reply) => tally.fail(format!("DELETE {stream}: {}", reply.status())),
            Err(err) => tally.fail(format!("DELETE {stream}: {err}")),
        }
    }
}

/// The most streams in memory and statistics records seen, sampled every second.
#[derive(Default)]
struct Peaks {
    streams: AtomicUsize,
    records: AtomicUsize,
}

async fn watch(streams: Streams, stats: Arc<StreamStats>, peaks: Arc<Peaks>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let counts = streams.counts();
        peaks
            .streams
            .fetch_max(counts.live + counts.ended, Ordering::Relaxed);
        peaks.records.fetch_max(stats.len(), Ordering::Relaxed);
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let minutes: f64 = env_or("PEERFLOW_SOAK_MINUTES", 30.0)?;
    let every_secs: u64 = env_or("PEERFLOW_SOAK_EVERY_SECS", 300)?;
    let concurrent: usize = env_or("PEERFLOW_SOAK_STREAMS", 8)?;
    let lifetime = Duration::from_secs(env_or("PEERFLOW_SOAK_STREAM_SECS", 60)?);
    if minutes.is_nan() || minutes <= 0.0 || every_secs == 0 || concurrent == 0 {
        return Err("PEERFLOW_SOAK_MINUTES, PEERFLOW_SOAK_EVERY_SECS and PEERFLOW_SOAK_STREAMS must be positive".into());
    }
    let total = Duration::from_secs_f64(minutes * 60.0);

    let work = tempfile::tempdir()?;
    let source = work.path().join("source");
    let paths = tokio::task::spawn_blocking(move || {
        testsrc::generate_segments(&source, SOURCE_SEGMENTS, SEGMENT_S, WIDTH, HEIGHT, 30)
    })
    .await??;
    let mut segments = Vec::with_capacity(paths.len());
    for path in &paths {
        segments.push(Bytes::from(tokio::fs::read(path).await?));
    }
    let segments = Arc::new(segments);

    let config = BroadcasterConfig::new(work.path().join("broadcaster"));
    let bound = config.max_streams_in_memory();
    let stats = Arc::new(StreamStats::with_capacity(bound));
    let processor = LocalProcessor {
        stats: Arc::clone(&stats),
    };
    let (app, streams) = router_and_streams(config, Arc::new(processor));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();

    tokio::time::sleep(Duration::from_secs(1)).await;
    println!("rss_mb_idle_reference: {:.1}", proc_status_mb("VmRSS"));

    let start = Instant::now();
    let deadline = start + total;
    let tally = Arc::new(Tally::default());
    let peaks = Arc::new(Peaks::default());
    let watcher = tokio::spawn(watch(
        streams.clone(),
        Arc::clone(&stats),
        Arc::clone(&peaks),
    ));
    let shared = Pushers {
        base,
        client,
        segments,
        lifetime,
        deadline,
        tally: Arc::clone(&tally),
    };
    let pushers: Vec<_> = (0..concurrent)
        .map(|slot| {
            let delay = lifetime.mul_f64(slot as f64 / concurrent as f64);
            tokio::spawn(pusher(slot, delay, shared.clone()))
        })
        .collect();

    let mut figures = Vec::new();
    let mut at = every_secs;
    while Duration::from_secs(at) <= total {
        tokio::time::sleep_until((start + Duration::from_secs(at)).into()).await;
        let rss = proc_status_mb("VmRSS");
        println!("rss_mb_at_{}: {rss:.1}", label(at));
        figures.push(rss);
        at += every_secs;
    }
    for pusher in pushers {
        pusher.await?;
    }
    watcher.abort();
    server.abort();

    if let (Some(first), Some(last)) = (figures.first(), figures.last()) {
        println!(
            "rss_growth_mb_after_first_{}: {:.1}",
            label(every_secs),
            last - first
        );
    }
    println!("rss_mb_peak: {:.1}", proc_status_mb("VmHWM"));
    println!("streams_started: {}", tally.started.load(Ordering::Relaxed));
    println!("streams_ended: {}", tally.ended.load(Ordering::Relaxed));
    println!("segments_pushed: {}", tally.pushed.load(Ordering::Relaxed));
    println!("push_failures: {}", tally.failed.load(Ordering::Relaxed));
    println!(
        "streams_in_memory_max: {}",
        peaks.streams.load(Ordering::Relaxed)
    );
    println!("streams_in_memory_bound: {bound}");
    println!(
        "stream_stats_records_max: {}",
        peaks.records.load(Ordering::Relaxed)
    );
    if let Some(failure) = tally
        .first_failure
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    {
        eprintln!("first failure: {failure}");
    }
    Ok(())
}
