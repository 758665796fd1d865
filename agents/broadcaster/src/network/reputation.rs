//! What this broadcaster has seen of each orchestrator, kept in sqlite so that it outlives a
//! restart: attempts, successes, failures, verification faults, a latency EWMA, and the
//! suspension that keeps an orchestrator out of every stream. A failure (unreachable, refused,
//! a bad or unsigned reply) suspends for a time that doubles with each consecutive failure and
//! resets on success; a verification fault (a signed rendition that fails the checks) suspends
//! for the much longer fault period. Selection ([`super::processor`]) reads the scores.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::Address;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// The weight of the newest latency in the EWMA.
const LATENCY_ALPHA: f64 = 0.2;

/// How long failures keep an orchestrator out.
#[derive(Debug, Clone, Copy)]
pub struct SuspensionPolicy {
    /// After the first consecutive failure; doubles with each further one…
    pub base: Duration,
    /// …up to this.
    pub max: Duration,
    /// After a verification fault.
    pub fault: Duration,
}

impl Default for SuspensionPolicy {
    /// 5 s doubling up to 5 min for failures, a day for a fault.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            max: Duration::from_secs(300),
            fault: Duration::from_secs(24 * 3600),
        }
    }
}

/// One orchestrator's record at this broadcaster.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Score {
    pub address: Address,
    /// Segments sent to it.
    pub attempts: u64,
    /// Replies that were signed and passed verification.
    pub successes: u64,
    /// Attempts that failed without a proven fault (unreachable, refused, bad reply).
    pub failures: u64,
    /// Signed renditions that failed verification.
    pub faults: u64,
    /// Failures since the last success.
    pub consecutive_failures: u64,
    /// EWMA of the round trip of successful segments, milliseconds.
    pub latency_ewma_ms: Option<f64>,
    /// Unix time in milliseconds until which it is suspended (0: not suspended).
    pub suspended_until_ms: u64,
    /// The last verification fault, e.g. `"low_quality"`.
    pub last_fault: Option<String>,
    /// Unix time in milliseconds of the last update.
    pub updated_at_ms: u64,
}

impl Score {
    /// Successes over attempts with one success and one failure assumed up front, so a newcomer
    /// scores 0.5 rather than 0 or 1.
    pub fn success_rate(&self) -> f64 {
        (self.successes as f64 + 1.0) / (self.attempts as f64 + 2.0)
    }

    /// Whether it is suspended at unix time `now_ms` (milliseconds).
    pub fn suspended_at(&self, now_ms: u64) -> bool {
        now_ms < self.suspended_until_ms
    }

    /// Whether it is suspended now.
    pub fn is_suspended(&self) -> bool {
        self.suspended_at(now())
    }
}

/// The reputation store could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("reputation store: {0}")]
pub struct ReputationError(#[from] rusqlite::Error);

/// The scores of every orchestrator this broadcaster used, shared by all its streams.
#[derive(Debug)]
pub struct Reputation {
    conn: Mutex<Connection>,
    policy: SuspensionPolicy,
}

impl Reputation {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path, policy: SuspensionPolicy) -> Result<Self, ReputationError> {
        Self::with(Connection::open(path)?, policy)
    }

    /// A store that lives only in memory (tests, one-off runs).
    pub fn in_memory(policy: SuspensionPolicy) -> Result<Self, ReputationError> {
        Self::with(Connection::open_in_memory()?, policy)
    }

    fn with(conn: Connection, policy: SuspensionPolicy) -> Result<Self, ReputationError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "busy_timeout", 5000)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS scores (
                address TEXT PRIMARY KEY,
                attempts INTEGER NOT NULL DEFAULT 0,
                successes INTEGER NOT NULL DEFAULT 0,
                failures INTEGER NOT NULL DEFAULT 0,
                faults INTEGER NOT NULL DEFAULT 0,
                consecutive_failures INTEGER NOT NULL DEFAULT 0,
                latency_ewma_ms REAL,
                suspended_until_ms INTEGER NOT NULL DEFAULT 0,
                last_fault TEXT,
                updated_at_ms INTEGER NOT NULL DEFAULT 0
            ) STRICT;",
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
            policy,
        })
    }

    /// A signed, verified reply that took `took`: clears the failure streak and the suspension.
    pub fn succeeded(&self, who: Address, took: Duration) -> Result<(), ReputationError> {
        let ms = took.as_secs_f64() * 1e3;
        self.update(who, |s| {
            s.attempts += 1;
            s.successes += 1;
            s.consecutive_failures = 0;
            s.suspended_until_ms = 0;
            s.latency_ewma_ms = Some(
                s.latency_ewma_ms
                    .map_or(ms, |prev| (1.0 - LATENCY_ALPHA) * prev + LATENCY_ALPHA * ms),
            );
        })
        .map(drop)
    }

    /// A failed attempt without a proven fault; returns how long `who` is now suspended.
    pub fn failed(&self, who: Address) -> Result<Duration, ReputationError> {
        let (base, max) = (self.policy.base, self.policy.max);
        let mut period = Duration::ZERO;
        self.update(who, |s| {
            s.attempts += 1;
            s.failures += 1;
            s.consecutive_failures += 1;
            let doublings = u32::try_from(s.consecutive_failures - 1).unwrap_or(u32::MAX);
            period = base.saturating_mul(2u32.saturating_pow(doublings)).min(max);
            s.suspended_until_ms = s.suspended_until_ms.max(s.updated_at_ms + millis(period));
        })?;
        Ok(period)
    }

    /// A signed rendition that failed verification with `fault`: suspended for the fault period.
    pub fn faulted(&self, who: Address, fault: &str) -> Result<Duration, ReputationError> {
        let period = self.policy.fault;
        self.update(who, |s| {
            s.attempts += 1;
            s.faults += 1;
            s.consecutive_failures += 1;
            s.last_fault = Some(fault.to_owned());
            s.suspended_until_ms = s.updated_at_ms + millis(period);
        })?;
        Ok(period)
    }

    /// Whether `who` is suspended now.
    pub fn is_suspended(&self, who: Address) -> Result<bool, ReputationError> {
        Ok(self.score(who)?.is_some_and(|s| s.is_suspended()))
    }

    /// `who`'s record, if it was ever tried.
    pub fn score(&self, who: Address) -> Result<Option<Score>, ReputationError> {
        let conn = self.conn.lock().expect("reputation store");
        Ok(read(&conn, who)?)
    }

    /// Every record, most attempted first.
    pub fn scores(&self) -> Result<Vec<Score>, ReputationError> {
        let conn = self.conn.lock().expect("reputation store");
        let mut statement = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM scores ORDER BY attempts DESC"
        ))?;
        let rows = statement.query_map([], row_to_score)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Reads, changes and writes back `who`'s record in one transaction.
    fn update(
        &self,
        who: Address,
        change: impl FnOnce(&mut Score),
    ) -> Result<Score, ReputationError> {
        let mut conn = self.conn.lock().expect("reputation store");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut score = read(&tx, who)?.unwrap_or_else(|| fresh(who));
        score.updated_at_ms = now();
        change(&mut score);
        tx.execute(
            "INSERT INTO scores (address, attempts, successes, failures, faults,
                consecutive_failures, latency_ewma_ms, suspended_until_ms, last_fault, updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (address) DO UPDATE SET attempts = ?2, successes = ?3, failures = ?4,
                faults = ?5, consecutive_failures = ?6, latency_ewma_ms = ?7,
                suspended_until_ms = ?8, last_fault = ?9, updated_at_ms = ?10",
            params![
                key(who),
                score.attempts as i64,
                score.successes as i64,
                score.failures as i64,
                score.faults as i64,
                score.consecutive_failures as i64,
                score.latency_ewma_ms,
                score.suspended_until_ms as i64,
                score.last_fault,
                score.updated_at_ms as i64,
            ],
        )?;
        tx.commit()?;
        Ok(score)
    }
}

const COLUMNS: &str = "address, attempts, successes, failures, faults, consecutive_failures, \
                       latency_ewma_ms, suspended_until_ms, last_fault, updated_at_ms";

fn read(conn: &Connection, who: Address) -> rusqlite::Result<Option<Score>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM scores WHERE address = ?1"),
        [key(who)],
        row_to_score,
    )
    .optional()
}

fn row_to_score(row: &rusqlite::Row<'_>) -> rusqlite::Result<Score> {
    let address: String = row.get(0)?;
    let count = |i: usize| row.get::<_, i64>(i).map(|v| v.max(0) as u64);
    Ok(Score {
        address: address.parse().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })?,
        attempts: count(1)?,
        successes: count(2)?,
        failures: count(3)?,
        faults: count(4)?,
        consecutive_failures: count(5)?,
        latency_ewma_ms: row.get(6)?,
        suspended_until_ms: count(7)?,
        last_fault: row.get(8)?,
        updated_at_ms: count(9)?,
    })
}

fn fresh(address: Address) -> Score {
    Score {
        address,
        attempts: 0,
        successes: 0,
        failures: 0,
        faults: 0,
        consecutive_failures: 0,
        latency_ewma_ms: None,
        suspended_until_ms: 0,
        last_fault: None,
        updated_at_ms: 0,
    }
}

/// Addresses are stored checksummed, so the file reads well in `sqlite3`.
fn key(who: Address) -> String {
    who.to_checksum(None)
}

/// Unix time in milliseconds.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> SuspensionPolicy {
        SuspensionPolicy {
            base: Duration::from_secs(10),
            max: Duration::from_secs(30),
            fault: Duration::from_secs(3600),
        }
    }

    #[test]
    fn failures_suspend_doubling_up_to_the_cap_and_success_resets() {
        let r = Reputation::in_memory(policy()).unwrap();
        let o = Address::repeat_byte(1);
        assert!(!r.is_suspended(o).unwrap());
        assert_eq!(r.failed(o).unwrap(), Duration::from_secs(10));
        assert_eq!(r.failed(o).unwrap(), Duration::from_secs(20));
        assert_eq!(r.failed(o).unwrap(), Duration::from_secs(30), "capped");
        assert!(r.is_suspended(o).unwrap());
        r.succeeded(o, Duration::from_millis(100)).unwrap();
        assert!(!r.is_suspended(o).unwrap());
        let s = r.score(o).unwrap().unwrap();
        assert_eq!(
            (s.attempts, s.successes, s.failures, s.faults),
            (4, 1, 3, 0)
        );
        assert_eq!(s.consecutive_failures, 0);
        assert!((s.success_rate() - 2.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn a_fault_suspends_for_the_fault_period_and_is_remembered() {
        let r = Reputation::in_memory(policy()).unwrap();
        let o = Address::repeat_byte(2);
        assert_eq!(
            r.faulted(o, "low_quality").unwrap(),
            Duration::from_secs(3600)
        );
        let s = r.score(o).unwrap().unwrap();
        assert!(s.suspended_until_ms >= now() + 3_599_000);
        assert_eq!(s.last_fault.as_deref(), Some("low_quality"));
        assert_eq!(s.faults, 1);
        // A later transient failure does not shorten the fault suspension.
        r.failed(o).unwrap();
        assert!(r.score(o).unwrap().unwrap().suspended_until_ms >= now() + 3_599_000);
    }

    #[test]
    fn latency_is_an_ewma() {
        let r = Reputation::in_memory(policy()).unwrap();
        let o = Address::repeat_byte(3);
        r.succeeded(o, Duration::from_millis(100)).unwrap();
        r.succeeded(o, Duration::from_millis(200)).unwrap();
        let s = r.score(o).unwrap().unwrap();
        assert!((s.latency_ewma_ms.unwrap() - 120.0).abs() < 1e-9);
    }

    #[test]
    fn scores_survive_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reputation.sqlite");
        let o = Address::repeat_byte(4);
        {
            let r = Reputation::open(&path, policy()).unwrap();
            r.faulted(o, "wrong_resolution").unwrap();
            r.succeeded(Address::repeat_byte(5), Duration::from_millis(7))
                .unwrap();
        }
        let r = Reputation::open(&path, policy()).unwrap();
        assert!(
            r.is_suspended(o).unwrap(),
            "the suspension outlives a restart"
        );
        let all = r.scores().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            r.score(o).unwrap().unwrap().last_fault.as_deref(),
            Some("wrong_resolution")
        );
    }
}
