//! The connection to the local Docker daemon and the image operations the runner needs.

use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptions, ImportImageOptions};
use bytes::Bytes;
use futures_util::StreamExt;
use tracing::{debug, info};

use crate::error::RunnerError;

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
        let no_daemon = |source| RunnerError::NoDaemon {
            address: address.clone(),
            source,
        };
        let docker = Docker::connect_with_defaults().map_err(no_daemon)?;
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
    /// and returns the id (`sha256:…`) of the image it holds.
    pub async fn load_image(&self, tar: Vec<u8>) -> Result<String, RunnerError> {
        let mut stream = self.docker.import_image(
            ImportImageOptions {
                quiet: true,
                ..Default::default()
            },
            bollard::body_full(Bytes::from(tar)),
            None,
        );
        let mut loaded = None;
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
                if let Some(r) = parse_loaded(&line) {
                    loaded = Some(r);
                }
            }
        }
        let reference = loaded.ok_or_else(|| RunnerError::Image {
            op: "load",
            message: "the daemon did not report a loaded image".to_string(),
        })?;
        self.image_id(&reference).await
    }

    /// Builds an image from a context (a directory or a tar of one, with a `Dockerfile`),
    /// tags it `tag` and returns its id.
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
            if let Some(line) = info.stream {
                debug!(line = line.trim_end(), "docker build");
            }
        }
        let id = self.image_id(tag).await?;
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

/// The reference in a `docker load` progress line: `Loaded image: name:tag` or
/// `Loaded image ID: sha256:…`.
fn parse_loaded(line: &str) -> Option<String> {
    let line = line.trim();
    line.strip_prefix("Loaded image ID: ")
        .or_else(|| line.strip_prefix("Loaded image: "))
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_lines_name_the_image() {
        assert_eq!(
            parse_loaded("Loaded image: peerflow/busybox:abc\n").as_deref(),
            Some("peerflow/busybox:abc")
        );
        assert_eq!(
            parse_loaded("Loaded image ID: sha256:0123\n").as_deref(),
            Some("sha256:0123")
        );
        assert_eq!(parse_loaded("Loading layer 1/2"), None);
        assert_eq!(parse_loaded("Loaded image: "), None);
    }
}
