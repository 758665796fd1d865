//! Cooperative jobs end to end (issue 21): five `peerflow provider` processes, the local dockerd,
//! anvil, and a buyer using `peerflow compute submit --cooperative 5`. A 200,000 × 5 data set is
//! split by rows into five shards; each container gets its shard and the consensus socket only
//! (no network), and the providers relay the consensus between them.
//!
//! - the consensus average of the columns matches the true average to 1e-9, and every node wrote
//!   the same bytes, so the escrow's majority rule pays all five;
//! - least squares over the row-split data matches a single-machine solve to 1e-6;
//! - one provider killed (SIGKILL) mid-run, after its first checkpoint: the four others converge on
//!   the surviving data, the job settles, and the killed one is paid its checkpoint only;
//! - a provider that reports a wrong value is outvoted and loses its collateral.

use crate::common;

use common::{Kill, free_port, wait_http};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256, utils::parse_ether};
use alloy::providers::DynProvider;
use alloy::providers::ext::AnvilApi;
use peerflow::provider::{ProviderOpts, start_provider};
use peerflow::roles::{NodeOpts, provider};
use peerflow_chain::actions::give;
use peerflow_chain::bindings::work_token::WorkToken;
use peerflow_chain::{Deployment, DevChain, SuiteParams, deploy_suite};
use peerflow_compute::escrow::{Escrow, slot_status_name};

const NODES: usize = 5;
const ROWS: usize = 200_000;
const COLS: usize = 5;
/// Accounts: 0 deployer (and the arbiter providers trust), 1 buyer, 2..=6 providers, 7 the liar.
const BUYER: usize = 1;
const FIRST_PROVIDER: usize = 2;
const LIAR: usize = 7;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerflow"));
    cmd.env("RUST_LOG", "warn,peerflow_dac=info,peerflow_provider=info");
    cmd
}

fn run(args: &[String]) -> Output {
    let out = bin().args(args).output().expect("peerflow binary");
    eprintln!(
        "$ peerflow {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The job binary built with the workspace (`cargo nextest run --workspace` builds every binary).
fn dac_job_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let path = dir.join("dac-job");
    assert!(
        path.exists(),
        "{} missing: build the workspace's binaries (cargo build -p peerflow-dac-client)",
        path.display()
    );
    path
}

/// The data set: row r is (a1, a2, a3, a4, b) with b = 1.5 a1 − 2 a2 + 0.25 a3 + 3 a4 + noise.
fn dataset() -> Vec<[f64; COLS]> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..ROWS)
        .map(|_| {
            let a = [next(), next() * 2.0 - 1.0, next() * 10.0, next()];
            let b = 1.5 * a[0] - 2.0 * a[1] + 0.25 * a[2] + 3.0 * a[3] + (next() - 0.5) * 0.1;
            [a[0], a[1], a[2], a[3], b]
        })
        .collect()
}

fn column_means(rows: &[[f64; COLS]]) -> Vec<f64> {
    (0..COLS)
        .map(|c| rows.iter().map(|r| r[c]).sum::<f64>() / rows.len() as f64)
        .collect()
}

/// The single-machine least squares solve: normal equations by Gaussian elimination.
fn lstsq(rows: &[[f64; COLS]]) -> Vec<f64> {
    let k = COLS - 1;
    let mut m = vec![vec![0.0; k + 1]; k];
    for r in rows {
        for i in 0..k {
            for j in 0..k {
                m[i][j] += r[i] * r[j];
            }
            m[i][k] += r[i] * r[k];
        }
    }
    for col in 0..k {
        let pivot = (col..k)
            .max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))
            .unwrap();
        m.swap(col, pivot);
        let pivot_row = m[col].clone();
        for (i, row) in m.iter_mut().enumerate() {
            if i != col {
                let f = row[col] / pivot_row[col];
                for (x, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *x -= f * p;
                }
            }
        }
    }
    (0..k).map(|i| m[i][k] / m[i][i]).collect()
}

fn write_shards(dir: &Path, rows: &[[f64; COLS]]) -> Vec<String> {
    rows.chunks(ROWS / NODES)
        .enumerate()
        .map(|(i, chunk)| {
            let path = dir.join(format!("shard{i}.csv"));
            let text: String = chunk
                .iter()
                .map(|r| {
                    let cells: Vec<String> = r.iter().map(|v| format!("{v:?}")).collect();
                    cells.join(",") + "\n"
                })
                .collect();
            std::fs::write(&path, text).unwrap();
            path.to_string_lossy().into_owned()
        })
        .collect()
}

struct Net {
    chain: DevChain,
    deployer: DynProvider,
    d: Deployment,
    dir: tempfile::TempDir,
    deployment: String,
    urls: Vec<String>,
}

impl Net {
    fn key_file(&self, i: usize) -> String {
        let path = self.dir.path().join(format!("key{i}"));
        std::fs::write(
            &path,
            alloy::primitives::hex::encode(self.chain.secret_key(i)),
        )
        .unwrap();
        path.to_string_lossy().into_owned()
    }

    fn node_args(&self, i: usize) -> Vec<String> {
        vec![
            "--rpc-url".into(),
            self.chain.endpoint(),
            "--deployment".into(),
            self.deployment.clone(),
            "--key-file".into(),
            self.key_file(i),
        ]
    }

    async fn spawn_provider(&self, k: usize, port: u16) -> Kill {
        let i = FIRST_PROVIDER + k;
        let data = self.dir.path().join(format!("provider{k}"));
        let child = bin()
            .arg("provider")
            .args(self.node_args(i))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--data-dir", data.to_str().unwrap(), "--poll-secs", "0.2"])
            .args(["--cpus", "2", "--memory", "2G", "--max-jobs", "2"])
            .args(["--allow-private-urls", "true", "--leases", "false"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        wait_http(&format!("http://127.0.0.1:{port}/v1/rates")).await;
        Kill(child)
    }

    async fn balance(&self, who: Address) -> U256 {
        WorkToken::new(self.d.work_token, &self.deployer)
            .balanceOf(who)
            .call()
            .await
            .unwrap()
    }

    /// `peerflow compute results JOB` into a fresh directory `name`, which it returns.
    fn results(&self, job: u64, name: &str) -> PathBuf {
        let out = self.dir.path().join(name);
        let mut args: Vec<String> = ["compute", "results"].map(String::from).to_vec();
        args.extend(self.node_args(BUYER));
        args.extend([
            job.to_string(),
            "--out".into(),
            out.to_string_lossy().into_owned(),
        ]);
        assert!(run(&args).status.success());
        out
    }

    /// Moves the chain's clock forward and mines a block.
    async fn warp(&self, seconds: u64) {
        self.deployer.anvil_increase_time(seconds).await.unwrap();
        self.deployer.anvil_mine(Some(1), None).await.unwrap();
    }

    fn escrow(&self) -> Escrow<DynProvider> {
        Escrow::new(self.d.job_escrow, self.d.work_token, self.deployer.clone())
    }

    fn submit_args(
        &self,
        shards: &[String],
        archive: &str,
        image: &str,
        extra: &[&str],
        cmd: &[&str],
    ) -> Vec<String> {
        let mut args: Vec<String> = ["compute", "submit"].map(String::from).to_vec();
        args.extend(self.node_args(BUYER));
        args.extend(
            [
                "--store",
                self.urls[0].as_str(),
                "--image-archive",
                archive,
                "--image",
                image,
                "--cooperative",
                "5",
                "--max-price",
                "1",
                "--collateral",
                "0.5",
                "--cpus",
                "0.5",
                "--memory",
                "256M",
                "--disk",
                "64M",
                "--decimals",
                "10",
            ]
            .map(String::from),
        );
        for s in shards {
            args.push("--shard".into());
            args.push(format!("/in/shard={s}"));
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push("--".into());
        args.extend(cmd.iter().map(|s| s.to_string()));
        args
    }
}

fn job_id(out: &str) -> u64 {
    out.lines()
        .find(|l| l.starts_with("job ") && l.contains(" created"))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("a `job N created` line")
        .parse()
        .unwrap()
}

fn result_values(dir: &Path) -> Vec<f64> {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("agreed.json")).unwrap()).unwrap();
    json["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

async fn outcomes(net: &Net, job: u64) -> Vec<(Address, &'static str)> {
    net.escrow()
        .slots(job)
        .await
        .unwrap()
        .into_iter()
        .map(|(p, s)| (p, slot_status_name(s.status)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_providers_average_solve_survive_a_kill_and_outvote_a_liar() {
    let chain = DevChain::spawn().unwrap();
    let deployer = provider(&chain.endpoint(), chain.signer(0)).unwrap();
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    for i in [BUYER, 2, 3, 4, 5, 6, LIAR] {
        give(
            &deployer,
            &d,
            chain.address(i),
            parse_ether("1000").unwrap(),
        )
        .await
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let deployment = dir.path().join("deployment.json");
    d.save(&deployment).unwrap();
    let mut net = Net {
        chain,
        deployer,
        d,
        deployment: deployment.to_string_lossy().into_owned(),
        dir,
        urls: Vec::new(),
    };
    let ports: Vec<u16> = (0..NODES).map(|_| free_port()).collect();
    let mut providers = Vec::new();
    for (k, port) in ports.iter().enumerate() {
        providers.push(Some(net.spawn_provider(k, *port).await));
        net.urls.push(format!("http://127.0.0.1:{port}"));
    }

    // The job image: the dac-job binary and its shared libraries on `scratch`.
    let engine = peerflow_runner::Engine::connect()
        .await
        .expect("a Docker engine (./script/test starts one)");
    let context = peerflow_dac_client::image::host_binary_image_context(
        &dac_job_binary(),
        "peerflow/dac-job",
    )
    .unwrap();
    let image = context.tag.clone();
    if !engine.has_image(&image).await.unwrap() {
        engine
            .build_image(peerflow_runner::BuildContext::Tar(context.tar), &image)
            .await
            .unwrap();
    }
    let archive = net.dir.path().join("image.tar");
    std::fs::write(&archive, engine.save_image(&image).await.unwrap()).unwrap();
    let archive = archive.to_string_lossy().into_owned();

    let rows = dataset();
    let shards = write_shards(net.dir.path(), &rows);
    let means = column_means(&rows);
    let beta = lstsq(&rows);

    // 1. Column means: every node converges, writes the same bytes, all five are paid.
    let out = run(&net.submit_args(
        &shards,
        &archive,
        &image,
        &["--topology", "ring"],
        &["mean", "/in/shard"],
    ));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let job = job_id(&text);
    let slots = outcomes(&net, job).await;
    assert_eq!(slots.len(), NODES);
    assert!(slots.iter().all(|(_, o)| *o == "paid"), "{slots:?}");
    let fetched = net.results(job, "means");
    let got = result_values(&fetched);
    assert_eq!(got.len(), COLS);
    for (g, t) in got.iter().zip(&means) {
        assert!((g - t).abs() <= 1e-9, "consensus mean {g} vs {t}");
    }
    // The buyer sees each round's disagreement.
    let mut args: Vec<String> = ["compute", "status"].map(String::from).to_vec();
    args.extend(net.node_args(BUYER));
    args.push(job.to_string());
    let status = run(&args);
    assert!(String::from_utf8_lossy(&status.stdout).contains("disagreement"));

    // 2. Least squares over the row-split data, on a 4-regular graph.
    let out = run(&net.submit_args(
        &shards,
        &archive,
        &image,
        &["--topology", "regular", "--degree", "4"],
        &["lstsq", "/in/shard"],
    ));
    assert!(out.status.success());
    let job = job_id(&String::from_utf8_lossy(&out.stdout));
    assert!(outcomes(&net, job).await.iter().all(|(_, o)| *o == "paid"));
    let fetched = net.results(job, "lstsq");
    let got = result_values(&fetched);
    assert_eq!(got.len(), COLS - 1);
    for (g, t) in got.iter().zip(&beta) {
        assert!(
            (g - t).abs() <= 1e-6,
            "consensus β {g} vs single-machine {t}"
        );
    }

    // 3. A provider killed mid-run, after its first checkpoint.
    let victim = 4;
    let victim_addr = net.chain.address(FIRST_PROVIDER + victim);
    let before = net.balance(victim_addr).await;
    let args = net.submit_args(
        &shards,
        &archive,
        &image,
        &[
            "--checkpoints",
            "4",
            "--peer-timeout",
            "3s",
            "--deadline",
            "10m",
        ],
        &["mean", "/in/shard", "--passes", "12"],
    );
    let escrow = net.escrow();
    // Job ids count from 1: the next one is the current count plus one.
    let job = escrow.job_count().await.unwrap() + 1;
    let follower = bin()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    // Wait for the victim's first checkpoint on-chain, then kill it.
    loop {
        assert!(
            Instant::now() < deadline,
            "the victim never reported a checkpoint"
        );
        let reported = escrow.checkpoint_reports(job).await.unwrap_or_default();
        if reported
            .iter()
            .any(|(p, k, _)| *p == victim_addr && *k >= 1)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    providers[victim] = None; // SIGKILL
    // The four survivors converge and commit; past the deadline the reveals open.
    loop {
        assert!(Instant::now() < deadline, "the survivors did not commit");
        if escrow.job(job).await.unwrap().committed == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Past the deadline the reveals open; the slot that never committed keeps the reveal window
    // open its full hour, then the job can be finalized.
    net.warp(700).await;
    loop {
        assert!(Instant::now() < deadline, "the survivors did not reveal");
        if escrow.job(job).await.unwrap().revealed == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    net.warp(escrow.reveal_period().await.unwrap() + 1).await;
    let out = follower.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{text}");
    assert!(out.status.success());
    let slots = outcomes(&net, job).await;
    for (p, o) in &slots {
        let expected = if *p == victim_addr { "slashed" } else { "paid" };
        assert_eq!(*o, expected, "{p}");
    }
    // The victim's checkpoints were released (price and collateral shares); it lost the rest of
    // its collateral and none of the final payment.
    let slot = escrow
        .slots(job)
        .await
        .unwrap()
        .into_iter()
        .find(|(p, _)| *p == victim_addr)
        .unwrap()
        .1;
    assert!(slot.checkpointsReleased >= 1);
    let share = |total: U256| total / U256::from(5u64) * U256::from(slot.checkpointsReleased);
    let price = parse_ether("1").unwrap();
    let collateral = parse_ether("0.5").unwrap();
    assert_eq!(
        net.balance(victim_addr).await,
        before - collateral + share(price) + share(collateral),
        "the killed provider keeps its checkpoints and nothing else"
    );
    let fetched = net.results(job, "survivors");
    // Node i holds shard i, node i being the provider at slot i.
    let victim_node = escrow
        .providers_of(job)
        .await
        .unwrap()
        .iter()
        .position(|p| *p == victim_addr)
        .unwrap();
    let survivors: Vec<[f64; COLS]> = rows
        .chunks(ROWS / NODES)
        .enumerate()
        .filter(|(i, _)| *i != victim_node)
        .flat_map(|(_, c)| c.to_vec())
        .collect();
    for (g, t) in result_values(&fetched).iter().zip(column_means(&survivors)) {
        assert!((g - t).abs() <= 1e-9, "survivors' mean {g} vs {t}");
    }

    // 4. A liar (in this process: a dishonest provider changing a digit of its result) takes the
    // victim's place; it is outvoted and loses its collateral.
    let liar_port = free_port();
    let chain = provider(&net.chain.endpoint(), net.chain.signer(LIAR)).unwrap();
    let opts = ProviderOpts {
        node: NodeOpts {
            listen: Some(([127, 0, 0, 1], liar_port).into()),
            data_dir: Some(net.dir.path().join("liar")),
            ..Default::default()
        },
        cpus: Some(2.0),
        memory: Some("2G".into()),
        poll_secs: Some(0.2),
        allow_private_urls: Some(true),
        leases: Some(false),
        tamper_results: Some(true),
        ..Default::default()
    };
    let liar = start_provider(
        chain,
        net.chain.address(LIAR),
        net.chain.secret_key(LIAR),
        &net.d,
        &opts,
        true,
    )
    .await
    .unwrap();
    let liar_addr = net.chain.address(LIAR);
    let before = net.balance(liar_addr).await;
    let out = run(&net.submit_args(
        &shards,
        &archive,
        &image,
        &["--topology", "complete"],
        &["mean", "/in/shard"],
    ));
    assert!(out.status.success());
    let job = job_id(&String::from_utf8_lossy(&out.stdout));
    let slots = outcomes(&net, job).await;
    assert!(
        slots.iter().any(|(p, _)| *p == liar_addr),
        "the liar took a slot"
    );
    for (p, o) in &slots {
        let expected = if *p == liar_addr { "slashed" } else { "paid" };
        assert_eq!(*o, expected, "{p}");
    }
    assert_eq!(
        net.balance(liar_addr).await,
        before - parse_ether("0.5").unwrap()
    );
    assert_eq!(net.balance(net.d.job_escrow).await, U256::ZERO);
    drop(liar);
    drop(providers);
}
