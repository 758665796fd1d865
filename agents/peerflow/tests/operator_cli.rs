//! The holder's, operator's and broadcaster's CLI through the binary against anvil:
//! `peerflow orchestrator register|set-service|set-price|status`, `peerflow stake
//! bond|unbond|rebond|withdraw|claim|status` with an encrypted keystore (written by Foundry's
//! `cast wallet import`) and a password file, and `peerflow deposit fund|unlock|withdraw|status`.
//! Every action is checked on-chain; a dry run changes nothing; refusals name the contract rule; the
//! yield per staked token `stake status` reports equals what a delegator's stake and fees did.

use crate::common;

use std::path::PathBuf;
use std::process::{Command, Output};

use alloy::primitives::{Address, B256, U256, utils::parse_ether};
use alloy::providers::{DynProvider, Provider, ext::AnvilApi};
use peerflow::roles::provider;
use peerflow_chain::actions::{fund_sender, give, string_of};
use peerflow_chain::bindings::{
    service_registry::ServiceRegistry, staking::Staking, ticket_broker::TicketBroker,
    work_token::WorkToken,
};
use peerflow_chain::deploy::execute;
use peerflow_chain::{Deployment, DevChain, SuiteParams, deploy_suite};
use peerflow_protocol::{Signature, SignedTicket, Ticket, TicketDomain, recipient_rand_hash};

const ORCH: usize = 1;
const HOLDER: usize = 3;
const BROADCASTER: usize = 4;

struct Env {
    chain: DevChain,
    d: Deployment,
    deployer: DynProvider,
    dir: tempfile::TempDir,
    deployment: PathBuf,
}

impl Env {
    /// `peerflow ARGS --rpc-url … --deployment …` with `key` (a key file or keystore flags).
    fn run(&self, args: &[&str], key: &[String]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerflow"));
        cmd.env("RUST_LOG", "warn")
            .args(args)
            .arg("--rpc-url")
            .arg(self.chain.endpoint())
            .arg("--deployment")
            .arg(&self.deployment)
            .args(key);
        let out = cmd.output().expect("peerflow binary");
        eprintln!(
            "$ peerflow {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn key_file(&self, i: usize) -> Vec<String> {
        let path = self.dir.path().join(format!("key{i}"));
        std::fs::write(
            &path,
            alloy::primitives::hex::encode(self.chain.secret_key(i)),
        )
        .unwrap();
        vec!["--key-file".into(), path.display().to_string()]
    }

    fn staking(&self) -> Staking::StakingInstance<&DynProvider> {
        Staking::new(self.d.staking, &self.deployer)
    }

    async fn balance(&self, who: Address) -> U256 {
        WorkToken::new(self.d.work_token, &self.deployer)
            .balanceOf(who)
            .call()
            .await
            .unwrap()
    }

    async fn mine_rounds(&self, n: u64) {
        self.deployer
            .anvil_mine(Some(n * self.d.round_length), None)
            .await
            .unwrap();
    }
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "command failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: &Output) -> String {
    assert!(!out.status.success(), "command should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).expect("JSON on stdout")
}

fn wei(v: &serde_json::Value) -> U256 {
    v["wei"].as_str().expect("wei string").parse().unwrap()
}

/// A keystore for anvil account `i`, as Foundry writes it, and its password file.
fn keystore(env: &Env, i: usize) -> Vec<String> {
    let dir = env.dir.path().join("keys");
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(cast())
        .args(["wallet", "import", "holder", "--private-key"])
        .arg(alloy::primitives::hex::encode(env.chain.secret_key(i)))
        .arg("--keystore-dir")
        .arg(&dir)
        .args(["--unsafe-password", "correct horse"])
        .output()
        .expect("cast");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let password = dir.join("password");
    std::fs::write(&password, "correct horse\n").unwrap();
    vec![
        "--keystore".into(),
        dir.join("holder").display().to_string(),
        "--password-file".into(),
        password.display().to_string(),
    ]
}

fn cast() -> PathBuf {
    common::foundry_tool("cast")
}

/// A winning ticket from the broadcaster to the orchestrator, redeemed: `face` in fees.
async fn redeem_ticket(env: &Env, face: U256, nonce: u64) {
    let o = env.chain.address(ORCH);
    let b = env.chain.address(BROADCASTER);
    let o_chain = provider(&env.chain.endpoint(), env.chain.signer(ORCH)).unwrap();
    let rand = B256::repeat_byte(nonce as u8 + 1);
    let ticket = Ticket {
        recipient: o,
        sender: b,
        signer: b,
        faceValue: face,
        winProb: U256::MAX,
        senderNonce: U256::from(nonce),
        recipientRandHash: recipient_rand_hash(rand),
        creationRound: env.staking().currentRound().call().await.unwrap(),
    };
    let domain = TicketDomain {
        chain_id: env.chain.chain_id(),
        broker: env.d.ticket_broker,
    };
    let signature =
        Signature::sign(&env.chain.secret_key(BROADCASTER), ticket.hash(&domain)).unwrap();
    let wire = SignedTicket::pack(&ticket, rand, &signature).unwrap();
    execute(TicketBroker::new(env.d.ticket_broker, &o_chain).redeemWinningTicket(wire.into()))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holders_operators_and_broadcasters_act_through_the_cli() {
    let chain = DevChain::spawn().unwrap();
    let deployer = provider(&chain.endpoint(), chain.signer(0)).unwrap();
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let deployment = dir.path().join("deployment.json");
    d.save(&deployment).unwrap();
    for i in [ORCH, HOLDER, BROADCASTER] {
        give(
            &deployer,
            &d,
            chain.address(i),
            parse_ether("1000").unwrap(),
        )
        .await
        .unwrap();
    }
    let env = Env {
        chain,
        d,
        deployer,
        dir,
        deployment,
    };
    let (o, holder) = (env.chain.address(ORCH), env.chain.address(HOLDER));
    let o_key = env.key_file(ORCH);
    let holder_key = keystore(&env, HOLDER);

    // --- the operator registers and advertises
    let out = ok(&env.run(
        &[
            "orchestrator",
            "register",
            "--stake",
            "200 FLOW",
            "--reward-cut",
            "10%",
            "--fee-share",
            "50%",
            "--service-uri",
            "https://o1.example:8935",
            "--services",
            "transcode:h264",
            "--regions",
            "eu-west",
        ],
        &o_key,
    ));
    assert!(
        out.contains("[1/4] WorkToken.approve(Staking, 200 FLOW)"),
        "progress per step"
    );
    assert!(out.contains("mined in block"), "waits for each transaction");
    let info = env.staking().orchestratorInfo(o).call().await.unwrap();
    assert!(info.registered);
    assert_eq!(info.stake, parse_ether("200").unwrap());
    assert_eq!((info.rewardCut, info.feeShare), (100_000, 500_000));
    let registry = ServiceRegistry::new(env.d.service_registry, &env.deployer);
    let svc = registry.getService(o).call().await.unwrap();
    assert_eq!(svc.uri, "https://o1.example:8935");
    assert_eq!(string_of(&svc.serviceIds[0]), "transcode:h264");
    assert_eq!(string_of(&svc.regions[0]), "eu-west");

    let out = env.run(&["orchestrator", "register", "--stake", "1"], &o_key);
    let err = refused(&out);
    assert!(err.contains("Staking refused: AlreadyRegistered"), "{err}");
    assert!(err.contains("nothing was sent"), "{err}");
    assert_eq!(
        env.staking()
            .orchestratorInfo(o)
            .call()
            .await
            .unwrap()
            .stake,
        parse_ether("200").unwrap(),
        "the plan's approve and bond were not sent either"
    );

    ok(&env.run(&["orchestrator", "set-price", "1200"], &o_key));
    let svc = registry.getService(o).call().await.unwrap();
    assert_eq!(svc.pricePerUnit, U256::from(1200));
    assert_eq!(
        svc.uri, "https://o1.example:8935",
        "set-price keeps the rest"
    );
    assert_eq!(svc.version, 2);

    // --- a dry run prints the calls and a cast line, simulates, and changes nothing
    let out = ok(&env.run(
        &["stake", "bond", "100", "--to", &o.to_string(), "--dry-run"],
        &holder_key,
    ));
    assert!(
        out.contains("WorkToken.approve(Staking, 100 FLOW)"),
        "{out}"
    );
    assert!(out.contains(&format!(
        "cast send {} 'approve(address,uint256)' {} 100000000000000000000",
        env.d.work_token, env.d.staking
    )));
    assert!(out.contains("data 0x095ea7b3"), "approve's selector");
    assert!(out.contains(&format!("Staking.bond(100 FLOW, {o})")));
    assert!(out.contains("simulation: ok"));
    assert_eq!(
        env.staking().pendingStake(holder).call().await.unwrap(),
        U256::ZERO
    );
    let allowance = WorkToken::new(env.d.work_token, &env.deployer)
        .allowance(holder, env.d.staking)
        .call()
        .await
        .unwrap();
    assert_eq!(allowance, U256::ZERO, "the dry run sent nothing");

    // --- bad input: clear messages, nothing sent
    let err = refused(&env.run(
        &["stake", "bond", "12.5 ETH", "--to", &o.to_string()],
        &holder_key,
    ));
    assert!(err.contains("is in ETH, but this token is FLOW"), "{err}");
    let err = refused(&env.run(&["stake", "bond", "100"], &holder_key));
    assert!(err.contains("give --to ORCHESTRATOR"), "{err}");
    let mut wrong = holder_key.clone();
    std::fs::write(env.dir.path().join("wrong"), "battery staple\n").unwrap();
    wrong[3] = env.dir.path().join("wrong").display().to_string();
    let err = refused(&env.run(&["stake", "status"], &wrong));
    assert!(err.contains("decrypting"), "{err}");

    // --- the holder bonds with the keystore
    let before = env.balance(holder).await;
    ok(&env.run(
        &["stake", "bond", "100", "--to", &o.to_string()],
        &holder_key,
    ));
    assert_eq!(
        env.staking().pendingStake(holder).call().await.unwrap(),
        parse_ether("100").unwrap()
    );
    assert_eq!(
        before - env.balance(holder).await,
        parse_ether("100").unwrap()
    );
    let err = refused(&env.run(&["stake", "bond", "5000"], &holder_key));
    assert!(
        err.contains("WorkToken refused: ERC20InsufficientBalance"),
        "{err}"
    );
    assert!(
        err.contains("rule: the account holds fewer tokens than the amount"),
        "{err}"
    );

    // --- a round of rewards and fees; the reported yield is what the holder's position did
    fund_sender(
        &provider(&env.chain.endpoint(), env.chain.signer(BROADCASTER)).unwrap(),
        &env.d,
        parse_ether("50").unwrap(),
        parse_ether("10").unwrap(),
    )
    .await
    .unwrap();
    env.mine_rounds(1).await;
    let round_start = env.deployer.get_block_number().await.unwrap();
    let stake0 = env.staking().pendingStake(holder).call().await.unwrap();
    let fees0 = env.staking().pendingFees(holder).call().await.unwrap();
    let o_chain = provider(&env.chain.endpoint(), env.chain.signer(ORCH)).unwrap();
    execute(Staking::new(env.d.staking, &o_chain).reward())
        .await
        .unwrap();
    redeem_ticket(&env, parse_ether("3").unwrap(), 0).await;
    let stake1 = env.staking().pendingStake(holder).call().await.unwrap();
    let fees1 = env.staking().pendingFees(holder).call().await.unwrap();
    assert!(
        stake1 > stake0 && fees1 > fees0,
        "the round paid rewards and fees"
    );
    let status = json(&env.run(&["stake", "status", "--json", "--rounds", "3"], &holder_key));
    let listed = &status["orchestrators"][0];
    assert_eq!(
        listed["address"]
            .as_str()
            .unwrap()
            .parse::<Address>()
            .unwrap(),
        o
    );
    let this_round = listed["rounds"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(this_round["complete"], false);
    let reward_yield = wei(&this_round["reward_per_token"]);
    let fee_yield = wei(&this_round["fee_per_token"]);
    let token = parse_ether("1").unwrap();
    let expected_reward = (stake1 - stake0) * token / stake0;
    let expected_fee = (fees1 - fees0) * token / stake0;
    let close = |a: U256, b: U256| {
        let diff = if a > b { a - b } else { b - a };
        diff <= U256::from(1_000u64) // wei per token: rounding in the contract's integer maths
    };
    assert!(
        close(reward_yield, expected_reward),
        "{reward_yield} vs {expected_reward}"
    );
    assert!(
        close(fee_yield, expected_fee),
        "{fee_yield} vs {expected_fee}"
    );
    assert!(!expected_fee.is_zero() && !expected_reward.is_zero());
    assert_eq!(wei(&status["position"]["stake"]), stake1);
    assert_eq!(wei(&status["position"]["fees"]), fees1);
    assert!(round_start > 0);
    let human = ok(&env.run(&["stake", "status"], &holder_key));
    assert!(human.contains("yield per staked FLOW"), "{human}");
    assert!(human.contains(&o.to_string()));

    // the operator's view: the reward call, its fees, its advertisement
    let ostatus = json(&env.run(&["orchestrator", "status", "--json"], &o_key));
    let calls = ostatus["reward_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    let minted = wei(&calls[0]["minted"]);
    let pool = env
        .staking()
        .orchestratorInfo(o)
        .call()
        .await
        .unwrap()
        .stake;
    assert_eq!(
        pool,
        parse_ether("300").unwrap() + minted,
        "the pool grew by the minted reward"
    );
    assert_eq!(
        wei(&ostatus["fees"]),
        env.staking().pendingFees(o).call().await.unwrap()
    );
    assert_eq!(ostatus["service"]["price_per_pixel_wei"], "1200");

    // --- claim: rewards into the stake, fees to the wallet
    let wallet0 = env.balance(holder).await;
    ok(&env.run(&["stake", "claim"], &holder_key));
    assert_eq!(env.balance(holder).await - wallet0, fees1);
    assert_eq!(
        env.staking().pendingFees(holder).call().await.unwrap(),
        U256::ZERO
    );

    // --- unbond, withdraw too early (the rule is named), rebond, withdraw when due
    ok(&env.run(&["stake", "unbond", "40"], &holder_key));
    ok(&env.run(&["stake", "unbond", "10"], &holder_key));
    let err = refused(&env.run(&["stake", "withdraw", "0"], &holder_key));
    assert!(err.contains("Staking refused: UnbondingNotOver"), "{err}");
    assert!(err.contains("rule: unbonded stake can be withdrawn only from its withdraw round"));
    let stake = env.staking().pendingStake(holder).call().await.unwrap();
    ok(&env.run(&["stake", "rebond", "1"], &holder_key));
    assert_eq!(
        env.staking().pendingStake(holder).call().await.unwrap(),
        stake + parse_ether("10").unwrap()
    );
    env.mine_rounds(8).await;
    let wallet0 = env.balance(holder).await;
    let out = ok(&env.run(&["stake", "withdraw"], &holder_key));
    assert!(out.contains("withdrawStake(lock 0)"), "{out}");
    assert_eq!(
        env.balance(holder).await - wallet0,
        parse_ether("40").unwrap()
    );
    let err = refused(&env.run(&["stake", "withdraw"], &holder_key));
    assert!(err.contains("no unbonding locks"), "{err}");

    // --- the broadcaster's deposit
    let b_key = env.key_file(BROADCASTER);
    let broker = TicketBroker::new(env.d.ticket_broker, &env.deployer);
    let b = env.chain.address(BROADCASTER);
    let info0 = broker.getSenderInfo(b).call().await.unwrap();
    ok(&env.run(
        &["deposit", "fund", "--deposit", "5", "--reserve", "2.5"],
        &b_key,
    ));
    let info = broker.getSenderInfo(b).call().await.unwrap();
    assert_eq!(info.deposit - info0.deposit, parse_ether("5").unwrap());
    assert_eq!(info.reserve - info0.reserve, parse_ether("2.5").unwrap());
    let err = refused(&env.run(&["deposit", "withdraw"], &b_key));
    assert!(err.contains("TicketBroker refused: NotUnlocking"), "{err}");
    ok(&env.run(&["deposit", "unlock"], &b_key));
    let err = refused(&env.run(&["deposit", "withdraw"], &b_key));
    assert!(
        err.contains("TicketBroker refused: UnlockPeriodNotOver"),
        "{err}"
    );
    let st = json(&env.run(&["deposit", "status", "--json"], &b_key));
    assert_eq!(wei(&st["deposit"]), info.deposit);
    assert_eq!(wei(&st["reserve"]), info.reserve);
    assert!(st["withdraw_round"].as_u64().is_some());
    env.mine_rounds(4).await;
    let wallet0 = env.balance(b).await;
    ok(&env.run(&["deposit", "withdraw"], &b_key));
    assert_eq!(env.balance(b).await - wallet0, info.deposit + info.reserve);
    let info = broker.getSenderInfo(b).call().await.unwrap();
    assert_eq!((info.deposit, info.reserve), (U256::ZERO, U256::ZERO));

    // a status needs no key with --account
    let st = json(&env.run(
        &["deposit", "status", "--json", "--account", &b.to_string()],
        &[],
    ));
    assert_eq!(wei(&st["deposit"]), U256::ZERO);
}

fn borrowed(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `peerflow ARGS` with no chain flags added (the caller gives them), and `envs`.
fn peerflow(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_peerflow"))
        .env("RUST_LOG", "warn")
        .env_remove("SSL_CERT_FILE")
        .envs(envs.iter().copied())
        .args(args)
        .output()
        .expect("peerflow binary");
    eprintln!(
        "$ peerflow {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_cli_over_a_flaky_https_provider_checks_the_deployment() {
    use peerflow_rpc_standin::{PublicRpc, StandinConfig};
    let chain = DevChain::spawn().unwrap();
    let deployer = provider(&chain.endpoint(), chain.signer(0)).unwrap();
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    let holder = chain.address(HOLDER);
    give(&deployer, &d, holder, parse_ether("100").unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let deployments = dir.path().join("deployments");
    std::fs::create_dir_all(&deployments).unwrap();
    let file = deployments.join("31337.json");
    d.save(&file).unwrap();
    let flaky = PublicRpc::start(StandinConfig::flaky(chain.endpoint(), 25))
        .await
        .unwrap();
    let ca = flaky.ca_file().display().to_string();
    let f = file.display().to_string();
    let holder_s = holder.to_string();
    let status = |extra: &[&str]| {
        let mut args = vec!["stake", "status", "--account", &holder_s, "--json"];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };

    // https with the provider's CA, through 429s, 503s and dropped connections.
    let args = status(&[
        "--rpc-url",
        flaky.url(),
        "--rpc-ca-cert",
        &ca,
        "--deployment",
        &f,
    ]);
    let v = json(&peerflow(&borrowed(&args), &[]));
    assert_eq!(
        wei(&v["position"]["wallet"]),
        parse_ether("100").unwrap(),
        "the holder's balance, read over https: {v}"
    );
    // The CA from SSL_CERT_FILE, the deployment from --network's deployments/<chain-id>.json.
    let dd = deployments.display().to_string();
    let args = status(&[
        "--rpc-url",
        flaky.url(),
        "--network",
        "devnet",
        "--deployments-dir",
        &dd,
    ]);
    let v = json(&peerflow(&borrowed(&args), &[("SSL_CERT_FILE", &ca)]));
    assert_eq!(wei(&v["position"]["wallet"]), parse_ether("100").unwrap());

    // Without the CA: refused, and said why.
    let args = status(&["--rpc-url", flaky.url(), "--deployment", &f]);
    let err = refused(&peerflow(&borrowed(&args), &[]));
    assert!(err.contains("UnknownIssuer"), "{err}");

    // A provider that is down, then the flaky one: the next URL serves.
    let down = PublicRpc::start(StandinConfig::new(chain.endpoint()))
        .await
        .unwrap();
    down.set_down(true);
    let both = format!("{},{}", down.url(), flaky.url());
    let down_ca = down.ca_file().display().to_string();
    let args = status(&[
        "--rpc-url",
        &both,
        "--rpc-ca-cert",
        &down_ca,
        "--rpc-ca-cert",
        &ca,
        "--deployment",
        &f,
    ]);
    let v = json(&peerflow(&borrowed(&args), &[]));
    assert_eq!(wei(&v["position"]["wallet"]), parse_ether("100").unwrap());

    // A bond sent through the flaky provider lands once.
    let key = dir.path().join("holder.key");
    std::fs::write(
        &key,
        alloy::primitives::hex::encode(chain.secret_key(HOLDER)),
    )
    .unwrap();
    let k = key.display().to_string();
    let o_key = dir.path().join("o.key");
    std::fs::write(
        &o_key,
        alloy::primitives::hex::encode(chain.secret_key(ORCH)),
    )
    .unwrap();
    give(
        &deployer,
        &d,
        chain.address(ORCH),
        parse_ether("300").unwrap(),
    )
    .await
    .unwrap();
    let ok_key = o_key.display().to_string();
    let chain_flags = [
        "--rpc-url",
        flaky.url(),
        "--rpc-ca-cert",
        &ca,
        "--deployment",
        &f,
    ];
    let mut register = vec![
        "orchestrator",
        "register",
        "--stake",
        "200 FLOW",
        "--reward-cut",
        "10%",
        "--fee-share",
        "50%",
        "--service-uri",
        "https://o1.example:8935",
        "--key-file",
        &ok_key,
    ];
    register.extend_from_slice(&chain_flags);
    ok(&peerflow(&register, &[]));
    let o = chain.address(ORCH).to_string();
    let mut bond = vec!["stake", "bond", "40 FLOW", "--to", &o, "--key-file", &k];
    bond.extend_from_slice(&chain_flags);
    ok(&peerflow(&bond, &[]));
    let token = WorkToken::new(d.work_token, &deployer);
    assert_eq!(
        token.balanceOf(holder).call().await.unwrap(),
        parse_ether("60").unwrap(),
        "40 FLOW bonded, once"
    );
    let stats = flaky.stats();
    assert!(
        stats.rate_limited + stats.unavailable + stats.dropped > 0,
        "the provider misbehaved: {stats:?}"
    );

    // Refusals: a deployment for another chain, and one whose addresses hold other code.
    let mut other = d.clone();
    other.chain_id = 421614;
    let other_file = dir.path().join("other-chain.json");
    other.save(&other_file).unwrap();
    let of = other_file.display().to_string();
    let args = status(&[
        "--rpc-url",
        flaky.url(),
        "--rpc-ca-cert",
        &ca,
        "--deployment",
        &of,
    ]);
    let err = refused(&peerflow(&borrowed(&args), &[]));
    assert!(
        err.contains("is for chain 421614 but the RPC serves chain 31337"),
        "{err}"
    );
    let mut swapped = d.clone();
    swapped.staking = d.ticket_broker;
    let swapped_file = dir.path().join("swapped.json");
    swapped.save(&swapped_file).unwrap();
    let sf = swapped_file.display().to_string();
    let args = status(&[
        "--rpc-url",
        flaky.url(),
        "--rpc-ca-cert",
        &ca,
        "--deployment",
        &sf,
    ]);
    let err = refused(&peerflow(&borrowed(&args), &[]));
    assert!(err.contains("is not peerflow's Staking"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_cli_broadcaster_role_funds_its_deposit_once_through_a_flaky_https_provider() {
    use peerflow_rpc_standin::{PublicRpc, StandinConfig};
    let chain = DevChain::spawn().unwrap();
    let deployer = provider(&chain.endpoint(), chain.signer(0)).unwrap();
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    let b = chain.address(BROADCASTER);
    give(&deployer, &d, b, parse_ether("100").unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deployment.json");
    d.save(&file).unwrap();
    let key = dir.path().join("b.key");
    std::fs::write(
        &key,
        alloy::primitives::hex::encode(chain.secret_key(BROADCASTER)),
    )
    .unwrap();
    let flaky = PublicRpc::start(StandinConfig::flaky(chain.endpoint(), 25))
        .await
        .unwrap();
    let port = common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_peerflow"))
        .env("RUST_LOG", "warn")
        .args(["broadcaster", "--rpc-url", flaky.url(), "--rpc-ca-cert"])
        .arg(flaky.ca_file())
        .arg("--deployment")
        .arg(&file)
        .arg("--key-file")
        .arg(&key)
        .args(["--listen", &listen, "--file-claims", "false"])
        .args([
            "--min-deposit",
            "5000000000000000000",
            "--deposit-target",
            "15000000000000000000",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("b"))
        .spawn()
        .unwrap();
    let _child = common::Kill(child);
    common::wait_http(&format!("http://{listen}/")).await;
    let broker = TicketBroker::new(d.ticket_broker, &deployer);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while broker
        .getSenderInfo(b)
        .call()
        .await
        .unwrap()
        .deposit
        .is_zero()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the deposit was never funded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    // Two more checks of the keeper (every 10 s): the deposit is full, so nothing more is sent.
    // (The target stays under 2^64 wei: the layered config cannot carry a larger integer.)
    tokio::time::sleep(std::time::Duration::from_secs(21)).await;
    assert_eq!(
        broker.getSenderInfo(b).call().await.unwrap().deposit,
        parse_ether("15").unwrap()
    );
    assert_eq!(
        WorkToken::new(d.work_token, &deployer)
            .balanceOf(b)
            .call()
            .await
            .unwrap(),
        parse_ether("85").unwrap(),
        "15 tokens moved to the deposit, once"
    );
    let stats = flaky.stats();
    assert!(
        stats.forwarded.contains_key("eth_sendRawTransaction"),
        "{stats:?}"
    );
}

/// Keys an operator can keep apart (LIP-118): the orchestrator's key names a reward caller and a
/// redeemer with `set-keys`; `call-rewards` run with the reward caller's key calls rewardFor each
/// round (the orchestrator's stake grows, the caller holds nothing); anyone else is refused; a key
/// is cleared with `none`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_keys_are_named_and_the_reward_caller_calls_rewards_through_the_cli() {
    const CALLER: usize = 5;
    const HOT: usize = 6;
    const STRANGER: usize = 7;
    let chain = DevChain::spawn().unwrap();
    let deployer = provider(&chain.endpoint(), chain.signer(0)).unwrap();
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let deployment = dir.path().join("deployment.json");
    d.save(&deployment).unwrap();
    give(
        &deployer,
        &d,
        chain.address(ORCH),
        parse_ether("1000").unwrap(),
    )
    .await
    .unwrap();
    let env = Env {
        chain,
        d,
        deployer,
        dir,
        deployment,
    };
    let o = env.chain.address(ORCH);
    let (caller, hot) = (env.chain.address(CALLER), env.chain.address(HOT));
    let o_key = env.key_file(ORCH);
    ok(&env.run(&["orchestrator", "register", "--stake", "200 FLOW"], &o_key));
    env.mine_rounds(1).await;

    let out = ok(&env.run(
        &[
            "orchestrator",
            "set-keys",
            "--reward-caller",
            &caller.to_string(),
            "--redeemer",
            &hot.to_string(),
        ],
        &o_key,
    ));
    assert!(
        out.contains(&format!("reward caller {caller}, redeemer {hot}")),
        "{out}"
    );
    let staking = env.staking();
    assert_eq!(staking.rewardCallerOf(o).call().await.unwrap(), caller);
    assert_eq!(staking.redeemerOf(o).call().await.unwrap(), hot);

    // Nobody else may call rewards for it: refused before anything is sent.
    let stranger = refused(&env.run(
        &["orchestrator", "call-rewards", "--for", &o.to_string()],
        &env.key_file(STRANGER),
    ));
    assert!(stranger.contains("may not call rewards"), "{stranger}");

    // The reward caller calls rewardFor(o) in this round.
    let stake_before = staking.orchestratorInfo(o).call().await.unwrap().stake;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerflow"));
    cmd.env("RUST_LOG", "warn")
        .args(["orchestrator", "call-rewards", "--for", &o.to_string()])
        .arg("--rpc-url")
        .arg(env.chain.endpoint())
        .arg("--deployment")
        .arg(&env.deployment)
        .args(env.key_file(CALLER));
    let _caller = common::Kill(cmd.spawn().unwrap());
    let round = staking.currentRound().call().await.unwrap();
    let mut rewarded = false;
    for _ in 0..120 {
        if staking
            .orchestratorInfo(o)
            .call()
            .await
            .unwrap()
            .lastRewardRound
            == round
        {
            rewarded = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(rewarded, "rewardFor was not called in round {round}");
    assert!(staking.orchestratorInfo(o).call().await.unwrap().stake > stake_before);
    assert_eq!(
        env.balance(caller).await,
        U256::ZERO,
        "the caller holds nothing"
    );
    assert_eq!(
        staking.pendingStake(caller).call().await.unwrap(),
        U256::ZERO
    );

    // Cleared with `none`.
    ok(&env.run(&["orchestrator", "set-keys", "--redeemer", "none"], &o_key));
    assert_eq!(staking.redeemerOf(o).call().await.unwrap(), Address::ZERO);
}
