//! The challenge and the integer mix function, in Rust and in CUDA C.
//!
//! [`mix()`] is the reference: output `i` of a challenge is `mix(challenge.key(), i, rounds)`.
//! [`KERNEL_SOURCE`] is the same function written as a CUDA kernel, compiled at run time with
//! NVRTC by [`crate::prove_gpu`]. Both use only wrapping 32- and 64-bit integer operations
//! (add, multiply, xor, shifts, rotates), so a GPU and a CPU produce identical outputs bit for bit.
//! A change to either side must be made to both; the crate's tests pin fixed vectors and, where
//! a C++ compiler exists, run the kernel source on the CPU against [`mix()`].

use thiserror::Error;

/// The largest number of outputs a challenge may ask for (2^26; 512 MiB of `u64` outputs).
pub const MAX_ELEMENTS: u32 = 1 << 26;

/// The kernel's entry point in [`KERNEL_SOURCE`].
pub const KERNEL_NAME: &str = "peerflow_mix";

/// The CUDA C source of the mix kernel: one thread per output index.
///
/// Arguments: `out` (n × u64), the four key words `k0..k3`, `n`, `rounds`. It must stay the exact
/// transcription of [`mix()`].
pub const KERNEL_SOURCE: &str = r#"
extern "C" __global__ void peerflow_mix(
    unsigned long long *out,
    unsigned long long k0,
    unsigned long long k1,
    unsigned long long k2,
    unsigned long long k3,
    unsigned int n,
    unsigned int rounds)
{
    unsigned int index = blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= n) {
        return;
    }
    unsigned long long i = (unsigned long long)index;
    unsigned long long x = k0 ^ (i * 0x9E3779B97F4A7C15ULL);
    unsigned long long y = k1 + i;
    for (unsigned int r = 0; r < rounds; ++r) {
        x += k2 ^ (unsigned long long)r;
        x ^= x >> 30;
        x *= 0xBF58476D1CE4E5B9ULL;
        x ^= x >> 27;
        x *= 0x94D049BB133111EBULL;
        x ^= x >> 31;
        unsigned long long t = y ^ x;
        y = ((t << 23) | (t >> 41)) + k3;
        unsigned int lo = (((unsigned int)y) * 0x9E3779B1u) ^ ((unsigned int)(x >> 32));
        x ^= (unsigned long long)lo;
    }
    out[index] = x ^ y;
}
"#;

/// The four 64-bit key words a challenge's seed expands to (little-endian words of the seed).
pub type Key = [u64; 4];

/// Output `index` of the challenge with key `key`, after `rounds` rounds.
///
/// Each round is a splitmix64-style finaliser on `x`, a rotate-add on `y`, and a 32-bit
/// multiply folded back into `x`; everything wraps. This is the reference [`KERNEL_SOURCE`]
/// must match.
#[inline]
pub fn mix(key: &Key, index: u32, rounds: u32) -> u64 {
    let i = u64::from(index);
    let mut x = key[0] ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut y = key[1].wrapping_add(i);
    for r in 0..rounds {
        x = x.wrapping_add(key[2] ^ u64::from(r));
        x ^= x >> 30;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 27;
        x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
        y = (y ^ x).rotate_left(23).wrapping_add(key[3]);
        let lo = (y as u32).wrapping_mul(0x9E37_79B1) ^ ((x >> 32) as u32);
        x ^= u64::from(lo);
    }
    x ^ y
}

/// Why a challenge is not acceptable.
#[derive(Debug, Error)]
pub enum ChallengeError {
    /// A challenge must ask for at least one output.
    #[error("a challenge needs at least one element")]
    NoElements,
    /// The challenge asks for more outputs than [`MAX_ELEMENTS`].
    #[error("a challenge of {n} elements exceeds the maximum of {max}")]
    TooManyElements {
        /// Elements asked for.
        n: u32,
        /// [`MAX_ELEMENTS`].
        max: u32,
    },
    /// A challenge must run at least one round.
    #[error("a challenge needs at least one round")]
    NoRounds,
    /// A proof's outputs do not number the challenge's `n`.
    #[error("{got} outputs given for a challenge of {n} elements")]
    OutputCount {
        /// The challenge's `n`.
        n: u32,
        /// Outputs given.
        got: usize,
    },
    /// The operating system's random source failed.
    #[error("no randomness for a challenge seed: {0}")]
    Entropy(getrandom::Error),
}

/// What a buyer asks a provider to compute: outputs `mix(key(seed), i, rounds)` for `i < n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Challenge {
    /// The random seed, fresh for each challenge so no output can be precomputed.
    pub seed: [u8; 32],
    /// The number of outputs, `1..=MAX_ELEMENTS`.
    pub n: u32,
    /// Rounds of [`mix()`] per output, at least 1; the work per output grows linearly with it.
    pub rounds: u32,
}

impl Challenge {
    /// A challenge with the given seed, checked with [`Challenge::validate`].
    pub fn new(seed: [u8; 32], n: u32, rounds: u32) -> Result<Self, ChallengeError> {
        let challenge = Self { seed, n, rounds };
        challenge.validate()?;
        Ok(challenge)
    }

    /// A challenge with a seed from the operating system's random source.
    pub fn random(n: u32, rounds: u32) -> Result<Self, ChallengeError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(ChallengeError::Entropy)?;
        Self::new(seed, n, rounds)
    }

    /// Checks `1 <= n <= MAX_ELEMENTS` and `rounds >= 1`.
    pub fn validate(&self) -> Result<(), ChallengeError> {
        if self.n == 0 {
            return Err(ChallengeError::NoElements);
        }
        if self.n > MAX_ELEMENTS {
            return Err(ChallengeError::TooManyElements {
                n: self.n,
                max: MAX_ELEMENTS,
            });
        }
        if self.rounds == 0 {
            return Err(ChallengeError::NoRounds);
        }
        Ok(())
    }

    /// The seed's four little-endian 64-bit words, the key of [`mix()`] and of the kernel.
    pub fn key(&self) -> Key {
        let mut key = [0u64; 4];
        for (word, bytes) in key.iter_mut().zip(self.seed.chunks_exact(8)) {
            let mut le = [0u8; 8];
            le.copy_from_slice(bytes);
            *word = u64::from_le_bytes(le);
        }
        key
    }

    /// Output `index` of this challenge, computed on the CPU.
    pub fn output(&self, index: u32) -> u64 {
        mix(&self.key(), index, self.rounds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_little_endian_words_of_the_seed() {
        let mut seed = [0u8; 32];
        seed[0] = 1;
        seed[8] = 2;
        seed[23] = 0x80;
        seed[31] = 0xff;
        let challenge = Challenge::new(seed, 1, 1).unwrap();
        assert_eq!(
            challenge.key(),
            [1, 2, 0x8000_0000_0000_0000, 0xff00_0000_0000_0000]
        );
    }

    #[test]
    fn invalid_challenges_are_refused() {
        assert!(matches!(
            Challenge::new([0; 32], 0, 1),
            Err(ChallengeError::NoElements)
        ));
        assert!(matches!(
            Challenge::new([0; 32], MAX_ELEMENTS + 1, 1),
            Err(ChallengeError::TooManyElements { .. })
        ));
        assert!(matches!(
            Challenge::new([0; 32], 1, 0),
            Err(ChallengeError::NoRounds)
        ));
        assert!(Challenge::new([0; 32], MAX_ELEMENTS, 1).is_ok());
    }

    #[test]
    fn random_challenges_differ() {
        let a = Challenge::random(16, 1).unwrap();
        let b = Challenge::random(16, 1).unwrap();
        assert_ne!(a.seed, b.seed);
    }

    #[test]
    fn rounds_and_seed_change_outputs() {
        let a = Challenge::new([7; 32], 8, 3).unwrap();
        let b = Challenge::new([7; 32], 8, 4).unwrap();
        let mut seed = [7; 32];
        seed[31] ^= 1;
        let c = Challenge::new(seed, 8, 3).unwrap();
        for i in 0..8 {
            assert_ne!(a.output(i), b.output(i));
            assert_ne!(a.output(i), c.output(i));
        }
        assert_ne!(a.output(0), a.output(1));
    }
}
