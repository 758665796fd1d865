//! Per-resource prices, fitted to the network's reference price list.
//!
//! The network agrees on a price for each of a few [`CANONICAL_WORKLOADS`]: fixed amounts of
//! work (a shell loop of fixed length, holding a fixed amount of memory, writing a fixed
//! number of bytes). A provider runs them on its own machine ([`calibrate`]), meters them, and
//! fits per-resource [`Rates`] by least squares, so that its quotes for the canonical work
//! match the agreed prices whatever its hardware: a faster CPU burns fewer CPU-seconds for the
//! same loop, so it earns more per CPU-second.
//!
//! With `X` the workloads × features matrix (CPU-seconds, memory MiB·s, I/O MiB) and `p` the
//! agreed prices, the rates are `pinv(X) · p` ([`crate::linalg::pinv`]). Prices cannot be
//! negative, so neither can a rate: when the unconstrained solution has a negative rate, that
//! rate is fixed at zero and the others are fitted again without its feature (repeated until
//! none is negative; an active-set non-negative least squares for this small problem). Fixed
//! features are listed in [`Fit::zeroed`].

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::info;

use crate::error::RunnerError;
use crate::linalg::{Matrix, lstsq, mul_vec, rank};
use crate::logs::DiscardLogs;
use crate::meter::Usage;
use crate::run::Runner;
use crate::spec::{Limits, RunSpec};
use crate::testimage::busybox_image;

/// One wei-denominated unit of the network token is 10⁻¹⁸ token.
pub const WEI_PER_TOKEN: u128 = 1_000_000_000_000_000_000;

/// A workload of the reference price list: a busybox `sh -c` script and its agreed price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Short name.
    pub name: &'static str,
    /// The script, run by busybox `sh -c` with the [`calibration_limits`].
    pub script: &'static str,
    /// The agreed price, in wei of the network token.
    pub price_wei: u128,
}

/// The network's reference price list. Prices are in wei (10⁻¹⁸ token) and were set as
/// 10¹⁵ wei per CPU-second + 2·10¹² wei per MiB·s of memory + 4·10¹³ wei per MiB of storage
/// I/O applied to the usage metered on the reference machine (2 vCPU KVM guest, kernel 6.18,
/// cgroup v1), rounded to three digits; they are constants of the network, not recomputed.
///
/// The I/O workloads do their I/O first (or idle briefly after it): on cgroup v1 I/O is only
/// seen by samples taken while the job runs (see [`crate::meter`]), so I/O in a job's last
/// [`CALIBRATION_INTERVAL`] would make the reference measurement depend on timing.
pub const CANONICAL_WORKLOADS: &[Workload] = &[
    Workload {
        name: "cpu-spin",
        script: "i=0; while [ $i -lt 800000 ]; do i=$((i+1)); done",
        price_wei: 850_000_000_000_000,
    },
    Workload {
        name: "memory-hold",
        script: "head -c 200m /dev/zero | tail -c 200m | { sleep 2; cat >/dev/null; }",
        price_wei: 1_950_000_000_000_000,
    },
    Workload {
        name: "io-write",
        script: "dd if=/dev/zero of=/tmp/io bs=1M count=256 conv=fsync 2>/dev/null; sleep 0.5",
        price_wei: 11_450_000_000_000_000,
    },
    Workload {
        name: "cpu-io",
        script: "dd if=/dev/zero of=/tmp/io bs=1M count=128 conv=fsync 2>/dev/null; \
                 i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done",
        price_wei: 5_860_000_000_000_000,
    },
    Workload {
        name: "memory-cpu",
        script: "head -c 100m /dev/zero | tail -c 100m | \
                 { i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done; cat >/dev/null; }",
        price_wei: 1_530_000_000_000_000,
    },
];

/// Names of the features, in the order of [`features`] and of the columns of `X`.
pub const FEATURES: [&str; 3] = ["cpu_seconds", "memory_mb_seconds", "io_mb"];

/// The feature vector of a usage: CPU-seconds, memory MiB·s, I/O MiB (read + written).
pub fn features(usage: &Usage) -> [f64; 3] {
    [usage.cpu_seconds, usage.memory_mb_seconds, usage.io_mb()]
}

/// The limits canonical workloads run with.
pub fn calibration_limits() -> Limits {
    Limits {
        milli_cpus: 1000,
        memory_bytes: 768 << 20,
        pids: 64,
        timeout: Duration::from_secs(120),
        // Calibration measures block I/O, which a tmpfs-backed disk would hide.
        disk_bytes: None,
    }
}

/// How often calibration samples (short, so that little I/O escapes the last sample).
pub const CALIBRATION_INTERVAL: Duration = Duration::from_millis(100);

/// Prices per unit of each resource, in wei.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Wei per CPU-second.
    pub per_cpu_second: f64,
    /// Wei per MiB of memory held for one second.
    pub per_memory_mb_second: f64,
    /// Wei per MiB read or written to storage.
    pub per_io_mb: f64,
}

impl Rates {
    /// The rates as a vector in [`FEATURES`] order.
    pub fn as_array(&self) -> [f64; 3] {
        [
            self.per_cpu_second,
            self.per_memory_mb_second,
            self.per_io_mb,
        ]
    }

    fn from_slice(x: &[f64]) -> Rates {
        Rates {
            per_cpu_second: x[0],
            per_memory_mb_second: x[1],
            per_io_mb: x[2],
        }
    }

    /// The price of a usage in wei: `rates · features(usage)`, rounded, never negative.
    pub fn quote(&self, usage: &Usage) -> u128 {
        let price: f64 = self
            .as_array()
            .iter()
            .zip(features(usage))
            .map(|(r, f)| r * f)
            .sum();
        if price.is_finite() && price > 0.0 {
            price.round() as u128
        } else {
            0
        }
    }
}

/// Fitted rates and how well they explain the prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    /// The rates.
    pub rates: Rates,
    /// Agreed minus fitted price, per workload, in wei.
    pub residuals: Vec<f64>,
    /// Coefficient of determination, `1 − SS_res / SS_tot` (1 is a perfect fit).
    pub r_squared: f64,
    /// Numerical rank of the feature matrix.
    pub rank: usize,
    /// Features whose rate was fixed at zero by the non-negativity constraint.
    pub zeroed: Vec<String>,
}

/// Fits non-negative rates to `prices` given the features `x` (one row per workload).
pub fn fit(x: &[[f64; 3]], prices: &[f64]) -> Result<Fit, RunnerError> {
    if x.len() != prices.len() || x.len() < FEATURES.len() {
        return Err(RunnerError::Calibration(format!(
            "need at least {} workloads with one price each, got {} rows and {} prices",
            FEATURES.len(),
            x.len(),
            prices.len()
        )));
    }
    if x.iter().flatten().chain(prices).any(|v| !v.is_finite()) {
        return Err(RunnerError::Calibration("non-finite measurement".into()));
    }
    let full: Matrix = x.iter().map(|r| r.to_vec()).collect();
    let mut active: Vec<usize> = (0..FEATURES.len()).collect();
    let rates = loop {
        let sub: Matrix = x
            .iter()
            .map(|r| active.iter().map(|&j| r[j]).collect())
            .collect();
        let sol = if active.is_empty() {
            Vec::new()
        } else {
            lstsq(&sub, prices)
        };
        let mut rates = [0.0; 3];
        for (&j, &v) in active.iter().zip(&sol) {
            rates[j] = v;
        }
        // Drop the most negative rate and fit again.
        let worst = active
            .iter()
            .zip(&sol)
            .filter(|(_, v)| **v < 0.0)
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(&j, _)| j);
        match worst {
            Some(j) => active.retain(|&k| k != j),
            None => break rates,
        }
    };
    let fitted = mul_vec(&full, &rates);
    let residuals: Vec<f64> = prices.iter().zip(&fitted).map(|(p, f)| p - f).collect();
    let mean = prices.iter().sum::<f64>() / prices.len() as f64;
    let ss_res: f64 = residuals.iter().map(|r| r * r).sum();
    let ss_tot: f64 = prices.iter().map(|p| (p - mean) * (p - mean)).sum();
    let r_squared = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else if ss_res == 0.0 {
        1.0
    } else {
        0.0
    };
    let zeroed = (0..FEATURES.len())
        .filter(|j| !active.contains(j))
        .map(|j| FEATURES[j].to_string())
        .collect();
    Ok(Fit {
        rates: Rates::from_slice(&rates),
        residuals,
        r_squared,
        rank: rank(&full),
        zeroed,
    })
}

/// The result of [`calibrate`]: the fit and what each workload measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    /// The fitted rates and fit quality.
    pub fit: Fit,
    /// Workload name and its metered usage, in [`CANONICAL_WORKLOADS`] order.
    pub measurements: Vec<(String, Usage)>,
}

/// Runs every canonical workload in the busybox test image (sampling every
/// [`CALIBRATION_INTERVAL`]), meters it and fits the rates.
pub async fn calibrate(runner: &Runner) -> Result<Calibration, RunnerError> {
    let image = busybox_image(runner.engine()).await?;
    let runner = runner.clone().with_sample_interval(CALIBRATION_INTERVAL);
    let mut measurements = Vec::new();
    for (i, w) in CANONICAL_WORKLOADS.iter().enumerate() {
        let mut spec = RunSpec::shell(&image, w.script);
        spec.limits = calibration_limits();
        let label = format!("calibrate-{}-{}-{i}", w.name, std::process::id());
        let outcome = runner.run(&spec, &label, &mut DiscardLogs, None).await?;
        if outcome.exit_code != 0 || outcome.timed_out || outcome.oom_killed {
            return Err(RunnerError::Calibration(format!(
                "workload {} failed: exit {}, timed out {}, oom {}",
                w.name, outcome.exit_code, outcome.timed_out, outcome.oom_killed
            )));
        }
        info!(workload = w.name, usage = ?outcome.usage, "calibration workload metered");
        measurements.push((w.name.to_string(), outcome.usage));
    }
    let x: Vec<[f64; 3]> = measurements.iter().map(|(_, u)| features(u)).collect();
    let prices: Vec<f64> = CANONICAL_WORKLOADS
        .iter()
        .map(|w| w.price_wei as f64)
        .collect();
    let fit = fit(&x, &prices)?;
    info!(rates = ?fit.rates, r_squared = fit.r_squared, "calibrated");
    Ok(Calibration { fit, measurements })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_prices_are_recovered() {
        let truth = [1e15, 2e12, 4e13];
        let x = [
            [1.0, 5.0, 0.0],
            [1.2, 450.0, 0.0],
            [0.2, 300.0, 256.0],
            [0.6, 150.0, 128.0],
            [0.8, 120.0, 0.0],
        ];
        let prices: Vec<f64> = x
            .iter()
            .map(|r| r.iter().zip(truth).map(|(a, b)| a * b).sum())
            .collect();
        let f = fit(&x, &prices).unwrap();
        for (got, want) in f.rates.as_array().iter().zip(truth) {
            assert!((got - want).abs() / want < 1e-9, "{got} vs {want}");
        }
        assert!(f.r_squared > 0.999_999);
        assert_eq!(f.rank, 3);
        assert!(f.zeroed.is_empty());
        let usage = Usage {
            cpu_seconds: 2.0,
            memory_mb_seconds: 100.0,
            io_read_bytes: 1 << 20,
            io_write_bytes: 1 << 20,
            ..Default::default()
        };
        assert_eq!(
            f.rates.quote(&usage),
            2_000_000_000_000_000 + 200_000_000_000_000 + 80_000_000_000_000
        );
    }

    #[test]
    fn negative_rates_are_clamped_and_refitted() {
        // Prices fall with the third feature: unconstrained least squares gives it a negative
        // rate; the constrained fit zeroes it and refits the others.
        let x = [
            [1.0, 0.0, 1.0],
            [0.0, 1.0, 0.0],
            [1.0, 1.0, 2.0],
            [2.0, 0.0, 3.0],
        ];
        let prices = [1.0, 1.0, 1.5, 1.6];
        let unconstrained = lstsq(&x.iter().map(|r| r.to_vec()).collect(), &prices);
        assert!(unconstrained[2] < 0.0, "{unconstrained:?}");
        let f = fit(&x, &prices).unwrap();
        assert_eq!(f.zeroed, vec!["io_mb".to_string()]);
        assert_eq!(f.rates.per_io_mb, 0.0);
        assert!(f.rates.per_cpu_second > 0.0 && f.rates.per_memory_mb_second > 0.0);
        assert!(f.r_squared < 1.0);
    }

    #[test]
    fn too_few_workloads_is_an_error() {
        assert!(fit(&[[1.0, 0.0, 0.0]], &[1.0]).is_err());
        assert!(fit(&[[1.0, 0.0, 0.0]; 3], &[1.0, 2.0]).is_err());
    }

    #[test]
    fn the_price_list_is_overdetermined() {
        assert!(CANONICAL_WORKLOADS.len() > FEATURES.len());
        assert!(CANONICAL_WORKLOADS.iter().all(|w| w.price_wei > 0));
    }

    #[test]
    fn quotes_round_and_never_go_negative() {
        let r = Rates {
            per_cpu_second: 1.4,
            per_memory_mb_second: 0.0,
            per_io_mb: 0.0,
        };
        let u = Usage {
            cpu_seconds: 1.0,
            ..Default::default()
        };
        assert_eq!(r.quote(&u), 1);
        let neg = Rates {
            per_cpu_second: -5.0,
            ..r
        };
        assert_eq!(neg.quote(&u), 0);
    }
}
