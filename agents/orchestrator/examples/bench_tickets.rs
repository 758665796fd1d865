//! `./script/bench tickets`: ticket verification and payment throughput, one `name: value` line per
//! figure, with raw libsecp256k1 recovery measured in the same run as the reference.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256, utils::parse_ether};
use alloy::providers::{Provider, ProviderBuilder, ext::AnvilApi};
use peerflow_chain::actions::{fund_sender, give, register_orchestrator};
use peerflow_chain::{DevChain, SuiteParams, deploy_suite};
use peerflow_orchestrator::chain_view::ChainView;
use peerflow_orchestrator::http::router;
use peerflow_orchestrator::{
    Node, NodeConfig, ParamsPolicy, PaymentStore, RecipientSecret, SenderFunds, TicketParams,
    Validator,
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
    println!("ticket_accept_per_s_per_core: {:.0}", accept_rate(&domain));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (per_s, p50, p99) = runtime.block_on(payment_http());
    println!("payment_http_per_s: {per_s:.0}");
    println!("payment_http_p50_ms: {p50:.2}");
    println!("payment_http_p99_ms: {p99:.2}");
}

/// Validation plus the durable booking in sqlite (one transaction per ticket).
fn accept_rate(domain: &TicketDomain) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut store = PaymentStore::open(&dir.path().join("bench.sqlite")).unwrap();
    let secret = RecipientSecret::new([5; 32]);
    let key = [0x11u8; 32];
    let sender = peerflow_protocol::signature::address_of_secret(&key).unwrap();
    let recipient = Address::repeat_byte(0x0e);
    let policy = ParamsPolicy {
        price_per_pixel: U256::from(1u64),
        face_value: U256::from(1_000_000u64),
        win_prob: U256::MAX / U256::from(100u64),
        lifetime_blocks: 1_000_000,
    };
    let params = TicketParams::issue(&secret, &policy, recipient, sender, 1, 7);
    store.save_params(&params).unwrap();
    let validator = Validator::new(recipient, *domain, secret);
    let n = 2_000;
    let batch: Vec<(Ticket, Signature)> = (0..n)
        .map(|i| {
            let t = Ticket {
                recipient,
                sender,
                signer: sender,
                faceValue: params.face_value,
                winProb: params.win_prob,
                senderNonce: U256::from(i),
                recipientRandHash: params.recipient_rand_hash,
                creationRound: U256::from(7u64),
            };
            let sig = Signature::sign(&key, t.hash(domain)).unwrap();
            (t, sig)
        })
        .collect();
    let funds = SenderFunds {
        available: U256::MAX,
        unlocking: false,
        signer_authorized: true,
    };
    let start = Instant::now();
    for (t, s) in &batch {
        validator.accept(&mut store, t, s, &funds, 2).unwrap();
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
