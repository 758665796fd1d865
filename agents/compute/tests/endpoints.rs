//! `announce_endpoint`, `endpoints` and `providers_of` against the suite on anvil: slot holders
//! announce where their API is (cooperative jobs, issue 21), the latest announcement of each wins,
//! and nobody else can announce.

use alloy::primitives::{U256, Uint, utils::parse_ether};
use alloy::providers::DynProvider;
use peerflow_chain::actions::give;
use peerflow_chain::bindings::job_escrow::IJobEscrow;
use peerflow_chain::rpc::RpcOptions;
use peerflow_chain::{Deployment, DevChain, SuiteParams, deploy_suite};
use peerflow_compute::escrow::{Escrow, JobParams};

const BUYER: usize = 1;
const ARBITER: usize = 2;
const P1: usize = 3;
const P2: usize = 4;
const STRANGER: usize = 5;

/// A wallet with the process-wide nonces (as the agents use): a refused call leaves no nonce gap.
fn wallet(chain: &DevChain, i: usize) -> DynProvider {
    RpcOptions::new([chain.endpoint()])
        .wallet_provider(chain.signer(i))
        .unwrap()
}

fn escrow(chain: &DevChain, d: &Deployment, i: usize) -> Escrow<DynProvider> {
    Escrow::new(d.job_escrow, d.work_token, wallet(chain, i)).scanning_from(d.scan_from())
}

async fn create(
    buyer: &Escrow<DynProvider>,
    arbiter: alloy::primitives::Address,
    replicas: u8,
) -> u64 {
    let (_, now) = buyer.chain_time().await.unwrap();
    let params = JobParams {
        specHash: alloy::primitives::B256::repeat_byte(7),
        arbiter,
        resources: IJobEscrow::Resources {
            milliCpus: 1000,
            memoryMb: 64,
            diskMb: 100,
            gpus: 0,
        },
        mode: 0,
        price: Uint::from(10u128.pow(18)),
        collateral: Uint::from(10u128.pow(17)),
        replicas,
        checkpoints: 0,
        minCompleted: 0,
        bidDeadline: 0,
        revealDeadline: 0,
        deadline: now + 3600,
        reviewPeriod: 0,
    };
    buyer
        .create(params, "http://store/v1/blobs/spec")
        .await
        .unwrap()
}

#[tokio::test]
async fn slot_holders_announce_and_the_latest_wins() {
    let chain = DevChain::spawn().unwrap();
    let deployer = wallet(&chain, 0);
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    for i in [BUYER, P1, P2, STRANGER] {
        give(&deployer, &d, chain.address(i), parse_ether("100").unwrap())
            .await
            .unwrap();
    }
    let buyer = escrow(&chain, &d, BUYER);
    let (p1, p2, stranger) = (
        escrow(&chain, &d, P1),
        escrow(&chain, &d, P2),
        escrow(&chain, &d, STRANGER),
    );
    let job = create(&buyer, chain.address(ARBITER), 2).await;
    let other = create(&buyer, chain.address(ARBITER), 1).await;
    let collateral = U256::from(10u128.pow(17));

    assert!(buyer.endpoints(job).await.unwrap().is_empty());
    assert!(buyer.providers_of(job).await.unwrap().is_empty());
    // Nobody holds a slot yet.
    assert!(p1.announce_endpoint(job, "http://p1").await.is_err());

    p2.accept(job, collateral).await.unwrap();
    p1.accept(job, collateral).await.unwrap();
    assert_eq!(
        buyer.providers_of(job).await.unwrap(),
        vec![chain.address(P2), chain.address(P1)],
        "node order is slot order"
    );

    let receipt = p1.announce_endpoint(job, "http://p1:7000").await.unwrap();
    assert!(receipt.status());
    p2.announce_endpoint(job, "http://p2:7000").await.unwrap();
    p1.announce_endpoint(job, "http://p1:7001").await.unwrap();
    assert_eq!(
        buyer.endpoints(job).await.unwrap(),
        vec![
            (chain.address(P1), "http://p1:7001".to_owned()),
            (chain.address(P2), "http://p2:7000".to_owned()),
        ]
    );

    // Refused: a stranger, the buyer, an empty or overlong URI, a job the caller holds no slot in,
    // an unknown job.
    assert!(
        stranger
            .announce_endpoint(job, "http://evil")
            .await
            .is_err()
    );
    assert!(buyer.announce_endpoint(job, "http://evil").await.is_err());
    assert!(p1.announce_endpoint(job, "").await.is_err());
    assert!(p1.announce_endpoint(job, &"a".repeat(257)).await.is_err());
    p1.announce_endpoint(job, &"a".repeat(256)).await.unwrap();
    assert!(p2.announce_endpoint(other, "http://p2").await.is_err());
    assert!(p1.announce_endpoint(9999, "http://p1").await.is_err());

    // Announcements are per job.
    assert!(buyer.endpoints(other).await.unwrap().is_empty());
    let endpoints = buyer.endpoints(job).await.unwrap();
    assert_eq!(endpoints.len(), 2);
    assert_eq!(endpoints[0].1, "a".repeat(256));
}
