//! A started orchestrator calls `reward()` in each round it is active, serves its API, and keeps
//! its recipient secret across restarts.

use crate::common::service_config;

use std::time::Duration;

use alloy::primitives::utils::parse_ether;
use alloy::providers::Provider;
use alloy::providers::ext::AnvilApi;
use alloy::rpc::types::anvil::ReorgOptions;
use peerflow_chain::actions::{give, register_orchestrator};
use peerflow_chain::bindings::staking::Staking;
use peerflow_chain::{DevChain, SuiteParams, deploy_suite};
use peerflow_orchestrator::RecipientSecret;
use peerflow_orchestrator::metrics::REWARD_CALLS;
use peerflow_orchestrator::service::start;

#[tokio::test]
async fn orchestrator_rewards_every_round_and_keeps_its_secret() {
    let chain = DevChain::spawn().unwrap();
    // As the roles build them: one nonce sequence per key (a reorg rolls the account back).
    let provider = |i: usize| {
        peerflow_chain::rpc::RpcOptions::new([chain.endpoint()])
            .wallet_provider(chain.signer(i))
            .unwrap()
    };
    let deployer = provider(0);
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    let me = chain.address(1);
    give(&deployer, &d, me, parse_ether("100").unwrap())
        .await
        .unwrap();
    let o = provider(1);
    register_orchestrator(&o, &d, me, parse_ether("100").unwrap(), 100_000, 500_000)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut config = service_config(&d, dir.path(), parse_ether("0.01").unwrap());
    config.node.job_timeout = Duration::from_secs(1);
    let running = start(o.clone(), me, chain.secret_key(1), config.clone())
        .await
        .unwrap();
    let reply = reqwest::get(format!(
        "{}/v1/info?sender={}",
        running.url,
        chain.address(2)
    ))
    .await
    .unwrap();
    assert_eq!(reply.status(), 200);

    let staking = Staking::new(d.staking, &o);
    for _ in 0..2 {
        deployer
            .anvil_mine(Some(d.round_length), None)
            .await
            .unwrap();
        let round = staking.currentRound().call().await.unwrap();
        let mut rewarded = false;
        for _ in 0..50 {
            if staking
                .orchestratorInfo(me)
                .call()
                .await
                .unwrap()
                .lastRewardRound
                == round
            {
                rewarded = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(rewarded, "reward() called in round {round}");
    }
    assert!(staking.pendingStake(me).call().await.unwrap() > parse_ether("100").unwrap());

    // A reorg takes the last reward() out: it is called again. (Its block is not always the
    // newest: a call sent while `anvil_mine` was still mining the round's blocks lands in one of
    // them, so the reorg goes as deep as that block.)
    let rewarded = |r: &peerflow_orchestrator::service::RunningOrchestrator<_>| {
        r.node
            .metrics()
            .counter(REWARD_CALLS, &[("outcome", "rewarded")])
    };
    let calls = rewarded(&running);
    let round = staking.currentRound().call().await.unwrap();
    let head = deployer.get_block_number().await.unwrap();
    let mut depth = None;
    for back in 0..=d.round_length {
        let block = deployer
            .get_block_by_number((head - back).into())
            .full()
            .await
            .unwrap()
            .unwrap();
        if block.transactions.txns().any(|tx| tx.inner.signer() == me) {
            depth = Some(back + 1);
            break;
        }
    }
    let depth = depth.expect("the reward() call is in the round's blocks");
    deployer
        .anvil_reorg(ReorgOptions {
            depth,
            tx_block_pairs: vec![],
        })
        .await
        .unwrap();
    let mut again = false;
    for _ in 0..50 {
        let info = staking.orchestratorInfo(me).call().await.unwrap();
        if rewarded(&running) > calls && info.lastRewardRound == round {
            again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(again, "reward() called again after the reorg");

    // The status counts the reward calls from the chain; the scan's place is saved with them.
    let status = |url: String| async move {
        reqwest::get(format!("{url}/v1/status"))
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let before = status(running.url.clone()).await["rewards"]["count"].clone();
    // Two rounds rewarded (the reorged-out call was replaced by the one after it).
    assert!(before.as_u64().unwrap() >= 2, "{before}");

    let secret = RecipientSecret::load_or_create(&dir.path().join("recipient.secret"))
        .unwrap()
        .bytes();
    drop(running);
    let saved: serde_json::Value = serde_json::from_str(
        &peerflow_orchestrator::PaymentStore::open(&dir.path().join("payments.sqlite"))
            .unwrap()
            .earnings_scan()
            .unwrap()
            .expect("the earnings scan's place is saved"),
    )
    .unwrap();
    assert!(saved["next_block"].as_u64().unwrap() > d.deployment_block.unwrap());
    let again = start(o, me, chain.secret_key(1), config).await.unwrap();
    // After the restart the scan goes on from its place: the same calls, not counted twice.
    let after = status(again.url.clone()).await["rewards"]["count"].clone();
    assert!(
        after.as_u64().unwrap() >= before.as_u64().unwrap(),
        "{after} after {before}"
    );
    assert!(
        after.as_u64().unwrap() <= before.as_u64().unwrap() + 1,
        "{after} after {before}"
    );
    assert_eq!(
        RecipientSecret::load_or_create(&dir.path().join("recipient.secret"))
            .unwrap()
            .bytes(),
        secret
    );
    drop(again);
}
