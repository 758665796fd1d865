//! A hot redemption key (LIP-118): the orchestrator names it with `Staking.setRedeemer`, the
//! redeemer sends its winners through it and the fees go to the orchestrator; a key it did not
//! name is refused and loses no winner.

use crate::redeem_support;

use alloy::primitives::{U256, utils::parse_ether};
use alloy::providers::ext::AnvilApi;
use peerflow_chain::bindings::staking::Staking;
use peerflow_chain::deploy::execute;
use peerflow_orchestrator::{GasPolicy, PaymentStore, Redeemer, WinningTicketStatus};
use redeem_support::{Redemption, queue_winners, redemption_chain, wallet};

const HOT: usize = 4;
const UNNAMED: usize = 5;

#[tokio::test]
async fn winners_redeemed_with_the_named_hot_key_pay_the_orchestrator() {
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
    execute(staking.setRedeemer(chain.address(HOT)))
        .await
        .unwrap();
    deployer
        .anvil_mine(Some(d.round_length), None)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Mutex::new(PaymentStore::open(&dir.path().join("p.sqlite")).unwrap());
    queue_winners(&r, &store, 2, 0..2).await;
    deployer.anvil_mine(Some(6), None).await.unwrap();
    let gas = GasPolicy {
        max_cost_ppm: 1_000_000,
        ..Default::default()
    };

    // A key the orchestrator did not name: the whole call is refused, the winners wait.
    let unnamed = Redeemer::new(d.ticket_broker, wallet(chain, UNNAMED), gas)
        .await
        .unwrap()
        .for_recipient(o);
    let refused = unnamed.redeem_due(&store).await.unwrap();
    assert_eq!((refused.redeemed, refused.retrying), (0, 2), "{refused:?}");
    let pending = store
        .lock()
        .unwrap()
        .winning_tickets(WinningTicketStatus::Pending)
        .unwrap();
    assert!(
        pending[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("NotRedeemer") || e.contains("revert")),
        "{:?}",
        pending[0].last_error
    );

    // The named hot key redeems both; the orchestrator is paid, the key holds nothing.
    let hot = Redeemer::new(d.ticket_broker, wallet(chain, HOT), gas)
        .await
        .unwrap()
        .for_recipient(o);
    let report = hot.redeem_due(&store).await.unwrap();
    assert_eq!(report.redeemed, 2, "{report:?}");
    assert_eq!(
        staking.pendingFees(o).call().await.unwrap(),
        parse_ether("2").unwrap()
    );
    assert_eq!(
        staking
            .pendingFees(chain.address(HOT))
            .call()
            .await
            .unwrap(),
        U256::ZERO
    );
}
