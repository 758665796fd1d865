//! The viewers' book, in sqlite beside the ticket book ([`PaymentStore`] tables in the same file):
//! one account per (stream, funder), the ticket parameters issued to it, and the grants taken.
//!
//! What a viewer has paid is never a counter of its own: it is the parameters issued to the
//! account that the ticket book marked spent (`spent_params`), so a crash between booking a ticket
//! and crediting it loses nothing. What it got (`consumed_ms`, `charged_through`) changes in one
//! statement per segment.
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
    signer BLOB NOT NULL, until_round INTEGER NOT NULL, subscribed_until INTEGER NOT NULL,
    consumed_ms INTEGER NOT NULL DEFAULT 0, charged_through INTEGER NOT NULL DEFAULT -1,
    pending BLOB, cut_off INTEGER NOT NULL DEFAULT 0,
    opened_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (stream, funder));
CREATE TABLE IF NOT EXISTS viewer_params (
    rand_hash BLOB PRIMARY KEY, stream TEXT NOT NULL, funder BLOB NOT NULL,
    ms INTEGER NOT NULL, value BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS viewer_params_by_account ON viewer_params (stream, funder);
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
    /// The highest segment sequence number charged; -1 before the first.
    pub charged_through: i64,
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
    a.subscribed_until, a.consumed_ms, a.charged_through, a.pending, a.cut_off, a.opened_ms,
    a.last_seen_ms,
    (SELECT COUNT(*) FROM viewer_params p JOIN spent_params s ON s.rand_hash = p.rand_hash
     WHERE p.stream = a.stream AND p.funder = a.funder),
    (SELECT COALESCE(SUM(p.ms), 0) FROM viewer_params p JOIN spent_params s ON s.rand_hash = p.rand_hash
     WHERE p.stream = a.stream AND p.funder = a.funder)";

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

    fn account_from(&self, row: &rusqlite::Row<'_>) -> Result<Account, StoreError> {
        let stream: String = row.get(0)?;
        let funder = address(row.get::<_, Vec<u8>>(1)?)?;
        let pending: Option<Vec<u8>> = row.get(8)?;
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
            charged_through: row.get(7)?,
            pending,
            cut_off: row.get(9)?,
            opened_ms: row.get::<_, i64>(10)? as u64,
            last_seen_ms: row.get::<_, i64>(11)? as u64,
            tickets: row.get::<_, i64>(12)? as u64,
            paid_ms: row.get::<_, i64>(13)? as u64,
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
                 subscribed_until, opened_ms, last_seen_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
             ON CONFLICT (stream, funder) DO UPDATE SET session = ?3, signer = ?4,
                 until_round = ?5, subscribed_until = ?6, pending = NULL, opened_ms = ?7,
                 last_seen_ms = ?7",
            params![
                s.stream,
                s.funder.as_slice(),
                s.session,
                s.signer.as_slice(),
                s.until_round as i64,
                s.subscribed_until as i64,
                s.now_ms as i64
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
        let tx = self.conn.unchecked_transaction()?;
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

    /// Charges segment `seq` (`duration_ms` long) to the session, unless charged already or it
    /// would put the viewer more than `credit_ms` behind. A subscriber's segments are counted,
    /// never due. One statement: two renditions of one segment fetched at once charge it once.
    pub fn charge(
        &self,
        session: &str,
        seq: u64,
        duration_ms: u64,
        credit_ms: u64,
        subscriber: bool,
        now_ms: u64,
    ) -> Result<Option<Charge>, StoreError> {
        let Some(account) = self.by_session(session)? else {
            return Ok(None);
        };
        if (seq as i64) <= account.charged_through {
            self.conn.execute(
                "UPDATE viewer_accounts SET last_seen_ms = ?2 WHERE session = ?1",
                params![session, now_ms as i64],
            )?;
            return Ok(Some(Charge::Served));
        }
        let owed = account.consumed_ms + duration_ms;
        if !subscriber && owed > account.paid_ms + credit_ms {
            self.conn.execute(
                "UPDATE viewer_accounts SET cut_off = 1, last_seen_ms = ?2 WHERE session = ?1",
                params![session, now_ms as i64],
            )?;
            return Ok(Some(Charge::Due {
                due_ms: account.consumed_ms.saturating_sub(account.paid_ms),
            }));
        }
        // Guarded by the values read: a concurrent charge of the same segment changes nothing.
        self.conn.execute(
            "UPDATE viewer_accounts SET consumed_ms = consumed_ms + ?2, charged_through = ?3,
                 cut_off = 0, last_seen_ms = ?4
             WHERE session = ?1 AND charged_through < ?3",
            params![session, duration_ms as i64, seq as i64, now_ms as i64],
        )?;
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
