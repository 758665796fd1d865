//! Durable payment state in sqlite: issued parameters, per-signer nonce high-water marks, each
//! sender's credit, and the winning-ticket queue. Accepting a ticket is one transaction, so a crash
//! never leaves a ticket half-accepted, and a restart keeps both replay protection and every winner.

use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use alloy_primitives::{Address, B256, U256};
use peerflow_protocol::SignedTicket;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::params::TicketParams;

/// How long a connection waits for another's write before giving up: long enough for a commit
/// stalled behind a loaded disk (its fsync), which is how "database is locked" reached a
/// broadcaster as a 503 under load with SQLite's default of 5 s.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Errors from the payment store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("nonce {nonce} already used by {signer} (next acceptable: {next})")]
    NonceReplayed {
        signer: Address,
        nonce: u64,
        next: u64,
    },
    #[error("{sender} has {available} credit, {requested} requested")]
    InsufficientBalance {
        sender: Address,
        available: U256,
        requested: U256,
    },
    #[error("request nonce {nonce} of {sender} was used or is too old (next sure to pass: {next})")]
    RequestReplayed {
        sender: Address,
        nonce: u64,
        next: u64,
    },
    #[error(
        "{sender} has {deposit} in deposit, {spoken_for} of it spoken for by winners waiting here; a ticket may pay {face_value}"
    )]
    FundsSpokenFor {
        sender: Address,
        deposit: U256,
        spoken_for: U256,
        face_value: U256,
    },
    /// The parameters take one ticket (a lease interval's) and one was booked already.
    #[error("the parameters {0} were paid already")]
    ParamsSpent(B256),
    #[error("corrupt row: {0}")]
    Corrupt(&'static str),
    /// The batch these tickets were booked in failed as a whole (its first error is this one's
    /// text); nothing of it was booked.
    #[error("booking failed: {0}")]
    Batch(String),
    #[error("the ticket book has stopped")]
    BookClosed,
}

/// Where a winning ticket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WinningTicketStatus {
    /// Waiting for its parameters to expire, or for a retry.
    Pending,
    /// In a mined redemption transaction (`tx_hash`) that does not have its confirmations yet: a
    /// reorg may still take it out, when it goes back to `Pending`.
    Submitted,
    Redeemed,
    /// The chain refused it for good (e.g. expired): kept with the reason, never deleted.
    Failed,
}

impl WinningTicketStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Submitted => "submitted",
            Self::Redeemed => "redeemed",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(Self::Pending),
            "submitted" => Ok(Self::Submitted),
            "redeemed" => Ok(Self::Redeemed),
            "failed" => Ok(Self::Failed),
            _ => Err(StoreError::Corrupt("winning_tickets.status")),
        }
    }
}

/// A winning ticket in the redemption queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WinningTicket {
    pub id: i64,
    pub signer: Address,
    pub nonce: u64,
    pub sender: Address,
    pub face_value: U256,
    pub creation_round: u64,
    /// First block at which revealing `recipientRand` is safe (its parameters have expired).
    pub redeemable_from_block: u64,
    pub wire: SignedTicket,
    pub status: WinningTicketStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub tx_hash: Option<B256>,
}

/// One accepted ticket: its nonce, the credit it earns its sender, and the winner to queue, if any.
#[derive(Debug, Clone)]
pub struct Acceptance {
    pub signer: Address,
    pub nonce: u64,
    pub sender: Address,
    pub credit: U256,
    pub winner: Option<NewWinner>,
    /// What the ticket may pay if it wins, and what the sender's deposit (with this
    /// orchestrator's share of the reserve) held when the chain was read: the ticket is refused
    /// unless the deposit, less the face value of the sender's winners still waiting here,
    /// covers it. Read in the booking transaction, so concurrent payments cannot each count the
    /// same funds.
    pub face_value: U256,
    pub deposit: U256,
    /// Parameters that take this one ticket and no other (a lease interval's): booked once, and
    /// a second ticket under them is refused with [`StoreError::ParamsSpent`]. `None`: any
    /// number of tickets (a stream's parameters).
    pub spends_params: Option<B256>,
}

/// How a group of tickets given to [`PaymentStore::accept_batch`] fared: the first `booked` of
/// them are booked; the one after, if any, was refused for `refused` and the rest not looked at.
#[derive(Debug)]
pub struct Booked {
    pub booked: usize,
    pub refused: Option<StoreError>,
}

/// A winning ticket about to be queued.
#[derive(Debug, Clone)]
pub struct NewWinner {
    pub face_value: U256,
    pub creation_round: u64,
    pub redeemable_from_block: u64,
    pub wire: SignedTicket,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS params (
    rand_hash BLOB PRIMARY KEY, seed BLOB NOT NULL, recipient BLOB NOT NULL, sender BLOB NOT NULL,
    face_value BLOB NOT NULL, win_prob BLOB NOT NULL, creation_round INTEGER NOT NULL,
    expiration_block INTEGER NOT NULL, price_per_pixel BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (signer BLOB PRIMARY KEY, next_nonce INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS balances (sender BLOB PRIMARY KEY, credit BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS winning_tickets (
    id INTEGER PRIMARY KEY, signer BLOB NOT NULL, nonce INTEGER NOT NULL, sender BLOB NOT NULL,
    face_value BLOB NOT NULL, creation_round INTEGER NOT NULL, redeemable_from_block INTEGER NOT NULL,
    wire BLOB NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    tx_hash BLOB, UNIQUE (signer, nonce));
CREATE INDEX IF NOT EXISTS winning_tickets_by_sender ON winning_tickets (sender, status);
CREATE TABLE IF NOT EXISTS earnings_scan (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spent_params (rand_hash BLOB PRIMARY KEY);
CREATE TABLE IF NOT EXISTS once_nonces (signer BLOB NOT NULL, nonce INTEGER NOT NULL,
    PRIMARY KEY (signer, nonce));
CREATE TABLE IF NOT EXISTS request_nonces (
    sender BLOB NOT NULL, nonce INTEGER NOT NULL, PRIMARY KEY (sender, nonce));
";

/// Request nonces of one sender are accepted once each, and only within this many of the highest
/// seen (concurrent requests may arrive out of order); older ones are forgotten.
pub const REQUEST_NONCE_WINDOW: u64 = 256;

/// The orchestrator's payment database.
pub struct PaymentStore {
    conn: Connection,
    /// Parameters read or saved here, by their commitment (a row never changes once written;
    /// a prune empties it). Every ticket's check reads them.
    params_cache: RefCell<HashMap<B256, TicketParams>>,
}

/// The most parameters [`PaymentStore`] keeps in memory (emptied when full).
const PARAMS_CACHE: usize = 4096;

/// What [`PaymentStore::accept_batch_with`] read and booked: each signer's next nonce, each
/// sender's credit and the face value of its pending winners, as the database holds them while
/// no other connection has written it since (SQLite's `data_version` unchanged). It never
/// outlives a write by anyone else: the next batch finds the version changed and reads again.
#[derive(Debug, Default)]
pub struct BookCache {
    version: Option<i64>,
    next_nonce: HashMap<Address, u64>,
    balance: HashMap<Address, U256>,
    pending: HashMap<Address, U256>,
}

/// The most signers or senders a [`BookCache`] holds (emptied when full).
const BOOK_CACHE: usize = 65_536;

impl BookCache {
    /// Empties the cache unless the database is at `version`, the data version it was filled
    /// at (another connection wrote in between otherwise).
    fn validate(&mut self, version: i64) {
        if self.version != Some(version) {
            *self = BookCache {
                version: Some(version),
                ..BookCache::default()
            };
        }
    }

    /// Keeps what a batch read or committed (its own writes leave the data version as it is).
    fn keep(
        &mut self,
        next_nonce: HashMap<Address, u64>,
        balance: HashMap<Address, U256>,
        pending: HashMap<Address, U256>,
    ) {
        self.next_nonce.extend(next_nonce);
        self.balance.extend(balance);
        self.pending.extend(pending);
        if [
            &self.next_nonce.len(),
            &self.balance.len(),
            &self.pending.len(),
        ]
        .iter()
        .any(|&&n| n > BOOK_CACHE)
        {
            let version = self.version;
            *self = BookCache {
                version,
                ..BookCache::default()
            };
        }
    }
}

impl PaymentStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        // The API, the redeemer and the earnings scan each hold a connection: a writer waits for
        // another's write instead of failing with "database is locked".
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn,
            params_cache: RefCell::new(HashMap::new()),
        })
    }

    pub fn save_params(&self, p: &TicketParams) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO params VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                p.recipient_rand_hash.as_slice(),
                p.seed.as_slice(),
                p.recipient.as_slice(),
                p.sender.as_slice(),
                word(p.face_value),
                word(p.win_prob),
                p.creation_round as i64,
                p.expiration_block as i64,
                word(p.price_per_pixel),
            ],
        )?;
        self.cache_params(p);
        Ok(())
    }

    fn cache_params(&self, p: &TicketParams) {
        let mut cache = self.params_cache.borrow_mut();
        if cache.len() >= PARAMS_CACHE {
            cache.clear();
        }
        cache.insert(p.recipient_rand_hash, p.clone());
    }

    /// The parameters whose commitment is `rand_hash`.
    pub fn params(&self, rand_hash: B256) -> Result<Option<TicketParams>, StoreError> {
        if let Some(p) = self.params_cache.borrow().get(&rand_hash) {
            return Ok(Some(p.clone()));
        }
        let found = self
            .conn
            .query_row(
                "SELECT * FROM params WHERE rand_hash = ?1",
                [rand_hash.as_slice()],
                |row| {
                    Ok(TicketParams {
                        recipient_rand_hash: B256::from_slice(&row.get::<_, Vec<u8>>(0)?),
                        seed: B256::from_slice(&row.get::<_, Vec<u8>>(1)?),
                        recipient: Address::from_slice(&row.get::<_, Vec<u8>>(2)?),
                        sender: Address::from_slice(&row.get::<_, Vec<u8>>(3)?),
                        face_value: U256::from_be_slice(&row.get::<_, Vec<u8>>(4)?),
                        win_prob: U256::from_be_slice(&row.get::<_, Vec<u8>>(5)?),
                        creation_round: row.get::<_, i64>(6)? as u64,
                        expiration_block: row.get::<_, i64>(7)? as u64,
                        price_per_pixel: U256::from_be_slice(&row.get::<_, Vec<u8>>(8)?),
                    })
                },
            )
            .optional()?;
        if let Some(p) = &found {
            self.cache_params(p);
        }
        Ok(found)
    }

    /// The lowest nonce `signer` may still use.
    pub fn next_nonce(&self, signer: Address) -> Result<u64, StoreError> {
        next_nonce_in(&self.conn, signer)
    }

    /// Records an accepted ticket atomically: nonce above every earlier one, funds not spoken for,
    /// credit, winner.
    pub fn accept(&mut self, a: &Acceptance) -> Result<(), StoreError> {
        let mut outcome = self.accept_batch(std::slice::from_ref(&vec![a.clone()]))?;
        match outcome.pop().and_then(|o| o.refused) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Books groups of tickets in one transaction (one commit, one fsync, for them all). The
    /// tickets of a group are booked in order up to the first one refused (a replayed nonce,
    /// funds spoken for), which ends its group only; each later group sees what the earlier ones
    /// booked. On an error of the database itself nothing is booked.
    pub fn accept_batch(&mut self, groups: &[Vec<Acceptance>]) -> Result<Vec<Booked>, StoreError> {
        self.accept_batch_with(groups, &mut BookCache::default())
    }

    /// [`PaymentStore::accept_batch`], reading the nonces, credit and pending winners it needs
    /// from `cache` where it holds them, and keeping there what it read and booked. For a
    /// connection that does nothing but book (the [`crate::TicketBook`]'s): the cache is emptied
    /// whenever another connection has written the database since (its data version changed).
    pub fn accept_batch_with(
        &mut self,
        groups: &[Vec<Acceptance>],
        cache: &mut BookCache,
    ) -> Result<Vec<Booked>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Read inside the write transaction: nobody else writes until it ends.
        let version: i64 = tx.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        cache.validate(version);
        let mut next_nonce: HashMap<Address, u64> = HashMap::new();
        let mut credit: HashMap<Address, U256> = HashMap::new();
        let mut spoken_for: HashMap<Address, U256> = HashMap::new();
        let mut winners: Vec<&Acceptance> = Vec::new();
        let mut booked_signers: HashSet<Address> = HashSet::new();
        let mut spent: Vec<B256> = Vec::new();
        let mut once: Vec<(Address, u64)> = Vec::new();
        let mut outcomes = Vec::with_capacity(groups.len());
        for group in groups {
            let mut booked = Booked {
                booked: 0,
                refused: None,
            };
            for a in group {
                let next = match next_nonce.entry(a.signer) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(match cache.next_nonce.get(&a.signer) {
                        Some(&n) => n,
                        None => next_nonce_in(&tx, a.signer)?,
                    }),
                };
                // A ticket that takes its parameters once (a lease interval's) needs a nonce never
                // used, not one above every other: its payer may resend it after a later one.
                let replayed = match a.spends_params {
                    None => a.nonce < *next,
                    Some(_) => {
                        once.contains(&(a.signer, a.nonce))
                            || once_nonce_used_in(&tx, a.signer, a.nonce)?
                    }
                };
                if replayed {
                    booked.refused = Some(StoreError::NonceReplayed {
                        signer: a.signer,
                        nonce: a.nonce,
                        next: *next,
                    });
                    break;
                }
                if let Some(h) = a.spends_params
                    && (spent.contains(&h) || params_spent_in(&tx, h)?)
                {
                    booked.refused = Some(StoreError::ParamsSpent(h));
                    break;
                }
                let pending = match spoken_for.entry(a.sender) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(match cache.pending.get(&a.sender) {
                        Some(&p) => p,
                        None => pending_face_value_in(&tx, a.sender)?,
                    }),
                };
                if a.deposit.saturating_sub(*pending) < a.face_value {
                    booked.refused = Some(StoreError::FundsSpokenFor {
                        sender: a.sender,
                        deposit: a.deposit,
                        spoken_for: *pending,
                        face_value: a.face_value,
                    });
                    break;
                }
                *next = (*next).max(a.nonce + 1);
                booked_signers.insert(a.signer);
                spent.extend(a.spends_params);
                if a.spends_params.is_some() {
                    once.push((a.signer, a.nonce));
                }
                if let Some(w) = &a.winner {
                    *pending += w.face_value;
                    winners.push(a);
                }
                let sender_credit = match credit.entry(a.sender) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(match cache.balance.get(&a.sender) {
                        Some(&c) => c,
                        None => balance_in(&tx, a.sender)?,
                    }),
                };
                *sender_credit += a.credit;
                booked.booked += 1;
            }
            outcomes.push(booked);
        }
        // Nothing booked (replays, say): nothing to write, and no commit to wait for.
        if booked_signers.is_empty() {
            cache.keep(next_nonce, HashMap::new(), spoken_for);
            return Ok(outcomes);
        }
        {
            let mut set_nonce = tx.prepare_cached(
                "INSERT INTO nonces VALUES (?1, ?2) ON CONFLICT (signer) DO UPDATE SET next_nonce = ?2",
            )?;
            for signer in &booked_signers {
                set_nonce.execute(params![signer.as_slice(), next_nonce[signer] as i64])?;
            }
        }
        for h in &spent {
            tx.execute("INSERT INTO spent_params VALUES (?1)", [h.as_slice()])?;
        }
        for (signer, nonce) in &once {
            tx.execute(
                "INSERT INTO once_nonces VALUES (?1, ?2)",
                params![signer.as_slice(), *nonce as i64],
            )?;
        }
        // Only senders with a booked ticket are in `credit`.
        for (sender, credit) in &credit {
            set_balance_in(&tx, *sender, *credit)?;
        }
        for a in winners {
            let w = a.winner.as_ref().expect("only winners are listed");
            tx.execute(
                "INSERT INTO winning_tickets (signer, nonce, sender, face_value, creation_round,
                 redeemable_from_block, wire, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending')",
                params![
                    a.signer.as_slice(),
                    a.nonce as i64,
                    a.sender.as_slice(),
                    word(w.face_value),
                    w.creation_round as i64,
                    w.redeemable_from_block as i64,
                    wire_bytes(&w.wire),
                ],
            )?;
        }
        tx.commit()?;
        cache.keep(next_nonce, credit, spoken_for);
        Ok(outcomes)
    }

    /// Whether parameters that take one ticket ([`Acceptance::spends_params`]) took it.
    pub fn params_spent(&self, rand_hash: B256) -> Result<bool, StoreError> {
        params_spent_in(&self.conn, rand_hash)
    }

    /// A sender's unspent credit.
    pub fn balance(&self, sender: Address) -> Result<U256, StoreError> {
        balance_in(&self.conn, sender)
    }

    /// Debits `amount` from `sender`'s credit, or fails leaving it untouched.
    pub fn debit(&mut self, sender: Address, amount: U256) -> Result<U256, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let available = balance_in(&tx, sender)?;
        if available < amount {
            return Err(StoreError::InsufficientBalance {
                sender,
                available,
                requested: amount,
            });
        }
        set_balance_in(&tx, sender, available - amount)?;
        tx.commit()?;
        Ok(available - amount)
    }

    /// Gives back `amount` of a reservation that was not spent; returns the new balance.
    pub fn refund(&mut self, sender: Address, amount: U256) -> Result<U256, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let credit = balance_in(&tx, sender)? + amount;
        set_balance_in(&tx, sender, credit)?;
        tx.commit()?;
        Ok(credit)
    }

    /// Uses `sender`'s request nonce `nonce` (a request may touch the sender's credit once per
    /// nonce). Refused if used before or older than [`REQUEST_NONCE_WINDOW`] below the highest.
    pub fn use_request_nonce(&mut self, sender: Address, nonce: u64) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let highest: Option<i64> = tx.query_row(
            "SELECT MAX(nonce) FROM request_nonces WHERE sender = ?1",
            [sender.as_slice()],
            |r| r.get(0),
        )?;
        let next = highest.map_or(0, |h| h as u64 + 1);
        let replayed = || StoreError::RequestReplayed {
            sender,
            nonce,
            next,
        };
        if nonce > i64::MAX as u64
            || highest.is_some_and(|h| nonce + REQUEST_NONCE_WINDOW <= h as u64)
        {
            return Err(replayed());
        }
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO request_nonces VALUES (?1, ?2)",
            params![sender.as_slice(), nonce as i64],
        )?;
        if inserted == 0 {
            return Err(replayed());
        }
        let top = highest.map_or(nonce, |h| (h as u64).max(nonce));
        tx.execute(
            "DELETE FROM request_nonces WHERE sender = ?1 AND nonce + ?2 <= ?3",
            params![sender.as_slice(), REQUEST_NONCE_WINDOW as i64, top as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The lowest request nonce sure to be accepted from `sender` (one above the highest used).
    pub fn next_request_nonce(&self, sender: Address) -> Result<u64, StoreError> {
        let highest: Option<i64> = self.conn.query_row(
            "SELECT MAX(nonce) FROM request_nonces WHERE sender = ?1",
            [sender.as_slice()],
            |r| r.get(0),
        )?;
        Ok(highest.map_or(0, |h| h as u64 + 1))
    }

    /// Forgets parameters that expired before `block` and that no longer matter: tickets under
    /// them are refused anyway, and their winners carry everything redemption needs. Also keeps at
    /// most `max_unpaid` parameters of senders without credit here (oldest dropped first), so
    /// quotes asked for by senders who never pay cannot grow the store. Returns the rows deleted.
    pub fn prune_params(&self, block: u64, max_unpaid: u64) -> Result<usize, StoreError> {
        let expired = self.conn.execute(
            "DELETE FROM params WHERE expiration_block < ?1",
            [block as i64],
        )?;
        let unpaid = self.conn.execute(
            "DELETE FROM params WHERE rowid IN (
                SELECT p.rowid FROM params p LEFT JOIN balances b ON b.sender = p.sender
                WHERE b.sender IS NULL ORDER BY p.rowid DESC LIMIT -1 OFFSET ?1)",
            [max_unpaid as i64],
        )?;
        if expired + unpaid > 0 {
            self.params_cache.borrow_mut().clear();
        }
        Ok(expired + unpaid)
    }

    /// How many ticket parameters are stored (all senders).
    pub fn params_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM params", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Winning tickets with `status`, in (signer, nonce) order: the order the broker needs.
    pub fn winning_tickets(
        &self,
        status: WinningTicketStatus,
    ) -> Result<Vec<WinningTicket>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, signer, nonce, sender, face_value, creation_round, redeemable_from_block, wire,
             status, attempts, last_error, tx_hash FROM winning_tickets WHERE status = ?1 ORDER BY signer, nonce",
        )?;
        let rows = stmt.query_map([status.as_str()], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, Vec<u8>>(3)?,
                row.get::<_, Vec<u8>>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, i64>(6)?,
                row.get::<_, Vec<u8>>(7)?,
                row.get::<_, String>(8)?,
                row.get::<_, i64>(9)?,
                row.get::<_, Option<String>>(10)?,
                row.get::<_, Option<Vec<u8>>>(11)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (
                id,
                signer,
                nonce,
                sender,
                face,
                round,
                from,
                wire,
                status,
                attempts,
                last_error,
                tx,
            ) = row?;
            out.push(WinningTicket {
                id,
                signer: Address::from_slice(&signer),
                nonce: nonce as u64,
                sender: Address::from_slice(&sender),
                face_value: U256::from_be_slice(&face),
                creation_round: round as u64,
                redeemable_from_block: from as u64,
                wire: wire_from_bytes(&wire)?,
                status: WinningTicketStatus::parse(&status)?,
                attempts: attempts as u32,
                last_error,
                tx_hash: tx.map(|t| B256::from_slice(&t)),
            });
        }
        Ok(out)
    }

    /// Total face value of `sender`'s winning tickets not yet redeemed: funds already spoken for.
    /// (A submitted ticket's redemption is already in the chain's view of the deposit; a reorg
    /// that takes it out makes it pending again.)
    pub fn pending_face_value(&self, sender: Address) -> Result<U256, StoreError> {
        pending_face_value_in(&self.conn, sender)
    }

    /// Total face value of the winning tickets signed by `signer` that were not refused for good:
    /// what they took, or will take, of a spending cap on the signer (`TicketBroker.signerGrant`).
    pub fn winners_face_by_signer(&self, signer: Address) -> Result<U256, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT face_value FROM winning_tickets WHERE signer = ?1 AND status != 'failed'",
        )?;
        let rows = stmt.query_map([signer.as_slice()], |r| r.get::<_, Vec<u8>>(0))?;
        let mut total = U256::ZERO;
        for face in rows {
            total += U256::from_be_slice(&face?);
        }
        Ok(total)
    }

    /// How many winning tickets have `status`, and their total face value (every sender).
    pub fn winning_summary(&self, status: WinningTicketStatus) -> Result<(u64, U256), StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT face_value FROM winning_tickets WHERE status = ?1")?;
        let rows = stmt.query_map([status.as_str()], |r| r.get::<_, Vec<u8>>(0))?;
        let (mut count, mut total) = (0, U256::ZERO);
        for face in rows {
            total += U256::from_be_slice(&face?);
            count += 1;
        }
        Ok((count, total))
    }

    /// The newest parameters issued to `sender`, if any.
    pub fn latest_params(&self, sender: Address) -> Result<Option<TicketParams>, StoreError> {
        let hash: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT rand_hash FROM params WHERE sender = ?1 ORDER BY expiration_block DESC, rowid DESC LIMIT 1",
                [sender.as_slice()],
                |r| r.get(0),
            )
            .optional()?;
        match hash {
            Some(h) => self.params(B256::from_slice(&h)),
            None => Ok(None),
        }
    }

    /// The earnings scan's saved state ([`crate::earnings`]), if any.
    pub fn earnings_scan(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT state FROM earnings_scan WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Saves the earnings scan's state.
    pub fn save_earnings_scan(&self, state: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO earnings_scan (id, state) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state",
            [state],
        )?;
        Ok(())
    }

    /// Records the outcome of a redemption attempt.
    pub fn record_attempt(
        &self,
        id: i64,
        status: WinningTicketStatus,
        error: Option<&str>,
        tx_hash: Option<B256>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE winning_tickets SET status = ?2, attempts = attempts + 1, last_error = ?3,
             tx_hash = COALESCE(?4, tx_hash) WHERE id = ?1",
            params![id, status.as_str(), error, tx_hash.map(|h| h.to_vec())],
        )?;
        Ok(())
    }
}

fn word(value: U256) -> [u8; 32] {
    value.to_be_bytes()
}

fn next_nonce_in(conn: &Connection, signer: Address) -> Result<u64, StoreError> {
    let next: Option<i64> = conn
        .prepare_cached("SELECT next_nonce FROM nonces WHERE signer = ?1")?
        .query_row([signer.as_slice()], |r| r.get(0))
        .optional()?;
    Ok(next.unwrap_or(0) as u64)
}

fn pending_face_value_in(conn: &Connection, sender: Address) -> Result<U256, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT face_value FROM winning_tickets WHERE sender = ?1 AND status = 'pending'",
    )?;
    let rows = stmt.query_map([sender.as_slice()], |r| r.get::<_, Vec<u8>>(0))?;
    let mut total = U256::ZERO;
    for face in rows {
        total += U256::from_be_slice(&face?);
    }
    Ok(total)
}

fn once_nonce_used_in(conn: &Connection, signer: Address, nonce: u64) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM once_nonces WHERE signer = ?1 AND nonce = ?2")?
        .query_row(params![signer.as_slice(), nonce as i64], |_| Ok(()))
        .optional()?
        .is_some())
}

fn params_spent_in(conn: &Connection, rand_hash: B256) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM spent_params WHERE rand_hash = ?1")?
        .query_row([rand_hash.as_slice()], |_| Ok(()))
        .optional()?
        .is_some())
}

fn balance_in(conn: &Connection, sender: Address) -> Result<U256, StoreError> {
    let credit: Option<Vec<u8>> = conn
        .prepare_cached("SELECT credit FROM balances WHERE sender = ?1")?
        .query_row([sender.as_slice()], |r| r.get(0))
        .optional()?;
    Ok(credit
        .map(|c| U256::from_be_slice(&c))
        .unwrap_or(U256::ZERO))
}

fn set_balance_in(conn: &Connection, sender: Address, credit: U256) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO balances VALUES (?1, ?2) ON CONFLICT (sender) DO UPDATE SET credit = ?2",
    )?
    .execute(params![sender.as_slice(), word(credit)])?;
    Ok(())
}

fn wire_bytes(w: &SignedTicket) -> Vec<u8> {
    w.words().iter().flat_map(|word| word.0).collect()
}

fn wire_from_bytes(bytes: &[u8]) -> Result<SignedTicket, StoreError> {
    if bytes.len() != 192 {
        return Err(StoreError::Corrupt("winning_tickets.wire"));
    }
    let w = |i: usize| B256::from_slice(&bytes[i * 32..(i + 1) * 32]);
    Ok(SignedTicket {
        sender_face: w(0).into(),
        win_prob: w(1).into(),
        meta: w(2).into(),
        recipient_rand: w(3),
        r: w(4),
        s: w(5),
    })
}
