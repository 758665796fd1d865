//! Layered configuration: a role's options come from its command-line flags, then its environment
//! variables (both through clap), then the `[role]` table of the TOML file given with `--config`,
//! then the defaults. Every option struct has only `Option` fields, so "not given" is visible.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `cli` with every option it leaves unset taken from `[section]` of the TOML `file`.
pub fn layered<T: Serialize + DeserializeOwned>(
    cli: &T,
    file: Option<&Path>,
    section: &str,
) -> Result<T> {
    let mut merged = serde_json::to_value(cli)?;
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let table: toml::Table =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if let Some(values) = table.get(section) {
            let from_file = serde_json::to_value(values)?;
            let (Some(out), Some(file_map)) = (merged.as_object_mut(), from_file.as_object())
            else {
                anyhow::bail!("[{section}] in {} must be a table", path.display());
            };
            for (key, value) in file_map {
                let key = key.replace('-', "_");
                if out.get(&key).is_none_or(serde_json::Value::is_null) {
                    out.insert(key, value.clone());
                }
            }
        }
    }
    serde_json::from_value(merged).with_context(|| format!("invalid [{section}] options"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Opts {
        listen: Option<String>,
        price_per_pixel: Option<u64>,
        codecs: Option<Vec<String>>,
    }

    #[test]
    fn flags_override_the_file_which_fills_the_rest() {
        let dir = std::env::temp_dir().join(format!("peerflow-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("p.toml");
        std::fs::write(
            &file,
            "[orchestrator]\nlisten = \"0.0.0.0:1\"\nprice-per-pixel = 7\ncodecs = [\"h264\"]\n",
        )
        .unwrap();
        let cli = Opts {
            listen: Some("127.0.0.1:2".into()),
            price_per_pixel: None,
            codecs: None,
        };
        let got = layered(&cli, Some(&file), "orchestrator").unwrap();
        assert_eq!(
            got,
            Opts {
                listen: Some("127.0.0.1:2".into()),
                price_per_pixel: Some(7),
                codecs: Some(vec!["h264".into()])
            }
        );
        assert!(layered(&cli, Some(&dir.join("missing.toml")), "orchestrator").is_err());
    }
}
