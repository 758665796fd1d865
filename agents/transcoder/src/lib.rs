//! A transcoder: it pulls work from its orchestrator (so it can sit behind NAT), encodes every
//! requested profile with its [`peerflow_media::Transcoder`] and posts the renditions back (the
//! orchestrator charges the pixels it counted itself; nothing is probed here). It takes up to
//! [`PullConfig::slots`] jobs at once and reports itself ([`metrics`]).

pub mod metrics;

use std::sync::Arc;
use std::time::{Duration, Instant};

use peerflow_media::{InputFormat, Profile, Transcoder, VideoCodec};
use peerflow_orchestrator::http::{
    JOB_ERROR_HEADER, JOB_HEADER, JOB_SECRET_HEADER, JobHeader, TRANSCODER_HEADER,
    TRANSCODER_PIXELS_HEADER, TRANSCODER_SLOTS_HEADER,
};
use peerflow_protocol::api::{ProfileSpec, RENDITION_HEADER};
use peerflow_protocol::metrics::Metrics;
use peerflow_protocol::multipart::{self, Part};

/// Errors that end the pull loop (per-job failures are reported to the orchestrator instead).
#[derive(Debug, thiserror::Error)]
pub enum TranscoderError {
    #[error("orchestrator refused the transcoder token")]
    Unauthorized,
    #[error("orchestrator: {0}")]
    Http(#[from] reqwest::Error),
    #[error("malformed job: {0}")]
    BadJob(String),
}

/// Where to pull work from.
#[derive(Debug, Clone)]
pub struct PullConfig {
    /// The orchestrator's base URL, e.g. `http://127.0.0.1:8935`.
    pub orchestrator: String,
    pub token: String,
    /// Long-poll wait per request.
    pub wait: Duration,
    /// The name the orchestrator lists this transcoder under.
    pub name: String,
    /// Jobs taken at once.
    pub slots: usize,
    /// Measured capacity (output pixels per second), told to the orchestrator.
    pub pixels_per_second: Option<u64>,
    /// Where its `peerflow_transcoder_*` series go.
    pub metrics: Arc<Metrics>,
}

impl PullConfig {
    /// One slot, 20 s polls, named after this host and process, with its own metrics.
    pub fn new(orchestrator: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            orchestrator: orchestrator.into(),
            token: token.into(),
            wait: Duration::from_secs(20),
            name: default_name(),
            slots: 1,
            pixels_per_second: None,
            metrics: Arc::new(Metrics::new()),
        }
    }
}

/// `<hostname>-<pid>`.
pub fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "transcoder".into());
    format!("{host}-{}", std::process::id())
}

/// Pulls and runs jobs, [`PullConfig::slots`] at once, until the orchestrator refuses the token.
/// Connection errors are retried with a capped backoff, so a restarting orchestrator does not
/// stop its transcoders.
pub async fn run(
    config: PullConfig,
    transcoder: Arc<dyn Transcoder>,
) -> Result<(), TranscoderError> {
    let http = reqwest::Client::new();
    let slots = config.slots.max(1);
    metrics::capacity(&config.metrics, slots);
    let config = Arc::new(config);
    let mut loops = tokio::task::JoinSet::new();
    for _ in 0..slots {
        let (http, config, transcoder) =
            (http.clone(), Arc::clone(&config), Arc::clone(&transcoder));
        loops.spawn(async move { pull_loop(&http, &config, &transcoder).await });
    }
    // Each loop ends only when the token is refused; the others then stop too.
    let ended = loops.join_next().await;
    loops.abort_all();
    match ended {
        Some(Ok(result)) => result,
        Some(Err(e)) => Err(TranscoderError::BadJob(format!("pull loop panicked: {e}"))),
        None => Ok(()),
    }
}

async fn pull_loop(
    http: &reqwest::Client,
    config: &PullConfig,
    transcoder: &Arc<dyn Transcoder>,
) -> Result<(), TranscoderError> {
    let mut backoff = Duration::from_millis(200);
    loop {
        match pull_one(http, config, transcoder).await {
            Ok(_) => backoff = Duration::from_millis(200),
            Err(TranscoderError::Unauthorized) => return Err(TranscoderError::Unauthorized),
            Err(e) => {
                metrics::pull_error(&config.metrics);
                tracing::warn!(error = %e, "pulling work failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Takes at most one job (waiting up to `config.wait`) and answers it. Returns whether a job ran.
pub async fn pull_one(
    http: &reqwest::Client,
    config: &PullConfig,
    transcoder: &Arc<dyn Transcoder>,
) -> Result<bool, TranscoderError> {
    let url = format!(
        "{}/v1/transcoder/work?wait={}",
        config.orchestrator,
        config.wait.as_secs()
    );
    let mut pull = http
        .get(url)
        .bearer_auth(&config.token)
        .header(TRANSCODER_HEADER, &config.name)
        .header(TRANSCODER_SLOTS_HEADER, config.slots.max(1).to_string())
        .timeout(config.wait + Duration::from_secs(10));
    if let Some(pixels) = config.pixels_per_second {
        pull = pull.header(TRANSCODER_PIXELS_HEADER, pixels.to_string());
    }
    let reply = pull.send().await?;
    match reply.status().as_u16() {
        204 => return Ok(false),
        401 => return Err(TranscoderError::Unauthorized),
        _ => {}
    }
    let reply = reply.error_for_status()?;
    let meta: JobHeader = reply
        .headers()
        .get(JOB_HEADER)
        .ok_or_else(|| TranscoderError::BadJob("no job header".into()))
        .and_then(|h| {
            serde_json::from_slice(h.as_bytes()).map_err(|e| TranscoderError::BadJob(e.to_string()))
        })?;
    let in_flight = metrics::InFlight::start(&config.metrics);
    let segment = reply.bytes().await?.to_vec();
    let result_url = format!("{}/v1/transcoder/result/{}", config.orchestrator, meta.id);
    let job_secret = meta.secret.clone();
    let work = Arc::clone(transcoder);
    let started = Instant::now();
    let outcome = tokio::task::spawn_blocking(move || {
        encode(
            work.as_ref(),
            &meta.request.format,
            &meta.request.profiles,
            &segment,
        )
    })
    .await
    .unwrap_or_else(|e| Err(JobFailure::Failed(format!("transcoder task panicked: {e}"))));
    let label = match &outcome {
        Ok(_) => "transcoded",
        Err(JobFailure::BadSegment(_)) => "bad_segment",
        Err(JobFailure::Failed(_)) => "failed",
    };
    metrics::job_done(&config.metrics, label, started.elapsed().as_secs_f64());
    let post = http
        .post(result_url)
        .bearer_auth(&config.token)
        .header(JOB_SECRET_HEADER, job_secret);
    let response = match outcome {
        Ok(parts) => {
            let (content_type, body) = multipart::encode(&parts);
            post.header("content-type", content_type)
                .body(body)
                .send()
                .await?
        }
        Err(JobFailure::BadSegment(msg)) => {
            post.header(JOB_ERROR_HEADER, "bad_segment")
                .body(msg)
                .send()
                .await?
        }
        Err(JobFailure::Failed(msg)) => {
            post.header(JOB_ERROR_HEADER, "failed")
                .body(msg)
                .send()
                .await?
        }
    };
    drop(in_flight);
    if response.status().as_u16() == 410 {
        tracing::warn!("orchestrator no longer waited for the job (it timed out)");
    }
    Ok(true)
}

enum JobFailure {
    BadSegment(String),
    Failed(String),
}

/// Encodes the segment to every profile, a part each. Nothing is probed here (the orchestrator
/// charges the pixels it counted itself, and the broadcaster checks every rendition); each output
/// must be framed as its container throughout ([`peerflow_media::Container::frames`]).
fn encode(
    transcoder: &dyn Transcoder,
    format: &str,
    specs: &[ProfileSpec],
    segment: &[u8],
) -> Result<Vec<Part>, JobFailure> {
    let format = match format {
        "ts" => InputFormat::MpegTs,
        "mp4" => InputFormat::Mp4,
        other => {
            return Err(JobFailure::BadSegment(format!(
                "unsupported format {other}"
            )));
        }
    };
    let ladder = specs.iter().map(profile).collect::<Result<Vec<_>, _>>()?;
    let renditions = transcoder
        .transcode(segment, format, &ladder)
        .map_err(|e| {
            if e.is_bad_segment() {
                JobFailure::BadSegment(e.to_string())
            } else {
                JobFailure::Failed(e.to_string())
            }
        })?;
    renditions
        .into_iter()
        .map(|r| {
            // A cut or garbled output fails the job (its reservation is refunded) rather than
            // being signed, charged and then found out by the broadcaster.
            r.container
                .frames(&r.bytes)
                .map_err(|e| JobFailure::Failed(format!("our rendition {}: {e}", r.profile)))?;
            Ok(
                Part::new(r.container.mime_type(), r.bytes)
                    .with_header(RENDITION_HEADER, r.profile),
            )
        })
        .collect()
}

fn profile(spec: &ProfileSpec) -> Result<Profile, JobFailure> {
    let codec: VideoCodec = spec
        .codec
        .parse()
        .map_err(|_| JobFailure::BadSegment(format!("unsupported codec {}", spec.codec)))?;
    Ok(Profile::new(
        &spec.name,
        spec.width,
        spec.height,
        spec.bitrate_kbps,
        codec,
    ))
}
