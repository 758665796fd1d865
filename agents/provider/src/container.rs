//! Container jobs through Docker ([`peerflow_runner`]): the image is loaded from the spec's
//! archive blob when the daemon does not have it, the inputs are the fetched blobs, limits come
//! from the spec (no network unless it asks), stdout/stderr go to the job's log as they come,
//! and usage is metered from the container's cgroups.

use peerflow_compute::Workload;
use peerflow_compute::manifest::MeteredUsage;
use peerflow_runner::{
    Input, InputSource, Limits, LogLine, LogStream, OutputData, RunSpec, Runner,
};

use crate::executor::{ExecError, ExecFuture, Execution, Executor, JobContext, read_blob};

/// Runs container workloads on one Docker engine.
#[derive(Debug, Clone)]
pub struct ContainerExecutor {
    runner: Runner,
    /// Prefix of the job labels (names the job's cgroup), unique per provider on a host.
    label_prefix: String,
}

impl ContainerExecutor {
    pub fn new(runner: Runner, label_prefix: &str) -> Self {
        Self {
            runner,
            label_prefix: label_prefix
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(16)
                .collect(),
        }
    }
}

impl Executor for ContainerExecutor {
    fn execute<'a>(&'a self, job: &'a JobContext) -> ExecFuture<'a> {
        Box::pin(async move {
            let Workload::Container {
                image,
                cmd,
                env,
                inputs,
                output_dir,
                network,
            } = &job.spec.workload
            else {
                return Err(ExecError::Unsupported("vod"));
            };
            let engine = self.runner.engine();
            let failed = |e: peerflow_runner::RunnerError| ExecError::Failed(e.to_string());
            if !engine.has_image(&image.reference).await.map_err(failed)? {
                let archive = read_blob(job, image.archive.sha256)?;
                engine.load_image(archive).await.map_err(failed)?;
                if !engine.has_image(&image.reference).await.map_err(failed)? {
                    return Err(ExecError::Invalid(format!(
                        "the image archive does not hold {}",
                        image.reference
                    )));
                }
            }
            let r = job.spec.resources;
            let spec = RunSpec {
                image: image.reference.clone(),
                cmd: cmd.clone(),
                env: env.clone(),
                workdir: None,
                inputs: inputs
                    .iter()
                    .map(|i| Input {
                        container_path: i.path.clone(),
                        source: InputSource::HostFile(job.blobs.path(i.blob.sha256)),
                    })
                    .collect(),
                output_dir: output_dir.clone(),
                max_output_bytes: job.spec.max_output_bytes,
                output_host_dir: None,
                limits: Limits {
                    milli_cpus: u64::from(r.milli_cpus),
                    memory_bytes: u64::from(r.memory_mb) << 20,
                    pids: 256,
                    timeout: std::time::Duration::from_secs(job.spec.timeout_secs),
                },
                network: *network,
                gpus: r.gpus,
            };
            let log = job.log.clone();
            let mut sink = move |line: LogLine| {
                let stream = match line.stream {
                    LogStream::Stdout => "stdout",
                    LogStream::Stderr => "stderr",
                };
                log.line(stream, &line.text);
            };
            let label = format!("{}-job{}", self.label_prefix, job.job_id);
            let outcome = self
                .runner
                .run(&spec, &label, &mut sink, None)
                .await
                .map_err(failed)?;
            job.log.line(
                "provider",
                &format!(
                    "exit code {}{}{}, {:.2} cpu-s, peak {} MiB",
                    outcome.exit_code,
                    if outcome.timed_out {
                        " (timed out)"
                    } else {
                        ""
                    },
                    if outcome.oom_killed {
                        " (out of memory)"
                    } else {
                        ""
                    },
                    outcome.usage.cpu_seconds,
                    outcome.usage.peak_memory_bytes >> 20
                ),
            );
            let mut outputs = Vec::with_capacity(outcome.outputs.len());
            for f in outcome.outputs {
                let bytes = match f.data {
                    OutputData::Bytes(b) => b,
                    OutputData::File(p) => std::fs::read(&p)
                        .map_err(|e| ExecError::Failed(format!("{}: {e}", p.display())))?,
                };
                outputs.push((f.path, bytes));
            }
            let u = outcome.usage;
            Ok(Execution {
                exit_code: outcome.exit_code,
                outputs,
                usage: MeteredUsage {
                    cpu_seconds: u.cpu_seconds,
                    memory_mb_seconds: u.memory_mb_seconds,
                    io_mb: u.io_mb(),
                    peak_memory_bytes: u.peak_memory_bytes,
                    wall_seconds: u.wall_seconds,
                    samples: outcome.samples.len() as u32,
                },
                started_at: Some(outcome.started_at),
            })
        })
    }
}
