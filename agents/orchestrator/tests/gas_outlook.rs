//! Ticket face value follows the gas outlook: a base fee 100x higher for 30 blocks raises the face
//! value quoted in `/v1/info` so that redeeming a winner stays within 1 % of it, the orchestrator
//! keeps answering throughout, and the face value comes back down when gas does.

use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256, utils::parse_ether};
use alloy::providers::ext::AnvilApi;
use peerflow_chain::actions::{give, register_orchestrator};
use peerflow_chain::rpc::RpcOptions;
use peerflow_chain::{DevChain, SuiteParams, deploy_suite};
use peerflow_orchestrator::service::{ServiceConfig, start};
use peerflow_orchestrator::{GasPolicy, NodeConfig, ParamsPolicy};

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
    let chain = DevChain::spawn().unwrap();
    let wallet = |i: usize| {
        RpcOptions::new([chain.endpoint()])
            .wallet_provider(chain.signer(i))
            .unwrap()
    };
    let deployer = wallet(0);
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    let me = chain.address(1);
    give(&deployer, &d, me, parse_ether("100").unwrap())
        .await
        .unwrap();
    let o = wallet(1);
    register_orchestrator(&o, &d, me, parse_ether("100").unwrap(), 0, 0)
        .await
        .unwrap();
    let floor = parse_ether("0.01").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        deployment: d.clone(),
        node: NodeConfig {
            policy: ParamsPolicy {
                price_per_pixel: U256::from(1u64),
                face_value: floor,
                win_prob: U256::MAX / U256::from(100u64),
                lifetime_blocks: 10,
            },
            codecs: vec!["h264".into()],
            transcoder_token: "t".into(),
            refresh_margin_blocks: 2,
            job_timeout: Duration::from_secs(1),
            capacity_pixels_per_second: 1,
        },
        max_segment_bytes: 1 << 20,
        redeem_every: Duration::from_millis(200),
        gas: GasPolicy::default(),
        confirmations: 1,
        reward_calls: false,
        max_face_value: parse_ether("1").unwrap(),
    };
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
}
