//! The work queue between the orchestrator and its transcoders. Transcoders pull (so they can sit
//! behind NAT): each takes a job, transcodes it and posts the renditions back to the waiting request.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use peerflow_protocol::api::SegmentRequest;
use tokio::sync::{Notify, oneshot};

/// A segment to transcode.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: u64,
    pub request: SegmentRequest,
    pub segment: Vec<u8>,
    /// The output pixels it asks for (its profiles over the segment's frames).
    pub pixels: Pixels,
}

/// The output pixels a job asks for, as the orchestrator counts them. A held stream's segment
/// starts before its probe ends (see [`crate::admission::Admission::start_early`]): its count is
/// 0 until then, and set while the job runs; whoever keeps a clone reads the count set.
#[derive(Debug, Clone, Default)]
pub struct Pixels(Arc<AtomicU64>);

impl Pixels {
    /// The count (0 while unknown).
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets the count, for every clone.
    pub fn set(&self, pixels: u64) {
        self.0.store(pixels, Ordering::Relaxed);
    }
}

impl From<u64> for Pixels {
    fn from(pixels: u64) -> Self {
        Pixels(Arc::new(AtomicU64::new(pixels)))
    }
}

/// One rendition a transcoder produced, with the output pixels it is charged for (frames the
/// orchestrator counted × the profile's width × height; 0 until the orchestrator sets it).
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
    NoTranscoder(Duration),
    #[error("the segment cannot be transcoded: {0}")]
    BadSegment(String),
    #[error("transcoder failed: {0}")]
    Failed(String),
}

type Outcome = Result<Vec<RenditionResult>, JobError>;

/// A request waiting for its job: where the outcome goes, and once a transcoder took the job,
/// the secret only that transcoder learns and when it took it.
struct Waiting {
    reply: oneshot::Sender<(Outcome, Option<Instant>)>,
    secret: Option<[u8; 32]>,
    taken: Option<Instant>,
}

/// Where a job's time went: waiting for a transcoder, then with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobTimes {
    pub queued: Duration,
    pub transcoding: Duration,
}

/// Takes job `id` out of the queue and the waiting list when dropped (its request is over,
/// one way or another; a job already answered is gone from both).
struct Abandoned<'a> {
    queue: &'a JobQueue,
    id: u64,
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        self.queue
            .queued
            .lock()
            .expect("queue")
            .retain(|j| j.id != self.id);
        self.queue.waiting.lock().expect("waiting").remove(&self.id);
    }
}

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
        pixels: impl Into<Pixels>,
        timeout: Duration,
    ) -> Outcome {
        self.run_timed(request, segment, pixels, timeout).await.0
    }

    /// [`JobQueue::run`], and where the job's time went.
    pub async fn run_timed(
        &self,
        request: SegmentRequest,
        segment: Vec<u8>,
        pixels: impl Into<Pixels>,
        timeout: Duration,
    ) -> (Outcome, JobTimes) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, rx) = oneshot::channel();
        let queued = Instant::now();
        self.waiting.lock().expect("waiting").insert(
            id,
            Waiting {
                reply,
                secret: None,
                taken: None,
            },
        );
        self.queued.lock().expect("queue").push_back(Job {
            id,
            request,
            segment,
            pixels: pixels.into(),
        });
        self.available.notify_one();
        // A request dropped while it waits (its client gone) takes its job with it: nobody
        // would pay for the work, and its bytes would sit in the queue.
        let _abandoned = Abandoned { queue: self, id };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok((outcome, taken))) => {
                let taken = taken.unwrap_or(queued);
                let times = JobTimes {
                    queued: taken.saturating_duration_since(queued),
                    transcoding: taken.elapsed(),
                };
                (outcome, times)
            }
            _ => {
                let times = JobTimes {
                    queued: queued.elapsed(),
                    transcoding: Duration::ZERO,
                };
                (Err(JobError::NoTranscoder(timeout)), times)
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
        entry.secret = Some(secret);
        entry.taken = Some(Instant::now());
        Some(secret)
    }

    /// Whether `presented` is the secret job `id` was handed out with (compared in constant time).
    pub fn holds_secret(&self, id: u64, presented: &[u8]) -> bool {
        let waiting = self.waiting.lock().expect("waiting");
        match waiting.get(&id) {
            Some(Waiting {
                secret: Some(secret),
                ..
            }) => {
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
            Some(w) => w.reply.send((outcome, w.taken)).is_ok(),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_dropped_while_it_waits_takes_its_job_out_of_the_queue() {
        let queue = std::sync::Arc::new(JobQueue::default());
        let q = std::sync::Arc::clone(&queue);
        let request = SegmentRequest {
            stream: "s".into(),
            seq: 0,
            format: "ts".into(),
            profiles: vec![],
        };
        let waiting =
            tokio::spawn(async move { q.run(request, vec![1], 10, Duration::from_secs(60)).await });
        while queue.queued() == 0 {
            tokio::task::yield_now().await;
        }
        waiting.abort();
        let _ = waiting.await;
        assert_eq!(queue.queued(), 0, "no transcoder gets unpaid work");
        assert!(queue.take(Duration::from_millis(10)).await.is_none());
        assert!(!queue.is_waiting(0));
    }
}
