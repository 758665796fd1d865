//! Issue 16: winners must never be lost by the order in which they are redeemed. With old and new
//! ticket parameters overlapping, the winner of the newer, shorter-lived parameters (a higher nonce)
//! is due first; the older winner (lower nonce), due later, still pays. A winner whose redemption
//! landed without being recorded is recorded as redeemed, not failed. The broker keeps a window of
//! 16 words of 192 nonces per (signer, recipient): winners due together are redeemed oldest nonce
//! first and all pay; one pushed out of the window by a newer winner redeemed earlier is given up
//! (failed, `NonceTooOld`), never retried.

use crate::redeem_support;

use alloy::primitives::{U256, utils::parse_ether};
use alloy::providers::{Provider, ext::AnvilApi};
use peerflow_chain::bindings::{staking::Staking, ticket_broker::TicketBroker};
use peerflow_orchestrator::{
    GasPolicy, ParamsPolicy, PaymentStore, RecipientSecret, Redeemer, SenderFunds, TicketParams,
    Validator, WinningTicketStatus,
};
use peerflow_protocol::{Signature, TicketDomain};
use redeem_support::{Redemption, redemption_chain};

#[tokio::test]
async fn a_later_nonce_redeemed_first_loses_no_winner_and_a_lost_receipt_is_not_a_failure() {
    let Redemption {
        chain,
        d,
        deployer,
        orchestrator,
        o,
        ..
    } = redemption_chain(&[(2, "10")]).await;
    let b = chain.address(2);
    let staking = Staking::new(d.staking, &orchestrator);
    let broker = TicketBroker::new(d.ticket_broker, &orchestrator);
    deployer
        .anvil_mine(Some(d.round_length), None)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = PaymentStore::open(&dir.path().join("payments.sqlite")).unwrap();
    let store = std::sync::Mutex::new(store);
    let domain = TicketDomain {
        chain_id: chain.chain_id(),
        broker: d.ticket_broker,
    };
    let secret = RecipientSecret::new([7; 32]);
    let validator = Validator::new(o, domain, secret.clone());
    let policy = |lifetime_blocks| ParamsPolicy {
        price_per_pixel: U256::from(1u64),
        face_value: parse_ether("1").unwrap(),
        win_prob: U256::MAX,
        lifetime_blocks,
    };
    let block = deployer.get_block_number().await.unwrap();
    let round = staking.currentRound().call().await.unwrap().to::<u64>();
    let funds = SenderFunds {
        available: parse_ether("10").unwrap(),
        unlocking: false,
        signer_authorized: true,
    };
    // Older parameters, long-lived: nonces 0 and 1. Newer, short-lived: nonce 2.
    let old = TicketParams::issue(&secret, &policy(20), o, b, block, round);
    let new = TicketParams::issue(&secret, &policy(3), o, b, block, round);
    let mut wires = Vec::new();
    {
        let mut store = store.lock().unwrap();
        store.save_params(&old).unwrap();
        store.save_params(&new).unwrap();
        for (params, nonce) in [(&old, 0u64), (&old, 1), (&new, 2)] {
            let t = params.ticket(b, nonce);
            let sig = Signature::sign(&chain.secret_key(2), t.hash(&domain)).unwrap();
            let accepted = validator
                .accept(&mut store, &t, &sig, &funds, block)
                .unwrap();
            assert!(accepted.winning);
        }
        for w in store.winning_tickets(WinningTicketStatus::Pending).unwrap() {
            wires.push((w.nonce, w.wire));
        }
    }
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

    // The newer parameters expire first: nonce 2 is redeemed before nonces 0 and 1.
    deployer.anvil_mine(Some(4), None).await.unwrap();
    let first = redeemer.redeem_due(&store).await.unwrap();
    assert_eq!((first.redeemed, first.failed), (1, 0));
    assert!(
        broker
            .isNonceUsed(b, o, U256::from(2))
            .call()
            .await
            .unwrap()
    );

    // Nonce 1 lands on-chain in a transaction whose outcome the store never saw.
    let (_, wire1) = wires.iter().find(|(n, _)| *n == 1).unwrap();
    broker
        .redeemWinningTicket((*wire1).into())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();

    deployer.anvil_mine(Some(20), None).await.unwrap();
    let second = redeemer.redeem_due(&store).await.unwrap();
    assert_eq!(
        (second.redeemed, second.retrying, second.failed),
        (2, 0, 0),
        "the lower nonces pay after a higher one; the unrecorded one is known as paid"
    );
    assert_eq!(
        broker.getSenderInfo(b).call().await.unwrap().deposit,
        parse_ether("7").unwrap(),
        "three winners, each paid once"
    );
    assert_eq!(
        staking.pendingFees(o).call().await.unwrap(),
        parse_ether("3").unwrap()
    );
    let store = store.lock().unwrap();
    assert!(
        store
            .winning_tickets(WinningTicketStatus::Failed)
            .unwrap()
            .is_empty()
    );
    let redeemed = store
        .winning_tickets(WinningTicketStatus::Redeemed)
        .unwrap();
    assert_eq!(redeemed.len(), 3);
    let one = redeemed.iter().find(|w| w.nonce == 1).unwrap();
    assert_eq!(
        one.last_error.as_deref(),
        Some("paid by an earlier transaction (nonce used)")
    );
}

#[tokio::test]
async fn winners_due_together_pay_oldest_first_and_one_pushed_out_of_the_window_is_given_up() {
    // b: its newer winner is due first and pushes the older one out; b2: both due together.
    let Redemption {
        chain,
        d,
        deployer,
        orchestrator,
        o,
        ..
    } = redemption_chain(&[(2, "10"), (3, "10")]).await;
    let (b, b2) = (chain.address(2), chain.address(3));
    let staking = Staking::new(d.staking, &orchestrator);
    let broker = TicketBroker::new(d.ticket_broker, &orchestrator);
    deployer
        .anvil_mine(Some(d.round_length), None)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = PaymentStore::open(&dir.path().join("payments.sqlite")).unwrap();
    let store = std::sync::Mutex::new(store);
    let domain = TicketDomain {
        chain_id: chain.chain_id(),
        broker: d.ticket_broker,
    };
    let secret = RecipientSecret::new([9; 32]);
    let validator = Validator::new(o, domain, secret.clone());
    let policy = |lifetime_blocks| ParamsPolicy {
        price_per_pixel: U256::from(1u64),
        face_value: parse_ether("1").unwrap(),
        win_prob: U256::MAX,
        lifetime_blocks,
    };
    let block = deployer.get_block_number().await.unwrap();
    let round = staking.currentRound().call().await.unwrap().to::<u64>();
    let funds = SenderFunds {
        available: parse_ether("10").unwrap(),
        unlocking: false,
        signer_authorized: true,
    };
    // Word 0 and word 16 share slot 0 of the broker's window.
    let window_apart = 16 * 192;
    let b_old = TicketParams::issue(&secret, &policy(20), o, b, block, round);
    let b_new = TicketParams::issue(&secret, &policy(3), o, b, block, round);
    let b2_params = TicketParams::issue(&secret, &policy(3), o, b2, block, round);
    {
        let mut store = store.lock().unwrap();
        for params in [&b_old, &b_new, &b2_params] {
            store.save_params(params).unwrap();
        }
        let accepted = [
            (&b_old, b, 2, 5),
            (&b_new, b, 2, 5 + window_apart),
            (&b2_params, b2, 3, 5),
            (&b2_params, b2, 3, 5 + window_apart),
        ];
        for (params, sender, key, nonce) in accepted {
            let t = params.ticket(sender, nonce);
            let sig = Signature::sign(&chain.secret_key(key), t.hash(&domain)).unwrap();
            let accepted = validator
                .accept(&mut store, &t, &sig, &funds, block)
                .unwrap();
            assert!(accepted.winning);
        }
    }
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

    // Short-lived parameters expire first: b's newer winner and both of b2's are due.
    deployer.anvil_mine(Some(4), None).await.unwrap();
    let first = redeemer.redeem_due(&store).await.unwrap();
    assert_eq!(
        (first.redeemed, first.failed),
        (3, 0),
        "b2's two winners, a window apart, both pay when sent oldest first"
    );
    assert_eq!(
        broker.getSenderInfo(b2).call().await.unwrap().deposit,
        parse_ether("8").unwrap()
    );
    const TOO_OLD: u8 = 2; // ITicketBroker.NonceState.TooOld
    assert_eq!(
        broker.nonceState(b, o, U256::from(5)).call().await.unwrap(),
        TOO_OLD,
        "b's newer winner took slot 0"
    );

    // b's older winner is due now, but out of the window: given up at once, not retried.
    deployer.anvil_mine(Some(20), None).await.unwrap();
    let second = redeemer.redeem_due(&store).await.unwrap();
    assert_eq!((second.redeemed, second.retrying, second.failed), (0, 0, 1));
    let third = redeemer.redeem_due(&store).await.unwrap();
    assert_eq!(third, Default::default(), "nothing left to try");
    assert_eq!(
        broker.getSenderInfo(b).call().await.unwrap().deposit,
        parse_ether("9").unwrap(),
        "the too-old winner paid nothing"
    );
    assert_eq!(
        staking.pendingFees(o).call().await.unwrap(),
        parse_ether("3").unwrap()
    );
    let store = store.lock().unwrap();
    let failed = store.winning_tickets(WinningTicketStatus::Failed).unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!((failed[0].signer, failed[0].nonce), (b, 5));
    assert_eq!(failed[0].last_error.as_deref(), Some("NonceTooOld"));
    assert!(failed[0].tx_hash.is_some());
    assert!(
        store
            .winning_tickets(WinningTicketStatus::Pending)
            .unwrap()
            .is_empty()
    );
}
