//! Metering a job from its cgroups: periodic samples while it runs, final figures after.
//!
//! # Why a parent cgroup per job
//!
//! runc removes a container's cgroup as soon as the container exits, taking its counters with
//! it, so whatever happened after the last sample would be lost. Each job's container therefore
//! gets a `cgroup_parent` of its own, `/peerflow/<job label>` ([`crate::cgroup::JobCgroup`]);
//! the parent's counters are hierarchical and outlive the child. After the container has exited
//! the runner reads the final figures from the parent, then removes it.
//!
//! What was verified on the development host (kernel 6.18, cgroup v1, cgroupfs driver, dockerd
//! 20.10, overlay2 on ext4), by running a container under `/peerflow/<x>`, letting it exit and
//! reading the parent afterwards:
//!
//! - `cpuacct.usage` of the parent keeps the child's CPU time: exact final CPU figure.
//! - `memory.max_usage_in_bytes` of the parent keeps the child's peak: exact peak memory.
//!   (`memory.usage_in_bytes` of the parent keeps only the page cache reparented to it.)
//! - `blkio.throttle.io_service_bytes_recursive` does **not** survive: on v1 the recursive
//!   figure sums live descendants only, and it drops to zero when the child is removed.
//!   Moreover, on this 6.x kernel blk-throttle is initialised lazily and all v1 blkio counters
//!   stay at zero until a throttle limit has been written for the device once
//!   ([`crate::cgroup::JobCgroup::enable_io_accounting`] does that), and v1 never charges
//!   buffered writeback to the writer's cgroup. So I/O is sampled while the job runs, as the
//!   larger of the container's blkio counters and the sum of `/proc/<pid>/io`
//!   (`read_bytes`, `write_bytes`) over its processes (a process's figures include its reaped
//!   children). I/O done after the last sample is lost on v1: keep the interval short
//!   where I/O matters (calibration uses 100 ms).
//! - On cgroup v2, `cpu.stat`, `memory.peak` and `io.stat` of the parent all include removed
//!   children, so the final I/O figure comes from the parent there too (not exercised here: the
//!   host has v1).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cgroup::{Counters, JobCgroup, task_io};

/// How often a running job is sampled by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);

/// One reading of a running container's counters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UsageSample {
    /// Time since the container started.
    pub at: Duration,
    /// CPU time so far.
    pub cpu_seconds: f64,
    /// Memory in use.
    pub memory_bytes: u64,
    /// Bytes read from storage so far.
    pub io_read_bytes: u64,
    /// Bytes written to storage so far.
    pub io_write_bytes: u64,
}

/// What a job consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// CPU time (all cores together).
    pub cpu_seconds: f64,
    /// Highest memory use.
    pub peak_memory_bytes: u64,
    /// Memory in MiB integrated over time (from the samples, trapezoidal; the last sample's
    /// value is held until the job ends).
    pub memory_mb_seconds: f64,
    /// Bytes read from storage.
    pub io_read_bytes: u64,
    /// Bytes written to storage.
    pub io_write_bytes: u64,
    /// Wall time from start to exit.
    pub wall_seconds: f64,
}

impl Usage {
    /// Storage I/O in MiB, read and written together.
    pub fn io_mb(&self) -> f64 {
        (self.io_read_bytes + self.io_write_bytes) as f64 / MIB
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// Samples a running container until stopped.
#[derive(Debug)]
pub(crate) struct Sampler {
    stop: CancellationToken,
    task: JoinHandle<Vec<UsageSample>>,
}

impl Sampler {
    /// Starts sampling the container every `interval` (the first sample at once).
    pub(crate) fn start(
        cgroup: JobCgroup,
        container_id: String,
        started: Instant,
        interval: Duration,
    ) -> Sampler {
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            let mut samples: Vec<UsageSample> = Vec::new();
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = ticker.tick() => {}
                }
                let counters = cgroup.read_container(&container_id);
                let Some(cpu_ns) = counters.cpu_ns else {
                    // The cgroup is gone: the container has exited.
                    continue;
                };
                let pids = cgroup.container_pids(&container_id);
                samples.push(sample(
                    started.elapsed(),
                    cpu_ns,
                    &counters,
                    &pids,
                    samples.last(),
                ));
            }
            samples
        });
        Sampler { stop, task }
    }

    /// Stops sampling and returns the samples.
    pub(crate) async fn stop(self) -> Vec<UsageSample> {
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}

fn sample(
    at: Duration,
    cpu_ns: u64,
    counters: &Counters,
    pids: &[u32],
    previous: Option<&UsageSample>,
) -> UsageSample {
    let (task_read, task_write) = pids
        .iter()
        .filter_map(|&p| task_io(p))
        .fold((0u64, 0u64), |(r, w), (a, b)| (r + a, w + b));
    let prev_read = previous.map_or(0, |p| p.io_read_bytes);
    let prev_write = previous.map_or(0, |p| p.io_write_bytes);
    UsageSample {
        at,
        cpu_seconds: cpu_ns as f64 / 1e9,
        memory_bytes: counters.memory_bytes.unwrap_or(0),
        io_read_bytes: prev_read
            .max(task_read)
            .max(counters.io_read_bytes.unwrap_or(0)),
        io_write_bytes: prev_write
            .max(task_write)
            .max(counters.io_write_bytes.unwrap_or(0)),
    }
}

/// Combines the samples and the parent cgroup's final counters into the job's usage.
pub(crate) fn summarize(samples: &[UsageSample], parent: &Counters, wall: Duration) -> Usage {
    let last = samples.last();
    let sampled_cpu = last.map_or(0.0, |s| s.cpu_seconds);
    let sampled_peak = samples.iter().map(|s| s.memory_bytes).max().unwrap_or(0);
    Usage {
        cpu_seconds: parent
            .cpu_ns
            .map_or(sampled_cpu, |ns| (ns as f64 / 1e9).max(sampled_cpu)),
        peak_memory_bytes: parent.memory_peak_bytes.unwrap_or(0).max(sampled_peak),
        memory_mb_seconds: memory_integral(samples, wall),
        io_read_bytes: parent
            .io_read_bytes
            .unwrap_or(0)
            .max(last.map_or(0, |s| s.io_read_bytes)),
        io_write_bytes: parent
            .io_write_bytes
            .unwrap_or(0)
            .max(last.map_or(0, |s| s.io_write_bytes)),
        wall_seconds: wall.as_secs_f64(),
    }
}

/// ∫ memory dt in MiB·s: trapezoids between samples, the last value held until `end`.
pub(crate) fn memory_integral(samples: &[UsageSample], end: Duration) -> f64 {
    let mut total = 0.0;
    for pair in samples.windows(2) {
        let dt = pair[1].at.saturating_sub(pair[0].at).as_secs_f64();
        total += dt * (pair[0].memory_bytes + pair[1].memory_bytes) as f64 / 2.0 / MIB;
    }
    if let Some(last) = samples.last() {
        total += end.saturating_sub(last.at).as_secs_f64() * last.memory_bytes as f64 / MIB;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(at_ms: u64, cpu: f64, mem_mib: u64, io: u64) -> UsageSample {
        UsageSample {
            at: Duration::from_millis(at_ms),
            cpu_seconds: cpu,
            memory_bytes: mem_mib << 20,
            io_read_bytes: io,
            io_write_bytes: io,
        }
    }

    #[test]
    fn integral_is_trapezoidal_and_holds_the_last_value() {
        let samples = [s(0, 0.0, 0, 0), s(1000, 0.5, 100, 0), s(2000, 1.0, 100, 0)];
        // 0→1 s: 50 MiB·s, 1→2 s: 100, 2→3 s held: 100.
        let v = memory_integral(&samples, Duration::from_secs(3));
        assert!((v - 250.0).abs() < 1e-9, "{v}");
        assert_eq!(memory_integral(&[], Duration::from_secs(3)), 0.0);
    }

    #[test]
    fn parent_figures_win_when_larger() {
        let samples = [s(0, 0.1, 10, 5), s(500, 0.4, 20, 50)];
        let parent = Counters {
            cpu_ns: Some(900_000_000),
            memory_bytes: Some(0),
            memory_peak_bytes: Some(30 << 20),
            io_read_bytes: Some(0),
            io_write_bytes: Some(80),
        };
        let u = summarize(&samples, &parent, Duration::from_secs(1));
        assert!((u.cpu_seconds - 0.9).abs() < 1e-9);
        assert_eq!(u.peak_memory_bytes, 30 << 20);
        assert_eq!(u.io_read_bytes, 50);
        assert_eq!(u.io_write_bytes, 80);
        assert_eq!(u.wall_seconds, 1.0);
        // Without a parent reading the samples stand.
        let u = summarize(&samples, &Counters::default(), Duration::from_secs(1));
        assert!((u.cpu_seconds - 0.4).abs() < 1e-9);
        assert_eq!(u.peak_memory_bytes, 20 << 20);
    }

    #[test]
    fn io_never_goes_backwards() {
        let prev = s(0, 0.0, 0, 1000);
        let next = sample(
            Duration::from_secs(1),
            1,
            &Counters::default(),
            &[],
            Some(&prev),
        );
        assert_eq!(next.io_read_bytes, 1000);
        assert_eq!(next.io_write_bytes, 1000);
    }
}
