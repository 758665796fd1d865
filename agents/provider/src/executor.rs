//! Executors run one job's workload and return its outputs with the usage metered while it ran.
//! [`VodExecutor`] packages a video in this process; the container executor (see
//! [`crate::container`]) runs an image in Docker. The agent picks one by the spec's workload kind.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Instant;

use peerflow_compute::manifest::MeteredUsage;
use peerflow_compute::{BlobStore, Digest, JobSpec, Workload};
use peerflow_media::vod::{self, VodSettings};
use peerflow_media::{InputFormat, Profile};

use crate::joblog::JobLog;

/// A job as an executor sees it: the checked spec, its blobs already fetched into `blobs`.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub job_id: u64,
    pub spec: JobSpec,
    pub spec_hash: Digest,
    pub blobs: BlobStore,
    /// Scratch space, removed after the run.
    pub work_dir: PathBuf,
    pub log: JobLog,
    /// For a cooperative job: this provider's node (its shard and the consensus socket).
    pub node: Option<NodeContext>,
}

/// This provider's node of a cooperative job.
#[derive(Debug, Clone)]
pub struct NodeContext {
    /// Node index (the slot's position in the escrow).
    pub index: u32,
    pub nodes: u32,
    /// The node's shard inputs (path in the container, blob).
    pub shard: Vec<peerflow_compute::InputFile>,
    /// The host path of the node's consensus socket, mounted at [`DAC_SOCKET`].
    pub socket: PathBuf,
}

/// Where the consensus socket appears in a cooperative job's container.
pub const DAC_SOCKET: &str = "/run/peerflow/dac.sock";

/// What a run produced.
#[derive(Debug, Clone, Default)]
pub struct Execution {
    pub exit_code: i64,
    /// Output files, path relative to the output directory, with their bytes.
    pub outputs: Vec<(String, Vec<u8>)>,
    pub usage: MeteredUsage,
    /// When the work itself started (the container was running, the encoder began).
    pub started_at: Option<std::time::SystemTime>,
}

/// Why a run produced no result (the provider then commits nothing).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("workload kind {0} is not offered by this provider")]
    Unsupported(&'static str),
    #[error("input blob {0} is missing")]
    MissingBlob(Digest),
    #[error("invalid workload: {0}")]
    Invalid(String),
    #[error("outputs total {size} bytes, over the spec's limit of {limit}")]
    OutputTooLarge { size: u64, limit: u64 },
    #[error("run failed: {0}")]
    Failed(String),
}

impl ExecError {
    /// Machine-readable reason, shown in the public job view (the text is logged, not published:
    /// it may name host paths or daemon errors).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unsupported(_) => "workload_not_offered",
            Self::MissingBlob(_) => "input_missing",
            Self::Invalid(_) => "invalid_workload",
            Self::OutputTooLarge { .. } => "output_too_large",
            Self::Failed(_) => "run_failed",
        }
    }
}

/// A boxed future returned by [`Executor::execute`].
pub type ExecFuture<'a> = Pin<Box<dyn Future<Output = Result<Execution, ExecError>> + Send + 'a>>;

/// Runs workloads of one kind.
pub trait Executor: Send + Sync {
    /// Runs the job to completion (or its timeout).
    fn execute<'a>(&'a self, job: &'a JobContext) -> ExecFuture<'a>;
}

/// Reads a fetched blob of the job.
pub fn read_blob(job: &JobContext, digest: Digest) -> Result<Vec<u8>, ExecError> {
    job.blobs
        .get(digest)
        .map_err(|e| ExecError::Failed(e.to_string()))?
        .ok_or(ExecError::MissingBlob(digest))
}

/// Packages VOD jobs with rav1e into HLS, deterministically. Usage is this process's CPU time
/// (its own and its children's, i.e. ffmpeg's) over the run, so VOD jobs run one at a time.
#[derive(Debug, Default)]
pub struct VodExecutor {
    lock: tokio::sync::Mutex<()>,
}

impl VodExecutor {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Executor for VodExecutor {
    fn execute<'a>(&'a self, job: &'a JobContext) -> ExecFuture<'a> {
        Box::pin(async move {
            let Workload::Vod {
                input,
                ladder,
                segment_secs,
                speed,
            } = &job.spec.workload
            else {
                return Err(ExecError::Unsupported("container"));
            };
            let ladder = Profile::parse_ladder(&with_codec(ladder))
                .map_err(|e| ExecError::Invalid(e.to_string()))?;
            let bytes = read_blob(job, input.sha256)?;
            let settings = VodSettings {
                ladder,
                segment_secs: *segment_secs,
                speed: *speed,
            };
            let out_dir = job.work_dir.join("package");
            let _one_at_a_time = self.lock.lock().await;
            job.log.line(
                "vod",
                &format!("packaging {} bytes: {:?}", bytes.len(), settings.ladder),
            );
            let (cpu0, t0) = (process_cpu_seconds(), Instant::now());
            let started_at = Some(std::time::SystemTime::now());
            let format = sniff_format(&bytes);
            let dir = out_dir.clone();
            let files =
                tokio::task::spawn_blocking(move || vod::package(&bytes, format, &settings, &dir))
                    .await
                    .map_err(|e| ExecError::Failed(e.to_string()))?
                    .map_err(|e| ExecError::Failed(e.to_string()))?;
            let mut outputs = Vec::with_capacity(files.len());
            let mut total = 0u64;
            for f in files {
                let data = std::fs::read(out_dir.join(&f))
                    .map_err(|e| ExecError::Failed(format!("reading {}: {e}", f.display())))?;
                total += data.len() as u64;
                outputs.push((f.to_string_lossy().replace('\\', "/"), data));
            }
            if total > job.spec.max_output_bytes {
                return Err(ExecError::OutputTooLarge {
                    size: total,
                    limit: job.spec.max_output_bytes,
                });
            }
            let usage = MeteredUsage {
                cpu_seconds: process_cpu_seconds() - cpu0,
                wall_seconds: t0.elapsed().as_secs_f64(),
                io_mb: (input.size + total) as f64 / 1e6,
                samples: 2,
                ..MeteredUsage::default()
            };
            job.log.line(
                "vod",
                &format!("packaged {} files, {total} bytes", outputs.len()),
            );
            Ok(Execution {
                exit_code: 0,
                outputs,
                usage,
                started_at,
            })
        })
    }
}

/// A VOD ladder may leave the codec out (`name:WxH:kbps`): it is always `av1-rav1e`.
fn with_codec(ladder: &str) -> String {
    ladder
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            if e.split(':').count() == 3 {
                format!("{e}:av1-rav1e")
            } else {
                e.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// MPEG-TS starts with a sync byte every 188 bytes; anything else is taken as MP4.
fn sniff_format(bytes: &[u8]) -> InputFormat {
    if bytes.first() == Some(&0x47) && bytes.get(188) == Some(&0x47) {
        InputFormat::MpegTs
    } else {
        InputFormat::Mp4
    }
}

/// CPU seconds used by this process and its waited-for children (Linux `/proc/self/stat`).
pub fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime is field 14 (index 11 after it).
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = (11..=14)
        .filter_map(|i| fields.get(i).and_then(|f| f.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladder_codec_defaults_to_rav1e() {
        assert_eq!(
            with_codec("180p:320x180:200k, 144p:256x144:100k:av1-rav1e"),
            "180p:320x180:200k:av1-rav1e,144p:256x144:100k:av1-rav1e"
        );
    }

    #[test]
    fn cpu_time_grows_with_work() {
        // Work until the meter shows 0.1 s of CPU: bounded by CPU time, not wall time, so a loaded
        // machine (where 300 ms of wall time may be far less CPU) does not fail it; a meter that
        // never grows fails at the wall-time limit.
        let before = process_cpu_seconds();
        let t = Instant::now();
        let mut x = 0u64;
        while process_cpu_seconds() - before < 0.1 && t.elapsed().as_secs() < 30 {
            for _ in 0..100_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
        }
        std::hint::black_box(x);
        assert!(
            process_cpu_seconds() - before >= 0.1,
            "no CPU time metered after {:?} of work",
            t.elapsed()
        );
    }
}
