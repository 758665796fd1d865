//! The provider's lease book (sqlite, beside its payment tables in the same file): every lease
//! with its terms, state, container and last counter reading, every metered interval with its
//! charge and ticket parameters, and the request nonces it has taken.

use std::path::Path;

use alloy::primitives::{Address, U256};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::meter::Reading;
use crate::proto::{Interval, IntervalTicket, LeaseState, LeaseView, Terms};

/// Errors of the lease book.
#[derive(Debug, thiserror::Error)]
pub enum LeaseStoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl From<serde_json::Error> for LeaseStoreError {
    fn from(e: serde_json::Error) -> Self {
        Self::Corrupt(e.to_string())
    }
}

type Result<T> = std::result::Result<T, LeaseStoreError>;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS leases (
    id TEXT PRIMARY KEY, buyer BLOB NOT NULL, terms TEXT NOT NULL, state TEXT NOT NULL,
    reason TEXT, container TEXT NOT NULL, opened_ms INTEGER NOT NULL, closed_ms INTEGER,
    reading TEXT NOT NULL, next_seq INTEGER NOT NULL, paused_ms INTEGER);
CREATE TABLE IF NOT EXISTS lease_intervals (
    lease TEXT NOT NULL, seq INTEGER NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
    usage TEXT NOT NULL, charge BLOB NOT NULL, ticket TEXT, paid INTEGER NOT NULL,
    last INTEGER NOT NULL, PRIMARY KEY (lease, seq));
CREATE TABLE IF NOT EXISTS lease_request_nonces (
    signer BLOB NOT NULL, nonce INTEGER NOT NULL, expires INTEGER NOT NULL,
    PRIMARY KEY (signer, nonce));
CREATE TABLE IF NOT EXISTS lease_images (
    image TEXT PRIMARY KEY, buyer BLOB NOT NULL, loaded_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS lease_request_nonces_by_expiry ON lease_request_nonces (expires);
";

/// One lease as the book holds it.
#[derive(Debug, Clone)]
pub struct LeaseRow {
    pub id: String,
    pub terms: Terms,
    pub state: LeaseState,
    pub reason: Option<String>,
    pub container: String,
    pub opened_ms: u64,
    pub closed_ms: Option<u64>,
    /// The counters at the end of the last interval.
    pub reading: Reading,
    pub next_seq: u64,
    /// When it was paused, if it is.
    pub paused_ms: Option<u64>,
}

pub struct LeaseStore {
    conn: Connection,
}

fn word(v: U256) -> Vec<u8> {
    v.to_be_bytes::<32>().to_vec()
}

impl LeaseStore {
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Self {
            conn: crate::db::open(path, SCHEMA)?,
        })
    }

    pub fn insert(&self, row: &LeaseRow) -> Result<()> {
        self.conn.execute(
            "INSERT INTO leases VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                row.id,
                row.terms.buyer.as_slice(),
                serde_json::to_string(&row.terms)?,
                row.state.as_str(),
                row.reason,
                row.container,
                row.opened_ms as i64,
                row.closed_ms.map(|v| v as i64),
                serde_json::to_string(&row.reading)?,
                row.next_seq as i64,
                row.paused_ms.map(|v| v as i64),
            ],
        )?;
        Ok(())
    }

    fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(LeaseRowRaw, String, String)> {
        Ok((
            LeaseRowRaw {
                id: r.get(0)?,
                state: r.get(3)?,
                reason: r.get(4)?,
                container: r.get(5)?,
                opened_ms: r.get::<_, i64>(6)? as u64,
                closed_ms: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
                next_seq: r.get::<_, i64>(9)? as u64,
                paused_ms: r.get::<_, Option<i64>>(10)?.map(|v| v as u64),
            },
            r.get(2)?,
            r.get(8)?,
        ))
    }

    fn finish(raw: (LeaseRowRaw, String, String)) -> Result<LeaseRow> {
        let (raw, terms, reading) = raw;
        Ok(LeaseRow {
            state: LeaseState::parse(&raw.state)
                .ok_or_else(|| LeaseStoreError::Corrupt(format!("state {}", raw.state)))?,
            terms: serde_json::from_str(&terms)?,
            reading: serde_json::from_str(&reading)?,
            id: raw.id,
            reason: raw.reason,
            container: raw.container,
            opened_ms: raw.opened_ms,
            closed_ms: raw.closed_ms,
            next_seq: raw.next_seq,
            paused_ms: raw.paused_ms,
        })
    }

    pub fn get(&self, id: &str) -> Result<Option<LeaseRow>> {
        self.conn
            .query_row("SELECT * FROM leases WHERE id = ?1", [id], Self::row)
            .optional()?
            .map(Self::finish)
            .transpose()
    }

    /// Leases not closed, oldest first.
    pub fn open_leases(&self) -> Result<Vec<LeaseRow>> {
        self.select("SELECT * FROM leases WHERE state != 'closed' ORDER BY opened_ms")
    }

    /// Every lease, newest first.
    pub fn all(&self) -> Result<Vec<LeaseRow>> {
        self.select("SELECT * FROM leases ORDER BY opened_ms DESC")
    }

    fn select(&self, sql: &str) -> Result<Vec<LeaseRow>> {
        let mut stmt = self.conn.prepare(sql)?;
        let raws = stmt
            .query_map([], Self::row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(Self::finish).collect()
    }

    /// Records a metered interval and the reading it ended at, in one transaction.
    pub fn record_interval(&mut self, lease: &str, i: &Interval, reading: &Reading) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO lease_intervals VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                lease,
                i.seq as i64,
                i.start_ms as i64,
                i.end_ms as i64,
                serde_json::to_string(&i.usage)?,
                word(i.charge),
                i.ticket.as_ref().map(serde_json::to_string).transpose()?,
                i.paid,
                i.last,
            ],
        )?;
        tx.execute(
            "UPDATE leases SET reading = ?2, next_seq = ?3 WHERE id = ?1",
            params![lease, serde_json::to_string(reading)?, (i.seq + 1) as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces an unpaid interval's ticket parameters (the old ones expired).
    pub fn reissue(&self, lease: &str, seq: u64, ticket: &IntervalTicket) -> Result<()> {
        self.conn.execute(
            "UPDATE lease_intervals SET ticket = ?3 WHERE lease = ?1 AND seq = ?2 AND paid = 0",
            params![lease, seq as i64, serde_json::to_string(ticket)?],
        )?;
        Ok(())
    }

    pub fn intervals(&self, lease: &str, from: u64) -> Result<Vec<Interval>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, start_ms, end_ms, usage, charge, ticket, paid, last FROM lease_intervals
             WHERE lease = ?1 AND seq >= ?2 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map(params![lease, from as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, String>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, bool>(6)?,
                    r.get::<_, bool>(7)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(
                |(seq, start_ms, end_ms, usage, charge, ticket, paid, last)| {
                    Ok(Interval {
                        seq,
                        start_ms,
                        end_ms,
                        usage: serde_json::from_str(&usage)?,
                        charge: U256::from_be_slice(&charge),
                        ticket: ticket.map(|t| serde_json::from_str(&t)).transpose()?,
                        paid,
                        last,
                    })
                },
            )
            .collect()
    }

    pub fn mark_paid(&self, lease: &str, seq: u64) -> Result<()> {
        self.conn.execute(
            "UPDATE lease_intervals SET paid = 1 WHERE lease = ?1 AND seq = ?2",
            params![lease, seq as i64],
        )?;
        Ok(())
    }

    /// When the oldest interval that charged something and is unpaid ended.
    pub fn oldest_unpaid_end(&self, lease: &str) -> Result<Option<u64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT end_ms, charge FROM lease_intervals WHERE lease = ?1 AND paid = 0 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map([lease], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .find(|(_, c)| !U256::from_be_slice(c).is_zero())
            .map(|(end, _)| end as u64))
    }

    /// (charged, paid) over every interval of the lease.
    pub fn totals(&self, lease: &str) -> Result<(u64, U256, U256)> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT charge, paid FROM lease_intervals WHERE lease = ?1")?;
        let rows = stmt
            .query_map([lease], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, bool>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut charged = U256::ZERO;
        let mut paid = U256::ZERO;
        for (c, p) in &rows {
            let c = U256::from_be_slice(c);
            charged += c;
            if *p {
                paid += c;
            }
        }
        Ok((rows.len() as u64, charged, paid))
    }

    pub fn set_state(
        &self,
        id: &str,
        state: LeaseState,
        reason: Option<&str>,
        at_ms: u64,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE leases SET state = ?2,
               reason = COALESCE(?3, reason),
               paused_ms = CASE WHEN ?2 = 'paused' THEN COALESCE(paused_ms, ?4) ELSE NULL END,
               closed_ms = CASE WHEN ?2 = 'closed' THEN ?4 ELSE closed_ms END
             WHERE id = ?1",
            params![id, state.as_str(), reason, at_ms as i64],
        )?;
        Ok(())
    }

    /// Takes `signer`'s request nonce `nonce` (good until `expires`); false if taken before.
    /// Nonces whose signatures expired are forgotten.
    pub fn use_nonce(&self, signer: Address, nonce: u64, expires: u64, now: u64) -> Result<bool> {
        self.conn.execute(
            "DELETE FROM lease_request_nonces WHERE expires < ?1",
            [now as i64],
        )?;
        let inserted = self.conn.execute(
            "INSERT OR IGNORE INTO lease_request_nonces VALUES (?1, ?2, ?3)",
            params![signer.as_slice(), nonce as i64, expires as i64],
        )?;
        Ok(inserted == 1)
    }

    /// Records an image a buyer loaded (leases may run it).
    pub fn add_image(&self, image: &str, buyer: Address, at_ms: u64) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO lease_images VALUES (?1, ?2, ?3)",
            params![image, buyer.as_slice(), at_ms as i64],
        )?;
        Ok(())
    }

    /// How many images `buyer` loaded.
    pub fn images_of(&self, buyer: Address) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM lease_images WHERE buyer = ?1",
            [buyer.as_slice()],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// Whether a buyer loaded this image (by id).
    pub fn has_image(&self, image: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM lease_images WHERE image = ?1",
                [image],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// The lease as reported to its buyer.
    pub fn view(&self, row: &LeaseRow) -> Result<LeaseView> {
        let (intervals, charged, paid) = self.totals(&row.id)?;
        Ok(LeaseView {
            id: row.id.clone(),
            terms: row.terms.clone(),
            state: row.state,
            reason: row.reason.clone(),
            opened_ms: row.opened_ms,
            closed_ms: row.closed_ms,
            intervals,
            charged,
            paid,
        })
    }
}

struct LeaseRowRaw {
    id: String,
    state: String,
    reason: Option<String>,
    container: String,
    opened_ms: u64,
    closed_ms: Option<u64>,
    next_seq: u64,
    paused_ms: Option<u64>,
}
