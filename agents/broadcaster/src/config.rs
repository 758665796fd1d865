//! What an operator can tune on the ingest and delivery side.

use std::path::PathBuf;
use std::time::Duration;

/// Streams live at once, broadcaster-wide, unless configured otherwise.
pub const DEFAULT_MAX_LIVE_STREAMS: usize = 64;
/// Ended streams kept in memory (listed and playable), unless configured otherwise.
pub const DEFAULT_MAX_ENDED_STREAMS: usize = 32;

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
    /// Streams live at once, every key and keyless push together: a live stream, or one whose
    /// first segment is being processed. A push that would open one more gets 429
    /// `too_many_streams` before anything is paid.
    pub max_live_streams: usize,
    /// Ended streams kept in memory, listed and playable, newest first; older ones (and streams
    /// that never published a segment, which count here too) are dropped from every in-memory
    /// table. Their recordings stay on disk, and their names stay taken.
    pub max_ended_streams: usize,
}

impl BroadcasterConfig {
    /// Defaults: 64 MiB segments (30 s at 16 Mbps with room to spare), a window of 6 segments
    /// and streams ended after 60 s without a push, as go-livepeer does; at most
    /// [`DEFAULT_MAX_LIVE_STREAMS`] live streams and [`DEFAULT_MAX_ENDED_STREAMS`] ended ones in
    /// memory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            max_segment_bytes: 64 * 1024 * 1024,
            live_window: 6,
            idle_timeout: Some(Duration::from_secs(60)),
            require_stream_keys: false,
            max_live_streams: DEFAULT_MAX_LIVE_STREAMS,
            max_ended_streams: DEFAULT_MAX_ENDED_STREAMS,
        }
    }

    /// The most streams this broadcaster holds in memory at once, live and ended: the size
    /// per-stream tables beside it (the network's statistics) are bounded by.
    pub fn max_streams_in_memory(&self) -> usize {
        self.max_live_streams.saturating_add(self.max_ended_streams)
    }

    /// Where the recordings of every stream live.
    pub fn recordings_dir(&self) -> PathBuf {
        self.data_dir.join("recordings")
    }
}
