//! Running one job in a container: create with limits, upload inputs, start, stream logs,
//! enforce the timeout, wait, meter, collect outputs, remove.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, DeviceRequest, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    DownloadFromContainerOptions, KillContainerOptions, ListContainersOptions, LogsOptions,
    RemoveContainerOptions, UploadToContainerOptions, WaitContainerOptions,
};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::archive::{OutputFile, pack_inputs, unpack_outputs};
use crate::cgroup::JobCgroup;
use crate::engine::Engine;
use crate::error::RunnerError;
use crate::logs::{LineSplitter, LogSink, LogStream};
use crate::meter::{DEFAULT_INTERVAL, Sampler, Usage, UsageSample, summarize};
use crate::scratch::Scratch;
use crate::spec::{InputSource, RunSpec, is_valid_label};

/// Free space under which a bounded job counts as having filled its disk.
const DISK_FULL_SLACK: u64 = 64 << 10;

/// Container label holding the job label.
pub const JOB_LABEL: &str = "peerflow.job";

/// How long to wait for the log stream to end once the container has exited.
const LOG_DRAIN: Duration = Duration::from_secs(5);
/// How often a wait for a running container is asked again after its connection fails, and
/// the pause before each new ask.
const WAIT_RETRIES: u32 = 5;
const WAIT_RETRY_PAUSE: Duration = Duration::from_millis(250);

/// What happened to a job. A non-zero exit, a timeout or an OOM kill are results, not errors.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The main process's exit code (137 when killed).
    pub exit_code: i64,
    /// The job hit its timeout and was killed.
    pub timed_out: bool,
    /// The kernel's OOM killer killed a process of the job.
    pub oom_killed: bool,
    /// The job filled its disk ([`crate::Limits::disk_bytes`]): less than 64 KiB was left free
    /// when it exited (it saw `ENOSPC` on the way, and its outputs may be incomplete).
    pub disk_full: bool,
    /// Regular files left in the output directory, sorted by path.
    pub outputs: Vec<OutputFile>,
    /// Metered consumption.
    pub usage: Usage,
    /// The samples taken while the job ran.
    pub samples: Vec<UsageSample>,
    /// When the container started.
    pub started_at: SystemTime,
    /// When it was seen to exit.
    pub finished_at: SystemTime,
    /// From the create request to the container running.
    pub create_to_running: Duration,
}

/// Runs jobs on one Docker engine.
#[derive(Debug, Clone)]
pub struct Runner {
    engine: Engine,
    sample_interval: Duration,
    /// Where bounded jobs' scratch mounts go (`<root>/<job label>`).
    scratch_root: PathBuf,
}

impl Runner {
    /// A runner sampling usage every [`DEFAULT_INTERVAL`].
    pub fn new(engine: Engine) -> Runner {
        Runner {
            engine,
            sample_interval: DEFAULT_INTERVAL,
            scratch_root: std::env::temp_dir().join("peerflow-runner"),
        }
    }

    /// The same runner mounting bounded jobs' disks under `root` (default
    /// `$TMPDIR/peerflow-runner`); the Docker daemon must see the same path.
    pub fn with_scratch_root(mut self, root: impl Into<PathBuf>) -> Runner {
        self.scratch_root = root.into();
        self
    }

    /// The same runner sampling every `interval` (at least 10 ms).
    pub fn with_sample_interval(mut self, interval: Duration) -> Runner {
        self.sample_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// The engine jobs run on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The sampling interval.
    pub fn sample_interval(&self) -> Duration {
        self.sample_interval
    }

    /// Runs `spec` as job `job_label` (`[A-Za-z0-9_.-]`, unique among running jobs: it names
    /// the job's cgroup), passing its output lines to `logs` as they come. Cancelling `cancel`
    /// kills the job and returns [`RunnerError::Cancelled`]. The container and the job's
    /// cgroups are removed in every case.
    pub async fn run(
        &self,
        spec: &RunSpec,
        job_label: &str,
        logs: &mut dyn LogSink,
        cancel: Option<&CancellationToken>,
    ) -> Result<RunOutcome, RunnerError> {
        spec.validate()?;
        if !is_valid_label(job_label) {
            return Err(RunnerError::InvalidSpec(format!(
                "job label {job_label:?} must be 1-64 of [A-Za-z0-9_.-]"
            )));
        }
        if spec.gpus > 0 {
            self.check_gpus(spec.gpus).await?;
        }
        if spec.network {
            self.engine.ensure_job_network().await?;
        }
        let cgroup = JobCgroup::new(job_label);
        cgroup.enable_io_accounting();
        let scratch = match spec.limits.disk_bytes {
            Some(bytes) => Some(prepare_scratch(&self.scratch_root, job_label, bytes, spec)?),
            None => None,
        };
        let docker = self.engine.docker();
        let t_create = Instant::now();
        let mounts = match &scratch {
            Some(s) => Some(scratch_mounts(s, spec)?),
            None => None,
        };
        let created = match docker
            .create_container(None, container_body(spec, job_label, &cgroup, mounts))
            .await
        {
            Ok(c) => c,
            Err(e) => {
                if let Some(s) = &scratch {
                    s.unmount();
                }
                return Err(RunnerError::Docker {
                    op: "create container",
                    source: e,
                });
            }
        };
        let mut guard = ContainerGuard {
            docker: docker.clone(),
            id: created.id.clone(),
            cgroup: cgroup.clone(),
            scratch: scratch.clone(),
            done: false,
        };
        info!(job = job_label, container = %short(&created.id), image = spec.image, "job created");
        let container = Created {
            id: &created.id,
            cgroup: &cgroup,
            scratch: scratch.as_ref(),
            at: t_create,
        };
        let result = self.drive(spec, &container, logs, cancel).await;
        guard.cleanup().await;
        result
    }

    async fn drive(
        &self,
        spec: &RunSpec,
        container: &Created<'_>,
        sink: &mut dyn LogSink,
        cancel: Option<&CancellationToken>,
    ) -> Result<RunOutcome, RunnerError> {
        let Created {
            id,
            cgroup,
            scratch,
            at: t_create,
        } = *container;
        let docker = self.engine.docker();
        // A bounded job's inputs and output directory are bind mounts (its root is read-only).
        if scratch.is_none() {
            let inputs = pack_inputs(&spec.inputs, &spec.output_dir)?;
            docker
                .upload_to_container(
                    id,
                    Some(UploadToContainerOptions {
                        path: "/".to_string(),
                        ..Default::default()
                    }),
                    bollard::body_full(Bytes::from(inputs)),
                )
                .await
                .map_err(RunnerError::docker("upload inputs"))?;
        }

        docker
            .start_container(id, None)
            .await
            .map_err(RunnerError::docker("start container"))?;
        let started = Instant::now();
        let started_at = SystemTime::now();
        let create_to_running = t_create.elapsed();
        let sampler = Sampler::start(
            cgroup.clone(),
            id.to_string(),
            started,
            self.sample_interval,
        );
        debug!(container = %short(id), ?create_to_running, "job running");

        let mut log_stream = docker.logs(
            id,
            Some(LogsOptions {
                follow: true,
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        );
        let mut stdout = LineSplitter::new(LogStream::Stdout);
        let mut stderr = LineSplitter::new(LogStream::Stderr);
        let mut feed = |chunk: LogOutput, sink: &mut dyn LogSink| match chunk {
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                stdout.push(&message, sink)
            }
            LogOutput::StdErr { message } => stderr.push(&message, sink),
            LogOutput::StdIn { .. } => {}
        };

        let mut wait = Box::pin(docker.wait_container(id, None::<WaitContainerOptions>));
        let deadline = tokio::time::Instant::from_std(started + spec.limits.timeout);
        let never = CancellationToken::new();
        let cancel = cancel.unwrap_or(&never);
        let (mut timed_out, mut cancelled, mut killed) = (false, false, false);
        let mut logs_open = true;
        let mut rewaits = 0;
        loop {
            tokio::select! {
                waited = wait.next() => {
                    match waited {
                        None | Some(Ok(_)) => {}
                        // Non-zero exits come back as errors from bollard; the code is read below.
                        Some(Err(bollard::errors::Error::DockerContainerWaitError { .. })) => {}
                        // The daemon's own answer (no such container, say) is final.
                        Some(Err(e @ bollard::errors::Error::DockerResponseServerError { .. })) => {
                            return Err(RunnerError::Docker { op: "wait container", source: e });
                        }
                        // A dropped connection says nothing about the container, which runs on:
                        // ask again (a wait on an exited container answers at once).
                        Some(Err(e)) if rewaits < WAIT_RETRIES => {
                            rewaits += 1;
                            warn!(container = %short(id), error = %e, rewaits, "wait for the container failed, waiting again");
                            tokio::time::sleep(WAIT_RETRY_PAUSE).await;
                            wait = Box::pin(docker.wait_container(id, None::<WaitContainerOptions>));
                            continue;
                        }
                        Some(Err(e)) => return Err(RunnerError::Docker { op: "wait container", source: e }),
                    }
                    break;
                }
                chunk = log_stream.next(), if logs_open => match chunk {
                    Some(Ok(c)) => feed(c, sink),
                    Some(Err(e)) => { warn!(error = %e, "log stream failed"); logs_open = false; }
                    None => logs_open = false,
                },
                _ = tokio::time::sleep_until(deadline), if !killed => {
                    info!(container = %short(id), timeout = ?spec.limits.timeout, "job timed out, killing it");
                    timed_out = true;
                    killed = true;
                    kill(docker, id).await?;
                }
                _ = cancel.cancelled(), if !killed => {
                    info!(container = %short(id), "job cancelled, killing it");
                    cancelled = true;
                    killed = true;
                    kill(docker, id).await?;
                }
            }
        }
        let exited = Instant::now();
        let finished_at = SystemTime::now();
        let samples = sampler.stop().await;

        // The rest of the output, until the daemon closes the stream.
        if logs_open {
            let drain = async {
                while let Some(chunk) = log_stream.next().await {
                    match chunk {
                        Ok(c) => feed(c, sink),
                        Err(e) => {
                            warn!(error = %e, "log stream failed");
                            break;
                        }
                    }
                }
            };
            if tokio::time::timeout(LOG_DRAIN, drain).await.is_err() {
                warn!(container = %short(id), "log stream did not end after exit");
            }
        }
        stdout.finish(sink);
        stderr.finish(sink);
        if cancelled {
            return Err(RunnerError::Cancelled);
        }

        let state = docker
            .inspect_container(id, None)
            .await
            .map_err(RunnerError::docker("inspect container"))?
            .state
            .unwrap_or_default();
        let exit_code = state.exit_code.unwrap_or(-1);
        let oom_killed = state.oom_killed.unwrap_or(false);
        let disk_full = scratch
            .and_then(Scratch::free_bytes)
            .is_some_and(|free| free < DISK_FULL_SLACK);

        let usage = summarize(&samples, &cgroup.read_parent(), exited - started);
        let outputs = self.collect_outputs(spec, id).await?;
        info!(
            container = %short(id), exit_code, timed_out, oom_killed, disk_full,
            cpu_s = usage.cpu_seconds, peak_mib = usage.peak_memory_bytes >> 20,
            outputs = outputs.len(), "job finished"
        );
        Ok(RunOutcome {
            exit_code,
            timed_out,
            oom_killed,
            disk_full,
            outputs,
            usage,
            samples,
            started_at,
            finished_at,
            create_to_running,
        })
    }

    async fn collect_outputs(
        &self,
        spec: &RunSpec,
        id: &str,
    ) -> Result<Vec<OutputFile>, RunnerError> {
        let mut stream = self.engine.docker().download_from_container(
            id,
            Some(DownloadFromContainerOptions {
                path: spec.output_dir.clone(),
            }),
        );
        // Tar adds a 512-byte header per entry and pads to 512 bytes; allow for that.
        let archive_cap = spec
            .max_output_bytes
            .saturating_mul(2)
            .saturating_add(1 << 20);
        let mut archive = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => {
                    archive.extend_from_slice(&c);
                    if archive.len() as u64 > archive_cap {
                        return Err(RunnerError::BadOutputs(format!(
                            "more than {} bytes of outputs",
                            spec.max_output_bytes
                        )));
                    }
                }
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => {
                    warn!(
                        dir = spec.output_dir,
                        "the job removed its output directory"
                    );
                    return Ok(Vec::new());
                }
                Err(e) => {
                    return Err(RunnerError::Docker {
                        op: "download outputs",
                        source: e,
                    });
                }
            }
        }
        if let Some(dir) = &spec.output_host_dir {
            std::fs::create_dir_all(dir).map_err(RunnerError::io(dir))?;
        }
        unpack_outputs(
            &archive,
            spec.max_output_bytes,
            spec.output_host_dir.as_deref(),
        )
    }

    async fn check_gpus(&self, requested: u16) -> Result<(), RunnerError> {
        let info = self
            .engine
            .docker()
            .info()
            .await
            .map_err(RunnerError::docker("info"))?;
        let runtime = info
            .runtimes
            .as_ref()
            .is_some_and(|r| r.contains_key("nvidia"));
        let device = std::path::Path::new("/dev/nvidia0").exists();
        if runtime || device {
            Ok(())
        } else {
            Err(RunnerError::NoGpu { requested })
        }
    }

    /// Ids of the containers (running or not) labelled with this job label.
    pub async fn job_containers(&self, job_label: &str) -> Result<Vec<String>, RunnerError> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{JOB_LABEL}={job_label}")],
        )]);
        let list = self
            .engine
            .docker()
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(RunnerError::docker("list containers"))?;
        Ok(list.into_iter().filter_map(|c| c.id).collect())
    }
}

/// Mounts the job's scratch space and writes its in-memory inputs there.
fn prepare_scratch(
    root: &std::path::Path,
    job_label: &str,
    bytes: u64,
    spec: &RunSpec,
) -> Result<Scratch, RunnerError> {
    std::fs::create_dir_all(root).map_err(RunnerError::io(root))?;
    let scratch = Scratch::mount(root, job_label, bytes)?;
    for (k, input) in spec.inputs.iter().enumerate() {
        if let InputSource::Bytes(b) = &input.source {
            let path = scratch.input(k);
            if let Err(e) = std::fs::write(&path, b) {
                scratch.unmount();
                return Err(RunnerError::Io { path, source: e });
            }
        }
    }
    Ok(scratch)
}

/// A bounded job's mounts: `/tmp` and the output directory from its scratch space (read-write),
/// each input read-only (a host file as it is, in-memory ones from the scratch space).
fn scratch_mounts(scratch: &Scratch, spec: &RunSpec) -> Result<Vec<Mount>, RunnerError> {
    let bind = |source: PathBuf, target: &str, read_only: bool| Mount {
        target: Some(target.to_string()),
        source: Some(source.to_string_lossy().into_owned()),
        typ: Some(MountType::BIND),
        read_only: Some(read_only),
        ..Default::default()
    };
    let output_dir = spec.output_dir.trim_end_matches('/');
    let mut mounts = vec![bind(scratch.out(), output_dir, false)];
    if output_dir != "/tmp" {
        mounts.push(bind(scratch.tmp(), "/tmp", false));
    }
    for (k, input) in spec.inputs.iter().enumerate() {
        let source = match &input.source {
            InputSource::Bytes(_) => scratch.input(k),
            InputSource::HostFile(p) => std::fs::canonicalize(p).map_err(RunnerError::io(p))?,
        };
        mounts.push(bind(source, &input.container_path, true));
    }
    Ok(mounts)
}

/// The create request: limits, no privileges, no network unless asked (then the jobs' own
/// network, [`crate::JOB_NETWORK`]); with `mounts` (a bounded disk), a read-only root.
fn container_body(
    spec: &RunSpec,
    job_label: &str,
    cgroup: &JobCgroup,
    mounts: Option<Vec<Mount>>,
) -> ContainerCreateBody {
    let limits = &spec.limits;
    let memory = i64::try_from(limits.memory_bytes).unwrap_or(i64::MAX);
    let device_requests = (spec.gpus > 0).then(|| {
        vec![DeviceRequest {
            driver: Some("nvidia".to_string()),
            count: Some(i64::from(spec.gpus)),
            capabilities: Some(vec![vec!["gpu".to_string()]]),
            ..Default::default()
        }]
    });
    let host_config = HostConfig {
        nano_cpus: Some(
            i64::try_from(limits.milli_cpus.saturating_mul(1_000_000)).unwrap_or(i64::MAX),
        ),
        memory: Some(memory),
        memory_swap: Some(memory),
        pids_limit: Some(i64::try_from(limits.pids).unwrap_or(i64::MAX)),
        privileged: Some(false),
        cap_drop: Some(vec!["ALL".to_string()]),
        security_opt: Some(vec!["no-new-privileges".to_string()]),
        network_mode: Some(if spec.network {
            crate::engine::JOB_NETWORK.to_string()
        } else {
            "none".to_string()
        }),
        cgroup_parent: Some(cgroup.docker_parent()),
        device_requests,
        readonly_rootfs: Some(mounts.is_some()),
        mounts,
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: Some(spec.cmd.clone()),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        working_dir: spec.workdir.clone(),
        labels: Some(HashMap::from([(
            JOB_LABEL.to_string(),
            job_label.to_string(),
        )])),
        network_disabled: Some(!spec.network),
        attach_stdout: Some(false),
        tty: Some(false),
        host_config: Some(host_config),
        ..Default::default()
    }
}

async fn kill(docker: &Docker, id: &str) -> Result<(), RunnerError> {
    match docker
        .kill_container(id, None::<KillContainerOptions>)
        .await
    {
        Ok(()) => Ok(()),
        // 409: it is not running any more (it exited on its own meanwhile).
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(()),
        Err(e) => Err(RunnerError::Docker {
            op: "kill container",
            source: e,
        }),
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// A created container and what goes with it.
#[derive(Clone, Copy)]
struct Created<'a> {
    id: &'a str,
    cgroup: &'a JobCgroup,
    scratch: Option<&'a Scratch>,
    /// When the create request was sent.
    at: Instant,
}

/// Removes the container and the job's cgroups: explicitly via [`ContainerGuard::cleanup`],
/// or, if the run is abandoned midway (its future dropped), from `Drop` on a spawned task.
struct ContainerGuard {
    docker: Docker,
    id: String,
    cgroup: JobCgroup,
    scratch: Option<Scratch>,
    done: bool,
}

impl ContainerGuard {
    async fn cleanup(&mut self) {
        self.done = true;
        remove(&self.docker, &self.id, &self.cgroup, self.scratch.as_ref()).await;
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let (docker, id, cgroup) = (self.docker.clone(), self.id.clone(), self.cgroup.clone());
        let scratch = self.scratch.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move { remove(&docker, &id, &cgroup, scratch.as_ref()).await });
            }
            Err(_) => warn!(container = %short(&id), "no runtime left to remove the container"),
        }
    }
}

async fn remove(docker: &Docker, id: &str, cgroup: &JobCgroup, scratch: Option<&Scratch>) {
    let removed = docker
        .remove_container(
            id,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        )
        .await;
    match removed {
        Ok(()) => debug!(container = %short(id), "container removed"),
        Err(e) => warn!(container = %short(id), error = %e, "cannot remove the container"),
    }
    if let Err(e) = cgroup.remove().await {
        warn!(error = %e, "cannot remove the job's cgroups");
    }
    if let Some(s) = scratch {
        s.unmount();
    }
}
