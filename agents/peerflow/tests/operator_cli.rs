//! The holder's, operator's and broadcaster's CLI through the binary against anvil:
//! `peerflow orchestrator register|set-service|set-price|status`, `peerflow stake
//! bond|unbond|rebond|withdraw|claim|status` with an encrypted keystore (written by Foundry's
//! `cast wallet import`) and a password file, and `peerflow deposit fund|unlock|withdraw|status`.
//! Every action is checked on-chain; a dry run changes nothing; refusals name the contract rule; the
//! yield per staked token `stake status` reports equals what a delegator's stake and fees did.

mod common;

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
