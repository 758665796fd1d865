//! Issue 16: winners must never be lost by the order in which they are redeemed. With old and new
//! ticket parameters overlapping, the winner of the newer, shorter-lived parameters (a higher nonce)
//! is due first; the older winner (lower nonce), due later, still pays. A winner whose redemption
//! landed without being recorded is recorded as redeemed, not failed.

use alloy::primitives::{Address, U256, utils::parse_ether};
use alloy::providers::{Provider, ProviderBuilder, ext::AnvilApi};
use peerflow_chain::actions::{fund_sender, give, register_orchestrator};
use peerflow_chain::bindings::{staking::Staking, ticket_broker::TicketBroker};
use peerflow_chain::{DevChain, SuiteParams, deploy_suite};
use peerflow_orchestrator::{
    GasPolicy, ParamsPolicy, PaymentStore, RecipientSecret, Redeemer, SenderFunds, TicketParams,
    Validator, WinningTicketStatus,
};
use peerflow_protocol::{Signature, Ticket, TicketDomain};

#[tokio::test]
async fn a_later_nonce_redeemed_first_loses_no_winner_and_a_lost_receipt_is_not_a_failure() {
    let chain = DevChain::spawn().expect("anvil");
    let provider = |i: usize| {
        ProviderBuilder::new()
            .wallet(chain.signer(i))
            .connect_http(chain.endpoint().parse().unwrap())
    };
    let deployer = provider(0);
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    let (o, b) = (chain.address(1), chain.address(2));
    for to in [o, b] {
        give(&deployer, &d, to, parse_ether("100").unwrap())
            .await
            .unwrap();
    }
    let orchestrator = provider(1);
    register_orchestrator(&orchestrator, &d, o, parse_ether("50").unwrap(), 0, 0)
        .await
        .unwrap();
    let staking = Staking::new(d.staking, &orchestrator);
    let broker = TicketBroker::new(d.ticket_broker, &orchestrator);
    fund_sender(&provider(2), &d, parse_ether("10").unwrap(), U256::ZERO)
        .await
        .unwrap();
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
            let t = ticket(params, b, nonce);
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

fn ticket(params: &TicketParams, sender: Address, nonce: u64) -> Ticket {
    Ticket {
        recipient: params.recipient,
        sender,
        signer: sender,
        faceValue: params.face_value,
        winProb: params.win_prob,
        senderNonce: U256::from(nonce),
        recipientRandHash: params.recipient_rand_hash,
        creationRound: U256::from(params.creation_round),
    }
}
