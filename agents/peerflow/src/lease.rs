//! `peerflow lease …`: rent containers from providers and pay for them as they run.
//!
//! `open` negotiates with the providers given (their offers: rates, limits, interval, credit) and
//! opens one lease on each of the N cheapest at once; `exec`, `shell` and `close` act on one lease;
//! `agent` pays every open lease in the data directory, interval by interval, after checking each
//! metered interval. No chain RPC is needed: tickets are signed for the deployment's broker and
//! paid from the deposit funded with `peerflow deposit fund`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use peerflow_chain::Deployment;
use peerflow_compute::manifest::RateCard;
use peerflow_lease::buyer::Payer;
use peerflow_lease::buyer::client::LeaseClient;
use peerflow_lease::buyer::store::{BuyerStore, Standing};
use peerflow_lease::frames::Frame;
use peerflow_lease::{LeaseKey, OpenRequest};
use peerflow_protocol::TicketDomain;

use crate::buyer::parse_megabytes;
use crate::keys::KeyArgs;

/// What every lease command needs: the buyer's key, its lease book and the deployment.
#[derive(Debug, Clone, clap::Args)]
pub struct LeaseCommon {
    /// The buyer's lease book (sqlite) lives here.
    #[arg(long, env = "PEERFLOW_LEASE_DIR", default_value = "peerflow-leases")]
    pub data_dir: PathBuf,
    /// Deployment file (the broker tickets are signed for).
    #[arg(long, env = "PEERFLOW_DEPLOYMENT")]
    pub deployment: PathBuf,
    #[command(flatten)]
    pub keys: KeyArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LeaseOpen {
    #[command(flatten)]
    pub common: LeaseCommon,
    /// CPUs per lease.
    #[arg(long, default_value_t = 1.0)]
    pub cpus: f64,
    /// Memory per lease, e.g. 512M or 1G.
    #[arg(long, short = 'm', default_value = "256M")]
    pub memory: String,
    #[arg(long, default_value_t = 0)]
    pub gpus: u16,
    /// An image the providers offer (default: each provider's default image); with
    /// --image-archive, the image of the archive to run (default: its first).
    #[arg(long)]
    pub image: Option<String>,
    /// A `docker save` archive loaded at each provider first; the leases run its image.
    #[arg(long)]
    pub image_archive: Option<PathBuf>,
    /// Leases to open, each on a different provider.
    #[arg(short = 'n', long, default_value_t = 1)]
    pub count: usize,
    /// The most a lease may cost per second with all its CPUs and memory busy, in token wei.
    #[arg(long)]
    pub max_rate: Option<f64>,
    /// A container port to publish through the provider (repeatable): reach it with
    /// `peerflow lease forward`.
    #[arg(long = "port")]
    pub ports: Vec<u16>,
    /// Another account that may reach the published ports (repeatable).
    #[arg(long = "allow")]
    pub allow: Vec<alloy::primitives::Address>,
    /// A provider's URL (repeatable, or comma-separated).
    #[arg(
        long = "provider",
        env = "PEERFLOW_PROVIDERS",
        value_delimiter = ',',
        required = true
    )]
    pub providers: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LeaseExec {
    #[command(flatten)]
    pub common: LeaseCommon,
    pub id: String,
    /// Pipe this terminal's stdin to the command.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub cmd: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LeaseId {
    #[command(flatten)]
    pub common: LeaseCommon,
    pub id: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LeaseForward {
    #[command(flatten)]
    pub common: LeaseCommon,
    pub id: String,
    /// The container port (published when the lease was opened).
    pub port: u16,
    /// The local address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// The provider's URL, for a lease this book did not open (a reader the buyer allowed).
    #[arg(long)]
    pub provider: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LeaseCp {
    #[command(flatten)]
    pub common: LeaseCommon,
    /// A local path, or ID:PATH in a lease.
    pub from: String,
    /// A local path, or ID:PATH in a lease.
    pub to: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LeaseDrop {
    #[command(flatten)]
    pub common: LeaseCommon,
    /// How many to close.
    #[arg(long)]
    pub slowest: usize,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum LeaseCommand {
    /// Open leases on N providers at once (the cheapest that fit), printing each with its provider.
    Open(LeaseOpen),
    /// Run a command in a lease's container: output streamed, its exit code returned.
    Exec(LeaseExec),
    /// An interactive shell (`sh -i`) in a lease's container, reading this terminal's stdin.
    Shell(LeaseId),
    /// Copy a file into a lease (`cp LOCAL ID:PATH`) or out of one (`cp ID:PATH LOCAL`).
    Cp(LeaseCp),
    /// Reach a published port of a lease at a local address: each connection made to it is
    /// carried, signed by this key, through the provider (until Ctrl-C).
    Forward(LeaseForward),
    /// Run a benchmark in every open lease (a shell loop on each of its CPUs): work per second,
    /// and per token at its price with everything busy.
    Bench(LeaseCommon),
    /// Close the K least efficient open leases, by their last benchmark (work per token).
    Drop(LeaseDrop),
    /// Close a lease and pay its last interval.
    Close(LeaseId),
    /// Every lease in the book: provider, standing, paid.
    List(LeaseCommon),
    /// One lease as its provider reports it (usage, paid, credit, rates) and as the book has it.
    Status(LeaseId),
    /// Pay every open lease as its intervals are metered, checking each, until stopped.
    Agent(LeaseCommon),
}

struct Buyer {
    client: LeaseClient,
    store: BuyerStore,
    domain: TicketDomain,
}

impl LeaseCommon {
    fn buyer(&self) -> Result<Buyer> {
        let signer = self.keys.signer()?;
        let key = LeaseKey::new(signer.to_bytes().0).context("the buyer's key")?;
        let deployment = Deployment::load(&self.deployment)
            .with_context(|| format!("reading {}", self.deployment.display()))?;
        let store = BuyerStore::open(&self.data_dir.join("leases.sqlite"))
            .with_context(|| format!("opening the lease book in {}", self.data_dir.display()))?;
        Ok(Buyer {
            client: LeaseClient::new(key),
            store,
            domain: TicketDomain {
                chain_id: deployment.chain_id,
                broker: deployment.ticket_broker,
            },
        })
    }
}

impl Buyer {
    fn url(&self, id: &str) -> Result<String> {
        match self.store.get(id)? {
            Some(l) => Ok(l.provider_url),
            None => bail!("no lease {id} in this lease book (see `peerflow lease list`)"),
        }
    }

    fn payer(&self) -> Payer {
        Payer::new(self.client.clone(), self.domain)
    }
}

pub async fn run(cmd: &LeaseCommand) -> Result<()> {
    match cmd {
        LeaseCommand::Open(o) => open(o).await,
        LeaseCommand::Exec(e) => {
            let b = e.common.buyer()?;
            let code = exec(&b, &e.id, e.cmd.clone(), e.interactive).await?;
            std::process::exit(code.clamp(0, 255) as i32)
        }
        LeaseCommand::Shell(s) => {
            let b = s.common.buyer()?;
            let code = exec(&b, &s.id, vec!["sh".into(), "-i".into()], true).await?;
            std::process::exit(code.clamp(0, 255) as i32)
        }
        LeaseCommand::Cp(c) => copy(c).await,
        LeaseCommand::Forward(f) => forward(f).await,
        LeaseCommand::Bench(c) => bench(c).await,
        LeaseCommand::Drop(d) => drop_slowest(d).await,
        LeaseCommand::Close(c) => close(c).await,
        LeaseCommand::List(c) => list(c),
        LeaseCommand::Status(s) => status(s).await,
        LeaseCommand::Agent(c) => agent(c).await,
    }
}

/// Wei per second a lease of this size costs at `offer`'s rates with everything busy.
fn full_rate(rates: &RateCard, milli_cpus: u32, memory_mb: u64) -> f64 {
    rates.per_cpu_second * f64::from(milli_cpus) / 1000.0
        + rates.per_memory_mb_second * memory_mb as f64
}

async fn open(o: &LeaseOpen) -> Result<()> {
    if !o.cpus.is_finite() || o.cpus <= 0.0 {
        bail!("--cpus must be above 0");
    }
    if o.count == 0 {
        bail!("-n must be at least 1");
    }
    let b = o.common.buyer()?;
    let milli_cpus = (o.cpus * 1000.0).round() as u32;
    let memory_mb = u64::from(parse_megabytes(&o.memory).map_err(anyhow::Error::msg)?);
    let offers = futures_util::future::join_all(
        o.providers
            .iter()
            .map(|url| async { (url.clone(), b.client.offer(url).await) }),
    )
    .await;
    let mut fitting = Vec::new();
    for (url, offer) in offers {
        let offer = match offer {
            Ok(offer) => offer,
            Err(e) => {
                eprintln!("{url}: no offer ({e})");
                continue;
            }
        };
        let rate = full_rate(&offer.rates, milli_cpus, memory_mb);
        let why = if milli_cpus > offer.max.milli_cpus
            || memory_mb > u64::from(offer.max.memory_mb)
            || o.gpus > offer.max.gpus
        {
            Some(format!(
                "leases at most {} mCPU, {} MB, {} GPUs",
                offer.max.milli_cpus, offer.max.memory_mb, offer.max.gpus
            ))
        } else if offer.open >= offer.max_leases {
            Some(format!("holds its most leases ({})", offer.max_leases))
        } else if o.max_rate.is_some_and(|max| rate > max) {
            Some(format!("{rate:.0} wei/s at full use is over --max-rate"))
        } else {
            None
        };
        match why {
            Some(why) => eprintln!("{url}: skipped: {why}"),
            None => fitting.push((rate, url)),
        }
    }
    fitting.sort_by(|a, b| a.0.total_cmp(&b.0));
    fitting.truncate(o.count);
    if fitting.is_empty() {
        bail!("no provider offers a lease of {milli_cpus} mCPU and {memory_mb} MB");
    }
    let req = OpenRequest {
        milli_cpus,
        memory_mb,
        gpus: o.gpus,
        image: o.image.clone(),
        ports: o.ports.clone(),
        port_readers: o.allow.clone(),
    };
    let archive = match &o.image_archive {
        Some(path) => {
            Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        }
        None => None,
    };
    let open_one = |url: String| {
        let (req, archive, client) = (req.clone(), archive.clone(), &b.client);
        async move {
            let mut req = req;
            if let Some(archive) = archive {
                req.image = Some(client.load_image(&url, archive, o.image.as_deref()).await?);
            }
            client.open(&url, &req).await
        }
    };
    let opened = futures_util::future::join_all(
        fitting
            .iter()
            .map(|(_, url)| async { (url.clone(), open_one(url.clone()).await) }),
    )
    .await;
    let mut count = 0;
    for (url, result) in opened {
        match result {
            Ok(view) => {
                b.store
                    .insert(&view.id, &url, &view.terms, view.opened_ms)?;
                let rate = full_rate(
                    &view.terms.rates,
                    view.terms.milli_cpus,
                    view.terms.memory_mb,
                );
                println!(
                    "lease {} on {url} (provider {}): {} mCPU, {} MB, image {}, up to {rate:.0} wei/s, paid every {} ms, credit {} wei",
                    view.id,
                    view.terms.provider,
                    view.terms.milli_cpus,
                    view.terms.memory_mb,
                    view.terms.image,
                    view.terms.interval_ms,
                    view.terms.credit
                );
                count += 1;
            }
            Err(e) => eprintln!("{url}: not opened ({e})"),
        }
    }
    if count < o.count {
        eprintln!("{count} of {} leases opened", o.count);
    }
    if count == 0 {
        bail!("no lease opened");
    }
    Ok(())
}

/// Runs `cmd` in lease `id`, writing its output here; its exit code.
async fn exec(b: &Buyer, id: &str, cmd: Vec<String>, interactive: bool) -> Result<i64> {
    let url = b.url(id)?;
    let stdin = interactive.then(|| byte_stream(tokio::io::stdin()));
    let code = b
        .client
        .exec(&url, id, cmd, stdin, |frame| match frame {
            Frame::Stdout(bytes) => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(bytes).and_then(|_| out.flush());
            }
            Frame::Stderr(bytes) => {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(bytes).and_then(|_| err.flush());
            }
            _ => {}
        })
        .await
        .with_context(|| format!("running the command in lease {id}"))?;
    Ok(code)
}

/// Shell-loop iterations per CPU in one benchmark (about a second of a 2020s core).
const BENCH_ITERATIONS: u64 = 150_000;

async fn bench(c: &LeaseCommon) -> Result<()> {
    let b = c.buyer()?;
    let leases = b.store.leases(true)?;
    if leases.is_empty() {
        bail!("no open lease in {}", c.data_dir.display());
    }
    // Every lease at once: each runs on its own provider.
    let client = &b.client;
    let runs = futures_util::future::join_all(leases.iter().map(|l| async move {
        let cpus = l.terms.milli_cpus.div_ceil(1000).max(1);
        let script = format!(
            "for j in $(seq {cpus}); do (i=0; while [ $i -lt {BENCH_ITERATIONS} ]; do i=$((i+1)); done) & done; wait"
        );
        let started = std::time::Instant::now();
        let ran = client
            .run(&l.provider_url, &l.id, &["sh", "-c", &script])
            .await;
        (l, ran, started.elapsed(), u64::from(cpus))
    }))
    .await;
    println!(
        "{:<18} {:>14} {:>18} {:>22}  provider",
        "lease", "ops/s", "wei/s (full use)", "ops per 1e18 wei"
    );
    for (l, ran, took, cpus) in runs {
        match ran {
            Ok((0, _, _)) => {
                let result = peerflow_lease::buyer::store::Bench {
                    ops_per_second: (BENCH_ITERATIONS * cpus) as f64 / took.as_secs_f64(),
                    wei_per_second: full_rate(
                        &l.terms.rates,
                        l.terms.milli_cpus,
                        l.terms.memory_mb,
                    ),
                    at_ms: peerflow_lease::provider::now_ms(),
                };
                b.store.record_bench(&l.id, &result)?;
                println!(
                    "{:<18} {:>14.0} {:>18.0} {:>22.3e}  {}",
                    l.id,
                    result.ops_per_second,
                    result.wei_per_second,
                    result.efficiency() * 1e18,
                    l.provider_url
                );
            }
            Ok((code, _, err)) => eprintln!(
                "{}: the benchmark exited {code}: {}",
                l.id,
                String::from_utf8_lossy(&err).trim()
            ),
            Err(e) => eprintln!("{}: no benchmark ({e})", l.id),
        }
    }
    Ok(())
}

async fn drop_slowest(d: &LeaseDrop) -> Result<()> {
    let b = d.common.buyer()?;
    let mut ranked = Vec::new();
    for l in b.store.leases(true)? {
        match b.store.bench(&l.id)? {
            Some(bench) => ranked.push((bench.efficiency(), l.id)),
            None => bail!(
                "lease {} has no benchmark: run `peerflow lease bench` first",
                l.id
            ),
        }
    }
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (efficiency, id) in ranked.into_iter().take(d.slowest) {
        println!(
            "dropping lease {id} ({:.3e} ops per 1e18 wei)",
            efficiency * 1e18
        );
        close(&LeaseId {
            common: d.common.clone(),
            id,
        })
        .await?;
    }
    Ok(())
}

async fn close(c: &LeaseId) -> Result<()> {
    let mut b = c.common.buyer()?;
    let url = b.url(&c.id)?;
    b.client
        .close(&url, &c.id)
        .await
        .with_context(|| format!("closing lease {}", c.id))?;
    // The last interval, metered at the close, is paid now.
    let payer = b.payer();
    let progress = payer
        .pay_lease(&mut b.store, &c.id)
        .await
        .with_context(|| format!("paying lease {}'s last intervals", c.id))?;
    let lease = b.store.get(&c.id)?.context("the lease left the book")?;
    if let Some(why) = &progress.refused {
        bail!(
            "lease {} closed; its last intervals were refused: {why}",
            c.id
        );
    }
    println!(
        "lease {} closed: {} intervals paid, {} wei in all ({})",
        c.id,
        lease.next_seq,
        lease.paid,
        match lease.standing {
            Standing::Closed => "settled",
            Standing::Open => "the provider has not closed it yet",
            Standing::Refused => "refused",
        }
    );
    Ok(())
}

fn list(c: &LeaseCommon) -> Result<()> {
    let b = c.buyer()?;
    println!(
        "{:<18} {:<9} {:>9} {:>24}  provider",
        "lease", "standing", "intervals", "paid (wei)"
    );
    for l in b.store.leases(false)? {
        println!(
            "{:<18} {:<9} {:>9} {:>24}  {}",
            l.id,
            serde_json::to_value(l.standing)?.as_str().unwrap_or("?"),
            l.next_seq,
            l.paid,
            l.provider_url
        );
    }
    Ok(())
}

async fn status(s: &LeaseId) -> Result<()> {
    let b = s.common.buyer()?;
    let url = b.url(&s.id)?;
    let local = b.store.get(&s.id)?;
    let view = b.client.view(&url, &s.id).await?;
    let rate_per_s = full_rate(
        &view.terms.rates,
        view.terms.milli_cpus,
        view.terms.memory_mb,
    );
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "provider": view,
            "unpaid": view.unpaid(),
            "fullRateWeiPerSecond": rate_per_s.round(),
            "book": local,
        }))?
    );
    Ok(())
}

async fn agent(c: &LeaseCommon) -> Result<()> {
    let mut b = c.buyer()?;
    let payer = b.payer();
    println!(
        "paying the open leases of {} as {}",
        c.data_dir.display(),
        b.client.key().address()
    );
    let stop = crate::shutdown::requested();
    tokio::pin!(stop);
    loop {
        for lease in b.store.leases(true)? {
            match payer.pay_lease(&mut b.store, &lease.id).await {
                Ok(p) if p.tickets > 0 || p.refused.is_some() || p.closed => tracing::info!(
                    lease = %lease.id,
                    settled = p.settled,
                    tickets = p.tickets,
                    paid = %p.paid,
                    refused = p.refused.as_deref().unwrap_or(""),
                    closed = p.closed,
                    "lease paid"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(lease = %lease.id, error = %e, "lease not paid this time"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            signal = &mut stop => {
                println!("stopped by {}", signal?);
                return Ok(());
            }
        }
    }
}

async fn forward(f: &LeaseForward) -> Result<()> {
    let b = f.common.buyer()?;
    let url = match &f.provider {
        Some(url) => url.clone(),
        None => b.url(&f.id)?,
    };
    let listener = tokio::net::TcpListener::bind(f.listen)
        .await
        .with_context(|| format!("listening on {}", f.listen))?;
    println!(
        "forwarding {} to port {} of lease {} on {url}",
        listener.local_addr()?,
        f.port,
        f.id
    );
    let stop = crate::shutdown::requested();
    tokio::pin!(stop);
    loop {
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            signal = &mut stop => {
                println!("stopped by {}", signal?);
                return Ok(());
            }
        };
        let (client, url, id, port) = (b.client.clone(), url.clone(), f.id.clone(), f.port);
        tokio::spawn(async move {
            if let Err(e) = carry(&client, &url, &id, port, socket).await {
                eprintln!("{peer}: {e:#}");
            }
        });
    }
}

/// Carries one local connection through the provider to the lease's port, both ways.
async fn carry(
    client: &LeaseClient,
    url: &str,
    id: &str,
    port: u16,
    socket: tokio::net::TcpStream,
) -> Result<()> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let (from, mut to) = socket.into_split();
    let upstream = byte_stream(from);
    let mut back = std::pin::pin!(client.tunnel(url, id, port, upstream).await?);
    while let Some(chunk) = back.next().await {
        to.write_all(&chunk?).await?;
    }
    to.shutdown().await?;
    Ok(())
}

/// `ID:PATH` of a lease in `book`, if `arg` names one (a local path may contain a colon too).
fn lease_path<'a>(b: &Buyer, arg: &'a str) -> Result<Option<(&'a str, &'a str)>> {
    match arg.split_once(':') {
        Some((id, path)) if b.store.get(id)?.is_some() => Ok(Some((id, path))),
        _ => Ok(None),
    }
}

/// Copies a file in or out through the lease's exec stream (the container's `cat`).
async fn copy(c: &LeaseCp) -> Result<()> {
    let b = c.common.buyer()?;
    match (lease_path(&b, &c.from)?, lease_path(&b, &c.to)?) {
        (None, Some((id, path))) => {
            let url = b.url(id)?;
            let file = tokio::fs::File::open(&c.from)
                .await
                .with_context(|| format!("opening {}", c.from))?;
            let stdin = byte_stream(file);
            let mut err = Vec::new();
            let cmd = ["sh", "-c", "cat > \"$1\"", "sh", path]
                .map(String::from)
                .to_vec();
            let code = b
                .client
                .exec(&url, id, cmd, Some(stdin), |f| {
                    if let Frame::Stderr(bytes) = f {
                        err.extend_from_slice(bytes);
                    }
                })
                .await?;
            if code != 0 {
                bail!(
                    "writing {path} in lease {id}: exit {code}: {}",
                    String::from_utf8_lossy(&err).trim()
                );
            }
            println!("copied {} to {id}:{path}", c.from);
        }
        (Some((id, path)), None) => {
            let url = b.url(id)?;
            let mut out =
                std::fs::File::create(&c.to).with_context(|| format!("creating {}", c.to))?;
            let mut err = Vec::new();
            let mut written = Ok(());
            let code = b
                .client
                .exec(
                    &url,
                    id,
                    vec!["cat".into(), path.into()],
                    None::<futures_util::stream::Empty<std::io::Result<Bytes>>>,
                    |f| match f {
                        Frame::Stdout(bytes) if written.is_ok() => written = out.write_all(bytes),
                        Frame::Stderr(bytes) => err.extend_from_slice(bytes),
                        _ => {}
                    },
                )
                .await?;
            if code != 0 || written.is_err() {
                let _ = std::fs::remove_file(&c.to);
                written.with_context(|| format!("writing {}", c.to))?;
                bail!(
                    "reading {path} in lease {id}: exit {code}: {}",
                    String::from_utf8_lossy(&err).trim()
                );
            }
            println!("copied {id}:{path} to {}", c.to);
        }
        (Some(_), Some(_)) => bail!("copy between two leases: copy out, then in"),
        (None, None) => bail!("name a lease path ID:PATH on one side"),
    }
    Ok(())
}

/// What `reader` reads, as a stream of chunks (read on a task of its own), for a request body.
fn byte_stream(
    mut reader: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + Sync + 'static {
    use tokio::io::AsyncReadExt;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let chunk = match reader.read(&mut buf).await {
                Ok(0) => return,
                Ok(n) => Ok(Bytes::copy_from_slice(&buf[..n])),
                Err(e) => Err(e),
            };
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
}
