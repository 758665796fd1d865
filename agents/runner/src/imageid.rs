//! The id of an image inside a `docker save` archive, read from the archive itself: the image id
//! is the sha256 of the image's config document, which `docker load` verifies. A job then runs
//! that id, never a tag, so another archive tagged the same way cannot change what it runs.

use std::collections::HashMap;
use std::io::Read;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::RunnerError;

/// Largest `manifest.json` or image config read from an archive.
const MAX_DOC_BYTES: u64 = 4 << 20;

#[derive(Debug, Deserialize)]
struct ManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
}

fn bad(message: impl Into<String>) -> RunnerError {
    RunnerError::Image {
        op: "read archive",
        message: message.into(),
    }
}

/// The id (`sha256:…`) of the image an archive holds under `reference` (a tag in its
/// `RepoTags`, or the id itself); with `reference` `None`, of its first image.
pub fn archive_image_id(
    archive: impl Read,
    reference: Option<&str>,
) -> Result<String, RunnerError> {
    let mut tar = tar::Archive::new(archive);
    let mut manifest: Option<Vec<u8>> = None;
    let mut docs: HashMap<String, Vec<u8>> = HashMap::new();
    let entries = tar.entries().map_err(|source| RunnerError::Tar {
        op: "read image archive",
        source,
    })?;
    for entry in entries {
        let mut entry = entry.map_err(|source| RunnerError::Tar {
            op: "read image archive",
            source,
        })?;
        if !entry.header().entry_type().is_file() || entry.size() > MAX_DOC_BYTES {
            continue;
        }
        let path = entry
            .path()
            .map_err(|source| RunnerError::Tar {
                op: "read image archive",
                source,
            })?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let is_manifest = path == "manifest.json";
        if !(is_manifest || path.ends_with(".json") || path.starts_with("blobs/sha256/")) {
            continue;
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|source| RunnerError::Tar {
                op: "read image archive",
                source,
            })?;
        if is_manifest {
            manifest = Some(bytes);
        } else {
            docs.insert(path, bytes);
        }
    }
    let manifest = manifest.ok_or_else(|| bad("no manifest.json (not a docker save archive)"))?;
    let entries: Vec<ManifestEntry> =
        serde_json::from_slice(&manifest).map_err(|e| bad(format!("manifest.json: {e}")))?;
    let id_of = |entry: &ManifestEntry| -> Result<String, RunnerError> {
        let config = entry.config.trim_start_matches("./");
        let bytes = docs
            .get(config)
            .ok_or_else(|| bad(format!("config {config} missing from the archive")))?;
        Ok(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    };
    match reference {
        None => id_of(
            entries
                .first()
                .ok_or_else(|| bad("the archive holds no image"))?,
        ),
        Some(reference) => {
            for entry in &entries {
                let tagged = entry
                    .repo_tags
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .any(|t| t == reference || with_latest(reference).as_deref() == Some(t));
                let id = id_of(entry)?;
                if tagged || id == reference {
                    return Ok(id);
                }
            }
            Err(bad(format!("the archive holds no image {reference}")))
        }
    }
}

/// The archive without the names it would give its images: `manifest.json`'s `RepoTags` emptied,
/// `repositories` dropped, and the name annotations of an OCI `index.json` removed. `docker load`
/// applies whatever names an archive carries, so a buyer's archive tagged like the host's own
/// images (a provider's lease image, an image the operator runs) would move those names onto the
/// buyer's image; loaded without names it can only be run by its id.
pub fn strip_names(archive: &[u8]) -> Result<Vec<u8>, RunnerError> {
    let tar_err = |op: &'static str| move |source| RunnerError::Tar { op, source };
    let mut input = tar::Archive::new(archive);
    let mut out = tar::Builder::new(Vec::with_capacity(archive.len()));
    for entry in input.entries().map_err(tar_err("read image archive"))? {
        let mut entry = entry.map_err(tar_err("read image archive"))?;
        let path = entry
            .path()
            .map_err(tar_err("read image archive"))?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let mut header = entry.header().clone();
        let rewrite: Option<fn(serde_json::Value) -> serde_json::Value> = match path.as_str() {
            "repositories" => continue,
            "manifest.json" => Some(|mut v| {
                if let Some(images) = v.as_array_mut() {
                    for image in images {
                        if let Some(o) = image.as_object_mut() {
                            o.insert("RepoTags".into(), serde_json::Value::Null);
                        }
                    }
                }
                v
            }),
            "index.json" => Some(|mut v| {
                if let Some(manifests) = v.get_mut("manifests").and_then(|m| m.as_array_mut()) {
                    for m in manifests {
                        if let Some(a) = m.get_mut("annotations").and_then(|a| a.as_object_mut()) {
                            a.remove("io.containerd.image.name");
                            a.remove("org.opencontainers.image.ref.name");
                        }
                    }
                }
                v
            }),
            _ => None,
        };
        match rewrite {
            Some(f) if entry.size() <= MAX_DOC_BYTES => {
                let mut bytes = Vec::new();
                entry
                    .read_to_end(&mut bytes)
                    .map_err(tar_err("read image archive"))?;
                let doc: serde_json::Value =
                    serde_json::from_slice(&bytes).map_err(|e| bad(format!("{path}: {e}")))?;
                let bytes = serde_json::to_vec(&f(doc)).expect("JSON serializes");
                header.set_size(bytes.len() as u64);
                header.set_cksum();
                out.append(&header, &bytes[..])
                    .map_err(tar_err("write image archive"))?;
            }
            Some(_) => return Err(bad(format!("{path} is too large"))),
            None => out
                .append(&header, &mut entry)
                .map_err(tar_err("write image archive"))?,
        }
    }
    out.into_inner().map_err(tar_err("write image archive"))
}

/// `name` as Docker tags it when no tag is given (`name:latest`), if it has none.
fn with_latest(reference: &str) -> Option<String> {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    (!last.contains(':') && !reference.contains('@')).then(|| format!("{reference}:latest"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn the_id_is_the_config_digest_of_the_named_image() {
        let (a, b) = (br#"{"a":1}"#.as_slice(), br#"{"b":2}"#.as_slice());
        let manifest = br#"[{"Config":"aaa.json","RepoTags":["x/a:1"],"Layers":[]},
                            {"Config":"blobs/sha256/bbb","RepoTags":["x/b"],"Layers":[]}]"#;
        let tar = archive(&[
            ("aaa.json", a),
            ("blobs/sha256/bbb", b),
            ("manifest.json", manifest),
        ]);
        let id_a = format!("sha256:{}", hex::encode(Sha256::digest(a)));
        let id_b = format!("sha256:{}", hex::encode(Sha256::digest(b)));
        assert_eq!(archive_image_id(&tar[..], Some("x/a:1")).unwrap(), id_a);
        assert_eq!(archive_image_id(&tar[..], None).unwrap(), id_a);
        assert_eq!(archive_image_id(&tar[..], Some("x/b")).unwrap(), id_b);
        assert_eq!(archive_image_id(&tar[..], Some(&id_b)).unwrap(), id_b);
        assert!(archive_image_id(&tar[..], Some("x/a:2")).is_err());
        assert!(archive_image_id(&archive(&[("a", b"x")])[..], None).is_err());
    }

    #[test]
    fn stripped_archives_name_nothing_and_keep_their_ids() {
        let a = br#"{"a":1}"#.as_slice();
        let manifest =
            br#"[{"Config":"aaa.json","RepoTags":["peerflow/busybox:x"],"Layers":["l.tar"]}]"#;
        let index = br#"{"manifests":[{"digest":"sha256:1","annotations":{"io.containerd.image.name":"peerflow/busybox:x","org.opencontainers.image.ref.name":"x","keep":"y"}}]}"#;
        let tar = archive(&[
            ("aaa.json", a),
            ("l.tar", b"layer bytes"),
            ("manifest.json", manifest),
            ("index.json", index),
            ("repositories", br#"{"peerflow/busybox":{"x":"aaa"}}"#),
        ]);
        let stripped = strip_names(&tar).unwrap();
        assert_eq!(
            archive_image_id(&stripped[..], None).unwrap(),
            archive_image_id(&tar[..], Some("peerflow/busybox:x")).unwrap()
        );
        assert!(archive_image_id(&stripped[..], Some("peerflow/busybox:x")).is_err());
        let mut names = Vec::new();
        let mut t = tar::Archive::new(&stripped[..]);
        for e in t.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut body = String::new();
            e.read_to_string(&mut body).unwrap();
            assert!(!body.contains("peerflow/busybox"), "{path}: {body}");
            names.push(path);
        }
        assert_eq!(names, ["aaa.json", "l.tar", "manifest.json", "index.json"]);
    }
}
