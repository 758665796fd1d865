//! CUDA: finding GPUs and running the proof kernel on one.
//!
//! cudarc loads `libcuda` and `libnvrtc` at run time and panics on the first call when a library
//! is missing. Every entry point here first probes for the library (`is_culib_present`) and then
//! runs the driver calls inside [`std::panic::catch_unwind`], so on a machine without a GPU the
//! answer is an error or [`Detection::None`], never a panic.

use crate::mix::{Challenge, ChallengeError, KERNEL_NAME, KERNEL_SOURCE};
use crate::proof::Proof;
use cudarc::driver::{CudaContext, LaunchConfig, PushKernelArg};
use cudarc::nvrtc::Ptx;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;
use thiserror::Error;

/// Threads per block of the proof kernel.
const BLOCK_THREADS: u32 = 256;

/// One CUDA device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuInfo {
    /// The device ordinal (`CUDA_VISIBLE_DEVICES` order).
    pub ordinal: usize,
    /// The device's name, e.g. "NVIDIA H100 80GB HBM3".
    pub name: String,
    /// Total device memory in bytes.
    pub total_memory: u64,
    /// Compute capability (major, minor), e.g. (9, 0).
    pub compute_capability: (u32, u32),
}

impl fmt::Display for GpuInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (major, minor) = self.compute_capability;
        write!(
            f,
            "#{} {} (sm_{major}{minor}, {:.1} GiB)",
            self.ordinal,
            self.name,
            self.total_memory as f64 / f64::from(1u32 << 30)
        )
    }
}

/// What [`detect`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detection {
    /// No usable GPU, and why (library missing, no device, driver error).
    None(String),
    /// The usable GPUs, at least one.
    Gpus(Vec<GpuInfo>),
}

impl Detection {
    /// The GPUs found (empty for [`Detection::None`]).
    pub fn gpus(&self) -> &[GpuInfo] {
        match self {
            Detection::None(_) => &[],
            Detection::Gpus(gpus) => gpus,
        }
    }

    /// Whether at least one GPU was found.
    pub fn found(&self) -> bool {
        matches!(self, Detection::Gpus(_))
    }
}

impl fmt::Display for Detection {
    /// `no GPU: <why>` or `<k> GPU(s): #0 <name> (sm_XY, M GiB), ...`, one line for logs and CLIs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Detection::None(reason) => write!(f, "no GPU: {reason}"),
            Detection::Gpus(gpus) => {
                write!(f, "{} GPU(s): ", gpus.len())?;
                for (i, gpu) in gpus.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{gpu}")?;
                }
                Ok(())
            }
        }
    }
}

/// Errors of the GPU path.
#[derive(Debug, Error)]
pub enum GpuError {
    /// No usable GPU (or no CUDA driver / NVRTC library).
    #[error("no GPU: {0}")]
    Unavailable(String),
    /// A CUDA driver call failed.
    #[error("CUDA driver: {0}")]
    Driver(#[from] cudarc::driver::DriverError),
    /// NVRTC could not compile the kernel.
    #[error("NVRTC: {0}")]
    Compile(#[from] cudarc::nvrtc::CompileError),
    /// The challenge is malformed.
    #[error(transparent)]
    Challenge(#[from] ChallengeError),
    /// The CUDA library panicked (typically a missing symbol); caught, not propagated.
    #[error("CUDA library panicked: {0}")]
    Panicked(String),
}

/// Runs `f`, turning a panic into [`GpuError::Panicked`] with the panic's message.
///
/// The default panic hook still prints the message to stderr; the process goes on.
pub(crate) fn guarded<T>(f: impl FnOnce() -> Result<T, GpuError>) -> Result<T, GpuError> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(GpuError::Panicked(message))
        }
    }
}

/// Whether the CUDA driver library (`libcuda`) can be loaded.
pub fn driver_library_present() -> bool {
    // SAFETY: only tries to dlopen the library by its usual names and drops the handle.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// Whether the NVRTC library (`libnvrtc`) can be loaded.
pub fn nvrtc_library_present() -> bool {
    // SAFETY: only tries to dlopen the library by its usual names and drops the handle.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Finds the CUDA devices. Never panics: without a driver library, a device or a working driver
/// the answer is [`Detection::None`] with the reason.
pub fn detect() -> Detection {
    if !driver_library_present() {
        return Detection::None("the CUDA driver library (libcuda) is not installed".to_owned());
    }
    let count = match guarded(|| Ok(CudaContext::device_count()?)) {
        Ok(count) => count,
        Err(e) => return Detection::None(format!("the CUDA driver failed to start: {e}")),
    };
    if count <= 0 {
        return Detection::None("the CUDA driver reports no devices".to_owned());
    }
    let mut gpus = Vec::new();
    let mut first_error = None;
    for ordinal in 0..count as usize {
        match guarded(|| device_info(ordinal)) {
            Ok(info) => gpus.push(info),
            Err(e) => {
                tracing::warn!(ordinal, error = %e, "CUDA device unusable");
                first_error.get_or_insert(format!("device {ordinal}: {e}"));
            }
        }
    }
    if gpus.is_empty() {
        let reason = first_error.unwrap_or_else(|| "no usable device".to_owned());
        return Detection::None(format!("{count} CUDA device(s), none usable ({reason})"));
    }
    Detection::Gpus(gpus)
}

fn device_info(ordinal: usize) -> Result<GpuInfo, GpuError> {
    let ctx = CudaContext::new(ordinal)?;
    let (major, minor) = ctx.compute_capability()?;
    Ok(GpuInfo {
        ordinal,
        name: ctx.name()?,
        total_memory: ctx.total_mem()? as u64,
        compute_capability: (major.max(0) as u32, minor.max(0) as u32),
    })
}

/// Compiles [`KERNEL_SOURCE`] to PTX with NVRTC (no GPU needed, only `libnvrtc`).
pub fn compile_kernel() -> Result<Ptx, GpuError> {
    if !nvrtc_library_present() {
        return Err(GpuError::Unavailable(
            "the NVRTC library (libnvrtc) is not installed".to_owned(),
        ));
    }
    guarded(|| Ok(cudarc::nvrtc::compile_ptx(KERNEL_SOURCE)?))
}

/// Proves `challenge` on GPU 0: compiles the kernel, computes all outputs on the device, copies
/// them back and builds the Merkle tree on the CPU.
///
/// [`Proof::elapsed`] covers the kernel, the copy back and the tree; context creation and
/// compilation are set-up that a provider would do before the challenge arrives. The outputs
/// equal [`crate::prove_cpu`]'s bit for bit.
pub fn prove_gpu(challenge: &Challenge) -> Result<Proof, GpuError> {
    prove_gpu_on(0, challenge)
}

/// [`prove_gpu`] on the device with ordinal `ordinal`.
pub fn prove_gpu_on(ordinal: usize, challenge: &Challenge) -> Result<Proof, GpuError> {
    challenge.validate()?;
    if !driver_library_present() {
        return Err(GpuError::Unavailable(
            "the CUDA driver library (libcuda) is not installed".to_owned(),
        ));
    }
    let ptx = compile_kernel()?;
    guarded(|| {
        let setup = Instant::now();
        let ctx = CudaContext::new(ordinal)?;
        let stream = ctx.default_stream();
        let module = ctx.load_module(ptx)?;
        let kernel = module.load_function(KERNEL_NAME)?;
        let mut out = stream.alloc_zeros::<u64>(challenge.n as usize)?;
        stream.synchronize()?;
        tracing::debug!(ordinal, setup = ?setup.elapsed(), "GPU ready");

        let [k0, k1, k2, k3] = challenge.key();
        let n = challenge.n;
        let rounds = challenge.rounds;
        let config = LaunchConfig {
            grid_dim: (n.div_ceil(BLOCK_THREADS), 1, 1),
            block_dim: (BLOCK_THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        let started = Instant::now();
        let mut launch = stream.launch_builder(&kernel);
        launch
            .arg(&mut out)
            .arg(&k0)
            .arg(&k1)
            .arg(&k2)
            .arg(&k3)
            .arg(&n)
            .arg(&rounds);
        // SAFETY: the arguments match the kernel's signature in KERNEL_SOURCE (one device
        // pointer to n u64, four u64, two u32) and the grid covers n threads that each write
        // only out[index] for index < n.
        unsafe { launch.launch(config) }?;
        let outputs = stream.clone_dtoh(&out)?;
        let compute = started.elapsed();
        tracing::debug!(n, rounds, ?compute, "GPU outputs computed");
        Ok(Proof::from_outputs(*challenge, outputs, compute)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarded_turns_a_library_panic_into_an_error() {
        let result: Result<(), GpuError> =
            guarded(|| panic!("Unable to dynamically load the \"cuda\" shared library"));
        match result {
            Err(GpuError::Panicked(message)) => assert!(message.contains("cuda"), "{message}"),
            other => panic!("expected Panicked, got {other:?}"),
        }
        let ok: Result<u32, GpuError> = guarded(|| Ok(7));
        assert_eq!(ok.unwrap(), 7);
    }

    #[test]
    fn detection_displays_one_line() {
        let none = Detection::None("the CUDA driver library (libcuda) is not installed".into());
        assert_eq!(
            none.to_string(),
            "no GPU: the CUDA driver library (libcuda) is not installed"
        );
        assert!(!none.found());
        assert!(none.gpus().is_empty());
        let gpus = Detection::Gpus(vec![GpuInfo {
            ordinal: 0,
            name: "NVIDIA H100 80GB HBM3".into(),
            total_memory: 80 << 30,
            compute_capability: (9, 0),
        }]);
        assert_eq!(
            gpus.to_string(),
            "1 GPU(s): #0 NVIDIA H100 80GB HBM3 (sm_90, 80.0 GiB)"
        );
        assert!(gpus.found());
    }
}
