//! peerflow's GPU side: find CUDA devices and prove that a provider really computes on one.
//!
//! - [`detect`] lists the CUDA devices (name, memory, compute capability, ordinal) and, on a
//!   machine without a GPU or without the CUDA libraries, says why in one line (`no GPU: ...`)
//!   instead of panicking.
//! - The capability proof: a buyer sends a fresh [`Challenge`]; the provider computes `n` outputs of
//!   an integer-only [`mix()`] function with a CUDA kernel ([`prove_gpu`], source in
//!   [`KERNEL_SOURCE`], compiled at run time by NVRTC), commits to them with a Merkle root, and
//!   opens the leaves the buyer samples afterwards ([`Proof::open`]). The buyer recomputes the
//!   opened values on its CPU ([`verify_requested`]) and accepts the GPU claim only if the whole
//!   output came back faster than a CPU could manage ([`check_timing`] against
//!   [`cpu_reference_time`]). [`prove_cpu`] is the same algorithm on the CPU: the honest baseline
//!   and the reference the GPU must match bit for bit. The protocol and the timing rule are
//!   described in [`proof`].

pub mod cuda;
pub mod merkle;
pub mod mix;
pub mod proof;

pub use cuda::{
    Detection, GpuError, GpuInfo, compile_kernel, detect, driver_library_present,
    nvrtc_library_present, prove_gpu, prove_gpu_on,
};
pub use merkle::{Hash, LEAF_VALUES};
pub use mix::{Challenge, ChallengeError, KERNEL_NAME, KERNEL_SOURCE, MAX_ELEMENTS, mix};
pub use proof::{
    DEFAULT_TIMING_FACTOR, Opening, Proof, VerifyError, check_timing, compute_cpu,
    cpu_reference_time, prove_cpu, sample_indices, sample_indices_from_seed, verify,
    verify_requested,
};
