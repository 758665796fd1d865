//! Which transcoders are connected to this orchestrator, what each can take at once and what it is
//! working on. Transcoders pull, so "connected" means: a long poll of theirs is open, they hold a
//! job, or they were seen in the last [`LINGER`] (between posting a result and polling again).
//! Each names itself and its slots in headers of its pulls (see [`crate::http::TRANSCODER_HEADER`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::jobs::JobQueue;

/// How long a transcoder counts as connected after its last request.
pub const LINGER: Duration = Duration::from_secs(10);
/// Entries idle this long are forgotten.
const FORGET: Duration = Duration::from_secs(3600);

#[derive(Debug)]
struct Entry {
    slots: u32,
    pixels_per_second: Option<u64>,
    polls: usize,
    last_seen: Instant,
    last_seen_unix: u64,
    completed: u64,
}

/// One connected transcoder, as `/v1/status` and the metrics report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscoderStatus {
    pub name: String,
    /// Jobs it takes at once.
    pub capacity: u32,
    /// Jobs it holds now.
    pub load: u32,
    /// Its measured encoding capacity, if it reported one (output pixels per second).
    pub pixels_per_second: Option<u64>,
    /// Jobs it answered since this orchestrator started.
    pub completed: u64,
    /// Unix seconds of its last request.
    pub last_seen: u64,
}

/// The registry.
#[derive(Debug, Default)]
pub struct Transcoders {
    entries: Mutex<HashMap<String, Entry>>,
    /// Job id → the transcoder that took it.
    jobs: Mutex<HashMap<u64, String>>,
}

/// An open long poll; closing it (the request ends or its connection drops) is noted on drop.
pub struct Poll<'a> {
    registry: &'a Transcoders,
    name: String,
}

impl Drop for Poll<'_> {
    fn drop(&mut self) {
        let mut entries = self.registry.entries.lock().expect("transcoders");
        if let Some(e) = entries.get_mut(&self.name) {
            e.polls = e.polls.saturating_sub(1);
            touch(e);
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn touch(e: &mut Entry) {
    e.last_seen = Instant::now();
    e.last_seen_unix = unix_now();
}

impl Transcoders {
    /// `name` opened a long poll, offering `slots` jobs at once.
    pub fn poll(&self, name: &str, slots: u32, pixels_per_second: Option<u64>) -> Poll<'_> {
        let mut entries = self.entries.lock().expect("transcoders");
        let e = entries.entry(name.to_owned()).or_insert_with(|| Entry {
            slots,
            pixels_per_second,
            polls: 0,
            last_seen: Instant::now(),
            last_seen_unix: unix_now(),
            completed: 0,
        });
        e.slots = slots;
        e.pixels_per_second = pixels_per_second.or(e.pixels_per_second);
        e.polls += 1;
        touch(e);
        Poll {
            registry: self,
            name: name.to_owned(),
        }
    }

    /// `name` took job `job`.
    pub fn took(&self, name: &str, job: u64) {
        self.jobs
            .lock()
            .expect("transcoder jobs")
            .insert(job, name.to_owned());
    }

    /// Job `job`'s result came back; `delivered`: a request still waited for it.
    pub fn answered(&self, job: u64, delivered: bool) {
        let Some(name) = self.jobs.lock().expect("transcoder jobs").remove(&job) else {
            return;
        };
        if let Some(e) = self.entries.lock().expect("transcoders").get_mut(&name) {
            e.completed += u64::from(delivered);
            touch(e);
        }
    }

    /// The connected transcoders, by name. Jobs whose request gave up waiting no longer count.
    pub fn connected(&self, queue: &JobQueue) -> Vec<TranscoderStatus> {
        let mut load: HashMap<String, u32> = HashMap::new();
        {
            let mut jobs = self.jobs.lock().expect("transcoder jobs");
            jobs.retain(|id, _| queue.is_waiting(*id));
            for name in jobs.values() {
                *load.entry(name.clone()).or_default() += 1;
            }
        }
        let mut entries = self.entries.lock().expect("transcoders");
        entries.retain(|name, e| {
            e.polls > 0 || load.contains_key(name) || e.last_seen.elapsed() < FORGET
        });
        let mut out: Vec<TranscoderStatus> = entries
            .iter()
            .filter_map(|(name, e)| {
                let load = load.get(name).copied().unwrap_or(0);
                (e.polls > 0 || load > 0 || e.last_seen.elapsed() < LINGER).then(|| {
                    TranscoderStatus {
                        name: name.clone(),
                        capacity: e.slots,
                        load,
                        pixels_per_second: e.pixels_per_second,
                        completed: e.completed,
                        last_seen: e.last_seen_unix,
                    }
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerflow_protocol::api::SegmentRequest;

    fn request() -> SegmentRequest {
        SegmentRequest {
            stream: "s".into(),
            seq: 0,
            format: "ts".into(),
            profiles: vec![],
        }
    }

    #[tokio::test]
    async fn load_follows_jobs_taken_and_answered_or_abandoned() {
        let queue = std::sync::Arc::new(JobQueue::default());
        let registry = Transcoders::default();
        let poll = registry.poll("t1", 2, Some(1000));
        assert_eq!(registry.connected(&queue)[0].load, 0);
        let q = std::sync::Arc::clone(&queue);
        let waiting =
            tokio::spawn(
                async move { q.run(request(), vec![1], Duration::from_millis(300)).await },
            );
        let job = queue.take(Duration::from_secs(1)).await.unwrap();
        registry.took("t1", job.id);
        drop(poll);
        let status = registry.connected(&queue);
        assert_eq!(status.len(), 1);
        assert_eq!((status[0].capacity, status[0].load), (2, 1));
        // The request times out: the job no longer counts as load.
        assert!(waiting.await.unwrap().is_err());
        assert_eq!(registry.connected(&queue)[0].load, 0);
        registry.answered(job.id, queue.is_waiting(job.id));
        assert_eq!(registry.connected(&queue)[0].completed, 0, "abandoned job");

        let q = std::sync::Arc::clone(&queue);
        let waiting =
            tokio::spawn(async move { q.run(request(), vec![1], Duration::from_secs(5)).await });
        let job = queue.take(Duration::from_secs(1)).await.unwrap();
        registry.took("t1", job.id);
        assert_eq!(registry.connected(&queue)[0].load, 1);
        registry.answered(job.id, queue.is_waiting(job.id));
        assert!(queue.complete(job.id, Ok(vec![])));
        waiting.await.unwrap().unwrap();
        let status = registry.connected(&queue);
        assert_eq!((status[0].load, status[0].completed), (0, 1));
    }
}
