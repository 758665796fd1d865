//! Bounded event scans. Public providers refuse an `eth_getLogs` over too many blocks or one that
//! matches too many logs, so every scan walks its range in windows: a refusal halves the window
//! and retries the same blocks, each success doubles it again (up to [`MAX_WINDOW`]). Scans start
//! at the deployment block, never at 0.
//!
//! A role that follows events keeps its place in its own sqlite ([`Cursors`]): a
//! [`CheckpointedScan`] hands out one window's logs at a time and moves its cursor only when the
//! caller commits, after handling them, so a restart resumes where the last handled window ended
//! and neither skips nor rescans history.

use std::path::Path;
use std::sync::{Arc, Mutex};

use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::transports::{RpcError, TransportErrorKind};

/// Blocks asked for in the first window of a scan.
pub const FIRST_WINDOW: u64 = 2_000;
/// The widest window a scan grows to.
pub const MAX_WINDOW: u64 = 50_000;

/// Why a scan stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The provider refused even a one-block window.
    #[error("eth_getLogs for block {block} refused even alone: {reason}")]
    Refused { block: u64, reason: String },
    #[error("eth_getLogs over blocks {from}..={to}: {source}")]
    Rpc {
        from: u64,
        to: u64,
        #[source]
        source: RpcError<TransportErrorKind>,
    },
    #[error("reading the chain head: {0}")]
    Head(#[source] RpcError<TransportErrorKind>),
    #[error("log cursor store: {0}")]
    Store(#[from] rusqlite::Error),
}

/// A provider's answer that means "ask for fewer blocks" (a range or result-count cap, a response
/// too large, a query that timed out on its side), as opposed to a failure.
pub fn is_range_refusal(error: &RpcError<TransportErrorKind>) -> bool {
    let RpcError::ErrorResp(payload) = error else {
        return false;
    };
    let message = payload.message.to_ascii_lowercase();
    [
        "range",
        "more than",
        "too many",
        "limit",
        "exceed",
        "too large",
        "response size",
        "timeout",
        "timed out",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// Walks block ranges for one filter (its addresses and topics; its block range is ignored),
/// remembering the window size that last worked.
#[derive(Debug, Clone)]
pub struct LogScanner {
    filter: Filter,
    window: u64,
    /// `eth_getLogs` calls made, refusals included.
    pub calls: u64,
}

impl LogScanner {
    pub fn new(filter: Filter) -> Self {
        Self {
            filter,
            window: FIRST_WINDOW,
            calls: 0,
        }
    }

    /// The window the next call asks for.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// The logs of the first window of `from..=to` the provider serves, and the window's last
    /// block. `from > to` is an empty window ending at `to`.
    pub async fn next_window<P: Provider>(
        &mut self,
        provider: &P,
        from: u64,
        to: u64,
    ) -> Result<(Vec<Log>, u64), ScanError> {
        if from > to {
            return Ok((Vec::new(), to));
        }
        loop {
            let end = to.min(from.saturating_add(self.window - 1));
            let filter = self.filter.clone().from_block(from).to_block(end);
            self.calls += 1;
            match provider.get_logs(&filter).await {
                Ok(logs) => {
                    self.window = (self.window * 2).min(MAX_WINDOW);
                    return Ok((logs, end));
                }
                Err(e) if is_range_refusal(&e) => {
                    if self.window == 1 {
                        return Err(ScanError::Refused {
                            block: from,
                            reason: e.to_string(),
                        });
                    }
                    self.window /= 2;
                    tracing::debug!(from, end, window = self.window, error = %e, "eth_getLogs refused; halving the window");
                }
                Err(source) => {
                    return Err(ScanError::Rpc {
                        from,
                        to: end,
                        source,
                    });
                }
            }
        }
    }

    /// Every log of `from..=to`, window by window.
    pub async fn scan<P: Provider>(
        &mut self,
        provider: &P,
        from: u64,
        to: u64,
    ) -> Result<Vec<Log>, ScanError> {
        let mut logs = Vec::new();
        let mut next = from;
        while next <= to {
            let (window, end) = self.next_window(provider, next, to).await?;
            logs.extend(window);
            next = end + 1;
        }
        Ok(logs)
    }
}

/// Every log matching `filter` from `from` to the current head, in bounded windows.
pub async fn scan_to_head<P: Provider>(
    provider: &P,
    filter: Filter,
    from: u64,
) -> Result<Vec<Log>, ScanError> {
    let head = provider.get_block_number().await.map_err(ScanError::Head)?;
    LogScanner::new(filter).scan(provider, from, head).await
}

/// Scan cursors in a role's sqlite (table `log_cursors`), one per named scan.
#[derive(Clone)]
pub struct Cursors {
    db: Arc<Mutex<rusqlite::Connection>>,
}

impl Cursors {
    /// Opens (and creates if needed) the cursor table in the sqlite file at `path`; the file may be
    /// the one the role keeps its other state in.
    pub fn open(path: &Path) -> Result<Self, ScanError> {
        let db = rusqlite::Connection::open(path)?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS log_cursors (
                name TEXT PRIMARY KEY,
                next_block INTEGER NOT NULL
            )",
        )?;
        Ok(Self {
            db: Arc::new(Mutex::new(db)),
        })
    }

    /// The first block scan `name` has not handled yet, if it ever committed.
    pub fn get(&self, name: &str) -> Result<Option<u64>, ScanError> {
        let db = self.db.lock().expect("not poisoned");
        let mut stmt = db.prepare_cached("SELECT next_block FROM log_cursors WHERE name = ?1")?;
        let mut rows = stmt.query([name])?;
        Ok(match rows.next()? {
            Some(row) => Some(row.get::<_, i64>(0)? as u64),
            None => None,
        })
    }

    /// Records that scan `name` has handled every block before `next_block`.
    pub fn set(&self, name: &str, next_block: u64) -> Result<(), ScanError> {
        let db = self.db.lock().expect("not poisoned");
        db.execute(
            "INSERT INTO log_cursors (name, next_block) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET next_block = excluded.next_block",
            rusqlite::params![name, next_block as i64],
        )?;
        Ok(())
    }
}

/// One window's logs, to be committed once handled.
#[derive(Debug)]
pub struct Batch {
    pub logs: Vec<Log>,
    pub from: u64,
    pub to: u64,
}

/// A scan that follows one filter from the deployment block on and keeps its place in sqlite.
pub struct CheckpointedScan {
    name: String,
    scanner: LogScanner,
    cursors: Cursors,
    next: u64,
}

impl CheckpointedScan {
    /// Resumes scan `name` from its cursor, or starts it at `start_block` (the deployment's block;
    /// a cursor below it is raised to it).
    pub fn new(
        name: impl Into<String>,
        filter: Filter,
        start_block: u64,
        cursors: Cursors,
    ) -> Result<Self, ScanError> {
        let name = name.into();
        let next = cursors.get(&name)?.unwrap_or(start_block).max(start_block);
        Ok(Self {
            name,
            scanner: LogScanner::new(filter),
            cursors,
            next,
        })
    }

    /// The first block not handled yet.
    pub fn next_block(&self) -> u64 {
        self.next
    }

    /// `eth_getLogs` calls this scan made since it was opened.
    pub fn calls(&self) -> u64 {
        self.scanner.calls
    }

    /// The next window up to `to` (e.g. the head less the confirmations wanted), or `None` when
    /// the scan is already past `to`. Nothing moves until [`CheckpointedScan::commit`].
    pub async fn next_batch<P: Provider>(
        &mut self,
        provider: &P,
        to: u64,
    ) -> Result<Option<Batch>, ScanError> {
        if self.next > to {
            return Ok(None);
        }
        let (logs, end) = self.scanner.next_window(provider, self.next, to).await?;
        Ok(Some(Batch {
            logs,
            from: self.next,
            to: end,
        }))
    }

    /// Marks `batch` handled: the cursor moves past it, in sqlite too.
    pub fn commit(&mut self, batch: &Batch) -> Result<(), ScanError> {
        self.cursors.set(&self.name, batch.to + 1)?;
        self.next = batch.to + 1;
        Ok(())
    }
}
