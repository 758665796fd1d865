//! The CUDA kernel and the Rust mix function compute the same thing.
//!
//! Three checks: the Rust [`mix()`] against fixed vectors (computed once with an independent Python
//! transcription), [`KERNEL_SOURCE`] itself compiled as host C++ and run against [`mix()`] (where a
//! C++ compiler exists), and NVRTC compiling [`KERNEL_SOURCE`] (where libnvrtc exists).

use peerflow_gpu::{
    Challenge, KERNEL_NAME, KERNEL_SOURCE, compile_kernel, compute_cpu, mix, nvrtc_library_present,
};
use std::path::Path;
use std::process::Command;

fn key(seed: &[u8; 32]) -> [u64; 4] {
    Challenge::new(*seed, 1, 1).unwrap().key()
}

#[test]
fn rust_mix_matches_fixed_vectors() {
    let zero = key(&[0; 32]);
    let counting = key(&std::array::from_fn(|i| i as u8));
    let cases: [(&[u64; 4], u32, u32, u64); 14] = [
        (&zero, 0, 1, 0x0),
        (&zero, 1, 1, 0xfe9d26dff1a38bd6),
        (&zero, 2, 1, 0x5b2842d8b75dce4e),
        (&zero, 1000, 1, 0xcdbf4c0d49b7701c),
        (&counting, 0, 1, 0x4d129e6cda2f4752),
        (&counting, 1, 1, 0x1b9076fec0e54af3),
        (&counting, 7, 1, 0x2179618ba3d4b731),
        (&counting, 65535, 1, 0x6a45afa428c8ae22),
        (&counting, u32::MAX, 1, 0x0713d81bf7ff5006),
        (&counting, 0, 100, 0x7f38ccbdd7a8732c),
        (&counting, 1, 100, 0x30fa50acb786d607),
        (&counting, 7, 100, 0xbfd860ea6bbbef0e),
        (&counting, 65535, 100, 0x20136d75e61f0c20),
        (&counting, u32::MAX, 100, 0x31929374458f484a),
    ];
    for (key, index, rounds, expected) in cases {
        assert_eq!(
            mix(key, index, rounds),
            expected,
            "index {index}, rounds {rounds}"
        );
    }
}

/// Host-side stand-ins for CUDA's built-ins, then the kernel source verbatim, then a loop over
/// the grid that prints every output.
const HARNESS: &str = r#"
#include <cstdio>
#include <cstdlib>
struct Dim { unsigned int x; };
static Dim blockIdx, blockDim, threadIdx;
#define __global__
#include "kernel.cu"
int main(int argc, char **argv) {
    if (argc != 7) return 2;
    unsigned long long k[4];
    for (int i = 0; i < 4; ++i) k[i] = strtoull(argv[1 + i], 0, 16);
    unsigned int n = (unsigned int)strtoul(argv[5], 0, 10);
    unsigned int rounds = (unsigned int)strtoul(argv[6], 0, 10);
    unsigned long long *out = (unsigned long long *)calloc(n, sizeof(unsigned long long));
    blockDim.x = 256;
    for (unsigned int b = 0; b < (n + 255) / 256; ++b) {
        blockIdx.x = b;
        for (unsigned int t = 0; t < 256; ++t) {
            threadIdx.x = t;
            peerflow_mix(out, k[0], k[1], k[2], k[3], n, rounds);
        }
    }
    for (unsigned int i = 0; i < n; ++i) printf("%016llx\n", out[i]);
    free(out);
    return 0;
}
"#;

fn compiler() -> Option<String> {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_owned());
    let found = Command::new(&cxx)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    found.then_some(cxx)
}

fn build_harness(cxx: &str, dir: &Path) -> std::path::PathBuf {
    std::fs::write(dir.join("kernel.cu"), KERNEL_SOURCE).unwrap();
    std::fs::write(dir.join("harness.cpp"), HARNESS).unwrap();
    let binary = dir.join("harness");
    let out = Command::new(cxx)
        .current_dir(dir)
        .args(["-O1", "-Wall", "-o"])
        .arg(&binary)
        .arg("harness.cpp")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the kernel source does not compile as C++:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    binary
}

#[test]
fn kernel_source_run_on_the_host_matches_rust_mix() {
    let Some(cxx) = compiler() else {
        println!("skipped: no C++ compiler to run the kernel source on the host");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let binary = build_harness(&cxx, dir.path());
    let seed: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    // n not a multiple of the block: the kernel's bounds check is exercised.
    for (n, rounds) in [(3000u32, 37u32), (300, 1), (513, 256)] {
        let challenge = Challenge::new(seed, n, rounds).unwrap();
        let key = challenge.key();
        let out = Command::new(&binary)
            .args(key.iter().map(|k| format!("{k:x}")))
            .arg(n.to_string())
            .arg(rounds.to_string())
            .output()
            .unwrap();
        assert!(out.status.success());
        let kernel: Vec<u64> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|line| u64::from_str_radix(line, 16).unwrap())
            .collect();
        assert_eq!(kernel, compute_cpu(&challenge), "n={n} rounds={rounds}");
    }
}

#[test]
fn nvrtc_compiles_the_kernel_source() {
    assert!(KERNEL_SOURCE.contains(&format!("__global__ void {KERNEL_NAME}(")));
    if !nvrtc_library_present() {
        println!("skipped: NVRTC compile (libnvrtc not installed)");
        assert!(compile_kernel().is_err());
        return;
    }
    let ptx = compile_kernel().unwrap().to_src();
    assert!(ptx.contains(&format!(".entry {KERNEL_NAME}")), "{ptx}");
}
