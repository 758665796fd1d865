//! A job image around a binary built on this host, without a registry: a Docker build context
//! (a tar) for an image `FROM scratch` that holds the binary at `/bin/<its file name>`, the
//! shared libraries `ldd` lists for it at the same absolute paths (the dynamic loader included,
//! e.g. `/lib64/ld-linux-x86-64.so.2`), an empty world-writable `/tmp`, and the binary as its
//! entrypoint. Build it with the runner's `Engine::build_image(BuildContext::Tar(tar), &tag)`.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// A build context and the tag it should get.
#[derive(Debug, Clone)]
pub struct ImageContext {
    /// The context: `Dockerfile` and `rootfs/` (the image's files), as a tar.
    pub tar: Vec<u8>,
    /// `<repository>:<first 12 hex digits of the context's sha256>`: a new binary (or library)
    /// gets a new tag, the same ones the same tag (the tar is deterministic).
    pub tag: String,
    /// The path of the binary in the image, its entrypoint (`/bin/<file name>`).
    pub entrypoint: String,
    /// The shared libraries copied in (absolute paths, the same on the host and in the image).
    pub libraries: Vec<PathBuf>,
}

/// Why a context could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A file could not be read.
    #[error("read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `ldd` could not be run, or failed on a dynamic binary.
    #[error("ldd {}: {message}", binary.display())]
    Ldd {
        /// The binary.
        binary: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The binary's path has no usable file name.
    #[error("{} has no file name usable in an image", .0.display())]
    BadName(PathBuf),
    /// Packing the tar failed.
    #[error("pack the build context: {0}")]
    Tar(std::io::Error),
}

/// The build context of a `FROM scratch` image running `binary` (see the module's doc), tagged
/// under `repository` (e.g. `peerflow/dac-job`). Needs `ldd` on the host (glibc's); a static
/// binary gets no libraries.
pub fn host_binary_image_context(
    binary: &Path,
    repository: &str,
) -> Result<ImageContext, ImageError> {
    let name = binary
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic() && b != b'"'))
        .ok_or_else(|| ImageError::BadName(binary.to_path_buf()))?;
    let entrypoint = format!("/bin/{name}");
    let libraries = shared_libraries(binary)?;

    let mut files: Vec<(PathBuf, Vec<u8>, u32)> = Vec::new();
    files.push((PathBuf::from(&entrypoint), read(binary)?, 0o755));
    for library in &libraries {
        files.push((library.clone(), read(library)?, 0o755));
    }
    let library_dirs: BTreeSet<&Path> = libraries.iter().filter_map(|l| l.parent()).collect();
    let library_path = library_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let mut dockerfile = String::from("FROM scratch\nCOPY rootfs/ /\n");
    if !library_path.is_empty() {
        dockerfile.push_str(&format!("ENV LD_LIBRARY_PATH={library_path}\n"));
    }
    dockerfile.push_str(&format!("ENTRYPOINT [\"{entrypoint}\"]\n"));

    let tar = pack(&dockerfile, &files).map_err(ImageError::Tar)?;
    let digest = hex(&Sha256::digest(&tar));
    Ok(ImageContext {
        tar,
        tag: format!("{repository}:{}", &digest[..12]),
        entrypoint,
        libraries,
    })
}

/// The shared libraries `ldd` lists for `binary`: every absolute path it prints (the `=> path`
/// of each library, and the loader's own line), without the vDSO. None for a static binary.
pub fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let ldd_error = |message: String| ImageError::Ldd {
        binary: binary.to_path_buf(),
        message,
    };
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| ldd_error(format!("cannot run ldd: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let text = format!("{stdout}{stderr}");
        if text.contains("not a dynamic executable") || text.contains("statically linked") {
            return Ok(Vec::new());
        }
        return Err(ldd_error(format!("{}: {}", output.status, text.trim())));
    }
    if stdout.contains("not found") {
        return Err(ldd_error(format!("missing libraries:\n{}", stdout.trim())));
    }
    Ok(parse_ldd(&stdout))
}

/// The absolute paths of `ldd`'s output, in order, without duplicates.
fn parse_ldd(output: &str) -> Vec<PathBuf> {
    let mut seen = BTreeSet::new();
    let mut paths = Vec::new();
    for line in output.lines() {
        let line = line.trim();
        let target = match line.split_once("=>") {
            Some((_, right)) => right.trim(),
            None => line,
        };
        let path = target.split_whitespace().next().unwrap_or_default();
        if path.starts_with('/') && seen.insert(path.to_string()) {
            paths.push(PathBuf::from(path));
        }
    }
    paths
}

fn read(path: &Path) -> Result<Vec<u8>, ImageError> {
    std::fs::read(path).map_err(|source| ImageError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The tar: `Dockerfile`, then `rootfs/` with every directory the files need, `rootfs/tmp`
/// (mode 1777) and the files; owner root, time 0, so equal inputs give equal bytes.
fn pack(dockerfile: &str, files: &[(PathBuf, Vec<u8>, u32)]) -> std::io::Result<Vec<u8>> {
    let mut dirs = BTreeSet::new();
    for (path, _, _) in files {
        let mut dir = PathBuf::new();
        let parents: Vec<Component> = path
            .parent()
            .into_iter()
            .flat_map(|p| p.components())
            .collect();
        for component in parents {
            if let Component::Normal(part) = component {
                dir.push(part);
                dirs.insert(dir.clone());
            }
        }
    }
    let mut builder = tar::Builder::new(Vec::new());
    let mut entry = |path: &Path, data: &[u8], mode: u32, kind: tar::EntryType| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_cksum();
        builder.append_data(&mut header, path, data)
    };
    entry(
        Path::new("Dockerfile"),
        dockerfile.as_bytes(),
        0o644,
        tar::EntryType::Regular,
    )?;
    let root = Path::new("rootfs");
    entry(root, &[], 0o755, tar::EntryType::Directory)?;
    entry(&root.join("tmp"), &[], 0o1777, tar::EntryType::Directory)?;
    for dir in &dirs {
        entry(&root.join(dir), &[], 0o755, tar::EntryType::Directory)?;
    }
    for (path, data, mode) in files {
        let relative = path.strip_prefix("/").unwrap_or(path);
        entry(&root.join(relative), data, *mode, tar::EntryType::Regular)?;
    }
    builder.into_inner()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_the_absolute_paths() {
        let output = "\tlinux-vdso.so.1 (0x00007ffc1b5f2000)\n\
            \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f0d1c2a0000)\n\
            \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0d1c0bf000)\n\
            \t/lib64/ld-linux-x86-64.so.2 (0x00007f0d1c2f0000)\n\
            \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0d1c0bf000)\n";
        assert_eq!(
            parse_ldd(output),
            [
                "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
            .map(PathBuf::from)
        );
        assert!(parse_ldd("\tstatically linked\n").is_empty());
    }

    #[test]
    fn context_holds_the_binary_its_libraries_and_tmp() {
        let binary = std::env::current_exe().unwrap();
        let context = host_binary_image_context(&binary, "peerflow/test").unwrap();
        let name = binary.file_name().unwrap().to_str().unwrap();
        assert_eq!(context.entrypoint, format!("/bin/{name}"));
        assert!(context.tag.starts_with("peerflow/test:"), "{}", context.tag);
        let mut archive = tar::Archive::new(&context.tar[..]);
        let mut entries = std::collections::BTreeMap::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let mode = entry.header().mode().unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
            entries.insert(path.trim_end_matches('/').to_string(), (mode, data));
        }
        let dockerfile = String::from_utf8(entries["Dockerfile"].1.clone()).unwrap();
        assert!(
            dockerfile.starts_with("FROM scratch\nCOPY rootfs/ /\n"),
            "{dockerfile}"
        );
        assert!(
            dockerfile.contains(&format!("ENTRYPOINT [\"/bin/{name}\"]")),
            "{dockerfile}"
        );
        assert_eq!(entries["rootfs/tmp"].0, 0o1777);
        assert_eq!(
            entries[&format!("rootfs/bin/{name}")].1,
            std::fs::read(&binary).unwrap()
        );
        for library in &context.libraries {
            let path = format!("rootfs{}", library.display());
            assert!(entries.contains_key(&path), "{path} missing");
        }
        // Deterministic: the same inputs give the same tag.
        let again = host_binary_image_context(&binary, "peerflow/test").unwrap();
        assert_eq!(again.tag, context.tag);
    }
}
