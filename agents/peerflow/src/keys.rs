//! Account keys: an encrypted keystore (Web3 Secret Storage, as geth and Foundry write them) with
//! its password from a file or a prompt, or a raw hex key file for development.

use std::path::Path;

use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, Result, bail};

/// Where the key comes from.
#[derive(Debug, Clone, Default, clap::Args, serde::Serialize, serde::Deserialize)]
pub struct KeyArgs {
    /// Encrypted keystore file (JSON).
    #[arg(long, env = "PEERFLOW_KEYSTORE")]
    pub keystore: Option<std::path::PathBuf>,
    /// File holding the keystore password (prompted for when absent and a terminal is attached).
    #[arg(long, env = "PEERFLOW_PASSWORD_FILE")]
    pub password_file: Option<std::path::PathBuf>,
    /// File holding a raw hex private key (development only).
    #[arg(long, env = "PEERFLOW_KEY_FILE")]
    pub key_file: Option<std::path::PathBuf>,
}

impl KeyArgs {
    pub fn signer(&self) -> Result<PrivateKeySigner> {
        match (&self.keystore, &self.key_file) {
            (Some(keystore), None) => {
                let password = match &self.password_file {
                    Some(f) => std::fs::read_to_string(f)
                        .with_context(|| format!("reading {}", f.display()))?,
                    None => prompt("keystore password: ")?,
                };
                PrivateKeySigner::decrypt_keystore(
                    keystore,
                    password.trim_end_matches(['\n', '\r']),
                )
                .with_context(|| format!("decrypting {}", keystore.display()))
            }
            (None, Some(file)) => read_hex_key(file),
            (Some(_), Some(_)) => bail!("give either --keystore or --key-file, not both"),
            (None, None) => bail!("no key: give --keystore (with --password-file) or --key-file"),
        }
    }
}

fn read_hex_key(path: &Path) -> Result<PrivateKeySigner> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.trim()
        .parse::<PrivateKeySigner>()
        .with_context(|| format!("{} does not hold a hex private key", path.display()))
}

fn prompt(label: &str) -> Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        bail!("no --password-file and no terminal to ask for the password");
    }
    eprint!("{label}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line)
}
