//! What a provider commits: the result manifest (its hash is the escrow's `resultHash`, which
//! replicas compare) and the usage record behind its charge (its hash is the `usageHash`).

use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};

use crate::Digest;

/// One output file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Path relative to the output directory, `/`-separated.
    pub path: String,
    pub sha256: Digest,
    pub size: u64,
}

/// A job's result: everything a deterministic job produces, and nothing that differs between
/// honest replicas (no timings, no logs, no provider identity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultManifest {
    /// The spec this is a result of.
    pub spec: Digest,
    pub exit_code: i64,
    /// Output files, sorted by path.
    pub files: Vec<ManifestFile>,
}

impl ResultManifest {
    /// A manifest over `files` (sorted here).
    pub fn new(spec: Digest, exit_code: i64, mut files: Vec<ManifestFile>) -> Self {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Self {
            spec,
            exit_code,
            files,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest serializes")
    }

    /// The escrow's `resultHash`.
    pub fn digest(&self) -> Digest {
        Digest::of(&self.to_bytes())
    }

    /// The file at `path`.
    pub fn file(&self, path: &str) -> Option<&ManifestFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// Per-resource prices, in token wei per unit, as the provider derived them from its calibration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateCard {
    pub per_cpu_second: f64,
    pub per_memory_mb_second: f64,
    pub per_io_mb: f64,
}

/// Metered usage of one run.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct MeteredUsage {
    pub cpu_seconds: f64,
    pub memory_mb_seconds: f64,
    pub io_mb: f64,
    pub peak_memory_bytes: u64,
    pub wall_seconds: f64,
    /// Samples the meter took.
    pub samples: u32,
}

impl RateCard {
    /// All rates zero: the provider charges the slot's whole price.
    pub fn is_unpriced(&self) -> bool {
        self.per_cpu_second == 0.0 && self.per_memory_mb_second == 0.0 && self.per_io_mb == 0.0
    }

    /// price = rates · usage, in wei, rounded down.
    pub fn quote(&self, u: &MeteredUsage) -> U256 {
        let wei = self.per_cpu_second * u.cpu_seconds
            + self.per_memory_mb_second * u.memory_mb_seconds
            + self.per_io_mb * u.io_mb;
        if wei.is_finite() && wei > 0.0 {
            U256::from(wei.min(u128::MAX as f64) as u128)
        } else {
            U256::ZERO
        }
    }
}

/// What backs a charge: the provider's rates, the usage it metered, the quote and the charge it
/// committed (the quote capped at the slot's price).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub job_id: u64,
    pub provider: Address,
    pub rates: RateCard,
    pub usage: MeteredUsage,
    pub quote: U256,
    pub charge: U256,
}

impl UsageRecord {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a usage record serializes")
    }

    /// The escrow's `usageHash`.
    pub fn digest(&self) -> Digest {
        Digest::of(&self.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_is_order_independent() {
        let f = |p: &str| ManifestFile {
            path: p.into(),
            sha256: Digest::of(p.as_bytes()),
            size: 1,
        };
        let spec = Digest::of(b"spec");
        let a = ResultManifest::new(spec, 0, vec![f("b"), f("a")]);
        let b = ResultManifest::new(spec, 0, vec![f("a"), f("b")]);
        assert_eq!(a.digest(), b.digest());
        assert_ne!(
            a.digest(),
            ResultManifest::new(spec, 1, vec![f("a"), f("b")]).digest()
        );
        assert_eq!(a.file("b").unwrap().path, "b");
    }

    #[test]
    fn quote_is_rates_dot_usage() {
        let rates = RateCard {
            per_cpu_second: 1e15,
            per_memory_mb_second: 1e12,
            per_io_mb: 1e13,
        };
        let usage = MeteredUsage {
            cpu_seconds: 2.0,
            memory_mb_seconds: 100.0,
            io_mb: 10.0,
            ..Default::default()
        };
        assert_eq!(
            rates.quote(&usage),
            U256::from(2_000_000_000_000_000u128 + 100_000_000_000_000 + 100_000_000_000_000)
        );
        assert_eq!(rates.quote(&MeteredUsage::default()), U256::ZERO);
    }
}
