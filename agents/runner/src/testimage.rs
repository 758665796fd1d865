//! A tiny test image: busybox (Debian's static build at `/usr/bin/busybox`) on `scratch`, with
//! its applets installed in `/bin` and a world-writable `/tmp`. No registry is needed: the image
//! is built locally, once per busybox binary (the tag carries a prefix of its sha256).

use std::path::Path;

use sha2::{Digest, Sha256};
use tracing::debug;

use crate::engine::{BuildContext, Engine};
use crate::error::RunnerError;

/// Where the static busybox binary is expected (Debian's `busybox-static`).
pub const BUSYBOX_PATH: &str = "/usr/bin/busybox";

const DOCKERFILE: &str = r#"FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -p /tmp && chmod 1777 /tmp"]
CMD ["/bin/sh"]
"#;

/// Builds (unless already present) the busybox image and returns its tag,
/// `peerflow/busybox:<first 12 hex digits of the binary's sha256>`.
pub async fn busybox_image(engine: &Engine) -> Result<String, RunnerError> {
    let binary = std::fs::read(BUSYBOX_PATH).map_err(RunnerError::io(BUSYBOX_PATH))?;
    let tag = busybox_tag(&binary);
    if engine.has_image(&tag).await? {
        debug!(tag, "busybox image already built");
        return Ok(tag);
    }
    engine
        .build_image(BuildContext::Tar(context_tar(&binary)?), &tag)
        .await?;
    Ok(tag)
}

/// The tag for a busybox binary.
fn busybox_tag(binary: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(binary));
    format!("peerflow/busybox:{}", &digest[..12])
}

/// The build context: the Dockerfile and the binary.
fn context_tar(binary: &[u8]) -> Result<Vec<u8>, RunnerError> {
    let tar_err = |source| RunnerError::Tar {
        op: "pack busybox context",
        source,
    };
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data, mode) in [
        ("Dockerfile", DOCKERFILE.as_bytes(), 0o644),
        ("busybox", binary, 0o755),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        builder
            .append_data(&mut header, Path::new(name), data)
            .map_err(tar_err)?;
    }
    builder.into_inner().map_err(tar_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_follows_the_binary() {
        let a = busybox_tag(b"one");
        let b = busybox_tag(b"two");
        assert!(a.starts_with("peerflow/busybox:"));
        assert_eq!(a.len(), "peerflow/busybox:".len() + 12);
        assert_ne!(a, b);
        assert_eq!(a, busybox_tag(b"one"));
    }
}
