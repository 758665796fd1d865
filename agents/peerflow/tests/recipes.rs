//! The README's recipes, run verbatim: each `<!-- recipe: NAME -->` block is taken from README.md
//! and run by bash in the network namespace of the host it is written for. Host A (10.99.0.2) runs
//! the orchestrator with no transcoder of its own, host B (10.99.0.3) a transcoder pulling from it,
//! host C (10.99.0.4) the broadcaster, its pushes (a generated source and a file), a viewer (ffplay)
//! and a token holder staking with peerflow and with cast. The chain (anvil) is in the test's own
//! namespace at 10.99.0.1. Hosts are joined by point-to-point veth links, so nothing is forwarded.
//! Needs root (to make namespaces), iproute2, ffmpeg/ffplay and the npm toolchain (cast).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::{U256, utils::parse_ether};
use alloy::providers::ext::AnvilApi;
use peerflow::roles::provider;
use peerflow_chain::actions::give;
use peerflow_chain::bindings::staking::Staking;
use peerflow_chain::bindings::ticket_broker::TicketBroker;
use peerflow_chain::{DevChain, DevChainOptions, SuiteParams, deploy_suite};
use peerflow_media::probe_bytes;

const ORCH: usize = 1;
const BROADCASTER: usize = 2;
const HOLDER: usize = 3;

/// The block after `<!-- recipe: name -->` in README.md.
fn recipe(name: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let marker = format!("<!-- recipe: {name} -->");
    let at = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("README has no recipe {name}"));
    let rest = &readme[at + marker.len()..];
    let start = rest.find("```sh\n").expect("a sh block after the marker") + 6;
    let end = rest[start..].find("\n```").expect("the block's end");
    rest[start..start + end].to_string()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Three namespaces and the links between them; removed when dropped.
struct Hosts {
    id: u32,
}

impl Hosts {
    fn ns(&self, host: char) -> String {
        format!("pf{host}{}", self.id)
    }

    fn new() -> Self {
        let uid = Command::new("id").arg("-u").output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "the recipes test makes network namespaces: run it as root (./script/test in CI is)"
        );
        let hosts = Self {
            id: std::process::id() % 100_000,
        };
        for h in ['a', 'b', 'c'] {
            let ns = hosts.ns(h);
            sh(&["ip", "netns", "add", &ns]);
            sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        }
        // (end, address) pairs: None is the test's own namespace.
        let (a, b, c) = (
            Some(hosts.ns('a')),
            Some(hosts.ns('b')),
            Some(hosts.ns('c')),
        );
        let links = [
            ((None, "10.99.0.1"), (a.clone(), "10.99.0.2")),
            ((None, "10.99.0.1"), (c.clone(), "10.99.0.4")),
            ((a.clone(), "10.99.0.2"), (b, "10.99.0.3")),
            ((a, "10.99.0.2"), (c, "10.99.0.4")),
        ];
        for (n, (x, y)) in links.iter().enumerate() {
            let names = [format!("pf{n}x{}", hosts.id), format!("pf{n}y{}", hosts.id)];
            sh(&[
                "ip", "link", "add", &names[0], "type", "veth", "peer", "name", &names[1],
            ]);
            for ((ns, ip), (name, (_, peer))) in [x, y].iter().zip(names.iter().zip([y, x])) {
                let mut ipcmd = vec!["ip".to_string()];
                if let Some(ns) = ns {
                    sh(&["ip", "link", "set", name, "netns", ns]);
                    ipcmd.extend(["-n".to_string(), ns.clone()]);
                }
                let run = |extra: &[&str]| {
                    let mut v: Vec<&str> = ipcmd.iter().map(String::as_str).collect();
                    v.extend_from_slice(extra);
                    sh(&v);
                };
                run(&["addr", "add", &format!("{ip}/32"), "dev", name]);
                run(&["link", "set", name, "up"]);
                run(&["route", "add", &format!("{peer}/32"), "dev", name]);
            }
        }
        hosts
    }

    /// Runs `script` with bash in `host`'s namespace, in `dir`, as its own process group.
    fn spawn(&self, host: char, dir: &Path, script: &str, env: &[(&str, String)]) -> Group {
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &self.ns(host),
            "bash",
            "-euo",
            "pipefail",
            "-c",
            script,
        ])
        .current_dir(dir)
        .env("PATH", path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Group(Some(cmd.spawn().expect("ip netns exec")))
    }

    /// Runs `script` to its end and returns its output (which must be a success).
    fn run(&self, host: char, dir: &Path, script: &str, env: &[(&str, String)]) -> Output {
        let out = self.spawn(host, dir, script, env).wait();
        eprintln!(
            "--- host {host}:\n{script}\n--- stdout:\n{}--- stderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "recipe failed on host {host}");
        out
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for h in ['a', 'b', 'c'] {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(h)])
                .output();
        }
        for n in 0..4 {
            let _ = Command::new("ip")
                .args(["link", "del", &format!("pf{n}x{}", self.id)])
                .output();
        }
    }
}

/// A recipe's process group, killed (every process in it) when dropped.
struct Group(Option<Child>);

impl Group {
    fn wait(mut self) -> Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }

    /// Stops the group and returns what it printed.
    fn stop(mut self) -> Output {
        let child = self.0.take().unwrap();
        let _ = Command::new("kill")
            .args(["-s", "TERM", "--", &format!("-{}", child.id())])
            .status();
        child.wait_with_output().unwrap()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
        }
    }
}

/// `peerflow` (the test's build) and Foundry's cast first on PATH.
fn path() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_peerflow"))
        .parent()
        .unwrap()
        .to_path_buf();
    let npm = root().join("node_modules/.bin");
    assert!(
        npm.join("cast").exists(),
        "cast missing: run npm ci (./script/test does)"
    );
    format!(
        "{}:{}:{}",
        bin.display(),
        npm.canonicalize().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The orchestrator's status (host A) and the broadcaster's metrics (host C), as the test's host
/// reaches them.
const ORCHESTRATOR_STATUS: &str = "http://10.99.0.2:8935/v1/status";
const BROADCASTER_METRICS: &str = "http://10.99.0.4:8936/metrics";

async fn wait_until(what: &str, secs: u64, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if ok().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // What the network says, to tell why.
    let http = reqwest::Client::new();
    let status = text(&http, ORCHESTRATOR_STATUS).await;
    let metrics: String = text(&http, BROADCASTER_METRICS)
        .await
        .lines()
        .filter(|l| l.starts_with("peerflow_broadcaster_") && !l.contains("_bucket"))
        .map(|l| format!("{l}\n"))
        .collect();
    panic!(
        "{what}: not within {secs} s\norchestrator status: {status}\nbroadcaster metrics:\n{metrics}"
    );
}

/// Waits until the orchestrator holds no stream: a stream that ended keeps its place for about
/// three of its segments, and the recipes' streams (and the test's probe) come one after
/// another on one transcoder, which may have room for only one of them at a time.
async fn wait_for_no_stream_held(http: &reqwest::Client) {
    wait_until("the orchestrator lets the last stream go", 60, async || {
        let status: serde_json::Value =
            serde_json::from_str(&text(http, ORCHESTRATOR_STATUS).await).unwrap_or_default();
        status["transcoders"]["streamsHeld"] == 0
    })
    .await;
}

async fn text(http: &reqwest::Client, url: &str) -> String {
    match http.get(url).send().await {
        Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
        _ => String::new(),
    }
}

/// The highest playback clock ffplay's status line reached (`  3.42 M-V: …` / `A-V`).
fn ffplay_clock(stderr: &str) -> f64 {
    stderr
        .split(['\r', '\n'])
        .filter_map(|l| {
            let l = l.trim_start();
            let (t, rest) = l.split_once(' ')?;
            (rest.trim_start().starts_with("M-V") || rest.trim_start().starts_with("A-V"))
                .then(|| t.parse::<f64>().ok())?
        })
        .fold(0.0, f64::max)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_recipes_on_three_hosts() {
    let hosts = Hosts::new();
    let chain = DevChain::spawn_with(&DevChainOptions {
        block_time: Some(1),
        host: Some("0.0.0.0".into()),
        ..Default::default()
    })
    .unwrap();
    let rpc = format!("http://10.99.0.1:{}", chain.port());
    let deployer = provider(&chain.endpoint(), chain.signer(0)).unwrap();
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    for i in [ORCH, BROADCASTER, HOLDER] {
        give(
            &deployer,
            &d,
            chain.address(i),
            parse_ether("1000").unwrap(),
        )
        .await
        .unwrap();
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = |h: &str| {
        let p = tmp.path().join(h);
        std::fs::create_dir_all(&p).unwrap();
        d.save(&p.join("deployment.json")).unwrap();
        p
    };
    let (a, b, c) = (dir("a"), dir("b"), dir("c"));
    let key = |dir: &Path, file: &str, i: usize| {
        std::fs::write(
            dir.join(file),
            alloy::primitives::hex::encode(chain.secret_key(i)),
        )
        .unwrap();
    };
    key(&a, "orchestrator.key", ORCH);
    key(&c, "broadcaster.key", BROADCASTER);
    key(&c, "holder.key", HOLDER);
    let env = [
        ("PEERFLOW_RPC_URL", rpc.clone()),
        ("TRANSCODER_TOKEN", "a-long-shared-secret".to_string()),
        ("SDL_VIDEODRIVER", "dummy".to_string()), // host C has no display or sound card
        ("SDL_AUDIODRIVER", "dummy".to_string()),
    ];
    let staking = Staking::new(d.staking, &deployer);
    let o = chain.address(ORCH);

    // --- host A: register and run the orchestrator (no transcoder of its own)
    let _orchestrator = hosts.spawn('a', &a, &recipe("orchestrator-host"), &env);
    let http = reqwest::Client::new();
    let info = format!(
        "http://10.99.0.2:8935/v1/info?sender={}",
        chain.address(BROADCASTER)
    );
    wait_until("the orchestrator on host A answers", 120, async || {
        http.get(&info).send().await.is_ok()
    })
    .await;
    assert!(
        staking.isRegistered(o).call().await.unwrap(),
        "registered by the recipe"
    );
    assert_eq!(
        staking.orchestratorInfo(o).call().await.unwrap().stake,
        parse_ether("100").unwrap()
    );
    deployer
        .anvil_mine(Some(d.round_length), None)
        .await
        .unwrap(); // active from the next round

    // --- host B: the transcoder
    let _transcoder = hosts.spawn('b', &b, &recipe("transcoder-host"), &env);

    // --- host C: the broadcaster, funded by the recipe
    let broker = TicketBroker::new(d.ticket_broker, &deployer);
    let _broadcaster = hosts.spawn('c', &c, &recipe("broadcaster-host"), &env);
    let b_url = "http://10.99.0.4:8936";
    wait_until("the broadcaster on host C answers", 120, async || {
        http.get(format!("{b_url}/live/none/index.m3u8"))
            .send()
            .await
            .is_ok()
    })
    .await;
    let sender = broker
        .getSenderInfo(chain.address(BROADCASTER))
        .call()
        .await
        .unwrap();
    assert_eq!(sender.deposit, parse_ether("50").unwrap());
    assert_eq!(sender.reserve, parse_ether("10").unwrap());
    // The broadcaster finds the orchestrator on-chain and the orchestrator a transcoder: a probe
    // segment until the whole path answers.
    // The pushes below need a stream key (the broadcaster listens on 0.0.0.0).
    hosts.run('c', &c, &recipe("stream-key"), &env);
    let stream_key = std::fs::read_to_string(c.join("stream.key"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(stream_key.starts_with("sk_"), "{stream_key:?}");
    let keyless = http
        .put(format!("{b_url}/live/probe/0.ts"))
        .body(vec![0x47; 188])
        .send()
        .await
        .unwrap();
    assert_eq!(keyless.status(), reqwest::StatusCode::UNAUTHORIZED);
    // The probe below retries until the network answers: a key of its own, so that its retries
    // do not spend the recipe key's rate.
    let probe_key = hosts.run(
        'c',
        &c,
        "peerflow broadcaster keys create --data-dir broadcaster-data --segments-per-minute 100000",
        &env,
    );
    let probe_key = String::from_utf8(probe_key.stdout)
        .unwrap()
        .trim()
        .to_owned();
    let probe = tmp.path().join("probe.ts");
    sh(&[
        "ffmpeg",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=30",
        "-t",
        "2",
        "-c:v",
        "libx264",
        "-g",
        "60",
        probe.to_str().unwrap(),
    ]);
    let body = std::fs::read(&probe).unwrap();
    wait_until(
        "a probe segment is transcoded through A and B",
        120,
        async || {
            let r = http
                .put(format!("{b_url}/live/{probe_key}/probe/0.ts"))
                .body(body.clone())
                .send()
                .await;
            matches!(r, Ok(r) if r.status().is_success())
        },
    )
    .await;

    // --- push a generated source
    wait_for_no_stream_held(&http).await;
    hosts.run('c', &c, &recipe("push-generated"), &env);
    // ffmpeg is done when its last segment is sent; the network may still be transcoding (on a
    // loaded machine, all of them).
    let master_url = format!("{b_url}/live/generated/index.m3u8");
    wait_until("the generated stream is published", 90, async || {
        text(&http, &master_url).await.contains("360p")
    })
    .await;
    // 12 s in 2 s segments: 0.ts to 5.ts, each published once transcoded and checked.
    let playlist = format!("{b_url}/live/generated/360p.m3u8");
    wait_until("all six generated segments are published", 90, async || {
        text(&http, &playlist).await.contains("360p/5.ts")
    })
    .await;
    assert!(!text(&http, &playlist).await.contains("360p/6.ts"));
    let segment = http
        .get(format!("{b_url}/live/generated/360p/5.ts"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let probed = probe_bytes(&segment).unwrap();
    assert_eq!((probed.width, probed.height), (640, 360));

    // --- push a file while a viewer watches it with ffplay
    sh(&[
        "ffmpeg",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=300:sample_rate=48000",
        "-t",
        "16",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-c:a",
        "aac",
        "-shortest",
        c.join("input.mp4").to_str().unwrap(),
    ]);
    wait_for_no_stream_held(&http).await;
    let push = hosts.spawn('c', &c, &recipe("push-file"), &env);
    wait_until("the file's first segments are published", 60, async || {
        let r = http
            .get(format!("{b_url}/live/mystream/360p.m3u8"))
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => {
                r.text()
                    .await
                    .unwrap_or_default()
                    .matches("#EXTINF")
                    .count()
                    >= 2
            }
            _ => false,
        }
    })
    .await;
    let viewer = hosts.spawn('c', &c, &recipe("watch"), &env);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let watched = viewer.stop();
    let stderr = String::from_utf8_lossy(&watched.stderr);
    let clock = ffplay_clock(&stderr);
    assert!(clock >= 4.0, "ffplay's clock reached {clock} s:\n{stderr}");
    let pushed = push.wait();
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    // 16 s in 2 s segments: 0.ts to 7.ts
    let playlist = format!("{b_url}/live/mystream/360p.m3u8");
    wait_until(
        "all eight segments of the file are published",
        90,
        async || text(&http, &playlist).await.contains("360p/7.ts"),
    )
    .await;
    assert!(!text(&http, &playlist).await.contains("360p/8.ts"));

    // --- stake as a holder, with peerflow and with cast
    let holder = chain.address(HOLDER);
    let stake_env = [
        env.to_vec(),
        vec![
            ("ORCHESTRATOR", o.to_string()),
            ("PASSWORD", "correct horse battery".to_string()),
        ],
    ]
    .concat();
    let out = hosts.run('c', &c, &recipe("stake"), &stake_env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("yield per staked FLOW"), "{stdout}");
    assert!(stdout.contains("simulation: ok"));
    assert!(stdout.contains("cast send"));
    // Rewards may land in between (the orchestrator calls reward() each round): count the wallet.
    let token = peerflow_chain::bindings::work_token::WorkToken::new(d.work_token, &deployer);
    assert_eq!(
        token.balanceOf(holder).call().await.unwrap(),
        parse_ether("900").unwrap()
    );
    let lock = staking
        .unbondingLock(holder, U256::ZERO)
        .call()
        .await
        .unwrap();
    assert_eq!(U256::from(lock.amount), parse_ether("40").unwrap());
    assert_eq!(staking.delegateOf(holder).call().await.unwrap(), o);

    let out = hosts.run('c', &c, &recipe("stake-with-cast"), &stake_env);
    assert_eq!(
        token.balanceOf(holder).call().await.unwrap(),
        parse_ether("875").unwrap()
    );
    let printed: U256 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .and_then(|l| l.split_whitespace().next())
        .expect("cast call printed the stake")
        .parse()
        .unwrap();
    assert!(
        printed >= parse_ether("85").unwrap(),
        "60 + 25 bonded, with any rewards: {printed}"
    );
}
