//! Detection, and the GPU prover against the CPU prover.
//!
//! Tests named `gpu_*` need a CUDA GPU: where [`detect`] finds none they print
//! `skipped: no GPU (<reason>)` and pass.

use peerflow_gpu::{
    Challenge, DEFAULT_TIMING_FACTOR, Detection, GpuError, check_timing, cpu_reference_time,
    detect, driver_library_present, prove_cpu, prove_gpu, sample_indices, verify_requested,
};

/// The GPUs, or `None` after printing why the calling test is skipped.
fn gpus_or_skip() -> Option<Detection> {
    let detection = detect();
    match &detection {
        Detection::None(reason) => {
            println!("skipped: no GPU ({reason})");
            None
        }
        Detection::Gpus(_) => Some(detection),
    }
}

#[test]
fn detection_answers_without_panicking() {
    let detection = detect();
    println!("{detection}");
    match &detection {
        Detection::None(reason) => {
            assert!(!reason.is_empty());
            assert!(detection.to_string().starts_with("no GPU: "));
            assert!(detection.gpus().is_empty());
            if !driver_library_present() {
                assert!(reason.contains("libcuda"), "{reason}");
            }
        }
        Detection::Gpus(gpus) => {
            assert!(!gpus.is_empty());
            for (i, gpu) in gpus.iter().enumerate() {
                assert_eq!(gpu.ordinal, i);
                assert!(!gpu.name.is_empty());
                assert!(gpu.total_memory > 0);
                assert!(gpu.compute_capability.0 >= 3);
            }
        }
    }
    // Asking twice is fine and gives the same answer.
    assert_eq!(detect(), detection);
}

#[test]
fn prove_gpu_without_a_gpu_is_an_error_not_a_panic() {
    let challenge = Challenge::new([5; 32], 1024, 4).unwrap();
    if detect().found() {
        return; // covered by gpu_proof_equals_cpu_proof
    }
    match prove_gpu(&challenge) {
        Err(GpuError::Unavailable(reason)) => println!("prove_gpu: no GPU: {reason}"),
        Err(other) => println!("prove_gpu failed cleanly: {other}"),
        Ok(_) => panic!("prove_gpu succeeded although detect() found no GPU"),
    }
}

#[test]
fn gpu_proof_equals_cpu_proof() {
    if gpus_or_skip().is_none() {
        return;
    }
    // Covers several blocks and a partial last block.
    let challenge = Challenge::new([0x5a; 32], (1 << 20) + 123, 64).unwrap();
    let gpu = prove_gpu(&challenge).unwrap();
    let cpu = prove_cpu(&challenge).unwrap();
    assert_eq!(gpu.outputs(), cpu.outputs());
    assert_eq!(gpu.root(), cpu.root());
    let indices = sample_indices(challenge.n, 128).unwrap();
    verify_requested(&challenge, &gpu.root(), &indices, &gpu.open(&indices)).unwrap();
}

#[test]
fn gpu_beats_the_cpu_estimate() {
    let Some(detection) = gpus_or_skip() else {
        return;
    };
    let challenge = Challenge::random(1 << 24, 1024).unwrap();
    let cpu_estimate = cpu_reference_time(&challenge);
    let proof = prove_gpu(&challenge).unwrap();
    println!(
        "{}: gpu {:?}, one CPU core (estimate) {:?}, speed-up {:.0}x",
        detection.gpus()[0].name,
        proof.elapsed(),
        cpu_estimate,
        cpu_estimate.as_secs_f64() / proof.elapsed().as_secs_f64()
    );
    check_timing(proof.elapsed(), cpu_estimate, DEFAULT_TIMING_FACTOR).unwrap();
    let indices = sample_indices(challenge.n, 64).unwrap();
    verify_requested(&challenge, &proof.root(), &indices, &proof.open(&indices)).unwrap();
}
