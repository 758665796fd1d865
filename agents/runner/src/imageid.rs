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
}
