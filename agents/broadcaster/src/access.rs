//! Who may push, and so spend the broadcaster's deposit, and who may administer: stream keys.
//!
//! A key is a bearer secret (`sk_` and 40 hex digits) that an operator creates through the admin
//! API (`/v1/admin/keys`, authenticated by the admin token in `<data_dir>/admin.json`, mode 0600)
//! or `peerflow broadcaster keys create`. It goes into the push URL, where every push tool can
//! carry it: `PUT /live/{key}/{stream}/{seq}.ts`. Only its keccak hash is stored (sqlite,
//! `<data_dir>/access.sqlite`), so a copy of the database does not push.
//!
//! Each key has a rate (segments per minute, a token bucket) and a number of streams it may keep
//! live at once; a stream pushed with a key belongs to that key, and no other key (nor a keyless
//! push) may push into it or end it. A private key's streams are published under an unguessable
//! name (`{playback id}-{stream}`), which its owner hands to whom it wants, and they are left out
//! of every listing (the page, `/v1/status`, `/v1/streams`).
//!
//! Keyless pushes (`PUT /live/{stream}/{seq}.ts`) are accepted only when the broadcaster runs with
//! `require_keys` off, which `peerflow broadcaster` allows only on a loopback listen address.
//! Everything is checked before the body is read, so a refused push costs nothing.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use alloy::primitives::{U256, keccak256};
use axum::http::{HeaderMap, header};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Streams a key may keep live at once, unless its settings say otherwise.
pub const DEFAULT_MAX_STREAMS: u32 = 4;
/// Segments a key may push per minute, unless its settings say otherwise (4 streams of 2 s
/// segments need 120).
pub const DEFAULT_SEGMENTS_PER_MINUTE: u32 = 180;

/// What a new key may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeySettings {
    /// A name for the operator's own reference.
    #[serde(default)]
    pub label: String,
    /// Publish this key's streams under an unguessable name and list them nowhere.
    #[serde(default)]
    pub private: bool,
    #[serde(default = "default_max_streams")]
    pub max_streams: u32,
    #[serde(default = "default_segments_per_minute")]
    pub segments_per_minute: u32,
    /// What a viewer pays per minute of this key's streams, in token wei (a decimal string); zero
    /// (the default) makes them free to watch.
    #[serde(default, with = "crate::gate::decimal")]
    pub price_per_minute: U256,
}

fn default_max_streams() -> u32 {
    DEFAULT_MAX_STREAMS
}

fn default_segments_per_minute() -> u32 {
    DEFAULT_SEGMENTS_PER_MINUTE
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            label: String::new(),
            private: false,
            max_streams: DEFAULT_MAX_STREAMS,
            segments_per_minute: DEFAULT_SEGMENTS_PER_MINUTE,
            price_per_minute: U256::ZERO,
        }
    }
}

/// A key as the admin API lists it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub id: i64,
    pub label: String,
    pub private: bool,
    pub max_streams: u32,
    pub segments_per_minute: u32,
    /// Token wei per minute of watching; zero for free streams.
    #[serde(with = "crate::gate::decimal")]
    pub price_per_minute: U256,
    /// For a private key: the prefix of its streams' published names.
    pub playback_id: Option<String>,
    pub created_unix: u64,
    pub revoked: bool,
    /// Streams pushed with this key, by published name.
    pub streams: Vec<String>,
}

/// A new key: its secret, shown once, and what it may do.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    pub key: String,
    #[serde(flatten)]
    pub info: KeyInfo,
}

/// A push that may go ahead: the stream it publishes to, and the key it counts against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The published stream name (a private key's streams carry its playback id).
    pub stream: String,
    pub key: Option<KeyGrant>,
}

/// The limits of the key behind a [`Grant`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    pub id: i64,
    pub max_streams: u32,
}

/// A failure of the key store itself.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("key store: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("admin file: {0}")]
    Io(#[from] std::io::Error),
    #[error("no entropy for a new secret: {0}")]
    Entropy(getrandom::Error),
}

impl From<AccessError> for ApiError {
    fn from(err: AccessError) -> Self {
        ApiError::Internal(err.to_string())
    }
}

/// The stream keys, the admin token and the push rate of every key.
pub struct Access {
    db: Mutex<Connection>,
    admin_token: String,
    require_keys: bool,
    /// By key id: bounded by the keys the operator made.
    buckets: Mutex<HashMap<i64, Bucket>>,
}

/// The admin file: where the admin API is and the token it takes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminFile {
    pub url: Option<String>,
    pub token: String,
}

impl Access {
    /// Opens (or creates) `<data_dir>/access.sqlite` and the admin token in
    /// `<data_dir>/admin.json` (0600), keeping an existing token across restarts.
    pub fn open(data_dir: &Path, require_keys: bool) -> Result<Self, AccessError> {
        std::fs::create_dir_all(data_dir)?;
        let db = Connection::open(data_dir.join("access.sqlite"))?;
        db.busy_timeout(std::time::Duration::from_secs(10))?;
        db.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS stream_keys (
                 id INTEGER PRIMARY KEY,
                 hash BLOB NOT NULL UNIQUE,
                 label TEXT NOT NULL,
                 private INTEGER NOT NULL,
                 max_streams INTEGER NOT NULL,
                 segments_per_minute INTEGER NOT NULL,
                 playback_id TEXT,
                 created_unix INTEGER NOT NULL,
                 revoked INTEGER NOT NULL DEFAULT 0,
                 price_per_minute TEXT NOT NULL DEFAULT '0'
             );
             CREATE TABLE IF NOT EXISTS stream_owners (
                 stream TEXT PRIMARY KEY,
                 key_id INTEGER NOT NULL REFERENCES stream_keys(id)
             );",
        )?;
        // Key stores made before paid streams: every key free.
        let priced: bool = db.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('stream_keys') WHERE name = 'price_per_minute'",
            [],
            |row| row.get(0),
        )?;
        if !priced {
            db.execute_batch(
                "ALTER TABLE stream_keys ADD COLUMN price_per_minute TEXT NOT NULL DEFAULT '0'",
            )?;
        }
        let admin_token = match read_admin_file(data_dir) {
            Some(file) => file.token,
            None => random_hex(32)?,
        };
        write_admin_file(
            data_dir,
            &AdminFile {
                url: None,
                token: admin_token.clone(),
            },
        )?;
        Ok(Self {
            db: Mutex::new(db),
            admin_token,
            require_keys,
            buckets: Mutex::default(),
        })
    }

    /// Whether pushes need a key.
    pub fn requires_keys(&self) -> bool {
        self.require_keys
    }

    /// The token the admin API takes (`Authorization: Bearer …`).
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// Refuses a request without the admin token.
    pub fn check_admin(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if constant_time_eq(given.as_bytes(), self.admin_token.as_bytes()) {
            Ok(())
        } else {
            Err(ApiError::Unauthorized {
                code: "admin_token_required",
                message: "the admin API takes `Authorization: Bearer <token>` from admin.json"
                    .into(),
            })
        }
    }

    /// A new key with `settings`; its secret is returned once and never stored.
    pub fn create(&self, settings: &KeySettings) -> Result<CreatedKey, ApiError> {
        if settings.max_streams == 0 || settings.segments_per_minute == 0 {
            return Err(ApiError::BadRequest(
                "maxStreams and segmentsPerMinute must be at least 1".into(),
            ));
        }
        if settings.label.len() > 200 {
            return Err(ApiError::BadRequest(
                "label is longer than 200 bytes".into(),
            ));
        }
        let key = format!("sk_{}", random_hex(20)?);
        let playback_id = settings.private.then(|| random_hex(8)).transpose()?;
        let created_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let db = self.db();
        db.execute(
            "INSERT INTO stream_keys
                 (hash, label, private, max_streams, segments_per_minute, playback_id, created_unix,
                  price_per_minute)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                keccak256(key.as_bytes()).as_slice(),
                settings.label,
                settings.private,
                settings.max_streams,
                settings.segments_per_minute,
                playback_id,
                created_unix as i64,
                settings.price_per_minute.to_string(),
            ],
        )
        .map_err(AccessError::from)?;
        let id = db.last_insert_rowid();
        let info = key_info(&db, id)
            .map_err(AccessError::from)?
            .expect("inserted above");
        tracing::info!(id, label = %settings.label, private = settings.private, price_per_minute = %settings.price_per_minute, "stream key created");
        Ok(CreatedKey { key, info })
    }

    /// Every key, oldest first.
    pub fn list(&self) -> Result<Vec<KeyInfo>, ApiError> {
        let db = self.db();
        let ids = db
            .prepare("SELECT id FROM stream_keys ORDER BY id")
            .and_then(|mut stmt| {
                stmt.query_map([], |row| row.get::<_, i64>(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(AccessError::from)?;
        ids.into_iter()
            .filter_map(|id| key_info(&db, id).transpose())
            .collect::<Result<_, _>>()
            .map_err(|e| AccessError::from(e).into())
    }

    /// Revokes key `id`: every later push with it gets 401. `unknown_key` if there is none.
    pub fn revoke(&self, id: i64) -> Result<KeyInfo, ApiError> {
        let db = self.db();
        let changed = db
            .execute("UPDATE stream_keys SET revoked = 1 WHERE id = ?1", [id])
            .map_err(AccessError::from)?;
        if changed == 0 {
            return Err(ApiError::UnknownKey(id));
        }
        tracing::info!(id, "stream key revoked");
        Ok(key_info(&db, id)
            .map_err(AccessError::from)?
            .expect("updated above"))
    }

    /// Decides whether a push (or an end) of `stream` with `key` may go ahead, and under which
    /// published name. For a push (`segment`): `live_streams` counts the key's streams live now
    /// other than this one, and `room` says whether the broadcaster takes the published name (its
    /// own limit on live streams); only then is one unit of the key's rate consumed and the
    /// stream claimed for the key.
    pub fn authorize(
        &self,
        key: Option<&str>,
        stream: &str,
        segment: bool,
        live_streams: impl FnOnce(&[String]) -> u32,
        room: impl FnOnce(&str) -> Result<(), ApiError>,
    ) -> Result<Grant, ApiError> {
        let Some(key) = key else {
            if self.require_keys {
                return Err(ApiError::Unauthorized {
                    code: "stream_key_required",
                    message: "this broadcaster takes pushes only with a stream key: \
                              PUT /live/{key}/{stream}/{seq}.ts"
                        .into(),
                });
            }
            if self.owner_of(stream)?.is_some() {
                return Err(ApiError::Forbidden(format!(
                    "stream {stream:?} belongs to a stream key; push with that key"
                )));
            }
            if segment {
                room(stream)?;
            }
            return Ok(Grant {
                stream: stream.to_owned(),
                key: None,
            });
        };
        let row = self
            .active_key(key)?
            .ok_or_else(|| ApiError::Unauthorized {
                code: "invalid_stream_key",
                message: "unknown or revoked stream key".into(),
            })?;
        let published = match &row.playback_id {
            Some(prefix) => format!("{prefix}-{stream}"),
            None => stream.to_owned(),
        };
        if !crate::stream::is_valid_name(&published) {
            return Err(ApiError::BadRequest(format!(
                "stream name {stream:?} is too long for a private stream (at most {} characters)",
                64 - 17
            )));
        }
        match self.owner_of(&published)? {
            Some(owner) if owner != row.id => {
                return Err(ApiError::Forbidden(format!(
                    "stream {stream:?} belongs to another stream key"
                )));
            }
            _ => {}
        }
        if segment {
            let owned = self.streams_of(row.id)?;
            let others: Vec<String> = owned.into_iter().filter(|s| *s != published).collect();
            if live_streams(&others) >= row.max_streams {
                return Err(ApiError::TooManyStreams(row.max_streams));
            }
            room(&published)?;
            self.take_token(row.id, row.segments_per_minute)?;
            self.claim(&published, row.id)?;
        }
        Ok(Grant {
            stream: published,
            key: Some(KeyGrant {
                id: row.id,
                max_streams: row.max_streams,
            }),
        })
    }

    /// What watching `stream` costs per minute (token wei): its key's price, zero for a keyless
    /// stream.
    pub fn price_of(&self, stream: &str) -> Result<U256, ApiError> {
        let price: Option<String> = self
            .db()
            .query_row(
                "SELECT k.price_per_minute FROM stream_owners o JOIN stream_keys k ON k.id = o.key_id
                 WHERE o.stream = ?1",
                [stream],
                |row| row.get(0),
            )
            .optional()
            .map_err(AccessError::from)?;
        match price {
            None => Ok(U256::ZERO),
            Some(text) => text
                .parse()
                .map_err(|_| ApiError::Internal(format!("stored price {text:?} of {stream:?}"))),
        }
    }

    /// Whether `stream` is private (listed nowhere).
    pub fn is_private(&self, stream: &str) -> bool {
        // Read from the store rather than kept in memory, which would grow with every private
        // stream ever pushed; a listing asks once per stream it holds.
        let private = self
            .db()
            .query_row(
                "SELECT k.private FROM stream_owners o JOIN stream_keys k ON k.id = o.key_id
                 WHERE o.stream = ?1",
                [stream],
                |row| row.get::<_, bool>(0),
            )
            .optional();
        match private {
            Ok(private) => private.unwrap_or(false),
            Err(err) => {
                // Unknown is listed nowhere: a private stream must not show.
                tracing::warn!(stream, %err, "could not read whether a stream is private");
                true
            }
        }
    }

    fn take_token(&self, id: i64, per_minute: u32) -> Result<(), ApiError> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let capacity = f64::from(per_minute);
        let bucket = buckets.entry(id).or_insert(Bucket {
            tokens: capacity,
            at: Instant::now(),
        });
        let now = Instant::now();
        bucket.tokens = (bucket.tokens
            + now.duration_since(bucket.at).as_secs_f64() * capacity / 60.0)
            .min(capacity);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return Err(ApiError::RateLimited(per_minute));
        }
        bucket.tokens -= 1.0;
        Ok(())
    }

    fn claim(&self, stream: &str, key_id: i64) -> Result<(), ApiError> {
        self.db()
            .execute(
                "INSERT OR IGNORE INTO stream_owners (stream, key_id) VALUES (?1, ?2)",
                params![stream, key_id],
            )
            .map_err(AccessError::from)?;
        Ok(())
    }

    fn owner_of(&self, stream: &str) -> Result<Option<i64>, ApiError> {
        Ok(self
            .db()
            .query_row(
                "SELECT key_id FROM stream_owners WHERE stream = ?1",
                [stream],
                |row| row.get(0),
            )
            .optional()
            .map_err(AccessError::from)?)
    }

    fn streams_of(&self, key_id: i64) -> Result<Vec<String>, ApiError> {
        Ok(streams_of(&self.db(), key_id).map_err(AccessError::from)?)
    }

    fn active_key(&self, key: &str) -> Result<Option<KeyRow>, ApiError> {
        Ok(self
            .db()
            .query_row(
                "SELECT id, max_streams, segments_per_minute, playback_id FROM stream_keys
                 WHERE hash = ?1 AND revoked = 0",
                [keccak256(key.as_bytes()).as_slice()],
                |row| {
                    Ok(KeyRow {
                        id: row.get(0)?,
                        max_streams: row.get(1)?,
                        segments_per_minute: row.get(2)?,
                        playback_id: row.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(AccessError::from)?)
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct KeyRow {
    id: i64,
    max_streams: u32,
    segments_per_minute: u32,
    playback_id: Option<String>,
}

/// A key's push allowance: `tokens` segments, refilled continuously up to the per-minute rate.
struct Bucket {
    tokens: f64,
    at: Instant,
}

fn key_info(db: &Connection, id: i64) -> rusqlite::Result<Option<KeyInfo>> {
    let info = db
        .query_row(
            "SELECT label, private, max_streams, segments_per_minute, playback_id, created_unix,
                    revoked, price_per_minute
             FROM stream_keys WHERE id = ?1",
            [id],
            |row| {
                Ok(KeyInfo {
                    id,
                    label: row.get(0)?,
                    private: row.get(1)?,
                    max_streams: row.get(2)?,
                    segments_per_minute: row.get(3)?,
                    playback_id: row.get(4)?,
                    created_unix: row.get::<_, i64>(5)? as u64,
                    revoked: row.get(6)?,
                    price_per_minute: row.get::<_, String>(7)?.parse().unwrap_or(U256::MAX),
                    streams: Vec::new(),
                })
            },
        )
        .optional()?;
    let Some(mut info) = info else {
        return Ok(None);
    };
    info.streams = streams_of(db, id)?;
    Ok(Some(info))
}

fn streams_of(db: &Connection, key_id: i64) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        db.prepare("SELECT stream FROM stream_owners WHERE key_id = ?1 ORDER BY stream")?;
    stmt.query_map([key_id], |row| row.get(0))?.collect()
}

/// The admin file of the broadcaster whose data directory is `data_dir`, if there is one.
pub fn read_admin_file(data_dir: &Path) -> Option<AdminFile> {
    let text = std::fs::read_to_string(data_dir.join("admin.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes `<data_dir>/admin.json`, readable by its owner only.
pub fn write_admin_file(data_dir: &Path, file: &AdminFile) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join("admin.json");
    let staging = data_dir.join("admin.json.new");
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&staging)?;
    out.write_all(serde_json::to_string_pretty(file)?.as_bytes())?;
    out.sync_all()?;
    std::fs::rename(staging, path)
}

fn random_hex(bytes: usize) -> Result<String, AccessError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(AccessError::Entropy)?;
    Ok(alloy::hex::encode(buf))
}

/// Compares two secrets in time that depends on their lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_token_survives_a_restart_and_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = Access::open(dir.path(), true).unwrap();
        let second = Access::open(dir.path(), true).unwrap();
        assert_eq!(first.admin_token(), second.admin_token());
        let mode = std::fs::metadata(dir.path().join("admin.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn the_rate_is_a_token_bucket_per_key() {
        let dir = tempfile::tempdir().unwrap();
        let access = Access::open(dir.path(), true).unwrap();
        let created = access
            .create(&KeySettings {
                segments_per_minute: 3,
                ..KeySettings::default()
            })
            .unwrap();
        for _ in 0..3 {
            access
                .authorize(Some(&created.key), "s", true, |_| 0, |_| Ok(()))
                .unwrap();
        }
        let err = access
            .authorize(Some(&created.key), "s", true, |_| 0, |_| Ok(()))
            .unwrap_err();
        assert_eq!(err.code(), "rate_limited");
    }

    #[test]
    fn secrets_compare_in_constant_time_shape() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
