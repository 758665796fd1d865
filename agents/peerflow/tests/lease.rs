//! Compute leases paid as you go, through the binary's `peerflow lease` commands against two
//! honest providers and a dishonest one (real dockerd, anvil mining a block a second, loopback
//! HTTP): two leases open at once; exec and an interactive shell work; the agent pays each metered
//! interval with one ticket (win probability 1), and the provider's on-chain token balance rises
//! by exactly the charges paid; a provider restart keeps its lease's container and metering; a
//! closed lease is paid up to its close and no more; when the agent stops, the open lease is
//! paused then closed within its credit; a provider that over-reports CPU time is refused.

use crate::common;

use common::{Kill, free_port};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256, utils::parse_ether};
use alloy::providers::DynProvider;
use peerflow::provider::{ProviderOpts, RunningProvider, start_provider};
use peerflow::roles::{NodeOpts, provider};
use peerflow_chain::actions::{fund_sender, give};
use peerflow_chain::bindings::work_token::WorkToken;
use peerflow_chain::{Deployment, DevChain, DevChainOptions, SuiteParams, deploy_suite};
use peerflow_lease::LeaseState;
use peerflow_lease::buyer::store::BuyerStore;

const BUYER: usize = 1;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerflow"));
    cmd.env("RUST_LOG", "warn");
    cmd
}

struct World {
    chain: DevChain,
    d: Deployment,
    dir: tempfile::TempDir,
    deployer: DynProvider,
}

/// Lease containers outlive their providers (by design): the test's are removed when it ends,
/// passed or failed.
impl Drop for World {
    fn drop(&mut self) {
        let Ok(book) = BuyerStore::open(&self.dir.path().join("buyer/leases.sqlite")) else {
            return;
        };
        for lease in book.leases(false).unwrap_or_default() {
            let ids = Command::new("docker")
                .args(["ps", "-aq", "--filter"])
                .arg(format!("label=peerflow.lease={}", lease.id))
                .output();
            if let Ok(ids) = ids {
                for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
                    let _ = Command::new("docker")
                        .args(["rm", "-f", "-v", id])
                        .stdout(Stdio::null())
                        .status();
                }
            }
        }
    }
}

impl World {
    fn key_file(&self, i: usize) -> String {
        let path = self.dir.path().join(format!("key{i}"));
        std::fs::write(
            &path,
            alloy::primitives::hex::encode(self.chain.secret_key(i)),
        )
        .unwrap();
        path.display().to_string()
    }

    fn common(&self) -> Vec<String> {
        vec![
            "--deployment".into(),
            self.dir
                .path()
                .join("deployment.json")
                .display()
                .to_string(),
            "--key-file".into(),
            self.key_file(BUYER),
            "--data-dir".into(),
            self.dir.path().join("buyer").display().to_string(),
        ]
    }

    fn lease(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = bin();
        cmd.arg("lease")
            .args(&args[..1])
            .args(self.common())
            .args(&args[1..]);
        let out = match stdin {
            Some(text) => {
                use std::io::Write;
                let mut child = cmd
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(text.as_bytes())
                    .unwrap();
                child.wait_with_output().unwrap()
            }
            None => cmd.output().unwrap(),
        };
        eprintln!(
            "$ peerflow lease {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn agent(&self) -> Kill {
        Kill(
            bin()
                .args(["lease", "agent"])
                .args(self.common())
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }

    async fn balance(&self, who: Address) -> U256 {
        WorkToken::new(self.d.work_token, &self.deployer)
            .balanceOf(who)
            .call()
            .await
            .unwrap()
    }

    async fn start_provider(&self, i: usize, port: u16, cheat: Option<f64>) -> RunningProvider {
        self.start_provider_with(i, port, |o| o.lease_cpu_overreport = cheat)
            .await
    }

    async fn start_provider_with(
        &self,
        i: usize,
        port: u16,
        adjust: impl FnOnce(&mut ProviderOpts),
    ) -> RunningProvider {
        let mut opts = ProviderOpts {
            node: NodeOpts {
                listen: Some(([127, 0, 0, 1], port).into()),
                data_dir: Some(self.dir.path().join(format!("provider{i}"))),
                ..Default::default()
            },
            cpus: Some(1.0),
            memory: Some("512M".into()),
            rates: Some("1e15,1e12,1e13".into()),
            poll_secs: Some(0.5),
            lease_interval_secs: Some(1.0),
            lease_credit_intervals: Some(8),
            lease_win_probability: Some(1.0),
            lease_params_blocks: Some(2),
            redeem_max_cost_ppm: Some(u64::MAX / 2),
            lease_ports: Some(true),
            ..Default::default()
        };
        adjust(&mut opts);
        let chain = provider(&self.chain.endpoint(), self.chain.signer(i)).unwrap();
        start_provider(
            chain,
            self.chain.address(i),
            self.chain.secret_key(i),
            &self.d,
            &opts,
            true,
        )
        .await
        .unwrap()
    }
}

fn lease_ids(out: &Output) -> Vec<(String, String)> {
    assert!(out.status.success(), "lease open failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("lease "))
        .map(|l| {
            let mut w = l.split_whitespace();
            let id = w.nth(1).unwrap().to_string();
            let url = w.nth(1).unwrap().to_string();
            (id, url)
        })
        .collect()
}

async fn until<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn view(p: &RunningProvider, id: &str) -> peerflow_lease::LeaseView {
    let leases = p.leases.as_ref().expect("leases offered");
    leases
        .all()
        .unwrap()
        .into_iter()
        .find(|v| v.id == id)
        .expect("the lease is on this provider")
}

/// Anvil mining a block a second, the suite, and a buyer with 100 FLOW in deposit.
async fn world() -> World {
    let chain = DevChain::spawn_with(&DevChainOptions {
        block_time: Some(1),
        ..DevChainOptions::default()
    })
    .unwrap();
    let deployer = provider(&chain.endpoint(), chain.signer(0)).unwrap();
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    d.save(&dir.path().join("deployment.json")).unwrap();
    give(
        &deployer,
        &d,
        chain.address(BUYER),
        parse_ether("1000").unwrap(),
    )
    .await
    .unwrap();
    let buyer_chain = provider(&chain.endpoint(), chain.signer(BUYER)).unwrap();
    fund_sender(
        &buyer_chain,
        &d,
        parse_ether("100").unwrap(),
        parse_ether("10").unwrap(),
    )
    .await
    .unwrap();
    World {
        chain,
        d,
        dir,
        deployer,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_are_used_paid_per_interval_paused_closed_and_checked() {
    let w = world().await;
    let ports = [free_port(), free_port(), free_port()];
    let a = w.start_provider(2, ports[0], None).await;
    let mut b = w.start_provider(3, ports[1], None).await;
    let (a_addr, b_addr) = (w.chain.address(2), w.chain.address(3));
    let a_before = w.balance(a_addr).await;

    // Two leases at once, one on each provider.
    let out = w.lease(
        &[
            "open",
            "--cpus",
            "1",
            "--memory",
            "128M",
            "-n",
            "2",
            "--port",
            "8080",
            "--provider",
            &format!("{},{}", a.url, b.url),
        ],
        None,
    );
    let leases = lease_ids(&out);
    assert_eq!(leases.len(), 2, "two leases opened");
    let on = |url: &str| leases.iter().find(|(_, u)| u == url).unwrap().0.clone();
    let (la, lb) = (on(&a.url), on(&b.url));

    // exec: output streamed, the exit code returned.
    let out = w.lease(
        &[
            "exec",
            &la,
            "--",
            "sh",
            "-c",
            "echo hello; echo oops >&2; exit 7",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    // An interactive shell reads our stdin.
    let out = w.lease(
        &["shell", &lb],
        Some("echo from-the-shell $((6*7))\nexit 3\n"),
    );
    assert_eq!(out.status.code(), Some(3));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("# from-the-shell 42\n"),
        "a prompt, then the output: {shown}"
    );
    // Files go in and come out byte for byte.
    let original: Vec<u8> = (0..200_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let inside = w.dir.path().join("in.bin");
    std::fs::write(&inside, &original).unwrap();
    let out = w.lease(
        &[
            "cp",
            inside.to_str().unwrap(),
            &format!("{la}:/tmp/data.bin"),
        ],
        None,
    );
    assert!(out.status.success());
    let back = w.dir.path().join("out.bin");
    let out = w.lease(
        &["cp", &format!("{la}:/tmp/data.bin"), back.to_str().unwrap()],
        None,
    );
    assert!(out.status.success());
    assert_eq!(std::fs::read(&back).unwrap(), original);
    let out = w.lease(
        &["cp", &format!("{la}:/no/such/file"), back.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success(), "a missing file is an error");
    assert!(!back.exists(), "and leaves nothing behind");

    // Nobody but the buyer reaches a lease: another key is refused.
    let mut other = bin();
    let out = other
        .args(["lease", "exec"])
        .args([
            "--deployment",
            &w.dir.path().join("deployment.json").display().to_string(),
        ])
        .args(["--key-file", &w.key_file(4)])
        .args([
            "--data-dir",
            &w.dir.path().join("buyer").display().to_string(),
        ])
        .args([&la, "--", "true"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("forbidden"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A service on a published port answers the buyer through the provider, and nobody else.
    let out = w.lease(
        &[
            "exec",
            &la,
            "--",
            "sh",
            "-c",
            "mkdir -p /tmp/www && echo hello-from-lease > /tmp/www/index.html && httpd -p 8080 -h /tmp/www",
        ],
        None,
    );
    assert!(out.status.success());
    let local = free_port();
    let _forward = Kill(
        bin()
            .args(["lease", "forward"])
            .args(w.common())
            .args([&la, "8080", "--listen", &format!("127.0.0.1:{local}")])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let page = until(
        "the lease's web server reached through the provider",
        30,
        async || {
            let resp = reqwest::get(format!("http://127.0.0.1:{local}/index.html"))
                .await
                .ok()?;
            resp.text().await.ok()
        },
    )
    .await;
    assert_eq!(page, "hello-from-lease\n");
    let stranger = peerflow_lease::buyer::client::LeaseClient::new(
        peerflow_lease::LeaseKey::new(w.chain.secret_key(4)).unwrap(),
    );
    let refused = stranger
        .tunnel(&a.url, &la, 8080, futures_util::stream::empty())
        .await
        .err()
        .expect("another key is refused");
    assert_eq!(refused.code(), Some("forbidden"), "{refused}");
    let unsigned = reqwest::Client::new()
        .post(format!("{}/v1/leases/{la}/ports/8080", a.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);

    // The agent pays every interval as it is metered; CPU work is charged.
    let agent = w.agent();
    let out = w.lease(
        &[
            "exec",
            &la,
            "--",
            "sh",
            "-c",
            "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done",
        ],
        None,
    );
    assert!(out.status.success());
    until(
        "lease A paid for CPU work over several intervals",
        60,
        async || {
            let v = view(&a, &la);
            (v.intervals >= 4 && v.paid > U256::ZERO && v.unpaid() <= v.terms.credit).then_some(())
        },
    )
    .await;

    let metrics = reqwest::get(format!("{}/metrics", a.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("peerflow_provider_lease_intervals_total"),
        "{metrics}"
    );

    // A restarted agent goes on from where it was: nothing paid twice, nothing skipped.
    drop(agent);
    let agent = w.agent();

    // A provider restart keeps the lease: same container, metering and payment go on.
    let before = view(&b, &lb).intervals;
    drop(b);
    tokio::time::sleep(Duration::from_secs(2)).await;
    b = w.start_provider(3, ports[1], None).await;
    let out = w.lease(&["exec", &lb, "--", "echo", "still-here"], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "still-here\n");
    until(
        "lease B metered and paid after the restart",
        30,
        async || {
            let v = view(&b, &lb);
            (v.state == LeaseState::Running && v.intervals >= before + 3 && v.paid > U256::ZERO)
                .then_some(())
        },
    )
    .await;

    // Closing pays up to the close and no more; the provider's balance rises by exactly that.
    let out = w.lease(&["close", &la], None);
    assert!(out.status.success());
    let closed = view(&a, &la);
    assert_eq!(closed.state, LeaseState::Closed);
    assert_eq!(
        closed.paid, closed.charged,
        "every interval paid, the last one too"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        view(&a, &la).intervals,
        closed.intervals,
        "nothing metered after the close"
    );
    until("provider A's winning tickets redeemed", 60, async || {
        (w.balance(a_addr).await - a_before == closed.paid).then_some(())
    })
    .await;

    // The agent stops: lease B is paused, then closed, within its credit.
    drop(agent);
    let paused = until("lease B paused", 45, async || {
        let v = view(&b, &lb);
        (v.state == LeaseState::Paused).then_some(v)
    })
    .await;
    assert!(paused.unpaid() > U256::ZERO);
    let stopped = until("lease B closed unpaid", 45, async || {
        let v = view(&b, &lb);
        (v.state == LeaseState::Closed).then_some(v)
    })
    .await;
    assert_eq!(stopped.reason.as_deref(), Some("unpaid"));
    // Owed at most the credit plus the interval that went over it, and the paused one.
    let per_interval = stopped.terms.credit / U256::from(8u8);
    assert!(
        stopped.unpaid() <= stopped.terms.credit + per_interval * U256::from(2u8),
        "{} unpaid with a credit of {}",
        stopped.unpaid(),
        stopped.terms.credit
    );
    assert!(
        stopped.intervals <= paused.intervals + 12,
        "closed soon after the pause"
    );
    // Every ticket B took was redeemed once: its balance is exactly what the agent paid it.
    until("provider B's winning tickets redeemed", 60, async || {
        (w.balance(b_addr).await == stopped.paid).then_some(())
    })
    .await;

    // A provider that over-reports CPU time is refused by the buyer's checks.
    let c = w.start_provider(5, ports[2], Some(3.0)).await;
    let out = w.lease(
        &[
            "open",
            "--cpus",
            "1",
            "--memory",
            "64M",
            "--provider",
            &c.url,
        ],
        None,
    );
    let lc = lease_ids(&out)[0].0.clone();
    let agent = w.agent();
    w.lease(
        &[
            "exec",
            &lc,
            "--",
            "sh",
            "-c",
            "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done",
        ],
        None,
    );
    until("the over-reporting provider refused", 30, async || {
        let out = w.lease(&["list"], None);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .any(|l| l.starts_with(&lc) && l.contains("refused"))
            .then_some(())
    })
    .await;
    drop(agent);
    until("the refused lease closed at the provider", 30, async || {
        (view(&c, &lc).state == LeaseState::Closed).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_ranks_leases_by_work_per_token_and_drop_closes_the_least_efficient() {
    let w = world().await;
    let cheap = w.start_provider(2, free_port(), None).await;
    // Ten times the CPU price for the same CPU.
    let pricey = w
        .start_provider_with(3, free_port(), |o| o.rates = Some("1e16,1e12,1e13".into()))
        .await;
    let out = w.lease(
        &[
            "open",
            "--cpus",
            "1",
            "--memory",
            "64M",
            "-n",
            "2",
            "--provider",
            &format!("{},{}", cheap.url, pricey.url),
        ],
        None,
    );
    let leases = lease_ids(&out);
    assert_eq!(leases.len(), 2);
    let on = |url: &str| leases.iter().find(|(_, u)| u == url).unwrap().0.clone();
    let (lc, lp) = (on(&cheap.url), on(&pricey.url));
    let _agent = w.agent();
    let out = w.lease(&["drop", "--slowest", "1"], None);
    assert!(!out.status.success(), "no benchmark yet: refused");
    let out = w.lease(&["bench"], None);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains(&lc) && text.contains(&lp), "{text}");
    let out = w.lease(&["drop", "--slowest", "1"], None);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("dropping lease {lp}")),
        "the pricey lease goes"
    );
    assert_eq!(view(&pricey, &lp).state, LeaseState::Closed);
    assert_eq!(view(&cheap, &lc).state, LeaseState::Running);
    let list = String::from_utf8_lossy(&w.lease(&["list"], None).stdout).into_owned();
    assert!(
        list.lines()
            .any(|l| l.starts_with(&lp) && l.contains("closed")),
        "{list}"
    );
}
