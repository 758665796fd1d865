//! Winning tickets accepted before a restart are redeemed on-chain after it; a ticket the sender
//! cannot cover stays queued with the reason and is paid once the sender tops up.

use crate::redeem_support;

use alloy::primitives::{U256, utils::parse_ether};
use alloy::providers::{Provider, ext::AnvilApi};
use peerflow_chain::actions::fund_sender;
use peerflow_chain::bindings::{staking::Staking, ticket_broker::TicketBroker};
use peerflow_orchestrator::{
    GasPolicy, ParamsPolicy, PaymentStore, RecipientSecret, Redeemer, SenderFunds, TicketParams,
    Validator, WinningTicketStatus,
};
use peerflow_protocol::{Signature, TicketDomain};
use redeem_support::{Redemption, redemption_chain, wallet};

#[tokio::test]
async fn winners_survive_a_restart_and_are_redeemed_in_nonce_order() {
    let Redemption {
        chain,
        d,
        deployer,
        orchestrator,
        o,
        ..
    } = redemption_chain(&[(2, "10"), (3, "0.5")]).await;
    let (b1, b2) = (chain.address(2), chain.address(3));
    let staking = Staking::new(d.staking, &orchestrator);
    deployer
        .anvil_mine(Some(d.round_length), None)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("payments.sqlite");
    let domain = TicketDomain {
        chain_id: chain.chain_id(),
        broker: d.ticket_broker,
    };
    let secret = RecipientSecret::new([9; 32]);
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
        let mut store = PaymentStore::open(&db).unwrap();
        for (key_index, sender, nonces) in [(2, b1, 0..3u64), (3, b2, 0..1)] {
            let params = TicketParams::issue(&secret, &policy, o, sender, block, round);
            store.save_params(&params).unwrap();
            for nonce in nonces {
                let t = params.ticket(sender, nonce);
                let sig = Signature::sign(&chain.secret_key(key_index), t.hash(&domain)).unwrap();
                assert!(
                    validator
                        .accept(&mut store, &t, &sig, &funds, block)
                        .unwrap()
                        .winning
                );
            }
        }
        let queued = store.winning_tickets(WinningTicketStatus::Pending).unwrap();
        assert_eq!(queued.len(), 4);
    } // the orchestrator stops here

    let store = std::sync::Mutex::new(PaymentStore::open(&db).unwrap());
    let redeemer = Redeemer::new(
        d.ticket_broker,
        &orchestrator,
        GasPolicy {
            max_cost_ppm: 1_000_000,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let early = redeemer.redeem_due(&store).await.unwrap();
    assert_eq!(
        early.redeemed + early.retrying + early.failed,
        0,
        "nothing revealed before the params expire"
    );

    deployer.anvil_mine(Some(6), None).await.unwrap();
    let report = redeemer.redeem_due(&store).await.unwrap();
    assert_eq!((report.redeemed, report.retrying, report.failed), (3, 1, 0));
    let broker = TicketBroker::new(d.ticket_broker, &orchestrator);
    assert_eq!(
        broker.getSenderInfo(b1).call().await.unwrap().deposit,
        parse_ether("7").unwrap()
    );
    assert_eq!(
        staking.pendingFees(o).call().await.unwrap(),
        parse_ether("3").unwrap()
    );
    let pending = store
        .lock()
        .unwrap()
        .winning_tickets(WinningTicketStatus::Pending)
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].sender, pending[0].last_error.as_deref()),
        (b2, Some("InsufficientFunds"))
    );

    fund_sender(
        &wallet(&chain, 3),
        &d,
        parse_ether("1").unwrap(),
        U256::ZERO,
    )
    .await
    .unwrap();
    let report = redeemer.redeem_due(&store).await.unwrap();
    assert_eq!(report.redeemed, 1);
    assert_eq!(
        staking.pendingFees(o).call().await.unwrap(),
        parse_ether("4").unwrap()
    );
    assert_eq!(
        store
            .lock()
            .unwrap()
            .winning_tickets(WinningTicketStatus::Redeemed)
            .unwrap()
            .len(),
        4
    );
}
