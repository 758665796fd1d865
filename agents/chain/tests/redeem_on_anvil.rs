//! A ticket signed in Rust is hashed identically by the contract and paid on-chain.

use alloy::primitives::{B256, U256, keccak256, utils::parse_ether};
use alloy::providers::{Provider, ProviderBuilder, ext::AnvilApi};
use peerflow_chain::actions::{fund_sender, give, register_orchestrator};
use peerflow_chain::bindings::{staking::Staking, ticket_broker::TicketBroker};
use peerflow_chain::deploy::confirm;
use peerflow_chain::{DevChain, SuiteParams, deploy_suite};
use peerflow_protocol::{Signature, SignedTicket, Ticket, TicketDomain, recipient_rand_hash};

#[tokio::test]
async fn rust_signed_ticket_is_redeemed_and_credited_on_chain() {
    let chain = DevChain::spawn().expect("anvil");
    let url = chain.endpoint().parse().unwrap();
    let deployer = ProviderBuilder::new()
        .wallet(chain.signer(0))
        .connect_http(url);
    let url = chain.endpoint().parse().unwrap();
    let orchestrator = ProviderBuilder::new()
        .wallet(chain.signer(1))
        .connect_http(url);
    let url = chain.endpoint().parse().unwrap();
    let broadcaster = ProviderBuilder::new()
        .wallet(chain.signer(2))
        .connect_http(url);
    let (o, b) = (chain.address(1), chain.address(2));

    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .expect("deploy");
    for to in [o, b] {
        give(&deployer, &d, to, parse_ether("100").unwrap())
            .await
            .unwrap();
    }
    register_orchestrator(
        &orchestrator,
        &d,
        o,
        parse_ether("50").unwrap(),
        100_000,
        500_000,
    )
    .await
    .unwrap();
    let o_staking = Staking::new(d.staking, &orchestrator);
    fund_sender(&broadcaster, &d, parse_ether("10").unwrap(), U256::ZERO)
        .await
        .unwrap();
    deployer
        .anvil_mine(Some(d.round_length), None)
        .await
        .unwrap();

    let rand = B256::repeat_byte(0x5a);
    let ticket = Ticket {
        recipient: o,
        sender: b,
        signer: b,
        faceValue: parse_ether("1").unwrap(),
        winProb: U256::MAX,
        senderNonce: U256::ZERO,
        recipientRandHash: recipient_rand_hash(rand),
        creationRound: o_staking.currentRound().call().await.unwrap(),
    };
    let domain = TicketDomain {
        chain_id: chain.chain_id(),
        broker: d.ticket_broker,
    };
    let hash = ticket.hash(&domain);
    let on_chain = TicketBroker::new(d.ticket_broker, &orchestrator);
    assert_eq!(
        on_chain
            .hashTicket(ticket.clone().into())
            .call()
            .await
            .unwrap(),
        hash,
        "EIP-712 hash parity"
    );
    assert_ne!(hash, keccak256(B256::ZERO));

    let signature = Signature::sign(&chain.secret_key(2), hash).unwrap();
    let wire = SignedTicket::pack(&ticket, rand, &signature).unwrap();
    let receipt = on_chain
        .redeemWinningTicket(wire.into())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    confirm(receipt).unwrap();

    let info = on_chain.getSenderInfo(b).call().await.unwrap();
    assert_eq!(info.deposit, parse_ether("9").unwrap());
    // The orchestrator is the only staker of its pool: its cut and the pool's share are both its own.
    assert_eq!(
        o_staking.pendingFees(o).call().await.unwrap(),
        parse_ether("1").unwrap()
    );
    assert_eq!(orchestrator.get_chain_id().await.unwrap(), chain.chain_id());
}
