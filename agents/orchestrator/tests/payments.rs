//! Payment validation as an orchestrator sees it: what is accepted and credited, what is refused
//! (with nothing booked), and what survives a restart.

use alloy_primitives::{Address, B256, U256};
use peerflow_orchestrator::store::StoreError;
use peerflow_orchestrator::{
    ParamsPolicy, PaymentError, PaymentStore, RecipientSecret, SenderFunds, TicketParams,
    Validator, WinningTicketStatus,
};
use peerflow_protocol::signature::address_of_secret;
use peerflow_protocol::{Signature, Ticket, TicketDomain, is_winning_ticket, recipient_rand_hash};

const SENDER_KEY: [u8; 32] = [0x11; 32];
const OTHER_KEY: [u8; 32] = [0x22; 32];
const BLOCK: u64 = 1_000;
const ROUND: u64 = 20;

struct Setup {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    store: PaymentStore,
    validator: Validator,
    params: TicketParams,
    sender: Address,
}

fn setup(win_prob: U256) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("payments.sqlite");
    let store = PaymentStore::open(&db).unwrap();
    let recipient = Address::repeat_byte(0x0e);
    let domain = TicketDomain {
        chain_id: 31337,
        broker: Address::repeat_byte(0xb0),
    };
    let secret = RecipientSecret::new([0x42; 32]);
    let sender = address_of_secret(&SENDER_KEY).unwrap();
    let policy = ParamsPolicy {
        price_per_pixel: U256::from(10u64),
        face_value: U256::from(1_000_000_000u64),
        win_prob,
        lifetime_blocks: 20,
    };
    let params = TicketParams::issue(&secret, &policy, recipient, sender, BLOCK, ROUND);
    store.save_params(&params).unwrap();
    Setup {
        _dir: dir,
        db,
        store,
        validator: Validator::new(recipient, domain, secret),
        params,
        sender,
    }
}

fn funded() -> SenderFunds {
    SenderFunds {
        available: U256::from(10u64).pow(U256::from(18u64)),
        unlocking: false,
        signer_authorized: true,
    }
}

fn ticket(s: &Setup, nonce: u64) -> Ticket {
    Ticket {
        recipient: s.validator.recipient,
        sender: s.sender,
        signer: s.sender,
        faceValue: s.params.face_value,
        winProb: s.params.win_prob,
        senderNonce: U256::from(nonce),
        recipientRandHash: s.params.recipient_rand_hash,
        creationRound: U256::from(s.params.creation_round),
    }
}

/// The sender's ticket of `nonce`, checked against `funds`: what booking it takes.
fn checked(s: &Setup, nonce: u64, funds: &SenderFunds) -> peerflow_orchestrator::store::Acceptance {
    let t = ticket(s, nonce);
    let sig = signed(&s.validator, &t, &SENDER_KEY);
    s.validator
        .check(&s.params, &t, &sig, funds, BLOCK)
        .unwrap()
        .1
}

fn signed(v: &Validator, t: &Ticket, key: &[u8; 32]) -> Signature {
    Signature::sign(key, t.hash(&v.domain())).unwrap()
}

#[test]
fn valid_ticket_is_credited_its_expected_value() {
    let mut s = setup(U256::MAX / U256::from(100u64));
    let t = ticket(&s, 0);
    let accepted = s
        .validator
        .accept(
            &mut s.store,
            &t,
            &signed(&s.validator, &t, &SENDER_KEY),
            &funded(),
            BLOCK,
        )
        .unwrap();
    assert_eq!(accepted.credited, s.params.ticket_value());
    assert_eq!(
        accepted.credited,
        U256::from(9_999_999u64),
        "1e9 face value at 1% is 1e7 (minus rounding)"
    );
    assert_eq!(s.store.balance(s.sender).unwrap(), accepted.credited);
    assert_eq!(s.store.next_nonce(s.sender).unwrap(), 1);
}

#[test]
fn parameters_that_take_one_ticket_take_one_in_a_batch_and_after_a_restart() {
    let mut s = setup(U256::MAX);
    let once = |s: &Setup, nonce: u64| {
        let t = ticket(s, nonce);
        let sig = signed(&s.validator, &t, &SENDER_KEY);
        let mut a = s
            .validator
            .check(&s.params, &t, &sig, &funded(), BLOCK)
            .unwrap()
            .1;
        a.spends_params = Some(s.params.recipient_rand_hash);
        a
    };
    let hash = s.params.recipient_rand_hash;
    assert!(!s.store.params_spent(hash).unwrap());
    // Two tickets under the same one-ticket parameters, fresh nonces, one batch: one is booked.
    let out = s
        .store
        .accept_batch(&[vec![once(&s, 0)], vec![once(&s, 1)]])
        .unwrap();
    assert_eq!(out[0].booked, 1);
    assert_eq!(out[1].booked, 0);
    assert!(matches!(out[1].refused, Some(StoreError::ParamsSpent(h)) if h == hash));
    assert!(s.store.params_spent(hash).unwrap());
    // After a restart, a third one with a fresh nonce is refused too and books nothing.
    drop(s.store);
    s.store = PaymentStore::open(&s.db).unwrap();
    let err = s.store.accept(&once(&s, 7)).unwrap_err();
    assert!(matches!(err, StoreError::ParamsSpent(_)), "{err}");
    assert_eq!(s.store.next_nonce(s.sender).unwrap(), 1);
    let winners = s
        .store
        .winning_tickets(WinningTicketStatus::Pending)
        .unwrap();
    assert_eq!(winners.len(), 1, "one winner queued, not three");
}

#[test]
fn one_ticket_parameters_take_any_unused_nonce_but_never_a_used_one() {
    let mut s = setup(U256::MAX);
    let under = |s: &Setup, seed: u8, nonce: u64| {
        let mut p = s.params.clone();
        p.seed = B256::repeat_byte(seed);
        p.recipient_rand_hash =
            recipient_rand_hash(RecipientSecret::new([0x42; 32]).recipient_rand(p.seed, s.sender));
        s.store.save_params(&p).unwrap();
        let mut t = ticket(s, nonce);
        t.recipientRandHash = p.recipient_rand_hash;
        let sig = signed(&s.validator, &t, &SENDER_KEY);
        let mut a = s.validator.check(&p, &t, &sig, &funded(), BLOCK).unwrap().1;
        a.spends_params = Some(p.recipient_rand_hash);
        a
    };
    s.store.accept(&under(&s, 1, 5)).unwrap();
    // An older nonce never used: a payer resending its ticket after a later one was booked.
    s.store.accept(&under(&s, 2, 3)).unwrap();
    assert_eq!(s.store.next_nonce(s.sender).unwrap(), 6);
    for (seed, nonce) in [(3, 5), (4, 3)] {
        let err = s.store.accept(&under(&s, seed, nonce)).unwrap_err();
        assert!(matches!(err, StoreError::NonceReplayed { .. }), "{err}");
    }
}

#[test]
fn replayed_ticket_is_refused_even_after_a_restart() {
    let mut s = setup(U256::ZERO);
    let t = ticket(&s, 5);
    let sig = signed(&s.validator, &t, &SENDER_KEY);
    s.validator
        .accept(&mut s.store, &t, &sig, &funded(), BLOCK)
        .unwrap();
    let err = s
        .validator
        .accept(&mut s.store, &t, &sig, &funded(), BLOCK)
        .unwrap_err();
    assert_eq!(err.code(), "ticket_replayed");

    drop(std::mem::replace(
        &mut s.store,
        PaymentStore::open(&s.db).unwrap(),
    ));
    let err = s
        .validator
        .accept(&mut s.store, &t, &sig, &funded(), BLOCK)
        .unwrap_err();
    assert!(
        matches!(
            err,
            PaymentError::Store(StoreError::NonceReplayed {
                nonce: 5,
                next: 6,
                ..
            })
        ),
        "{err}"
    );
    let lower = ticket(&s, 4);
    let err = s.validator.accept(
        &mut s.store,
        &lower,
        &signed(&s.validator, &lower, &SENDER_KEY),
        &funded(),
        BLOCK,
    );
    assert_eq!(err.unwrap_err().code(), "ticket_replayed");
}

#[test]
fn refused_tickets_book_nothing() {
    let mut s = setup(U256::MAX);
    let t = ticket(&s, 0);
    let good = signed(&s.validator, &t, &SENDER_KEY);
    let cases: Vec<(&str, Ticket, Signature, SenderFunds, u64)> = vec![
        (
            "ticket_params_expired",
            t.clone(),
            good,
            funded(),
            s.params.expiration_block + 1,
        ),
        (
            "invalid_signature",
            t.clone(),
            signed(&s.validator, &t, &OTHER_KEY),
            funded(),
            BLOCK,
        ),
        (
            "unauthorized_signer",
            t.clone(),
            good,
            SenderFunds {
                signer_authorized: false,
                ..funded()
            },
            BLOCK,
        ),
        (
            "sender_unlocking",
            t.clone(),
            good,
            SenderFunds {
                unlocking: true,
                ..funded()
            },
            BLOCK,
        ),
        (
            "insufficient_deposit",
            t.clone(),
            good,
            SenderFunds {
                available: U256::from(1u64),
                ..funded()
            },
            BLOCK,
        ),
    ];
    for (code, ticket, sig, funds, block) in cases {
        let err = s
            .validator
            .accept(&mut s.store, &ticket, &sig, &funds, block)
            .unwrap_err();
        assert_eq!(err.code(), code, "{err}");
    }
    let mut bigger = t.clone();
    bigger.faceValue += U256::from(1u64);
    let err = s.validator.accept(
        &mut s.store,
        &bigger,
        &signed(&s.validator, &bigger, &SENDER_KEY),
        &funded(),
        BLOCK,
    );
    assert_eq!(err.unwrap_err().code(), "ticket_params_mismatch");
    let mut elsewhere = t.clone();
    elsewhere.recipient = Address::repeat_byte(0x99);
    let err = s.validator.accept(
        &mut s.store,
        &elsewhere,
        &signed(&s.validator, &elsewhere, &SENDER_KEY),
        &funded(),
        BLOCK,
    );
    assert_eq!(err.unwrap_err().code(), "wrong_recipient");
    let mut unknown = t.clone();
    unknown.recipientRandHash = B256::repeat_byte(1);
    let err = s.validator.accept(
        &mut s.store,
        &unknown,
        &signed(&s.validator, &unknown, &SENDER_KEY),
        &funded(),
        BLOCK,
    );
    assert_eq!(err.unwrap_err().code(), "ticket_params_expired");

    assert_eq!(s.store.balance(s.sender).unwrap(), U256::ZERO);
    assert_eq!(
        s.store.next_nonce(s.sender).unwrap(),
        0,
        "no nonce consumed"
    );
    assert!(
        s.store
            .winning_tickets(WinningTicketStatus::Pending)
            .unwrap()
            .is_empty()
    );
    s.validator
        .accept(&mut s.store, &t, &good, &funded(), BLOCK)
        .expect("the good ticket still pays");
}

#[test]
fn winning_ticket_is_queued_redeemable_after_params_expire_and_survives_restart() {
    let mut s = setup(U256::MAX);
    let t = ticket(&s, 3);
    let sig = signed(&s.validator, &t, &SENDER_KEY);
    assert!(
        s.validator
            .accept(&mut s.store, &t, &sig, &funded(), BLOCK)
            .unwrap()
            .winning
    );

    let store = PaymentStore::open(&s.db).unwrap();
    let queued = store.winning_tickets(WinningTicketStatus::Pending).unwrap();
    assert_eq!(queued.len(), 1);
    let w = &queued[0];
    assert_eq!((w.signer, w.nonce, w.sender), (s.sender, 3, s.sender));
    assert_eq!(w.redeemable_from_block, s.params.expiration_block + 1);
    let (unpacked, unpacked_sig) = w.wire.unpack(s.validator.recipient);
    assert_eq!(unpacked, t);
    assert_eq!(unpacked_sig, sig);
    assert_eq!(
        recipient_rand_hash(w.wire.recipient_rand),
        s.params.recipient_rand_hash,
        "rand revealed"
    );
    assert!(is_winning_ticket(&sig, w.wire.recipient_rand, t.winProb));
}

#[test]
fn work_is_debited_at_the_orchestrators_price_or_not_at_all() {
    let mut s = setup(U256::MAX);
    let t = ticket(&s, 0);
    s.validator
        .accept(
            &mut s.store,
            &t,
            &signed(&s.validator, &t, &SENDER_KEY),
            &funded(),
            BLOCK,
        )
        .unwrap();
    let pixels = U256::from(640u64 * 360 * 60);
    let cost = s.params.price_per_pixel * pixels;
    let left = s.store.debit(s.sender, cost).unwrap();
    assert_eq!(left, s.params.face_value - cost);
    let err = s
        .store
        .debit(s.sender, left + U256::from(1u64))
        .unwrap_err();
    assert!(matches!(err, StoreError::InsufficientBalance { .. }));
    assert_eq!(
        s.store.balance(s.sender).unwrap(),
        left,
        "a refused debit takes nothing"
    );
}

/// The API, the redeemer and the earnings scan write the same database from their own
/// connections: writers wait for each other (write transactions take the lock when they begin,
/// and a connection waits up to 30 s for another's commit) instead of failing with "database is
/// locked", which reached a broadcaster as a 503 once under load. Four writers at once: every
/// acceptance is booked.
#[test]
fn concurrent_connections_wait_for_each_other_instead_of_failing() {
    use peerflow_orchestrator::store::Acceptance;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("payments.sqlite");
    PaymentStore::open(&db).unwrap();
    let writers: Vec<_> = [1u8, 2, 3, 4]
        .into_iter()
        .map(|who| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut store = PaymentStore::open(&db).unwrap();
                let signer = Address::repeat_byte(who);
                for nonce in 0..300 {
                    store
                        .accept(&Acceptance {
                            signer,
                            nonce,
                            sender: signer,
                            credit: U256::from(1u64),
                            winner: None,
                            face_value: U256::from(1u64),
                            deposit: U256::from(1u64),
                            spends_params: None,
                        })
                        .unwrap_or_else(|e| panic!("writer {who}, nonce {nonce}: {e}"));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let store = PaymentStore::open(&db).unwrap();
    for who in [1u8, 2, 3, 4] {
        assert_eq!(
            store.next_nonce(Address::repeat_byte(who)).unwrap(),
            300,
            "every acceptance of writer {who} booked"
        );
    }
}

/// Many payments are booked in one transaction ([`PaymentStore::accept_batch`]); each sees what
/// the ones before it in the batch booked: the same nonce sent in two payments is booked once,
/// the winners of one payment count against the deposit for the next, and a payment refused
/// part-way keeps the tickets before the refusal and takes nothing from the payments after it.
#[test]
fn one_batch_books_each_nonce_once_and_counts_each_winner_against_the_deposit() {
    let mut s = setup(U256::MAX); // every ticket wins
    let face = s.params.face_value;
    let funds = SenderFunds {
        // Room for three winners and a half.
        available: face * U256::from(7u64) / U256::from(2u64),
        ..funded()
    };
    let accepted = |s: &Setup, nonce: u64| checked(s, nonce, &funds);
    let groups = vec![
        vec![accepted(&s, 0)],
        vec![accepted(&s, 0)], // the same ticket again, in the same batch
        vec![accepted(&s, 1), accepted(&s, 1), accepted(&s, 2)], // a replay mid-payment
        vec![accepted(&s, 2), accepted(&s, 3)], // 2 is booked now; 3 would be the fourth winner
        vec![accepted(&s, 3)],
    ];
    let out = s.store.accept_batch(&groups).unwrap();
    let booked: Vec<usize> = out.iter().map(|o| o.booked).collect();
    assert_eq!(booked, [1, 0, 1, 1, 0]);
    assert!(out[0].refused.is_none());
    assert!(matches!(
        out[1].refused,
        Some(StoreError::NonceReplayed {
            nonce: 0,
            next: 1,
            ..
        })
    ));
    assert!(matches!(
        out[2].refused,
        Some(StoreError::NonceReplayed {
            nonce: 1,
            next: 2,
            ..
        })
    ));
    assert!(matches!(
        out[3].refused,
        Some(StoreError::FundsSpokenFor { .. })
    ));
    assert!(matches!(
        out[4].refused,
        Some(StoreError::FundsSpokenFor { .. })
    ));
    // Nonces 0, 1, 2 booked once each, and all of it durable: read from a fresh connection.
    let store = PaymentStore::open(&s.db).unwrap();
    assert_eq!(store.next_nonce(s.sender).unwrap(), 3);
    assert_eq!(
        store.balance(s.sender).unwrap(),
        s.params.ticket_value() * U256::from(3u64)
    );
    assert_eq!(
        store.pending_face_value(s.sender).unwrap(),
        face * U256::from(3u64)
    );
    let winners = store.winning_tickets(WinningTicketStatus::Pending).unwrap();
    assert_eq!(
        winners.iter().map(|w| w.nonce).collect::<Vec<_>>(),
        [0, 1, 2]
    );
}

/// The ticket book keeps each signer's next nonce, each sender's credit and pending winners in
/// memory between its batches ([`PaymentStore::accept_batch_with`]). Whatever another connection
/// writes in between is seen by the next batch: a nonce booked elsewhere is not booked again
/// (no double acceptance), a debit made elsewhere is not undone by the next credit, and a winner
/// redeemed elsewhere frees its share of the deposit.
#[test]
fn a_cached_batch_sees_what_other_connections_wrote_in_between() {
    use peerflow_orchestrator::store::BookCache;
    let mut s = setup(U256::MAX); // every ticket wins
    let face = s.params.face_value;
    let value = s.params.ticket_value();
    let funds = SenderFunds {
        available: face * U256::from(2u64), // room for two winners
        ..funded()
    };
    let accepted = |s: &Setup, nonce: u64| checked(s, nonce, &funds);
    let mut book = PaymentStore::open(&s.db).unwrap();
    let mut cache = BookCache::default();
    let mut batch = |s: &Setup, nonce: u64| {
        book.accept_batch_with(&[vec![accepted(s, nonce)]], &mut cache)
            .unwrap()
            .pop()
            .unwrap()
    };
    assert_eq!(batch(&s, 0).booked, 1);
    // Meanwhile another connection books nonce 1 and takes some credit.
    s.store.accept(&accepted(&s, 1)).unwrap();
    s.store.debit(s.sender, value / U256::from(2u64)).unwrap();
    let again = batch(&s, 1);
    assert!(
        matches!(
            again.refused,
            Some(StoreError::NonceReplayed {
                nonce: 1,
                next: 2,
                ..
            })
        ),
        "{again:?}"
    );
    // Two winners wait here: the deposit is spoken for.
    let full = batch(&s, 2);
    assert!(
        matches!(full.refused, Some(StoreError::FundsSpokenFor { .. })),
        "{full:?}"
    );
    // One is redeemed elsewhere: its share is free again.
    let first = s
        .store
        .winning_tickets(WinningTicketStatus::Pending)
        .unwrap()[0]
        .id;
    s.store
        .record_attempt(first, WinningTicketStatus::Redeemed, None, None)
        .unwrap();
    assert_eq!(batch(&s, 2).booked, 1);
    assert_eq!(
        s.store.balance(s.sender).unwrap(),
        value * U256::from(3u64) - value / U256::from(2u64),
        "three tickets credited, the debit kept"
    );
    assert_eq!(s.store.next_nonce(s.sender).unwrap(), 3);
}

/// The booking thread ([`TicketBook`]) under racing payments: sixteen payments of the same
/// ticket at once are booked once; eight winners of eight signers of one sender at once, with
/// room in the deposit for three, are booked three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_payments_through_the_ticket_book_are_booked_once_within_the_deposit() {
    use peerflow_orchestrator::TicketBook;
    use peerflow_orchestrator::store::Acceptance;
    let s = setup(U256::MAX);
    let book = TicketBook::open(&s.db).unwrap();
    let face = s.params.face_value;
    let t = ticket(&s, 0);
    let sig = signed(&s.validator, &t, &SENDER_KEY);
    let (_, same) = s
        .validator
        .check(&s.params, &t, &sig, &funded(), BLOCK)
        .unwrap();
    let replies = all((0..16)
        .map(|_| {
            let (book, same) = (book.clone(), same.clone());
            tokio::spawn(async move { book.book(vec![same]).await })
        })
        .collect())
    .await;
    assert_eq!(replies.iter().map(|r| r.booked).sum::<usize>(), 1);
    assert_eq!(
        replies
            .iter()
            .filter(|r| matches!(r.refused, Some(StoreError::NonceReplayed { .. })))
            .count(),
        15
    );

    let deposit = face * U256::from(4u64) + face / U256::from(2u64); // one winner is pending
    let winners: Vec<Acceptance> = (1..=8u8)
        .map(|k| Acceptance {
            signer: Address::repeat_byte(k),
            deposit,
            ..same.clone()
        })
        .collect();
    let replies = all(winners
        .into_iter()
        .map(|w| {
            let book = book.clone();
            tokio::spawn(async move { book.book(vec![w]).await })
        })
        .collect())
    .await;
    assert_eq!(replies.iter().map(|r| r.booked).sum::<usize>(), 3);
    assert_eq!(
        replies
            .iter()
            .filter(|r| matches!(r.refused, Some(StoreError::FundsSpokenFor { .. })))
            .count(),
        5
    );
    let store = PaymentStore::open(&s.db).unwrap();
    assert_eq!(
        store.pending_face_value(s.sender).unwrap(),
        face * U256::from(4u64)
    );
    assert_eq!(
        store.balance(s.sender).unwrap(),
        s.params.ticket_value() * U256::from(4u64)
    );
}

async fn all<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
