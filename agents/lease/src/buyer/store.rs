//! The buyer's lease book (sqlite): each lease it opened (provider, agreed terms), how far it has
//! paid (the next interval due, where the last one ended, the CPU time charged so far) and every
//! ticket it sent, so a restarted agent goes on from there and never pays an interval twice.

use std::path::Path;

use alloy::primitives::U256;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::proto::Terms;

#[derive(Debug, thiserror::Error)]
pub enum BuyerStoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl From<serde_json::Error> for BuyerStoreError {
    fn from(e: serde_json::Error) -> Self {
        Self::Corrupt(e.to_string())
    }
}

type Result<T> = std::result::Result<T, BuyerStoreError>;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS leases (
    id TEXT PRIMARY KEY, provider_url TEXT NOT NULL, terms TEXT NOT NULL, status TEXT NOT NULL,
    next_seq INTEGER NOT NULL, prev_end_ms INTEGER, cpu_charged REAL NOT NULL, paid BLOB NOT NULL,
    refusal TEXT, opened_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sent_tickets (
    lease TEXT NOT NULL, seq INTEGER NOT NULL, provider BLOB NOT NULL, rand_hash BLOB NOT NULL,
    nonce INTEGER NOT NULL, ticket TEXT NOT NULL, PRIMARY KEY (lease, seq));
CREATE TABLE IF NOT EXISTS benches (
    lease TEXT PRIMARY KEY, ops_per_second REAL NOT NULL, wei_per_second REAL NOT NULL,
    at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS payments (
    lease TEXT NOT NULL, seq INTEGER NOT NULL, charge BLOB NOT NULL, nonce INTEGER,
    at_ms INTEGER NOT NULL, PRIMARY KEY (lease, seq));
";

/// Where the buyer stands with a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Being paid as it runs.
    Open,
    /// Closed and every interval paid.
    Closed,
    /// A metered interval was refused: no more is paid.
    Refused,
}

impl Standing {
    fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Refused => "refused",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "closed" => Some(Self::Closed),
            "refused" => Some(Self::Refused),
            _ => None,
        }
    }
}

/// One interval checked and settled.
#[derive(Debug, Clone, Copy)]
pub struct Settled {
    pub seq: u64,
    /// Where it ended.
    pub end_ms: u64,
    /// CPU seconds it charged.
    pub cpu_s: f64,
    /// Token wei paid for it.
    pub paid: U256,
    /// The nonce of the ticket sent for it (`None`: it charged nothing, or the provider had our
    /// ticket already).
    pub nonce: Option<u64>,
    pub at_ms: u64,
}

/// A lease's benchmark: how much work it does per second and what that second costs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bench {
    pub ops_per_second: f64,
    /// Its price per second with all its CPUs and memory busy (token wei).
    pub wei_per_second: f64,
    pub at_ms: u64,
}

impl Bench {
    /// Work per token wei: what `lease drop --slowest` ranks by.
    pub fn efficiency(&self) -> f64 {
        if self.wei_per_second > 0.0 {
            self.ops_per_second / self.wei_per_second
        } else {
            f64::INFINITY
        }
    }
}

/// One lease in the buyer's book.
#[derive(Debug, Clone, Serialize)]
pub struct BuyerLease {
    pub id: String,
    pub provider_url: String,
    pub terms: Terms,
    pub standing: Standing,
    /// The next interval to check and pay.
    pub next_seq: u64,
    /// Where the last interval checked ended.
    pub prev_end_ms: Option<u64>,
    /// CPU seconds charged over the intervals checked.
    pub cpu_charged: f64,
    /// Token wei paid (face value × odds of the tickets sent, which is the charge).
    pub paid: U256,
    pub refusal: Option<String>,
    pub opened_ms: u64,
}

pub struct BuyerStore {
    conn: Connection,
}

impl BuyerStore {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| BuyerStoreError::Corrupt(format!("{}: {e}", dir.display())))?;
        }
        Ok(Self {
            conn: crate::db::open(path, SCHEMA)?,
        })
    }

    pub fn insert(
        &self,
        id: &str,
        provider_url: &str,
        terms: &Terms,
        opened_ms: u64,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO leases VALUES (?1, ?2, ?3, 'open', 0, NULL, 0, ?4, NULL, ?5)",
            params![
                id,
                provider_url,
                serde_json::to_string(terms)?,
                U256::ZERO.to_be_bytes::<32>().to_vec(),
                opened_ms as i64
            ],
        )?;
        Ok(())
    }

    fn map(r: &rusqlite::Row<'_>) -> rusqlite::Result<(BuyerLeaseRaw, String, String)> {
        Ok((
            BuyerLeaseRaw {
                id: r.get(0)?,
                provider_url: r.get(1)?,
                next_seq: r.get::<_, i64>(4)? as u64,
                prev_end_ms: r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
                cpu_charged: r.get(6)?,
                paid: r.get(7)?,
                refusal: r.get(8)?,
                opened_ms: r.get::<_, i64>(9)? as u64,
            },
            r.get(2)?,
            r.get(3)?,
        ))
    }

    fn finish(raw: (BuyerLeaseRaw, String, String)) -> Result<BuyerLease> {
        let (raw, terms, status) = raw;
        Ok(BuyerLease {
            standing: Standing::parse(&status)
                .ok_or_else(|| BuyerStoreError::Corrupt(format!("status {status}")))?,
            terms: serde_json::from_str(&terms)?,
            id: raw.id,
            provider_url: raw.provider_url,
            next_seq: raw.next_seq,
            prev_end_ms: raw.prev_end_ms,
            cpu_charged: raw.cpu_charged,
            paid: U256::from_be_slice(&raw.paid),
            refusal: raw.refusal,
            opened_ms: raw.opened_ms,
        })
    }

    pub fn get(&self, id: &str) -> Result<Option<BuyerLease>> {
        self.conn
            .query_row("SELECT * FROM leases WHERE id = ?1", [id], Self::map)
            .optional()?
            .map(Self::finish)
            .transpose()
    }

    /// Every lease, oldest first; only those still being paid with `open_only`.
    pub fn leases(&self, open_only: bool) -> Result<Vec<BuyerLease>> {
        let sql = if open_only {
            "SELECT * FROM leases WHERE status = 'open' ORDER BY opened_ms"
        } else {
            "SELECT * FROM leases ORDER BY opened_ms"
        };
        let mut stmt = self.conn.prepare(sql)?;
        let raws = stmt
            .query_map([], Self::map)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(Self::finish).collect()
    }

    /// An interval of lease `id` was checked and is settled.
    pub fn settle(&mut self, id: &str, s: &Settled) -> Result<()> {
        let Settled {
            seq,
            end_ms,
            cpu_s,
            paid,
            nonce,
            at_ms,
        } = *s;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let before: Vec<u8> =
            tx.query_row("SELECT paid FROM leases WHERE id = ?1", [id], |r| r.get(0))?;
        let total = U256::from_be_slice(&before) + paid;
        tx.execute(
            // Another payer on this book (the agent and a `close`) may have settled it first.
            "INSERT OR IGNORE INTO payments VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                id,
                seq as i64,
                paid.to_be_bytes::<32>().to_vec(),
                nonce.map(|n| n as i64),
                at_ms as i64
            ],
        )?;
        tx.execute(
            "UPDATE leases SET next_seq = ?2, prev_end_ms = ?3, cpu_charged = cpu_charged + ?4,
             paid = ?5 WHERE id = ?1 AND next_seq = ?6",
            params![
                id,
                (seq + 1) as i64,
                end_ms as i64,
                cpu_s,
                total.to_be_bytes::<32>().to_vec(),
                seq as i64
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The one ticket for interval `seq` of lease `id`: the one recorded if there is one, else a
    /// new one made by `sign` with a nonce never used towards `provider` (at least `hint`, the
    /// provider's next), recorded before it is sent. Chosen and recorded in one transaction, so
    /// two payers on this book (the agent and a `close`) neither sign twice nor share a nonce.
    pub fn ticket_for(
        &mut self,
        id: &str,
        seq: u64,
        provider: alloy::primitives::Address,
        hint: u64,
        sign: impl FnOnce(u64) -> Option<peerflow_protocol::api::TicketMsg>,
    ) -> Result<Option<peerflow_protocol::api::TicketMsg>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let recorded: Option<String> = tx
            .query_row(
                "SELECT ticket FROM sent_tickets WHERE lease = ?1 AND seq = ?2",
                params![id, seq as i64],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(t) = recorded {
            return Ok(Some(serde_json::from_str(&t)?));
        }
        let next: u64 = tx
            .query_row(
                "SELECT MAX(nonce) FROM sent_tickets WHERE provider = ?1",
                [provider.as_slice()],
                |r| r.get::<_, Option<i64>>(0),
            )?
            .map_or(0, |n| n as u64 + 1);
        let Some(ticket) = sign(next.max(hint)) else {
            return Ok(None);
        };
        tx.execute(
            "INSERT INTO sent_tickets VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id,
                seq as i64,
                provider.as_slice(),
                ticket.recipient_rand_hash.as_slice(),
                ticket.sender_nonce as i64,
                serde_json::to_string(&ticket)?
            ],
        )?;
        tx.commit()?;
        Ok(Some(ticket))
    }

    /// Records lease `id`'s last benchmark: work per second, and its price per second at full use.
    pub fn record_bench(&self, id: &str, b: &Bench) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO benches VALUES (?1, ?2, ?3, ?4)",
            params![id, b.ops_per_second, b.wei_per_second, b.at_ms as i64],
        )?;
        Ok(())
    }

    /// Lease `id`'s last benchmark, if it had one.
    pub fn bench(&self, id: &str) -> Result<Option<Bench>> {
        Ok(self
            .conn
            .query_row(
                "SELECT ops_per_second, wei_per_second, at_ms FROM benches WHERE lease = ?1",
                [id],
                |r| {
                    Ok(Bench {
                        ops_per_second: r.get(0)?,
                        wei_per_second: r.get(1)?,
                        at_ms: r.get::<_, i64>(2)? as u64,
                    })
                },
            )
            .optional()?)
    }

    pub fn set_standing(&self, id: &str, standing: Standing, refusal: Option<&str>) -> Result<()> {
        self.conn.execute(
            "UPDATE leases SET status = ?2, refusal = COALESCE(?3, refusal) WHERE id = ?1",
            params![id, standing.as_str(), refusal],
        )?;
        Ok(())
    }
}

struct BuyerLeaseRaw {
    id: String,
    provider_url: String,
    next_seq: u64,
    prev_end_ms: Option<u64>,
    cpu_charged: f64,
    paid: Vec<u8>,
    refusal: Option<String>,
    opened_ms: u64,
}
