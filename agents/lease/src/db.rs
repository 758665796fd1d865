//! The sqlite connection both lease books open: WAL, every commit synced, a writer waiting for
//! another's write instead of failing.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

/// Opens (creating) the database at `path` and applies `schema`.
pub fn open(path: &Path, schema: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(schema)?;
    Ok(conn)
}
