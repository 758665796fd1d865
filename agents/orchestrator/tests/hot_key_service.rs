//! A node running on the orchestrator's hot key (`peerflow orchestrator --for`) follows what the
//! stake key names, not only what it named at start: once the hot key is replaced it refuses new
//! quotes, tickets and work (503 `key_retired`, retry elsewhere) and sends no redemption the broker
//! would refuse; its queued winners wait in the payment store. Named again, it serves and redeems
//! them, and the orchestrator is paid for each once.

use crate::common::{ErrorBody, OrchestratorInfo, error_of, payment, service_config};
use crate::redeem_support::{Redemption, queue_winners, redemption_chain, wallet};

use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256, utils::parse_ether};
use alloy::providers::ext::AnvilApi;
use peerflow_chain::bindings::staking::Staking;
use peerflow_chain::deploy::execute;
use peerflow_orchestrator::service::{start_with_keys, write_private};
use peerflow_orchestrator::{PaymentStore, WinningTicketStatus};

const HOT: usize = 4;
const SUCCESSOR: usize = 5;

fn address(v: &serde_json::Value) -> Address {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an address: {v}"))
}

/// Waits (at most 30 s) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_hot_key_stops_serving_and_redeeming_until_it_is_named_again() {
    let r = redemption_chain(&[(2, "10")]).await;
    let Redemption {
        chain,
        d,
        deployer,
        orchestrator,
        o,
        ..
    } = &r;
    let (o, d) = (*o, d.clone());
    let staking = Staking::new(d.staking, orchestrator);
    let name = |i: usize| {
        let call = staking.setRedeemer(chain.address(i));
        async move { execute(call).await.unwrap() }
    };
    name(HOT).await;
    deployer
        .anvil_mine(Some(d.round_length), None)
        .await
        .unwrap();

    // The node's recipient secret is the one `queue_winners` issues parameters with.
    let dir = tempfile::tempdir().unwrap();
    write_private(&dir.path().join("recipient.secret"), &[7; 32]).unwrap();
    let running = start_with_keys(
        wallet(chain, HOT),
        None,
        o,
        chain.secret_key(HOT),
        service_config(&d, dir.path(), parse_ether("0.01").unwrap()),
    )
    .await
    .unwrap();
    let info = |sender: Address| reqwest::get(format!("{}/v1/info?sender={sender}", running.url));
    let quoted: OrchestratorInfo = info(chain.address(2)).await.unwrap().json().await.unwrap();
    let status = || async {
        let url = format!("{}/v1/status", running.url);
        let s: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        s
    };
    let s = status().await;
    assert_eq!(address(&s["signingKey"]), chain.address(HOT), "{s}");
    assert!(s["keyRetired"].is_null(), "{s}");

    // The stake key names a successor: the node stops taking work.
    name(SUCCESSOR).await;
    until("retired", || running.node.retired()).await;
    let (http_status, body) = error_of(info(chain.address(3)).await.unwrap()).await;
    assert_eq!(http_status, 503);
    let ErrorBody {
        code,
        retry_elsewhere,
        ..
    } = body;
    assert_eq!((code.as_str(), retry_elsewhere), ("key_retired", true));
    // A ticket under the parameters quoted before is refused, and books no credit.
    let paid = reqwest::Client::new()
        .post(format!("{}/v1/payment", running.url))
        .json(&payment(chain, 2, &quoted, 0, 1))
        .send()
        .await
        .unwrap();
    let (http_status, body) = error_of(paid).await;
    assert_eq!((http_status, body.code.as_str()), (503, "key_retired"));
    assert_eq!(
        running.node.store().balance(chain.address(2)).unwrap(),
        U256::ZERO
    );
    // The operator sees it.
    let s = status().await;
    assert_eq!(address(&s["keyRetired"]), chain.address(SUCCESSOR), "{s}");
    let metrics = reqwest::get(format!("{}/metrics", running.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("peerflow_orchestrator_key_retired 1"),
        "{metrics}"
    );

    // Winners it had queued wait: no redemption is sent while its key is not named.
    let store =
        std::sync::Mutex::new(PaymentStore::open(&dir.path().join("payments.sqlite")).unwrap());
    queue_winners(&r, &store, 2, 0..2).await;
    deployer.anvil_mine(Some(6), None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await; // ten redemption periods
    let pending = store
        .lock()
        .unwrap()
        .winning_tickets(WinningTicketStatus::Pending)
        .unwrap();
    assert_eq!(pending.len(), 2);
    assert!(
        pending.iter().all(|t| t.last_error.is_none()),
        "no refused redemption: {pending:?}"
    );
    assert_eq!(staking.pendingFees(o).call().await.unwrap(), U256::ZERO);

    // Named again: it quotes again and redeems both winners, each paid once.
    name(HOT).await;
    until("serving", || !running.node.retired()).await;
    assert_eq!(info(chain.address(3)).await.unwrap().status(), 200);
    assert!(status().await["keyRetired"].is_null());
    let redeemed = || {
        store
            .lock()
            .unwrap()
            .winning_tickets(WinningTicketStatus::Redeemed)
            .unwrap()
            .len()
    };
    until("redeemed", || redeemed() == 2).await;
    assert_eq!(
        staking.pendingFees(o).call().await.unwrap(),
        parse_ether("2").unwrap()
    );
}
