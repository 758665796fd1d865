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
//! A finding equivalent to the claimed fault upholds it ([`Fault::upholds`]): a rendition cut
//! short is `undecodable`, `frame_count` or `duration` depending on where the cut falls, and all
//! three are one fault of the orchestrator. Any other finding must be the claimed fault exactly.
//!
//! Evidence is untrusted ([`JurorLimits`]): the manifest must list exactly the bundle's four files
//! ([`super::evidence`]) and only the three the checks need are fetched; each file and each claim
//! is capped in bytes, each claim in time (a claim that stalls is tried again later while the
//! others go on: claims are judged side by side); redirects are not followed, and evidence at a
//! private, loopback or link-local address is refused unless the juror is told to accept it (a
//! devnet or a test, where everything is on loopback).
//!
//! Its Prometheus metrics (`peerflow juror --metrics-listen`):
//!
//! | Name | Kind | Labels | |
//! |---|---|---|---|
//! | `peerflow_juror_claims_total` | counter | `outcome` | claims this juror is done with: `uphold`, `reject` (voted), `expired` (it closed them), `closed` (decided or voted before it looked), `party` (its own claim or one against it) |
//! | `peerflow_juror_judge_seconds` | histogram | | time to fetch and check one claim's evidence |
//! | `peerflow_juror_pending_claims` | gauge | | filed claims it has not finished with |
//! | `peerflow_juror_errors_total` | counter | `code` | attempts that failed and are tried again: `fetch`, `timeout`, `chain`, `tools` |

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256, keccak256};
use alloy::providers::Provider;
use peerflow_chain::bindings::fault_claims::FaultClaims;
use peerflow_chain::claims::{ClaimStatus, FiledClaim, claim, claims_filed_since, expire, vote};
use peerflow_chain::logscan::Cursors;
use peerflow_chain::{ChainError, Deployment};
use peerflow_media::verify::Fault;
use peerflow_media::{InputFormat, Profile, VideoCodec};
use peerflow_protocol::SignedResult;
use peerflow_protocol::metrics::{LATENCY_BUCKETS, Metrics};
use peerflow_protocol::netguard;

use super::evidence::{Manifest, ManifestFile};
use super::verification::{VerifyPolicy, check_one};

/// How a juror decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// The fault reproduced.
    Uphold(Fault),
    /// Why not.
    Reject(String),
}

/// What a juror accepts of a claim's evidence, and how it judges claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JurorLimits {
    /// Most bytes of `manifest.json`.
    pub manifest_bytes: usize,
    /// Most bytes of `result.json`.
    pub result_bytes: usize,
    /// Most bytes of the source or the rendition (segments are a few MB).
    pub media_bytes: usize,
    /// Most bytes fetched for one claim, all files together.
    pub claim_bytes: usize,
    /// Longest one attempt at judging a claim (fetching and checking) may take; past it the
    /// claim is tried again at a later poll.
    pub claim_time: Duration,
    /// Claims judged at once.
    pub concurrency: usize,
    /// Whether evidence at private, loopback and link-local addresses is fetched (a devnet, a
    /// test); off, such a URL is voted down and a name resolving only to such addresses fails.
    pub allow_private: bool,
}

impl Default for JurorLimits {
    fn default() -> Self {
        Self {
            manifest_bytes: 64 << 10,
            result_bytes: 1 << 20,
            media_bytes: 32 << 20,
            claim_bytes: 64 << 20,
            claim_time: Duration::from_secs(120),
            concurrency: 2,
            allow_private: false,
        }
    }
}

/// The time an attempt at a claim gets after `timeouts` attempts that ran out of it: twice as
/// much each time, up to 16× `base`.
fn attempt_budget(base: Duration, timeouts: u32) -> Duration {
    base.saturating_mul(1 << timeouts.min(4))
}

/// The file names a manifest may list: the bundle's, nothing else ([`super::evidence`]).
const RESULT: &str = "result.json";
const FINDING: &str = "finding.json";

/// Why a claim could not be judged yet.
#[derive(Debug, thiserror::Error)]
pub enum JurorError {
    /// Evidence over a byte limit: voted down, as unverifiable.
    #[error("evidence {url} is over {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("fetching evidence {url}: {message}")]
    Fetch { url: String, message: String },
    #[error("judging took longer than {0:?}")]
    TimedOut(Duration),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("running the checks: {0}")]
    Tools(#[from] peerflow_media::MediaError),
}

impl JurorError {
    /// A stable machine-readable code (the `code` label of `peerflow_juror_errors_total`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Fetch { .. } => "fetch",
            Self::TimedOut(_) => "timeout",
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
    /// Filed in a committee term this juror did not sit on: that term's members decide it.
    NotOnJury,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uphold => "uphold",
            Self::Reject => "reject",
            Self::Expired => "expired",
            Self::Closed => "closed",
            Self::Party => "party",
            Self::NotOnJury => "not_on_jury",
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
    pub limits: JurorLimits,
    /// Where it counts what it does (see the module's table).
    pub metrics: Arc<Metrics>,
    http: reqwest::Client,
    /// Where it keeps its place across restarts ([`Juror::with_cursor`]).
    cursor: Option<Cursors>,
}

/// The name of the juror's place in its [`Cursors`]: the first block with a claim it may not be
/// done with.
pub const CURSOR: &str = "juror-claims";

impl<P: Provider + Clone + Send + Sync + 'static> Juror<P> {
    /// A committee member that signs its votes through `chain`.
    pub fn new(
        chain: P,
        deployment: Deployment,
        me: Address,
        policy: VerifyPolicy,
        limits: JurorLimits,
        metrics: Arc<Metrics>,
    ) -> Self {
        let http = evidence_client(limits.allow_private);
        Self {
            chain,
            deployment,
            me,
            policy,
            limits,
            metrics,
            http,
            cursor: None,
        }
    }

    /// Keeps its place in `cursors` ([`CURSOR`]): the first block with a claim it has not finished
    /// with, so a restarted juror resumes there and misses no claim filed while it was down.
    pub fn with_cursor(mut self, cursors: Cursors) -> Self {
        self.cursor = Some(cursors);
        self
    }

    /// Judges and votes on every open claim filed from `from_block` on, polling every `poll`;
    /// up to [`JurorLimits::concurrency`] claims at once, so that one that stalls does not hold
    /// the others up.
    pub fn spawn(self, from_block: u64, poll: Duration) -> tokio::task::JoinHandle<()> {
        let this = Arc::new(self);
        tokio::spawn(async move {
            let mut next = from_block;
            // Each claim with the number of its attempts that ran out of time: the next attempt
            // gets twice the time (up to 16×), so a loaded machine slows judging down but never
            // starts the same work over and over.
            let mut pending: VecDeque<(FiledClaim, u32)> = VecDeque::new();
            // Claims being judged, with the block each was filed in.
            let mut running: HashMap<U256, Option<u64>> = HashMap::new();
            let mut done: HashSet<U256> = HashSet::new();
            let mut tasks = tokio::task::JoinSet::new();
            let mut saved = None;
            loop {
                match this.chain.get_block_number().await {
                    Ok(head) if head >= next => {
                        match claims_filed_since(&this.chain, &this.deployment, next).await {
                            Ok(filed) => {
                                for c in filed {
                                    let known = done.contains(&c.id)
                                        || running.contains_key(&c.id)
                                        || pending.iter().any(|(p, _)| p.id == c.id);
                                    if !known {
                                        pending.push_back((c, 0));
                                    }
                                }
                                next = head + 1;
                            }
                            Err(error) => tracing::warn!(%error, "reading filed claims"),
                        }
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "reading the chain head"),
                }
                while running.len() < this.limits.concurrency.max(1) {
                    let Some((filed, timeouts)) = pending.pop_front() else {
                        break;
                    };
                    running.insert(filed.id, filed.block);
                    let juror = Arc::clone(&this);
                    let budget = attempt_budget(this.limits.claim_time, timeouts);
                    tasks.spawn(async move {
                        let result = juror.act(&filed, budget).await;
                        (filed, timeouts, result)
                    });
                }
                while let Some(joined) = tasks.try_join_next() {
                    let Ok((filed, timeouts, result)) = joined else {
                        continue; // a panicked attempt; its claim is read again below
                    };
                    running.remove(&filed.id);
                    match result {
                        Ok(outcome) => {
                            this.metrics.inc(
                                CLAIMS,
                                "Claims this juror is done with, by what it did.",
                                &[("outcome", outcome.as_str())],
                            );
                            done.insert(filed.id);
                        }
                        Err(error) => {
                            this.metrics.inc(
                                ERRORS,
                                "Attempts to judge a claim that failed (tried again), by code.",
                                &[("code", error.code())],
                            );
                            tracing::warn!(claim = %filed.id, %error, "claim not judged yet");
                            let timeouts =
                                timeouts + u32::from(matches!(error, JurorError::TimedOut(_)));
                            pending.push_back((filed, timeouts)); // behind the others
                        }
                    }
                }
                if tasks.is_empty() && !running.is_empty() {
                    // Attempts that panicked: their claims are read from the chain again.
                    running.clear();
                    next = from_block;
                }
                if let Some(cursors) = &this.cursor {
                    // Claims found but not finished are read again after a restart.
                    let unfinished = pending
                        .iter()
                        .map(|(c, _)| c.block)
                        .chain(running.values().copied())
                        .flatten()
                        .min();
                    let resume = unfinished.unwrap_or(next).min(next);
                    if saved != Some(resume) {
                        match cursors.set(CURSOR, resume) {
                            Ok(()) => saved = Some(resume),
                            Err(error) => tracing::warn!(%error, "saving the juror's place"),
                        }
                    }
                }
                this.metrics.set(
                    PENDING,
                    "Filed claims this juror has not finished with.",
                    &[],
                    (pending.len() + running.len()) as f64,
                );
                tokio::time::sleep(poll).await;
            }
        })
    }

    /// Votes on `filed` unless it is closed or this member already voted; says what it did.
    async fn act(&self, filed: &FiledClaim, budget: Duration) -> Result<Outcome, JurorError> {
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
        if !claims
            .canVote(filed.id, self.me)
            .call()
            .await
            .map_err(ChainError::from)?
        {
            return Ok(Outcome::NotOnJury); // the committee of the claim's term decides it
        }
        let started = Instant::now();
        let judgement = self.judge_within(filed, budget).await?;
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

    /// Fetches and checks the evidence of `filed`, within [`JurorLimits::claim_time`].
    pub async fn judge(&self, filed: &FiledClaim) -> Result<Judgement, JurorError> {
        self.judge_within(filed, self.limits.claim_time).await
    }

    /// [`Self::judge`] within `budget`.
    async fn judge_within(
        &self,
        filed: &FiledClaim,
        budget: Duration,
    ) -> Result<Judgement, JurorError> {
        let examined = tokio::time::timeout(budget, self.examine(filed, budget))
            .await
            .map_err(|_| JurorError::TimedOut(budget))?;
        match examined {
            Err(JurorError::TooLarge { url, limit }) => {
                Ok(Judgement::Reject(format!("{url} is over {limit} bytes")))
            }
            judged => judged,
        }
    }

    async fn examine(&self, filed: &FiledClaim, time: Duration) -> Result<Judgement, JurorError> {
        let base = filed.evidence_uri.trim_end_matches('/');
        if let Err(why) = check_evidence_url(base, self.limits.allow_private) {
            return Ok(Judgement::Reject(why));
        }
        let mut budget = self.limits.claim_bytes;
        let manifest_url = format!("{base}/manifest.json");
        let manifest_bytes = self
            .fetch(&manifest_url, self.limits.manifest_bytes, &mut budget)
            .await?;
        if keccak256(&manifest_bytes) != filed.evidence_hash {
            return Ok(Judgement::Reject(
                "the manifest is not the one the claim commits to".into(),
            ));
        }
        let Ok(manifest) = serde_json::from_slice::<Manifest>(&manifest_bytes) else {
            return Ok(Judgement::Reject("the manifest does not parse".into()));
        };
        let Some(bundle) = Bundle::of(&manifest) else {
            return Ok(Judgement::Reject(
                "the manifest does not list exactly result.json, finding.json, source.<ts|mp4> \
                 and rendition.<ts|mp4>"
                    .into(),
            ));
        };
        let mut files = Vec::with_capacity(3);
        for (file, limit) in [
            (bundle.result, self.limits.result_bytes),
            (bundle.source, self.limits.media_bytes),
            (bundle.rendition, self.limits.media_bytes),
        ] {
            let bytes = self
                .fetch(&format!("{base}/{}", file.name), limit, &mut budget)
                .await?;
            if keccak256(&bytes) != file.keccak256 {
                return Ok(Judgement::Reject(format!(
                    "{} does not match its hash",
                    file.name
                )));
            }
            files.push(bytes);
        }
        let [result, source, rendition] = <[Vec<u8>; 3]>::try_from(files).expect("three files");
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
        let format = bundle.format;
        let policy = self.policy.clone();
        let claimed = filed.fault;
        // The checks' tools get no more time than the claim has.
        let limits = peerflow_media::ToolLimits {
            wall: time,
            ..peerflow_media::tool_limits()
        };
        let found = tokio::task::spawn_blocking(move || {
            peerflow_media::with_tool_limits(limits, || {
                reproduce(&source, format, &rendition, &profile, &policy)
            })
        })
        .await
        .map_err(|e| JurorError::Fetch {
            url: base.to_owned(),
            message: e.to_string(),
        })??;
        Ok(match found {
            Some(fault) if fault.upholds(claimed) => Judgement::Uphold(fault),
            Some(fault) => Judgement::Reject(format!(
                "found {} instead of the claimed fault",
                fault.name()
            )),
            None => Judgement::Reject("the rendition passes every check".into()),
        })
    }

    /// Fetches `url`, at most `limit` bytes and at most what is left of the claim's `budget`.
    async fn fetch(
        &self,
        url: &str,
        limit: usize,
        budget: &mut usize,
    ) -> Result<Vec<u8>, JurorError> {
        let fail = |message: String| JurorError::Fetch {
            url: url.to_owned(),
            message,
        };
        let cap = limit.min(*budget);
        let mut response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| fail(error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(fail(format!("HTTP {}", response.status())));
        }
        let too_large = || JurorError::TooLarge {
            url: url.to_owned(),
            limit: cap,
        };
        if response.content_length().is_some_and(|n| n > cap as u64) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| fail(e.to_string()))? {
            if bytes.len() + chunk.len() > cap {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        *budget -= bytes.len();
        Ok(bytes)
    }
}

/// The files of a bundle a juror needs, from a manifest that lists exactly the bundle's files.
struct Bundle<'a> {
    result: &'a ManifestFile,
    source: &'a ManifestFile,
    rendition: &'a ManifestFile,
    format: InputFormat,
}

impl<'a> Bundle<'a> {
    fn of(manifest: &'a Manifest) -> Option<Self> {
        let files = &manifest.files;
        let named = |name: &str| files.iter().find(|f| f.name == name);
        let media = |stem: &str| {
            files.iter().find_map(|f| {
                let ext = f.name.strip_prefix(stem)?.strip_prefix('.')?;
                Some((f, InputFormat::from_extension(ext)?))
            })
        };
        let (source, format) = media("source")?;
        let (rendition, _) = media("rendition")?;
        named(FINDING)?;
        let mut names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        (files.len() == 4 && names.len() == 4).then_some(Bundle {
            result: named(RESULT)?,
            source,
            rendition,
            format,
        })
    }
}

/// The client jurors fetch evidence with: no redirects (a public URL must not bounce to an
/// internal one), no proxy from the environment, and unless `allow_private`, names resolved to
/// public addresses only ([`peerflow_protocol::netguard`]).
fn evidence_client(allow_private: bool) -> reqwest::Client {
    netguard::guarded_client(allow_private, Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a plain HTTP client builds")
}

/// Whether evidence at `base` may be fetched: http or https, and unless `allow_private`, not an
/// address literal of a private, loopback, link-local or otherwise non-public range.
pub fn check_evidence_url(base: &str, allow_private: bool) -> Result<(), String> {
    netguard::check_url_str(base, allow_private).map_err(|e| match e {
        netguard::UrlRefused::NonPublic(ip) => {
            format!("the evidence is at a non-public address ({ip})")
        }
        other => format!("the evidence URL: {other}"),
    })
}

pub use netguard::is_public;

/// An error with its sources, for a reason a person can act on.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The first fault the broadcaster's checks (deterministic, then sampled) find, if any.
pub fn reproduce(
    source: &[u8],
    format: InputFormat,
    rendition: &[u8],
    profile: &Profile,
    policy: &VerifyPolicy,
) -> Result<Option<Fault>, peerflow_media::MediaError> {
    let info = peerflow_media::probe_bytes_as(source, format)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::evidence::ManifestFile;
    use alloy::primitives::B256;
    use alloy::providers::ProviderBuilder;
    use axum::extract::{Path, State};
    use std::collections::HashMap;
    use std::net::SocketAddr;

    type Files = Arc<HashMap<String, Vec<u8>>>;

    /// Serves `files` under `/e/{name}`; `/stall/{name}` never answers.
    async fn serve(files: HashMap<String, Vec<u8>>) -> SocketAddr {
        async fn file(
            State(files): State<Files>,
            Path(name): Path<String>,
        ) -> Result<Vec<u8>, axum::http::StatusCode> {
            files
                .get(&name)
                .cloned()
                .ok_or(axum::http::StatusCode::NOT_FOUND)
        }
        async fn stall() -> Vec<u8> {
            std::future::pending().await
        }
        let app = axum::Router::new()
            .route("/e/{name}", axum::routing::get(file))
            .route("/stall/{name}", axum::routing::get(stall))
            .with_state(Arc::new(files));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    fn juror(limits: JurorLimits) -> Juror<impl Provider + Clone + 'static> {
        let chain = ProviderBuilder::new().connect_http("http://127.0.0.1:9".parse().unwrap());
        let zero = Address::ZERO;
        let deployment: Deployment = serde_json::from_value(serde_json::json!({
            "chainId": 31337, "startBlock": 0, "roundLength": 10, "deployer": zero,
            "WorkToken": zero, "Staking": zero, "Minter": zero, "TicketBroker": zero,
            "ServiceRegistry": zero, "JobEscrow": zero, "FaultClaims": zero,
            "TeamVesting": zero, "TreasuryVesting": zero,
        }))
        .unwrap();
        Juror::new(
            chain,
            deployment,
            Address::repeat_byte(1),
            VerifyPolicy::default(),
            limits,
            Arc::new(Metrics::new()),
        )
    }

    fn claim(uri: String, manifest: &[u8]) -> FiledClaim {
        FiledClaim {
            id: U256::from(1),
            orchestrator: Address::repeat_byte(2),
            claimant: Address::repeat_byte(3),
            result_digest: B256::repeat_byte(4),
            rendition: U256::ZERO,
            fault: 1,
            evidence_hash: keccak256(manifest),
            evidence_uri: uri,
            deadline: u64::MAX,
            block: None,
        }
    }

    fn manifest(files: &[(&str, &[u8])]) -> Vec<u8> {
        serde_json::to_vec(&Manifest {
            stream: "s".into(),
            seq: 1,
            orchestrator: Address::repeat_byte(2),
            digest: B256::repeat_byte(4),
            rendition: 0,
            fault: 1,
            files: files
                .iter()
                .map(|(name, bytes)| ManifestFile {
                    name: (*name).into(),
                    keccak256: keccak256(bytes),
                })
                .collect(),
        })
        .unwrap()
    }

    fn allow_private() -> JurorLimits {
        JurorLimits {
            allow_private: true,
            ..JurorLimits::default()
        }
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        assert!(check_evidence_url("http://127.0.0.1:8080/v1/faults/0x1", false).is_err());
        assert!(check_evidence_url("http://[::1]/v1/faults/0x1", false).is_err());
        assert!(check_evidence_url("http://169.254.169.254/latest", false).is_err());
        assert!(check_evidence_url("file:///etc/passwd", true).is_err());
        assert!(check_evidence_url("http://127.0.0.1:8080/x", true).is_ok());
        assert!(check_evidence_url("https://evidence.example.org/x", false).is_ok());
    }

    #[tokio::test]
    async fn evidence_at_internal_addresses_is_refused_unless_allowed() {
        let body = manifest(&[]);
        let addr = serve(HashMap::from([("manifest.json".into(), body.clone())])).await;
        // An address literal on loopback: voted down, nothing fetched.
        let judged = juror(JurorLimits::default())
            .judge(&claim(format!("http://{addr}/e"), &body))
            .await
            .unwrap();
        assert!(
            matches!(&judged, Judgement::Reject(why) if why.contains("non-public")),
            "{judged:?}"
        );
        // A name that resolves to loopback only: not fetched either (tried again later).
        let err = juror(JurorLimits::default())
            .judge(&claim(format!("http://localhost:{}/e", addr.port()), &body))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, JurorError::Fetch { message, .. } if message.contains("no public address")),
            "{err}"
        );
        // Allowed (a devnet): fetched, and the empty manifest is voted down for what it lacks.
        let judged = juror(allow_private())
            .judge(&claim(format!("http://{addr}/e"), &body))
            .await
            .unwrap();
        assert!(
            matches!(&judged, Judgement::Reject(why) if why.contains("does not list exactly")),
            "{judged:?}"
        );
    }

    #[tokio::test]
    async fn a_manifest_may_list_only_the_bundles_files_each_within_its_cap() {
        let files: [(&str, &[u8]); 4] = [
            ("source.ts", b"source"),
            ("rendition.ts", b"rendition"),
            ("result.json", b"{}"),
            ("finding.json", b"{}"),
        ];
        // An extra file (a path outside the bundle): voted down before anything else is read.
        let mut extra = files.to_vec();
        extra.push(("../../deployment.json", b"x"));
        let body = manifest(&extra);
        let addr = serve(HashMap::from([("manifest.json".into(), body.clone())])).await;
        let judged = juror(allow_private())
            .judge(&claim(format!("http://{addr}/e"), &body))
            .await
            .unwrap();
        assert!(
            matches!(&judged, Judgement::Reject(why) if why.contains("does not list exactly")),
            "{judged:?}"
        );
        // Listed twice: the same.
        let mut twice = files.to_vec();
        twice[3] = ("result.json", b"{}");
        let body = manifest(&twice);
        let addr = serve(HashMap::from([("manifest.json".into(), body.clone())])).await;
        let judged = juror(allow_private())
            .judge(&claim(format!("http://{addr}/e"), &body))
            .await
            .unwrap();
        assert!(matches!(judged, Judgement::Reject(_)), "{judged:?}");

        // The four files, a rendition over the media cap: voted down as unverifiable.
        let big = vec![0x47u8; 5000];
        let mut four = files.to_vec();
        four[1] = ("rendition.ts", &big);
        let body = manifest(&four);
        let mut served: HashMap<String, Vec<u8>> = four
            .iter()
            .map(|(n, b)| ((*n).to_owned(), b.to_vec()))
            .collect();
        served.insert("manifest.json".into(), body.clone());
        let addr = serve(served).await;
        let limits = JurorLimits {
            media_bytes: 4096,
            ..allow_private()
        };
        let judged = juror(limits)
            .judge(&claim(format!("http://{addr}/e"), &body))
            .await
            .unwrap();
        assert!(
            matches!(&judged, Judgement::Reject(why) if why.contains("over 4096 bytes")),
            "{judged:?}"
        );
        // The same files within the media cap but over the claim's total: voted down too.
        let limits = JurorLimits {
            claim_bytes: body.len() + 100,
            ..allow_private()
        };
        let judged = juror(limits)
            .judge(&claim(format!("http://{addr}/e"), &body))
            .await
            .unwrap();
        assert!(
            matches!(&judged, Judgement::Reject(why) if why.contains("bytes")),
            "{judged:?}"
        );
    }

    #[test]
    fn each_attempt_that_runs_out_of_time_gets_twice_as_much_up_to_sixteen_times() {
        let base = Duration::from_secs(120);
        let budgets: Vec<u64> = (0..7).map(|n| attempt_budget(base, n).as_secs()).collect();
        assert_eq!(budgets, [120, 240, 480, 960, 1920, 1920, 1920]);
    }

    #[tokio::test]
    async fn a_claim_whose_evidence_stalls_times_out_and_is_tried_again_later() {
        let body = manifest(&[]);
        let addr = serve(HashMap::new()).await;
        let limits = JurorLimits {
            claim_time: Duration::from_millis(500),
            ..allow_private()
        };
        let started = Instant::now();
        let err = juror(limits)
            .judge(&claim(format!("http://{addr}/stall"), &body))
            .await
            .unwrap_err();
        assert!(matches!(err, JurorError::TimedOut(_)), "{err}");
        assert_eq!(err.code(), "timeout");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
