//! Token-holder governance end to end, through the `peerflow gov` CLI against anvil: holders
//! propose a new slash rate and a new committee member, vote (held tokens, an orchestrator's pool,
//! a delegator overriding its orchestrator), the proposal waits out the timelock and is executed;
//! the change takes effect, and a fault claim filed before it is decided under the rules and the
//! committee it was filed under. Refusals by rule (voting twice, queueing early, executing before
//! the timelock's delay, a change the contracts' bounds refuse) stop before anything is sent.

use std::path::PathBuf;
use std::process::{Command, Output};

use alloy::primitives::{Address, U256, keccak256, utils::parse_ether};
use alloy::providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi};
use peerflow_chain::actions::{give, register_orchestrator};
use peerflow_chain::bindings::{
    fault_claims::FaultClaims, staking::Staking, work_token::WorkToken,
};
use peerflow_chain::claims::{ClaimStatus, Fault, claim, file_claim, vote};
use peerflow_chain::{Deployment, DevChain, DevChainOptions, SuiteParams, deploy_suite};
use peerflow_protocol::result::Profile;
use peerflow_protocol::{ResultDomain, SegmentResult};

const ORCH: usize = 1;
const DELEGATOR: usize = 2;
const HOLDER: usize = 3;
const BROADCASTER: usize = 4;
const NEW_MEMBER: usize = 5;
const COMMITTEE: [usize; 3] = [10, 11, 12];

struct Env {
    chain: DevChain,
    d: Deployment,
    deployer: DynProvider,
    dir: tempfile::TempDir,
    deployment: PathBuf,
}

impl Env {
    fn run(&self, args: &[&str], key: usize) -> Output {
        let key_file = self.dir.path().join(format!("key{key}"));
        std::fs::write(
            &key_file,
            alloy::primitives::hex::encode(self.chain.secret_key(key)),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_peerflow"))
            .env("RUST_LOG", "warn")
            .args(args)
            .arg("--rpc-url")
            .arg(self.chain.endpoint())
            .arg("--deployment")
            .arg(&self.deployment)
            .arg("--key-file")
            .arg(&key_file)
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

    fn wallet(&self, i: usize) -> DynProvider {
        ProviderBuilder::new()
            .wallet(self.chain.signer(i))
            .connect_http(self.chain.endpoint().parse().unwrap())
            .erased()
    }

    async fn mine(&self, blocks: u64) {
        self.deployer.anvil_mine(Some(blocks), None).await.unwrap();
    }

    async fn own_stake(&self, who: Address) -> U256 {
        Staking::new(self.d.staking, &self.deployer)
            .pendingStake(who)
            .call()
            .await
            .unwrap()
    }

    /// A segment result signed by the orchestrator, to claim against.
    fn signed_result(&self, seq: u64) -> (SegmentResult, peerflow_protocol::Signature) {
        let profile = |name: &str, width, height| Profile {
            name: name.into(),
            width,
            height,
            bitrateKbps: 800,
            codec: "h264".into(),
        };
        let result = SegmentResult {
            orchestrator: self.chain.address(ORCH),
            broadcaster: self.chain.address(BROADCASTER),
            streamHash: keccak256("governed"),
            seq: U256::from(seq),
            inputHash: keccak256(format!("segment {seq}")),
            profiles: vec![profile("360p", 640, 360)],
            renditionHashes: vec![keccak256("black frames")],
        };
        let domain = ResultDomain {
            chain_id: self.chain.chain_id(),
            staking: self.d.staking,
        };
        let signature = result.sign(&domain, &self.chain.secret_key(ORCH)).unwrap();
        (result, signature)
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

fn proposal_id(out: &str) -> String {
    out.lines()
        .find_map(|l| {
            l.strip_prefix("proposal ")
                .filter(|id| id.chars().all(|c| c.is_ascii_digit()))
        })
        .expect("the proposal id is printed")
        .to_string()
}

async fn start() -> Env {
    let chain = DevChain::spawn_with(&DevChainOptions {
        accounts: Some(13),
        ..Default::default()
    })
    .unwrap();
    let deployer = ProviderBuilder::new()
        .wallet(chain.signer(0))
        .connect_http(chain.endpoint().parse().unwrap())
        .erased();
    let committee = COMMITTEE.iter().map(|&i| chain.address(i)).collect();
    let params = SuiteParams::devnet(chain.address(0)).with_committee(committee, 2);
    let d = deploy_suite(&deployer, &params).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let deployment = dir.path().join("deployment.json");
    d.save(&deployment).unwrap();
    for (i, amount) in [
        (ORCH, "1000"),
        (DELEGATOR, "300"),
        (HOLDER, "700000"),
        (BROADCASTER, "100"),
    ] {
        give(
            &deployer,
            &d,
            chain.address(i),
            parse_ether(amount).unwrap(),
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
    register_orchestrator(
        &env.wallet(ORCH),
        &env.d,
        env.chain.address(ORCH),
        parse_ether("1000").unwrap(),
        100_000,
        500_000,
    )
    .await
    .unwrap();
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holders_change_the_slash_rate_and_elect_a_member_and_old_claims_keep_their_rules() {
    let env = start().await;
    let (o, delegator, holder) = (
        env.chain.address(ORCH),
        env.chain.address(DELEGATOR),
        env.chain.address(HOLDER),
    );
    let new_member = env.chain.address(NEW_MEMBER);

    // Votes: the holder delegates its tokens to itself; the delegator bonds to the orchestrator.
    ok(&env.run(&["gov", "delegate"], HOLDER));
    ok(&env.run(
        &["stake", "bond", "300 FLOW", "--to", &o.to_string()],
        DELEGATOR,
    ));

    // A claim filed under today's rules: slash 25 %, committee of three, quorum 2.
    let claims = FaultClaims::new(env.d.fault_claims, &env.deployer);
    let before = claims.parameters().call().await.unwrap();
    assert_eq!(before.slashPpm, 250_000);
    let (result, signature) = env.signed_result(7);
    let old_claim = file_claim(
        &env.wallet(BROADCASTER),
        &env.d,
        &result,
        &signature,
        0,
        Fault::LowQuality,
        keccak256("ssim report"),
        "file:///recordings/governed/7.result.json",
    )
    .await
    .expect("claim filed");

    // A change the contracts' bounds refuse never reaches a vote.
    let out = refused(&env.run(
        &[
            "gov",
            "propose",
            "--description",
            "slash more than everything",
            "--slash-ppm",
            "2000000",
        ],
        HOLDER,
    ));
    assert!(out.contains("nothing was proposed"), "{out}");

    // A dry run prints and simulates the call, and proposes nothing.
    let out = ok(&env.run(
        &[
            "gov",
            "propose",
            "--description",
            "Slash 50%",
            "--slash-ppm",
            "500000",
            "--dry-run",
        ],
        HOLDER,
    ));
    assert!(
        out.contains("dry run as") && out.contains("simulation: ok"),
        "{out}"
    );
    assert!(out.contains("cast send"), "{out}");
    let none = ok(&env.run(&["gov", "status", "--all", "--json"], HOLDER));
    let none: serde_json::Value = serde_json::from_str(&none).unwrap();
    assert_eq!(
        none["proposals"].as_array().unwrap().len(),
        0,
        "nothing proposed"
    );

    // The proposal.
    let out = ok(&env.run(
        &[
            "gov",
            "propose",
            "--description",
            "Slash 50% for an upheld fault, and elect a fourth committee member",
            "--slash-ppm",
            "500000",
            "--add-committee-member",
            &new_member.to_string(),
        ],
        HOLDER,
    ));
    assert!(
        out.contains("[1/1] Governor.propose"),
        "progress lines: {out}"
    );
    assert!(out.contains("mined in block"), "{out}");
    let id = proposal_id(&out);

    // Too early: voting opens after the snapshot.
    let out = refused(&env.run(&["gov", "vote", &id, "for"], HOLDER));
    assert!(
        out.contains("refused by rule") && out.contains("pending"),
        "{out}"
    );
    env.mine(2).await;

    // The holder votes its tokens; the orchestrator votes its pool; the delegator overrides it.
    ok(&env.run(&["gov", "vote", &id, "for"], HOLDER));
    let out = refused(&env.run(&["gov", "vote", &id, "for"], HOLDER));
    assert!(out.contains("already voted"), "{out}");
    ok(&env.run(&["gov", "vote", &id, "for"], ORCH));
    let out = ok(&env.run(
        &["gov", "vote", &id, "against", "--reason", "too harsh"],
        DELEGATOR,
    ));
    assert!(out.contains("castOverrideVote"), "{out}");

    let status = ok(&env.run(&["gov", "status", &id, "--json"], HOLDER));
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let p = &status["proposals"][0];
    let wei = |v: &serde_json::Value| v.as_str().unwrap().parse::<U256>().unwrap();
    let stake = parse_ether("300").unwrap();
    assert_eq!(
        wei(&p["tally"]["for"]),
        parse_ether("700000").unwrap() + parse_ether("1000").unwrap(),
        "the holder's tokens (above the 4 % quorum of 15M) and the orchestrator's pool less the overriding delegator's stake"
    );
    assert_eq!(
        wei(&p["tally"]["against"]),
        stake,
        "the delegator's own stake"
    );

    // The agents' pages list it (GET /v1/governance, as the orchestrator and broadcaster serve it).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/governance", listener.local_addr().unwrap());
    let routes = peerflow_chain::governance::routes(env.deployer.clone(), env.d.clone());
    tokio::spawn(async move { axum::serve(listener, routes).await });
    let page: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(page["governor"], serde_json::json!(env.d.governor));
    assert_eq!(page["proposals"][0]["id"], serde_json::json!(id));
    assert_eq!(page["proposals"][0]["state"], "active");
    assert!(
        page["proposals"][0]["calls"][0]["summary"]
            .as_str()
            .unwrap()
            .contains("slashPpm: 500000"),
        "{page}"
    );

    // Not yet over: no queueing.
    let out = refused(&env.run(&["gov", "queue", &id], HOLDER));
    assert!(out.contains("refused by rule"), "{out}");
    let period: u64 = p["deadline"].as_u64().unwrap() - p["snapshot"].as_u64().unwrap();
    env.mine(period + 1).await;
    ok(&env.run(&["gov", "queue", &id], HOLDER));

    // The timelock holds it for its delay.
    let out = refused(&env.run(&["gov", "execute", &id], HOLDER));
    assert!(out.contains("the timelock holds"), "{out}");
    let delay = env
        .deployer
        .raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (3600u64,))
        .await;
    assert!(delay.is_ok());
    env.mine(1).await;
    let out = ok(&env.run(&["gov", "execute", &id], HOLDER));
    assert!(out.contains("executed"), "{out}");

    // The change took effect.
    let after = claims.parameters().call().await.unwrap();
    assert_eq!(after.slashPpm, 500_000);
    assert!(claims.isMember(new_member).call().await.unwrap());

    // The old claim is decided by its own committee under its own rules: 25 %, not 50 %.
    let own_before = env.own_stake(o).await;
    let out = vote(&env.wallet(NEW_MEMBER), &env.d, old_claim, true).await;
    assert!(
        out.is_err(),
        "a member elected after the filing does not vote on it"
    );
    for i in [COMMITTEE[0], COMMITTEE[1]] {
        vote(&env.wallet(i), &env.d, old_claim, true).await.unwrap();
    }
    let c = claim(&env.deployer, &env.d, old_claim).await.unwrap();
    assert_eq!(c.status, ClaimStatus::Upheld);
    let own_after = env.own_stake(o).await;
    assert_eq!(
        own_before - own_after,
        own_before * U256::from(250_000u64) / U256::from(1_000_000u64),
        "slashed at the rate in force when the claim was filed"
    );

    // Held tokens still belong to their holders: governance moved none.
    let token = WorkToken::new(env.d.work_token, &env.deployer);
    assert_eq!(
        token.balanceOf(holder).call().await.unwrap(),
        parse_ether("700000").unwrap()
    );
    let _ = delegator;
}
