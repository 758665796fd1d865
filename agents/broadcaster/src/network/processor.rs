//! The segment processor that pays the network: probe the segment (a bad one is refused before any
//! money moves), rank the orchestrators offering the service (price, then their record here:
//! success rate, latency; then stake), skip suspended ones, fail over within the segment, and
//! optionally race two for premium streams. Every reply's signed result is verified (see
//! [`super::session`]) and its renditions checked (see [`super::verification`]) before they count:
//! a rendition that fails a check suspends its orchestrator for every stream, its evidence is
//! bundled under `fault_dir` and reported to whoever files claims, and the segment goes to the
//! next orchestrator. The signed result of each kept segment is written beside the recording, as
//! `<evidence_dir>/<stream>/<seq>.result.json`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use bytes::Bytes;
use peerflow_chain::bindings::ticket_broker::TicketBroker;
use peerflow_chain::head::{Head, HeadPolicy};
use peerflow_media::{InputFormat, MediaInfo, Profile};
use peerflow_protocol::SignedResult;
use peerflow_protocol::api::{ProfileSpec, RENDITION_HEADER, SegmentRequest};
use peerflow_protocol::metrics::{LATENCY_BUCKETS, Metrics};
use peerflow_protocol::multipart::Part;
use tokio::sync::{RwLock, mpsc};

use super::discovery::{Candidate, DiscoveryError, discover};
use super::evidence::{FaultReport, write_bundle};
use super::pricing::StreamCeiling;
use super::reputation::{Reputation, Score};
use super::session::{AttemptError, Payer, Verified};
use super::stats::{Spend, StreamStats};
use super::verification::{Finding, Verdict, VerifyPolicy, check_segment};
use crate::{
    BoxFuture, IncomingSegment, ProcessError, RenditionOut, SegmentFormat, SegmentProcessor,
};

/// What the processor asks of the network.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    pub registry: Address,
    /// Registry service id to require, e.g. "transcode:h264".
    pub service: String,
    pub region: Option<String>,
    pub ladder: Vec<Profile>,
    /// 1: one orchestrator per segment; 2: race two and keep the first result.
    pub redundancy: usize,
    /// How often the active set is read again.
    pub rediscover_every: Duration,
    /// Where each segment's signed result is kept (`<dir>/<stream>/<seq>.result.json`); `None`
    /// only logs it.
    pub evidence_dir: Option<PathBuf>,
    /// Where the evidence of each fault is bundled (`<dir>/<stream>/<seq>-<orchestrator>/`).
    pub fault_dir: PathBuf,
    /// How renditions are checked.
    pub verify: VerifyPolicy,
    /// Streams' own price ceilings, by stream id (tighter than the broadcaster-wide limits).
    pub stream_ceilings: HashMap<String, StreamCeiling>,
}

/// How one attempt at one orchestrator ended.
enum Outcome {
    /// Signed and checked: publish it.
    Good(Verified),
    /// Signed, but a rendition failed a check: a provable fault.
    Faulty(Verified, Finding),
    Failed(AttemptError),
}

/// The longest a registry read may hold up a segment before the orchestrators found before serve.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Pays orchestrators found on-chain to transcode segments.
pub struct NetworkProcessor<P> {
    provider: P,
    payer: Payer,
    reputation: Arc<Reputation>,
    config: NetworkConfig,
    specs: Vec<ProfileSpec>,
    candidates: RwLock<Option<(Instant, Vec<Candidate>)>>,
    /// The chain head, the last one read standing in while the RPC is down.
    head: Head,
    faults: Option<mpsc::UnboundedSender<FaultReport>>,
    metrics: Arc<Metrics>,
    stats: Arc<StreamStats>,
    /// Orchestrators that said they are full, until when they go last for new streams.
    full: std::sync::Mutex<HashMap<Address, Instant>>,
}

const STAGE_SECONDS: &str = "peerflow_broadcaster_segment_stage_seconds";
const STAGE_HELP: &str = "Where published segments' time went, by stage: receive (the push's body), \
    prepare (probe, chain head, ranking), failover (attempts that failed first), pay (quote, \
    tickets, request signature), transfer (the network both ways), orchestrator (its request \
    check, probe, booking, signing), queue and transcode (at the orchestrator, as it reports), \
    verify, publish (recording, playlists).";

/// What one published segment's time was spent on, measured here.
struct Spent {
    /// Its body arriving.
    received: Duration,
    /// From the body in hand to the first attempt.
    prepared: Duration,
    /// Every attempt, from the first one's start to the one used.
    attempts: Duration,
    /// The attempt used, from its start to its verdict, and its verification.
    attempt: Duration,
    verify: Duration,
}

impl Spent {
    /// The segment's stages (all but publishing), in order. The orchestrator's own account
    /// splits the round trip; what it does not cover is the network's (`transfer`). Its figures
    /// are its word: each is capped at the round trip.
    fn stages(&self, verified: &Verified) -> Vec<(&'static str, Duration)> {
        let cap = verified.round_trip.as_secs_f64();
        let ms = |ms: f64| Duration::from_secs_f64((ms / 1e3).clamp(0.0, cap));
        let remote = |name: &str| {
            verified
                .remote_stages
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| ms(*v))
                .sum::<Duration>()
        };
        let (queue, transcode) = (remote("queue"), remote("transcode"));
        let orchestrator = verified
            .remote_stages
            .iter()
            .filter(|(n, _)| n != "queue" && n != "transcode")
            .map(|(_, v)| ms(*v))
            .sum::<Duration>();
        let transfer = verified
            .round_trip
            .saturating_sub(queue + transcode + orchestrator);
        vec![
            ("receive", self.received),
            ("prepare", self.prepared),
            ("failover", self.attempts.saturating_sub(self.attempt)),
            ("pay", verified.paying),
            ("transfer", transfer),
            ("orchestrator", orchestrator),
            ("queue", queue),
            ("transcode", transcode),
            ("verify", self.verify),
        ]
    }
}

/// The decoding probe of a segment's source, started before its first attempt and awaited by
/// each attempt's checks: decoding the source overlaps paying and the orchestrator's work.
#[derive(Clone)]
struct Decoded(tokio::sync::watch::Receiver<Option<Result<MediaInfo, ProbeFailed>>>);

/// Why the decoding probe gave no answer: the segment (`bad`) or our side.
#[derive(Debug, Clone)]
struct ProbeFailed {
    bad: bool,
    reason: String,
}

impl From<ProbeFailed> for ProcessError {
    fn from(f: ProbeFailed) -> Self {
        if f.bad {
            ProcessError::BadSegment(f.reason)
        } else {
            ProcessError::Unavailable(f.reason)
        }
    }
}

impl Decoded {
    fn start(bytes: Bytes) -> Self {
        let (tx, rx) = tokio::sync::watch::channel(None);
        tokio::task::spawn_blocking(move || {
            // Needed once the renditions are back: it takes the CPU the rest leaves (on a
            // machine shared with the transcoder, it does not slow the transcode down).
            let probed = peerflow_media::in_background(|| peerflow_media::probe_bytes(&bytes));
            let probed = probed.map_err(|e| ProbeFailed {
                bad: e.is_bad_segment(),
                reason: e.to_string(),
            });
            let _ = tx.send(Some(probed));
        });
        Decoded(rx)
    }

    fn ended() -> ProbeFailed {
        ProbeFailed {
            bad: false,
            reason: "the decoding probe ended without an answer".into(),
        }
    }

    /// The probe's outcome, once it has one.
    async fn wait(mut self) -> Result<MediaInfo, ProbeFailed> {
        match self.0.wait_for(Option::is_some).await {
            Ok(probed) => probed.clone().expect("waited for it"),
            Err(_) => Err(Self::ended()),
        }
    }

    /// The probe's outcome if it has one yet; a probe task that ended without one (it panicked)
    /// is a failure too.
    fn peek(&self) -> Option<Result<MediaInfo, ProbeFailed>> {
        let now = self.0.borrow().clone();
        match now {
            None if self.0.has_changed().is_err() => Some(Err(Self::ended())),
            now => now,
        }
    }
}

/// How long an orchestrator that said it is full goes last for new streams.
pub const FULL_FOR: Duration = Duration::from_secs(5);

impl<P: Provider + Clone + 'static> NetworkProcessor<P> {
    /// `reputation` is shared by every stream (and may be by other processors); each fault's
    /// report goes to `faults` when given (a claim filer), after its bundle is written; what
    /// happens is counted in `metrics` (`peerflow_broadcaster_*`) and, per stream, in `stats`
    /// (for the status page).
    pub fn new(
        provider: P,
        payer: Payer,
        reputation: Arc<Reputation>,
        config: NetworkConfig,
        faults: Option<mpsc::UnboundedSender<FaultReport>>,
        metrics: Arc<Metrics>,
        stats: Arc<StreamStats>,
    ) -> Self {
        let specs = config.ladder.iter().map(spec_of).collect();
        Self {
            provider,
            payer,
            reputation,
            config,
            specs,
            candidates: RwLock::new(None),
            head: Head::new(HeadPolicy::default()),
            faults,
            metrics,
            stats,
            full: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The payer (its books and limits).
    pub fn payer(&self) -> &Payer {
        &self.payer
    }

    /// The orchestrators tried for the next segment, best first.
    pub async fn ranked(&self) -> Result<Vec<Candidate>, ProcessError> {
        let fresh = matches!(&*self.candidates.read().await, Some((at, _)) if at.elapsed() < self.config.rediscover_every);
        if !fresh {
            let found = tokio::time::timeout(
                DISCOVERY_TIMEOUT,
                discover(
                    self.provider.clone(),
                    self.config.registry,
                    &self.config.service,
                    self.config.region.as_deref(),
                ),
            )
            .await
            .unwrap_or_else(|_| Err(DiscoveryError("no reply in time".into())));
            match found {
                Ok(found) => {
                    self.read_funds(found.len()).await;
                    *self.candidates.write().await = Some((Instant::now(), found));
                }
                // The chain does not answer: the orchestrators already found serve on (asked
                // again at the next rediscovery), so an outage does not stop the stream.
                Err(e) if self.candidates.read().await.is_some() => {
                    tracing::warn!(error = %e, "rediscovery failed; going on with the orchestrators found before");
                    if let Some((at, _)) = self.candidates.write().await.as_mut() {
                        *at = Instant::now();
                    }
                }
                Err(e) => return Err(ProcessError::Unavailable(e.to_string())),
            }
        }
        let all = self
            .candidates
            .read()
            .await
            .as_ref()
            .map(|(_, c)| c.clone())
            .unwrap_or_default();
        let mut usable: Vec<(Candidate, Option<U256>, f64, f64)> = Vec::with_capacity(all.len());
        for c in all {
            let score = self.reputation.score(c.address).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "reading the reputation store");
                None
            });
            if score.as_ref().is_some_and(Score::is_suspended) {
                continue;
            }
            // Unmeasured orchestrators get tried: no latency counts as the fastest.
            let (rate, latency) = score.map_or((0.5, 0.0), |s| {
                (s.success_rate(), s.latency_ewma_ms.unwrap_or(0.0))
            });
            // The price it quoted us counts, else the advertised one; unpriced ones (advertised 0,
            // never quoted) rank after every priced one.
            let price = self
                .payer
                .quoted_price(c.address)
                .or((!c.advertised_price.is_zero()).then_some(c.advertised_price));
            usable.push((c, price, rate, latency));
        }
        Ok(rank(usable))
    }

    /// Reads our deposit and reserve at the broker: the face value of a ticket is capped at a
    /// share of the deposit plus the reserve allocation per recipient (reserve / `recipients`).
    /// A failed read keeps the last known funds.
    async fn read_funds(&self, recipients: usize) {
        let broker = TicketBroker::new(self.payer.broker(), self.provider.clone());
        match broker.getSenderInfo(self.payer.sender).call().await {
            Ok(info) => {
                let per = info.reserve / U256::from(recipients.max(1));
                self.payer.set_funds(Some(info.deposit.saturating_add(per)));
            }
            Err(error) => tracing::warn!(%error, "reading our deposit; keeping the last known"),
        }
    }

    /// Transcodes one segment through the network.
    pub async fn process_segment(
        self: Arc<Self>,
        segment: IncomingSegment,
    ) -> Result<Vec<RenditionOut>, ProcessError> {
        let started = Instant::now();
        let (metrics, stats) = (Arc::clone(&self.metrics), Arc::clone(&self.stats));
        let stream = segment.stream.clone();
        stats.pushed(&stream);
        let result = self.transcode(segment).await;
        let outcome = match &result {
            Ok(_) => {
                let took = started.elapsed();
                stats.published(&stream, took);
                metrics.observe(
                    "peerflow_broadcaster_segment_seconds",
                    "Time from a segment's arrival to its renditions, published segments only.",
                    LATENCY_BUCKETS,
                    &[],
                    took.as_secs_f64(),
                );
                "published"
            }
            Err(ProcessError::BadSegment(_)) => "bad_segment",
            Err(ProcessError::NoCapacity(_)) => "no_capacity",
            Err(_) => "unavailable",
        };
        metrics.inc(
            "peerflow_broadcaster_segments_total",
            "Segments pushed, by outcome.",
            &[("outcome", outcome)],
        );
        result
    }

    async fn transcode(
        self: Arc<Self>,
        segment: IncomingSegment,
    ) -> Result<Vec<RenditionOut>, ProcessError> {
        let started = Instant::now();
        // Paying needs the frame count alone, which the packets give without decoding; the
        // renditions are checked against the decoded source, probed meanwhile (see `Decoded`).
        let decoded = Decoded::start(segment.bytes.clone());
        let bytes = segment.bytes.clone();
        let info = tokio::task::spawn_blocking(move || peerflow_media::probe_packets_bytes(&bytes))
            .await
            .map_err(|e| ProcessError::Unavailable(e.to_string()))?
            .map_err(|e| ProcessError::BadSegment(e.to_string()))?;
        let pixels: u64 = self
            .config
            .ladder
            .iter()
            .map(|p| u64::from(p.width) * u64::from(p.height) * info.frames)
            .sum();
        let request = SegmentRequest {
            stream: segment.stream.clone(),
            seq: segment.seq,
            format: match segment.format {
                SegmentFormat::Ts => "ts".into(),
                SegmentFormat::Mp4 => "mp4".into(),
            },
            profiles: self.specs.clone(),
        };
        let block = self
            .head
            .block(&self.provider)
            .await
            .map_err(|e| ProcessError::Unavailable(e.to_string()))?;
        let ranked = self.in_stream_order(&segment.stream, self.ranked().await?);
        let ceiling = self
            .config
            .stream_ceilings
            .get(&segment.stream)
            .copied()
            .unwrap_or_default();
        let prepared = started.elapsed();
        let attempts_started = Instant::now();
        let mut last = String::from("no orchestrator offers the service");
        // Whether every orchestrator tried said the segment is bad, or that it is full.
        let (mut tried, mut bad_segment, mut full) = (0usize, 0usize, 0usize);
        let mut queue = ranked.into_iter();
        loop {
            let batch: Vec<Candidate> =
                queue.by_ref().take(self.config.redundancy.max(1)).collect();
            if batch.is_empty() {
                if tried > 0 && bad_segment == tried {
                    return Err(ProcessError::BadSegment(last));
                }
                if tried > 0 && full == tried {
                    return Err(ProcessError::NoCapacity(last));
                }
                return Err(ProcessError::Unavailable(last));
            }
            let mut attempts = tokio::task::JoinSet::new();
            for c in batch {
                let (me, request, format, segment, decoded) = (
                    Arc::clone(&self),
                    request.clone(),
                    segment.format,
                    segment.bytes.clone(),
                    decoded.clone(),
                );
                attempts.spawn(async move {
                    let started = Instant::now();
                    let mut spent = Spend::default();
                    let submitted = me
                        .payer
                        .submit(&c, &request, &segment, pixels, block, &ceiling, &mut spent)
                        .await;
                    me.paid(&request.stream, &spent);
                    let checking = Instant::now();
                    let outcome = match (submitted, decoded.wait().await) {
                        (Ok(verified), Ok(info)) => {
                            me.check(&request.stream, segment, format, info, verified)
                                .await
                        }
                        (Ok(_), Err(failed)) => Outcome::Failed(AttemptError::Unchecked {
                            message: format!("the source was not decoded: {}", failed.reason),
                            ours: true,
                        }),
                        (Err(e), _) => Outcome::Failed(e),
                    };
                    (c, started.elapsed(), outcome, checking.elapsed())
                });
            }
            while let Some(joined) = attempts.join_next().await {
                let (c, took, outcome, verify) =
                    joined.map_err(|e| ProcessError::Unavailable(e.to_string()))?;
                tried += 1;
                // A source whose packets read but that does not decode (or that our probe could
                // not decode) fails every attempt alike: no further orchestrator is tried (those
                // of this batch may have been paid already); it is the segment's fault, or ours.
                if let Some(Err(failed)) = decoded.peek() {
                    attempts.abort_all();
                    return Err(failed.into());
                }
                let name = match &outcome {
                    Outcome::Good(_) => "ok",
                    Outcome::Faulty(..) => "fault",
                    Outcome::Failed(_) => "failed",
                };
                self.metrics.inc(
                    "peerflow_broadcaster_attempts_total",
                    "Segments sent to orchestrators, by outcome (ok, fault: failed verification, failed).",
                    &[("outcome", name)],
                );
                match outcome {
                    Outcome::Good(verified) => {
                        self.record(c.address, self.reputation.succeeded(c.address, took));
                        self.stats
                            .chose(&segment.stream, segment.seq, c.address, &c.uri);
                        attempts.abort_all();
                        let attempts_took = attempts_started.elapsed();
                        // Keeping the signed result is part of verifying it.
                        let keeping = Instant::now();
                        self.keep_evidence(&segment, &verified.evidence).await;
                        let stages = Spent {
                            received: segment.received_in,
                            prepared,
                            attempts: attempts_took,
                            attempt: took,
                            verify: verify + keeping.elapsed(),
                        }
                        .stages(&verified);
                        self.record_stages(&segment.stream, &stages);
                        return self.renditions(verified.parts, info.duration_s);
                    }
                    Outcome::Faulty(verified, finding) => {
                        self.metrics.inc(
                            "peerflow_broadcaster_verification_faults_total",
                            "Renditions that failed verification, by fault.",
                            &[("fault", finding.name)],
                        );
                        self.stats
                            .faulted(&segment.stream, finding.code, finding.name);
                        self.record(
                            c.address,
                            self.reputation.faulted(c.address, finding.name).map(drop),
                        );
                        tracing::warn!(orchestrator = %c.address, stream = %segment.stream, seq = segment.seq, %finding, "rendition failed verification; failing over");
                        self.report_fault(&segment, verified, &finding).await;
                        last = format!("{}: {finding}", c.address);
                    }
                    Outcome::Failed(e) => {
                        if let Some(reason) = e.quote_refusal() {
                            self.metrics.inc(
                                "peerflow_broadcaster_quotes_refused_total",
                                "Orchestrator quotes refused before any ticket was signed, by reason.",
                                &[("reason", reason)],
                            );
                            self.stats.refused(&segment.stream, reason);
                        }
                        if e.is_capacity() {
                            // Full is not failing: it goes last for new streams for a while,
                            // and the streams it holds go on there.
                            full += 1;
                            self.full_until(c.address, Instant::now() + FULL_FOR);
                            self.metrics.inc(
                                "peerflow_broadcaster_capacity_refusals_total",
                                "Segments an orchestrator refused because it is full.",
                                &[],
                            );
                            tracing::info!(orchestrator = %c.address, stream = %segment.stream, "orchestrator full; trying the next");
                            last = format!("{}: {e}", c.address);
                            continue;
                        }
                        // Our probe accepted the segment: an orchestrator that calls it bad is
                        // failing, not the segment (unless every one of them says so).
                        let bad = e.is_bad_segment();
                        bad_segment += usize::from(bad);
                        // Only the orchestrator's own failures suspend it (not, say, our empty
                        // deposit or an honest price above our ceiling); a refusal after
                        // payment always does.
                        let period = if bad || e.is_orchestrators_fault() {
                            self.reputation.failed(c.address)
                        } else {
                            Ok(Duration::ZERO)
                        };
                        let suspended_s = period.as_ref().map_or(0, Duration::as_secs);
                        self.record(c.address, period.map(drop));
                        tracing::warn!(orchestrator = %c.address, error = %e, suspended_s, "segment failed; failing over");
                        last = format!("{}: {e}", c.address);
                    }
                }
            }
        }
    }

    /// Counts where a published segment of `stream` spent its time (the last stage, publishing,
    /// comes from the broadcaster: [`SegmentProcessor::published`]).
    fn record_stages(&self, stream: &str, stages: &[(&'static str, Duration)]) {
        for (stage, took) in stages {
            self.metrics.observe(
                STAGE_SECONDS,
                STAGE_HELP,
                LATENCY_BUCKETS,
                &[("stage", stage)],
                took.as_secs_f64(),
            );
        }
        self.stats.stages(stream, stages);
    }

    /// `ranked` in the order `stream`'s segment tries them: as ranked, except that those that
    /// said they are full (within [`FULL_FOR`]) go last, and among those the one that served the
    /// stream's last segment goes first (it holds the stream's place and takes it; the others
    /// would only refuse). With nobody full, the ranking alone decides.
    fn in_stream_order(&self, stream: &str, mut ranked: Vec<Candidate>) -> Vec<Candidate> {
        let now = Instant::now();
        let full: Vec<Address> = {
            let mut full = self.full.lock().unwrap_or_else(PoisonError::into_inner);
            full.retain(|_, until| *until > now);
            full.keys().copied().collect()
        };
        if full.is_empty() {
            return ranked;
        }
        let holder = self.stats.chosen(stream);
        // A stable sort keeps the ranking within each group.
        ranked.sort_by_key(
            |c| match (full.contains(&c.address), Some(c.address) == holder) {
                (false, _) => 0,
                (true, true) => 1,
                (true, false) => 2,
            },
        );
        ranked
    }

    fn full_until(&self, who: Address, until: Instant) {
        self.full
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(who, until);
    }

    /// Counts the tickets sent for a segment of `stream`.
    fn paid(&self, stream: &str, spent: &Spend) {
        if spent.tickets == 0 {
            return;
        }
        self.stats.paid(stream, spent);
        self.metrics.add(
            "peerflow_broadcaster_tickets_total",
            "Tickets sent to orchestrators (winning or not).",
            &[],
            spent.tickets as f64,
        );
    }

    /// Runs the rendition checks on the blocking pool.
    async fn check(
        &self,
        stream: &str,
        source: Bytes,
        format: SegmentFormat,
        info: MediaInfo,
        verified: Verified,
    ) -> Outcome {
        let format = match format {
            SegmentFormat::Ts => InputFormat::MpegTs,
            SegmentFormat::Mp4 => InputFormat::Mp4,
        };
        let ladder = self.config.ladder.clone();
        let policy = self.config.verify.clone();
        let sampled = policy.draw();
        self.metrics.add(
            "peerflow_broadcaster_renditions_checked_total",
            "Renditions checked, by whether the segment was sampled for the quality check.",
            &[("sampled", if sampled { "true" } else { "false" })],
            verified.parts.len() as f64,
        );
        self.stats.checked(stream, verified.parts.len(), sampled);
        let checked = tokio::task::spawn_blocking(move || {
            let renditions: Vec<&[u8]> = verified.parts.iter().map(|p| p.body.as_slice()).collect();
            let verdict = check_segment(
                &source,
                format,
                &info,
                &ladder,
                &renditions,
                sampled,
                &policy,
            );
            (verified, verdict)
        })
        .await;
        match checked {
            Ok((verified, Verdict::Passed(_))) => Outcome::Good(verified),
            Ok((verified, Verdict::Failed(finding))) => Outcome::Faulty(verified, finding),
            Ok((_, Verdict::Unchecked(peerflow_media::MediaError::BadSegment { reason }))) => {
                // Fail closed: a rendition that makes the check itself fail (it does not decode
                // as what it claims to be) is never published nor credited; its orchestrator is
                // failing and the next one is tried.
                tracing::warn!(%reason, "a rendition broke the check; not publishing it");
                self.metrics.inc(
                    "peerflow_broadcaster_unchecked_total",
                    "Replies whose checks could not run, by whose failure it was.",
                    &[("cause", "rendition")],
                );
                Outcome::Failed(AttemptError::Unchecked {
                    message: reason,
                    ours: false,
                })
            }
            Ok((verified, Verdict::Unchecked(error))) => {
                // Our own tools failed on renditions that decode: nobody is blamed and the
                // segment is not lost (every orchestrator would fail the same way).
                tracing::warn!(%error, "our checks failed; publishing the renditions unchecked");
                self.metrics.inc(
                    "peerflow_broadcaster_unchecked_total",
                    "Replies whose checks could not run, by whose failure it was.",
                    &[("cause", "ours")],
                );
                Outcome::Good(verified)
            }
            Err(e) => Outcome::Failed(AttemptError::BadReply(format!("checking renditions: {e}"))),
        }
    }

    /// Bundles the evidence of a fault and hands it to the claim filer.
    async fn report_fault(&self, segment: &IncomingSegment, verified: Verified, finding: &Finding) {
        let bytes = &verified.parts[finding.rendition].body;
        let ext = self.config.ladder[finding.rendition]
            .codec
            .container()
            .extension();
        let written = write_bundle(
            &self.config.fault_dir,
            segment,
            &verified.evidence,
            finding,
            bytes,
            ext,
        )
        .await;
        match written {
            Ok(report) => {
                if let Some(faults) = &self.faults {
                    let _ = faults.send(report);
                }
            }
            Err(error) => tracing::error!(%error, "could not keep the evidence of a fault"),
        }
    }

    /// Logs a reputation store failure; the segment goes on either way.
    fn record(
        &self,
        orchestrator: Address,
        written: Result<(), super::reputation::ReputationError>,
    ) {
        if let Err(error) = written {
            tracing::warn!(%orchestrator, %error, "could not update the reputation store");
        }
    }

    /// Logs the signed result and writes it under `evidence_dir`; a failed write is logged, not
    /// fatal (the renditions are good either way).
    async fn keep_evidence(&self, segment: &IncomingSegment, evidence: &SignedResult) {
        tracing::debug!(
            stream = %segment.stream,
            seq = segment.seq,
            orchestrator = %evidence.result.orchestrator,
            digest = %evidence.digest,
            signature = %evidence.signature,
            "segment result verified"
        );
        let Some(dir) = &self.config.evidence_dir else {
            return;
        };
        let dir = dir.join(&segment.stream);
        let path = dir.join(format!("{}.result.json", segment.seq));
        let json = serde_json::to_vec_pretty(evidence).expect("serializable");
        let written = async {
            tokio::fs::create_dir_all(&dir).await?;
            tokio::fs::write(&path, json).await
        }
        .await;
        if let Err(error) = written {
            tracing::warn!(path = %path.display(), %error, "could not keep the signed result");
        }
    }

    fn renditions(
        &self,
        parts: Vec<Part>,
        duration_s: f64,
    ) -> Result<Vec<RenditionOut>, ProcessError> {
        parts
            .into_iter()
            .map(|part| {
                let name = part
                    .header(RENDITION_HEADER)
                    .unwrap_or_default()
                    .to_string();
                let profile = self
                    .config
                    .ladder
                    .iter()
                    .find(|p| p.name == name)
                    .ok_or_else(|| {
                        ProcessError::Unavailable(format!(
                            "orchestrator returned unknown rendition {name}"
                        ))
                    })?;
                let container = if part.header("content-type") == Some("video/mp4") {
                    SegmentFormat::Mp4
                } else {
                    SegmentFormat::Ts
                };
                Ok(RenditionOut {
                    name,
                    width: profile.width,
                    height: profile.height,
                    bandwidth_bps: u64::from(profile.bitrate_kbps) * 1000,
                    codecs: None,
                    container,
                    bytes: part.body.into(),
                    duration_s,
                })
            })
            .collect()
    }
}

/// Orders `(candidate, price, success rate, latency ms)`: cheapest first by the price it quoted us
/// (else the one it advertises), every unpriced one after every priced one; then the better
/// record here, then the fastest, then the most stake at risk (slashable: delegated stake is not).
fn rank(mut usable: Vec<(Candidate, Option<U256>, f64, f64)>) -> Vec<Candidate> {
    usable.sort_by(|(a, pa, ra, la), (b, pb, rb, lb)| {
        let by_price = match (pa, pb) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        by_price
            .then(rb.total_cmp(ra))
            .then(la.total_cmp(lb))
            .then(b.at_risk.cmp(&a.at_risk))
    });
    usable.into_iter().map(|(c, ..)| c).collect()
}

/// The ladder entry as the orchestrator API names it.
pub fn spec_of(p: &Profile) -> ProfileSpec {
    ProfileSpec {
        name: p.name.clone(),
        width: p.width,
        height: p.height,
        bitrate_kbps: p.bitrate_kbps,
        codec: p.codec.as_str().into(),
    }
}

/// The processor as the broadcaster's HTTP layer takes it.
pub struct NetworkHandle<P>(pub Arc<NetworkProcessor<P>>);

impl<P: Provider + Clone + 'static> SegmentProcessor for NetworkHandle<P> {
    fn process(
        &self,
        segment: IncomingSegment,
    ) -> BoxFuture<'static, Result<Vec<RenditionOut>, ProcessError>> {
        Box::pin(Arc::clone(&self.0).process_segment(segment))
    }

    fn forget(&self, stream: &str) {
        self.0.stats.forget(stream);
    }

    fn published(&self, stream: &str, took: Duration) {
        self.0.record_stages(stream, &[("publish", took)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(byte: u8, at_risk: u64) -> Candidate {
        Candidate {
            address: Address::repeat_byte(byte),
            uri: format!("http://o{byte}"),
            // A big pool of delegations weighs nothing: only the stake at risk ranks.
            stake: U256::from(1_000_000 - at_risk),
            at_risk: U256::from(at_risk),
            advertised_price: U256::ZERO,
            services: vec![],
            regions: vec![],
            hot_key: None,
        }
    }

    #[test]
    fn unpriced_rank_last_and_the_quote_beats_the_advertisement() {
        let unpriced = candidate(1, 1000);
        let quoted_cheap = candidate(2, 1);
        let advertised = candidate(3, 1);
        let order = rank(vec![
            (unpriced.clone(), None, 1.0, 0.0),
            (advertised.clone(), Some(U256::from(2u64)), 0.5, 0.0),
            (quoted_cheap.clone(), Some(U256::from(1u64)), 0.1, 900.0),
        ]);
        assert_eq!(order, vec![quoted_cheap, advertised, unpriced]);
        // Same price: the better record, then the faster, then the more stake at risk.
        let (a, b, c) = (candidate(4, 1), candidate(5, 1), candidate(6, 9));
        let p = Some(U256::from(7u64));
        let order = rank(vec![
            (a.clone(), p, 0.5, 10.0),
            (b.clone(), p, 0.9, 50.0),
            (c.clone(), p, 0.5, 10.0),
        ]);
        assert_eq!(order, vec![b, c, a]);
    }
}
