//! A local chain leaves nothing on disk once it stops.

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder, ext::AnvilApi};
use alloy::rpc::types::TransactionRequest;
use peerflow_chain::DevChain;

/// Files under `dir`, counted through every subdirectory.
fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| {
                let path = e.path();
                if path.is_dir() { files_under(&path) } else { 1 }
            })
            .sum()
    })
}

#[tokio::test]
async fn anvil_spills_states_into_its_own_home_and_it_is_removed_when_the_chain_stops() {
    let chain = DevChain::spawn().expect("anvil");
    let home = chain.home().to_path_buf();
    let provider = ProviderBuilder::new()
        .wallet(chain.signer(0))
        .connect_http(chain.endpoint().parse().unwrap());
    // Enough blocks with state changes that anvil writes old states to disk.
    for _ in 0..6 {
        let tx = TransactionRequest::default()
            .with_to(Address::with_last_byte(1))
            .with_value(U256::from(1));
        provider
            .send_transaction(tx)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        provider.anvil_mine(Some(200), None).await.unwrap();
    }
    assert!(
        files_under(&home.join(".foundry/anvil")) > 0,
        "anvil spilled no state into {}",
        home.display()
    );
    drop(chain);
    assert!(!home.exists(), "{} is left behind", home.display());
}
