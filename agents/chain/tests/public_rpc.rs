//! The chain as a public provider serves it: through the stand-in (https with its own CA, a 500-block
//! `eth_getLogs` cap, 429s with Retry-After, 503s, dropped connections), every read, send and event
//! scan still comes out exact; what cannot work fails with its cause.

use std::time::{Duration, Instant};

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi};
use alloy::rpc::types::{Filter, Log, TransactionRequest};
use alloy::sol_types::SolEvent;
use peerflow_chain::bindings::work_token::WorkToken;
use peerflow_chain::deploy::execute;
use peerflow_chain::logscan::{CheckpointedScan, Cursors, LogScanner};
use peerflow_chain::network::{NetworkError, verify_deployment};
use peerflow_chain::rpc::{RetryPolicy, RpcOptions};
use peerflow_chain::{Deployment, DevChain, DevChainOptions, SuiteParams, deploy_suite};
use peerflow_rpc_standin::{PublicRpc, StandinConfig};

fn direct(chain: &DevChain, account: usize) -> DynProvider {
    ProviderBuilder::new()
        .wallet(chain.signer(account))
        .connect_http(chain.endpoint().parse().unwrap())
        .erased()
}

fn through(standin: &PublicRpc) -> RpcOptions {
    RpcOptions::new([standin.url()]).with_ca_certs([standin.ca_path()])
}

/// A short policy, so that a test of final failure does not wait out the default's patience.
fn impatient() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        request_timeout: Duration::from_secs(5),
        ..RetryPolicy::default()
    }
}

fn ids(logs: &[Log]) -> Vec<(alloy::primitives::TxHash, u64)> {
    logs.iter()
        .map(|l| (l.transaction_hash.unwrap(), l.log_index.unwrap()))
        .collect()
}

#[tokio::test]
async fn https_with_the_providers_ca_and_nothing_without_it() {
    let chain = DevChain::spawn().unwrap();
    let standin = PublicRpc::start(StandinConfig::new(chain.endpoint()))
        .await
        .unwrap();
    assert!(standin.url().starts_with("https://"));

    let p = through(&standin).provider().unwrap();
    assert_eq!(p.get_chain_id().await.unwrap(), chain.chain_id());

    let mut untrusting = RpcOptions::new([standin.url()]);
    untrusting.policy = impatient();
    let err = untrusting
        .provider()
        .unwrap()
        .get_chain_id()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("invalid peer certificate") && err.contains("UnknownIssuer"),
        "an unknown CA is refused, and said so: {err}"
    );
    assert!(
        !err.contains("standin-key"),
        "the URL's key stays out of errors: {err}"
    );
}

#[tokio::test]
async fn a_flaky_provider_loses_and_duplicates_nothing() {
    let chain = DevChain::spawn().unwrap();
    let standin = PublicRpc::start(StandinConfig::flaky(chain.endpoint(), 20))
        .await
        .unwrap();
    let sender = through(&standin).wallet_provider(chain.signer(0)).unwrap();
    let to = chain.address(9);
    let before = direct(&chain, 1).get_balance(to).await.unwrap();
    let sends = 25u64;
    for i in 0..sends {
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_value(U256::from(1_000 + i));
        let receipt = sender
            .send_transaction(tx)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status());
    }
    let after = direct(&chain, 1).get_balance(to).await.unwrap();
    let expected: u64 = (0..sends).map(|i| 1_000 + i).sum();
    assert_eq!(
        after - before,
        U256::from(expected),
        "every transfer once, none twice"
    );
    let stats = standin.stats();
    assert!(stats.rate_limited > 0, "429s happened: {stats:?}");
    assert!(stats.unavailable > 0, "503s happened: {stats:?}");
    assert!(stats.dropped > 0, "dropped connections happened: {stats:?}");
}

#[tokio::test]
async fn a_lost_reply_to_a_sent_transaction_does_not_send_it_twice() {
    let chain = DevChain::spawn().unwrap();
    let mut config = StandinConfig::new(chain.endpoint());
    config.lose_first_reply_to = Some("eth_sendRawTransaction".into());
    let standin = PublicRpc::start(config).await.unwrap();
    let sender = through(&standin).wallet_provider(chain.signer(0)).unwrap();
    let to = chain.address(8);
    let before = direct(&chain, 1).get_balance(to).await.unwrap();
    let tx = TransactionRequest::default()
        .with_to(to)
        .with_value(U256::from(777));
    let receipt = sender
        .send_transaction(tx)
        .await
        .expect("the retry finds the first try accepted")
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let after = direct(&chain, 1).get_balance(to).await.unwrap();
    assert_eq!(after - before, U256::from(777));
    assert_eq!(standin.stats().dropped, 1, "{:?}", standin.stats());
    assert_eq!(
        standin.stats().forwarded["eth_sendRawTransaction"],
        2,
        "sent, reply lost, sent again"
    );
}

#[tokio::test]
async fn the_next_url_serves_when_one_is_down_and_a_final_failure_names_its_cause() {
    let chain = DevChain::spawn().unwrap();
    let down = PublicRpc::start(StandinConfig::new(chain.endpoint()))
        .await
        .unwrap();
    let up = PublicRpc::start(StandinConfig::new(chain.endpoint()))
        .await
        .unwrap();
    down.set_down(true);

    let mut o = RpcOptions::new([format!("{},{}", down.url(), up.url())])
        .with_ca_certs([down.ca_path(), up.ca_path()]);
    o.policy = RetryPolicy {
        initial_backoff: Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    let transport = o.transport().unwrap();
    let p = ProviderBuilder::new()
        .connect_client(alloy::rpc::client::RpcClient::new(transport.clone(), true))
        .erased();
    assert_eq!(p.get_chain_id().await.unwrap(), chain.chain_id());
    assert_eq!(
        transport.current_url(),
        format!("https://localhost:{}/…", up.addr().port())
    );
    assert!(up.stats().forwarded["eth_chainId"] >= 1);

    let mut alone = through(&down);
    alone.policy = impatient();
    let err = alone
        .provider()
        .unwrap()
        .get_block_number()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("eth_blockNumber failed after 3 attempts")
            && err.contains(&format!("localhost:{}", down.addr().port())),
        "the method, the attempts, the URL: {err}"
    );
    assert!(
        err.contains("connection") || err.contains("closed") || err.contains("reset"),
        "and the cause: {err}"
    );
}

#[tokio::test]
async fn retry_after_is_waited_out() {
    let chain = DevChain::spawn().unwrap();
    let mut config = StandinConfig::new(chain.endpoint());
    config.max_requests_per_second = Some(1);
    config.retry_after_secs = 2;
    let standin = PublicRpc::start(config).await.unwrap();
    let p = through(&standin).provider().unwrap();
    let start = Instant::now();
    for _ in 0..2 {
        p.get_block_number().await.unwrap();
    }
    assert!(standin.stats().rate_limited >= 1);
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "the second call waited for the Retry-After: {:?}",
        start.elapsed()
    );
}

/// A chain whose first block is `history` (anvil mines 50,000 blocks in minutes, writing their
/// states to disk; a genesis numbered so gives an event scan the same long chain to face).
fn chain_after(history: u64) -> DevChain {
    DevChain::spawn_with(&DevChainOptions {
        genesis_block: Some(history),
        ..DevChainOptions::default()
    })
    .unwrap()
}

/// The suite deployed on `chain`, with its provider.
async fn suite_after(chain: &DevChain) -> (DynProvider, Deployment) {
    let deployer = direct(chain, 0);
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    (deployer, d)
}

async fn transfer(deployer: &DynProvider, d: &Deployment, to: Address, gap: u64) {
    deployer.anvil_mine(Some(gap), None).await.unwrap();
    let token = WorkToken::new(d.work_token, deployer);
    execute(token.transfer(to, U256::from(1))).await.unwrap();
}

fn transfers(d: &Deployment) -> Filter {
    Filter::new()
        .address(d.work_token)
        .event_signature(WorkToken::Transfer::SIGNATURE_HASH)
}

#[tokio::test]
async fn a_500_block_cap_over_50000_blocks_finds_every_event_and_resumes_from_its_cursor() {
    let chain = chain_after(50_000);
    let (deployer, d) = suite_after(&chain).await;
    assert!(d.scan_from() > 50_000, "{d:?}");
    for (i, gap) in [600u64, 1_100, 0, 300, 520].into_iter().enumerate() {
        transfer(&deployer, &d, chain.address(3 + i), gap).await;
    }
    let standin = PublicRpc::start(StandinConfig::new(chain.endpoint()))
        .await
        .unwrap();
    let p = through(&standin).provider().unwrap();
    let head = p.get_block_number().await.unwrap();
    // The truth: the chain itself, uncapped, from block 0.
    let truth = deployer
        .get_logs(&transfers(&d).from_block(0).to_block(head))
        .await
        .unwrap();
    assert_eq!(
        truth.len(),
        3 + 5,
        "three mints at deployment, five transfers"
    );

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("role.sqlite");
    let mut scan = CheckpointedScan::new(
        "token-transfers",
        transfers(&d),
        d.scan_from(),
        Cursors::open(&db).unwrap(),
    )
    .unwrap();
    let mut found = Vec::new();
    while let Some(batch) = scan.next_batch(&p, head).await.unwrap() {
        found.extend(batch.logs.iter().cloned());
        scan.commit(&batch).unwrap();
    }
    assert_eq!(
        ids(&found),
        ids(&truth),
        "exactly the chain's events, in order"
    );
    let stats = standin.stats();
    assert!(stats.range_refused > 0, "the cap was hit: {stats:?}");
    assert!(
        stats.lowest_log_block >= d.scan_from(),
        "no scan below the deployment block: {stats:?}"
    );
    assert!(
        scan.calls() < 40,
        "windows adapt to the cap rather than crawl: {} calls",
        scan.calls()
    );
    assert_eq!(scan.next_block(), head + 1);
    drop(scan);

    // Two more transfers, then a restart: the scan resumes at its cursor.
    transfer(&deployer, &d, chain.address(8), 600).await;
    transfer(&deployer, &d, chain.address(9), 30).await;
    let new_head = p.get_block_number().await.unwrap();
    let standin_after_restart = PublicRpc::start(StandinConfig::new(chain.endpoint()))
        .await
        .unwrap();
    let p = through(&standin_after_restart).provider().unwrap();
    let mut scan = CheckpointedScan::new(
        "token-transfers",
        transfers(&d),
        d.scan_from(),
        Cursors::open(&db).unwrap(),
    )
    .unwrap();
    assert_eq!(scan.next_block(), head + 1, "resumed from the cursor");
    let mut found = Vec::new();
    while let Some(batch) = scan.next_batch(&p, new_head).await.unwrap() {
        found.extend(batch.logs.iter().cloned());
        scan.commit(&batch).unwrap();
    }
    let truth_new = deployer
        .get_logs(&transfers(&d).from_block(head + 1).to_block(new_head))
        .await
        .unwrap();
    assert_eq!(truth_new.len(), 2);
    assert_eq!(ids(&found), ids(&truth_new), "only what is new");
    assert_eq!(
        standin_after_restart.stats().lowest_log_block,
        head + 1,
        "nothing before the cursor is asked for again"
    );
}

#[tokio::test]
async fn a_result_count_cap_halves_the_window_until_it_fits() {
    let chain = chain_after(10);
    let (deployer, d) = suite_after(&chain).await;
    for i in 0..6 {
        transfer(&deployer, &d, chain.address(3 + i), 1).await;
    }
    let mut config = StandinConfig::new(chain.endpoint());
    config.max_log_blocks = None;
    config.max_log_results = Some(3);
    let standin = PublicRpc::start(config).await.unwrap();
    let p = through(&standin).provider().unwrap();
    let head = p.get_block_number().await.unwrap();
    let truth = deployer
        .get_logs(&transfers(&d).from_block(0).to_block(head))
        .await
        .unwrap();
    let found = LogScanner::new(transfers(&d))
        .scan(&p, d.scan_from(), head)
        .await
        .unwrap();
    assert_eq!(ids(&found), ids(&truth));
    assert!(standin.stats().range_refused > 0);
}

#[tokio::test]
async fn a_deployment_for_another_chain_or_other_code_is_refused() {
    let chain = DevChain::spawn().unwrap();
    let (_, d) = suite_after(&chain).await;
    let standin = PublicRpc::start(StandinConfig::new(chain.endpoint()))
        .await
        .unwrap();
    let p = through(&standin).provider().unwrap();
    let file = std::path::Path::new("deployments/31337.json");
    verify_deployment(&p, &d, file)
        .await
        .expect("the real suite passes");

    let mut other_chain = d.clone();
    other_chain.chain_id = 421614;
    let err = verify_deployment(&p, &other_chain, file).await.unwrap_err();
    assert!(
        matches!(
            err,
            NetworkError::ChainId {
                file_chain: 421614,
                rpc_chain: 31337,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("421614") && err.to_string().contains("31337"));

    // The registry's address holding the escrow's code: another contract.
    let mut swapped = d.clone();
    swapped.service_registry = d.job_escrow;
    let err = verify_deployment(&p, &swapped, file).await.unwrap_err();
    assert!(
        matches!(
            err,
            NetworkError::CodeMismatch {
                contract: "ServiceRegistry",
                ..
            }
        ),
        "{err}"
    );
    let mut empty = d.clone();
    empty.minter = Address::repeat_byte(0x42);
    let err = verify_deployment(&p, &empty, file).await.unwrap_err();
    assert!(
        matches!(
            err,
            NetworkError::NoCode {
                contract: "Minter",
                ..
            }
        ),
        "{err}"
    );
}
