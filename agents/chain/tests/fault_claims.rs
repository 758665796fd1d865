//! A segment result signed in Rust is claimed on-chain by its broadcaster and decided by a
//! three-member committee: while it is open the accused cannot unbond; an upheld claim slashes
//! exactly the configured share of the orchestrator's own stake and pays the claimant the finder's
//! fee; a rejected one gives the bond to the orchestrator; an undecided one expires with the bond
//! back less the tenth that pays the accused for the freeze.

use alloy::primitives::{Address, B256, U256, keccak256, utils::parse_ether};
use alloy::providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi};
use peerflow_chain::actions::{give, register_orchestrator};
use peerflow_chain::bindings::{
    fault_claims::FaultClaims, staking::Staking, work_token::WorkToken,
};
use peerflow_chain::claims::{
    ClaimStatus, Fault, Resolution, claim, claims_filed_since, expire, file_claim, record, vote,
};
use peerflow_chain::{
    ChainError, Deployment, DevChain, DevChainOptions, SuiteParams, deploy_suite,
};
use peerflow_protocol::result::Profile;
use peerflow_protocol::{ResultDomain, SegmentResult};

const ORCHESTRATOR: usize = 1;
const HONEST: usize = 3;
const BROADCASTER: usize = 2;
const COMMITTEE: [usize; 3] = [10, 11, 12];

struct Net {
    chain: DevChain,
    d: Deployment,
    deployer: DynProvider,
}

impl Net {
    async fn start() -> Self {
        let chain = DevChain::spawn_with(&DevChainOptions {
            accounts: Some(13),
            ..Default::default()
        })
        .expect("anvil");
        let deployer = wallet(&chain, 0);
        let committee = COMMITTEE.iter().map(|&i| chain.address(i)).collect();
        let params = SuiteParams::devnet(chain.address(0)).with_committee(committee, 2);
        let d = deploy_suite(&deployer, &params).await.expect("deploy");
        for i in [ORCHESTRATOR, HONEST, BROADCASTER] {
            give(&deployer, &d, chain.address(i), parse_ether("100").unwrap())
                .await
                .unwrap();
        }
        for i in [ORCHESTRATOR, HONEST] {
            let me = chain.address(i);
            register_orchestrator(
                &wallet(&chain, i),
                &d,
                me,
                parse_ether("100").unwrap(),
                100_000,
                500_000,
            )
            .await
            .unwrap();
        }
        Self { chain, d, deployer }
    }

    fn wallet(&self, index: usize) -> DynProvider {
        wallet(&self.chain, index)
    }

    /// Segment `seq` of a demo stream from orchestrator `index` to the broadcaster, signed.
    fn signed_result(
        &self,
        index: usize,
        seq: u64,
    ) -> (SegmentResult, peerflow_protocol::Signature) {
        let profile = |name: &str, width, height| Profile {
            name: name.into(),
            width,
            height,
            bitrateKbps: 800,
            codec: "h264".into(),
        };
        let result = SegmentResult {
            orchestrator: self.chain.address(index),
            broadcaster: self.chain.address(BROADCASTER),
            streamHash: keccak256("demo"),
            seq: U256::from(seq),
            inputHash: keccak256(format!("segment {seq}")),
            profiles: vec![profile("360p", 640, 360), profile("240p", 426, 240)],
            renditionHashes: vec![keccak256("360p"), keccak256("black frames")],
        };
        let signature = result
            .sign(&self.domain(), &self.chain.secret_key(index))
            .unwrap();
        (result, signature)
    }

    fn domain(&self) -> ResultDomain {
        ResultDomain {
            chain_id: self.chain.chain_id(),
            staking: self.d.staking,
        }
    }

    async fn file(&self, result: &SegmentResult, sig: &peerflow_protocol::Signature) -> U256 {
        file_claim(
            &self.wallet(BROADCASTER),
            &self.d,
            result,
            sig,
            1,
            Fault::LowQuality,
            keccak256("ssim report"),
            "file:///recordings/demo/7.result.json",
        )
        .await
        .expect("claim filed")
    }

    async fn balance(&self, who: Address) -> U256 {
        WorkToken::new(self.d.work_token, &self.deployer)
            .balanceOf(who)
            .call()
            .await
            .unwrap()
    }

    async fn own_stake(&self, orchestrator: Address) -> U256 {
        Staking::new(self.d.staking, &self.deployer)
            .pendingStake(orchestrator)
            .call()
            .await
            .unwrap()
    }
}

fn wallet(chain: &DevChain, index: usize) -> DynProvider {
    ProviderBuilder::new()
        .wallet(chain.signer(index))
        .connect_http(chain.endpoint().parse().unwrap())
        .erased()
}

#[tokio::test]
async fn upheld_claim_slashes_a_quarter_of_own_stake_and_pays_the_finder() {
    let net = Net::start().await;
    let (o, b) = (
        net.chain.address(ORCHESTRATOR),
        net.chain.address(BROADCASTER),
    );
    let (result, sig) = net.signed_result(ORCHESTRATOR, 7);
    let on_chain_digest = FaultClaims::new(net.d.fault_claims, &net.deployer)
        .resultDigest((&result).into())
        .call()
        .await
        .unwrap();
    assert_eq!(
        on_chain_digest,
        result.digest(&net.domain()),
        "digest parity"
    );
    let supply = WorkToken::new(net.d.work_token, &net.deployer)
        .totalSupply()
        .call()
        .await
        .unwrap();

    let id = net.file(&result, &sig).await;
    assert_eq!(id, U256::from(1));
    assert_eq!(
        net.balance(b).await,
        parse_ether("90").unwrap(),
        "bond posted"
    );
    let filed = claim(&net.deployer, &net.d, id).await.unwrap();
    assert_eq!(filed.status, ClaimStatus::Open);
    assert_eq!(filed.orchestrator, o);
    assert_eq!(filed.claimant, b);
    assert_eq!(filed.rendition, 1);
    assert_eq!(Fault::from_code(filed.fault), Some(Fault::LowQuality));
    assert_eq!(filed.result_digest, on_chain_digest);
    assert_eq!(filed.bond, parse_ether("10").unwrap());
    assert_eq!(filed.quorum, 2);
    assert_eq!(
        filed.episode, 1,
        "the first claim against o opens its first episode"
    );

    // While the claim is open the accused cannot pull its stake out from under the slash.
    let staking = Staking::new(net.d.staking, &net.deployer);
    assert!(staking.frozen(o).call().await.unwrap());
    let escape = staking
        .unbond(parse_ether("100").unwrap())
        .from(o)
        .call()
        .await
        .unwrap_err();
    assert!(
        matches!(
            escape.as_decoded_interface_error::<Staking::StakingErrors>(),
            Some(Staking::StakingErrors::StakeFrozen(_))
        ),
        "{escape}"
    );

    let watched = claims_filed_since(&net.deployer, &net.d, 0).await.unwrap();
    assert_eq!(watched.len(), 1);
    assert_eq!(watched[0].id, id);
    assert_eq!(
        watched[0].evidence_uri,
        "file:///recordings/demo/7.result.json"
    );
    assert_eq!(watched[0].evidence_hash, keccak256("ssim report"));

    let first = vote(&net.wallet(COMMITTEE[0]), &net.d, id, true)
        .await
        .unwrap();
    assert_eq!(first, None, "one vote of two");
    let decided = vote(&net.wallet(COMMITTEE[2]), &net.d, id, true)
        .await
        .unwrap();
    let penalty = parse_ether("25").unwrap();
    let finder_fee = parse_ether("12.5").unwrap();
    assert_eq!(
        decided,
        Some(Resolution {
            id,
            status: ClaimStatus::Upheld,
            penalty,
            finder_fee,
        })
    );
    assert_eq!(net.own_stake(o).await, parse_ether("75").unwrap());
    assert!(
        !staking.frozen(o).call().await.unwrap(),
        "unfrozen once decided"
    );
    assert_eq!(
        net.balance(b).await,
        parse_ether("100").unwrap() + finder_fee,
        "finder's fee and the bond back"
    );
    let supply_after = WorkToken::new(net.d.work_token, &net.deployer)
        .totalSupply()
        .call()
        .await
        .unwrap();
    assert_eq!(
        supply - supply_after,
        penalty - finder_fee,
        "the rest burned"
    );
    assert_eq!(net.balance(net.d.fault_claims).await, U256::ZERO);
    let rec = record(&net.deployer, &net.d, o).await.unwrap();
    assert_eq!((rec.upheld, rec.open), (1, 0));
    assert!(
        !Staking::new(net.d.staking, &net.deployer)
            .isRegistered(o)
            .call()
            .await
            .unwrap()
    );

    // The same result cannot be claimed twice; the refusal comes back by name.
    let again = file_claim(
        &net.wallet(BROADCASTER),
        &net.d,
        &result,
        &sig,
        0,
        Fault::Undecodable,
        B256::ZERO,
        "",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&again, ChainError::Refused { contract: "FaultClaims", reason } if reason.contains("AlreadyClaimed")),
        "{again}"
    );
}

#[tokio::test]
async fn rejected_claim_gives_the_bond_to_the_orchestrator_and_an_undecided_one_expires() {
    let net = Net::start().await;
    let (o, b) = (net.chain.address(HONEST), net.chain.address(BROADCASTER));
    let (result, sig) = net.signed_result(HONEST, 1);
    let id = net.file(&result, &sig).await;

    let outsider = vote(&net.wallet(0), &net.d, id, false).await.unwrap_err();
    assert!(
        matches!(&outsider, ChainError::Refused { reason, .. } if reason.contains("NotMember")),
        "{outsider}"
    );
    vote(&net.wallet(COMMITTEE[1]), &net.d, id, false)
        .await
        .unwrap();
    let decided = vote(&net.wallet(COMMITTEE[0]), &net.d, id, false)
        .await
        .unwrap()
        .expect("decided");
    assert_eq!(decided.status, ClaimStatus::Rejected);
    assert_eq!(decided.penalty, U256::ZERO);
    assert_eq!(
        net.balance(o).await,
        parse_ether("10").unwrap(),
        "bond to the accused"
    );
    assert_eq!(net.balance(b).await, parse_ether("90").unwrap());
    assert_eq!(
        net.own_stake(o).await,
        parse_ether("100").unwrap(),
        "stake untouched"
    );

    let (late, late_sig) = net.signed_result(HONEST, 2);
    let id = net.file(&late, &late_sig).await;
    net.deployer.anvil_increase_time(24 * 3600).await.unwrap();
    net.deployer.evm_mine(None).await.unwrap();
    let expired = expire(&net.wallet(0), &net.d, id).await.unwrap();
    assert_eq!(expired.status, ClaimStatus::Expired);
    assert_eq!(
        net.balance(b).await,
        parse_ether("89").unwrap(),
        "bond back less the tenth paid for the freeze"
    );
    assert_eq!(
        net.balance(o).await,
        parse_ether("11").unwrap(),
        "the rejected bond and the expired claim's tenth"
    );
    let rec = record(&net.deployer, &net.d, o).await.unwrap();
    assert_eq!(
        (rec.rejected, rec.expired, rec.upheld, rec.open),
        (1, 1, 0, 0)
    );
}

/// The bond follows the accused's slashable stake. Here the stake triples between the moment the
/// broadcaster approves the bond and the moment its claim is estimated (the approval and the
/// accused's new bond are mined in one block, as a reward or a bond could be on a live chain):
/// the claim finds the allowance short, is approved again and filed, never given up.
#[tokio::test]
async fn a_bond_that_grows_after_its_approval_is_approved_again_and_the_claim_filed() {
    let net = Net::start().await;
    let accused = net.chain.address(ORCHESTRATOR);
    let broadcaster = net.chain.address(BROADCASTER);
    // Enough own stake that the bond is scaled by it (1 % of it, above the 10-token floor).
    give(
        &net.deployer,
        &net.d,
        accused,
        parse_ether("10000").unwrap(),
    )
    .await
    .unwrap();
    let o = net.wallet(ORCHESTRATOR);
    let staking = Staking::new(net.d.staking, &o);
    peerflow_chain::deploy::execute(
        WorkToken::new(net.d.work_token, &o).approve(net.d.staking, parse_ether("10000").unwrap()),
    )
    .await
    .unwrap();
    peerflow_chain::deploy::execute(staking.bond(parse_ether("1900").unwrap(), accused))
        .await
        .unwrap();
    let claims = FaultClaims::new(net.d.fault_claims, &net.deployer);
    assert_eq!(
        claims.bondFor(accused).call().await.unwrap(),
        parse_ether("20").unwrap()
    );

    // Blocks only when the test mines them, until the approval is in. (A block mined by hand is
    // not always seen by a receipt watcher: the send looks again after 2 s.)
    peerflow_chain::send::set_policy(peerflow_chain::send::SendPolicy {
        stuck_after: std::time::Duration::from_secs(2),
        ..peerflow_chain::send::policy()
    });
    net.deployer.anvil_set_auto_mine(false).await.unwrap();
    let sent = net
        .deployer
        .get_transaction_count(broadcaster)
        .await
        .unwrap();
    let (result, sig) = net.signed_result(ORCHESTRATOR, 7);
    let filing = {
        // As the broadcaster builds its wallet: one nonce sequence per key (alloy's default
        // nonce cache would leave a gap after the refused estimate).
        let wallet = peerflow_chain::rpc::RpcOptions::new([net.chain.endpoint()])
            .wallet_provider(net.chain.signer(BROADCASTER))
            .unwrap();
        let d = net.d.clone();
        tokio::spawn(async move {
            file_claim(
                &wallet,
                &d,
                &result,
                &sig,
                1,
                Fault::LowQuality,
                keccak256("ssim report"),
                "file:///recordings/demo/7.result.json",
            )
            .await
        })
    };
    // The approval waits in the pool: the accused's bond of 4,000 more joins it in one block.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while net
        .deployer
        .get_transaction_count(broadcaster)
        .pending()
        .await
        .unwrap()
        == sent
    {
        assert!(std::time::Instant::now() < deadline, "no approval sent");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let grown = staking
        .bond(parse_ether("4000").unwrap(), accused)
        .send()
        .await
        .unwrap();
    net.deployer.anvil_mine(Some(1), None).await.unwrap();
    net.deployer.anvil_set_auto_mine(true).await.unwrap();
    let bond = claims.bondFor(accused).call().await.unwrap();
    assert_eq!(bond, parse_ether("60").unwrap(), "tripled");
    assert!(
        net.deployer
            .get_transaction_receipt(*grown.tx_hash())
            .await
            .unwrap()
            .is_some_and(|r| r.status()),
        "the accused's bond was mined with the approval"
    );

    let filed = tokio::time::timeout(std::time::Duration::from_secs(60), filing)
        .await
        .expect("filed within a minute")
        .unwrap();
    let id = filed.expect("the claim is filed, not refused");
    let c = claim(&net.deployer, &net.d, id).await.unwrap();
    assert_eq!(c.bond, bond, "the bond in force when it was filed");
    assert_eq!(c.status, ClaimStatus::Open);
    // Approved twice the first bond, then twice the grown one; the claim took the grown one.
    let allowance = WorkToken::new(net.d.work_token, &net.deployer)
        .allowance(broadcaster, net.d.fault_claims)
        .call()
        .await
        .unwrap();
    assert_eq!(allowance, parse_ether("60").unwrap());
}
