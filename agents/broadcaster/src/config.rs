//! What an operator can tune on the ingest and delivery side.

use std::path::PathBuf;
use std::time::Duration;

/// Configuration of the broadcaster's HTTP side.
#[derive(Debug, Clone)]
pub struct BroadcasterConfig {
    /// Root of the broadcaster's files; recordings go to `<data_dir>/recordings/`.
    pub data_dir: PathBuf,
    /// Largest accepted segment body in bytes; larger pushes get 413.
    pub max_segment_bytes: usize,
    /// How many segments a live media playlist lists.
    pub live_window: usize,
    /// A stream with no successful push for this long is ended; `None` ends streams only on
    /// `DELETE`.
    pub idle_timeout: Option<Duration>,
    /// Pushes need a stream key (`PUT /live/{key}/{stream}/{seq}.ts`); off, keyless pushes are
    /// taken too. `peerflow broadcaster` turns it off only on a loopback listen address.
    pub require_stream_keys: bool,
}

impl BroadcasterConfig {
    /// Defaults: 64 MiB segments (30 s at 16 Mbps with room to spare), a window of 6 segments
    /// and streams ended after 60 s without a push, as go-livepeer does.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            max_segment_bytes: 64 * 1024 * 1024,
            live_window: 6,
            idle_timeout: Some(Duration::from_secs(60)),
            require_stream_keys: false,
        }
    }

    /// Where the recordings of every stream live.
    pub fn recordings_dir(&self) -> PathBuf {
        self.data_dir.join("recordings")
    }
}
