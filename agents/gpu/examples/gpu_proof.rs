//! Detects GPUs and runs the capability proof, printing `name: value` lines.
//!
//! `cargo run --release -p peerflow-gpu --example gpu_proof -- [log2_n] [rounds]`
//! (defaults: 2^20 outputs, 64 rounds). Without a GPU it proves on the CPU only.

use peerflow_gpu::{
    Challenge, DEFAULT_TIMING_FACTOR, Detection, check_timing, cpu_reference_time, detect,
    prove_cpu, prove_gpu, sample_indices, verify_requested,
};
use std::process::ExitCode;
use std::time::Duration;

/// Openings the verifier asks for.
const OPENINGS: usize = 64;

fn ms(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1e3)
}

/// `1` or `0`.
fn flag(value: bool) -> u8 {
    u8::from(value)
}

fn arg(position: usize, default: u32) -> Result<u32, String> {
    match std::env::args().nth(position) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|e| format!("argument {position} ({text:?}): {e}")),
    }
}

fn run() -> Result<(), String> {
    let log2_n = arg(1, 20)?;
    let rounds = arg(2, 64)?;
    if log2_n > 26 {
        return Err(format!("log2_n {log2_n} is above 26"));
    }
    let detection = detect();
    match &detection {
        Detection::None(_) => {
            println!("gpu_detected: 0");
            println!("gpu_name: none");
        }
        Detection::Gpus(gpus) => {
            println!("gpu_detected: 1");
            println!("gpu_name: {}", gpus[0].name);
        }
    }
    println!("gpu_status: {detection}");

    let challenge = Challenge::random(1 << log2_n, rounds).map_err(|e| e.to_string())?;
    println!("proof_n: {}", challenge.n);
    println!("proof_rounds: {}", challenge.rounds);

    let cpu = prove_cpu(&challenge).map_err(|e| e.to_string())?;
    println!("cpu_prove_ms: {}", ms(cpu.elapsed()));
    let indices = sample_indices(challenge.n, OPENINGS).map_err(|e| e.to_string())?;
    let cpu_verified = verify_requested(&challenge, &cpu.root(), &indices, &cpu.open(&indices));
    println!("cpu_proof_verified: {}", flag(cpu_verified.is_ok()));
    let cpu_estimate = cpu_reference_time(&challenge);
    println!("cpu_one_core_estimate_ms: {}", ms(cpu_estimate));
    println!(
        "cpu_passes_timing: {}",
        flag(check_timing(cpu.elapsed(), cpu_estimate, DEFAULT_TIMING_FACTOR).is_ok())
    );
    cpu_verified.map_err(|e| format!("CPU proof rejected: {e}"))?;

    if detection.found() {
        let gpu = prove_gpu(&challenge).map_err(|e| e.to_string())?;
        let verified = verify_requested(&challenge, &gpu.root(), &indices, &gpu.open(&indices));
        println!("gpu_prove_ms: {}", ms(gpu.elapsed()));
        println!(
            "gpu_speedup: {:.1}",
            cpu.elapsed().as_secs_f64() / gpu.elapsed().as_secs_f64()
        );
        println!("gpu_root_matches_cpu: {}", flag(gpu.root() == cpu.root()));
        println!("gpu_proof_verified: {}", flag(verified.is_ok()));
        let timing = check_timing(gpu.elapsed(), cpu_estimate, DEFAULT_TIMING_FACTOR);
        println!("gpu_passes_timing: {}", flag(timing.is_ok()));
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
