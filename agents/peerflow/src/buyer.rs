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
use peerflow_compute::{BlobClient, BlobRef, JobSpec, Resources, Workload};
use peerflow_protocol::blobauth::RequestKey;

use crate::roles::{Connected, NodeOpts};

/// Job terms common to `compute submit` and `vod submit`.
#[derive(Debug, Clone, clap::Args)]
pub struct TermsArgs {
    /// Base URL of the blob store the inputs and spec are uploaded to (a provider's API).
    #[arg(long, env = "PEERFLOW_STORE")]
    pub store: String,
    /// Providers that run the job; results are compared and the majority is paid.
    #[arg(long, default_value_t = 1)]
    pub replicas: u8,
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
    /// (`peerflow compute release`), each 1/(N+1).
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
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true)]
    pub cmd: Vec<String>,
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
        ComputeCommand::Status(a) => status(&escrow_of(&a.node).await?, a.job).await,
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
    if t.replicas == 0 {
        bail!("--replicas must be at least 1");
    }
    let (_, now) = escrow.chain_time().await?;
    Ok(Terms {
        price,
        collateral,
        replicas: t.replicas,
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
    };
    spec.validate()?;
    let terms = terms(&s.terms, s.timeout, &c, &escrow).await?;
    let (job, uri) = submit(&escrow, &blobs, store, &spec, &terms).await?;
    println!("job {job} created: spec {uri}");
    follow(&escrow, job, s.terms.detach).await
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
    };
    spec.validate()?;
    let terms = terms(&s.terms, s.timeout, &c, &escrow).await?;
    let (job, _) = submit(&escrow, &blobs, &s.terms.store, &spec, &terms).await?;
    println!(
        "job {job} created with {} replicas; fetch later with `peerflow vod fetch {job} --out DIR`",
        terms.replicas
    );
    follow(&escrow, job, s.terms.detach).await
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
async fn follow(escrow: &Escrow<DynProvider>, job: u64, detach: bool) -> Result<()> {
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
        let (_, now) = escrow.chain_time().await?;
        if now >= escrow.finalizable_at(job).await? && escrow.finalize(job).await.is_ok() {
            println!("  finalized by the buyer");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    status(escrow, job).await
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
}
