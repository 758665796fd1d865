//! Tar archives in and out of containers: inputs are packed for `upload_to_container`, the
//! output directory comes back from `download_from_container` and is unpacked safely.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::RunnerError;
use crate::spec::{Input, InputSource};

/// One file the job left in its output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// Path relative to the output directory, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// Where the content is.
    pub data: OutputData,
}

/// Where an output's content is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputData {
    /// In memory.
    Bytes(Vec<u8>),
    /// In a file on the host (under [`crate::RunSpec::output_host_dir`]).
    File(PathBuf),
}

fn tar_err(op: &'static str) -> impl FnOnce(std::io::Error) -> RunnerError {
    move |source| RunnerError::Tar { op, source }
}

/// Packs the inputs, and an empty world-writable `output_dir`, into a tar to extract at `/`.
pub(crate) fn pack_inputs(inputs: &[Input], output_dir: &str) -> Result<Vec<u8>, RunnerError> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs: Vec<String> = Vec::new();
    let mut add_dirs = |builder: &mut tar::Builder<Vec<u8>>, path: &str, last_mode: Option<u32>| {
        let rel = path.trim_matches('/');
        let parts: Vec<&str> = rel.split('/').collect();
        let upto = if last_mode.is_some() {
            parts.len()
        } else {
            parts.len() - 1
        };
        for i in 1..=upto {
            let dir = parts[..i].join("/");
            if dirs.contains(&dir) {
                continue;
            }
            let mode = if i == parts.len() {
                last_mode.unwrap_or(0o755)
            } else {
                0o755
            };
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(mode);
            header.set_size(0);
            header.set_cksum();
            builder
                .append_data(&mut header, format!("{dir}/"), std::io::empty())
                .map_err(tar_err("pack inputs"))?;
            dirs.push(dir);
        }
        Ok::<(), RunnerError>(())
    };
    add_dirs(&mut builder, output_dir, Some(0o777))?;
    for input in inputs {
        add_dirs(&mut builder, &input.container_path, None)?;
        let rel = input.container_path.trim_start_matches('/');
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        match &input.source {
            InputSource::Bytes(b) => {
                header.set_size(b.len() as u64);
                header.set_cksum();
                builder
                    .append_data(&mut header, rel, b.as_slice())
                    .map_err(tar_err("pack inputs"))?;
            }
            InputSource::HostFile(p) => {
                let file = std::fs::File::open(p).map_err(RunnerError::io(p))?;
                let len = file.metadata().map_err(RunnerError::io(p))?.len();
                header.set_size(len);
                header.set_cksum();
                builder
                    .append_data(&mut header, rel, file)
                    .map_err(tar_err("pack inputs"))?;
            }
        }
    }
    builder.into_inner().map_err(tar_err("pack inputs"))
}

/// Unpacks the archive of the output directory (whose entries start with the directory's own
/// name), keeping regular files only. Rejects absolute and `..` paths and stops at `max_bytes`
/// in total. With `host_dir`, files are written there; otherwise kept in memory.
pub(crate) fn unpack_outputs(
    archive: &[u8],
    max_bytes: u64,
    host_dir: Option<&Path>,
) -> Result<Vec<OutputFile>, RunnerError> {
    let mut ar = tar::Archive::new(archive);
    let mut total: u64 = 0;
    let mut files = Vec::new();
    for entry in ar.entries().map_err(tar_err("read outputs"))? {
        let mut entry = entry.map_err(tar_err("read outputs"))?;
        let raw = entry.path().map_err(tar_err("read outputs"))?.into_owned();
        let rel = relative_output_path(&raw)?;
        if !entry.header().entry_type().is_file() {
            continue; // directories, links, devices: not outputs
        }
        let Some(rel) = rel else { continue };
        let size = entry.header().size().map_err(tar_err("read outputs"))?;
        total = total.saturating_add(size);
        if total > max_bytes {
            return Err(RunnerError::BadOutputs(format!(
                "more than {max_bytes} bytes of outputs"
            )));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        (&mut entry)
            .take(size)
            .read_to_end(&mut bytes)
            .map_err(tar_err("read outputs"))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let data = match host_dir {
            None => OutputData::Bytes(bytes),
            Some(dir) => {
                let dest = dir.join(&rel);
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent).map_err(RunnerError::io(parent))?;
                }
                std::fs::write(&dest, &bytes).map_err(RunnerError::io(&dest))?;
                OutputData::File(dest)
            }
        };
        files.push(OutputFile {
            path: rel,
            size,
            sha256,
            data,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The path of an archive entry below the output directory's own top-level entry; `None` for
/// that entry itself. Errors on absolute paths and `..`.
fn relative_output_path(raw: &Path) -> Result<Option<String>, RunnerError> {
    let mut parts = Vec::new();
    for c in raw.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(RunnerError::BadOutputs(format!(
                    "unsafe path {:?} in the output archive",
                    raw.display()
                )));
            }
        }
    }
    if parts.len() <= 1 {
        return Ok(None);
    }
    Ok(Some(parts[1..].join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            // set_path refuses `..`, so write the name bytes directly, as a hostile archive would.
            h.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn outputs_are_relative_and_hashed() {
        let ar = archive(&[("out/a.txt", b"hello"), ("out/sub/b.bin", b"")]);
        let files = unpack_outputs(&ar, 100, None).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].path, "a.txt");
        assert_eq!(
            files[0].sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(files[0].data, OutputData::Bytes(b"hello".to_vec()));
        assert_eq!(files[1].path, "sub/b.bin");
    }

    #[test]
    fn hostile_paths_and_oversize_are_rejected() {
        let ar = archive(&[("out/../../etc/x", b"pwn")]);
        assert!(matches!(
            unpack_outputs(&ar, 100, None),
            Err(RunnerError::BadOutputs(_))
        ));
        let ar = archive(&[("/etc/x", b"pwn")]);
        assert!(unpack_outputs(&ar, 100, None).is_err());
        let ar = archive(&[("out/a", &[0u8; 60]), ("out/b", &[0u8; 60])]);
        assert!(matches!(
            unpack_outputs(&ar, 100, None),
            Err(RunnerError::BadOutputs(_))
        ));
        assert_eq!(unpack_outputs(&ar, 120, None).unwrap().len(), 2);
    }

    #[test]
    fn outputs_can_go_to_a_host_dir() {
        let dir = tempfile::tempdir().unwrap();
        let ar = archive(&[("out/d/x.txt", b"xyz")]);
        let files = unpack_outputs(&ar, 100, Some(dir.path())).unwrap();
        let OutputData::File(p) = &files[0].data else {
            panic!("expected a file")
        };
        assert_eq!(std::fs::read(p).unwrap(), b"xyz");
        assert!(p.starts_with(dir.path()));
    }

    #[test]
    fn inputs_pack_with_parent_dirs() {
        let inputs = vec![Input {
            container_path: "/in/deep/a.txt".into(),
            source: InputSource::Bytes(b"abc".to_vec()),
        }];
        let tar = pack_inputs(&inputs, "/out").unwrap();
        let mut ar = tar::Archive::new(tar.as_slice());
        let names: Vec<(String, u32)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mode().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![
                ("out/".to_string(), 0o777),
                ("in/".to_string(), 0o755),
                ("in/deep/".to_string(), 0o755),
                ("in/deep/a.txt".to_string(), 0o644),
            ]
        );
    }
}
