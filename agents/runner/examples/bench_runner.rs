//! Measures the runner's fixed costs on this host and prints `name: value` lines:
//!
//! - `bare_process_spawn_ms`: spawning `busybox true` as a plain child process (median).
//! - `container_start_overhead_ms`: create → running → exit of a `true` container, minus the
//!   bare spawn (median); `container_run_total_ms` is the whole [`Runner::run`] (inputs,
//!   logs, outputs, removal included).
//! - `metering_overhead_cpu_percent_<interval>`: the CPU time this process spends during a
//!   10 s `sleep` job metered every 1 s and every 0.1 s, beyond the same job with sampling
//!   effectively off, relative to one core.
//!
//! Run with `cargo run --release -p peerflow-runner --example bench_runner` (needs dockerd).

use std::process::Command;
use std::time::{Duration, Instant};

use peerflow_runner::testimage::{BUSYBOX_PATH, busybox_image};
use peerflow_runner::{DiscardLogs, Engine, RunSpec, Runner, RunnerError};

const SPAWNS: usize = 30;
const CONTAINERS: usize = 10;
const METERED_JOB: Duration = Duration::from_secs(10);

/// CPU time of this whole process (all threads, exited ones included).
fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass and nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

fn bare_spawn() -> f64 {
    let times = (0..SPAWNS)
        .map(|_| {
            let t = Instant::now();
            let status = Command::new(BUSYBOX_PATH)
                .arg("true")
                .status()
                .expect("spawn busybox");
            assert!(status.success());
            t.elapsed()
        })
        .collect();
    median_ms(times)
}

/// CPU used by this process while a `sleep` job runs with the given sampling interval.
async fn metered_cpu(
    runner: &Runner,
    image: &str,
    interval: Duration,
) -> Result<Duration, RunnerError> {
    let runner = runner.clone().with_sample_interval(interval);
    let mut spec = RunSpec::shell(image, &format!("sleep {}", METERED_JOB.as_secs()));
    spec.limits.timeout = METERED_JOB * 3;
    let label = format!(
        "bench-meter-{}-{}",
        interval.as_millis(),
        std::process::id()
    );
    let before = process_cpu();
    let outcome = runner.run(&spec, &label, &mut DiscardLogs, None).await?;
    let used = process_cpu() - before;
    assert_eq!(outcome.exit_code, 0);
    Ok(used)
}

#[tokio::main]
async fn main() -> Result<(), RunnerError> {
    let engine = Engine::connect().await?;
    let image = busybox_image(&engine).await?;
    let runner = Runner::new(engine);

    let bare = bare_spawn();
    println!("bare_process_spawn_ms: {bare:.2}");

    let mut lifecycle = Vec::new();
    let mut total = Vec::new();
    for i in 0..CONTAINERS {
        let spec = RunSpec::new(&image, vec!["true".to_string()]);
        let label = format!("bench-start-{i}-{}", std::process::id());
        let t = Instant::now();
        let outcome = runner.run(&spec, &label, &mut DiscardLogs, None).await?;
        total.push(t.elapsed());
        assert_eq!(outcome.exit_code, 0);
        let ran = outcome
            .finished_at
            .duration_since(outcome.started_at)
            .unwrap_or_default();
        lifecycle.push(outcome.create_to_running + ran);
    }
    let lifecycle = median_ms(lifecycle);
    println!("container_create_to_exit_ms: {lifecycle:.2}");
    println!("container_start_overhead_ms: {:.2}", lifecycle - bare);
    println!("container_run_total_ms: {:.2}", median_ms(total));

    // "Unmetered": one sample at the start, none after.
    let baseline = metered_cpu(&runner, &image, Duration::from_secs(3600)).await?;
    println!(
        "unmetered_job_process_cpu_ms: {:.2}",
        baseline.as_secs_f64() * 1e3
    );
    for (name, interval) in [
        ("1s", Duration::from_secs(1)),
        ("100ms", Duration::from_millis(100)),
    ] {
        let used = metered_cpu(&runner, &image, interval).await?;
        let extra = used.saturating_sub(baseline).as_secs_f64();
        println!(
            "metered_{name}_job_process_cpu_ms: {:.2}",
            used.as_secs_f64() * 1e3
        );
        let percent = extra / METERED_JOB.as_secs_f64() * 100.0;
        println!("metering_overhead_cpu_percent_{name}: {percent:.4}");
        if name == "1s" {
            println!("metering_overhead_cpu_percent: {percent:.4}");
        }
    }
    Ok(())
}
