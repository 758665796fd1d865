//! The GPU capability check over HTTP: a provider without a GPU says so, a CPU posing as a GPU is
//! too slow for the timing rule, wrong outputs fail the spot checks, and honest outputs pass when
//! the timing rule is met (a lenient factor stands in for a real GPU's speed here).

use std::sync::Arc;
use std::time::Instant;

use peerflow_gpu::{Challenge, DEFAULT_TIMING_FACTOR, Proof, VerifyError};
use peerflow_provider::gpu_api::{GpuCheckError, ProveFn, check_gpu, gpu_prover, routes};

async fn serve(prove: ProveFn) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, routes(prove)).await.unwrap() });
    url
}

fn cpu_prover() -> ProveFn {
    Arc::new(|c: &Challenge| peerflow_gpu::prove_cpu(c).map_err(|e| e.to_string()))
}

const N: u32 = 1 << 16;
const ROUNDS: u32 = 64;

#[tokio::test]
async fn a_provider_without_a_gpu_says_so() {
    if peerflow_gpu::detect().found() {
        println!("skipped: this machine has a GPU");
        return;
    }
    let url = serve(gpu_prover()).await;
    let err = check_gpu(&url, N, ROUNDS, 16, DEFAULT_TIMING_FACTOR)
        .await
        .unwrap_err();
    assert!(matches!(err, GpuCheckError::NoGpu(_)), "{err}");
}

#[tokio::test]
async fn a_cpu_posing_as_a_gpu_fails_the_timing_rule() {
    let url = serve(cpu_prover()).await;
    let err = check_gpu(&url, N, ROUNDS, 16, DEFAULT_TIMING_FACTOR)
        .await
        .unwrap_err();
    assert!(
        matches!(err, GpuCheckError::Rejected(VerifyError::TooSlow { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_outputs_fail_the_spot_checks() {
    // A prover that skips the work: every output is wrong, committed honestly to a tree.
    let lazy: ProveFn = Arc::new(|c: &Challenge| {
        let started = Instant::now();
        let outputs = (0..c.n).map(u64::from).collect();
        Proof::from_outputs(*c, outputs, started.elapsed()).map_err(|e| e.to_string())
    });
    let url = serve(lazy).await;
    let err = check_gpu(&url, N, ROUNDS, 16, 0.01).await.unwrap_err();
    assert!(
        matches!(err, GpuCheckError::Rejected(VerifyError::WrongValue { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn honest_outputs_pass_when_the_timing_rule_is_met() {
    let url = serve(cpu_prover()).await;
    let check = check_gpu(&url, N, ROUNDS, 16, 0.05).await.unwrap();
    assert_eq!(check.spot_checks, 16);
    assert!(check.round_trip < check.cpu_estimate * 20);
}
