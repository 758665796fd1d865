//! Each role as its own `peerflow` process over real HTTP: an orchestrator configured from a TOML
//! file, a transcoder pulling from it, and a broadcaster configured by flags and environment,
//! finding the orchestrator on-chain. Started without a price, the orchestrator keeps the one it
//! advertised before. And an orchestrator served by its hot key alone, its stake key offline.

use crate::common;

use common::{Kill, free_port, wait_http};
use std::process::{Command, Stdio};
use std::time::Duration;

use alloy::primitives::{U256, utils::parse_ether};
use alloy::providers::Provider;
use alloy::providers::ext::AnvilApi;
use peerflow::roles::provider;
use peerflow_chain::actions::{advertise, fund_sender, give, register_orchestrator};
use peerflow_chain::bindings::service_registry::ServiceRegistry;
use peerflow_chain::bindings::staking::Staking;
use peerflow_chain::bindings::ticket_broker::TicketBroker;
use peerflow_chain::{DevChain, DevChainOptions, SuiteParams, deploy_suite};
use peerflow_media::{probe_bytes, testsrc};
use peerflow_protocol::api::OrchestratorInfo;

/// The price the orchestrator advertised before it was started (wei per pixel).
const ADVERTISED_PRICE: u64 = 7;

fn peerflow(args: &[&str], envs: &[(&str, String)]) -> Kill {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerflow"));
    cmd.args(args).env("RUST_LOG", "warn").stdout(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    Kill(cmd.spawn().expect("peerflow binary"))
}

/// A chain mining a block a second with the suite deployed (its deployment file written), the
/// given accounts funded with 1000 tokens each.
struct Suite {
    chain: DevChain,
    deployer: alloy::providers::DynProvider,
    d: peerflow_chain::Deployment,
    dir: tempfile::TempDir,
    deployment: std::path::PathBuf,
}

impl Suite {
    async fn new(funded: &[usize]) -> Self {
        let chain = DevChain::spawn_with(&DevChainOptions {
            block_time: Some(1),
            ..Default::default()
        })
        .unwrap();
        let deployer = provider(&chain.endpoint(), chain.signer(0)).unwrap();
        let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let deployment = dir.path().join("deployment.json");
        d.save(&deployment).unwrap();
        for &i in funded {
            give(
                &deployer,
                &d,
                chain.address(i),
                parse_ether("1000").unwrap(),
            )
            .await
            .unwrap();
        }
        Self {
            chain,
            deployer,
            d,
            dir,
            deployment,
        }
    }

    /// Account `i` deposits 100 tokens as a ticket sender; then a round passes, so orchestrators
    /// registered before are active.
    async fn fund_sender_and_start_a_round(&self, i: usize) {
        fund_sender(
            &provider(&self.chain.endpoint(), self.chain.signer(i)).unwrap(),
            &self.d,
            parse_ether("100").unwrap(),
            U256::ZERO,
        )
        .await
        .unwrap();
        self.deployer
            .anvil_mine(Some(self.d.round_length), None)
            .await
            .unwrap();
    }

    /// Account `i`'s raw key, written to a file.
    fn key_file(&self, i: usize) -> String {
        let path = self.dir.path().join(format!("key{i}"));
        std::fs::write(
            &path,
            alloy::primitives::hex::encode(self.chain.secret_key(i)),
        )
        .unwrap();
        path.display().to_string()
    }

    /// A broadcaster process of account `i` on `port`, configured by flags and environment, once
    /// it answers.
    async fn broadcaster(&self, i: usize, port: u16) -> Kill {
        let b = peerflow(
            &[
                "broadcaster",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--deployment",
                &self.deployment.display().to_string(),
            ],
            &[
                ("PEERFLOW_RPC_URL", self.chain.endpoint()),
                ("PEERFLOW_KEY_FILE", self.key_file(i)),
                (
                    "PEERFLOW_DATA_DIR",
                    self.dir.path().join("b").display().to_string(),
                ),
            ],
        );
        wait_http(&format!("http://127.0.0.1:{port}/live/none/index.m3u8")).await;
        b
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orchestrator_transcoder_and_broadcaster_run_as_separate_processes() {
    let suite = Suite::new(&[1, 2]).await;
    let (chain, deployer, d, dir, deployment) = (
        &suite.chain,
        &suite.deployer,
        &suite.d,
        &suite.dir,
        &suite.deployment,
    );
    register_orchestrator(
        &provider(&chain.endpoint(), chain.signer(1)).unwrap(),
        d,
        chain.address(1),
        parse_ether("100").unwrap(),
        0,
        0,
    )
    .await
    .unwrap();
    suite.fund_sender_and_start_a_round(2).await;
    let (o_port, b_port) = (free_port(), free_port());
    let o_url = format!("http://127.0.0.1:{o_port}");
    // The operator set its price on-chain before (as `peerflow orchestrator set-price 7` does);
    // started without a price, the orchestrator keeps it, in the registry and in its quotes.
    advertise(
        &provider(&chain.endpoint(), chain.signer(1)).unwrap(),
        d,
        "http://old.example:8935",
        &["transcode:h264"],
        &[],
        U256::from(ADVERTISED_PRICE),
    )
    .await
    .unwrap();
    let config = dir.path().join("peerflow.toml");
    std::fs::write(
        &config,
        format!(
            "[orchestrator]\nrpc-url = \"{}\"\ndeployment = \"{}\"\nlisten = \"127.0.0.1:{o_port}\"\ndata-dir = \"{}\"\n\
             transcoder-token = \"tok\"\nservice-uri = \"{o_url}\"\nwin-probability = 0.5\nkey-file = \"{}\"\n",
            chain.endpoint(),
            deployment.display(),
            dir.path().join("o").display(),
            suite.key_file(1)
        ),
    )
    .unwrap();
    let _orchestrator = peerflow(
        &["--config", &config.display().to_string(), "orchestrator"],
        &[],
    );
    wait_http(&format!("{o_url}/v1/info?sender={}", chain.address(2))).await;
    let _transcoder = peerflow(
        &["transcoder", "--orchestrator", &o_url, "--token", "tok"],
        &[],
    );
    let b_url = format!("http://127.0.0.1:{b_port}");
    let _broadcaster = suite.broadcaster(2, b_port).await;

    let segments =
        testsrc::generate_segments(&dir.path().join("src"), 2, 2, 1280, 720, 30).unwrap();
    let http = reqwest::Client::new();
    for (seq, path) in segments.iter().enumerate() {
        let mut status = 0;
        // The orchestrator's registry entry is written right after it starts listening.
        for _ in 0..30 {
            let reply = http
                .put(format!("{b_url}/live/s/{seq}.ts"))
                .body(std::fs::read(path).unwrap())
                .send()
                .await
                .unwrap();
            status = reply.status().as_u16();
            if status == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert_eq!(status, 200, "segment {seq}");
    }
    let segment = http
        .get(format!("{b_url}/live/s/360p/1.ts"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let info = probe_bytes(&segment).unwrap();
    assert_eq!((info.width, info.height), (640, 360));

    let service = ServiceRegistry::new(d.service_registry, &deployer)
        .getService(chain.address(1))
        .call()
        .await
        .unwrap();
    assert_eq!(service.uri, o_url, "re-advertised at its new address");
    assert_eq!(service.pricePerUnit, U256::from(ADVERTISED_PRICE));
    let quote: OrchestratorInfo = http
        .get(format!("{o_url}/v1/info?sender={}", chain.address(2)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(quote.price_per_pixel, U256::from(ADVERTISED_PRICE));
}

/// The stake key stays offline: it registers, advertises and names a hot key (redeemer and reward
/// caller), then sends nothing more. `peerflow orchestrator --for O` on the hot key serves a
/// stream whose results the hot key signs (the broadcaster checks them against the key O names on
/// chain), redeems every winner to O's fee pool and calls reward() for O; the hot key holds
/// nothing. A key O never named is refused at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orchestrator_serves_with_its_hot_key_while_its_stake_key_stays_offline() {
    const O: usize = 1;
    const BROADCASTER: usize = 2;
    const HOT: usize = 3;
    const STRANGER: usize = 4;
    let suite = Suite::new(&[O, BROADCASTER]).await;
    let (chain, deployer, d, dir, deployment) = (
        &suite.chain,
        &suite.deployer,
        &suite.d,
        &suite.dir,
        &suite.deployment,
    );
    let (o, hot) = (chain.address(O), chain.address(HOT));
    let stake_key = provider(&chain.endpoint(), chain.signer(O)).unwrap();
    register_orchestrator(&stake_key, d, o, parse_ether("100").unwrap(), 0, 0)
        .await
        .unwrap();
    let o_port = free_port();
    let o_url = format!("http://127.0.0.1:{o_port}");
    advertise(
        &stake_key,
        d,
        &o_url,
        &["transcode:h264"],
        &[],
        U256::from(1u64),
    )
    .await
    .unwrap();
    let staking = Staking::new(d.staking, &stake_key);
    let named = staking.setRedeemer(hot).send().await.unwrap();
    named.get_receipt().await.unwrap();
    let named = staking.setRewardCaller(hot).send().await.unwrap();
    named.get_receipt().await.unwrap();
    suite.fund_sender_and_start_a_round(BROADCASTER).await;
    let stake_key_nonce = deployer.get_transaction_count(o).await.unwrap();
    let o_str = o.to_string();
    let node_args = |key: &str, data: &str| {
        vec![
            "orchestrator".to_string(),
            "--for".into(),
            o_str.clone(),
            "--key-file".into(),
            key.into(),
            "--rpc-url".into(),
            chain.endpoint(),
            "--deployment".into(),
            deployment.display().to_string(),
            "--listen".into(),
            format!("127.0.0.1:{o_port}"),
            "--data-dir".into(),
            dir.path().join(data).display().to_string(),
            "--transcoder-token".into(),
            "tok".into(),
            "--win-probability".into(),
            "1".into(),
            "--confirmations".into(),
            "1".into(),
        ]
    };

    let refused = Command::new(env!("CARGO_BIN_EXE_peerflow"))
        .args(node_args(&suite.key_file(STRANGER), "stranger"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a key O never named is refused");
    assert!(
        stderr.contains(&format!("is not {o}'s hot key")),
        "the refusal says why: {stderr}"
    );

    let started_round = Staking::new(d.staking, &deployer)
        .currentRound()
        .call()
        .await
        .unwrap();
    let args = node_args(&suite.key_file(HOT), "o");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _orchestrator = peerflow(&args, &[]);
    wait_http(&format!(
        "{o_url}/v1/info?sender={}",
        chain.address(BROADCASTER)
    ))
    .await;
    let _transcoder = peerflow(
        &["transcoder", "--orchestrator", &o_url, "--token", "tok"],
        &[],
    );
    let b_port = free_port();
    let b_url = format!("http://127.0.0.1:{b_port}");
    let _broadcaster = suite.broadcaster(BROADCASTER, b_port).await;
    let broker = TicketBroker::new(d.ticket_broker, &deployer);
    let deposit_before = broker
        .getSenderInfo(chain.address(BROADCASTER))
        .call()
        .await
        .unwrap()
        .deposit;

    let segments =
        testsrc::generate_segments(&dir.path().join("src"), 2, 2, 1280, 720, 30).unwrap();
    let http = reqwest::Client::new();
    for (seq, path) in segments.iter().enumerate() {
        let reply = http
            .put(format!("{b_url}/live/s/{seq}.ts"))
            .body(std::fs::read(path).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(
            reply.status().as_u16(),
            200,
            "segment {seq}, signed by the hot key"
        );
    }
    let segment = http
        .get(format!("{b_url}/live/s/360p/1.ts"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(probe_bytes(&segment).unwrap().height, 360);

    // Every ticket wins; the hot key redeems them for O once their parameters expire, and calls
    // reward() for O each round.
    let staking = Staking::new(d.staking, &deployer);
    let mut paid = U256::ZERO;
    let rewarded = || async {
        staking
            .orchestratorInfo(o)
            .call()
            .await
            .unwrap()
            .lastRewardRound
            >= started_round
    };
    for _ in 0..120 {
        paid = deposit_before
            - broker
                .getSenderInfo(chain.address(BROADCASTER))
                .call()
                .await
                .unwrap()
                .deposit;
        if !paid.is_zero()
            && !staking.pendingFees(o).call().await.unwrap().is_zero()
            && rewarded().await
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        !paid.is_zero(),
        "winners redeemed from the broadcaster's deposit"
    );
    let fees = staking.pendingFees(o).call().await.unwrap();
    assert!(
        fees <= paid && fees + U256::from(2u64) >= paid,
        "O's fee pool has what was paid ({fees} of {paid})"
    );
    assert!(rewarded().await, "the hot key called reward() for O");
    assert_eq!(
        deployer.get_transaction_count(o).await.unwrap(),
        stake_key_nonce,
        "the stake key sent nothing"
    );
    let token = peerflow_chain::bindings::work_token::WorkToken::new(d.work_token, &deployer);
    assert_eq!(token.balanceOf(hot).call().await.unwrap(), U256::ZERO);
    assert_eq!(staking.pendingStake(hot).call().await.unwrap(), U256::ZERO);
    assert_eq!(staking.pendingFees(hot).call().await.unwrap(), U256::ZERO);
}

/// Sends sender `i`'s tickets to `url` one payment at a time, nonces from 0, until the
/// orchestrator stops answering; returns how many were answered 200 (booked, the orchestrator
/// says) and the parameters they were signed under.
async fn flood_tickets(
    url: String,
    key: [u8; 32],
    sender: alloy::primitives::Address,
    domain: peerflow_protocol::TicketDomain,
) -> (u64, peerflow_protocol::api::TicketParamsMsg) {
    use peerflow_protocol::Signature;
    use peerflow_protocol::api::{Payment, TicketMsg};
    let http = reqwest::Client::new();
    // A sender without credit may be rate-limited a moment (429): ask again.
    let info: OrchestratorInfo = loop {
        let r = http
            .get(format!("{url}/v1/info?sender={sender}"))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break r.json().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let p = info.ticket_params;
    let mut acked = 0;
    loop {
        let t = p.ticket(sender, acked);
        let sig = Signature::sign(&key, t.hash(&domain)).unwrap();
        let body = Payment {
            sender,
            tickets: vec![TicketMsg::new(&t, &sig)],
        };
        match http
            .post(format!("{url}/v1/payment"))
            .json(&body)
            .send()
            .await
        {
            Ok(r) if r.status() == 200 => acked += 1,
            Ok(r) => panic!("ticket {acked} of {sender}: {}", r.text().await.unwrap()),
            Err(_) => return (acked, p),
        }
    }
}

/// Tickets are booked many payments to a commit; a payment is answered only once its commit is
/// done. Four senders flood an orchestrator process with one-ticket payments and it is killed
/// with SIGKILL mid-flood. Restarted on the same data directory, it still has every ticket it
/// answered 200 for (each sender's next nonce is past the last one answered; only the one in
/// flight at the kill may be booked too), credited exactly once (credit = tickets booked × their
/// value), and a ticket answered before the kill and sent again is refused as a replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_a_ticket_flood_loses_no_accepted_ticket_and_books_none_twice() {
    use peerflow_protocol::api::{Payment, TicketMsg};
    use peerflow_protocol::{Signature, TicketDomain};
    let senders = [2usize, 3, 4, 5];
    let suite = Suite::new(&[1, 2, 3, 4, 5]).await;
    let (chain, d, dir) = (&suite.chain, &suite.d, &suite.dir);
    register_orchestrator(
        &provider(&chain.endpoint(), chain.signer(1)).unwrap(),
        d,
        chain.address(1),
        parse_ether("100").unwrap(),
        0,
        0,
    )
    .await
    .unwrap();
    for &i in &senders {
        suite.fund_sender_and_start_a_round(i).await;
    }
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let config = dir.path().join("flood.toml");
    std::fs::write(
        &config,
        format!(
            "[orchestrator]\nrpc-url = \"{}\"\ndeployment = \"{}\"\nlisten = \"127.0.0.1:{port}\"\ndata-dir = \"{}\"\n\
             transcoder-token = \"tok\"\nservice-uri = \"{url}\"\nkey-file = \"{}\"\n\
             params-lifetime-blocks = 100000\ncapacity = 100000000\n",
            chain.endpoint(),
            suite.deployment.display(),
            dir.path().join("o").display(),
            suite.key_file(1)
        ),
    )
    .unwrap();
    let start = || {
        peerflow(
            &["--config", &config.display().to_string(), "orchestrator"],
            &[],
        )
    };
    let info_url = |i: usize| format!("{url}/v1/info?sender={}", chain.address(i));
    let mut orchestrator = start();
    wait_http(&info_url(2)).await;
    let domain = TicketDomain {
        chain_id: chain.chain_id(),
        broker: d.ticket_broker,
    };
    let floods: Vec<_> = senders
        .iter()
        .map(|&i| {
            tokio::spawn(flood_tickets(
                url.clone(),
                chain.secret_key(i),
                chain.address(i),
                domain,
            ))
        })
        .collect();
    // Killed once a good number of tickets are booked, mid-flood.
    let http = reqwest::Client::new();
    let booked_so_far = || async {
        let mut total = 0;
        for &i in &senders {
            // A sender without credit yet may be rate-limited (429): nothing booked to count.
            let reply = http.get(info_url(i)).send().await.unwrap();
            if reply.status() == 200 {
                total += reply.json::<OrchestratorInfo>().await.unwrap().next_nonce;
            }
        }
        total
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while booked_so_far().await < 500 {
        assert!(
            std::time::Instant::now() < deadline,
            "the flood did not get going"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    orchestrator.0.kill().unwrap();
    orchestrator.0.wait().unwrap();
    let mut answered = Vec::new();
    for flood in floods {
        answered.push(flood.await.unwrap());
    }

    let _restarted = start();
    wait_http(&info_url(2)).await;
    for (&i, (acked, params)) in senders.iter().zip(&answered) {
        assert!(*acked > 0, "sender {i} had tickets booked before the kill");
        let info: OrchestratorInfo = http
            .get(info_url(i))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            (*acked..=acked + 1).contains(&info.next_nonce),
            "sender {i}: {acked} tickets answered 200, next nonce after the restart {}",
            info.next_nonce
        );
        assert_eq!(
            info.balance,
            params.ticket_value * U256::from(info.next_nonce),
            "sender {i}: every booked ticket credited once"
        );
        // The last ticket answered before the kill, sent again.
        let t = params.ticket(chain.address(i), acked - 1);
        let sig = Signature::sign(&chain.secret_key(i), t.hash(&domain)).unwrap();
        let replay = http
            .post(format!("{url}/v1/payment"))
            .json(&Payment {
                sender: chain.address(i),
                tickets: vec![TicketMsg::new(&t, &sig)],
            })
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), 409, "sender {i}: a replay is refused");
        let body: serde_json::Value = replay.json().await.unwrap();
        assert_eq!(body["code"], "ticket_replayed", "sender {i}: {body}");
        let after: OrchestratorInfo = http
            .get(info_url(i))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            after.balance, info.balance,
            "sender {i}: a replay credits nothing"
        );
    }
    eprintln!(
        "tickets answered 200 before the kill: {:?}",
        answered.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
}
