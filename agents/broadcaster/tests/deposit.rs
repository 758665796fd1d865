//! The broadcaster refills its deposit from its wallet when it runs low, and only then.

use alloy::primitives::{U256, utils::parse_ether};
use alloy::providers::ProviderBuilder;
use peerflow_broadcaster::network::deposit::{TopUp, top_up_once};
use peerflow_chain::actions::{fund_sender, give};
use peerflow_chain::bindings::{ticket_broker::TicketBroker, work_token::WorkToken};
use peerflow_chain::{DevChain, SuiteParams, deploy_suite};

#[tokio::test]
async fn low_deposit_is_topped_up_to_the_target() {
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
    let me = chain.address(2);
    let wallet = provider(2);
    give(&deployer, &d, me, parse_ether("100").unwrap())
        .await
        .unwrap();
    fund_sender(&wallet, &d, parse_ether("1").unwrap(), U256::ZERO)
        .await
        .unwrap();
    let policy = TopUp {
        minimum: parse_ether("5").unwrap(),
        target: parse_ether("20").unwrap(),
    };

    let added = top_up_once(&wallet, d.ticket_broker, d.work_token, me, policy)
        .await
        .unwrap();
    assert_eq!(added, Some(parse_ether("19").unwrap()));
    let broker = TicketBroker::new(d.ticket_broker, &wallet);
    assert_eq!(
        broker.getSenderInfo(me).call().await.unwrap().deposit,
        parse_ether("20").unwrap()
    );
    assert_eq!(
        WorkToken::new(d.work_token, &wallet)
            .balanceOf(me)
            .call()
            .await
            .unwrap(),
        parse_ether("80").unwrap()
    );

    assert_eq!(
        top_up_once(&wallet, d.ticket_broker, d.work_token, me, policy)
            .await
            .unwrap(),
        None,
        "enough already"
    );
}
