//! Ticket face value follows the gas outlook: a base fee 100x higher for 30 blocks raises the face
//! value quoted in `/v1/info` so that redeeming a winner stays within 1 % of it, the orchestrator
//! keeps answering throughout, and the face value comes back down when gas does. The orchestrator
//! reaches the chain (50,000 blocks of history) only through a flaky public-provider stand-in; the
//! test drives the base fee on anvil directly.

use crate::common::service_config;
use crate::redeem_support;

use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256, utils::parse_ether};
use alloy::providers::ext::AnvilApi;
use peerflow_orchestrator::GasPolicy;
use peerflow_orchestrator::service::start;
use redeem_support::{Redemption, Rpc, redemption_chain_via};

const GWEI: u128 = 1_000_000_000;

async fn quoted_face_value(url: &str, sender: Address) -> U256 {
    let info: serde_json::Value = reqwest::get(format!("{url}/v1/info?sender={sender}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let face = &info["ticketParams"]["faceValue"];
    face.as_str()
        .map(|s| s.parse::<U256>().unwrap())
        .unwrap_or_else(|| panic!("no face value in {info}"))
}

/// Waits until the node quotes `want` (read from the node: `/v1/info` is rate-limited for a sender
/// that does not pay).
async fn wait_for_face<P: alloy::providers::Provider + Clone>(
    node: &peerflow_orchestrator::Node<P>,
    want: U256,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let face = node.face_value();
        if face == want {
            return;
        }
        assert!(Instant::now() < deadline, "face value {face}, want {want}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_face_value_follows_a_gas_spike_up_and_back_down() {
    let Redemption {
        chain,
        d,
        deployer,
        orchestrator: o,
        o: me,
        public_rpc,
    } = redemption_chain_via(Rpc::Public, &[]).await;
    let floor = parse_ether("0.01").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = service_config(&d, dir.path(), floor);
    config.node.policy.win_prob = U256::MAX / U256::from(100u64);
    config.node.job_timeout = Duration::from_secs(1);
    config.reward_calls = false;
    config.max_face_value = parse_ether("1").unwrap();
    let running = start(o.clone(), me, chain.secret_key(1), config)
        .await
        .unwrap();
    deployer.anvil_mine(Some(25), None).await.unwrap();
    wait_for_face(&running.node, floor).await;
    assert_eq!(
        quoted_face_value(&running.url, chain.address(2)).await,
        floor
    );

    // 100 gwei for 30 blocks: redeeming one winner (61,000 gas) costs 0.0061 token at 1:1, 1 % of
    // 0.61: the face value doubles up to 0.01 × 64 = 0.64.
    for _ in 0..30 {
        deployer
            .anvil_set_next_block_base_fee_per_gas(100 * GWEI)
            .await
            .unwrap();
        deployer.anvil_mine(Some(1), None).await.unwrap();
    }
    let spiked = floor * U256::from(64u64);
    wait_for_face(&running.node, spiked).await;
    // A broadcaster asking now is quoted the new face value (the orchestrator kept answering).
    assert_eq!(
        quoted_face_value(&running.url, chain.address(3)).await,
        spiked
    );
    let cost = GasPolicy::default().cost_in_tokens(61_000, 100 * GWEI);
    assert!(cost * U256::from(100u64) <= floor * U256::from(64u64));

    // Gas falls back (empty blocks: -12.5 % each): so does the face value.
    deployer.anvil_mine(Some(80), None).await.unwrap();
    wait_for_face(&running.node, floor).await;
    assert_eq!(
        quoted_face_value(&running.url, chain.address(4)).await,
        floor
    );
    let stats = public_rpc.unwrap().stats();
    assert!(stats.forwarded.contains_key("eth_feeHistory"), "{stats:?}");
    assert!(stats.unavailable + stats.dropped > 0, "{stats:?}");
}
