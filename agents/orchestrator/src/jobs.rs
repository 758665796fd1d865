//! The work queue between the orchestrator and its transcoders. Transcoders pull (so they can sit
//! behind NAT): each takes a job, transcodes it and posts the renditions back to the waiting request.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use peerflow_protocol::api::SegmentRequest;
use tokio::sync::{Notify, oneshot};

/// A segment to transcode.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: u64,
    pub request: SegmentRequest,
    pub segment: Vec<u8>,
    /// The output pixels it asks for (its profiles over the segment's frames).
    pub pixels: u64,
}

/// One rendition a transcoder produced, with the output pixels it encoded (frames × width × height).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenditionResult {
    pub name: String,
    pub content_type: String,
    pub pixels: u64,
    pub bytes: Vec<u8>,
}

/// How a job ended.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("no transcoder took the segment within {0:?}")]
    NoCapacity(Duration),
    #[error("the segment cannot be transcoded: {0}")]
    BadSegment(String),
    #[error("transcoder failed: {0}")]
    Failed(String),
}

type Outcome = Result<Vec<RenditionResult>, JobError>;

/// Where a waiting request's outcome goes, and the secret of the transcoder its job went to.
type Waiting = (oneshot::Sender<Outcome>, Option<[u8; 32]>);

/// Jobs waiting for a transcoder, and requests waiting for their job's outcome.
#[derive(Default)]
pub struct JobQueue {
    next_id: AtomicU64,
    queued: Mutex<VecDeque<Job>>,
    /// Requests waiting for their job, with the secret of the transcoder it was handed to.
    waiting: Mutex<HashMap<u64, Waiting>>,
    available: Notify,
}

impl JobQueue {
    /// Queues a segment and waits for its renditions, or fails if no transcoder picks it up in time
    /// (the broadcaster then tries another orchestrator).
    pub async fn run(
        &self,
        request: SegmentRequest,
        segment: Vec<u8>,
        pixels: u64,
        timeout: Duration,
    ) -> Outcome {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().expect("waiting").insert(id, (tx, None));
        self.queued.lock().expect("queue").push_back(Job {
            id,
            request,
            segment,
            pixels,
        });
        self.available.notify_one();
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => outcome,
            _ => {
                self.queued.lock().expect("queue").retain(|j| j.id != id);
                self.waiting.lock().expect("waiting").remove(&id);
                Err(JobError::NoCapacity(timeout))
            }
        }
    }

    /// The next job, waiting up to `wait` for one.
    pub async fn take(&self, wait: Duration) -> Option<Job> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.available.notified();
            if let Some(job) = self.queued.lock().expect("queue").pop_front() {
                return Some(job);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Binds job `id` to the transcoder it is handed to: returns the secret only that transcoder
    /// learns and must present with the job's result (None if nobody waits for the job any more).
    pub fn assign(&self, id: u64) -> Option<[u8; 32]> {
        let secret = alloy_primitives::B256::random().0;
        let mut waiting = self.waiting.lock().expect("waiting");
        let entry = waiting.get_mut(&id)?;
        entry.1 = Some(secret);
        Some(secret)
    }

    /// Whether `presented` is the secret job `id` was handed out with (compared in constant time).
    pub fn holds_secret(&self, id: u64, presented: &[u8]) -> bool {
        let waiting = self.waiting.lock().expect("waiting");
        match waiting.get(&id) {
            Some((_, Some(secret))) => {
                presented.len() == secret.len()
                    && presented
                        .iter()
                        .zip(secret)
                        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                        == 0
            }
            _ => false,
        }
    }

    /// Whether a request still waits for job `id`'s outcome.
    pub fn is_waiting(&self, id: u64) -> bool {
        self.waiting.lock().expect("waiting").contains_key(&id)
    }

    /// Jobs queued and not yet taken by a transcoder.
    pub fn queued(&self) -> usize {
        self.queued.lock().expect("queue").len()
    }

    /// Delivers a job's outcome; false if nobody waits for it any more (timed out).
    pub fn complete(&self, id: u64, outcome: Outcome) -> bool {
        match self.waiting.lock().expect("waiting").remove(&id) {
            Some((tx, _)) => tx.send(outcome).is_ok(),
            None => false,
        }
    }
}
