//! The segment processor that pays the network: probe the segment (a bad one is refused before any
//! money moves), rank the orchestrators offering the service (price, measured latency, stake),
//! skip suspended ones, fail over within the segment, and optionally race two for premium streams.
//! Every reply's signed result is verified (see [`super::session`]); the evidence of the kept one
//! is written beside the recording, as `<evidence_dir>/<stream>/<seq>.result.json`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use alloy::providers::Provider;
use peerflow_protocol::SignedResult;
use peerflow_protocol::api::{ProfileSpec, RENDITION_HEADER, SegmentRequest};
use peerflow_protocol::multipart::Part;
use tokio::sync::RwLock;

use super::discovery::{Candidate, discover};
use super::session::Payer;
use super::suspension::Suspensions;
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
    pub ladder: Vec<ProfileSpec>,
    /// 1: one orchestrator per segment; 2: race two and keep the first result.
    pub redundancy: usize,
    /// How often the active set is read again.
    pub rediscover_every: Duration,
    /// Where each segment's signed result is kept (`<dir>/<stream>/<seq>.result.json`); `None`
    /// only logs it.
    pub evidence_dir: Option<PathBuf>,
}

/// Pays orchestrators found on-chain to transcode segments.
pub struct NetworkProcessor<P> {
    provider: P,
    payer: Payer,
    suspensions: Arc<Suspensions>,
    config: NetworkConfig,
    candidates: RwLock<Option<(Instant, Vec<Candidate>)>>,
    latency_ms: Mutex<HashMap<Address, f64>>,
}

impl<P: Provider + Clone + 'static> NetworkProcessor<P> {
    pub fn new(
        provider: P,
        payer: Payer,
        suspensions: Arc<Suspensions>,
        config: NetworkConfig,
    ) -> Self {
        Self {
            provider,
            payer,
            suspensions,
            config,
            candidates: RwLock::new(None),
            latency_ms: Mutex::new(HashMap::new()),
        }
    }

    /// The orchestrators tried for the next segment, best first.
    pub async fn ranked(&self) -> Result<Vec<Candidate>, ProcessError> {
        let fresh = matches!(&*self.candidates.read().await, Some((at, _)) if at.elapsed() < self.config.rediscover_every);
        if !fresh {
            let found = discover(
                self.provider.clone(),
                self.config.registry,
                &self.config.service,
                self.config.region.as_deref(),
            )
            .await
            .map_err(|e| ProcessError::Unavailable(e.to_string()))?;
            *self.candidates.write().await = Some((Instant::now(), found));
        }
        let all = self
            .candidates
            .read()
            .await
            .as_ref()
            .map(|(_, c)| c.clone())
            .unwrap_or_default();
        let latency = self.latency_ms.lock().expect("latency").clone();
        let mut usable: Vec<Candidate> = all
            .into_iter()
            .filter(|c| !self.suspensions.is_suspended(c.address))
            .collect();
        // Cheapest first, then fastest measured (unmeasured ones get tried), then most stake.
        usable.sort_by(|a, b| {
            let la = latency.get(&a.address).copied().unwrap_or(0.0);
            let lb = latency.get(&b.address).copied().unwrap_or(0.0);
            a.advertised_price
                .cmp(&b.advertised_price)
                .then(la.total_cmp(&lb))
                .then(b.stake.cmp(&a.stake))
        });
        Ok(usable)
    }

    /// Transcodes one segment through the network.
    pub async fn process_segment(
        self: Arc<Self>,
        segment: IncomingSegment,
    ) -> Result<Vec<RenditionOut>, ProcessError> {
        let bytes = segment.bytes.clone();
        let info = tokio::task::spawn_blocking(move || peerflow_media::probe_bytes(&bytes))
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
            profiles: self.config.ladder.clone(),
        };
        let block = self
            .provider
            .get_block_number()
            .await
            .map_err(|e| ProcessError::Unavailable(e.to_string()))?;
        let ranked = self.ranked().await?;
        let mut last = String::from("no orchestrator offers the service");
        let mut queue = ranked.into_iter();
        loop {
            let batch: Vec<Candidate> =
                queue.by_ref().take(self.config.redundancy.max(1)).collect();
            if batch.is_empty() {
                return Err(ProcessError::Unavailable(last));
            }
            let mut attempts = tokio::task::JoinSet::new();
            for c in batch {
                let (me, request, bytes) =
                    (Arc::clone(&self), request.clone(), segment.bytes.clone());
                attempts.spawn(async move {
                    let started = Instant::now();
                    let result = me.payer.submit(&c, &request, &bytes, pixels, block).await;
                    (c, started.elapsed(), result)
                });
            }
            while let Some(joined) = attempts.join_next().await {
                let (c, took, result) =
                    joined.map_err(|e| ProcessError::Unavailable(e.to_string()))?;
                match result {
                    Ok(verified) => {
                        self.record_success(c.address, took);
                        attempts.abort_all();
                        self.keep_evidence(&segment, &verified.evidence).await;
                        return self.renditions(verified.parts, info.duration_s);
                    }
                    Err(e) if e.is_bad_segment() => {
                        return Err(ProcessError::BadSegment(e.to_string()));
                    }
                    Err(e) => {
                        // Only the orchestrator's own faults suspend it (not, say, our empty deposit).
                        let period = if e.retry_elsewhere() {
                            self.suspensions.failed(c.address)
                        } else {
                            Duration::ZERO
                        };
                        tracing::warn!(orchestrator = %c.address, error = %e, suspended_s = period.as_secs(), "segment failed; failing over");
                        last = format!("{}: {e}", c.address);
                    }
                }
            }
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

    fn record_success(&self, orchestrator: Address, took: Duration) {
        self.suspensions.succeeded(orchestrator);
        let ms = took.as_secs_f64() * 1e3;
        let mut latency = self.latency_ms.lock().expect("latency");
        let ewma = latency
            .get(&orchestrator)
            .map_or(ms, |prev| 0.8 * prev + 0.2 * ms);
        latency.insert(orchestrator, ewma);
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

/// The processor as the broadcaster's HTTP layer takes it.
pub struct NetworkHandle<P>(pub Arc<NetworkProcessor<P>>);

impl<P: Provider + Clone + 'static> SegmentProcessor for NetworkHandle<P> {
    fn process(
        &self,
        segment: IncomingSegment,
    ) -> BoxFuture<'static, Result<Vec<RenditionOut>, ProcessError>> {
        Box::pin(Arc::clone(&self.0).process_segment(segment))
    }
}
