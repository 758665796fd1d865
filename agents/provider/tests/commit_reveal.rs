//! Results are committed sealed and revealed later (issue 14 item 5): the provider keeps the salt
//! in sqlite, so a provider restarted between its commit and the reveal window still reveals and
//! is paid; and a provider takes only jobs whose arbiter it trusts.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use common::{FIRST_PROVIDER, Market, wallet};
use peerflow_compute::buyer::submit;
use peerflow_compute::escrow::{Escrow, codes};
use peerflow_provider::agent::Executors;
use peerflow_provider::{Agent, JobPhase, VodExecutor};

fn vod() -> Executors {
    Executors {
        container: None,
        vod: Some(Arc::new(VodExecutor::new())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_result_is_revealed_after_a_restart_and_paid() {
    let m = Market::start(vec![vod()]).await;
    let spec = m.vod_spec(1, 160, 90, "90p:160x90:50k").await;
    // Two replicas, one provider: the reveal window opens only after the deadline.
    let terms = m.terms(2, "0.5", 900).await;
    let (job, _) = submit(&m.buyer, &m.blobs, &m.urls[0], &spec, &terms)
        .await
        .unwrap();
    let me = m.provider_address(0);
    let buyer_before = m.balance(m.chain.address(common::BUYER)).await;
    let first = &m.providers[0];
    let before = m.balance(me).await;
    let limit = std::time::Instant::now() + Duration::from_secs(90);
    while first.job(job).unwrap().map(|r| r.phase) != Some(JobPhase::Sealed) {
        first.tick().await.unwrap();
        assert!(
            std::time::Instant::now() < limit,
            "never committed: {:?}",
            first.job(job).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // On-chain only the commitment: nothing another replica could copy.
    let (_, slot) = m
        .buyer
        .slots(job)
        .await
        .unwrap()
        .into_iter()
        .find(|(a, _)| *a == me)
        .unwrap();
    assert_ne!(slot.resultCommitment, B256::ZERO);
    assert_eq!(slot.resultHash, B256::ZERO, "the result is sealed");
    assert!(m.buyer.results(job).await.unwrap().is_empty());
    first.tick().await.unwrap();
    assert_eq!(
        first.job(job).unwrap().unwrap().phase,
        JobPhase::Sealed,
        "no reveal before the window opens"
    );

    // The provider restarts: same account, same data directory.
    let again = Arc::new(
        Agent::new(
            first.config().clone(),
            Escrow::new(
                m.d.job_escrow,
                m.d.work_token,
                wallet(&m.chain, FIRST_PROVIDER),
            ),
            vod(),
        )
        .unwrap(),
    );
    m.warp(901).await; // past the deadline: the window opens
    while again.job(job).unwrap().unwrap().phase == JobPhase::Sealed {
        again.tick().await.unwrap();
        assert!(std::time::Instant::now() < limit, "never revealed");
    }
    let results = m.buyer.results(job).await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].provider, me);
    let stored: peerflow_compute::Digest = again
        .job(job)
        .unwrap()
        .unwrap()
        .result
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        results[0].result_hash,
        stored.to_b256(),
        "the revealed hash is the one the provider stored"
    );
    m.warp(3600).await; // the rest of the reveal window (one slot was never filled)
    while again.job(job).unwrap().unwrap().phase != JobPhase::Settled {
        again.tick().await.unwrap();
        assert!(std::time::Instant::now() < limit, "never settled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(again.job(job).unwrap().unwrap().detail, "paid");
    assert_eq!(m.buyer.job(job).await.unwrap().status, codes::JOB_FINALIZED);
    let charge = results[0].charge;
    assert!(charge > U256::ZERO);
    assert_eq!(
        m.balance(me).await,
        before + charge,
        "charge paid, collateral back"
    );
    assert_eq!(
        m.balance(m.chain.address(common::BUYER)).await,
        buyer_before + terms.price * U256::from(2) - charge,
        "the buyer pays only the charge of the one result"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_naming_an_untrusted_arbiter_is_skipped() {
    let m = Market::start(vec![vod()]).await;
    let spec = m.vod_spec(1, 160, 90, "90p:160x90:50k").await;
    let mut terms = m.terms(1, "0.5", 900).await;
    // The buyer's own arbiter: with it the buyer could outvote the provider in any dispute.
    terms.arbiter = Address::repeat_byte(0x42);
    let (job, _) = submit(&m.buyer, &m.blobs, &m.urls[0], &spec, &terms)
        .await
        .unwrap();
    let p = &m.providers[0];
    let before = m.balance(m.provider_address(0)).await;
    p.tick().await.unwrap();
    let row = p.job(job).unwrap().unwrap();
    assert_eq!(row.phase, JobPhase::Skipped);
    assert_eq!(row.detail, "arbiter_not_trusted");
    assert_eq!(m.buyer.job(job).await.unwrap().filled, 0);
    assert_eq!(
        m.balance(m.provider_address(0)).await,
        before,
        "no collateral posted"
    );
}
