//! What the blob store's access policy ([`crate::access`]) knows about each blob: who uploaded it,
//! which job specs name it, which jobs exist with which spec and buyer, and which job produced it.

use alloy::primitives::Address;
use peerflow_compute::Digest;
use rusqlite::{Connection, OptionalExtension, params};

use super::{ProviderStore, StoreError};

pub(super) fn create(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS blob_owners (
             blob TEXT NOT NULL, owner TEXT NOT NULL, PRIMARY KEY (blob, owner));
         CREATE TABLE IF NOT EXISTS spec_blobs (
             spec TEXT NOT NULL, blob TEXT NOT NULL, PRIMARY KEY (spec, blob));
         CREATE INDEX IF NOT EXISTS spec_blobs_by_blob ON spec_blobs (blob);
         CREATE TABLE IF NOT EXISTS jobs_seen (
             job_id INTEGER PRIMARY KEY, spec TEXT NOT NULL, buyer TEXT NOT NULL);
         CREATE INDEX IF NOT EXISTS jobs_seen_by_spec ON jobs_seen (spec);
         CREATE TABLE IF NOT EXISTS job_outputs (
             blob TEXT NOT NULL, job_id INTEGER NOT NULL, PRIMARY KEY (blob, job_id));",
    )?;
    Ok(())
}

fn addr(s: String) -> Option<Address> {
    s.parse().ok()
}

impl ProviderStore {
    /// Records that `owner` uploaded `blob`.
    pub fn add_owner(&self, blob: Digest, owner: Address) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO blob_owners (blob, owner) VALUES (?1, ?2)",
            params![blob.to_hex(), owner.to_string()],
        )?;
        Ok(())
    }

    pub fn is_owner(&self, blob: Digest, who: Address) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM blob_owners WHERE blob = ?1 AND owner = ?2",
                params![blob.to_hex(), who.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Records the blobs a spec names.
    pub fn add_spec_blobs(&self, spec: Digest, blobs: &[Digest]) -> Result<(), StoreError> {
        for b in blobs {
            self.conn.execute(
                "INSERT OR IGNORE INTO spec_blobs (spec, blob) VALUES (?1, ?2)",
                params![spec.to_hex(), b.to_hex()],
            )?;
        }
        Ok(())
    }

    /// The specs naming `blob`, itself included.
    pub fn specs_naming(&self, blob: Digest) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT spec FROM spec_blobs WHERE blob = ?1")?;
        let mut specs: Vec<String> = stmt
            .query_map(params![blob.to_hex()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        specs.push(blob.to_hex());
        Ok(specs)
    }

    /// Records a job seen on-chain.
    pub fn record_seen(&self, job_id: u64, spec: Digest, buyer: Address) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO jobs_seen (job_id, spec, buyer) VALUES (?1, ?2, ?3)",
            params![job_id as i64, spec.to_hex(), buyer.to_string()],
        )?;
        Ok(())
    }

    /// Jobs seen with this spec, with their buyers.
    pub fn jobs_with_spec(&self, spec: &str) -> Result<Vec<(u64, Address)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT job_id, buyer FROM jobs_seen WHERE spec = ?1")?;
        let rows = stmt
            .query_map(params![spec], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(j, b)| Some((j, addr(b)?)))
            .collect())
    }

    /// The buyer of a job seen on-chain.
    pub fn buyer_of(&self, job_id: u64) -> Result<Option<Address>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT buyer FROM jobs_seen WHERE job_id = ?1",
                params![job_id as i64],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .and_then(addr))
    }

    /// Records that this provider produced `blob` for `job_id` (an output, a manifest, a usage
    /// record).
    pub fn add_job_output(&self, blob: Digest, job_id: u64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO job_outputs (blob, job_id) VALUES (?1, ?2)",
            params![blob.to_hex(), job_id as i64],
        )?;
        Ok(())
    }

    /// The jobs that produced `blob` here.
    pub fn jobs_producing(&self, blob: Digest) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT job_id FROM job_outputs WHERE blob = ?1")?;
        let rows = stmt
            .query_map(params![blob.to_hex()], |r| r.get::<_, i64>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows.into_iter().map(|j| j as u64).collect())
    }

    /// The last block scanned to record the jobs seen (for the access policy).
    pub fn seen_cursor(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'seen_cursor'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(|v| v as u64))
    }

    pub fn set_seen_cursor(&self, block: u64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES ('seen_cursor', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![block as i64],
        )?;
        Ok(())
    }
}
