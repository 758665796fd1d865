//! `./script/bench tickets`: ticket verification and payment throughput, one `name: value` line per
//! figure, with raw libsecp256k1 recovery measured in the same run as the reference. Durable
//! acceptance per core cannot pass the check alone, which is one recovery per ticket: what group
//! commit adds is `ticket_booking_cpu_us_per_ticket`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256, utils::parse_ether};
use alloy::providers::{Provider, ProviderBuilder, ext::AnvilApi};
use peerflow_chain::actions::{fund_sender, give, register_orchestrator};
use peerflow_chain::{DevChain, SuiteParams, deploy_suite};
use peerflow_orchestrator::chain_view::ChainView;
use peerflow_orchestrator::http::router;
use peerflow_orchestrator::{
    Node, NodeConfig, ParamsPolicy, PaymentStore, RecipientSecret, SenderFunds, TicketBook,
    TicketParams, Validator,
};
use peerflow_protocol::api::{OrchestratorInfo, Payment, TicketMsg};
use peerflow_protocol::{
    ResultDomain, ResultSigner, Signature, Ticket, TicketDomain, is_winning_ticket,
};

const N: usize = 20_000;

fn tickets(domain: &TicketDomain, n: usize) -> Vec<(Ticket, Signature)> {
    let key = [0x11u8; 32];
    let sender = peerflow_protocol::signature::address_of_secret(&key).unwrap();
    (0..n)
        .map(|i| {
            let t = Ticket {
                recipient: Address::repeat_byte(0x0e),
                sender,
                signer: sender,
                faceValue: U256::from(1_000_000u64),
                winProb: U256::MAX / U256::from(100u64),
                senderNonce: U256::from(i),
                recipientRandHash: B256::repeat_byte(3),
                creationRound: U256::from(7u64),
            };
            let sig = Signature::sign(&key, t.hash(domain)).unwrap();
            (t, sig)
        })
        .collect()
}

/// Full off-chain verification of one ticket: EIP-712 hash, canonical recovery, signer check and
/// the lottery draw. `Some(won)` for a valid ticket.
fn verify(t: &Ticket, sig: &Signature, domain: &TicketDomain) -> Option<bool> {
    let hash = t.hash(domain);
    let signer = sig.recover(hash).ok()?;
    (signer == t.signer).then(|| is_winning_ticket(sig, B256::repeat_byte(9), t.winProb))
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

fn main() {
    let domain = TicketDomain {
        chain_id: 31337,
        broker: Address::repeat_byte(0xb0),
    };
    let signed = tickets(&domain, N);

    // Reference: raw libsecp256k1 recovery of the same signatures over precomputed digests.
    let raw: Vec<(secp256k1::Message, secp256k1::ecdsa::RecoverableSignature)> = signed
        .iter()
        .map(|(t, s)| {
            let mut compact = [0u8; 64];
            compact[..32].copy_from_slice(s.r.as_slice());
            compact[32..].copy_from_slice(s.s.as_slice());
            let id = secp256k1::ecdsa::RecoveryId::from_u8_masked(s.v - 27);
            let sig = secp256k1::ecdsa::RecoverableSignature::from_compact(&compact, id).unwrap();
            (secp256k1::Message::from_digest(t.hash(&domain).0), sig)
        })
        .collect();
    let start = Instant::now();
    let ok = raw
        .iter()
        .filter(|(m, s)| s.recover_ecdsa(*m).is_ok())
        .count();
    let ecrecover = rate(ok, start.elapsed());

    let start = Instant::now();
    let ok = signed
        .iter()
        .filter(|(t, s)| verify(t, s, &domain).is_some())
        .count();
    let verify_one = rate(N, start.elapsed());
    assert_eq!(ok, N);

    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let start = Instant::now();
    let ok: usize = std::thread::scope(|scope| {
        signed
            .chunks(N.div_ceil(threads))
            .map(|chunk| {
                scope.spawn(|| {
                    chunk
                        .iter()
                        .filter(|(t, s)| verify(t, s, &domain).is_some())
                        .count()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum()
    });
    assert_eq!(ok, N);
    let verify_all = rate(N, start.elapsed());

    println!("ecrecover_per_s_per_core: {ecrecover:.0}");
    println!("ticket_verify_per_s_per_core: {verify_one:.0}");
    println!(
        "ticket_verify_vs_ecrecover_pct: {:.1}",
        100.0 * verify_one / ecrecover
    );
    println!("ticket_verify_per_s: {verify_all:.0}");
    println!("ticket_verify_threads: {threads}");
    println!("raw_fsync_per_s: {:.0}", raw_fsync_per_s());
    println!(
        "ticket_accept_one_tx_each_per_s_per_core: {:.0}",
        accept_rate_one_transaction_each(&domain)
    );
    println!(
        "ticket_check_per_s_per_core: {:.0}",
        check_rate(&domain, 64)
    );
    let (per_s, per_commit) = accept_rate_group_commit(&domain, 64);
    println!("ticket_accept_per_s_per_core: {per_s:.0}");
    println!("ticket_accept_tickets_per_commit: {per_commit:.1}");
    println!(
        "ticket_booking_cpu_us_per_ticket: {:.2} (the booking alone, {:.0} tickets of distinct senders a commit)",
        booking_cpu_per_ticket(&domain, per_commit.round().max(1.0) as usize) * 1e6,
        per_commit.round().max(1.0)
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (per_s, p50, p99) = runtime.block_on(payment_http());
    println!("payment_http_per_s: {per_s:.0}");
    println!("payment_http_p50_ms: {p50:.2}");
    println!("payment_http_p99_ms: {p99:.2}");
}

/// Tickets of `senders` senders, `per_sender` each (nonces from 0), under parameters issued to
/// each sender and saved in `store`, signed by the senders.
struct Flood {
    validator: Validator,
    params: Vec<TicketParams>,
    /// Per sender, its tickets in nonce order.
    tickets: Vec<Vec<(Ticket, Signature)>>,
}

impl Flood {
    fn new(store: &PaymentStore, domain: &TicketDomain, senders: usize, per_sender: u64) -> Flood {
        let secret = RecipientSecret::new([5; 32]);
        let recipient = Address::repeat_byte(0x0e);
        let policy = ParamsPolicy {
            price_per_pixel: U256::from(1u64),
            face_value: U256::from(1_000_000u64),
            win_prob: U256::MAX / U256::from(100u64),
            lifetime_blocks: 1_000_000,
        };
        let mut params = Vec::new();
        let mut tickets = Vec::new();
        for k in 0..senders {
            let key = [0x11u8.wrapping_add(k as u8); 32];
            let sender = peerflow_protocol::signature::address_of_secret(&key).unwrap();
            let p = TicketParams::issue(&secret, &policy, recipient, sender, 1, 7);
            store.save_params(&p).unwrap();
            tickets.push(
                (0..per_sender)
                    .map(|i| {
                        let t = Ticket {
                            recipient,
                            sender,
                            signer: sender,
                            faceValue: p.face_value,
                            winProb: p.win_prob,
                            senderNonce: U256::from(i),
                            recipientRandHash: p.recipient_rand_hash,
                            creationRound: U256::from(7u64),
                        };
                        let sig = Signature::sign(&key, t.hash(domain)).unwrap();
                        (t, sig)
                    })
                    .collect(),
            );
            params.push(p);
        }
        Flood {
            validator: Validator::new(recipient, *domain, secret),
            params,
            tickets,
        }
    }

    fn count(&self) -> usize {
        self.tickets.iter().map(Vec::len).sum()
    }
}

const FUNDS: SenderFunds = SenderFunds {
    available: U256::MAX,
    unlocking: false,
    signer_authorized: true,
};

/// Validation plus the durable booking in sqlite, one transaction (and fsync) per ticket, one
/// ticket after another: how acceptance worked before the group commit.
fn accept_rate_one_transaction_each(domain: &TicketDomain) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut store = PaymentStore::open(&dir.path().join("bench.sqlite")).unwrap();
    let flood = Flood::new(&store, domain, 1, 2_000);
    let start = Instant::now();
    for (t, s) in &flood.tickets[0] {
        flood.validator.accept(&mut store, t, s, &FUNDS, 2).unwrap();
    }
    rate(flood.count(), start.elapsed())
}

/// Validation plus the durable booking through the [`TicketBook`] (many payments to a commit),
/// with `senders` senders paying at once, one ticket per payment, each waiting for its answer
/// before its next: the node's path without HTTP. Everything (the payers on a single-threaded
/// runtime, the booking thread) is pinned to one core.
fn accept_rate_group_commit(domain: &TicketDomain, senders: usize) -> (f64, f64) {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                pin_to_one_core();
                let dir = tempfile::tempdir().unwrap();
                let db = dir.path().join("bench.sqlite");
                let store = PaymentStore::open(&db).unwrap();
                let flood = Flood::new(&store, domain, senders, (N / senders) as u64);
                let book = TicketBook::open(&db).unwrap();
                let lookups = std::sync::Mutex::new(store);
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let start = Instant::now();
                let booked: usize = runtime.block_on(async {
                    let payers = flood.tickets.iter().map(|tickets| {
                        let (book, flood, lookups) = (&book, &flood, &lookups);
                        async move {
                            let mut booked = 0;
                            for (t, s) in tickets {
                                let params = lookups
                                    .lock()
                                    .unwrap()
                                    .params(t.recipientRandHash)
                                    .unwrap()
                                    .unwrap();
                                let (_, acceptance) =
                                    flood.validator.check(&params, t, s, &FUNDS, 2).unwrap();
                                let answer = book.book(vec![acceptance]).await;
                                assert!(answer.refused.is_none(), "{:?}", answer.refused);
                                booked += answer.booked;
                                // Another payer's turn, as another connection's request would be.
                                tokio::task::yield_now().await;
                            }
                            booked
                        }
                    });
                    futures_util::future::join_all(payers)
                        .await
                        .into_iter()
                        .sum()
                });
                let elapsed = start.elapsed();
                assert_eq!(booked, flood.count());
                let store = PaymentStore::open(&db).unwrap();
                for p in &flood.params {
                    assert_eq!(store.next_nonce(p.sender).unwrap(), (N / senders) as u64);
                }
                (
                    rate(booked, elapsed),
                    booked as f64 / book.commits().max(1) as f64,
                )
            })
            .join()
            .unwrap()
    })
}

/// The check alone (parameters looked up, signature, draw) of the same flood, pinned to one core
/// as above: what acceptance would cost if booking were free.
fn check_rate(domain: &TicketDomain, senders: usize) -> f64 {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                pin_to_one_core();
                let dir = tempfile::tempdir().unwrap();
                let store = PaymentStore::open(&dir.path().join("bench.sqlite")).unwrap();
                let flood = Flood::new(&store, domain, senders, (N / senders) as u64);
                let start = Instant::now();
                let mut ok = 0;
                for tickets in &flood.tickets {
                    for (t, s) in tickets {
                        let params = store.params(t.recipientRandHash).unwrap().unwrap();
                        ok += usize::from(flood.validator.check(&params, t, s, &FUNDS, 2).is_ok());
                    }
                }
                assert_eq!(ok, flood.count());
                rate(ok, start.elapsed())
            })
            .join()
            .unwrap()
    })
}

/// CPU seconds per ticket that booking alone costs (the booking thread's work: one transaction
/// of `per_commit` checked tickets of as many senders, committed and fsync'd, with what it keeps
/// in memory), on this thread's CPU clock: what group commit adds to the check.
fn booking_cpu_per_ticket(domain: &TicketDomain, per_commit: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut store = PaymentStore::open(&dir.path().join("bench.sqlite")).unwrap();
    let senders = per_commit.min(64);
    let flood = Flood::new(&store, domain, senders, (N / senders) as u64);
    let mut checked: Vec<Vec<peerflow_orchestrator::store::Acceptance>> = Vec::new();
    for round in 0..N / senders {
        for (k, tickets) in flood.tickets.iter().enumerate() {
            let (t, s) = &tickets[round];
            let (_, a) = flood
                .validator
                .check(&flood.params[k], t, s, &FUNDS, 2)
                .unwrap();
            checked.push(vec![a]);
        }
    }
    let mut cache = peerflow_orchestrator::store::BookCache::default();
    let started = thread_cpu_seconds();
    for batch in checked.chunks(per_commit) {
        let out = store.accept_batch_with(batch, &mut cache).unwrap();
        assert!(out.iter().all(|o| o.booked == 1));
    }
    (thread_cpu_seconds() - started) / checked.len() as f64
}

/// The CPU time the calling thread has used.
fn thread_cpu_seconds() -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only the timespec passed.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) },
        0
    );
    now.tv_sec as f64 + now.tv_nsec as f64 / 1e9
}

/// Pins the calling thread (and the threads it starts afterwards) to the first CPU it may use.
fn pin_to_one_core() {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_{get,set}affinity read and write
    // only the set passed, of the size passed, for the calling thread (pid 0).
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed),
            0
        );
        let first = (0..libc::CPU_SETSIZE as usize)
            .find(|&c| libc::CPU_ISSET(c, &allowed))
            .expect("a CPU to run on");
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(first, &mut one);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one),
            0
        );
    }
}

/// Raw durable writes of this disk: 4 KiB appended and `fdatasync`ed, one after another, for
/// a second (what one commit at a time cannot beat).
fn raw_fsync_per_s() -> f64 {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(dir.path().join("fsync")).unwrap();
    let block = [7u8; 4096];
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(1) {
        f.write_all(&block).unwrap();
        f.sync_data().unwrap();
        n += 1;
    }
    rate(n, start.elapsed())
}

/// Payments accepted per second through `POST /v1/payment` on loopback (8 concurrent senders, one
/// ticket per request), with latency percentiles.
async fn payment_http() -> (f64, f64, f64) {
    let chain = DevChain::spawn().unwrap();
    let provider = |i: usize| {
        ProviderBuilder::new()
            .wallet(chain.signer(i))
            .connect_http(chain.endpoint().parse().unwrap())
            .erased()
    };
    let deployer = provider(0);
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    let senders: Vec<usize> = (2..10).collect();
    for i in std::iter::once(1).chain(senders.iter().copied()) {
        give(
            &deployer,
            &d,
            chain.address(i),
            parse_ether("1000").unwrap(),
        )
        .await
        .unwrap();
    }
    let o = provider(1);
    register_orchestrator(&o, &d, chain.address(1), parse_ether("50").unwrap(), 0, 0)
        .await
        .unwrap();
    for &i in &senders {
        fund_sender(&provider(i), &d, parse_ether("100").unwrap(), U256::ZERO)
            .await
            .unwrap();
    }
    deployer
        .anvil_mine(Some(d.round_length), None)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let domain = TicketDomain {
        chain_id: chain.chain_id(),
        broker: d.ticket_broker,
    };
    let node = Arc::new(Node::new(
        Validator::new(chain.address(1), domain, RecipientSecret::random()),
        PaymentStore::open(&dir.path().join("payments.sqlite")).unwrap(),
        TicketBook::open(&dir.path().join("payments.sqlite")).unwrap(),
        ChainView::new(
            o.clone(),
            d.ticket_broker,
            chain.address(1),
            d.start_block,
            d.round_length,
        ),
        NodeConfig {
            policy: ParamsPolicy {
                price_per_pixel: U256::from(1u64),
                face_value: parse_ether("0.01").unwrap(),
                win_prob: U256::MAX / U256::from(1000u64),
                lifetime_blocks: 10_000,
            },
            codecs: vec!["h264".into()],
            transcoder_token: "t".into(),
            refresh_margin_blocks: 5,
            job_timeout: Duration::from_secs(1),
            capacity_pixels_per_second: 0,
        },
        ResultSigner::new(
            chain.secret_key(1),
            ResultDomain {
                chain_id: chain.chain_id(),
                staking: d.staking,
            },
        )
        .unwrap(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(node, 1 << 20)).await.unwrap() });

    let http = reqwest::Client::new();
    let run_for = Duration::from_secs(5);
    let mut tasks = Vec::new();
    for &i in &senders {
        let (http, url, key, sender) = (
            http.clone(),
            url.clone(),
            chain.secret_key(i),
            chain.address(i),
        );
        tasks.push(tokio::spawn(async move {
            let info: OrchestratorInfo = http
                .get(format!("{url}/v1/info?sender={sender}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let p = info.ticket_params;
            let mut latencies = Vec::new();
            let start = Instant::now();
            let mut nonce = 0u64;
            while start.elapsed() < run_for {
                let t = p.ticket(sender, nonce);
                let sig = Signature::sign(&key, t.hash(&domain)).unwrap();
                let body = Payment {
                    sender,
                    tickets: vec![TicketMsg::new(&t, &sig)],
                };
                let sent = Instant::now();
                let r = http
                    .post(format!("{url}/v1/payment"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
                latencies.push(sent.elapsed());
                nonce += 1;
            }
            latencies
        }));
    }
    let mut all: Vec<Duration> = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (
        rate(all.len(), run_for),
        ms(all[all.len() / 2]),
        ms(all[all.len() * 99 / 100]),
    )
}
