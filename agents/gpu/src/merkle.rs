//! The Merkle tree over a challenge's outputs.
//!
//! Outputs are grouped in index order into leaves of [`LEAF_VALUES`] values (the last leaf may be
//! shorter). A leaf's hash is `sha256(0x00 || v0 || v1 || ...)` with each value as 8 little-endian
//! bytes; an inner node is `sha256(0x01 || left || right)`. The leaf level is padded to a power of
//! two with [`pad_hash`] (`sha256(0x02)`), so every path has the same length, `log2` of the padded
//! leaf count, and the tree's shape depends only on `n`.

use sha2::{Digest, Sha256};
use std::num::NonZeroUsize;
use std::thread;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// Outputs per leaf. An opening reveals (and the verifier recomputes) the whole leaf.
pub const LEAF_VALUES: usize = 16;

const LEAF_TAG: u8 = 0x00;
const NODE_TAG: u8 = 0x01;
const PAD_TAG: u8 = 0x02;

/// Below this many items a level is hashed on the calling thread.
const PARALLEL_MIN: usize = 4096;

/// The hash of a leaf holding `values` (at most [`LEAF_VALUES`] of them).
pub fn leaf_hash(values: &[u64]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_TAG]);
    for value in values {
        hasher.update(value.to_le_bytes());
    }
    hasher.finalize().into()
}

/// The hash of an inner node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([NODE_TAG]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The hash that fills the leaf level up to a power of two.
pub fn pad_hash() -> Hash {
    Sha256::digest([PAD_TAG]).into()
}

/// The number of leaves (before padding) for `n` outputs.
pub fn leaf_count(n: usize) -> usize {
    n.div_ceil(LEAF_VALUES)
}

/// The length of every authentication path for `n` outputs.
pub fn path_len(n: usize) -> usize {
    leaf_count(n).max(1).next_power_of_two().trailing_zeros() as usize
}

/// A Merkle tree kept whole in memory: `levels[0]` are the (padded) leaves, the last level the root.
///
/// For `n` outputs it holds about `2 * n / LEAF_VALUES` hashes, 64 MiB at `n = 2^24`.
#[derive(Debug, Clone)]
pub struct MerkleTree {
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// Builds the tree over `values`, hashing on all available cores.
    pub fn build(values: &[u64]) -> Self {
        let mut leaves = par_map(values.chunks(LEAF_VALUES).collect(), leaf_hash);
        let padded = leaves.len().max(1).next_power_of_two();
        leaves.resize(padded, pad_hash());
        let mut levels = vec![leaves];
        while let Some(level) = levels.last().filter(|level| level.len() > 1) {
            let pairs: Vec<&[Hash]> = level.chunks_exact(2).collect();
            let next = par_map(pairs, |pair| node_hash(&pair[0], &pair[1]));
            levels.push(next);
        }
        Self { levels }
    }

    /// The root.
    pub fn root(&self) -> Hash {
        self.levels.last().expect("a tree has at least one level")[0]
    }

    /// The sibling hashes from leaf `leaf` up to (not including) the root.
    pub fn path(&self, leaf: usize) -> Vec<Hash> {
        let mut position = leaf;
        let mut path = Vec::with_capacity(self.levels.len() - 1);
        for level in &self.levels[..self.levels.len() - 1] {
            path.push(level[position ^ 1]);
            position >>= 1;
        }
        path
    }
}

/// The root implied by a leaf hash at position `leaf` and its authentication path.
pub fn root_from_path(leaf_hash: Hash, leaf: usize, path: &[Hash]) -> Hash {
    let mut position = leaf;
    let mut hash = leaf_hash;
    for sibling in path {
        hash = if position & 1 == 0 {
            node_hash(&hash, sibling)
        } else {
            node_hash(sibling, &hash)
        };
        position >>= 1;
    }
    hash
}

/// `items.map(f)` in order, split over the available cores when there are many items.
fn par_map<T: Copy + Sync, F: Fn(T) -> Hash + Sync>(items: Vec<T>, f: F) -> Vec<Hash> {
    let threads = thread::available_parallelism().map_or(1, NonZeroUsize::get);
    if items.len() < PARALLEL_MIN || threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|&item| f(item)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("a hashing thread panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_depends_on_n() {
        assert_eq!(path_len(1), 0);
        assert_eq!(path_len(LEAF_VALUES), 0);
        assert_eq!(path_len(LEAF_VALUES + 1), 1);
        assert_eq!(path_len(3 * LEAF_VALUES), 2);
        assert_eq!(path_len(1 << 24), 20);
    }

    #[test]
    fn every_path_leads_to_the_root() {
        for n in [1usize, 15, 16, 17, 100, 16 * 5 + 3, 20_000] {
            let values: Vec<u64> = (0..n as u64)
                .map(|v| v.wrapping_mul(0x1234_5678_9abc))
                .collect();
            let tree = MerkleTree::build(&values);
            for (leaf, chunk) in values.chunks(LEAF_VALUES).enumerate() {
                let path = tree.path(leaf);
                assert_eq!(path.len(), path_len(n));
                assert_eq!(root_from_path(leaf_hash(chunk), leaf, &path), tree.root());
            }
        }
    }

    #[test]
    fn a_single_leaf_is_the_root() {
        let tree = MerkleTree::build(&[1, 2, 3]);
        assert_eq!(tree.root(), leaf_hash(&[1, 2, 3]));
    }

    #[test]
    fn parallel_and_serial_builds_agree() {
        // 70_000 leaves: the leaf level and the first inner levels take the threaded path.
        let values: Vec<u64> = (0..70_000 * LEAF_VALUES as u64).collect();
        let tree = MerkleTree::build(&values);
        let leaves: Vec<Hash> = values.chunks(LEAF_VALUES).map(leaf_hash).collect();
        let mut level = leaves;
        level.resize(level.len().next_power_of_two(), pad_hash());
        while level.len() > 1 {
            level = level
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
        }
        assert_eq!(tree.root(), level[0]);
    }

    #[test]
    fn a_wrong_sibling_or_position_changes_the_root() {
        let values: Vec<u64> = (0..16 * 8).collect();
        let tree = MerkleTree::build(&values);
        let leaf = leaf_hash(&values[16 * 3..16 * 4]);
        let mut path = tree.path(3);
        assert_eq!(root_from_path(leaf, 3, &path), tree.root());
        assert_ne!(root_from_path(leaf, 2, &path), tree.root());
        path[1][0] ^= 1;
        assert_ne!(root_from_path(leaf, 3, &path), tree.root());
    }
}
