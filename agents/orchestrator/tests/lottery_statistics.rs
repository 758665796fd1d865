//! With a low win probability, what the orchestrator earns on-chain over many tickets stays within
//! the statistical bound of the expected value it credited.

use std::sync::Mutex;

use alloy::primitives::{U256, utils::parse_ether};
use alloy::providers::{Provider, ProviderBuilder, ext::AnvilApi};
use peerflow_chain::actions::{fund_sender, give, register_orchestrator};
use peerflow_chain::bindings::staking::Staking;
use peerflow_chain::{DevChain, SuiteParams, deploy_suite};
use peerflow_orchestrator::{
    GasPolicy, ParamsPolicy, PaymentStore, RecipientSecret, Redeemer, SenderFunds, TicketParams,
    Validator, WinningTicketStatus,
};
use peerflow_protocol::{Signature, Ticket, TicketDomain};

const TICKETS: u64 = 400;

#[tokio::test]
async fn on_chain_earnings_stay_within_four_sigma_of_the_expected_value() {
    let chain = DevChain::spawn().unwrap();
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
    give(&deployer, &d, o, parse_ether("100").unwrap())
        .await
        .unwrap();
    give(&deployer, &d, b, parse_ether("1000").unwrap())
        .await
        .unwrap();
    let orchestrator = provider(1);
    register_orchestrator(&orchestrator, &d, o, parse_ether("100").unwrap(), 0, 0)
        .await
        .unwrap();
    fund_sender(&provider(2), &d, parse_ether("1000").unwrap(), U256::ZERO)
        .await
        .unwrap();
    deployer
        .anvil_mine(Some(d.round_length), None)
        .await
        .unwrap();

    let face = parse_ether("1").unwrap();
    let policy = ParamsPolicy {
        price_per_pixel: U256::from(1u64),
        face_value: face,
        win_prob: U256::MAX / U256::from(4u64),
        lifetime_blocks: 5,
    };
    let domain = TicketDomain {
        chain_id: chain.chain_id(),
        broker: d.ticket_broker,
    };
    let secret = RecipientSecret::random();
    let validator = Validator::new(o, domain, secret.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut store = PaymentStore::open(&dir.path().join("payments.sqlite")).unwrap();
    let block = deployer.get_block_number().await.unwrap();
    let round = Staking::new(d.staking, &deployer)
        .currentRound()
        .call()
        .await
        .unwrap()
        .to::<u64>();
    let params = TicketParams::issue(&secret, &policy, o, b, block, round);
    store.save_params(&params).unwrap();
    let funds = SenderFunds {
        available: parse_ether("1000").unwrap(),
        unlocking: false,
        signer_authorized: true,
    };
    let mut credited = U256::ZERO;
    for nonce in 0..TICKETS {
        let t = Ticket {
            recipient: o,
            sender: b,
            signer: b,
            faceValue: face,
            winProb: params.win_prob,
            senderNonce: U256::from(nonce),
            recipientRandHash: params.recipient_rand_hash,
            creationRound: U256::from(round),
        };
        let sig = Signature::sign(&chain.secret_key(2), t.hash(&domain)).unwrap();
        credited += validator
            .accept(&mut store, &t, &sig, &funds, block)
            .unwrap()
            .credited;
    }
    let winners = store
        .winning_tickets(WinningTicketStatus::Pending)
        .unwrap()
        .len() as u64;

    deployer.anvil_mine(Some(6), None).await.unwrap();
    let store = Mutex::new(store);
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
    let report = redeemer.redeem_due(&store).await.unwrap();
    assert_eq!(report.redeemed as u64, winners, "every winner redeemed");

    let earned = Staking::new(d.staking, &orchestrator)
        .pendingFees(o)
        .call()
        .await
        .unwrap();
    assert_eq!(
        earned,
        face * U256::from(winners),
        "on-chain earnings = winners × face value"
    );
    // Binomial(400, 1/4): mean 100, σ = √75 ≈ 8.66 tickets; 4σ fails about once in 16,000 runs.
    let expected = credited.to::<u128>() as f64 / 1e18;
    let sigma = (TICKETS as f64 * 0.25 * 0.75).sqrt();
    let got = winners as f64;
    assert!(
        (expected - 100.0).abs() < 1e-6,
        "credited the expected value of 400 tickets: {expected}"
    );
    assert!(
        (got - expected).abs() <= 4.0 * sigma,
        "{winners} winners vs {expected} expected (σ {sigma:.2})"
    );
}
