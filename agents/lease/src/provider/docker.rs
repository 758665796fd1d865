//! A lease's container in the local dockerd: created with the lease's limits in a cgroup of its own
//! (`/peerflow/lease-<id>`, where the meter reads it), paused, resumed, removed, and commands run in
//! it. Containers outlive the provider process: a restarted provider finds them by id.

use std::collections::HashMap;
use std::pin::Pin;

use bollard::Docker;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum, ExecConfig, HostConfig};
use bollard::query_parameters::RemoveContainerOptions;
use futures_util::Stream;
use peerflow_runner::cgroup::JobCgroup;
use tokio::io::AsyncWrite;

use crate::proto::Terms;

/// Container label holding the lease id.
pub const LEASE_LABEL: &str = "peerflow.lease";
/// Container label naming the provider instance (its data directory) that started it: several
/// providers may share a dockerd, even under one account.
pub const PROVIDER_LABEL: &str = "peerflow.lease.provider";

/// What keeps a lease's container alive when the buyer names no command: a shell that waits.
pub const KEEPALIVE: [&str; 3] = [
    "sh",
    "-c",
    "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done",
];

/// Processes one lease may run.
const PIDS: i64 = 512;

#[derive(Debug, thiserror::Error)]
#[error("docker {op}: {source}")]
pub struct DockerError {
    op: &'static str,
    #[source]
    source: bollard::errors::Error,
}

fn docker(op: &'static str) -> impl FnOnce(bollard::errors::Error) -> DockerError {
    move |source| DockerError { op, source }
}

/// Where a lease's container is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Running,
    Paused,
    /// Exited, dead or removed.
    Gone,
}

/// Output of a command, as it comes.
pub type ExecOutput = Pin<
    Box<dyn Stream<Item = Result<bollard::container::LogOutput, bollard::errors::Error>> + Send>,
>;

/// A started command: its output, its stdin and its id (for the exit code).
pub struct Exec {
    pub id: String,
    pub output: ExecOutput,
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

#[derive(Clone)]
pub struct Containers {
    engine: peerflow_runner::Engine,
    docker: Docker,
}

/// The cgroup of lease `id`.
pub fn lease_cgroup(id: &str) -> JobCgroup {
    JobCgroup::new(&format!("lease-{id}"))
}

impl Containers {
    pub fn new(engine: peerflow_runner::Engine) -> Self {
        Self {
            docker: engine.docker().clone(),
            engine,
        }
    }

    /// Loads a buyer's image archive (`docker save`); the id (`sha256:…`) of the image it holds
    /// under `reference` (its first with `None`). Leases run ids: a tag the archive carries may
    /// move another image's tag, never what a lease runs.
    pub async fn load(
        &self,
        archive: Vec<u8>,
        reference: Option<&str>,
    ) -> Result<String, peerflow_runner::RunnerError> {
        self.engine.load_image_named(archive, reference).await
    }

    /// The id of the image `reference` names now.
    pub async fn image_id(&self, reference: &str) -> Result<String, peerflow_runner::RunnerError> {
        self.engine.image_id(reference).await
    }

    /// Creates and starts the container of lease `id` on `terms`, running `cmd`.
    pub async fn start(
        &self,
        id: &str,
        terms: &Terms,
        cmd: Vec<String>,
        instance: &str,
    ) -> Result<String, DockerError> {
        let memory = i64::try_from(terms.memory_mb.saturating_mul(1 << 20)).unwrap_or(i64::MAX);
        let host_config = HostConfig {
            nano_cpus: Some(i64::from(terms.milli_cpus) * 1_000_000),
            memory: Some(memory),
            memory_swap: Some(memory),
            pids_limit: Some(PIDS),
            privileged: Some(false),
            cap_drop: Some(vec!["ALL".to_string()]),
            security_opt: Some(vec!["no-new-privileges".to_string()]),
            network_mode: Some(if terms.ports.is_empty() {
                "none".to_string()
            } else {
                peerflow_runner::JOB_NETWORK.to_string()
            }),
            cgroup_parent: Some(lease_cgroup(id).docker_parent()),
            device_requests: (terms.gpus > 0).then(|| {
                vec![bollard::models::DeviceRequest {
                    driver: Some("nvidia".to_string()),
                    count: Some(i64::from(terms.gpus)),
                    capabilities: Some(vec![vec!["gpu".to_string()]]),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(terms.image.clone()),
            cmd: Some(cmd),
            labels: Some(HashMap::from([
                (LEASE_LABEL.to_string(), id.to_string()),
                (PROVIDER_LABEL.to_string(), instance.to_string()),
            ])),
            network_disabled: Some(terms.ports.is_empty()),
            tty: Some(false),
            host_config: Some(host_config),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(None, body)
            .await
            .map_err(docker("create"))?;
        if let Err(e) = self.docker.start_container(&created.id, None).await {
            let _ = self.remove(&created.id).await;
            return Err(docker("start")(e));
        }
        Ok(created.id)
    }

    /// (container id, lease id) of every lease container of provider `instance`, running or not.
    pub async fn of_provider(&self, instance: &str) -> Result<Vec<(String, String)>, DockerError> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{PROVIDER_LABEL}={instance}")],
        )]);
        let list = self
            .docker
            .list_containers(Some(bollard::query_parameters::ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(docker("list"))?;
        Ok(list
            .into_iter()
            .filter_map(|c| {
                let lease = c.labels?.get(LEASE_LABEL)?.clone();
                Some((c.id?, lease))
            })
            .collect())
    }

    pub async fn liveness(&self, container: &str) -> Result<Liveness, DockerError> {
        match self.docker.inspect_container(container, None).await {
            Ok(c) => {
                let state = c.state.unwrap_or_default();
                Ok(match state.status {
                    Some(ContainerStateStatusEnum::RUNNING) => Liveness::Running,
                    Some(ContainerStateStatusEnum::PAUSED) => Liveness::Paused,
                    _ => Liveness::Gone,
                })
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(Liveness::Gone),
            Err(e) => Err(docker("inspect")(e)),
        }
    }

    pub async fn pause(&self, container: &str) -> Result<(), DockerError> {
        self.docker
            .pause_container(container)
            .await
            .map_err(docker("pause"))
    }

    pub async fn unpause(&self, container: &str) -> Result<(), DockerError> {
        self.docker
            .unpause_container(container)
            .await
            .map_err(docker("unpause"))
    }

    /// Removes the container, running or not (gone already is fine).
    pub async fn remove(&self, container: &str) -> Result<(), DockerError> {
        match self
            .docker
            .remove_container(
                container,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await
        {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(docker("remove")(e)),
        }
    }

    /// The container's address on the leases' network, if it has one.
    pub async fn address(&self, container: &str) -> Result<Option<std::net::IpAddr>, DockerError> {
        let c = self
            .docker
            .inspect_container(container, None)
            .await
            .map_err(docker("inspect"))?;
        Ok(c.network_settings
            .and_then(|n| n.networks)
            .and_then(|mut n| n.remove(peerflow_runner::JOB_NETWORK))
            .and_then(|e| e.ip_address)
            .and_then(|ip| ip.parse().ok()))
    }

    /// Starts `cmd` in the container, its stdin open when `stdin`.
    pub async fn exec(
        &self,
        container: &str,
        cmd: Vec<String>,
        stdin: bool,
    ) -> Result<Exec, DockerError> {
        let created = self
            .docker
            .create_exec(
                container,
                ExecConfig {
                    attach_stdin: Some(stdin),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(false),
                    cmd: Some(cmd),
                    ..Default::default()
                },
            )
            .await
            .map_err(docker("exec"))?;
        let started = self
            .docker
            .start_exec(
                &created.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: None,
                }),
            )
            .await
            .map_err(docker("exec start"))?;
        match started {
            StartExecResults::Attached { output, input } => Ok(Exec {
                id: created.id,
                output,
                input,
            }),
            StartExecResults::Detached => Err(DockerError {
                op: "exec start",
                source: bollard::errors::Error::DockerStreamError {
                    error: "the command detached".into(),
                },
            }),
        }
    }

    /// A finished command's exit code (`None` while it runs).
    pub async fn exit_code(&self, exec: &str) -> Result<Option<i64>, DockerError> {
        let inspect = self
            .docker
            .inspect_exec(exec)
            .await
            .map_err(docker("exec inspect"))?;
        Ok(if inspect.running == Some(true) {
            None
        } else {
            inspect.exit_code
        })
    }
}
