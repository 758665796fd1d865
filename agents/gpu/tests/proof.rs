//! The capability proof on the CPU: honest proofs are accepted, tampered ones are rejected.

use peerflow_gpu::{
    Challenge, LEAF_VALUES, Proof, VerifyError, prove_cpu, sample_indices_from_seed, verify,
    verify_requested,
};
use std::time::Duration;

fn seed(byte: u8) -> [u8; 32] {
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = byte.wrapping_add(i as u8);
    }
    seed
}

fn challenge() -> Challenge {
    Challenge::new(seed(0x40), 5000, 8).unwrap()
}

#[test]
fn an_honest_cpu_proof_is_accepted() {
    let c = challenge();
    let proof = prove_cpu(&c).unwrap();
    assert_eq!(proof.outputs().len(), 5000);
    let indices = sample_indices_from_seed(c.n, 64, &seed(1));
    let openings = proof.open(&indices);
    assert_eq!(openings.len(), 64);
    verify_requested(&c, &proof.root(), &indices, &openings).unwrap();
    // Every index, including the first and the last (short) leaf.
    let all: Vec<u32> = (0..c.n).collect();
    verify(&c, &proof.root(), &proof.open(&all)).unwrap();
}

#[test]
fn one_altered_output_is_caught_at_its_index_only() {
    let c = challenge();
    let honest = prove_cpu(&c).unwrap();
    let bad_index = 1234u32;
    let mut outputs = honest.outputs().to_vec();
    outputs[bad_index as usize] ^= 1 << 17;
    // A cheating prover commits to the altered outputs: its tree is consistent, its value is not.
    let cheat = Proof::from_outputs(c, outputs, Duration::ZERO).unwrap();
    assert_ne!(cheat.root(), honest.root());

    let at_bad = cheat.open(&[bad_index]);
    assert_eq!(
        verify(&c, &cheat.root(), &at_bad),
        Err(VerifyError::WrongValue {
            index: bad_index,
            expected: c.output(bad_index),
            got: c.output(bad_index) ^ (1 << 17),
        })
    );
    // A neighbour in the same leaf exposes it too, since the whole leaf is recomputed.
    let neighbour = bad_index + 1;
    assert_eq!(
        bad_index as usize / LEAF_VALUES,
        neighbour as usize / LEAF_VALUES
    );
    assert!(matches!(
        verify(&c, &cheat.root(), &cheat.open(&[neighbour])),
        Err(VerifyError::WrongValue { index, .. }) if index == bad_index
    ));
    // Indices in other leaves still verify against the cheat's root.
    let others = [0u32, 17, 1200, 1300, 4999];
    for &i in &others {
        assert_ne!(i as usize / LEAF_VALUES, bad_index as usize / LEAF_VALUES);
    }
    verify(&c, &cheat.root(), &cheat.open(&others)).unwrap();
}

#[test]
fn an_opening_altered_after_the_commitment_breaks_its_path() {
    let c = challenge();
    let proof = prove_cpu(&c).unwrap();
    let mut openings = proof.open(&[77]);
    let offset = 77 % LEAF_VALUES;
    openings[0].leaf_values[offset] = c.output(77).wrapping_add(1);
    assert_eq!(
        verify(&c, &proof.root(), &openings),
        Err(VerifyError::BadPath { index: 77 })
    );
}

#[test]
fn a_wrong_root_is_rejected() {
    let c = challenge();
    let proof = prove_cpu(&c).unwrap();
    let openings = proof.open(&[3, 2500]);
    let mut root = proof.root();
    root[31] ^= 0x01;
    assert_eq!(
        verify(&c, &root, &openings),
        Err(VerifyError::BadPath { index: 3 })
    );
}

#[test]
fn openings_for_another_seed_are_rejected() {
    let asked = challenge();
    let mut other_seed = asked.seed;
    other_seed[0] ^= 0x80;
    let other = Challenge::new(other_seed, asked.n, asked.rounds).unwrap();
    // A prover answers (consistently) the wrong challenge, e.g. a precomputed one.
    let proof = prove_cpu(&other).unwrap();
    let openings = proof.open(&[10, 20]);
    verify(&other, &proof.root(), &openings).unwrap();
    assert!(matches!(
        verify(&asked, &proof.root(), &openings),
        Err(VerifyError::WrongValue { index: 10, .. })
    ));
    // Fewer rounds than asked is caught the same way.
    let lazy = Challenge::new(asked.seed, asked.n, asked.rounds - 1).unwrap();
    let lazy_proof = prove_cpu(&lazy).unwrap();
    assert!(matches!(
        verify(&asked, &lazy_proof.root(), &lazy_proof.open(&[10])),
        Err(VerifyError::WrongValue { index: 10, .. })
    ));
}

#[test]
fn openings_must_answer_the_indices_asked() {
    let c = challenge();
    let proof = prove_cpu(&c).unwrap();
    let asked = [5u32, 600, 4100];
    let chosen_by_prover = proof.open(&[5, 600, 4101]);
    assert!(matches!(
        verify_requested(&c, &proof.root(), &asked, &chosen_by_prover),
        Err(VerifyError::WrongIndices { .. })
    ));
    let too_few = proof.open(&[5, 600]);
    assert!(matches!(
        verify_requested(&c, &proof.root(), &asked, &too_few),
        Err(VerifyError::WrongIndices { .. })
    ));
    verify_requested(&c, &proof.root(), &asked, &proof.open(&asked)).unwrap();
}

/// Merkle roots computed once with an independent Python transcription of the mix function and
/// the tree (sha256, tags 0x00 leaf / 0x01 node / 0x02 pad, 16 values per leaf).
#[test]
fn merkle_roots_match_fixed_vectors() {
    let counting: [u8; 32] = std::array::from_fn(|i| i as u8);
    let cases = [
        (
            40,
            3,
            "1ede0d66d16b2c8526a94a8c1061d18bb3ab21f18a701e6a2905c22bf8e2a558",
        ),
        (
            1000,
            7,
            "daf7e2d28a6a91f2e9bec068a00dbcecbd8577f1b999ec41ae6908efd769cac7",
        ),
    ];
    for (n, rounds, expected) in cases {
        let c = Challenge::new(counting, n, rounds).unwrap();
        let root = prove_cpu(&c).unwrap().root();
        let hex: String = root.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected, "n={n} rounds={rounds}");
    }
}
