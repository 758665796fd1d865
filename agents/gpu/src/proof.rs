//! Proofs of computation, their openings and the buyer's checks.
//!
//! The protocol, buyer (verifier) and provider (prover):
//! 1. The buyer sends a fresh [`Challenge`] (random seed, `n`, `rounds`) and starts a clock.
//! 2. The provider computes all `n` outputs (on its GPU: [`crate::prove_gpu`]), builds the Merkle
//!    tree ([`crate::merkle`]) and answers with the root. The buyer stops the clock.
//! 3. Only now does the buyer pick `k` random indices ([`sample_indices`]); the provider answers
//!    with their [`Opening`]s ([`Proof::open`]).
//! 4. The buyer checks each opening against the root and recomputes the opened leaf on its CPU
//!    ([`verify_requested`]); then it checks the time ([`check_timing`]).
//!
//! A provider that skipped a fraction `f` of the outputs (or computed them wrongly) is caught by
//! each sampled index with probability about `f`, so `k` openings miss it with probability
//! `(1 - f)^k`. A provider that computed everything on a CPU is caught by the clock: the rule is
//! **accept when `gpu_time < cpu_estimate / factor`**, where `cpu_estimate` is
//! [`cpu_reference_time`] (one core, measured on the buyer's machine) and `factor` must exceed the
//! speed-up of the best CPU machine a cheater could use over that core (its core count times a
//! margin); [`DEFAULT_TIMING_FACTOR`] is a starting point. Over a network the buyer should use its
//! own measured round-trip time, not the time the provider reports ([`Proof::elapsed`]).

use crate::merkle::{self, Hash, LEAF_VALUES, MerkleTree};
use crate::mix::{Challenge, ChallengeError, mix};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::num::NonZeroUsize;
use std::thread;
use std::time::{Duration, Instant};
use thiserror::Error;

/// A default for [`check_timing`]'s `factor`: a GPU must beat one CPU core 64-fold.
pub const DEFAULT_TIMING_FACTOR: f64 = 64.0;

/// Outputs [`cpu_reference_time`] computes to measure one core.
pub const CPU_SAMPLE_ELEMENTS: u32 = 4096;

/// A prover's answer: all outputs of a challenge, their Merkle tree, and how long it took.
#[derive(Debug, Clone)]
pub struct Proof {
    challenge: Challenge,
    outputs: Vec<u64>,
    tree: MerkleTree,
    elapsed: Duration,
}

/// One opened leaf: the values around `index` and the path from their leaf to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    /// The output index the verifier asked for.
    pub index: u32,
    /// All values of the leaf holding `index` (outputs `leaf * LEAF_VALUES ..`), in index order.
    pub leaf_values: Vec<u64>,
    /// Sibling hashes from the leaf up to the root.
    pub path: Vec<Hash>,
}

/// Why a buyer rejects a proof.
#[derive(Debug, Error, PartialEq)]
pub enum VerifyError {
    /// The challenge itself is malformed.
    #[error("invalid challenge: {0}")]
    Challenge(String),
    /// No openings were given, so nothing was checked.
    #[error("no openings to check")]
    NoOpenings,
    /// An opened index is not below the challenge's `n`.
    #[error("index {index} is outside the challenge's {n} elements")]
    IndexOutOfRange {
        /// The index.
        index: u32,
        /// The challenge's `n`.
        n: u32,
    },
    /// The openings do not answer exactly the indices asked for.
    #[error("openings answer indices {got:?}, {asked:?} were asked for")]
    WrongIndices {
        /// Asked for, sorted and deduplicated.
        asked: Vec<u32>,
        /// Answered, sorted and deduplicated.
        got: Vec<u32>,
    },
    /// The opened leaf does not hold as many values as the tree's shape requires.
    #[error("the leaf of index {index} holds {got} values, {expected} expected")]
    LeafLength {
        /// The opened index.
        index: u32,
        /// Values the leaf must hold.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// The authentication path does not have the tree's depth.
    #[error("the path of index {index} has {got} hashes, {expected} expected")]
    PathLength {
        /// The opened index.
        index: u32,
        /// The tree's depth.
        expected: usize,
        /// Hashes given.
        got: usize,
    },
    /// The leaf and path do not lead to the claimed root.
    #[error("the opening of index {index} does not lead to the root")]
    BadPath {
        /// The opened index.
        index: u32,
    },
    /// A value in the opened leaf is not the challenge's output.
    #[error("output {index} is {got:#018x}, the challenge gives {expected:#018x}")]
    WrongValue {
        /// The index of the wrong value (may be a neighbour of the one asked for).
        index: u32,
        /// The value recomputed on the CPU.
        expected: u64,
        /// The value opened.
        got: u64,
    },
    /// The prover was not fast enough to rule out a CPU.
    #[error("took {elapsed:?}, a GPU claim needs under {bound:?} (CPU estimate / {factor})")]
    TooSlow {
        /// The prover's time.
        elapsed: Duration,
        /// `cpu_estimate / factor`.
        bound: Duration,
        /// The factor used.
        factor: f64,
    },
}

impl Proof {
    /// A proof over `outputs` already computed for `challenge` (by whatever means), building the
    /// Merkle tree. `elapsed` is the time spent computing the outputs; the tree's build time is
    /// added to it.
    pub fn from_outputs(
        challenge: Challenge,
        outputs: Vec<u64>,
        elapsed: Duration,
    ) -> Result<Self, ChallengeError> {
        challenge.validate()?;
        if outputs.len() != challenge.n as usize {
            return Err(ChallengeError::OutputCount {
                n: challenge.n,
                got: outputs.len(),
            });
        }
        let started = Instant::now();
        let tree = MerkleTree::build(&outputs);
        Ok(Self {
            challenge,
            outputs,
            tree,
            elapsed: elapsed + started.elapsed(),
        })
    }

    /// The challenge answered.
    pub fn challenge(&self) -> &Challenge {
        &self.challenge
    }

    /// The Merkle root, the prover's commitment to all outputs.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// The prover's own time for the outputs and the tree (set-up such as compiling excluded).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// All outputs, in index order.
    pub fn outputs(&self) -> &[u64] {
        &self.outputs
    }

    /// Openings for `indices`, in the order given. Indices not below `n` are skipped (the
    /// verifier then rejects the answer as not covering what it asked).
    pub fn open(&self, indices: &[u32]) -> Vec<Opening> {
        indices
            .iter()
            .filter(|&&index| index < self.challenge.n)
            .map(|&index| {
                let leaf = index as usize / LEAF_VALUES;
                let start = leaf * LEAF_VALUES;
                let end = (start + LEAF_VALUES).min(self.outputs.len());
                Opening {
                    index,
                    leaf_values: self.outputs[start..end].to_vec(),
                    path: self.tree.path(leaf),
                }
            })
            .collect()
    }
}

/// Computes every output of `challenge` on the CPU, on all cores.
pub fn compute_cpu(challenge: &Challenge) -> Vec<u64> {
    let key = challenge.key();
    let rounds = challenge.rounds;
    let n = challenge.n as usize;
    let mut outputs = vec![0u64; n];
    let threads = thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let chunk = n.div_ceil(threads).max(1024);
    thread::scope(|scope| {
        for (part, slice) in outputs.chunks_mut(chunk).enumerate() {
            let first = part * chunk;
            scope.spawn(move || {
                for (offset, out) in slice.iter_mut().enumerate() {
                    *out = mix(&key, (first + offset) as u32, rounds);
                }
            });
        }
    });
    outputs
}

/// The honest CPU prover: [`compute_cpu`] then the Merkle tree. The baseline a GPU must beat,
/// and the reference [`crate::prove_gpu`] must agree with.
pub fn prove_cpu(challenge: &Challenge) -> Result<Proof, ChallengeError> {
    challenge.validate()?;
    let started = Instant::now();
    let outputs = compute_cpu(challenge);
    let elapsed = started.elapsed();
    let proof = Proof::from_outputs(*challenge, outputs, elapsed)?;
    tracing::debug!(n = challenge.n, rounds = challenge.rounds, elapsed = ?proof.elapsed(), "CPU proof");
    Ok(proof)
}

/// Checks openings against `root`: each opening's path must lead to the root and every value of
/// the opened leaf must equal the output recomputed on the CPU.
pub fn verify(challenge: &Challenge, root: &Hash, openings: &[Opening]) -> Result<(), VerifyError> {
    challenge
        .validate()
        .map_err(|e| VerifyError::Challenge(e.to_string()))?;
    if openings.is_empty() {
        return Err(VerifyError::NoOpenings);
    }
    let n = challenge.n as usize;
    let depth = merkle::path_len(n);
    let key = challenge.key();
    for opening in openings {
        let index = opening.index;
        if index >= challenge.n {
            return Err(VerifyError::IndexOutOfRange {
                index,
                n: challenge.n,
            });
        }
        let leaf = index as usize / LEAF_VALUES;
        let start = leaf * LEAF_VALUES;
        let expected_len = (n - start).min(LEAF_VALUES);
        if opening.leaf_values.len() != expected_len {
            return Err(VerifyError::LeafLength {
                index,
                expected: expected_len,
                got: opening.leaf_values.len(),
            });
        }
        if opening.path.len() != depth {
            return Err(VerifyError::PathLength {
                index,
                expected: depth,
                got: opening.path.len(),
            });
        }
        let implied =
            merkle::root_from_path(merkle::leaf_hash(&opening.leaf_values), leaf, &opening.path);
        if implied != *root {
            return Err(VerifyError::BadPath { index });
        }
        // The value asked for first, then its neighbours in the leaf.
        let asked = index as usize - start;
        let order = std::iter::once(asked).chain((0..expected_len).filter(|&i| i != asked));
        for offset in order {
            let at = (start + offset) as u32;
            let expected = mix(&key, at, challenge.rounds);
            let got = opening.leaf_values[offset];
            if got != expected {
                return Err(VerifyError::WrongValue {
                    index: at,
                    expected,
                    got,
                });
            }
        }
    }
    Ok(())
}

/// [`verify`], after checking that the openings answer exactly the (deduplicated) `indices` the
/// verifier asked for, so a prover cannot choose which leaves to show.
pub fn verify_requested(
    challenge: &Challenge,
    root: &Hash,
    indices: &[u32],
    openings: &[Opening],
) -> Result<(), VerifyError> {
    let asked: BTreeSet<u32> = indices.iter().copied().collect();
    let got: BTreeSet<u32> = openings.iter().map(|o| o.index).collect();
    if asked != got {
        return Err(VerifyError::WrongIndices {
            asked: asked.into_iter().collect(),
            got: got.into_iter().collect(),
        });
    }
    verify(challenge, root, openings)
}

/// Estimates how long one CPU core takes to prove `challenge` (outputs and leaf hashes): measures
/// [`CPU_SAMPLE_ELEMENTS`] outputs (fewer if `n` is smaller) and scales linearly to `n`.
///
/// Run it on the verifier's machine, in a release build; the estimate is for one core, so the
/// `factor` of [`check_timing`] must cover the cores of a cheating CPU prover.
pub fn cpu_reference_time(challenge: &Challenge) -> Duration {
    let sample = challenge.n.clamp(1, CPU_SAMPLE_ELEMENTS);
    let key = challenge.key();
    let started = Instant::now();
    let values: Vec<u64> = (0..sample)
        .map(|i| mix(&key, std::hint::black_box(i), challenge.rounds))
        .collect();
    for leaf in values.chunks(LEAF_VALUES) {
        std::hint::black_box(merkle::leaf_hash(leaf));
    }
    let measured = started.elapsed();
    let estimate = measured.mul_f64(f64::from(challenge.n) / f64::from(sample));
    tracing::debug!(sample, ?measured, ?estimate, "CPU reference time");
    estimate
}

/// The timing rule: accept when `elapsed < cpu_estimate / factor`.
pub fn check_timing(
    elapsed: Duration,
    cpu_estimate: Duration,
    factor: f64,
) -> Result<(), VerifyError> {
    let bound = cpu_estimate.div_f64(factor.max(f64::MIN_POSITIVE));
    if elapsed < bound {
        Ok(())
    } else {
        Err(VerifyError::TooSlow {
            elapsed,
            bound,
            factor,
        })
    }
}

/// `k` distinct indices below `n` (all of them if `k >= n`), drawn from the operating system's
/// random source. Call it after the root is known.
pub fn sample_indices(n: u32, k: usize) -> Result<Vec<u32>, ChallengeError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(ChallengeError::Entropy)?;
    Ok(sample_indices_from_seed(n, k, &seed))
}

/// `k` distinct indices below `n` (all of them if `k >= n`) derived from `seed` with SHA-256 in
/// counter mode, in the order drawn. Deterministic, for tests and for a verifier that wants to
/// derive its sample from a public beacon.
pub fn sample_indices_from_seed(n: u32, k: usize, seed: &[u8; 32]) -> Vec<u32> {
    if n == 0 {
        return Vec::new();
    }
    if k >= n as usize {
        return (0..n).collect();
    }
    let mut chosen = BTreeSet::new();
    let mut order = Vec::with_capacity(k);
    let mut counter = 0u64;
    while order.len() < k {
        let digest = Sha256::new()
            .chain_update(seed)
            .chain_update(counter.to_le_bytes())
            .finalize();
        counter += 1;
        for word in digest.chunks_exact(8) {
            let mut le = [0u8; 8];
            le.copy_from_slice(word);
            // u64 modulo n < 2^27: the bias is below 2^-37.
            let index = (u64::from_le_bytes(le) % u64::from(n)) as u32;
            if order.len() < k && chosen.insert(index) {
                order.push(index);
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(n: u32) -> Challenge {
        Challenge::new([3; 32], n, 4).unwrap()
    }

    #[test]
    fn cpu_outputs_are_the_mix() {
        let c = challenge(5000);
        let outputs = compute_cpu(&c);
        assert_eq!(outputs.len(), 5000);
        for i in [0u32, 1, 1023, 1024, 2500, 4999] {
            assert_eq!(outputs[i as usize], c.output(i));
        }
    }

    #[test]
    fn from_outputs_checks_the_count() {
        let c = challenge(10);
        assert!(matches!(
            Proof::from_outputs(c, vec![0; 9], Duration::ZERO),
            Err(ChallengeError::OutputCount { n: 10, got: 9 })
        ));
    }

    #[test]
    fn openings_of_the_last_short_leaf_verify() {
        let c = challenge(LEAF_VALUES as u32 * 3 + 5);
        let proof = prove_cpu(&c).unwrap();
        let openings = proof.open(&[c.n - 1, c.n - 5]);
        assert_eq!(openings[0].leaf_values.len(), 5);
        verify(&c, &proof.root(), &openings).unwrap();
    }

    #[test]
    fn shape_errors_are_reported() {
        let c = challenge(100);
        let proof = prove_cpu(&c).unwrap();
        let root = proof.root();
        let good = proof.open(&[40]).remove(0);

        let mut short = good.clone();
        short.leaf_values.pop();
        assert!(matches!(
            verify(&c, &root, &[short]),
            Err(VerifyError::LeafLength { index: 40, .. })
        ));
        let mut long_path = good.clone();
        long_path.path.push([0; 32]);
        assert!(matches!(
            verify(&c, &root, &[long_path]),
            Err(VerifyError::PathLength { index: 40, .. })
        ));
        let mut outside = good.clone();
        outside.index = 100;
        assert_eq!(
            verify(&c, &root, &[outside]),
            Err(VerifyError::IndexOutOfRange { index: 100, n: 100 })
        );
        assert_eq!(verify(&c, &root, &[]), Err(VerifyError::NoOpenings));
        // An opening relabelled to another leaf's index no longer leads to the root.
        let mut moved = good;
        moved.index = 40 + LEAF_VALUES as u32;
        assert_eq!(
            verify(&c, &root, &[moved]),
            Err(VerifyError::BadPath { index: 56 })
        );
    }

    #[test]
    fn sampled_indices_are_distinct_and_in_range() {
        let indices = sample_indices_from_seed(1000, 50, &[9; 32]);
        assert_eq!(indices.len(), 50);
        assert!(indices.iter().all(|&i| i < 1000));
        let distinct: BTreeSet<_> = indices.iter().collect();
        assert_eq!(distinct.len(), 50);
        assert_eq!(indices, sample_indices_from_seed(1000, 50, &[9; 32]));
        assert_ne!(indices, sample_indices_from_seed(1000, 50, &[8; 32]));
        assert_eq!(sample_indices_from_seed(4, 10, &[9; 32]), vec![0, 1, 2, 3]);
        assert_eq!(sample_indices(1000, 20).unwrap().len(), 20);
    }

    #[test]
    fn timing_rule() {
        let cpu = Duration::from_secs(64);
        assert!(check_timing(Duration::from_millis(999), cpu, 64.0).is_ok());
        assert!(matches!(
            check_timing(Duration::from_secs(1), cpu, 64.0),
            Err(VerifyError::TooSlow { .. })
        ));
    }

    #[test]
    fn cpu_reference_time_scales_with_n() {
        let small = Challenge::new([1; 32], CPU_SAMPLE_ELEMENTS, 64).unwrap();
        let large = Challenge::new([1; 32], CPU_SAMPLE_ELEMENTS * 1024, 64).unwrap();
        let t_small = cpu_reference_time(&small);
        let t_large = cpu_reference_time(&large);
        assert!(t_small > Duration::ZERO);
        // Same sample, extrapolated 1024-fold; allow for noise between the two measurements.
        assert!(t_large > t_small * 100, "{t_small:?} vs {t_large:?}");
    }
}
