//! A redemption counts only once it is deep enough: a 3-block reorg that takes the redemption out
//! puts its winners back in the queue, they are redeemed again, and the orchestrator is paid for
//! each exactly once. The orchestrator reaches the chain (50,000 blocks of history) only through
//! a flaky public-provider stand-in; the test reorgs anvil directly.

use crate::redeem_support;

use alloy::primitives::{U256, utils::parse_ether};
use alloy::providers::ext::AnvilApi;
use alloy::rpc::types::anvil::ReorgOptions;
use peerflow_chain::bindings::{staking::Staking, ticket_broker::TicketBroker};
use peerflow_orchestrator::{GasPolicy, PaymentStore, Redeemer, WinningTicketStatus};
use redeem_support::{Redemption, Rpc, queue_winners, redemption_chain_via};

const CONFIRMATIONS: u64 = 3;

#[tokio::test]
async fn a_reorged_redemption_through_a_public_provider_is_sent_again_and_paid_once() {
    let r = redemption_chain_via(Rpc::Public, &[(2, "10")]).await;
    let Redemption {
        chain,
        d,
        deployer,
        orchestrator,
        o,
        ..
    } = &r;
    let (o, d) = (*o, d.clone());
    let b = chain.address(2);
    let staking = Staking::new(d.staking, orchestrator);
    let broker = TicketBroker::new(d.ticket_broker, orchestrator);
    deployer
        .anvil_mine(Some(d.round_length), None)
        .await
        .unwrap();

    let sends = || {
        let stats = r.public_rpc.as_ref().unwrap().stats();
        stats
            .forwarded
            .get("eth_sendRawTransaction")
            .copied()
            .unwrap_or(0)
    };
    let sends_before = sends();
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Mutex::new(PaymentStore::open(&dir.path().join("p.sqlite")).unwrap());
    queue_winners(&r, &store, 2, 0..3).await;
    let count = |status| store.lock().unwrap().winning_tickets(status).unwrap().len();
    let redeemer = Redeemer::new(
        d.ticket_broker,
        orchestrator,
        GasPolicy {
            max_cost_ppm: 1_000_000,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .with_confirmations(CONFIRMATIONS);
    deployer.anvil_mine(Some(6), None).await.unwrap();

    // Mined, but not deep enough: nothing counts yet.
    let sent = redeemer.redeem_due(&store).await.unwrap();
    assert_eq!((sent.submitted, sent.redeemed), (3, 0));
    assert_eq!(count(WinningTicketStatus::Submitted), 3);
    assert_eq!(
        staking.pendingFees(o).call().await.unwrap(),
        parse_ether("3").unwrap()
    );
    deployer.anvil_mine(Some(1), None).await.unwrap();
    let waiting = redeemer.redeem_due(&store).await.unwrap();
    assert_eq!((waiting.submitted, waiting.redeemed), (3, 0));

    // A 3-block reorg replaces the redemption's block and the two after it with empty ones.
    deployer
        .anvil_reorg(ReorgOptions {
            depth: 3,
            tx_block_pairs: vec![],
        })
        .await
        .unwrap();
    assert_eq!(
        staking.pendingFees(o).call().await.unwrap(),
        U256::ZERO,
        "the reorg took the payment out"
    );
    let again = redeemer.redeem_due(&store).await.unwrap();
    assert_eq!(again.reorged, 3, "{again:?}");
    assert_eq!(again.submitted, 3, "sent again in the same pass: {again:?}");

    deployer
        .anvil_mine(Some(CONFIRMATIONS), None)
        .await
        .unwrap();
    let done = redeemer.redeem_due(&store).await.unwrap();
    assert_eq!(done.redeemed, 3, "{done:?}");
    assert_eq!(count(WinningTicketStatus::Redeemed), 3);
    assert_eq!(count(WinningTicketStatus::Pending), 0);
    // Paid once each: 3 tokens of fees, 3 tokens off the deposit.
    assert_eq!(
        staking.pendingFees(o).call().await.unwrap(),
        parse_ether("3").unwrap()
    );
    assert_eq!(
        broker.getSenderInfo(b).call().await.unwrap().deposit,
        parse_ether("7").unwrap()
    );
    let idle = redeemer.redeem_due(&store).await.unwrap();
    assert_eq!(idle, Default::default());
    // Both redemptions (the first, and the one after the reorg) went through the public
    // provider, and its faults were met.
    assert!(sends() >= sends_before + 2, "{sends_before} sends before");
    let stats = r.public_rpc.as_ref().unwrap().stats();
    assert!(stats.unavailable + stats.dropped > 0, "{stats:?}");
}
