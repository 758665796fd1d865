//! Redemption gas is paid in ETH and tickets in the fee token: the redeemer prices the token
//! before it holds the gas against a winner. On anvil with its base fee driven up and down: a
//! winner is deferred while gas costs more than 1 % of its face value at the token's price (gas
//! that 1:1 pricing would have called cheap), nothing is paid meanwhile, and it is redeemed once
//! gas falls. The orchestrator reads fees and redeems only through a flaky public-provider
//! stand-in over a chain with 50,000 blocks of history.

use crate::redeem_support;

use alloy::primitives::{U256, utils::parse_ether};
use alloy::providers::{Provider, ext::AnvilApi};
use peerflow_chain::bindings::{staking::Staking, ticket_broker::TicketBroker};
use peerflow_orchestrator::{
    GasPolicy, ParamsPolicy, PaymentStore, RecipientSecret, Redeemer, SenderFunds, TicketParams,
    Validator, WinningTicketStatus,
};
use peerflow_protocol::{Signature, TicketDomain};
use redeem_support::{Redemption, Rpc, redemption_chain_via};

const GWEI: u128 = 1_000_000_000;

#[tokio::test]
async fn a_winner_waits_out_a_gas_spike_priced_in_the_fee_token_and_is_redeemed_after() {
    let Redemption {
        chain,
        d,
        deployer,
        orchestrator,
        o,
        public_rpc,
    } = redemption_chain_via(Rpc::Public, &[(2, "10")]).await;
    let b = chain.address(2);
    // Start at the head of a round, so the winner is far from its last valid round (where it
    // would be redeemed whatever the gas).
    let head = deployer.get_block_number().await.unwrap();
    let into_round = (head - d.start_block) % d.round_length;
    deployer
        .anvil_mine(Some(2 * d.round_length - into_round), None)
        .await
        .unwrap();

    // One winning ticket of 1 token.
    let staking = Staking::new(d.staking, &orchestrator);
    let domain = TicketDomain {
        chain_id: chain.chain_id(),
        broker: d.ticket_broker,
    };
    let secret = RecipientSecret::new([5; 32]);
    let policy = ParamsPolicy {
        price_per_pixel: U256::from(1u64),
        face_value: parse_ether("1").unwrap(),
        win_prob: U256::MAX,
        lifetime_blocks: 3,
    };
    let block = deployer.get_block_number().await.unwrap();
    let round = staking.currentRound().call().await.unwrap().to::<u64>();
    let params = TicketParams::issue(&secret, &policy, o, b, block, round);
    let dir = tempfile::tempdir().unwrap();
    let mut store = PaymentStore::open(&dir.path().join("payments.sqlite")).unwrap();
    store.save_params(&params).unwrap();
    let t = params.ticket(b, 0);
    let sig = Signature::sign(&chain.secret_key(2), t.hash(&domain)).unwrap();
    let funds = SenderFunds {
        available: parse_ether("10").unwrap(),
        unlocking: false,
        signer_authorized: true,
    };
    let accepted = Validator::new(o, domain, secret)
        .accept(&mut store, &t, &sig, &funds, block)
        .unwrap();
    assert!(accepted.winning);
    let store = std::sync::Mutex::new(store);

    // The fee token is worth 0.1 ETH.
    let gas = GasPolicy {
        wei_per_token: parse_ether("0.1").unwrap(),
        ..GasPolicy::default()
    };
    let redeemer = Redeemer::new(d.ticket_broker, &orchestrator, gas)
        .await
        .unwrap();
    let broker = TicketBroker::new(d.ticket_broker, &orchestrator);
    let deposit = || async { broker.getSenderInfo(b).call().await.unwrap().deposit };
    let before = deposit().await;

    // A spike: 100 gwei. A batch of one (61,000 gas) costs 0.0061 ETH, 0.061 tokens: 6.1 % of
    // the ticket. Priced 1:1 it would be 0.61 %, and redeemed.
    deployer
        .anvil_set_next_block_base_fee_per_gas(100 * GWEI)
        .await
        .unwrap();
    deployer.anvil_mine(Some(4), None).await.unwrap();
    let spiked = deployer.get_gas_price().await.unwrap();
    assert!(spiked >= 50 * GWEI, "the spike took: {spiked} wei");
    assert!(
        GasPolicy::default().worth_it(1, parse_ether("1").unwrap(), spiked),
        "1:1 pricing would have redeemed at {spiked} wei"
    );
    let report = redeemer.redeem_due(&store).await.unwrap();
    assert_eq!((report.redeemed, report.deferred), (0, 1), "{report:?}");
    assert_eq!(deposit().await, before, "nothing paid during the spike");
    assert_eq!(
        store
            .lock()
            .unwrap()
            .winning_tickets(WinningTicketStatus::Pending)
            .unwrap()
            .len(),
        1,
        "the winner waits in the queue"
    );

    // Gas falls back to 1 gwei: the winner is redeemed, the ticket's face value paid.
    deployer
        .anvil_set_next_block_base_fee_per_gas(GWEI)
        .await
        .unwrap();
    deployer.anvil_mine(Some(1), None).await.unwrap();
    let calm = deployer.get_gas_price().await.unwrap();
    assert!(calm < 10 * GWEI, "gas fell: {calm} wei");
    let report = redeemer.redeem_due(&store).await.unwrap();
    assert_eq!((report.redeemed, report.deferred), (1, 0), "{report:?}");
    assert_eq!(before - deposit().await, parse_ether("1").unwrap());
    assert_eq!(
        staking.currentRound().call().await.unwrap().to::<u64>(),
        round,
        "all within the ticket's first round: deferral, not the last-chance rule"
    );
    let stats = public_rpc.unwrap().stats();
    assert!(stats.forwarded.contains_key("eth_feeHistory"), "{stats:?}");
}
