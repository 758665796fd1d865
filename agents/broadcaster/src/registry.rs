//! Every live or ended stream of this broadcaster, in memory. Readers take an immutable
//! snapshot of a stream and never wait; writers of one stream take turns, build the next state,
//! persist it and swap it in, so a failed write leaves the published state untouched.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use tokio::sync::{Mutex as AsyncMutex, MutexGuard as AsyncMutexGuard};

use crate::stream::StreamState;

/// One stream: its current state, the turn that writers wait for, and when a push last arrived.
#[derive(Debug, Default)]
pub struct StreamEntry {
    writer: AsyncMutex<()>,
    state: RwLock<Arc<StreamState>>,
    last_push: Mutex<Option<Instant>>,
}

impl StreamEntry {
    /// Notes that a push for this stream arrived now (before it is processed).
    pub fn touch(&self) {
        *self
            .last_push
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }

    /// When a push last arrived, if one ever did.
    pub fn last_push(&self) -> Option<Instant> {
        *self
            .last_push
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The state as last published.
    pub fn snapshot(&self) -> Arc<StreamState> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits for this stream's writer turn. Held across the disk writes of one change.
    pub async fn write(&self) -> StreamWriter<'_> {
        StreamWriter {
            _turn: self.writer.lock().await,
            entry: self,
        }
    }
}

/// The exclusive right to change one stream.
pub struct StreamWriter<'a> {
    _turn: AsyncMutexGuard<'a, ()>,
    entry: &'a StreamEntry,
}

impl StreamWriter<'_> {
    /// The current state; nobody else can change it while this writer lives.
    pub fn current(&self) -> Arc<StreamState> {
        self.entry.snapshot()
    }

    /// Publishes `next` to readers.
    pub fn replace(&self, next: StreamState) {
        *self
            .entry
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
    }
}

/// All streams by name.
#[derive(Debug, Default)]
pub struct StreamRegistry {
    streams: Mutex<HashMap<String, Arc<StreamEntry>>>,
}

impl StreamRegistry {
    /// The stream called `name`, if a push ever reached the publishing step.
    pub fn get(&self, name: &str) -> Option<Arc<StreamEntry>> {
        self.lock().get(name).cloned()
    }

    /// The stream called `name`, created empty (and invisible to viewers) if needed.
    pub fn get_or_create(&self, name: &str) -> Arc<StreamEntry> {
        self.lock().entry(name.to_owned()).or_default().clone()
    }

    /// The state of `name` if viewers can see it, i.e. once a segment was published.
    pub fn published(&self, name: &str) -> Option<Arc<StreamState>> {
        let state = self.get(name)?.snapshot();
        state.is_published().then_some(state)
    }

    /// Every stream, for sweeps such as the idle rule.
    pub fn all(&self) -> Vec<(String, Arc<StreamEntry>)> {
        self.lock()
            .iter()
            .map(|(name, entry)| (name.clone(), entry.clone()))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<StreamEntry>>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
