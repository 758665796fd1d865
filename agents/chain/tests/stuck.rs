//! A transaction priced before gas rose is not mined: the sender replaces it (same nonce, higher
//! fees), or sends it again if the pool dropped it, until it is mined, once; above the operator's
//! fee ceiling it gives up instead and pays nothing more. A transaction a reorg took out before it
//! was deep enough is sent again and counts once.

use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider, ext::AnvilApi};
use peerflow_chain::bindings::work_token::WorkToken;
use peerflow_chain::deploy::execute;
use peerflow_chain::rpc::RpcOptions;
use peerflow_chain::send::{SendPolicy, set_policy, until_mined};
use peerflow_chain::{ChainError, DevChain, SuiteParams, deploy_suite};

/// Mines a block every 200 ms at a base fee of `wei` per gas (a spike that holds), until aborted.
fn spike(chain: &DevChain, wei: u128) -> tokio::task::JoinHandle<()> {
    let miner: DynProvider = RpcOptions::new([chain.endpoint()]).provider().unwrap();
    tokio::spawn(async move {
        loop {
            let _ = miner.anvil_set_next_block_base_fee_per_gas(wei).await;
            let _ = miner.anvil_mine(Some(1), None).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

/// Drives `send` to its end, starting a spike to `base_fee` once its transaction waits in the pool
/// (priced before it).
async fn through_a_spike<T>(
    chain: &DevChain,
    p: &DynProvider,
    base_fee: u128,
    send: impl std::future::Future<Output = T>,
) -> T {
    let me = chain.address(0);
    let before = p.get_transaction_count(me).await.unwrap();
    tokio::pin!(send);
    let mut spiking = None;
    let out = loop {
        tokio::select! {
            r = &mut send => break r,
            _ = tokio::time::sleep(Duration::from_millis(50)), if spiking.is_none() => {
                if p.get_transaction_count(me).pending().await.unwrap() > before {
                    spiking = Some(spike(chain, base_fee));
                }
            }
        }
    };
    spiking.expect("the transaction reached the pool").abort();
    out
}

async fn setup() -> (DevChain, DynProvider, peerflow_chain::Deployment) {
    let chain = DevChain::spawn().unwrap();
    let p = RpcOptions::new([chain.endpoint()])
        .wallet_provider(chain.signer(0))
        .unwrap();
    let d = deploy_suite(&p, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    // From now on blocks come only from the spike: a transaction waits in the pool.
    p.anvil_set_auto_mine(false).await.unwrap();
    (chain, p, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_stuck_behind_a_gas_rise_is_replaced_and_mined_once() {
    set_policy(SendPolicy {
        stuck_after: Duration::from_secs(2),
        bumps: 5,
        max_fee_per_gas: None,
        ..SendPolicy::default()
    });
    let (chain, p, d) = setup().await;
    let to = Address::repeat_byte(0x42);
    let token = WorkToken::new(d.work_token, &p);
    let nonce_before = p.get_transaction_count(chain.address(0)).await.unwrap();
    // The base fee then rises to ten times the estimate the transaction was priced by.
    let offered = p.estimate_eip1559_fees().await.unwrap().max_fee_per_gas;
    let call = token.transfer(to, U256::from(7u64));
    let receipt = through_a_spike(&chain, &p, 10 * offered, until_mined(&call))
        .await
        .unwrap();
    assert!(receipt.status());
    assert!(
        receipt.effective_gas_price >= 10 * offered,
        "mined at {} wei per gas (priced at {offered}): sent again at the new fees",
        receipt.effective_gas_price
    );
    assert_eq!(token.balanceOf(to).call().await.unwrap(), U256::from(7u64));
    assert_eq!(
        p.get_transaction_count(chain.address(0)).await.unwrap(),
        nonce_before + 1,
        "one transaction mined, the stuck one replaced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn above_the_fee_ceiling_the_send_gives_up_and_pays_nothing_more() {
    let (chain, p, d) = setup().await;
    // The ceiling is twice the estimate the transaction was priced by; gas rises to ten times it.
    let offered = p.estimate_eip1559_fees().await.unwrap().max_fee_per_gas;
    set_policy(SendPolicy {
        stuck_after: Duration::from_secs(2),
        bumps: 5,
        max_fee_per_gas: Some(2 * offered),
        ..SendPolicy::default()
    });
    let to = Address::repeat_byte(0x43);
    let token = WorkToken::new(d.work_token, &p);
    let call = token.transfer(to, U256::from(7u64));
    let error = through_a_spike(&chain, &p, 10 * offered, until_mined(&call))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ChainError::GasAboveCeiling(c) if c.ceiling == 2 * offered),
        "{error}"
    );
    assert_eq!(token.balanceOf(to).call().await.unwrap(), U256::ZERO);
}

/// An escrow action, a command, any `execute`d call with 4 confirmations asked: mined, then a
/// reorg takes its block out before it is 4 deep; it is sent again (same nonce) and the call
/// returns only once it is 4 deep on the chain that stayed, having executed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_reorged_out_before_its_confirmations_is_sent_again_and_counts_once() {
    let (chain, p, d) = setup().await;
    set_policy(SendPolicy {
        confirmations: 4,
        stuck_after: Duration::from_secs(2),
        ..SendPolicy::default()
    });
    let me = chain.address(0);
    let to = Address::repeat_byte(0x44);
    let token = WorkToken::new(d.work_token, &p);
    let amount = U256::from(9u64);
    let send = execute(token.transfer(to, amount));
    tokio::pin!(send);
    let mut reorged = false;
    let receipt = loop {
        tokio::select! {
            r = &mut send => break r.unwrap(),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                let waiting = p.get_transaction_count(me).pending().await.unwrap()
                    > p.get_transaction_count(me).await.unwrap();
                if reorged {
                    p.anvil_mine(Some(1), None).await.unwrap();
                } else if waiting {
                    // The transfer is mined, then its block is replaced by an empty one.
                    p.anvil_mine(Some(1), None).await.unwrap();
                    assert_eq!(token.balanceOf(to).call().await.unwrap(), amount);
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    p.anvil_reorg(alloy::rpc::types::anvil::ReorgOptions {
                        depth: 1,
                        tx_block_pairs: vec![],
                    })
                    .await
                    .unwrap();
                    assert_eq!(token.balanceOf(to).call().await.unwrap(), U256::ZERO, "reorged out");
                    reorged = true;
                }
            }
        }
    };
    assert!(reorged, "the reorg happened before the call counted");
    assert!(receipt.status());
    let head = p.get_block_number().await.unwrap();
    assert!(head + 1 >= receipt.block_number.unwrap() + 4, "4 deep");
    assert_eq!(
        token.balanceOf(to).call().await.unwrap(),
        amount,
        "transferred once"
    );
}
