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
    /// The whole network on this machine: anvil, the contract suite, orchestrators with their
    /// transcoders and a broadcaster; prints the push and playback URLs. `--demo` pushes a 20 s
    /// test stream through it and prints a summary.
    Devnet(DevnetArgs),
    /// Run a broadcaster: HTTP push ingest, HLS and recording, paying orchestrators found on-chain.
    Broadcaster(Box<BroadcasterCli>),
    /// Run an orchestrator (no subcommand: HTTP API, payments, redemption, reward() each round), or
    /// manage its on-chain side: register, set-price, set-service, status.
    Orchestrator(Box<OrchestratorCli>),
    /// A token holder's stake: bond, unbond, rebond, withdraw, claim, status (with each
    /// orchestrator's yield per staked token).
    #[command(subcommand)]
    Stake(peerflow::wallet::stake::StakeCommand),
    /// A broadcaster's ticket deposit and reserve: fund, unlock, cancel-unlock, withdraw, status.
    #[command(subcommand)]
    Deposit(peerflow::wallet::deposit::DepositCommand),
    /// Run a transcoder that pulls work from an orchestrator.
    Transcoder(roles::TranscoderOpts),
    /// Run a compute provider: take escrowed jobs, run them in Docker (or package VOD), get paid.
    Provider(Box<peerflow::provider::ProviderOpts>),
    /// Buy compute: submit container jobs, follow them, fetch results.
    #[command(subcommand)]
    Compute(peerflow::buyer::ComputeCommand),
    /// Lease containers from providers, paid as they run: open, exec, shell, close, list, status,
    /// and the agent that pays them.
    #[command(subcommand)]
    Lease(peerflow::lease::LeaseCommand),
    /// VOD: upload a video once, pay replicated providers to package it as HLS, fetch it later.
    #[command(subcommand)]
    Vod(peerflow::buyer::VodCommand),
    /// Watch a stream, paying for it as it plays when it is paid.
    Watch(Box<peerflow::watch::WatchArgs>),
    /// Tip a streamer, subscribe to one, or set your subscription price.
    #[command(subcommand)]
    Support(peerflow::wallet::support::SupportCommand),
    /// Token-holder governance: delegate votes, propose parameter changes, vote, queue, execute.
    #[command(subcommand)]
    Gov(peerflow::wallet::gov::GovCommand),
    /// Sit on the fault-claim committee: judge each claim from its evidence and vote.
    Juror(Box<peerflow::trust::JurorOpts>),
    /// Show an orchestrator's or provider's record: broadcaster scores, stake, fault claims, jobs.
    Reputation(Box<peerflow::trust::ReputationOpts>),
}

/// `peerflow broadcaster [OPTIONS]` runs the broadcaster; `peerflow broadcaster keys …` manages
/// its stream keys.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct BroadcasterCli {
    #[command(subcommand)]
    action: Option<BroadcasterAction>,
    #[command(flatten)]
    run: roles::BroadcasterOpts,
}

#[derive(clap::Subcommand)]
enum BroadcasterAction {
    /// Stream keys: create, list, revoke (through the running broadcaster's admin API).
    Keys(peerflow::broadcaster_keys::KeysCli),
}

/// `peerflow orchestrator [OPTIONS]` runs the node; `peerflow orchestrator <ACTION>` acts on-chain.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct OrchestratorCli {
    #[command(subcommand)]
    action: Option<peerflow::wallet::operator::OrchestratorAction>,
    #[command(flatten)]
    run: roles::OrchestratorOpts,
}

#[derive(clap::Args)]
struct DevnetArgs {
    /// State directory (deployment, orchestrator databases, recordings).
    #[arg(long, default_value = "peerflow-devnet")]
    data_dir: PathBuf,
    #[arg(long, default_value_t = 2)]
    orchestrators: usize,
    /// Compute providers (0 to 2; container jobs need a Docker engine, VOD jobs do not).
    #[arg(long, default_value_t = 2)]
    providers: usize,
    /// Broadcaster's HTTP address (push and HLS).
    #[arg(long, default_value = "127.0.0.1:8936")]
    listen: std::net::SocketAddr,
    /// Ticket win probability (high on the devnet so that a short demo sees tickets redeemed).
    #[arg(long, default_value_t = 0.5)]
    win_probability: f64,
    /// Orchestrators' price, fee-token wei per output pixel (the default makes a 2 s segment of
    /// the default ladder cost about one ticket's worth, so the demo's money moves visibly).
    #[arg(long, default_value_t = 250_000_000)]
    price_per_pixel: u64,
    /// Push a 20 s 720p test stream, print a summary and exit.
    #[arg(long)]
    demo: bool,
}

async fn devnet(args: &DevnetArgs) -> anyhow::Result<()> {
    let mut options = peerflow::devnet::DevnetOptions::new(&args.data_dir);
    options.orchestrators = args.orchestrators;
    options.providers = args.providers;
    options.broadcaster_listen = args.listen;
    options.win_probability = args.win_probability;
    options.price_per_pixel = args.price_per_pixel;
    println!(
        "starting the devnet (anvil, contracts, {} orchestrators, broadcaster)…",
        args.orchestrators
    );
    // A signal during the start stops it there: dropping the half-built network stops its anvil.
    let net = tokio::select! {
        net = peerflow::devnet::start(&options) => net?,
        signal = peerflow::shutdown::requested() => {
            println!("stopped by {} while starting", signal?);
            return Ok(());
        }
    };
    println!(
        "chain:        {} (chain id {})",
        net.chain.endpoint(),
        net.chain.chain_id()
    );
    println!(
        "contracts:    {}",
        args.data_dir.join("deployment.json").display()
    );
    for (address, o) in &net.orchestrators {
        println!(
            "orchestrator: {address} at {} ({} output pixels/s; page {0}/, metrics {0}/metrics)",
            o.url.trim_end_matches('/'),
            o.node.config.capacity_pixels_per_second
        );
    }
    for (address, p) in &net.providers {
        println!(
            "provider:     {address} at {} ({})",
            p.url,
            if p.containers {
                "containers and VOD"
            } else {
                "VOD only: no Docker engine"
            }
        );
    }
    if let Some((_, p)) = net.providers.first() {
        let d = args.data_dir.display();
        println!(
            "compute:      peerflow vod submit VIDEO --rpc-url {} --deployment {d}/deployment.json \\\n                --key-file {d}/buyer.key --store {} --replicas 2 --max-price 1",
            net.chain.endpoint(),
            p.url
        );
    }
    println!(
        "push:         PUT {}/live/<stream>/<seq>.ts",
        net.broadcaster_url
    );
    println!(
        "playback:     {0}/live/<stream>/index.m3u8, or the page {0}/ (a player per live stream); metrics {0}/metrics",
        net.broadcaster_url
    );
    println!(
        "operate:      peerflow stake status --rpc-url {} --deployment {} --account <address>",
        net.chain.endpoint(),
        args.data_dir.join("deployment.json").display()
    );
    println!(
        "trust:        faults {0}/v1/faults, records {0}/v1/reputation/<address>; 3 jurors (quorum 2) judge claims",
        net.broadcaster_url
    );
    if args.demo {
        return peerflow::demo::run(&net, "demo").await;
    }
    println!("running; press Ctrl-C to stop");
    peerflow::shutdown::requested().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    peerflow::shutdown::install()?;
    let config = cli.config.as_deref();
    match &cli.command {
        Command::Devnet(args) => devnet(args).await,
        Command::Broadcaster(b) => match &b.action {
            Some(BroadcasterAction::Keys(keys)) => peerflow::broadcaster_keys::run(keys).await,
            None => roles::broadcaster(&b.run, config).await,
        },
        Command::Orchestrator(o) => match &o.action {
            Some(action) => peerflow::wallet::operator::run(action).await,
            None => roles::orchestrator(&o.run, config).await,
        },
        Command::Stake(s) => peerflow::wallet::stake::run(s).await,
        Command::Deposit(d) => peerflow::wallet::deposit::run(d).await,
        Command::Transcoder(t) => roles::transcoder(t, config).await,
        Command::Provider(p) => peerflow::provider::provider(p, config).await,
        Command::Juror(j) => peerflow::trust::juror(j).await,
        Command::Reputation(r) => peerflow::trust::reputation(r).await,
        Command::Compute(c) => peerflow::buyer::compute(c).await,
        Command::Vod(v) => peerflow::buyer::vod(v).await,
        Command::Lease(l) => peerflow::lease::run(l).await,
        Command::Watch(w) => peerflow::watch::run(w).await,
        Command::Support(s) => peerflow::wallet::support::run(s).await,
        Command::Gov(g) => peerflow::wallet::gov::run(g).await,
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
