//! The GPU capability proof over HTTP. A buyer (or anyone) checks that a provider really has the
//! GPU it advertises: it sends a fresh random challenge (`POST /v1/gpu/prove`), the provider runs
//! the seeded NVRTC kernel over every element and answers with the Merkle root of the outputs; the
//! buyer then asks for openings at indices it picks only now (`POST /v1/gpu/open`), recomputes
//! those outputs on its CPU, checks the paths to the root, and accepts only if its own measured
//! round trip for the whole output beats its CPU estimate by a factor no CPU can reach.
//! A provider without a GPU answers `503 {"code": "no_gpu"}`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use peerflow_gpu::{Challenge, Hash, Opening, Proof, VerifyError};
use serde::{Deserialize, Serialize};

/// Makes the proof for a challenge (the GPU in production; tests plug in others).
pub type ProveFn = Arc<dyn Fn(&Challenge) -> Result<Proof, String> + Send + Sync>;

/// The production prover: the first GPU, or `Err` when there is none.
pub fn gpu_prover() -> ProveFn {
    Arc::new(|c: &Challenge| peerflow_gpu::prove_gpu(c).map_err(|e| e.to_string()))
}

/// A challenge on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProveRequest {
    /// 32 bytes, hex.
    pub seed: String,
    pub n: u32,
    pub rounds: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProveResponse {
    /// Merkle root of the outputs, hex.
    pub root: String,
    /// The provider's own timing (informative; the buyer times the round trip itself).
    pub elapsed_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenRequest {
    pub seed: String,
    pub indices: Vec<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpeningMsg {
    pub index: u32,
    pub leaf_values: Vec<u64>,
    /// Sibling hashes from the leaf up, hex.
    pub path: Vec<String>,
}

/// Proofs kept for their openings (the most recent few).
const KEPT: usize = 4;

/// Recent proofs by challenge seed.
type KeptProofs = Arc<Mutex<VecDeque<([u8; 32], Proof)>>>;

#[derive(Clone)]
struct GpuState {
    prove: ProveFn,
    proofs: KeptProofs,
}

/// The routes, proving with `prove`.
pub fn routes(prove: ProveFn) -> Router {
    Router::new()
        .route("/v1/gpu/prove", post(prove_handler))
        .route("/v1/gpu/open", post(open_handler))
        .with_state(GpuState {
            prove,
            proofs: Arc::new(Mutex::new(VecDeque::new())),
        })
}

fn err(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({"code": code, "message": message.into()});
    (status, axum::Json(body)).into_response()
}

fn seed(hex_seed: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_seed, &mut out).ok()?;
    Some(out)
}

async fn prove_handler(
    State(s): State<GpuState>,
    axum::Json(req): axum::Json<ProveRequest>,
) -> Response {
    let Some(seed) = seed(&req.seed) else {
        return err(
            StatusCode::BAD_REQUEST,
            "bad_seed",
            "seed must be 32 bytes of hex",
        );
    };
    let challenge = match Challenge::new(seed, req.n, req.rounds) {
        Ok(c) => c,
        Err(e) => return err(StatusCode::BAD_REQUEST, "bad_challenge", e.to_string()),
    };
    let prove = Arc::clone(&s.prove);
    let proof = match tokio::task::spawn_blocking(move || prove(&challenge)).await {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return err(StatusCode::SERVICE_UNAVAILABLE, "no_gpu", e),
        Err(e) => {
            return err(
                StatusCode::INTERNAL_SERVER_ERROR,
                "prover_failed",
                e.to_string(),
            );
        }
    };
    let resp = ProveResponse {
        root: hex::encode(proof.root()),
        elapsed_ms: proof.elapsed().as_secs_f64() * 1e3,
    };
    let mut kept = s.proofs.lock().expect("proofs lock");
    kept.push_back((seed, proof));
    while kept.len() > KEPT {
        kept.pop_front();
    }
    axum::Json(resp).into_response()
}

async fn open_handler(
    State(s): State<GpuState>,
    axum::Json(req): axum::Json<OpenRequest>,
) -> Response {
    let Some(seed) = seed(&req.seed) else {
        return err(
            StatusCode::BAD_REQUEST,
            "bad_seed",
            "seed must be 32 bytes of hex",
        );
    };
    let kept = s.proofs.lock().expect("proofs lock");
    let Some((_, proof)) = kept.iter().find(|(s, _)| *s == seed) else {
        return err(
            StatusCode::NOT_FOUND,
            "unknown_challenge",
            "prove this seed first",
        );
    };
    if req.indices.iter().any(|&i| i >= proof.challenge().n) || req.indices.len() > 1024 {
        return err(
            StatusCode::BAD_REQUEST,
            "bad_indices",
            "at most 1024 indices below n",
        );
    }
    let openings: Vec<OpeningMsg> = proof
        .open(&req.indices)
        .into_iter()
        .map(|o| OpeningMsg {
            index: o.index,
            leaf_values: o.leaf_values,
            path: o.path.iter().map(hex::encode).collect(),
        })
        .collect();
    axum::Json(openings).into_response()
}

/// Why a GPU check failed.
#[derive(Debug, thiserror::Error)]
pub enum GpuCheckError {
    #[error("the provider has no GPU: {0}")]
    NoGpu(String),
    #[error("http: {0}")]
    Http(String),
    #[error("malformed reply: {0}")]
    Malformed(String),
    #[error("proof rejected: {0}")]
    Rejected(#[from] VerifyError),
}

/// A passed check.
#[derive(Debug, Clone)]
pub struct GpuCheck {
    pub root: Hash,
    /// The buyer-measured time from sending the challenge to receiving the root.
    pub round_trip: Duration,
    /// One CPU core's estimated time for the same work, measured here.
    pub cpu_estimate: Duration,
    pub spot_checks: usize,
}

/// Checks the provider at `url`: challenge of `n` elements × `rounds`, `k` spot checks, and the
/// timing rule with `factor` ([`peerflow_gpu::DEFAULT_TIMING_FACTOR`] in production).
pub async fn check_gpu(
    url: &str,
    n: u32,
    rounds: u32,
    k: usize,
    factor: f64,
) -> Result<GpuCheck, GpuCheckError> {
    let challenge =
        Challenge::random(n, rounds).map_err(|e| GpuCheckError::Malformed(e.to_string()))?;
    let http = reqwest::Client::new();
    let base = url.trim_end_matches('/');
    let req = ProveRequest {
        seed: hex::encode(challenge.seed),
        n,
        rounds,
    };
    let started = Instant::now();
    let resp = http
        .post(format!("{base}/v1/gpu/prove"))
        .json(&req)
        .send()
        .await
        .map_err(|e| GpuCheckError::Http(e.to_string()))?;
    let round_trip = started.elapsed();
    if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        return Err(GpuCheckError::NoGpu(
            body["message"].as_str().unwrap_or("").to_owned(),
        ));
    }
    if !resp.status().is_success() {
        return Err(GpuCheckError::Http(format!("prove: {}", resp.status())));
    }
    let proved: ProveResponse = resp
        .json()
        .await
        .map_err(|e| GpuCheckError::Malformed(e.to_string()))?;
    let mut root: Hash = [0; 32];
    hex::decode_to_slice(&proved.root, &mut root)
        .map_err(|e| GpuCheckError::Malformed(format!("root: {e}")))?;
    // Indices are drawn only now that the root is committed.
    let indices =
        peerflow_gpu::sample_indices(n, k).map_err(|e| GpuCheckError::Malformed(e.to_string()))?;
    let openings: Vec<OpeningMsg> = http
        .post(format!("{base}/v1/gpu/open"))
        .json(&OpenRequest {
            seed: req.seed.clone(),
            indices: indices.clone(),
        })
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| GpuCheckError::Http(e.to_string()))?
        .json()
        .await
        .map_err(|e| GpuCheckError::Malformed(e.to_string()))?;
    let openings = openings
        .into_iter()
        .map(|o| {
            let path = o
                .path
                .iter()
                .map(|h| {
                    let mut out = [0u8; 32];
                    hex::decode_to_slice(h, &mut out).map(|_| out)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| GpuCheckError::Malformed(format!("path: {e}")))?;
            Ok(Opening {
                index: o.index,
                leaf_values: o.leaf_values,
                path,
            })
        })
        .collect::<Result<Vec<_>, GpuCheckError>>()?;
    peerflow_gpu::verify_requested(&challenge, &root, &indices, &openings)?;
    let cpu_estimate =
        tokio::task::spawn_blocking(move || peerflow_gpu::cpu_reference_time(&challenge))
            .await
            .map_err(|e| GpuCheckError::Malformed(e.to_string()))?;
    peerflow_gpu::check_timing(round_trip, cpu_estimate, factor)?;
    Ok(GpuCheck {
        root,
        round_trip,
        cpu_estimate,
        spot_checks: indices.len(),
    })
}
