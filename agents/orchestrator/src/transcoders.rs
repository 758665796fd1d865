//! Which transcoders are connected to this orchestrator, what each can take at once and what it is
//! working on. Transcoders pull, so "connected" means: a long poll of theirs is open, they hold a
//! job, or they were seen in the last [`LINGER`] (between posting a result and polling again).
//! Each names itself and its slots in headers of its pulls (see [`crate::http::TRANSCODER_HEADER`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::jobs::{JobQueue, Pixels};

/// How long a transcoder counts as connected after its last request.
pub const LINGER: Duration = Duration::from_secs(10);
/// How long a transcoder that neither polls nor works still counts towards capacity (the gap
/// between posting a result and polling again); one gone longer takes its capacity with it.
pub const CAPACITY_LINGER: Duration = Duration::from_secs(2);
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
    /// Output pixels per second of its jobs as seen from here (take to answer), a moving
    /// average; `None` before its first answer.
    observed: Option<f64>,
}

/// The share of a measured throughput that admission may fill. Segments arrive in bursts (a push
/// waits on the previous answer, several streams' segments land at once), and as the load nears a
/// machine's throughput its queue, and every stream's latency, grows without bound: a fifth is
/// kept free. Applied to what transcoders measure at their start and to what their jobs show, not
/// to a capacity an operator states.
pub const SUSTAINED: f64 = 0.8;

/// Weight of the newest job in [`Entry::observed`].
const OBSERVED_WEIGHT: f64 = 0.3;

impl Entry {
    /// What it can encode per second, as far as this orchestrator can tell: what it announced at
    /// its start (`default` if it said nothing), lowered to the [`SUSTAINED`] share of what its
    /// jobs show (each job's rate times its slots) when that is less (a machine busier than when
    /// it measured).
    fn estimate(&self, default: u64) -> u64 {
        let reported = self.pixels_per_second.unwrap_or(default);
        match self.observed {
            Some(rate) => reported.min((rate * f64::from(self.slots.max(1)) * SUSTAINED) as u64),
            None => reported,
        }
    }
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
    /// What admission counts on from it: the reported capacity, lowered to what its jobs show;
    /// 0 once it has been gone [`CAPACITY_LINGER`].
    pub estimated_pixels_per_second: u64,
    /// Jobs it answered since this orchestrator started.
    pub completed: u64,
    /// Unix seconds of its last request.
    pub last_seen: u64,
}

/// The registry.
#[derive(Debug, Default)]
pub struct Transcoders {
    entries: Mutex<HashMap<String, Entry>>,
    /// Job id → the transcoder that took it, when, and the output pixels it asks for.
    jobs: Mutex<HashMap<u64, (String, Instant, Pixels)>>,
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
            observed: None,
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

    /// `name` took job `job`, which asks for `pixels` output pixels (read when it is answered:
    /// a job may be taken before its segment's frames are counted).
    pub fn took(&self, name: &str, job: u64, pixels: impl Into<Pixels>) {
        self.jobs
            .lock()
            .expect("transcoder jobs")
            .insert(job, (name.to_owned(), Instant::now(), pixels.into()));
    }

    /// Job `job`'s answer came back; `delivered`: a request still waited for it; `succeeded`:
    /// renditions, not an error (only a delivered success counts towards its observed rate).
    pub fn answered(&self, job: u64, delivered: bool, succeeded: bool) {
        let Some((name, taken, pixels)) = self.jobs.lock().expect("transcoder jobs").remove(&job)
        else {
            return;
        };
        if let Some(e) = self.entries.lock().expect("transcoders").get_mut(&name) {
            e.completed += u64::from(delivered);
            let seconds = taken.elapsed().as_secs_f64();
            let pixels = pixels.get();
            if delivered && succeeded && pixels > 0 && seconds > 0.0 {
                let rate = pixels as f64 / seconds;
                e.observed = Some(
                    e.observed
                        .map_or(rate, |old| old + OBSERVED_WEIGHT * (rate - old)),
                );
            }
            touch(e);
        }
    }

    /// The connected transcoders, by name. Jobs whose request gave up waiting no longer count.
    pub fn connected(&self, queue: &JobQueue, default: u64) -> Vec<TranscoderStatus> {
        let mut load: HashMap<String, u32> = HashMap::new();
        {
            let mut jobs = self.jobs.lock().expect("transcoder jobs");
            jobs.retain(|id, _| queue.is_waiting(*id));
            for (name, ..) in jobs.values() {
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
                        estimated_pixels_per_second: if e.polls > 0
                            || load > 0
                            || e.last_seen.elapsed() < CAPACITY_LINGER
                        {
                            e.estimate(default)
                        } else {
                            0
                        },
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
        assert_eq!(registry.connected(&queue, 0)[0].load, 0);
        let q = std::sync::Arc::clone(&queue);
        let waiting = tokio::spawn(async move {
            q.run(request(), vec![1], 0, Duration::from_millis(300))
                .await
        });
        let job = queue.take(Duration::from_secs(1)).await.unwrap();
        registry.took("t1", job.id, job.pixels);
        drop(poll);
        let status = registry.connected(&queue, 0);
        assert_eq!(status.len(), 1);
        assert_eq!((status[0].capacity, status[0].load), (2, 1));
        // The request times out: the job no longer counts as load.
        assert!(waiting.await.unwrap().is_err());
        assert_eq!(registry.connected(&queue, 0)[0].load, 0);
        registry.answered(job.id, queue.is_waiting(job.id), true);
        assert_eq!(
            registry.connected(&queue, 0)[0].completed,
            0,
            "abandoned job"
        );

        let q = std::sync::Arc::clone(&queue);
        let waiting =
            tokio::spawn(async move { q.run(request(), vec![1], 0, Duration::from_secs(5)).await });
        let job = queue.take(Duration::from_secs(1)).await.unwrap();
        registry.took("t1", job.id, job.pixels);
        assert_eq!(registry.connected(&queue, 0)[0].load, 1);
        registry.answered(job.id, queue.is_waiting(job.id), true);
        assert!(queue.complete(job.id, Ok(vec![])));
        waiting.await.unwrap().unwrap();
        let status = registry.connected(&queue, 0);
        assert_eq!((status[0].load, status[0].completed), (0, 1));
    }

    #[tokio::test]
    async fn capacity_is_lowered_to_what_the_jobs_show_and_gone_with_the_transcoder() {
        let queue = JobQueue::default();
        let registry = Transcoders::default();
        let poll = registry.poll("t1", 2, Some(1_000_000));
        assert_eq!(
            registry.connected(&queue, 0)[0].estimated_pixels_per_second,
            1_000_000,
            "what it measured at its start"
        );
        // A job of 20,000 pixels takes 100 ms or more: at most 200,000 pixels/s a job, two slots,
        // of which the sustained share.
        registry.took("t1", 7, 20_000);
        tokio::time::sleep(Duration::from_millis(100)).await;
        registry.answered(7, true, true);
        let estimate = registry.connected(&queue, 0)[0].estimated_pixels_per_second;
        assert!(
            (40_000..=(400_000.0 * SUSTAINED) as u64).contains(&estimate),
            "lowered to what its jobs show: {estimate}"
        );
        // Faster jobs than it measured never raise it above its measurement.
        for id in 8..20 {
            registry.took("t1", id, 10_000_000);
            registry.answered(id, true, true);
        }
        assert_eq!(
            registry.connected(&queue, 0)[0].estimated_pixels_per_second,
            1_000_000
        );
        drop(poll);
        tokio::time::sleep(CAPACITY_LINGER + Duration::from_millis(100)).await;
        let gone = &registry.connected(&queue, 0)[0];
        assert_eq!(gone.estimated_pixels_per_second, 0, "{gone:?}");
    }
}
