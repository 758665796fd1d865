//! The provider's durable state in sqlite: the last block it scanned for new jobs and, per job it
//! looked at, where the job is. Every transition is one statement, so a restart resumes exactly:
//! accepted jobs run again (results are deterministic), committed jobs wait for settlement.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

mod readers;

/// Errors from the provider store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("corrupt row: unknown phase {0:?}")]
    Phase(String),
}

/// Where a job is, for this provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPhase {
    /// Looked at and left alone (the reason is in `detail`).
    Skipped,
    /// Fits, but every job slot of this provider was busy: looked at again when one frees up.
    Deferred,
    /// Sealed bid committed (with collateral); to be revealed in the reveal window.
    Bid,
    /// Sealed bid revealed; waiting for the auction to close.
    Revealed,
    /// Holds a slot; the run has not produced a committed result yet.
    Accepted,
    /// Result committed sealed (its salt is in the store); to be revealed once the escrow opens
    /// the reveal window.
    Sealed,
    /// Result revealed (or its reveal window missed); waiting for settlement.
    Committed,
    /// The run failed; nothing was committed (`detail` says why).
    Failed,
    /// The job settled; `detail` is this slot's outcome.
    Settled,
}

impl JobPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skipped => "skipped",
            Self::Deferred => "deferred",
            Self::Bid => "bid",
            Self::Revealed => "revealed",
            Self::Accepted => "accepted",
            Self::Sealed => "sealed",
            Self::Committed => "committed",
            Self::Failed => "failed",
            Self::Settled => "settled",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "skipped" => Self::Skipped,
            "deferred" => Self::Deferred,
            "bid" => Self::Bid,
            "revealed" => Self::Revealed,
            "accepted" => Self::Accepted,
            "sealed" => Self::Sealed,
            "committed" => Self::Committed,
            "failed" => Self::Failed,
            "settled" => Self::Settled,
            other => return Err(StoreError::Phase(other.to_owned())),
        })
    }
}

/// One job's row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobRow {
    pub job_id: u64,
    #[serde(serialize_with = "phase_str")]
    pub phase: JobPhase,
    pub detail: String,
    /// The committed result manifest's hash (hex), once committed.
    pub result: Option<String>,
    /// The usage record's hash (hex), once committed.
    pub usage: Option<String>,
}

fn phase_str<S: serde::Serializer>(p: &JobPhase, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.as_str())
}

/// The sqlite file.
pub struct ProviderStore {
    conn: Connection,
}

impl ProviderStore {
    /// Opens (creating) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS jobs (
                 job_id INTEGER PRIMARY KEY,
                 phase TEXT NOT NULL,
                 detail TEXT NOT NULL DEFAULT '',
                 result TEXT,
                 usage TEXT
             );
             CREATE TABLE IF NOT EXISTS bids (
                 job_id INTEGER PRIMARY KEY,
                 price TEXT NOT NULL,
                 salt TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS result_salts (
                 job_id INTEGER PRIMARY KEY,
                 salt TEXT NOT NULL
             );",
        )?;
        readers::create(&conn)?;
        Ok(Self { conn })
    }

    /// The last block scanned for `JobCreated`.
    pub fn cursor(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'cursor'", [], |r| {
                r.get::<_, i64>(0)
            })
            .optional()?
            .map(|v| v as u64))
    }

    pub fn set_cursor(&self, block: u64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES ('cursor', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![block as i64],
        )?;
        Ok(())
    }

    /// Records a phase change (and the hashes, once known).
    pub fn set(
        &self,
        job_id: u64,
        phase: JobPhase,
        detail: &str,
        hashes: Option<(&str, &str)>,
    ) -> Result<(), StoreError> {
        let (result, usage) = hashes.unzip();
        self.conn.execute(
            "INSERT INTO jobs (job_id, phase, detail, result, usage) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(job_id) DO UPDATE SET phase = excluded.phase, detail = excluded.detail,
               result = COALESCE(excluded.result, jobs.result),
               usage = COALESCE(excluded.usage, jobs.usage)",
            params![job_id as i64, phase.as_str(), detail, result, usage],
        )?;
        Ok(())
    }

    /// Remembers a sealed bid's price and salt (before it is committed, so it can be revealed
    /// after a restart).
    pub fn set_bid(&self, job_id: u64, price: u128, salt: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO bids (job_id, price, salt) VALUES (?1, ?2, ?3)",
            params![job_id as i64, price.to_string(), salt],
        )?;
        Ok(())
    }

    /// The salt of the job's sealed result: the one stored, else `fresh` (stored first, before the
    /// commit is sent, so that a restart between the two can still reveal).
    pub fn result_salt_or(&self, job_id: u64, fresh: &str) -> Result<String, StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO result_salts (job_id, salt) VALUES (?1, ?2)",
            params![job_id as i64, fresh],
        )?;
        self.result_salt(job_id)?
            .ok_or(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    /// The salt of the job's sealed result, if one was made.
    pub fn result_salt(&self, job_id: u64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT salt FROM result_salts WHERE job_id = ?1",
                params![job_id as i64],
                |r| r.get::<_, String>(0),
            )
            .optional()?)
    }

    /// A sealed bid's price and salt.
    pub fn bid(&self, job_id: u64) -> Result<Option<(u128, String)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT price, salt FROM bids WHERE job_id = ?1",
                params![job_id as i64],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?
            .and_then(|(p, s)| p.parse().ok().map(|p| (p, s))))
    }

    pub fn get(&self, job_id: u64) -> Result<Option<JobRow>, StoreError> {
        self.conn
            .query_row(
                "SELECT job_id, phase, detail, result, usage FROM jobs WHERE job_id = ?1",
                params![job_id as i64],
                row,
            )
            .optional()?
            .transpose()
    }

    /// Jobs in `phase`, oldest first.
    pub fn in_phase(&self, phase: JobPhase) -> Result<Vec<JobRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT job_id, phase, detail, result, usage FROM jobs WHERE phase = ?1 ORDER BY job_id",
        )?;
        let rows = stmt.query_map(params![phase.as_str()], row)?;
        rows.map(|r| r?).collect()
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<JobRow, StoreError>> {
    let phase: String = r.get(1)?;
    Ok(JobPhase::parse(&phase).map(|phase| -> JobRow {
        JobRow {
            job_id: r.get::<_, i64>(0).unwrap_or_default() as u64,
            phase,
            detail: r.get(2).unwrap_or_default(),
            result: r.get(3).unwrap_or_default(),
            usage: r.get(4).unwrap_or_default(),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.sqlite");
        {
            let s = ProviderStore::open(&path).unwrap();
            assert_eq!(s.cursor().unwrap(), None);
            s.set_cursor(42).unwrap();
            s.set(1, JobPhase::Accepted, "", None).unwrap();
            s.set(2, JobPhase::Skipped, "price too low", None).unwrap();
            s.set(1, JobPhase::Committed, "", Some(("aa", "bb")))
                .unwrap();
            s.set(1, JobPhase::Settled, "paid", None).unwrap();
        }
        let s = ProviderStore::open(&path).unwrap();
        assert_eq!(s.cursor().unwrap(), Some(42));
        let one = s.get(1).unwrap().unwrap();
        assert_eq!(one.phase, JobPhase::Settled);
        assert_eq!(one.result.as_deref(), Some("aa"));
        assert_eq!(one.detail, "paid");
        assert_eq!(s.in_phase(JobPhase::Skipped).unwrap().len(), 1);
        assert!(s.get(3).unwrap().is_none());
    }

    #[test]
    fn a_result_salt_is_kept_across_reopen_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.sqlite");
        {
            let s = ProviderStore::open(&path).unwrap();
            assert_eq!(s.result_salt(7).unwrap(), None);
            assert_eq!(s.result_salt_or(7, "0xaa").unwrap(), "0xaa");
            s.set(7, JobPhase::Sealed, "", Some(("r", "u"))).unwrap();
        }
        let s = ProviderStore::open(&path).unwrap();
        assert_eq!(s.get(7).unwrap().unwrap().phase, JobPhase::Sealed);
        // A second commit attempt after a restart reuses the salt already committed to.
        assert_eq!(s.result_salt_or(7, "0xbb").unwrap(), "0xaa");
        assert_eq!(s.result_salt(7).unwrap().as_deref(), Some("0xaa"));
    }
}
