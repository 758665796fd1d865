//! Container jobs through Docker ([`peerflow_runner`]): the image is loaded from the spec's
//! archive blob when the daemon does not have it, the inputs are the fetched blobs, limits come
//! from the spec (no network unless it asks; disk: a read-only root and a tmpfs of the spec's
//! `disk_mb` for `/tmp` and the outputs), stdout/stderr go to the job's log as they come,
//! and usage is metered from the container's cgroups.
//!
//! Images run by id, never by tag: the id is read from the spec's archive blob (the sha256 of the
//! image's config, which `docker load` checks), so another buyer's archive that tags a different
//! image with the same name cannot change what this job runs.

use peerflow_compute::Workload;
use peerflow_compute::manifest::MeteredUsage;
use peerflow_runner::{
    Input, InputSource, Limits, LogLine, LogStream, OutputData, RunSpec, Runner,
};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use peerflow_compute::{Digest, ImageSpec};

use crate::executor::{
    DAC_SOCKET, ExecError, ExecFuture, Execution, Executor, JobContext, read_blob,
};

/// Runs container workloads on one Docker engine.
#[derive(Debug, Clone)]
pub struct ContainerExecutor {
    runner: Runner,
    /// Prefix of the job labels (names the job's cgroup), unique per provider on a host.
    label_prefix: String,
    /// Image ids by (archive blob, reference), read from the archives once.
    ids: Arc<Mutex<HashMap<(Digest, String), String>>>,
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
            ids: Arc::default(),
        }
    }

    /// The id of the job's image, loaded from its archive blob unless the daemon has that id.
    async fn image_id(&self, job: &JobContext, image: &ImageSpec) -> Result<String, ExecError> {
        let key = (image.archive.sha256, image.reference.clone());
        let known = self.ids.lock().expect("ids").get(&key).cloned();
        let engine = self.runner.engine();
        let failed = |e: peerflow_runner::RunnerError| ExecError::Failed(e.to_string());
        if let Some(id) = &known
            && engine.has_image(id).await.map_err(failed)?
        {
            return Ok(id.clone());
        }
        let archive = read_blob(job, image.archive.sha256)?;
        let id = engine
            .load_image_named(archive, Some(&image.reference))
            .await
            .map_err(|e| ExecError::Invalid(format!("image archive: {e}")))?;
        self.ids.lock().expect("ids").insert(key, id.clone());
        Ok(id)
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
            let failed = |e: peerflow_runner::RunnerError| ExecError::Failed(e.to_string());
            let image_id = self.image_id(job, image).await?;
            let r = job.spec.resources;
            let mut env = env.clone();
            let mut inputs: Vec<Input> = inputs
                .iter()
                .chain(job.node.iter().flat_map(|n| n.shard.iter()))
                .map(|i| Input {
                    container_path: i.path.clone(),
                    source: InputSource::HostFile(job.blobs.path(i.blob.sha256)),
                })
                .collect();
            if let Some(node) = &job.node {
                // The consensus socket: the container's only way out, to its own provider.
                inputs.push(Input {
                    container_path: DAC_SOCKET.into(),
                    source: InputSource::HostFile(node.socket.clone()),
                });
                env.extend([
                    ("PF_DAC_SOCKET".into(), DAC_SOCKET.into()),
                    ("PF_DAC_NODE".into(), node.index.to_string()),
                    ("PF_DAC_NODES".into(), node.nodes.to_string()),
                ]);
            }
            let spec = RunSpec {
                image: image_id,
                cmd: cmd.clone(),
                env,
                workdir: None,
                inputs,
                output_dir: output_dir.clone(),
                max_output_bytes: job.spec.max_output_bytes,
                output_host_dir: None,
                limits: Limits {
                    milli_cpus: u64::from(r.milli_cpus),
                    memory_bytes: u64::from(r.memory_mb) << 20,
                    pids: 256,
                    timeout: std::time::Duration::from_secs(job.spec.timeout_secs),
                    // The spec's disk (checked against this provider's offer): a read-only root,
                    // `/tmp` and the outputs on a tmpfs of that size.
                    disk_bytes: Some(u64::from(r.disk_mb.max(1)) << 20),
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
                    "exit code {}{}{}{}, {:.2} cpu-s, peak {} MiB",
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
                    if outcome.disk_full {
                        " (disk limit reached)"
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
