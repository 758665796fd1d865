//! A redemption counts only once it is deep enough: a 3-block reorg that takes the redemption out
//! puts its winners back in the queue, they are redeemed again, and the orchestrator is paid for
//! each exactly once.

mod redeem_support;

use alloy::primitives::{U256, utils::parse_ether};
use alloy::providers::{Provider, ext::AnvilApi};
use alloy::rpc::types::anvil::ReorgOptions;
use peerflow_chain::bindings::{staking::Staking, ticket_broker::TicketBroker};
use peerflow_orchestrator::{
    GasPolicy, ParamsPolicy, PaymentStore, RecipientSecret, Redeemer, SenderFunds, TicketParams,
    Validator, WinningTicketStatus,
};
use peerflow_protocol::{Signature, TicketDomain};
use redeem_support::{Redemption, redemption_chain};

const CONFIRMATIONS: u64 = 3;

#[tokio::test]
async fn a_reorged_redemption_is_sent_again_and_paid_once() {
    let Redemption {
        chain,
        d,
        deployer,
        orchestrator,
        o,
    } = redemption_chain(&[(2, "10")]).await;
    let b = chain.address(2);
    let staking = Staking::new(d.staking, &orchestrator);
    let broker = TicketBroker::new(d.ticket_broker, &orchestrator);
    deployer
        .anvil_mine(Some(d.round_length), None)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Mutex::new(PaymentStore::open(&dir.path().join("p.sqlite")).unwrap());
    let domain = TicketDomain {
        chain_id: chain.chain_id(),
        broker: d.ticket_broker,
    };
    let secret = RecipientSecret::new([7; 32]);
    let validator = Validator::new(o, domain, secret.clone());
    let policy = ParamsPolicy {
        price_per_pixel: U256::from(1u64),
        face_value: parse_ether("1").unwrap(),
        win_prob: U256::MAX,
        lifetime_blocks: 5,
    };
    let block = deployer.get_block_number().await.unwrap();
    let round = staking.currentRound().call().await.unwrap().to::<u64>();
    let funds = SenderFunds {
        available: parse_ether("10").unwrap(),
        unlocking: false,
        signer_authorized: true,
    };
    {
        let mut s = store.lock().unwrap();
        let params = TicketParams::issue(&secret, &policy, o, b, block, round);
        s.save_params(&params).unwrap();
        for nonce in 0..3 {
            let t = params.ticket(b, nonce);
            let sig = Signature::sign(&chain.secret_key(2), t.hash(&domain)).unwrap();
            assert!(
                validator
                    .accept(&mut s, &t, &sig, &funds, block)
                    .unwrap()
                    .winning
            );
        }
    }
    let count = |status| store.lock().unwrap().winning_tickets(status).unwrap().len();
    let redeemer = Redeemer::new(
        d.ticket_broker,
        &orchestrator,
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
}
