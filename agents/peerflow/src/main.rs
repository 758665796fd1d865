//! `peerflow`: one binary for every role. Thin by design: argument parsing and wiring; the logic
//! lives in the role crates.

use peerflow::roles;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "peerflow",
    version,
    about = "peerflow: video transcoding paid by lottery tickets"
)]
struct Cli {
    /// TOML file with a table per role ([orchestrator], [transcoder], [broadcaster]).
    #[arg(long, global = true, env = "PEERFLOW_CONFIG")]
    config: Option<PathBuf>,
    /// Log as JSON lines instead of text.
    #[arg(long, global = true, env = "PEERFLOW_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an orchestrator: HTTP API, payments, redemption, reward() each round.
    Orchestrator(Box<roles::OrchestratorOpts>),
    /// Run a transcoder that pulls work from an orchestrator.
    Transcoder(roles::TranscoderOpts),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    let config = cli.config.as_deref();
    match &cli.command {
        Command::Orchestrator(o) => roles::orchestrator(o, config).await,
        Command::Transcoder(t) => roles::transcoder(t, config).await,
    }
}

fn init_logging(json: bool) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
