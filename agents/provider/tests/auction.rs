//! A sealed-bid VOD job through the providers: three bid their minimum prices blind, reveal, the
//! auction closes, the two lowest take the slots and are each paid the lowest losing bid (reverse
//! Vickrey); the loser gets its collateral back. Balances checked exactly.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{U256, utils::parse_ether};
use common::{BUYER, Market};
use peerflow_compute::buyer::{Terms, submit};
use peerflow_compute::manifest::RateCard;
use peerflow_provider::agent::Executors;
use peerflow_provider::{JobPhase, VodExecutor};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_two_lowest_bids_win_and_are_paid_the_lowest_losing_bid() {
    let vod = || Executors {
        container: None,
        vod: Some(Arc::new(VodExecutor::new())),
    };
    let asks = ["0.3", "0.5", "0.7"];
    let m = Market::start_with(vec![vod(), vod(), vod()], |k, cfg| {
        cfg.min_price = parse_ether(asks[k]).unwrap();
        // Unpriced: each winner charges the whole clearing price.
        cfg.rates = RateCard {
            per_cpu_second: 0.0,
            per_memory_mb_second: 0.0,
            per_io_mb: 0.0,
        };
    })
    .await;
    let spec = m.vod_spec(1, 160, 90, "90p:160x90:50k").await;
    let now = m.now().await;
    let terms = Terms {
        deadline: now + 900,
        sealed_bid: Some((now + 60, now + 120)),
        ..m.terms(2, "2", 900).await
    };
    let buyer = m.chain.address(BUYER);
    let b0 = m.balance(buyer).await;
    let mut p0 = Vec::new();
    for k in 0..3 {
        p0.push(m.balance(m.provider_address(k)).await);
    }
    let (job, _) = submit(&m.buyer, &m.blobs, &m.urls[0], &spec, &terms)
        .await
        .unwrap();
    let phase = |k: usize| m.providers[k].job(job).unwrap().map(|r| r.phase);

    m.drive_until(Duration::from_secs(30), || async {
        (0..3).all(|k| phase(k) == Some(JobPhase::Bid))
    })
    .await;
    m.warp(60).await; // the reveal window
    m.drive_until(Duration::from_secs(30), || async {
        (0..3).all(|k| phase(k) == Some(JobPhase::Revealed))
    })
    .await;
    m.warp(60).await; // the auction can close
    m.drive_until(Duration::from_secs(300), || async {
        (0..3).all(|k| phase(k) == Some(JobPhase::Settled))
    })
    .await;

    let outcome = |k: usize| m.providers[k].job(job).unwrap().unwrap().detail;
    assert_eq!(
        [outcome(0), outcome(1), outcome(2)],
        ["paid", "paid", "lost"]
    );
    let state = m.buyer.job(job).await.unwrap();
    let clearing = parse_ether("0.7").unwrap();
    assert_eq!(U256::from(state.clearingPrice), clearing);
    for (k, before) in p0.iter().take(2).enumerate() {
        assert_eq!(
            m.balance(m.provider_address(k)).await,
            *before + clearing,
            "winner {k} is paid the lowest losing bid"
        );
    }
    assert_eq!(
        m.balance(m.provider_address(2)).await,
        p0[2],
        "the loser's collateral is back"
    );
    assert_eq!(m.balance(buyer).await, b0 - clearing * U256::from(2));
    assert_eq!(m.balance(m.d.job_escrow).await, U256::ZERO);
}
