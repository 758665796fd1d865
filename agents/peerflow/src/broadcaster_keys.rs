//! `peerflow broadcaster keys create|list|revoke`: stream keys through the running broadcaster's
//! admin API, found (with its token) in the admin file of its data directory, or given by
//! `--url` and `--admin-token-file`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use peerflow_broadcaster::access::{
    AdminFile, CreatedKey, DEFAULT_MAX_STREAMS, DEFAULT_SEGMENTS_PER_MINUTE, KeyInfo, KeySettings,
    read_admin_file, write_admin_file,
};

/// Records where the admin API of the broadcaster in `data_dir` listens (its admin file keeps the
/// token the broadcaster made); returns that URL.
pub fn publish_admin_url(data_dir: &Path, bound: SocketAddr) -> Result<String> {
    let host = if bound.ip().is_unspecified() {
        SocketAddr::new([127, 0, 0, 1].into(), bound.port())
    } else {
        bound
    };
    let url = format!("http://{host}");
    let mut file = read_admin_file(data_dir)
        .with_context(|| format!("no admin file in {}", data_dir.display()))?;
    file.url = Some(url.clone());
    write_admin_file(data_dir, &file)?;
    Ok(url)
}

#[derive(clap::Args, Debug)]
pub struct KeysCli {
    #[command(subcommand)]
    pub action: KeysAction,
    /// The broadcaster's data directory, whose admin.json says where its admin API is and holds
    /// the token.
    #[arg(long, global = true, default_value = "peerflow-broadcaster")]
    pub data_dir: PathBuf,
    /// The broadcaster's URL (instead of the admin file's).
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// A file holding the admin token (instead of the admin file's).
    #[arg(long, global = true)]
    pub admin_token_file: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
pub enum KeysAction {
    /// Make a key; prints the key alone on stdout (shown once), its settings on stderr.
    Create {
        /// A name for your own reference.
        #[arg(long, default_value = "")]
        label: String,
        /// Publish its streams under an unguessable name and list them nowhere.
        #[arg(long)]
        private: bool,
        #[arg(long, default_value_t = DEFAULT_MAX_STREAMS)]
        max_streams: u32,
        #[arg(long, default_value_t = DEFAULT_SEGMENTS_PER_MINUTE)]
        segments_per_minute: u32,
        /// What viewers pay per minute of its streams, in tokens ("0.01", or "1000 wei"); 0 (the
        /// default) keeps them free. Viewers pay with lottery tickets as they watch.
        #[arg(long, default_value = "0")]
        price_per_minute: String,
    },
    /// Every key (never their secrets), as JSON.
    List,
    /// Revoke a key by id: later pushes with it get 401.
    Revoke { id: i64 },
}

pub async fn run(cli: &KeysCli) -> Result<()> {
    let (url, token) = admin(cli)?;
    let http = reqwest::Client::new();
    let keys = format!("{}/v1/admin/keys", url.trim_end_matches('/'));
    let response = match &cli.action {
        KeysAction::Create {
            label,
            private,
            max_streams,
            segments_per_minute,
            price_per_minute,
        } => {
            let settings = KeySettings {
                label: label.clone(),
                private: *private,
                max_streams: *max_streams,
                segments_per_minute: *segments_per_minute,
                price_per_minute: peerflow_chain::amount::parse_amount(price_per_minute, "tokens")
                    .with_context(|| {
                        format!(
                            "--price-per-minute: `{price_per_minute}` is not an amount of tokens"
                        )
                    })?,
            };
            http.post(&keys).bearer_auth(&token).json(&settings)
        }
        KeysAction::List => http.get(&keys).bearer_auth(&token),
        KeysAction::Revoke { id } => http.delete(format!("{keys}/{id}")).bearer_auth(&token),
    }
    .send()
    .await
    .with_context(|| format!("reaching the broadcaster's admin API at {url}"))?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        bail!("the broadcaster refused ({status}): {body}");
    }
    match &cli.action {
        KeysAction::Create { .. } => {
            let created: CreatedKey = serde_json::from_str(&body)?;
            eprintln!(
                "stream key {} created: {}; push to {url}/live/<key>/<stream>/<seq>.ts",
                created.info.id,
                serde_json::to_string(&created.info)?
            );
            println!("{}", created.key);
        }
        KeysAction::List => {
            let keys: Vec<KeyInfo> = serde_json::from_str(&body)?;
            println!("{}", serde_json::to_string_pretty(&keys)?);
        }
        KeysAction::Revoke { id } => eprintln!("stream key {id} revoked"),
    }
    Ok(())
}

/// The admin API's URL and token: flags first, then the admin file.
fn admin(cli: &KeysCli) -> Result<(String, String)> {
    let file: Option<AdminFile> = read_admin_file(&cli.data_dir);
    let url = match (cli.url.clone(), file.as_ref().and_then(|f| f.url.clone())) {
        (Some(url), _) | (None, Some(url)) => url,
        (None, None) => bail!(
            "no broadcaster URL: pass --url, or --data-dir of a broadcaster that has run ({} has no admin.json with a url)",
            cli.data_dir.display()
        ),
    };
    let token = match (&cli.admin_token_file, file) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .trim()
            .to_owned(),
        (None, Some(file)) => file.token,
        (None, None) => bail!(
            "no admin token: pass --admin-token-file, or --data-dir of the broadcaster ({})",
            cli.data_dir.display()
        ),
    };
    Ok((url, token))
}
