//! `peerflow compute …` and `peerflow vod …`: the buyer's side of the compute marketplace.
//! Submitting publishes the inputs and the spec to a blob store, escrows the payment and (unless
//! `--detach`) follows the job on-chain until it settles, finalizing it when the escrow allows.

use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::primitives::{Address, U256, utils::format_ether, utils::parse_ether};
use alloy::providers::DynProvider;
use anyhow::{Context, Result, bail};
use peerflow_chain::bindings::service_registry::ServiceRegistry;
use peerflow_compute::buyer::{Terms, confirmed, fetch_results, submit};
use peerflow_compute::escrow::{Escrow, codes, job_status_name, slot_status_name};
use peerflow_compute::progress::{NodeProgress, disagreement, sampled};
use peerflow_compute::{
    BlobClient, BlobRef, Cooperative, InputFile, JobSpec, Resources, Topology, TopologyKind,
    Workload,
};
use peerflow_protocol::blobauth::RequestKey;

use crate::roles::{Connected, NodeOpts};

/// Job terms common to `compute submit` and `vod submit`.
#[derive(Debug, Clone, clap::Args)]
pub struct TermsArgs {
    /// Base URL of the blob store the inputs and spec are uploaded to (a provider's API).
    #[arg(long, env = "PEERFLOW_STORE")]
    pub store: String,
    /// Providers that run the job; results are compared and the majority is paid (default 1; a
    /// cooperative job has one per node).
    #[arg(long)]
    pub replicas: Option<u8>,
    /// Most paid per replica, in FLOW (each provider charges its metered usage up to this).
    #[arg(long)]
    pub max_price: String,
    /// Collateral each provider posts, in FLOW (at least a tenth of --max-price; default: that tenth).
    #[arg(long)]
    pub collateral: Option<String>,
    /// Results must be committed within this long (e.g. 90s, 10m, 2h).
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub deadline: Duration,
    /// Time to dispute after the last result.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub review: Duration,
    /// Third voter in disputes (default: the deployment's deployer).
    #[arg(long)]
    pub arbiter: Option<Address>,
    /// Providers need at least this many completed jobs.
    #[arg(long, default_value_t = 0)]
    pub min_completed: u32,
    /// Partial releases of price and collateral the buyer may make while the job runs
    /// (`peerflow compute release`), each 1/(N+1). A cooperative job's are its consensus
    /// operations, released by `submit` as a majority of its nodes reach them.
    #[arg(long, default_value_t = 0)]
    pub checkpoints: u8,
    /// Sealed-bid auction: providers commit bids for this long, then reveal for as long; the
    /// lowest bids win and are each paid the lowest losing bid (at most --max-price).
    #[arg(long, value_parser = parse_duration)]
    pub sealed_bid: Option<Duration>,
    /// Return once the job is created instead of following it.
    #[arg(long)]
    pub detach: bool,
}

/// `peerflow compute submit`.
#[derive(Debug, Clone, clap::Args)]
pub struct ComputeSubmit {
    #[command(flatten)]
    pub node: NodeOpts,
    #[command(flatten)]
    pub terms: TermsArgs,
    /// A `docker save` archive of the image.
    #[arg(long)]
    pub image_archive: PathBuf,
    /// The image reference inside the archive.
    #[arg(long)]
    pub image: String,
    #[arg(long, default_value = "1")]
    pub cpus: f64,
    /// Memory limit, e.g. 512M or 2G.
    #[arg(long, default_value = "256M", value_parser = parse_megabytes)]
    pub memory: u32,
    #[arg(long, default_value = "1G", value_parser = parse_megabytes)]
    pub disk: u32,
    #[arg(long, default_value_t = 0)]
    pub gpus: u16,
    /// Input files: CONTAINER_PATH=LOCAL_FILE (repeatable).
    #[arg(long = "input")]
    pub inputs: Vec<String>,
    /// Environment variables: NAME=VALUE (repeatable).
    #[arg(long = "env")]
    pub env: Vec<String>,
    /// The directory in the container whose files are the outputs.
    #[arg(long, default_value = "/out")]
    pub output_dir: String,
    /// Give the container a network (none by default; `--network` names the chain).
    #[arg(long)]
    pub container_network: bool,
    /// Wall-clock limit of one run (the deadline must leave room for it).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub coop: CoopArgs,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true)]
    pub cmd: Vec<String>,
}

/// `peerflow compute submit --cooperative N …`: N containers on N providers (one per replica),
/// each with its own input shard, averaging values by distributed consensus (issue 21).
#[derive(Debug, Clone, clap::Args)]
pub struct CoopArgs {
    /// Run a cooperative job of N nodes (2..=16); --replicas is then N.
    #[arg(long, value_name = "N")]
    pub cooperative: Option<u8>,
    /// Consensus graph: ring, regular (random, --degree neighbours each) or complete.
    #[arg(long, default_value = "ring")]
    pub topology: TopologyKind,
    /// Neighbours of each node in a regular topology.
    #[arg(long, default_value_t = 4)]
    pub degree: u32,
    /// Seed of the random regular graph.
    #[arg(long, default_value_t = 1)]
    pub topology_seed: u64,
    /// Node i's shard: PATH_IN_CONTAINER=LOCAL_FILE, given once per node in node order.
    #[arg(long = "shard", value_name = "PATH_IN_CONTAINER=LOCAL_FILE")]
    pub shards: Vec<String>,
    /// One shard per node: the directory's files sorted by name, each mounted at --shard-path.
    #[arg(long, conflicts_with = "shards")]
    pub shards_dir: Option<PathBuf>,
    /// Where --shards-dir's files are mounted in the containers.
    #[arg(long, default_value = "/in/shard")]
    pub shard_path: String,
    /// Results are rounded to 10^-DECIMALS (0..=15) so that the nodes write identical bytes.
    #[arg(long, default_value_t = 9)]
    pub decimals: u8,
    /// A peer silent this long is dropped (1s..=600s).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub peer_timeout: Duration,
    /// How long the nodes wait for every slot to be taken and announced before starting without
    /// the missing ones.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub join_timeout: Duration,
}

/// A cooperative job as the flags describe it, before its shards are uploaded.
#[derive(Debug, Clone, PartialEq)]
pub struct CoopPlan {
    pub nodes: u8,
    pub topology: Topology,
    /// Node i's files: (path in the container, local file).
    pub shards: Vec<Vec<(String, PathBuf)>>,
    pub decimals: u8,
    pub peer_timeout_ms: u32,
    pub join_timeout_secs: u32,
}

impl CoopArgs {
    /// The cooperative plan (`None` without --cooperative), checking the shard flags.
    pub fn plan(&self) -> Result<Option<CoopPlan>> {
        let Some(nodes) = self.cooperative else {
            if !self.shards.is_empty() || self.shards_dir.is_some() {
                bail!("--shard and --shards-dir need --cooperative N");
            }
            return Ok(None);
        };
        let n = usize::from(nodes);
        let shards: Vec<Vec<(String, PathBuf)>> = if let Some(dir) = &self.shards_dir {
            let mut files = Vec::new();
            for entry in
                std::fs::read_dir(dir).with_context(|| format!("--shards-dir {}", dir.display()))?
            {
                let entry = entry?;
                if entry.file_type()?.is_file() {
                    files.push(entry.path());
                }
            }
            files.sort();
            if files.len() != n {
                bail!(
                    "--shards-dir {} holds {} files; --cooperative {nodes} needs one per node",
                    dir.display(),
                    files.len()
                );
            }
            files
                .into_iter()
                .map(|f| vec![(self.shard_path.clone(), f)])
                .collect()
        } else {
            if self.shards.len() != n {
                bail!(
                    "--cooperative {nodes} needs {nodes} --shard PATH=FILE flags (one per node, in node order) or --shards-dir, got {}",
                    self.shards.len()
                );
            }
            self.shards
                .iter()
                .map(|s| {
                    let (path, local) = split_pair(s, "--shard")?;
                    Ok(vec![(path, PathBuf::from(local))])
                })
                .collect::<Result<_>>()?
        };
        let ms = self.peer_timeout.as_millis();
        Ok(Some(CoopPlan {
            nodes,
            topology: Topology {
                kind: self.topology,
                degree: self.degree,
                seed: self.topology_seed,
            },
            shards,
            decimals: self.decimals,
            peer_timeout_ms: u32::try_from(ms).context("--peer-timeout too long")?,
            join_timeout_secs: u32::try_from(self.join_timeout.as_secs())
                .context("--join-timeout too long")?,
        }))
    }
}

/// The replica count: --cooperative N fixes it to N (a different --replicas is refused).
pub fn replicas_for(terms: &TermsArgs, coop: &CoopArgs) -> Result<Option<u8>> {
    match (coop.cooperative, terms.replicas) {
        (Some(n), Some(r)) if r != n => bail!(
            "--replicas {r} conflicts with --cooperative {n}: a cooperative job runs one replica per node (leave --replicas out)"
        ),
        (Some(n), _) => Ok(Some(n)),
        (None, r) => Ok(r),
    }
}

/// `peerflow vod submit`.
#[derive(Debug, Clone, clap::Args)]
pub struct VodSubmit {
    #[command(flatten)]
    pub node: NodeOpts,
    #[command(flatten)]
    pub terms: TermsArgs,
    /// The video (MP4 or MPEG-TS).
    pub input: PathBuf,
    /// Renditions: name:WxH:bitrate, comma-separated (AV1 by rav1e).
    #[arg(long, default_value = "360p:640x360:600k,240p:426x240:300k")]
    pub ladder: String,
    /// HLS segment length in seconds.
    #[arg(long, default_value_t = 2)]
    pub segment_secs: u32,
    /// rav1e speed preset, 0 (slowest) to 10.
    #[arg(long, default_value_t = 10)]
    pub speed: u8,
    #[arg(long, default_value = "1")]
    pub cpus: f64,
    #[arg(long, default_value = "1G", value_parser = parse_megabytes)]
    pub memory: u32,
    #[arg(long, default_value = "20m", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// A job id with the chain connection (`status`, `logs`, `cancel`).
#[derive(Debug, Clone, clap::Args)]
pub struct JobArgs {
    #[command(flatten)]
    pub node: NodeOpts,
    pub job: u64,
}

/// `… results JOB --out DIR`.
#[derive(Debug, Clone, clap::Args)]
pub struct ResultsArgs {
    #[command(flatten)]
    pub node: NodeOpts,
    pub job: u64,
    /// Where to write the outputs.
    #[arg(long)]
    pub out: PathBuf,
}

/// `peerflow compute …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ComputeCommand {
    /// Escrow a container job and follow it until it settles.
    Submit(Box<ComputeSubmit>),
    /// A job's state, its providers' slots, results and settlement.
    Status(JobArgs),
    /// The logs of a job's run, from each provider that ran it.
    Logs(JobArgs),
    /// Fetch the confirmed result's files (checked against their hashes).
    Results(ResultsArgs),
    /// Refund a job no provider has taken yet.
    Cancel(JobArgs),
    /// Each provider's usage record behind its charge: rates, metered usage, quote (checked
    /// against the hash committed on-chain).
    Usage(JobArgs),
    /// Settle a job the escrow allows to settle (anyone may).
    Finalize(JobArgs),
    /// Take a provider's slot out of the automatic rule (buyer or that provider).
    Dispute(SlotArgs),
    /// Vote on a disputed slot (buyer, provider or arbiter); two equal votes settle it.
    Vote(VoteArgs),
    /// Release a provider's next checkpoint share of price and collateral (buyer).
    Release(SlotArgs),
    /// Check that the provider at URL has the GPU it claims: a fresh seeded kernel challenge,
    /// spot-checked on this CPU, and the round trip timed against this CPU's estimate.
    GpuCheck(GpuCheckArgs),
}

/// `peerflow compute gpu-check URL`.
#[derive(Debug, Clone, clap::Args)]
pub struct GpuCheckArgs {
    /// The provider's API.
    pub url: String,
    /// Elements in the challenge.
    #[arg(long, default_value_t = 1 << 24)]
    pub n: u32,
    /// Mixing rounds per element.
    #[arg(long, default_value_t = 1024)]
    pub rounds: u32,
    /// Indices opened and recomputed here.
    #[arg(long, default_value_t = 64)]
    pub spot_checks: usize,
    /// The GPU must beat one CPU core's estimate by this factor.
    #[arg(long, default_value_t = peerflow_gpu::DEFAULT_TIMING_FACTOR)]
    pub factor: f64,
}

/// A job and one of its providers.
#[derive(Debug, Clone, clap::Args)]
pub struct SlotArgs {
    #[command(flatten)]
    pub node: NodeOpts,
    pub job: u64,
    pub provider: Address,
}

/// `… vote JOB PROVIDER --pay true|false`.
#[derive(Debug, Clone, clap::Args)]
pub struct VoteArgs {
    #[command(flatten)]
    pub slot: SlotArgs,
    /// true: pay the provider its charge and return its collateral; false: price and collateral
    /// to the buyer.
    #[arg(long)]
    pub pay: bool,
}

/// `peerflow vod …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum VodCommand {
    /// Upload a video once, escrow its transcode to HLS (AV1) and follow it (or `--detach`).
    Submit(Box<VodSubmit>),
    /// Fetch the HLS package of a settled job.
    Fetch(ResultsArgs),
    /// A job's state.
    Status(JobArgs),
}

pub async fn compute(cmd: &ComputeCommand) -> Result<()> {
    match cmd {
        ComputeCommand::Submit(s) => compute_submit(s).await,
        ComputeCommand::Status(a) => {
            let (c, escrow) = connect(&a.node).await?;
            status(&escrow, a.job).await?;
            consensus_progress(&c, &escrow, a.job).await
        }
        ComputeCommand::Logs(a) => logs(&a.node, a.job).await,
        ComputeCommand::Results(a) => results(a).await,
        ComputeCommand::Cancel(a) => {
            escrow_of(&a.node).await?.cancel(a.job).await?;
            println!("job {} cancelled; the escrow refunded it", a.job);
            Ok(())
        }
        ComputeCommand::GpuCheck(g) => {
            let check = peerflow_provider::gpu_api::check_gpu(
                &g.url,
                g.n,
                g.rounds,
                g.spot_checks,
                g.factor,
            )
            .await
            .with_context(|| format!("GPU check of {}", g.url))?;
            println!(
                "{}: GPU confirmed — {} spot checks passed, round trip {:.1} ms vs {:.1} ms estimated for one CPU core (factor {})",
                g.url,
                check.spot_checks,
                check.round_trip.as_secs_f64() * 1e3,
                check.cpu_estimate.as_secs_f64() * 1e3,
                g.factor
            );
            Ok(())
        }
        ComputeCommand::Usage(a) => {
            let (c, escrow) = connect(&a.node).await?;
            usage(&escrow, &buyer_blobs(&c)?, a.job).await
        }
        ComputeCommand::Finalize(a) => {
            let escrow = escrow_of(&a.node).await?;
            escrow.finalize(a.job).await?;
            status(&escrow, a.job).await
        }
        ComputeCommand::Dispute(a) => {
            escrow_of(&a.node).await?.dispute(a.job, a.provider).await?;
            println!("slot of {} in job {} disputed", a.provider, a.job);
            Ok(())
        }
        ComputeCommand::Release(a) => {
            escrow_of(&a.node)
                .await?
                .release_checkpoint(a.job, a.provider)
                .await?;
            println!("checkpoint released to {} in job {}", a.provider, a.job);
            Ok(())
        }
        ComputeCommand::Vote(v) => {
            let a = &v.slot;
            escrow_of(&a.node)
                .await?
                .vote(a.job, a.provider, v.pay)
                .await?;
            println!(
                "voted {} for {} in job {}",
                if v.pay { "pay" } else { "slash" },
                a.provider,
                a.job
            );
            Ok(())
        }
    }
}

pub async fn vod(cmd: &VodCommand) -> Result<()> {
    match cmd {
        VodCommand::Submit(s) => vod_submit(s).await,
        VodCommand::Fetch(a) => results(a).await,
        VodCommand::Status(a) => status(&escrow_of(&a.node).await?, a.job).await,
    }
}

async fn connect(node: &NodeOpts) -> Result<(Connected, Escrow<DynProvider>)> {
    let c = node.connect().await?;
    let escrow = Escrow::new(
        c.deployment.job_escrow,
        c.deployment.work_token,
        c.chain.clone(),
    )
    .scanning_from(c.deployment.scan_from());
    Ok((c, escrow))
}

/// A blob client signing with the buyer's key: providers' stores take signed uploads only and let
/// only a job's buyer read its results and logs.
fn buyer_blobs(c: &Connected) -> Result<BlobClient> {
    Ok(BlobClient::new().with_key(RequestKey::new(c.key).context("the buyer's key")?))
}

async fn escrow_of(node: &NodeOpts) -> Result<Escrow<DynProvider>> {
    Ok(connect(node).await?.1)
}

fn resources(cpus: f64, memory_mb: u32, disk_mb: u32, gpus: u16) -> Result<Resources> {
    if !(cpus > 0.0 && cpus <= 1024.0) {
        bail!("--cpus must be in (0, 1024]");
    }
    Ok(Resources {
        milli_cpus: (cpus * 1000.0).round() as u32,
        memory_mb,
        disk_mb,
        gpus,
    })
}

async fn terms(
    t: &TermsArgs,
    timeout: Duration,
    c: &Connected,
    escrow: &Escrow<DynProvider>,
) -> Result<Terms> {
    let auction = t.sealed_bid.map_or(Duration::ZERO, |w| w * 2);
    if t.deadline <= timeout + auction {
        bail!(
            "--deadline ({}s) must be longer than --timeout ({}s) plus the auction ({}s): providers skip jobs they cannot finish in time",
            t.deadline.as_secs(),
            timeout.as_secs(),
            auction.as_secs()
        );
    }
    let price = parse_ether(&t.max_price).context("--max-price (FLOW)")?;
    // The escrow refuses less than MIN_COLLATERAL_BPS (10 %) of the price, rounded up.
    let least = (price + U256::from(9)) / U256::from(10);
    let collateral = match &t.collateral {
        Some(c) => parse_ether(c).context("--collateral (FLOW)")?,
        None => least,
    };
    if collateral < least {
        bail!(
            "--collateral must be at least a tenth of --max-price ({} FLOW): the escrow refuses less",
            format_ether(least)
        );
    }
    let replicas = t.replicas.unwrap_or(1);
    if replicas == 0 {
        bail!("--replicas must be at least 1");
    }
    let (_, now) = escrow.chain_time().await?;
    Ok(Terms {
        price,
        collateral,
        replicas,
        checkpoints: t.checkpoints,
        min_completed: t.min_completed,
        deadline: now + t.deadline.as_secs(),
        review_period: u32::try_from(t.review.as_secs()).context("--review too long")?,
        arbiter: t.arbiter.unwrap_or(c.deployment.deployer),
        sealed_bid: t
            .sealed_bid
            .map(|w| (now + w.as_secs(), now + 2 * w.as_secs())),
    })
}

async fn upload_file(blobs: &BlobClient, store: &str, path: &Path) -> Result<BlobRef> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(blobs.upload(store, bytes).await?)
}

fn split_pair(s: &str, what: &str) -> Result<(String, String)> {
    let (a, b) = s
        .split_once('=')
        .with_context(|| format!("{what} {s:?}: expected A=B"))?;
    Ok((a.to_owned(), b.to_owned()))
}

async fn compute_submit(s: &ComputeSubmit) -> Result<()> {
    let plan = s.coop.plan()?;
    let mut terms_args = s.terms.clone();
    terms_args.replicas = replicas_for(&s.terms, &s.coop)?;
    let (c, escrow) = connect(&s.node).await?;
    let blobs = buyer_blobs(&c)?;
    let store = &s.terms.store;
    let archive = upload_file(&blobs, store, &s.image_archive).await?;
    let mut inputs = Vec::new();
    for spec in &s.inputs {
        let (path, local) = split_pair(spec, "--input")?;
        let blob = upload_file(&blobs, store, Path::new(&local)).await?;
        inputs.push(peerflow_compute::InputFile { path, blob });
    }
    let env = s
        .env
        .iter()
        .map(|e| split_pair(e, "--env"))
        .collect::<Result<Vec<_>>>()?;
    let spec = JobSpec {
        version: 1,
        workload: Workload::Container {
            image: peerflow_compute::ImageSpec {
                archive,
                reference: s.image.clone(),
            },
            cmd: s.cmd.clone(),
            env,
            inputs,
            output_dir: s.output_dir.clone(),
            network: s.container_network,
        },
        resources: resources(s.cpus, s.memory, s.disk, s.gpus)?,
        timeout_secs: s.timeout.as_secs().max(1),
        max_output_bytes: 1 << 30,
        cooperative: None,
    };
    if let Some(plan) = &plan {
        // Checked before uploading the shards (the spec's checks, with placeholder blobs).
        with_shards(spec.clone(), plan, |_| placeholder_blob()).validate()?;
    }
    let spec = match &plan {
        Some(plan) => {
            let mut uploaded = Vec::new();
            for files in &plan.shards {
                let mut shard = Vec::new();
                for (_, local) in files {
                    shard.push(upload_file(&blobs, store, local).await?);
                }
                uploaded.push(shard);
            }
            let mut uploaded = uploaded.into_iter().flatten();
            with_shards(spec, plan, |_| {
                uploaded.next().expect("one blob per shard file")
            })
        }
        None => spec,
    };
    spec.validate()?;
    let terms = terms(&terms_args, s.timeout, &c, &escrow).await?;
    let (job, uri) = submit(&escrow, &blobs, store, &spec, &terms).await?;
    println!("job {job} created: spec {uri}");
    follow(&escrow, job, s.terms.detach, spec.cooperative.is_some()).await
}

/// `spec` made cooperative by `plan`, each shard file's blob from `blob(local file)` (in node
/// order, file by file).
fn with_shards(
    mut spec: JobSpec,
    plan: &CoopPlan,
    mut blob: impl FnMut(&Path) -> BlobRef,
) -> JobSpec {
    spec.cooperative = Some(Cooperative {
        nodes: plan.nodes,
        topology: plan.topology,
        shards: plan
            .shards
            .iter()
            .map(|files| {
                files
                    .iter()
                    .map(|(path, local)| InputFile {
                        path: path.clone(),
                        blob: blob(local),
                    })
                    .collect()
            })
            .collect(),
        decimals: plan.decimals,
        peer_timeout_ms: plan.peer_timeout_ms,
        join_timeout_secs: plan.join_timeout_secs,
    });
    spec
}

fn placeholder_blob() -> BlobRef {
    BlobRef {
        sha256: peerflow_compute::Digest([0; 32]),
        size: 0,
        sources: Vec::new(),
    }
}

async fn vod_submit(s: &VodSubmit) -> Result<()> {
    let (c, escrow) = connect(&s.node).await?;
    peerflow_media::Profile::parse_ladder(&with_rav1e(&s.ladder)).context("--ladder")?;
    let blobs = buyer_blobs(&c)?;
    let input = upload_file(&blobs, &s.terms.store, &s.input).await?;
    println!(
        "uploaded {} ({} bytes) as {}",
        s.input.display(),
        input.size,
        input.sha256
    );
    let spec = JobSpec {
        version: 1,
        workload: Workload::Vod {
            input,
            ladder: s.ladder.clone(),
            segment_secs: s.segment_secs,
            speed: s.speed,
        },
        resources: resources(s.cpus, s.memory, 1024, 0)?,
        timeout_secs: s.timeout.as_secs().max(1),
        max_output_bytes: 4 << 30,
        cooperative: None,
    };
    spec.validate()?;
    let terms = terms(&s.terms, s.timeout, &c, &escrow).await?;
    let (job, _) = submit(&escrow, &blobs, &s.terms.store, &spec, &terms).await?;
    println!(
        "job {job} created with {} replicas; fetch later with `peerflow vod fetch {job} --out DIR`",
        terms.replicas
    );
    follow(&escrow, job, s.terms.detach, false).await
}

fn with_rav1e(ladder: &str) -> String {
    ladder
        .split(',')
        .map(|e| {
            if e.trim().split(':').count() == 3 {
                format!("{}:av1-rav1e", e.trim())
            } else {
                e.trim().to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Prints each change of the job's slots until it is finalized, finalizing it once allowed.
/// Follows the job until it settles (unless `detach`), finalizing it when the escrow allows and,
/// for a `cooperative` job, releasing the checkpoints its nodes reached.
async fn follow(
    escrow: &Escrow<DynProvider>,
    job: u64,
    detach: bool,
    cooperative: bool,
) -> Result<()> {
    if detach {
        return Ok(());
    }
    let mut seen: Vec<String> = Vec::new();
    loop {
        let state = escrow.job(job).await?;
        for (p, slot) in escrow.slots(job).await? {
            let line = format!("  {p}: {}", slot_status_name(slot.status));
            if !seen.contains(&line) {
                println!("{line}");
                seen.push(line);
            }
        }
        if codes::job_ended(state.status) {
            break;
        }
        if cooperative
            && state.params.checkpoints > 0
            && let Err(e) = release_reached(escrow, job, state.params.replicas).await
        {
            eprintln!("  checkpoint release not done yet: {e}");
        }
        let (_, now) = escrow.chain_time().await?;
        if now >= escrow.finalizable_at(job).await? && escrow.finalize(job).await.is_ok() {
            println!("  finalized by the buyer");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    status(escrow, job).await
}

/// Pays a cooperative job as it goes. Its checkpoints are its consensus operations, and a
/// provider reports each with the operation and the dropped set it completed in
/// ([`peerflow_dac::session::checkpoint_state`]): checkpoint k is released to a provider only when
/// a majority of the replicas reported the same state for k, the provider reported that state
/// too, and the state does not list its node as dropped. A provider reporting ahead of the others,
/// a state of its own, or work after it was dropped is not paid for it.
async fn release_reached(escrow: &Escrow<DynProvider>, job: u64, replicas: u8) -> Result<()> {
    let reports = escrow.checkpoint_reports(job).await?;
    let nodes = escrow.providers_of(job).await?;
    let majority = usize::from(replicas) / 2 + 1;
    let agreed = |k: u64| {
        reports
            .iter()
            .filter(|(_, i, _)| *i == k)
            .map(|(_, _, state)| *state)
            .find(|state| {
                reports
                    .iter()
                    .filter(|(_, i, s)| *i == k && s == state)
                    .count()
                    >= majority
            })
    };
    for (provider, slot) in escrow.slots(job).await? {
        if slot.status != codes::SLOT_ACCEPTED && slot.status != codes::SLOT_COMMITTED {
            continue;
        }
        let Some(node) = nodes.iter().position(|p| *p == provider) else {
            continue;
        };
        let mut released = u64::from(slot.checkpointsReleased);
        loop {
            let k = released + 1;
            let Some(state) = agreed(k) else { break };
            let dropped = peerflow_dac::session::parse_checkpoint_state(state)
                .map_or(u64::MAX, |(_, dropped)| dropped);
            let reported = reports.contains(&(provider, k, state));
            if !reported || node >= 64 || dropped & (1 << node) != 0 {
                break;
            }
            escrow.release_checkpoint(job, provider).await?;
            released = k;
            println!("  checkpoint {released} released to {provider}");
        }
    }
    Ok(())
}

async fn status(escrow: &Escrow<DynProvider>, job: u64) -> Result<()> {
    let state = escrow.job(job).await?;
    if state.status == codes::JOB_NONE {
        bail!("job {job} does not exist");
    }
    let p = &state.params;
    println!(
        "job {job}: {} — buyer {}, {} of {} slots taken, {} results sealed, {} revealed, price {} FLOW, collateral {} FLOW",
        job_status_name(state.status),
        state.buyer,
        state.filled,
        p.replicas,
        state.committed,
        state.revealed,
        format_ether(U256::from(state.clearingPrice)),
        format_ether(U256::from(p.collateral)),
    );
    let results = escrow.results(job).await?;
    let confirmed = confirmed(&state, &results).map(|(h, _)| h);
    for (provider, slot) in escrow.slots(job).await? {
        let result = results.iter().find(|r| r.provider == provider);
        println!(
            "  {provider}: {}{}",
            slot_status_name(slot.status),
            result
                .map(|r| format!(
                    ", result {}{}, charge {} FLOW, usage record {} at {}",
                    r.result_hash,
                    if Some(r.result_hash) == confirmed {
                        " (majority)"
                    } else {
                        ""
                    },
                    format_ether(r.charge),
                    r.usage_hash,
                    r.uri
                ))
                .unwrap_or_default()
        );
    }
    for s in escrow.settlements(job).await? {
        println!(
            "  settled {}: {} — {} FLOW to the provider, {} FLOW to the buyer",
            s.provider,
            slot_status_name(s.outcome),
            format_ether(s.to_provider),
            format_ether(s.to_buyer)
        );
    }
    Ok(())
}

/// Where a provider's API is: the URI it committed its result with, else its registry listing.
async fn provider_url(
    c: &Connected,
    escrow: &Escrow<DynProvider>,
    job: u64,
    provider: Address,
) -> Option<String> {
    if let Some(r) = escrow
        .results(job)
        .await
        .ok()?
        .into_iter()
        .find(|r| r.provider == provider)
    {
        return Some(r.uri);
    }
    let registry = ServiceRegistry::new(c.deployment.service_registry, c.chain.clone());
    registry
        .getService(provider)
        .call()
        .await
        .ok()
        .map(|s| s.uri)
}

/// Most rounds `compute status` prints of a consensus operation (else every k-th and the last).
const PROGRESS_LINES: usize = 40;

/// The job's spec, fetched from where the buyer published it (`None` if unavailable).
async fn fetch_spec(escrow: &Escrow<DynProvider>, blobs: &BlobClient, job: u64) -> Option<JobSpec> {
    let created = escrow.created_job(job).await.ok()?;
    let digest = peerflow_compute::Digest::from(created.params.specHash);
    let source = created
        .spec_uri
        .strip_suffix(&format!("/v1/blobs/{digest}"))
        .unwrap_or(&created.spec_uri)
        .to_owned();
    let bytes = blobs.fetch_digest(digest, &[source], 16 << 20).await.ok()?;
    JobSpec::from_bytes_checked(&bytes, digest).ok()
}

/// For a cooperative job (its spec says so, or its providers announced endpoints): each node's
/// consensus progress from its provider, and the disagreement after each round of the latest
/// operation.
async fn consensus_progress(c: &Connected, escrow: &Escrow<DynProvider>, job: u64) -> Result<()> {
    let blobs = buyer_blobs(c)?;
    let endpoints = escrow.endpoints(job).await?;
    let cooperative = fetch_spec(escrow, &blobs, job)
        .await
        .is_some_and(|spec| spec.cooperative.is_some());
    if !cooperative && endpoints.is_empty() {
        return Ok(());
    }
    // Endpoints are the providers' choice: no redirects, and the body read to a bound.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()?;
    let mut nodes: Vec<NodeProgress> = Vec::new();
    for (i, provider) in escrow.providers_of(job).await?.into_iter().enumerate() {
        let announced = endpoints
            .iter()
            .find(|(p, _)| *p == provider)
            .map(|(_, uri)| uri.clone());
        let url = match announced {
            Some(url) => Some(url),
            None => provider_url(c, escrow, job, provider).await,
        };
        // The progress view is public: nothing is signed for a URL a provider chose.
        let Some(url) = url.filter(|u| peerflow_dac::relay::valid_endpoint(u, true)) else {
            println!("  (node {i}: unreachable)");
            continue;
        };
        let progress_url = format!("{}/v1/dac/{job}/progress", url.trim_end_matches('/'));
        match fetch_bounded(&http, &progress_url, MAX_PROGRESS_BYTES).await {
            Some(p) => nodes.push(p),
            None => println!("  (node {i}: unreachable)"),
        }
    }
    let rounds = disagreement(&nodes);
    if rounds.is_empty() {
        println!("  consensus: no rounds reported yet");
    }
    for r in sampled(&rounds, PROGRESS_LINES) {
        println!(
            "  op {} epoch {} round {}: disagreement {:e}",
            r.op, r.epoch, r.round, r.disagreement
        );
    }
    Ok(())
}

/// Largest progress view read from one provider.
const MAX_PROGRESS_BYTES: usize = 64 << 20;

/// GETs `url` and parses its JSON, reading at most `limit` bytes.
async fn fetch_bounded<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    limit: usize,
) -> Option<T> {
    let r = http.get(url).send().await.ok()?.error_for_status().ok()?;
    let body = peerflow_compute::blob::read_bounded(r, limit as u64, Duration::from_secs(5))
        .await
        .ok()?;
    serde_json::from_slice(&body).ok()
}

async fn logs(node: &NodeOpts, job: u64) -> Result<()> {
    let (c, escrow) = connect(node).await?;
    let http = reqwest::Client::new();
    let blobs = buyer_blobs(&c)?;
    for (provider, _) in escrow.slots(job).await? {
        println!("== {provider}");
        let Some(url) = provider_url(&c, &escrow, job, provider).await else {
            println!("(no endpoint known: not committed yet and not in the service registry)");
            continue;
        };
        let logs_url = format!("{}/v1/jobs/{job}/logs", url.trim_end_matches('/'));
        let resp = blobs
            .signed(http.get(&logs_url), "GET", &logs_url)
            .send()
            .await;
        match resp {
            Ok(r) if r.status().is_success() => print!("{}", r.text().await?),
            Ok(r) => println!("({url}: {})", r.status()),
            Err(e) => println!("({url}: {e})"),
        }
    }
    Ok(())
}

async fn usage(escrow: &Escrow<DynProvider>, blobs: &BlobClient, job: u64) -> Result<()> {
    for r in escrow.results(job).await? {
        let digest = peerflow_compute::Digest::from(r.usage_hash);
        let record: peerflow_compute::UsageRecord = match blobs
            .fetch_digest(digest, std::slice::from_ref(&r.uri), 1 << 20)
            .await
        {
            Ok(bytes) => serde_json::from_slice(&bytes).context("usage record")?,
            Err(e) => {
                println!("{}: usage record {digest} unavailable: {e}", r.provider);
                continue;
            }
        };
        let u = &record.usage;
        println!(
            "{}: charge {} FLOW (quote {} FLOW = rates · usage, capped at the price)",
            r.provider,
            format_ether(record.charge),
            format_ether(record.quote)
        );
        println!(
            "  usage: {:.3} cpu-s, {:.1} MiB·s memory (peak {} MiB), {:.2} MiB io, {:.2} s wall, {} samples",
            u.cpu_seconds,
            u.memory_mb_seconds,
            u.peak_memory_bytes >> 20,
            u.io_mb,
            u.wall_seconds,
            u.samples
        );
        println!(
            "  rates: {} wei/cpu-s, {} wei/MiB·s, {} wei/MiB io",
            record.rates.per_cpu_second, record.rates.per_memory_mb_second, record.rates.per_io_mb
        );
        if record.charge != r.charge {
            println!("  WARNING: the record's charge differs from the committed one");
        }
    }
    Ok(())
}

async fn results(a: &ResultsArgs) -> Result<()> {
    let (c, escrow) = connect(&a.node).await?;
    let blobs = buyer_blobs(&c)?;
    let manifest = fetch_results(&escrow, &blobs, a.job, &a.out).await?;
    println!(
        "job {}: exit code {}, {} files written to {}",
        a.job,
        manifest.exit_code,
        manifest.files.len(),
        a.out.display()
    );
    for f in &manifest.files {
        println!("  {} ({} bytes, sha256 {})", f.path, f.size, f.sha256);
    }
    Ok(())
}

/// `90s`, `10m`, `2h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| s.split_at(i));
    let n: u64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("bad duration unit in {s:?} (s, m, h)")),
    };
    Ok(Duration::from_secs(secs))
}

/// `512M`, `2G`, or plain megabytes.
pub fn parse_megabytes(s: &str) -> Result<u32, String> {
    let upper = s.to_ascii_uppercase();
    let (num, mult) = if let Some(n) = upper.strip_suffix('G') {
        (n, 1024)
    } else {
        (upper.strip_suffix('M').unwrap_or(&upper), 1)
    };
    num.parse::<u32>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("bad size {s:?} (e.g. 512M, 2G)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_megabytes("512M"), Ok(512));
        assert_eq!(parse_megabytes("2g"), Ok(2048));
        assert_eq!(parse_megabytes("64"), Ok(64));
        assert!(parse_megabytes("0").is_err());
        assert!(parse_megabytes("x").is_err());
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("5d").is_err());
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        submit: ComputeSubmit,
    }

    fn submit(extra: &[&str]) -> Result<ComputeSubmit, clap::Error> {
        use clap::Parser;
        let mut args = vec![
            "peerflow",
            "--store",
            "http://store",
            "--max-price",
            "1",
            "--image-archive",
            "img.tar",
            "--image",
            "peerflow/busybox:1",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "sh", "-c", "true"]);
        Cli::try_parse_from(args).map(|c| c.submit)
    }

    fn base_spec() -> JobSpec {
        JobSpec {
            version: 1,
            workload: Workload::Container {
                image: peerflow_compute::ImageSpec {
                    archive: placeholder_blob(),
                    reference: "peerflow/busybox:1".into(),
                },
                cmd: vec!["true".into()],
                env: Vec::new(),
                inputs: vec![InputFile {
                    path: "/in/common".into(),
                    blob: placeholder_blob(),
                }],
                output_dir: "/out".into(),
                network: false,
            },
            resources: resources(1.0, 64, 64, 0).unwrap(),
            timeout_secs: 60,
            max_output_bytes: 1 << 20,
            cooperative: None,
        }
    }

    #[test]
    fn an_ordinary_submission_is_not_cooperative() {
        let s = submit(&[]).unwrap();
        assert_eq!(s.coop.plan().unwrap(), None);
        assert_eq!(replicas_for(&s.terms, &s.coop).unwrap(), None);
        let s = submit(&["--replicas", "2"]).unwrap();
        assert_eq!(replicas_for(&s.terms, &s.coop).unwrap(), Some(2));
        let err = submit(&["--shard", "/in/shard=a"]).unwrap().coop.plan();
        assert!(err.unwrap_err().to_string().contains("need --cooperative"));
    }

    #[test]
    fn cooperative_flags_with_shards_in_node_order() {
        let s = submit(&[
            "--cooperative",
            "3",
            "--shard",
            "/in/shard=a.csv",
            "--shard",
            "/in/shard=b.csv",
            "--shard",
            "/in/part=c.csv",
        ])
        .unwrap();
        assert_eq!(replicas_for(&s.terms, &s.coop).unwrap(), Some(3));
        let plan = s.coop.plan().unwrap().unwrap();
        assert_eq!(
            plan,
            CoopPlan {
                nodes: 3,
                topology: Topology {
                    kind: TopologyKind::Ring,
                    degree: 4,
                    seed: 1,
                },
                shards: vec![
                    vec![("/in/shard".into(), "a.csv".into())],
                    vec![("/in/shard".into(), "b.csv".into())],
                    vec![("/in/part".into(), "c.csv".into())],
                ],
                decimals: 9,
                peer_timeout_ms: 10_000,
                join_timeout_secs: 120,
            }
        );
        let mut n = 0u8;
        let spec = with_shards(base_spec(), &plan, |local| {
            n += 1;
            BlobRef {
                sha256: peerflow_compute::Digest::of(local.to_str().unwrap().as_bytes()),
                size: u64::from(n),
                sources: vec!["http://store".into()],
            }
        });
        spec.validate().unwrap();
        let coop = spec.cooperative.as_ref().unwrap();
        assert_eq!(coop.shards[2][0].path, "/in/part");
        assert_eq!(coop.shards[1][0].blob.size, 2);
        assert_eq!(
            spec.shard_blobs(0)[0].sha256,
            peerflow_compute::Digest::of(b"a.csv")
        );
        assert_eq!(spec.blobs().len(), 2, "image and the common input only");
    }

    #[test]
    fn cooperative_flags_explicit() {
        let s = submit(&[
            "--cooperative",
            "4",
            "--replicas",
            "4",
            "--topology",
            "regular",
            "--degree",
            "3",
            "--topology-seed",
            "42",
            "--decimals",
            "6",
            "--peer-timeout",
            "30s",
            "--join-timeout",
            "5m",
            "--shard",
            "/a=1",
            "--shard",
            "/a=2",
            "--shard",
            "/a=3",
            "--shard",
            "/a=4",
        ])
        .unwrap();
        assert_eq!(replicas_for(&s.terms, &s.coop).unwrap(), Some(4));
        let plan = s.coop.plan().unwrap().unwrap();
        assert_eq!(
            plan.topology,
            Topology {
                kind: TopologyKind::Regular,
                degree: 3,
                seed: 42
            }
        );
        assert_eq!(
            (plan.decimals, plan.peer_timeout_ms, plan.join_timeout_secs),
            (6, 30_000, 300)
        );
        with_shards(base_spec(), &plan, |_| placeholder_blob())
            .validate()
            .unwrap();
        assert!(submit(&["--cooperative", "3", "--topology", "star"]).is_err());
    }

    #[test]
    fn cooperative_replicas_and_shard_counts_are_checked() {
        let s = submit(&["--cooperative", "3", "--replicas", "2"]).unwrap();
        let err = replicas_for(&s.terms, &s.coop).unwrap_err().to_string();
        assert!(
            err.contains("--replicas 2 conflicts with --cooperative 3"),
            "{err}"
        );
        let s = submit(&[
            "--cooperative",
            "3",
            "--shard",
            "/in/s=a",
            "--shard",
            "/in/s=b",
        ])
        .unwrap();
        let err = s.coop.plan().unwrap_err().to_string();
        assert!(err.contains("needs 3 --shard"), "{err}");
        let s = submit(&[
            "--cooperative",
            "2",
            "--shard",
            "/in/s",
            "--shard",
            "/in/s=b",
        ])
        .unwrap();
        assert!(s.coop.plan().is_err());
        assert!(
            submit(&[
                "--cooperative",
                "2",
                "--shard",
                "/a=1",
                "--shards-dir",
                "/tmp"
            ])
            .is_err(),
            "--shard and --shards-dir exclude each other"
        );
        // A plan the spec refuses: a ring of 2, a shard clashing with the common input.
        let s = submit(&["--cooperative", "2", "--shard", "/a=1", "--shard", "/b=2"]).unwrap();
        let plan = s.coop.plan().unwrap().unwrap();
        assert!(
            with_shards(base_spec(), &plan, |_| placeholder_blob())
                .validate()
                .is_err()
        );
        let s = submit(&[
            "--cooperative",
            "3",
            "--shard",
            "/in/common=1",
            "--shard",
            "/b=2",
            "--shard",
            "/b=3",
        ])
        .unwrap();
        let plan = s.coop.plan().unwrap().unwrap();
        assert!(
            with_shards(base_spec(), &plan, |_| placeholder_blob())
                .validate()
                .is_err()
        );
    }

    #[test]
    fn shards_dir_gives_one_file_per_node_sorted_by_name() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["part-2", "part-0", "part-1"] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        std::fs::create_dir(dir.path().join("subdir")).unwrap();
        let d = dir.path().to_str().unwrap();
        let s = submit(&[
            "--cooperative",
            "3",
            "--shards-dir",
            d,
            "--shard-path",
            "/data/x",
        ])
        .unwrap();
        let plan = s.coop.plan().unwrap().unwrap();
        let got: Vec<(String, PathBuf)> = plan.shards.iter().map(|f| f[0].clone()).collect();
        assert_eq!(
            got,
            ["part-0", "part-1", "part-2"]
                .map(|n| ("/data/x".to_owned(), dir.path().join(n)))
                .to_vec()
        );
        let s = submit(&["--cooperative", "4", "--shards-dir", d]).unwrap();
        let err = s.coop.plan().unwrap_err().to_string();
        assert!(err.contains("holds 3 files"), "{err}");
        let s = submit(&["--cooperative", "3", "--shards-dir", d]).unwrap();
        assert_eq!(s.coop.plan().unwrap().unwrap().shards[0][0].0, "/in/shard");
    }
}
