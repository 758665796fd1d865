//! One key, many senders: the redeemer, `reward()`, an operator's command and a wallet outside the
//! process all sign with the operator's key. Every send through a role's provider goes through,
//! exactly once, whatever the others did; a call refused at its gas estimate leaves no gap that
//! holds the next one back.

use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use peerflow_chain::bindings::work_token::WorkToken;
use peerflow_chain::deploy::execute;
use peerflow_chain::nonce;
use peerflow_chain::rpc::RpcOptions;
use peerflow_chain::{DevChain, SuiteParams, deploy_suite};

const KEY: usize = 0;

fn role(chain: &DevChain) -> DynProvider {
    RpcOptions::new([chain.endpoint()])
        .wallet_provider(chain.signer(KEY))
        .unwrap()
}

/// Another process with the same key, reading the account's nonce before each send (a fresh
/// `peerflow stake …`, a wallet).
fn outsider(chain: &DevChain) -> DynProvider {
    ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(chain.signer(KEY))
        .connect_http(chain.endpoint().parse().unwrap())
        .erased()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_send_of_one_key_goes_through_once() {
    let chain = DevChain::spawn().unwrap();
    let d = deploy_suite(&role(&chain), &SuiteParams::devnet(chain.address(KEY)))
        .await
        .unwrap();
    let to = Address::repeat_byte(0x77);
    let (redeemer, rewarder, wallet) = (role(&chain), role(&chain), outsider(&chain));
    let token = WorkToken::new(d.work_token, &redeemer);
    let start = redeemer
        .get_transaction_count(chain.address(KEY))
        .await
        .unwrap();

    // Two providers of the role take turns (alloy's per-provider nonce cache makes the second
    // turn of each "nonce too low"), ten sends of one of them at once, and the outside wallet
    // between them.
    let mut sent = 0u64;
    for round in 0..3 {
        for p in [&redeemer, &rewarder] {
            execute(WorkToken::new(d.work_token, p).transfer(to, U256::from(1u64)))
                .await
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            sent += 1;
        }
        let burst = (0..10).map(|_| async {
            let call = token.transfer(to, U256::from(1u64));
            tokio::time::timeout(Duration::from_secs(30), execute(call))
                .await
                .expect("a send held back by a nonce gap")
        });
        for r in futures_util::future::join_all(burst).await {
            r.unwrap();
        }
        sent += 10;
        WorkToken::new(d.work_token, &wallet)
            .transfer(to, U256::from(1u64))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        sent += 1;
    }
    assert_eq!(token.balanceOf(to).call().await.unwrap(), U256::from(sent));
    assert_eq!(
        redeemer
            .get_transaction_count(chain.address(KEY))
            .await
            .unwrap(),
        start + sent,
        "one transaction per send, none twice"
    );
}

#[tokio::test]
async fn a_call_refused_at_its_estimate_holds_nothing_back() {
    let chain = DevChain::spawn().unwrap();
    let p = role(&chain);
    let d = deploy_suite(&p, &SuiteParams::devnet(chain.address(KEY)))
        .await
        .unwrap();
    let token = WorkToken::new(d.work_token, &p);
    let all = token.balanceOf(chain.address(KEY)).call().await.unwrap();
    // More than the account holds: the estimate reverts after the nonce was taken.
    let refused = nonce::send(&token.transfer(Address::repeat_byte(1), all + U256::from(1u64)))
        .await
        .unwrap_err();
    assert!(!nonce::refused_for_nonce(&refused), "{refused}");
    let next = tokio::time::timeout(
        Duration::from_secs(20),
        execute(token.transfer(Address::repeat_byte(1), U256::from(1u64))),
    )
    .await
    .expect("the next send waits behind a nonce that was never sent");
    next.unwrap();
}
