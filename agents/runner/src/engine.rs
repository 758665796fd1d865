//! The connection to the local Docker daemon and the image operations the runner needs.

use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptions, ImportImageOptions};
use bytes::Bytes;
use futures_util::StreamExt;
use tracing::{debug, info};

use crate::error::RunnerError;

/// The Docker network of jobs that ask for one (see [`Engine::ensure_job_network`]).
pub const JOB_NETWORK: &str = "peerflow-jobs";

/// Seconds bollard waits for a request on a socket named by path (its own default).
const UNIX_TIMEOUT_S: u64 = 120;

/// What `docker build` builds from.
#[derive(Debug, Clone)]
pub enum BuildContext {
    /// A directory holding a `Dockerfile` and the files it copies.
    Dir(PathBuf),
    /// A tar archive of such a directory.
    Tar(Vec<u8>),
}

/// A handle on the local Docker daemon (the unix socket of `DOCKER_HOST`, or
/// `/var/run/docker.sock`), with the API version negotiated down to what the daemon speaks.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
}

impl Engine {
    /// Connects with the local defaults (honouring `DOCKER_HOST`) and checks that the daemon
    /// answers; [`RunnerError::NoDaemon`] says where it looked when none does.
    pub async fn connect() -> Result<Engine, RunnerError> {
        let address = std::env::var("DOCKER_HOST")
            .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string());
        let docker = Docker::connect_with_defaults().map_err(|source| RunnerError::NoDaemon {
            address: address.clone(),
            source,
        })?;
        Engine::checked(docker, &address).await
    }

    /// Connects to the daemon listening on the unix socket at `path` (a proxy in front of
    /// dockerd, say), with the same checks as [`Engine::connect`].
    pub async fn connect_unix(path: &str) -> Result<Engine, RunnerError> {
        let docker = Docker::connect_with_unix(path, UNIX_TIMEOUT_S, bollard::API_DEFAULT_VERSION)
            .map_err(|source| RunnerError::NoDaemon {
                address: path.to_string(),
                source,
            })?;
        Engine::checked(docker, path).await
    }

    async fn checked(docker: Docker, address: &str) -> Result<Engine, RunnerError> {
        let no_daemon = |source| RunnerError::NoDaemon {
            address: address.to_string(),
            source,
        };
        // Older daemons (20.10 speaks API 1.41) refuse requests made with a newer version.
        let docker = docker.negotiate_version().await.map_err(no_daemon)?;
        docker.ping().await.map_err(no_daemon)?;
        let version = docker
            .version()
            .await
            .map_err(RunnerError::docker("version"))?;
        info!(
            version = version.version.as_deref().unwrap_or("?"),
            api = version.api_version.as_deref().unwrap_or("?"),
            "connected to dockerd"
        );
        Ok(Engine { docker })
    }

    /// The underlying bollard client.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Loads an image archive produced by `docker save` (the form in which buyers ship images)
    /// and returns the id (`sha256:…`) of its first image, read from the archive itself (never
    /// by looking up a tag, which another load may have moved meanwhile).
    pub async fn load_image(&self, tar: Vec<u8>) -> Result<String, RunnerError> {
        self.load_image_named(tar, None).await
    }

    /// [`Engine::load_image`] for the image the archive holds under `reference` (a tag in its
    /// `RepoTags`, or its id); `None`: its first image. The id comes from the archive; the load
    /// must leave an image by that id on the daemon. The archive is loaded without its names
    /// ([`crate::imageid::strip_names`]): a buyer's archive cannot move a tag of this host's, and
    /// what it loads is run by id.
    pub async fn load_image_named(
        &self,
        tar: Vec<u8>,
        reference: Option<&str>,
    ) -> Result<String, RunnerError> {
        let id = crate::imageid::archive_image_id(&tar[..], reference)?;
        let tar = crate::imageid::strip_names(&tar)?;
        let mut stream = self.docker.import_image(
            ImportImageOptions {
                quiet: true,
                ..Default::default()
            },
            bollard::body_full(Bytes::from(tar)),
            None,
        );
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| match e {
                bollard::errors::Error::DockerStreamError { error } => RunnerError::Image {
                    op: "load",
                    message: error,
                },
                other => RunnerError::Docker {
                    op: "load image",
                    source: other,
                },
            })?;
            if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                return Err(RunnerError::Image {
                    op: "load",
                    message: detail,
                });
            }
            if let Some(line) = info.stream {
                debug!(line = line.trim(), "docker load");
            }
        }
        if !self.has_image(&id).await? {
            return Err(RunnerError::Image {
                op: "load",
                message: format!("the daemon holds no image {id} after the load"),
            });
        }
        Ok(id)
    }

    /// Builds an image from a context (a directory or a tar of one, with a `Dockerfile`),
    /// tags it `tag` and returns its id (as the build reported it).
    pub async fn build_image(
        &self,
        context: BuildContext,
        tag: &str,
    ) -> Result<String, RunnerError> {
        let tar = match context {
            BuildContext::Tar(t) => t,
            BuildContext::Dir(dir) => tar_dir(&dir)?,
        };
        let options = BuildImageOptions {
            t: Some(tag.to_string()),
            rm: true,
            forcerm: true,
            dockerfile: "Dockerfile".to_string(),
            ..Default::default()
        };
        let mut stream =
            self.docker
                .build_image(options, None, Some(bollard::body_full(Bytes::from(tar))));
        let mut built = None;
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| match e {
                bollard::errors::Error::DockerStreamError { error } => RunnerError::Image {
                    op: "build",
                    message: error,
                },
                other => RunnerError::Docker {
                    op: "build image",
                    source: other,
                },
            })?;
            if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                return Err(RunnerError::Image {
                    op: "build",
                    message: detail,
                });
            }
            if let Some(image) = info.aux
                && let Some(id) = image.id
            {
                built = Some(id);
            }
            if let Some(line) = info.stream {
                debug!(line = line.trim_end(), "docker build");
            }
        }
        // The id the build reported; the tag is looked up only when it reported none.
        let id = match built {
            Some(id) => id,
            None => self.image_id(tag).await?,
        };
        info!(tag, id, "built image");
        Ok(id)
    }

    /// Whether the daemon has an image by this reference (tag or id).
    pub async fn has_image(&self, reference: &str) -> Result<bool, RunnerError> {
        match self.docker.inspect_image(reference).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(RunnerError::Docker {
                op: "inspect image",
                source: e,
            }),
        }
    }

    /// The id (`sha256:…`) of an image.
    pub async fn image_id(&self, reference: &str) -> Result<String, RunnerError> {
        let image = self
            .docker
            .inspect_image(reference)
            .await
            .map_err(RunnerError::docker("inspect image"))?;
        image.id.ok_or_else(|| RunnerError::Image {
            op: "inspect",
            message: format!("{reference} has no id"),
        })
    }

    /// Makes sure the network jobs that ask for one join exists: [`JOB_NETWORK`], a bridge of
    /// its own with inter-container communication off (jobs cannot reach each other or the
    /// provider's other containers) and IP masquerading on (they reach what the host routes to,
    /// the host itself included: see the README's *Compute marketplace* section).
    pub async fn ensure_job_network(&self) -> Result<(), RunnerError> {
        match self.docker.inspect_network(JOB_NETWORK, None).await {
            Ok(_) => return Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => {
                return Err(RunnerError::Docker {
                    op: "inspect network",
                    source: e,
                });
            }
        }
        let options = std::collections::HashMap::from([
            (
                "com.docker.network.bridge.enable_icc".to_string(),
                "false".to_string(),
            ),
            (
                "com.docker.network.bridge.enable_ip_masquerade".to_string(),
                "true".to_string(),
            ),
        ]);
        let created = self
            .docker
            .create_network(bollard::models::NetworkCreateRequest {
                name: JOB_NETWORK.to_string(),
                driver: Some("bridge".to_string()),
                options: Some(options),
                ..Default::default()
            })
            .await;
        match created {
            Ok(_) => {
                info!(
                    network = JOB_NETWORK,
                    "created the jobs' network (no inter-container traffic)"
                );
                Ok(())
            }
            // Created concurrently by another run.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(RunnerError::Docker {
                op: "create network",
                source: e,
            }),
        }
    }

    /// Exports an image as a `docker save` archive (what [`Engine::load_image`] takes).
    pub async fn save_image(&self, reference: &str) -> Result<Vec<u8>, RunnerError> {
        let mut stream = self.docker.export_image(reference);
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.map_err(RunnerError::docker("save image"))?);
        }
        Ok(out)
    }
}

/// Packs a build context directory into a tar archive.
fn tar_dir(dir: &Path) -> Result<Vec<u8>, RunnerError> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder
        .append_dir_all(".", dir)
        .map_err(|source| RunnerError::Tar {
            op: "pack build context",
            source,
        })?;
    builder.into_inner().map_err(|source| RunnerError::Tar {
        op: "pack build context",
        source,
    })
}
