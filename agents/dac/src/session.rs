//! One node's consensus engine for one job.
//!
//! Operations are synchronous rounds with the node's neighbours in the topology over the alive
//! nodes. `average` runs in two steps:
//! 1. **Extremes** (diameter D rounds): every node floods per-component minima and maxima, so after
//!    D rounds every node holds the same global minimum and maximum, hence the same initial spread
//!    `s` and scale.
//! 2. **Averaging** (T rounds): `x ← w_ii x + Σ_j w_ij x_j` with Metropolis–Hastings weights. With
//!    λ the weight matrix's second-largest eigenvalue modulus, ‖x(T) − x̄‖₂ ≤ λ^T ‖x(0) − x̄‖₂ ≤
//!    λ^T √n s, so every node picks the same T (the least with λ^T √n s ≤ tolerance · scale) and
//!    reports that bound (plus floating-point rounding) as its residual.
//!
//! **Drop-out.** A neighbour whose message does not come within the peer timeout is probed; one
//! that is gone (its provider refuses, or no longer runs the node) is declared dropped: the node
//! adds it to its dropped set and tells every live node. Every message carries its sender's
//! dropped set: a node that learns of a larger set takes the union and restarts the current
//! operation from its own input on the graph over the survivors (a new epoch), so the survivors
//! converge on the average of the surviving data. Messages of an older epoch are ignored.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy_primitives::Address;
use serde::Serialize;
use tokio::sync::Notify;

use crate::message::{Message, Phase};
use crate::topology::{Graph, MAX_NODES, Topology};

/// Default tolerance of `average`, relative to the data's scale.
pub const DEFAULT_TOLERANCE: f64 = 1e-12;

/// Most averaging rounds one operation runs.
pub const MAX_ROUNDS: u32 = 200_000;

/// Rounds of averaging values kept per operation for the progress view.
const PROGRESS_ROUNDS: usize = 20_000;

/// Operations whose progress is kept.
const PROGRESS_OPS: usize = 4;

/// Peer timeouts a neighbour may stay silent while its provider says it still runs the node;
/// then it is dropped as stalled.
pub const MAX_SILENT_PROBES: u32 = 6;

/// Most messages from one peer waiting in a node's inbox.
pub const MAX_INBOX_PER_PEER: usize = 16;

/// Smallest tolerance `average` takes (relative: about ten ulps).
pub const MIN_TOLERANCE: f64 = 1e-15;

/// Most values kept per operation for the progress view.
const PROGRESS_VALUES: usize = 1 << 20;

/// Most messages waiting in a node's inbox (a peer runs at most a round ahead of its neighbours,
/// so honest peers never come near it); beyond it messages are refused.
pub const MAX_INBOX: usize = 4096;

/// One of the job's nodes, by index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The provider's account, which signs the node's messages.
    pub address: Address,
    /// Base URL of the provider's HTTP API.
    pub url: String,
}

/// What a session needs to know.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub job: u64,
    /// This node's index.
    pub me: u32,
    /// Every node, by index (this one included).
    pub peers: Vec<Peer>,
    pub topology: Topology,
    /// Results are agreed rounded to 10^-decimals.
    pub decimals: u8,
    /// A neighbour silent this long is probed, and dropped if gone.
    pub peer_timeout: Duration,
    /// Nodes absent from the start (they never joined).
    pub dropped: Vec<u32>,
}

/// Why an operation did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DacError {
    #[error("this node was declared dropped by its peers")]
    Dropped,
    #[error("no live neighbour is left")]
    Isolated,
    #[error("the session is closed")]
    Closed,
    #[error("bad request: {0}")]
    BadRequest(String),
}

impl DacError {
    /// Machine-readable code (the local API's `code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Dropped => "dropped",
            Self::Isolated => "isolated",
            Self::Closed => "closed",
            Self::BadRequest(_) => "bad_request",
        }
    }
}

/// An averaging operation's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub value: Vec<f64>,
    /// Bound on max_i |x_i − mean| per component at the end.
    pub residual_bound: f64,
    /// Rounds communicated (extremes and averaging) in the epoch that completed.
    pub rounds: u32,
    /// Averaging rounds among them.
    pub averaging_rounds: u32,
    /// The convergence rate λ of the graph used.
    pub rate: f64,
    pub alive: Vec<u32>,
    /// Number of dropped nodes when the operation completed.
    pub epoch: u32,
}

/// An agreement's answer: the values every honest node writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agreed {
    pub values: Vec<f64>,
    pub decimals: u8,
    /// The node whose rounding was adopted.
    pub source: u32,
}

/// One operation's averaging trajectory at this node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpProgress {
    pub op: u32,
    pub epoch: u32,
    /// This node's vector after each averaging round (round 0: its input).
    pub rounds: Vec<Vec<f64>>,
}

/// Traffic this node sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub messages_sent: u64,
    pub bytes_sent: u64,
    /// Rounds this node took part in (all phases, all epochs).
    pub rounds: u64,
}

/// How a message leaves the node: the relay, over HTTP.
pub trait Outbox: Send + Sync + 'static {
    /// Delivers `msg` to `peer` (retrying until the peer timeout); `false` if the peer stayed
    /// unreachable. Returns the bytes sent.
    fn send(
        &self,
        job: u64,
        peer: Peer,
        msg: Message,
        patience: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, ()>> + Send>>;

    /// This provider's signature of `digest` (65 bytes).
    fn sign(&self, digest: alloy_primitives::B256) -> alloy_primitives::Bytes;

    /// Whether `peer`'s provider still runs `node` of `job`.
    fn alive(
        &self,
        job: u64,
        peer: Peer,
        node: u32,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;
}

type Key = (u32, u64, Phase, u32, u32);

/// The signature field of messages that carry none.
static NO_SIGNATURE: alloy_primitives::Bytes = alloy_primitives::Bytes::new();

/// Where a round is: operation, epoch (dropped set), phase and round number.
#[derive(Debug, Clone, Copy)]
struct At {
    op: u32,
    mask: u64,
    phase: Phase,
    round: u32,
}

struct State {
    dropped: u64,
    /// The operation this node runs (messages of earlier ones are stale).
    op: u32,
    inbox: HashMap<Key, Message>,
    progress: VecDeque<OpProgress>,
    stats: Stats,
    closed: bool,
    /// The dropped set each completed operation ended in, in order.
    epochs: Vec<u64>,
    /// The last agreement's answer.
    agreed: Option<Agreed>,
}

/// One node of one job.
pub struct Session {
    cfg: SessionConfig,
    outbox: Arc<dyn Outbox>,
    state: Mutex<State>,
    changed: Notify,
    /// Serializes operations and numbers them.
    next_op: tokio::sync::Mutex<u32>,
    /// Operations completed so far.
    completed: tokio::sync::watch::Sender<u32>,
}

/// Why a round was interrupted.
enum Interrupt {
    /// The dropped set changed: restart the operation in the new epoch.
    Restart,
    Fail(DacError),
}

impl From<DacError> for Interrupt {
    fn from(e: DacError) -> Self {
        Self::Fail(e)
    }
}

fn bit(node: u32) -> u64 {
    1u64 << node
}

impl Session {
    /// A session for `cfg`, sending through `outbox`.
    pub fn new(cfg: SessionConfig, outbox: Arc<dyn Outbox>) -> Result<Arc<Self>, DacError> {
        let n = cfg.peers.len();
        if n == 0 || n > MAX_NODES || cfg.me as usize >= n {
            return Err(DacError::BadRequest(format!(
                "node {} of {n} nodes (1..={MAX_NODES})",
                cfg.me
            )));
        }
        let dropped = cfg
            .dropped
            .iter()
            .filter(|&&d| (d as usize) < n)
            .fold(0, |m, &d| m | bit(d));
        Ok(Arc::new(Self {
            cfg,
            outbox,
            state: Mutex::new(State {
                dropped,
                op: 0,
                inbox: HashMap::new(),
                progress: VecDeque::new(),
                stats: Stats::default(),
                closed: false,
                epochs: Vec::new(),
                agreed: None,
            }),
            changed: Notify::new(),
            next_op: tokio::sync::Mutex::new(0),
            completed: tokio::sync::watch::Sender::new(0),
        }))
    }

    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("session state")
    }

    /// The current dropped set.
    pub fn dropped(&self) -> u64 {
        self.state().dropped
    }

    /// The nodes not dropped, in index order.
    pub fn alive(&self) -> Vec<u32> {
        let dropped = self.dropped();
        (0..self.cfg.peers.len() as u32)
            .filter(|i| dropped & bit(*i) == 0)
            .collect()
    }

    /// Whether this node still runs (not closed, not dropped).
    pub fn running(&self) -> bool {
        let s = self.state();
        !s.closed && s.dropped & bit(self.cfg.me) == 0
    }

    /// The last agreement this node reached (what a cooperative job's provider commits).
    pub fn agreed(&self) -> Option<Agreed> {
        self.state().agreed.clone()
    }

    /// Watches the number of operations completed (a provider reports them as checkpoints).
    pub fn completed(&self) -> tokio::sync::watch::Receiver<u32> {
        self.completed.subscribe()
    }

    /// The checkpoint state of completed operation `k` (0-based): see [`checkpoint_state`].
    pub fn checkpoint(&self, k: u32) -> Option<alloy_primitives::B256> {
        let mask = *self.state().epochs.get(k as usize)?;
        Some(checkpoint_state(k, mask))
    }

    /// Starts operation `op`: earlier operations' messages are dropped.
    fn begin(&self, op: u32) {
        let mut s = self.state();
        s.op = op;
        s.inbox.retain(|k, _| k.0 >= op);
    }

    fn complete(&self, mask: u64) {
        self.state().epochs.push(mask);
        self.completed.send_modify(|n| *n += 1);
    }

    pub fn stats(&self) -> Stats {
        self.state().stats
    }

    /// The averaging trajectories of the last few operations.
    pub fn progress(&self) -> Vec<OpProgress> {
        self.state().progress.iter().cloned().collect()
    }

    /// Ends the session: pending operations fail with [`DacError::Closed`], and the node no longer
    /// answers as alive.
    pub fn close(&self) {
        self.state().closed = true;
        self.changed.notify_waiters();
    }

    /// Takes a message from a peer (already authenticated as coming from node `msg.from`);
    /// `false` when the inbox is full and the message was refused.
    pub fn deliver(self: &Arc<Self>, mut msg: Message) -> bool {
        let n = self.cfg.peers.len() as u32;
        // Only the job's nodes can be dropped.
        msg.dropped &= u64::MAX >> (64 - n);
        if msg.to != self.cfg.me || msg.from >= n || msg.from == self.cfg.me || msg.source >= n {
            return true;
        }
        let mut s = self.state();
        let fresh = msg.dropped & !s.dropped;
        if fresh != 0 {
            s.dropped |= msg.dropped;
            // Messages of the old epoch are of no use any more.
            let now = s.dropped;
            s.inbox.retain(|k, _| k.1 == now);
            drop(s);
            tracing::info!(
                job = self.cfg.job,
                node = self.cfg.me,
                dropped = format!("{:#x}", msg.dropped | fresh),
                from = msg.from,
                "peer drop learned; restarting on the survivors"
            );
            self.changed.notify_waiters();
            s = self.state();
        }
        if msg.dropped != s.dropped || msg.phase == Phase::Notice {
            return true;
        }
        // A peer runs at most one operation ahead; earlier operations are over.
        if msg.op < s.op {
            return true;
        }
        let key = (msg.op, msg.dropped, msg.phase, msg.round, msg.from);
        let from_peer = s.inbox.keys().filter(|k| k.4 == msg.from).count();
        if msg.op > s.op + 1
            || (!s.inbox.contains_key(&key)
                && (s.inbox.len() >= MAX_INBOX || from_peer >= MAX_INBOX_PER_PEER))
        {
            return false;
        }
        s.inbox.insert(key, msg);
        drop(s);
        self.changed.notify_waiters();
        true
    }

    /// Declares `node` dropped and tells every other live node.
    fn declare_dropped(self: &Arc<Self>, node: u32) {
        let mask = {
            let mut s = self.state();
            if s.closed || s.dropped & bit(node) != 0 {
                return;
            }
            s.dropped |= bit(node);
            let now = s.dropped;
            s.inbox.retain(|k, _| k.1 == now);
            now
        };
        tracing::warn!(
            job = self.cfg.job,
            node = self.cfg.me,
            dropped = node,
            "peer declared dropped"
        );
        self.changed.notify_waiters();
        for to in self.alive() {
            if to == self.cfg.me {
                continue;
            }
            let msg = Message {
                from: self.cfg.me,
                to,
                op: 0,
                dropped: mask,
                phase: Phase::Notice,
                round: 0,
                values: Vec::new(),
                source: 0,
                source_signature: Default::default(),
            };
            self.spawn_send(msg);
        }
    }

    fn spawn_send(self: &Arc<Self>, msg: Message) {
        let me = Arc::clone(self);
        let peer = self.cfg.peers[msg.to as usize].clone();
        let to = msg.to;
        let notice = msg.phase == Phase::Notice;
        tokio::spawn(async move {
            match me
                .outbox
                .send(me.cfg.job, peer, msg, me.cfg.peer_timeout)
                .await
            {
                Ok(bytes) => {
                    let mut s = me.state();
                    s.stats.messages_sent += 1;
                    s.stats.bytes_sent += bytes;
                }
                // A notice to a node that is gone as well changes nothing.
                Err(()) if !notice => me.declare_dropped(to),
                Err(()) => {}
            }
        });
    }

    /// Waits for `from`'s message `key`; probes `from` after each peer timeout and drops it once
    /// it is gone.
    async fn recv(self: &Arc<Self>, key: Key) -> Result<Message, Interrupt> {
        let from = key.4;
        let mut deadline = Instant::now() + self.cfg.peer_timeout;
        let mut probes = 0;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.state();
                if s.closed {
                    return Err(DacError::Closed.into());
                }
                if s.dropped & bit(self.cfg.me) != 0 {
                    return Err(DacError::Dropped.into());
                }
                if s.dropped != key.1 {
                    return Err(Interrupt::Restart);
                }
                if let Some(m) = s.inbox.remove(&key) {
                    return Ok(m);
                }
            }
            let wait = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(wait, notified).await.is_err() {
                let peer = self.cfg.peers[from as usize].clone();
                probes += 1;
                if probes < MAX_SILENT_PROBES && self.outbox.alive(self.cfg.job, peer, from).await {
                    tracing::debug!(
                        job = self.cfg.job,
                        node = self.cfg.me,
                        peer = from,
                        "neighbour slow but alive"
                    );
                    deadline = Instant::now() + self.cfg.peer_timeout;
                } else {
                    self.declare_dropped(from);
                }
            }
        }
    }

    /// Sends `values` to every neighbour for one round and collects theirs (in `nbrs` order).
    async fn exchange(
        self: &Arc<Self>,
        at: At,
        nbrs: &[u32],
        values: &[f64],
        source: (u32, &alloy_primitives::Bytes),
    ) -> Result<Vec<Message>, Interrupt> {
        let At {
            op,
            mask,
            phase,
            round,
        } = at;
        for &to in nbrs {
            self.spawn_send(Message {
                from: self.cfg.me,
                to,
                op,
                dropped: mask,
                phase,
                round,
                values: values.to_vec(),
                source: source.0,
                source_signature: source.1.clone(),
            });
        }
        let mut got = Vec::with_capacity(nbrs.len());
        for &from in nbrs {
            let m = self.recv((op, mask, phase, round, from)).await?;
            if m.values.len() != values.len() || m.values.iter().any(|v| !v.is_finite()) {
                // A peer that sends the wrong shape is not following the protocol.
                tracing::warn!(
                    job = self.cfg.job,
                    node = self.cfg.me,
                    peer = from,
                    "malformed round message; dropping the peer"
                );
                self.declare_dropped(from);
                return Err(Interrupt::Restart);
            }
            got.push(m);
        }
        self.state().stats.rounds += 1;
        Ok(got)
    }

    /// The epoch's graph, or why there is none.
    fn epoch(&self) -> Result<(u64, Graph), DacError> {
        let s = self.state();
        if s.closed {
            return Err(DacError::Closed);
        }
        if s.dropped & bit(self.cfg.me) != 0 {
            return Err(DacError::Dropped);
        }
        let mask = s.dropped;
        drop(s);
        Ok((mask, self.cfg.topology.graph(&self.alive_in(mask))))
    }

    fn alive_in(&self, mask: u64) -> Vec<u32> {
        (0..self.cfg.peers.len() as u32)
            .filter(|i| mask & bit(*i) == 0)
            .collect()
    }

    /// Averages `input` with the alive nodes' inputs, to `tolerance` relative to the data's scale
    /// (default [`DEFAULT_TOLERANCE`]).
    pub async fn average(
        self: &Arc<Self>,
        input: &[f64],
        tolerance: Option<f64>,
    ) -> Result<Outcome, DacError> {
        check_input(input)?;
        let tolerance = tolerance.unwrap_or(DEFAULT_TOLERANCE);
        if !(MIN_TOLERANCE..1.0).contains(&tolerance) {
            return Err(DacError::BadRequest(format!(
                "tolerance must be in [{MIN_TOLERANCE:e}, 1)"
            )));
        }
        let mut ops = self.next_op.lock().await;
        let op = *ops;
        *ops += 1;
        self.begin(op);
        loop {
            let (mask, graph) = self.epoch()?;
            match self.run_average(op, mask, &graph, input, tolerance).await {
                Ok(o) => {
                    self.complete(mask);
                    return Ok(o);
                }
                Err(Interrupt::Restart) => continue,
                Err(Interrupt::Fail(e)) => return Err(e),
            }
        }
    }

    async fn run_average(
        self: &Arc<Self>,
        op: u32,
        mask: u64,
        graph: &Graph,
        input: &[f64],
        tolerance: f64,
    ) -> Result<Outcome, Interrupt> {
        let me = self.cfg.me;
        let n = graph.nodes().len();
        let epoch = mask.count_ones();
        let at = |phase, round| At {
            op,
            mask,
            phase,
            round,
        };
        let done = |value: Vec<f64>, bound: f64, rounds: u32, averaging: u32, rate: f64| Outcome {
            value,
            residual_bound: bound,
            rounds,
            averaging_rounds: averaging,
            rate,
            alive: graph.nodes().to_vec(),
            epoch,
        };
        if n == 1 {
            return Ok(done(input.to_vec(), 0.0, 0, 0, 0.0));
        }
        let nbrs = graph.neighbors(me);
        let diameter = graph.diameter().ok_or(DacError::Isolated)?;
        if nbrs.is_empty() {
            return Err(DacError::Isolated.into());
        }
        // 1. Extremes.
        let d = input.len();
        let mut ext: Vec<f64> = input.iter().chain(input.iter()).copied().collect();
        for round in 0..diameter {
            for m in self
                .exchange(at(Phase::Extremes, round), &nbrs, &ext, (0, &NO_SIGNATURE))
                .await?
            {
                for c in 0..d {
                    ext[c] = ext[c].min(m.values[c]);
                    ext[d + c] = ext[d + c].max(m.values[d + c]);
                }
            }
        }
        let spread = (0..d).map(|c| ext[d + c] - ext[c]).fold(0.0, f64::max);
        let scale = ext.iter().map(|v| v.abs()).fold(0.0, f64::max);
        if !(spread * (n as f64)).is_finite() {
            // Values this large overflow the averaging itself.
            return Err(DacError::BadRequest("values too large to average".into()).into());
        }
        // 2. Averaging.
        let rate = graph.rate();
        let sqrt_n = (n as f64).sqrt();
        let target = tolerance * scale.max(f64::MIN_POSITIVE);
        let rounds = if spread <= target {
            0
        } else if rate < 1e-12 {
            1
        } else {
            let t = ((target / (sqrt_n * spread)).ln() / rate.ln()).ceil();
            if t.is_finite() {
                (t as u32).clamp(1, MAX_ROUNDS)
            } else {
                MAX_ROUNDS
            }
        };
        let (own, weights) = graph.weights(me);
        let mut x = input.to_vec();
        self.record(op, epoch, None, &x);
        for round in 0..rounds {
            let got = self
                .exchange(at(Phase::Average, round), &nbrs, &x, (0, &NO_SIGNATURE))
                .await?;
            let mut next: Vec<f64> = x.iter().map(|v| own * v).collect();
            for (m, w) in got.iter().zip(&weights) {
                for (acc, v) in next.iter_mut().zip(&m.values) {
                    *acc += w * v;
                }
            }
            x = next;
            self.record(op, epoch, Some(round), &x);
        }
        let contraction = if rounds == 0 {
            spread
        } else {
            rate.powi(rounds as i32) * sqrt_n * spread
        };
        // Each step rounds at most (degree + 2) operations on values up to `scale`; the errors
        // are contracted like the data.
        let max_degree = graph
            .nodes()
            .iter()
            .map(|v| graph.neighbors(*v).len())
            .max()
            .unwrap_or(0);
        let float = f64::EPSILON * scale * (max_degree + 2) as f64 / (1.0 - rate).max(1e-6);
        Ok(done(
            x,
            contraction + float,
            diameter + rounds,
            rounds,
            rate,
        ))
    }

    fn record(&self, op: u32, epoch: u32, round: Option<u32>, x: &[f64]) {
        let mut s = self.state();
        if round.is_none() {
            s.progress.push_back(OpProgress {
                op,
                epoch,
                rounds: Vec::new(),
            });
            while s.progress.len() > PROGRESS_OPS {
                s.progress.pop_front();
            }
        }
        if let Some(p) = s.progress.back_mut()
            && p.rounds.len() < PROGRESS_ROUNDS
            && (p.rounds.len() + 1) * x.len() <= PROGRESS_VALUES
        {
            p.rounds.push(x.to_vec());
        }
    }

    /// Rounds `values` to the job's decimals and agrees on one rounding: the lowest-index alive
    /// node's rounded vector, signed by that node's provider, is flooded; a node adopts it when
    /// each component is within `max(10^-decimals, 10^-decimals / 2 + 2·bound)` of its own
    /// value (`bound`: how far these values may be from the consensus value, which the caller
    /// knows from the operations that produced them), else keeps its own rounding. Candidates
    /// whose signature is not their source's are ignored.
    pub async fn agree(
        self: &Arc<Self>,
        values: &[f64],
        bound: Option<f64>,
    ) -> Result<Agreed, DacError> {
        check_input(values)?;
        let bound = bound.unwrap_or(0.0);
        if !(bound >= 0.0 && bound.is_finite()) {
            return Err(DacError::BadRequest(
                "bound must be finite and not negative".into(),
            ));
        }
        let decimals = self.cfg.decimals;
        let quantum = 10f64.powi(-i32::from(decimals));
        let within = quantum.max(quantum / 2.0 + 2.0 * bound) * (1.0 + 1e-9);
        let rounded: Vec<f64> = values.iter().map(|v| round_to(*v, decimals)).collect();
        if rounded.iter().any(|v| !v.is_finite()) {
            return Err(DacError::BadRequest("values too large to round".into()));
        }
        let mut ops = self.next_op.lock().await;
        let op = *ops;
        *ops += 1;
        self.begin(op);
        loop {
            let (mask, graph) = self.epoch()?;
            match self.run_agree(op, mask, &graph, &rounded).await {
                Ok((source, candidate)) => {
                    self.complete(mask);
                    let close = candidate
                        .iter()
                        .zip(values)
                        .all(|(c, v)| (c - v).abs() <= within);
                    let agreed = if close {
                        Agreed {
                            values: candidate,
                            decimals,
                            source,
                        }
                    } else {
                        tracing::warn!(
                            job = self.cfg.job,
                            node = self.cfg.me,
                            source,
                            "the flooded rounding is too far from this node's value; keeping its own"
                        );
                        Agreed {
                            values: rounded,
                            decimals,
                            source: self.cfg.me,
                        }
                    };
                    self.state().agreed = Some(agreed.clone());
                    return Ok(agreed);
                }
                Err(Interrupt::Restart) => continue,
                Err(Interrupt::Fail(e)) => return Err(e),
            }
        }
    }

    async fn run_agree(
        self: &Arc<Self>,
        op: u32,
        mask: u64,
        graph: &Graph,
        rounded: &[f64],
    ) -> Result<(u32, Vec<f64>), Interrupt> {
        let me = self.cfg.me;
        let job = self.cfg.job;
        let own = crate::message::candidate_digest(job, op, mask, me, rounded);
        let mut best = (me, rounded.to_vec(), self.outbox.sign(own));
        let at = |phase, round| At {
            op,
            mask,
            phase,
            round,
        };
        if graph.nodes().len() == 1 {
            return Ok((best.0, best.1));
        }
        let nbrs = graph.neighbors(me);
        let diameter = graph.diameter().ok_or(DacError::Isolated)?;
        for round in 0..diameter {
            let got = self
                .exchange(at(Phase::Agree, round), &nbrs, &best.1, (best.0, &best.2))
                .await?;
            for m in got {
                if m.source >= best.0 || mask & bit(m.source) != 0 {
                    continue;
                }
                let digest = crate::message::candidate_digest(job, op, mask, m.source, &m.values);
                let signer = self.cfg.peers[m.source as usize].address;
                if crate::message::signed_by(&m.source_signature, digest, signer) {
                    best = (m.source, m.values, m.source_signature);
                } else {
                    tracing::warn!(
                        job,
                        node = me,
                        from = m.from,
                        source = m.source,
                        "a candidate not signed by its source; ignored"
                    );
                }
            }
        }
        Ok((best.0, best.1))
    }
}

/// What a provider reports as the state of checkpoint `op + 1`: the operation's number and the
/// dropped set it completed in (`"dac1"`, op as 4 bytes, the set as 8 bytes, big-endian, then
/// zeros). Every node that completed the operation in the same epoch reports the same state, so
/// the buyer pays a checkpoint only to nodes whose state a majority reported and that the state
/// does not list as dropped.
pub fn checkpoint_state(op: u32, dropped: u64) -> alloy_primitives::B256 {
    let mut b = [0u8; 32];
    b[..4].copy_from_slice(b"dac1");
    b[4..8].copy_from_slice(&op.to_be_bytes());
    b[8..16].copy_from_slice(&dropped.to_be_bytes());
    alloy_primitives::B256::from(b)
}

/// The (operation, dropped set) a checkpoint state names, if it is one.
pub fn parse_checkpoint_state(state: alloy_primitives::B256) -> Option<(u32, u64)> {
    let b = state.as_slice();
    if &b[..4] != b"dac1" || b[16..].iter().any(|x| *x != 0) {
        return None;
    }
    let op = u32::from_be_bytes(b[4..8].try_into().ok()?);
    let dropped = u64::from_be_bytes(b[8..16].try_into().ok()?);
    Some((op, dropped))
}

/// `v` rounded to `decimals` places, half away from zero.
pub fn round_to(v: f64, decimals: u8) -> f64 {
    let scale = 10f64.powi(i32::from(decimals));
    let r = (v * scale).round() / scale;
    if r == 0.0 { 0.0 } else { r }
}

fn check_input(values: &[f64]) -> Result<(), DacError> {
    if values.is_empty() || values.len() > 1 << 16 {
        return Err(DacError::BadRequest(
            "values must hold 1..=65536 numbers".into(),
        ));
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Err(DacError::BadRequest("values must be finite".into()));
    }
    Ok(())
}
