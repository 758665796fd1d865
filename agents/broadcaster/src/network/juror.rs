//! A member of the fault-claim committee: watches `ClaimFiled`, fetches each claim's evidence from
//! the URL it names, and votes on what it finds itself, never on what the claimant says:
//!
//! 1. the manifest's keccak256 must be the claim's `evidenceHash`, every file its listed hash;
//! 2. the signed result must be the claim's (`resultDigest`) and cover the files: the source's
//!    hash is its `inputHash`, the rendition's is `renditionHashes[rendition]`;
//! 3. the checks the broadcaster ran ([`super::verification`]) are run again on the source and
//!    rendition for the signed profile, with this juror's own tolerances: the claim is upheld only
//!    when they find the claimed fault.
//!
//! Evidence that does not add up (a hash that does not match, a fault that does not reproduce)
//! is voted down; evidence that cannot be fetched is tried again until the deadline, when the
//! juror expires the claim (the bond goes back).
//!
//! Its Prometheus metrics (`peerflow juror --metrics-listen`):
//!
//! | Name | Kind | Labels | |
//! |---|---|---|---|
//! | `peerflow_juror_claims_total` | counter | `outcome` | claims this juror is done with: `uphold`, `reject` (voted), `expired` (it closed them), `closed` (decided or voted before it looked), `party` (its own claim or one against it) |
//! | `peerflow_juror_judge_seconds` | histogram | | time to fetch and check one claim's evidence |
//! | `peerflow_juror_pending_claims` | gauge | | filed claims it has not finished with |
//! | `peerflow_juror_errors_total` | counter | `code` | attempts that failed and are tried again: `fetch`, `too_large`, `chain`, `tools` |

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256, keccak256};
use alloy::providers::Provider;
use peerflow_chain::bindings::fault_claims::FaultClaims;
use peerflow_chain::claims::{ClaimStatus, FiledClaim, claim, claims_filed_since, expire, vote};
use peerflow_chain::{ChainError, Deployment};
use peerflow_media::verify::Fault;
use peerflow_media::{InputFormat, Profile, VideoCodec};
use peerflow_protocol::SignedResult;
use peerflow_protocol::metrics::{LATENCY_BUCKETS, Metrics};

use super::evidence::Manifest;
use super::verification::{VerifyPolicy, check_one};

/// How a juror decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// The fault reproduced.
    Uphold(Fault),
    /// Why not.
    Reject(String),
}

/// The most a juror fetches of one evidence file (segments are a few MB); a claim whose
/// evidence is larger is voted down, as unverifiable.
pub const MAX_EVIDENCE_FILE: usize = 64 << 20;
/// How long one evidence request may take before it is tried again later.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a claim could not be judged yet.
#[derive(Debug, thiserror::Error)]
pub enum JurorError {
    #[error("evidence {0} is larger than {MAX_EVIDENCE_FILE} bytes")]
    TooLarge(String),
    #[error("fetching evidence {url}: {message}")]
    Fetch { url: String, message: String },
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("running the checks: {0}")]
    Tools(#[from] peerflow_media::MediaError),
}

impl JurorError {
    /// A stable machine-readable code (the `code` label of `peerflow_juror_errors_total`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "too_large",
            Self::Fetch { .. } => "fetch",
            Self::Chain(_) => "chain",
            Self::Tools(_) => "tools",
        }
    }
}

pub const CLAIMS: &str = "peerflow_juror_claims_total";
pub const JUDGE_SECONDS: &str = "peerflow_juror_judge_seconds";
pub const PENDING: &str = "peerflow_juror_pending_claims";
pub const ERRORS: &str = "peerflow_juror_errors_total";

/// What a juror did with a claim it is done with (the `outcome` label of [`CLAIMS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Uphold,
    Reject,
    Expired,
    Closed,
    Party,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uphold => "uphold",
            Self::Reject => "reject",
            Self::Expired => "expired",
            Self::Closed => "closed",
            Self::Party => "party",
        }
    }
}

/// One committee member.
pub struct Juror<P> {
    pub chain: P,
    pub deployment: Deployment,
    /// This member's address (the account `chain` signs with).
    pub me: Address,
    pub policy: VerifyPolicy,
    pub http: reqwest::Client,
    /// Where it counts what it does (see the module's table).
    pub metrics: Arc<Metrics>,
}

impl<P: Provider + Clone + 'static> Juror<P> {
    /// Judges and votes on every open claim filed from `from_block` on, polling every `poll`.
    pub fn spawn(self, from_block: u64, poll: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut next = from_block;
            let mut pending: Vec<FiledClaim> = Vec::new();
            let mut done: HashSet<U256> = HashSet::new();
            loop {
                match self.chain.get_block_number().await {
                    Ok(head) if head >= next => {
                        match claims_filed_since(&self.chain, &self.deployment, next).await {
                            Ok(filed) => {
                                pending.extend(filed.into_iter().filter(|c| !done.contains(&c.id)));
                                next = head + 1;
                            }
                            Err(error) => tracing::warn!(%error, "reading filed claims"),
                        }
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "reading the chain head"),
                }
                let mut still = Vec::new();
                for filed in pending.drain(..) {
                    match self.act(&filed).await {
                        Ok(outcome) => {
                            self.metrics.inc(
                                CLAIMS,
                                "Claims this juror is done with, by what it did.",
                                &[("outcome", outcome.as_str())],
                            );
                            done.insert(filed.id);
                        }
                        Err(error) => {
                            self.metrics.inc(
                                ERRORS,
                                "Attempts to judge a claim that failed (tried again), by code.",
                                &[("code", error.code())],
                            );
                            tracing::warn!(claim = %filed.id, %error, "claim not judged yet");
                            still.push(filed);
                        }
                    }
                }
                pending = still;
                self.metrics.set(
                    PENDING,
                    "Filed claims this juror has not finished with.",
                    &[],
                    pending.len() as f64,
                );
                tokio::time::sleep(poll).await;
            }
        })
    }

    /// Votes on `filed` unless it is closed or this member already voted; says what it did.
    async fn act(&self, filed: &FiledClaim) -> Result<Outcome, JurorError> {
        let current = claim(&self.chain, &self.deployment, filed.id).await?;
        let claims = FaultClaims::new(self.deployment.fault_claims, &self.chain);
        let voted = claims
            .hasVoted(filed.id, self.me)
            .call()
            .await
            .map_err(ChainError::from)?;
        if current.status != ClaimStatus::Open || voted {
            return Ok(Outcome::Closed);
        }
        let now = self
            .chain
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(|e| ChainError::from(alloy::contract::Error::from(e)))?
            .map_or(0, |b| b.header.timestamp);
        if now >= current.deadline {
            // Too late to vote: anyone may close it, the bond goes back.
            expire(&self.chain, &self.deployment, filed.id).await?;
            return Ok(Outcome::Expired);
        }
        if filed.orchestrator == self.me || filed.claimant == self.me {
            return Ok(Outcome::Party); // a party to the claim does not vote on it
        }
        let started = Instant::now();
        let judgement = self.judge(filed).await?;
        self.metrics.observe(
            JUDGE_SECONDS,
            "Time to fetch and check one claim's evidence.",
            LATENCY_BUCKETS,
            &[],
            started.elapsed().as_secs_f64(),
        );
        let uphold = matches!(judgement, Judgement::Uphold(_));
        tracing::info!(claim = %filed.id, orchestrator = %filed.orchestrator, ?judgement, "voting");
        vote(&self.chain, &self.deployment, filed.id, uphold).await?;
        Ok(if uphold {
            Outcome::Uphold
        } else {
            Outcome::Reject
        })
    }

    /// Fetches and checks the evidence of `filed`.
    pub async fn judge(&self, filed: &FiledClaim) -> Result<Judgement, JurorError> {
        match self.examine(filed).await {
            Err(JurorError::TooLarge(url)) => Ok(Judgement::Reject(format!(
                "{url} is over {MAX_EVIDENCE_FILE} bytes"
            ))),
            judged => judged,
        }
    }

    async fn examine(&self, filed: &FiledClaim) -> Result<Judgement, JurorError> {
        let base = filed.evidence_uri.trim_end_matches('/');
        let manifest_bytes = self.fetch(&format!("{base}/manifest.json")).await?;
        if keccak256(&manifest_bytes) != filed.evidence_hash {
            return Ok(Judgement::Reject(
                "the manifest is not the one the claim commits to".into(),
            ));
        }
        let Ok(manifest) = serde_json::from_slice::<Manifest>(&manifest_bytes) else {
            return Ok(Judgement::Reject("the manifest does not parse".into()));
        };
        let mut files = Vec::with_capacity(manifest.files.len());
        for file in &manifest.files {
            let bytes = self.fetch(&format!("{base}/{}", file.name)).await?;
            if keccak256(&bytes) != file.keccak256 {
                return Ok(Judgement::Reject(format!(
                    "{} does not match its hash",
                    file.name
                )));
            }
            files.push((file.name.clone(), bytes));
        }
        let named = |prefix: &str| {
            files
                .iter()
                .find(|(name, _)| name.starts_with(prefix))
                .map(|(name, bytes)| (name.clone(), bytes.clone()))
        };
        let (Some((_, result)), Some((source_name, source)), Some((_, rendition))) =
            (named("result.json"), named("source."), named("rendition."))
        else {
            return Ok(Judgement::Reject("the bundle lacks a file".into()));
        };
        let Ok(signed) = serde_json::from_slice::<SignedResult>(&result) else {
            return Ok(Judgement::Reject("result.json does not parse".into()));
        };
        let r = &signed.result;
        let index = usize::try_from(filed.rendition).unwrap_or(usize::MAX);
        if signed.digest != filed.result_digest || r.orchestrator != filed.orchestrator {
            return Ok(Judgement::Reject(
                "the signed result is not the claim's".into(),
            ));
        }
        if keccak256(&source) != r.inputHash
            || r.renditionHashes.get(index) != Some(&keccak256(&rendition))
        {
            return Ok(Judgement::Reject(
                "the files are not the ones the orchestrator signed".into(),
            ));
        }
        let Some(profile) = r.profiles.get(index).and_then(profile_of) else {
            return Ok(Judgement::Reject(
                "the signed profile is not one this juror knows".into(),
            ));
        };
        let format = match source_name.rsplit('.').next() {
            Some("mp4") => InputFormat::Mp4,
            _ => InputFormat::MpegTs,
        };
        let policy = self.policy.clone();
        let claimed = filed.fault;
        let found = tokio::task::spawn_blocking(move || {
            reproduce(&source, format, &rendition, &profile, &policy)
        })
        .await
        .map_err(|e| JurorError::Fetch {
            url: base.to_owned(),
            message: e.to_string(),
        })??;
        Ok(match found {
            Some(fault) if fault.code() == claimed => Judgement::Uphold(fault),
            Some(fault) => Judgement::Reject(format!(
                "found {} instead of the claimed fault",
                fault.name()
            )),
            None => Judgement::Reject("the rendition passes every check".into()),
        })
    }

    async fn fetch(&self, url: &str) -> Result<Vec<u8>, JurorError> {
        let fail = |message: String| JurorError::Fetch {
            url: url.to_owned(),
            message,
        };
        let mut response = self
            .http
            .get(url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !response.status().is_success() {
            return Err(fail(format!("HTTP {}", response.status())));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| fail(e.to_string()))? {
            if bytes.len() + chunk.len() > MAX_EVIDENCE_FILE {
                return Err(JurorError::TooLarge(url.to_owned()));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// The first fault the broadcaster's checks (deterministic, then sampled) find, if any.
pub fn reproduce(
    source: &[u8],
    format: InputFormat,
    rendition: &[u8],
    profile: &Profile,
    policy: &VerifyPolicy,
) -> Result<Option<Fault>, peerflow_media::MediaError> {
    let info = peerflow_media::probe_bytes(source)?;
    Ok(check_one(source, format, &info, rendition, profile, true, policy)?.err())
}

/// The media profile of a signed one.
fn profile_of(p: &peerflow_protocol::result::Profile) -> Option<Profile> {
    let codec: VideoCodec = p.codec.parse().ok()?;
    Some(Profile::new(
        &p.name,
        p.width,
        p.height,
        p.bitrateKbps,
        codec,
    ))
}
