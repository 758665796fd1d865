//! The viewers' book, in sqlite beside the ticket book ([`PaymentStore`] tables in the same file):
//! one account per (stream, funder), the ticket parameters issued to it, and the grants taken.
//!
//! What a viewer has paid is never a counter of its own: it is the parameters issued to the
//! account that the ticket book marked spent (`spent_params`), so a crash between booking a ticket
//! and crediting it loses nothing. What it got is the segments charged to it (`viewer_segments`,
//! one row per sequence number, whatever the rendition) and their total (`consumed_ms`), written in
//! one transaction per segment: a segment is charged once, and every segment is charged, whether
//! the viewer fetched it live, behind the live edge or from the recording.
//!
//! [`PaymentStore`]: peerflow_orchestrator::PaymentStore

use std::path::Path;

use alloy::primitives::{Address, B256, U256};
use rusqlite::{Connection, params};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("viewer book: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("viewer book: corrupt {0}")]
    Corrupt(&'static str),
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS viewer_accounts (
    stream TEXT NOT NULL, funder BLOB NOT NULL, session TEXT NOT NULL UNIQUE,
    signer BLOB NOT NULL, until_round INTEGER NOT NULL, max_spend BLOB NOT NULL,
    subscribed_until INTEGER NOT NULL,
    consumed_ms INTEGER NOT NULL DEFAULT 0,
    pending BLOB, cut_off INTEGER NOT NULL DEFAULT 0,
    opened_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (stream, funder));
CREATE TABLE IF NOT EXISTS viewer_params (
    rand_hash BLOB PRIMARY KEY, stream TEXT NOT NULL, funder BLOB NOT NULL,
    ms INTEGER NOT NULL, value BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS viewer_params_by_account ON viewer_params (stream, funder);
CREATE TABLE IF NOT EXISTS viewer_segments (
    stream TEXT NOT NULL, funder BLOB NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (stream, funder, seq));
CREATE TABLE IF NOT EXISTS viewer_grants (
    digest BLOB PRIMARY KEY, funder BLOB NOT NULL, at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS viewer_grants_by_funder ON viewer_grants (funder, at_ms);
";

/// One viewer's account on one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub stream: String,
    pub funder: Address,
    pub session: String,
    pub signer: Address,
    pub until_round: u64,
    /// Unix seconds (0: not a subscriber).
    pub subscribed_until: u64,
    pub consumed_ms: u64,
    /// The parameters of the ticket it pays with next.
    pub pending: Option<B256>,
    pub cut_off: bool,
    pub opened_ms: u64,
    pub last_seen_ms: u64,
    /// From the ticket book: tickets booked under this account's parameters, the video they
    /// paid for and their expected value.
    pub tickets: u64,
    pub paid_ms: u64,
    pub received_wei: U256,
    /// The cap of the hot key's grant (face value).
    pub max_spend: U256,
}

/// A session being opened.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    pub stream: &'a str,
    pub funder: Address,
    /// Its token.
    pub session: &'a str,
    /// The hot key.
    pub signer: Address,
    pub until_round: u64,
    /// The grant's spending cap.
    pub max_spend: U256,
    /// Unix seconds (0: not a subscriber).
    pub subscribed_until: u64,
    pub now_ms: u64,
}

/// What a segment request did to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// Charged now, or charged before (same sequence number, another rendition or a retry).
    Served,
    /// Over the credit: refused.
    Due { due_ms: u64 },
}

pub struct ViewerStore {
    conn: Connection,
}

const ACCOUNT_COLUMNS: &str = "a.stream, a.funder, a.session, a.signer, a.until_round,
    a.subscribed_until, a.consumed_ms, a.pending, a.cut_off, a.opened_ms,
    a.last_seen_ms,
    (SELECT COUNT(*) FROM viewer_params p JOIN spent_params s ON s.rand_hash = p.rand_hash
     WHERE p.stream = a.stream AND p.funder = a.funder),
    (SELECT COALESCE(SUM(p.ms), 0) FROM viewer_params p JOIN spent_params s ON s.rand_hash = p.rand_hash
     WHERE p.stream = a.stream AND p.funder = a.funder),
    a.max_spend";

impl ViewerStore {
    /// Opens the book in `path`, the file the ticket book ([`peerflow_orchestrator::PaymentStore`])
    /// was opened in first (its `spent_params` table is read here).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn })
    }

    /// A transaction that holds the write lock from its start. The ticket book writes to the same
    /// file through its own connection: a transaction that read first and then wrote would fail
    /// (`database is locked`, without waiting) whenever the ticket book wrote in between.
    fn write(&self) -> Result<rusqlite::Transaction<'_>, StoreError> {
        Ok(rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )?)
    }

    fn account_from(&self, row: &rusqlite::Row<'_>) -> Result<Account, StoreError> {
        let stream: String = row.get(0)?;
        let funder = address(row.get::<_, Vec<u8>>(1)?)?;
        let pending: Option<Vec<u8>> = row.get(7)?;
        let pending = pending
            .map(|b| {
                (b.len() == 32)
                    .then(|| B256::from_slice(&b))
                    .ok_or(StoreError::Corrupt("viewer_accounts.pending"))
            })
            .transpose()?;
        let received_wei = self.received(&stream, funder)?;
        Ok(Account {
            stream,
            funder,
            session: row.get(2)?,
            signer: address(row.get::<_, Vec<u8>>(3)?)?,
            until_round: row.get::<_, i64>(4)? as u64,
            subscribed_until: row.get::<_, i64>(5)? as u64,
            consumed_ms: row.get::<_, i64>(6)? as u64,
            pending,
            cut_off: row.get(8)?,
            opened_ms: row.get::<_, i64>(9)? as u64,
            last_seen_ms: row.get::<_, i64>(10)? as u64,
            tickets: row.get::<_, i64>(11)? as u64,
            paid_ms: row.get::<_, i64>(12)? as u64,
            max_spend: U256::from_be_slice(&row.get::<_, Vec<u8>>(13)?),
            received_wei,
        })
    }

    fn received(&self, stream: &str, funder: Address) -> Result<U256, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.value FROM viewer_params p JOIN spent_params s ON s.rand_hash = p.rand_hash
             WHERE p.stream = ?1 AND p.funder = ?2",
        )?;
        let values = stmt
            .query_map(params![stream, funder.as_slice()], |r| {
                r.get::<_, Vec<u8>>(0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(values
            .iter()
            .map(|v| U256::from_be_slice(v))
            .fold(U256::ZERO, |a, b| a.saturating_add(b)))
    }

    fn one(
        &self,
        clause: &str,
        args: impl rusqlite::Params,
    ) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM viewer_accounts a WHERE {clause}");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(args)?;
        match rows.next()? {
            Some(row) => Ok(Some(self.account_from(row)?)),
            None => Ok(None),
        }
    }

    /// The account a session token names.
    pub fn by_session(&self, session: &str) -> Result<Option<Account>, StoreError> {
        self.one("a.session = ?1", [session])
    }

    pub fn by_funder(&self, stream: &str, funder: Address) -> Result<Option<Account>, StoreError> {
        self.one(
            "a.stream = ?1 AND a.funder = ?2",
            params![stream, funder.as_slice()],
        )
    }

    /// Every account, the most recently seen first.
    pub fn all(&self) -> Result<Vec<Account>, StoreError> {
        let sql =
            format!("SELECT {ACCOUNT_COLUMNS} FROM viewer_accounts a ORDER BY a.last_seen_ms DESC");
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(self.account_from(row)?);
        }
        Ok(out)
    }

    /// Opens the funder's session on `stream` (a new token and hot key), keeping what an earlier
    /// session of the same funder got and paid: a viewer cannot shed what it owes by starting over.
    pub fn open_account(&self, s: &NewSession<'_>) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO viewer_accounts (stream, funder, session, signer, until_round,
                 subscribed_until, opened_ms, last_seen_ms, max_spend)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)
             ON CONFLICT (stream, funder) DO UPDATE SET session = ?3, signer = ?4,
                 until_round = ?5, subscribed_until = ?6, pending = NULL, opened_ms = ?7,
                 last_seen_ms = ?7, max_spend = ?8",
            params![
                s.stream,
                s.funder.as_slice(),
                s.session,
                s.signer.as_slice(),
                s.until_round as i64,
                s.subscribed_until as i64,
                s.now_ms as i64,
                s.max_spend.to_be_bytes::<32>().as_slice()
            ],
        )?;
        Ok(())
    }

    /// Records a grant (by its digest), refusing one seen before; returns how many grants the
    /// funder gave since `since_ms`, this one included.
    pub fn take_grant(
        &self,
        digest: B256,
        funder: Address,
        now_ms: u64,
        since_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        let inserted = self.conn.execute(
            "INSERT OR IGNORE INTO viewer_grants (digest, funder, at_ms) VALUES (?1, ?2, ?3)",
            params![digest.as_slice(), funder.as_slice(), now_ms as i64],
        )?;
        if inserted == 0 {
            return Ok(None);
        }
        let count: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM viewer_grants WHERE funder = ?1 AND at_ms >= ?2",
            params![funder.as_slice(), since_ms as i64],
            |r| r.get(0),
        )?;
        Ok(Some(count as u64))
    }

    /// Grants a funder gave since `since_ms`.
    pub fn grants_since(&self, funder: Address, since_ms: u64) -> Result<u64, StoreError> {
        let count: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM viewer_grants WHERE funder = ?1 AND at_ms >= ?2",
            params![funder.as_slice(), since_ms as i64],
            |r| r.get(0),
        )?;
        Ok(count as u64)
    }

    /// Grants relayed (or taken) since `since_ms`, every funder together.
    pub fn all_grants_since(&self, since_ms: u64) -> Result<u64, StoreError> {
        let count: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM viewer_grants WHERE at_ms >= ?1",
            [since_ms as i64],
            |r| r.get(0),
        )?;
        Ok(count as u64)
    }

    /// Notes parameters issued to an account (worth `ms` of video and `value` in expectation) as
    /// the ones it pays with next.
    pub fn issue(
        &self,
        stream: &str,
        funder: Address,
        rand_hash: B256,
        ms: u64,
        value: U256,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        tx.execute(
            "INSERT OR IGNORE INTO viewer_params (rand_hash, stream, funder, ms, value) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![rand_hash.as_slice(), stream, funder.as_slice(), ms as i64, value.to_be_bytes::<32>().as_slice()],
        )?;
        tx.execute(
            "UPDATE viewer_accounts SET pending = ?3 WHERE stream = ?1 AND funder = ?2",
            params![stream, funder.as_slice(), rand_hash.as_slice()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Charges segment `seq` (`duration_ms` long) to the session, unless charged already (another
    /// rendition, a retry) or it would put the viewer more than `credit_ms` behind. A subscriber's
    /// segments are recorded, never owed. One transaction: two renditions of one segment fetched at
    /// once charge it once.
    pub fn charge(
        &self,
        session: &str,
        seq: u64,
        duration_ms: u64,
        credit_ms: u64,
        subscriber: bool,
        now_ms: u64,
    ) -> Result<Option<Charge>, StoreError> {
        let tx = self.write()?;
        let Some(account) = self.by_session(session)? else {
            return Ok(None);
        };
        let seen = |stmt: &str| {
            tx.execute(stmt, params![session, now_ms as i64])
                .map(|_| ())
        };
        let charged: bool = tx.query_row(
            "SELECT COUNT(*) > 0 FROM viewer_segments WHERE stream = ?1 AND funder = ?2 AND seq = ?3",
            params![account.stream, account.funder.as_slice(), seq as i64],
            |r| r.get(0),
        )?;
        if charged {
            seen("UPDATE viewer_accounts SET last_seen_ms = ?2 WHERE session = ?1")?;
            tx.commit()?;
            return Ok(Some(Charge::Served));
        }
        if !subscriber && account.consumed_ms + duration_ms > account.paid_ms + credit_ms {
            seen("UPDATE viewer_accounts SET cut_off = 1, last_seen_ms = ?2 WHERE session = ?1")?;
            tx.commit()?;
            return Ok(Some(Charge::Due {
                due_ms: account.consumed_ms.saturating_sub(account.paid_ms),
            }));
        }
        tx.execute(
            "INSERT INTO viewer_segments (stream, funder, seq) VALUES (?1, ?2, ?3)",
            params![account.stream, account.funder.as_slice(), seq as i64],
        )?;
        // A subscriber's segments are covered by its subscription: nothing is owed for them, then
        // or after the subscription ends.
        let owed = if subscriber { 0 } else { duration_ms };
        tx.execute(
            "UPDATE viewer_accounts SET consumed_ms = consumed_ms + ?2, cut_off = 0, last_seen_ms = ?3
             WHERE session = ?1",
            params![session, owed as i64, now_ms as i64],
        )?;
        tx.commit()?;
        Ok(Some(Charge::Served))
    }

    /// Clears the cut-off mark once a viewer paid.
    pub fn resume(&self, session: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE viewer_accounts SET cut_off = 0 WHERE session = ?1",
            [session],
        )?;
        Ok(())
    }
}

fn address(bytes: Vec<u8>) -> Result<Address, StoreError> {
    (bytes.len() == 20)
        .then(|| Address::from_slice(&bytes))
        .ok_or(StoreError::Corrupt("address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> (tempfile::TempDir, ViewerStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("viewers.sqlite");
        peerflow_orchestrator::PaymentStore::open(&db).unwrap();
        let store = ViewerStore::open(&db).unwrap();
        store
            .open_account(&NewSession {
                stream: "s",
                funder: Address::repeat_byte(1),
                session: "t",
                signer: Address::repeat_byte(2),
                until_round: 10,
                max_spend: U256::from(1u8),
                subscribed_until: 0,
                now_ms: 0,
            })
            .unwrap();
        (dir, store)
    }

    #[test]
    fn every_segment_is_charged_once_whatever_its_rendition_or_age() {
        let (_dir, store) = book();
        let charge = |seq| {
            store
                .charge("t", seq, 2_000, 10_000, false, 1)
                .unwrap()
                .unwrap()
        };
        assert_eq!(charge(7), Charge::Served);
        // Another rendition of 7, or a retry: not charged again.
        assert_eq!(charge(7), Charge::Served);
        assert_eq!(store.by_session("t").unwrap().unwrap().consumed_ms, 2_000);
        // Segments behind the one charged (the recording, a seek back) are charged too.
        for seq in [0, 1, 2, 3] {
            assert_eq!(charge(seq), Charge::Served);
        }
        assert_eq!(store.by_session("t").unwrap().unwrap().consumed_ms, 10_000);
        // Unpaid, the credit (10 s) is spent: the next new segment is refused, and charges nothing.
        assert_eq!(charge(4), Charge::Due { due_ms: 10_000 });
        let account = store.by_session("t").unwrap().unwrap();
        assert_eq!(account.consumed_ms, 10_000);
        assert!(account.cut_off);
        // What was charged still plays.
        assert_eq!(charge(2), Charge::Served);
        assert_eq!(
            store.charge("nosuch", 1, 2_000, 10_000, false, 1).unwrap(),
            None
        );
    }

    #[test]
    fn a_new_session_of_the_same_viewer_keeps_what_it_owes() {
        let (_dir, store) = book();
        for seq in 0..5 {
            store.charge("t", seq, 2_000, 10_000, false, 1).unwrap();
        }
        store
            .open_account(&NewSession {
                stream: "s",
                funder: Address::repeat_byte(1),
                session: "u",
                signer: Address::repeat_byte(3),
                until_round: 10,
                max_spend: U256::from(1u8),
                subscribed_until: 0,
                now_ms: 2,
            })
            .unwrap();
        assert_eq!(
            store.by_session("t").unwrap(),
            None,
            "the old token is dead"
        );
        let account = store.by_session("u").unwrap().unwrap();
        assert_eq!(account.consumed_ms, 10_000);
        assert_eq!(
            store.charge("u", 5, 2_000, 10_000, false, 3).unwrap(),
            Some(Charge::Due { due_ms: 10_000 })
        );
        assert_eq!(
            store.charge("u", 3, 2_000, 10_000, false, 3).unwrap(),
            Some(Charge::Served)
        );
    }

    /// The ticket book writes to the same file through its own connection while segments are
    /// charged: no charge may fail for the lock (it did when its transaction read, then wrote).
    #[test]
    fn charges_wait_for_the_ticket_book_rather_than_fail() {
        let (dir, store) = book();
        let db = dir.path().join("viewers.sqlite");
        let writer = std::thread::spawn(move || {
            let payments = peerflow_orchestrator::PaymentStore::open(&db).unwrap();
            for i in 0..400u64 {
                payments
                    .save_params(&peerflow_orchestrator::TicketParams {
                        recipient: Address::repeat_byte(1),
                        sender: Address::repeat_byte(2),
                        face_value: U256::from(i),
                        win_prob: U256::MAX,
                        recipient_rand_hash: B256::from(U256::from(i)),
                        seed: B256::ZERO,
                        creation_round: 1,
                        expiration_block: 10,
                        price_per_pixel: U256::ZERO,
                    })
                    .unwrap();
            }
        });
        for seq in 0..400 {
            store.charge("t", seq, 1, u64::MAX / 4, false, 1).unwrap();
        }
        writer.join().unwrap();
        assert_eq!(store.by_session("t").unwrap().unwrap().consumed_ms, 400);
    }

    #[test]
    fn a_subscriber_is_never_due() {
        let (_dir, store) = book();
        for seq in 0..20 {
            assert_eq!(
                store.charge("t", seq, 2_000, 10_000, true, 1).unwrap(),
                Some(Charge::Served)
            );
        }
        assert_eq!(store.by_session("t").unwrap().unwrap().consumed_ms, 0);
        // Its subscription over, it owes for what it watches from then on only.
        assert_eq!(
            store.charge("t", 20, 2_000, 10_000, false, 1).unwrap(),
            Some(Charge::Served)
        );
        assert_eq!(store.by_session("t").unwrap().unwrap().consumed_ms, 2_000);
    }
}
