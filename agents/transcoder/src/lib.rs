//! A transcoder: it pulls work from its orchestrator (so it can sit behind NAT), encodes every
//! requested profile with its [`peerflow_media::Transcoder`], measures the output pixels of each
//! rendition from the rendition itself, and posts the renditions back.

use std::sync::Arc;
use std::time::Duration;

use peerflow_media::{InputFormat, Profile, Transcoder, VideoCodec, probe_bytes};
use peerflow_orchestrator::http::{JOB_ERROR_HEADER, JOB_HEADER, JobHeader, PIXELS_HEADER};
use peerflow_protocol::api::{ProfileSpec, RENDITION_HEADER};
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
}

/// Pulls and runs jobs until the orchestrator refuses the token. Connection errors are retried
/// with a capped backoff, so a restarting orchestrator does not stop its transcoders.
pub async fn run(
    config: PullConfig,
    transcoder: Arc<dyn Transcoder>,
) -> Result<(), TranscoderError> {
    let http = reqwest::Client::new();
    let mut backoff = Duration::from_millis(200);
    loop {
        match pull_one(&http, &config, &transcoder).await {
            Ok(_) => backoff = Duration::from_millis(200),
            Err(TranscoderError::Unauthorized) => return Err(TranscoderError::Unauthorized),
            Err(e) => {
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
    let reply = http
        .get(url)
        .bearer_auth(&config.token)
        .timeout(config.wait + Duration::from_secs(10))
        .send()
        .await?;
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
    let segment = reply.bytes().await?.to_vec();
    let result_url = format!("{}/v1/transcoder/result/{}", config.orchestrator, meta.id);
    let work = Arc::clone(transcoder);
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
    let post = http.post(result_url).bearer_auth(&config.token);
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
    if response.status().as_u16() == 410 {
        tracing::warn!("orchestrator no longer waited for the job (it timed out)");
    }
    Ok(true)
}

enum JobFailure {
    BadSegment(String),
    Failed(String),
}

/// Encodes the segment to every profile; each part carries its output pixels (frames × w × h).
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
            let info = probe_bytes(&r.bytes)
                .map_err(|e| JobFailure::Failed(format!("probing our own output: {e}")))?;
            let pixels = info.frames * u64::from(info.width) * u64::from(info.height);
            Ok(Part::new(r.container.mime_type(), r.bytes)
                .with_header(RENDITION_HEADER, r.profile)
                .with_header(PIXELS_HEADER, pixels.to_string()))
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
