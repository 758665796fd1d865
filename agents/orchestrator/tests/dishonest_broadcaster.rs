//! The orchestrator against dishonest broadcasters and strangers, over real HTTP against anvil:
//! spending someone else's credit, replaying or re-targeting a signed request, asking for work the
//! credit does not cover, oversized requests, and a flood of made-up senders on `/v1/info`. Each
//! test checks the victim's credit, the ticket store and that honest senders are still served.

use crate::common;

use common::*;
use peerflow_orchestrator::http::JOB_ERROR_HEADER;

/// A paying broadcaster's credit bought with `n` tickets through `POST /v1/payment`.
async fn prepay(net: &Net, i: usize, n: u64) -> (OrchestratorInfo, U256) {
    let sender = net.chain.address(i);
    let info = net.info(sender).await;
    let r = net
        .http
        .post(format!("{}/v1/payment", net.url))
        .json(&net.payment(i, &info, info.next_nonce, n))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let balance = net.info(sender).await.balance;
    assert_eq!(balance, info.ticket_params.ticket_value * U256::from(n));
    (info, balance)
}

fn no_tickets(sender: Address) -> Payment {
    Payment {
        sender,
        tickets: vec![],
    }
}

#[tokio::test]
async fn nobody_but_the_sender_can_spend_its_credit() {
    let net = start().await;
    let victim = net.chain.address(2);
    let attacker = net.chain.address(5);
    let (info, credit) = prepay(&net, 2, 3).await;
    let request = request();
    let seg = net.segment.clone();

    // 1. The original attack: the victim's address, no tickets, no signature.
    let r = net.post(&request, &no_tickets(victim), None, &seg).await;
    assert_eq!(code_of(r).await, (401, "unauthorized_request".to_string()));

    // 2. Signed by the attacker as itself: the chain never authorized it to sign for the victim.
    let attacker_info = net.info(attacker).await;
    let own = resign(
        &net,
        5,
        &info,
        victim,
        &request,
        &seg,
        info.ticket_params.recipient_rand_hash,
        1_000,
    );
    let r = net
        .post(&request, &no_tickets(victim), Some(&own), &seg)
        .await;
    assert_eq!(error_of(r).await.1.code, "unauthorized_signer");

    // 3. Signed by the attacker but naming the victim as signer.
    let mut forged = resign(&net, 5, &info, victim, &request, &seg, own.params, 1_001);
    forged.signer = victim;
    let r = net
        .post(&request, &no_tickets(victim), Some(&forged), &seg)
        .await;
    assert_eq!(error_of(r).await.1.code, "unauthorized_request");

    // 4. The attacker's own parameters named in the victim's request.
    let wrong_params = resign(
        &net,
        2,
        &info,
        victim,
        &request,
        &seg,
        attacker_info.ticket_params.recipient_rand_hash,
        1_002,
    );
    let r = net
        .post(&request, &no_tickets(victim), Some(&wrong_params), &seg)
        .await;
    assert_eq!(error_of(r).await.1.code, "ticket_params_expired");

    // 5. A genuine request, captured on the wire: it runs once (no transcoder here, so it fails
    //    with "no_transcoder" and its reservation is given back) ...
    let genuine = net.auth(&info, victim, &request, &seg);
    let r = net
        .post(&request, &no_tickets(victim), Some(&genuine), &seg)
        .await;
    assert_eq!(error_of(r).await.1.code, "no_transcoder");
    assert_eq!(
        net.info(victim).await.balance,
        credit,
        "reservation refunded"
    );
    // ... and never again,
    let r = net
        .post(&request, &no_tickets(victim), Some(&genuine), &seg)
        .await;
    assert_eq!(code_of(r).await, (409, "request_replayed".to_string()));
    // ... nor for other work, another segment or another orchestrator's request.
    let mut bigger = request.clone();
    bigger.profiles[0].width = 1920;
    bigger.profiles[0].height = 1080;
    let r = net
        .post(&bigger, &no_tickets(victim), Some(&genuine), &seg)
        .await;
    assert_eq!(error_of(r).await.1.code, "unauthorized_request");
    let mut other_seg = seg.clone();
    other_seg.extend_from_slice(&[0x47; 188]);
    let r = net
        .post(&request, &no_tickets(victim), Some(&genuine), &other_seg)
        .await;
    assert_eq!(error_of(r).await.1.code, "unauthorized_request");
    let mut elsewhere = info.clone();
    elsewhere.orchestrator = net.chain.address(9);
    let for_other = net.auth(&elsewhere, victim, &request, &seg);
    let r = net
        .post(&request, &no_tickets(victim), Some(&for_other), &seg)
        .await;
    assert_eq!(error_of(r).await.1.code, "unauthorized_request");

    assert_eq!(
        net.info(victim).await.balance,
        credit,
        "no request the victim did not sign moved its credit"
    );
    assert_eq!(net.node.store().balance(attacker).unwrap(), U256::ZERO);
}

async fn code_of(r: reqwest::Response) -> (u16, String) {
    let (status, body) = error_of(r).await;
    (status, body.code)
}

/// `RequestAuth` by account `i`'s key for `sender`'s request, with explicit params and nonce.
#[allow(clippy::too_many_arguments)]
fn resign(
    net: &Net,
    i: usize,
    info: &OrchestratorInfo,
    sender: Address,
    request: &SegmentRequest,
    segment: &[u8],
    params: alloy::primitives::B256,
    nonce: u64,
) -> RequestAuth {
    let domain = TicketDomain {
        chain_id: info.chain_id,
        broker: info.ticket_broker,
    };
    let ctx = RequestContext {
        domain: &domain,
        orchestrator: info.orchestrator,
        sender,
        request,
        segment,
    };
    RequestAuth::sign(&net.chain.secret_key(i), &ctx, params, nonce).unwrap()
}

#[tokio::test]
async fn work_is_reserved_before_it_starts_and_given_back_if_it_fails() {
    let net = start().await;
    let b = net.chain.address(2);
    let (_, credit) = prepay(&net, 2, 1).await;
    // A price at which the credit covers one small rendition but not eight 1080p ones; the
    // sender is quoted it (fresh parameters) and its requests are charged at it.
    let price = 100_000_000u64;
    net.node.set_price(U256::from(price));
    let info = net.info(b).await;
    assert_eq!(info.price_per_pixel, U256::from(price));
    let cost = U256::from(426 * 240 * net.frames) * U256::from(price);
    assert!(cost < credit, "the credit covers one rendition");

    // More profiles than the credit covers: refused before any transcoder sees a job.
    let mut greedy = request();
    let p = greedy.profiles[0].clone();
    greedy.profiles = (0..8)
        .map(|k| ProfileSpec {
            name: format!("p{k}"),
            width: 1920,
            height: 1080,
            ..p.clone()
        })
        .collect();
    let auth = net.auth(&info, b, &greedy, &net.segment);
    let r = net
        .post(&greedy, &no_tickets(b), Some(&auth), &net.segment)
        .await;
    assert_eq!(code_of(r).await, (402, "insufficient_balance".to_string()));
    let idle = net
        .http
        .get(format!("{}/v1/transcoder/work?wait=0", net.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(idle.status(), 204, "no job was queued for unpaid work");

    // More profiles than any request may ask for.
    let mut huge = greedy.clone();
    huge.profiles = (0..9)
        .map(|k| ProfileSpec {
            name: format!("q{k}"),
            width: 2,
            height: 2,
            ..p.clone()
        })
        .collect();
    let auth = net.auth(&info, b, &huge, &net.segment);
    let r = net
        .post(&huge, &no_tickets(b), Some(&auth), &net.segment)
        .await;
    assert_eq!(error_of(r).await.1.code, "bad_request");

    // Paid work: the cost is held while the transcoder works ...
    let (http, url) = (net.http.clone(), net.url.clone());
    let node = Arc::clone(&net.node);
    let transcoder = tokio::spawn(async move {
        let job = http
            .get(format!("{url}/v1/transcoder/work?wait=10"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(job.status(), 200);
        let held = node.store().balance(b).unwrap();
        let meta: JobHeader = serde_json::from_slice(job.headers()[JOB_HEADER].as_bytes()).unwrap();
        // ... and given back when the transcoder fails.
        let failed = http
            .post(format!("{url}/v1/transcoder/result/{}", meta.id))
            .bearer_auth(TOKEN)
            .header(JOB_SECRET_HEADER, meta.secret.as_str())
            .header(JOB_ERROR_HEADER, "failed")
            .body("encoder crashed")
            .send()
            .await
            .unwrap();
        assert_eq!(failed.status(), 204);
        held
    });
    let auth = net.auth(&info, b, &request(), &net.segment);
    let r = net
        .post(&request(), &no_tickets(b), Some(&auth), &net.segment)
        .await;
    assert_eq!(error_of(r).await.1.code, "transcode_failed");
    assert_eq!(
        transcoder.await.unwrap(),
        credit - cost,
        "reserved during the work"
    );
    assert_eq!(
        net.info(b).await.balance,
        credit,
        "refunded after the failure"
    );
}

#[tokio::test]
async fn a_flood_of_made_up_senders_holds_bounded_state_and_paying_senders_are_served() {
    let limits = Limits {
        info_ip_per_second: 5.0,
        info_ip_burst: 40.0,
        info_sender_per_second: 1.0,
        info_sender_burst: 3.0,
        max_unpaid_params: 25,
        max_tracked_keys: 64,
        ..Limits::default()
    };
    let net = start_with(limits).await;
    let payer = net.chain.address(2);
    let (_, credit) = prepay(&net, 2, 2).await;
    let params_before = net.node.store().params_count().unwrap();

    // 2048 /v1/info requests for made-up senders from one address, 32 at a time, while the
    // paying sender keeps asking for its quote and paying.
    let flood = {
        let (http, url) = (net.http.clone(), net.url.clone());
        tokio::spawn(async move {
            let mut codes = std::collections::BTreeMap::<u16, u64>::new();
            for batch in 0..64 {
                let replies = futures_join(&http, &url, batch).await;
                for status in replies {
                    *codes.entry(status).or_default() += 1;
                }
            }
            codes
        })
    };
    let mut paid = 0u64;
    for round in 0..20 {
        let info = net.info(payer).await; // asserts 200
        assert_eq!(info.ticket_params.sender, payer);
        if round % 5 == 0 {
            let r = net
                .http
                .post(format!("{}/v1/payment", net.url))
                .json(&net.payment(2, &info, info.next_nonce, 1))
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                200,
                "the paying sender is served during the flood"
            );
            paid += 1;
        }
    }
    let codes = flood.await.unwrap();
    let served = codes.get(&200).copied().unwrap_or(0);
    let limited = codes.get(&429).copied().unwrap_or(0);
    assert_eq!(
        served + limited,
        64 * 32,
        "every flood request was answered: {codes:?}"
    );
    assert!(limited > 0, "the flood was rate limited: {codes:?}");

    let params = net.node.store().params_count().unwrap();
    assert!(
        params <= params_before + limits.max_unpaid_params,
        "{params} ticket parameters stored after the flood (before: {params_before})"
    );
    let (by_ip, by_sender) = net.node.tracked_clients();
    assert!(by_ip <= limits.max_tracked_keys && by_sender <= limits.max_tracked_keys);
    let info = net.info(payer).await;
    assert!(info.balance >= credit, "the payer's credit is intact");
    assert_eq!(
        info.balance,
        credit + info.ticket_params.ticket_value * U256::from(paid)
    );
}

/// One batch of 32 `/v1/info` requests for fresh random senders; their statuses.
async fn futures_join(http: &reqwest::Client, url: &str, batch: u64) -> Vec<u16> {
    let mut set = tokio::task::JoinSet::new();
    for k in 0..32u64 {
        let sender = Address::from_word(alloy::primitives::keccak256(
            [batch.to_be_bytes(), k.to_be_bytes()].concat(),
        ));
        let (http, url) = (http.clone(), url.to_string());
        set.spawn(async move {
            http.get(format!("{url}/v1/info?sender={sender}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    set.join_all().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_payments_never_book_more_winners_than_the_deposit_covers() {
    // Every ticket wins and one face value is 60 % of sender 3's deposit (10^12 wei).
    let face = U256::from(600_000_000_000u64);
    let net = start_full(
        Limits::default(),
        ParamsPolicy {
            price_per_pixel: U256::from(1u64),
            face_value: face,
            win_prob: U256::MAX,
            lifetime_blocks: 20,
        },
    )
    .await;
    let poor = net.chain.address(3);
    let info = net.info(poor).await;
    let mut set = tokio::task::JoinSet::new();
    for nonce in 0..16u64 {
        let (http, url) = (net.http.clone(), net.url.clone());
        let payment = net.payment(3, &info, nonce, 1);
        set.spawn(async move {
            http.post(format!("{url}/v1/payment"))
                .json(&payment)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let statuses = set.join_all().await;
    let accepted = statuses.iter().filter(|&&s| s == 200).count();
    assert_eq!(accepted, 1, "one winner fits the deposit: {statuses:?}");
    let store = net.node.store();
    assert_eq!(store.pending_face_value(poor).unwrap(), face);
    let (count, total) = store
        .winning_summary(peerflow_orchestrator::WinningTicketStatus::Pending)
        .unwrap();
    assert_eq!(
        (count, total),
        (1, face),
        "the winners booked are covered by the deposit"
    );
}
