//! The lottery draw and the recipient's commitment.
//!
//! A ticket wins iff `uint256(keccak256(r ‖ s ‖ v ‖ recipientRand)) < winProb`: the sender's
//! 65-byte canonical signature, then the recipient's random number. The recipient commits to
//! `keccak256(recipientRand)` in the ticket parameters before the sender signs, and cannot know the
//! signature then, so it cannot grind `recipientRand` to win (the earlier draw,
//! `keccak256(recipientRand ‖ ticketHash)`, could be ground offline because every field of the next
//! ticket is predictable). The sender does not know `recipientRand` until it is revealed at
//! redemption, so it cannot pick a losing signature either, as long as the recipient never accepts
//! tickets on parameters whose `recipientRand` it has revealed. Only the canonical encoding
//! (`v ∈ {27, 28}`, low `s`) is a draw: a re-encoded signature never wins, here as on-chain.

use alloy_primitives::{B256, U256, keccak256};

use crate::signature::{HALF_N, Signature};

/// `keccak256(recipientRand)`: what the recipient commits to in its ticket parameters.
pub fn recipient_rand_hash(recipient_rand: B256) -> B256 {
    keccak256(recipient_rand)
}

/// The draw of a ticket signed with `signature` (`TicketBroker.isWinningTicket`): false for a
/// non-canonical signature, else `uint256(keccak256(r ‖ s ‖ v ‖ recipientRand)) < winProb`.
/// The caller still has to check that `signature` is the ticket's signer's.
pub fn is_winning_ticket(signature: &Signature, recipient_rand: B256, win_prob: U256) -> bool {
    if !matches!(signature.v, 27 | 28) || U256::from_be_bytes(signature.s.0) > HALF_N {
        return false;
    }
    let mut preimage = [0u8; 97];
    preimage[..65].copy_from_slice(&signature.to_bytes());
    preimage[65..].copy_from_slice(recipient_rand.as_slice());
    U256::from_be_bytes(keccak256(preimage).0) < win_prob
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(byte: u8) -> Signature {
        Signature::sign(&[byte; 32], keccak256([byte])).unwrap()
    }

    #[test]
    fn zero_probability_never_wins_and_max_almost_always_does() {
        let rand = B256::repeat_byte(9);
        assert!(!is_winning_ticket(&sig(1), rand, U256::ZERO));
        assert!(is_winning_ticket(&sig(1), rand, U256::MAX));
    }

    #[test]
    fn draw_depends_on_the_signature_and_recipient_rand() {
        let half = U256::MAX / U256::from(2);
        let by_rand = (0u8..64)
            .filter(|i| is_winning_ticket(&sig(1), B256::repeat_byte(*i), half))
            .count();
        assert!(
            (16..=48).contains(&by_rand),
            "about half of 64 draws win, got {by_rand}"
        );
        let rand = B256::repeat_byte(7);
        let by_sig = (1u8..65)
            .filter(|i| is_winning_ticket(&sig(*i), rand, half))
            .count();
        assert!(
            (16..=48).contains(&by_sig),
            "about half of 64 draws win, got {by_sig}"
        );
    }

    #[test]
    fn draw_hashes_the_65_byte_signature_then_rand() {
        let s = sig(3);
        let rand = B256::repeat_byte(5);
        let mut preimage = s.to_bytes().to_vec();
        preimage.extend_from_slice(rand.as_slice());
        let draw = U256::from_be_bytes(keccak256(&preimage).0);
        assert!(is_winning_ticket(&s, rand, draw + U256::from(1)));
        assert!(!is_winning_ticket(&s, rand, draw), "strictly below winProb");
    }

    #[test]
    fn non_canonical_encodings_never_win() {
        /// secp256k1's order n.
        const N: U256 = U256::from_limbs([
            0xBFD25E8CD0364141,
            0xBAAEDCE6AF48A03B,
            0xFFFFFFFFFFFFFFFE,
            0xFFFFFFFFFFFFFFFF,
        ]);
        let s = sig(4);
        let rand = B256::repeat_byte(1);
        assert!(is_winning_ticket(&s, rand, U256::MAX));
        let twin = Signature {
            s: B256::from(N - U256::from_be_bytes(s.s.0)),
            v: if s.v == 27 { 28 } else { 27 },
            ..s
        };
        assert!(!is_winning_ticket(&twin, rand, U256::MAX), "high-s twin");
        for v in [0u8, 1, 29, 255] {
            assert!(!is_winning_ticket(&Signature { v, ..s }, rand, U256::MAX));
        }
    }
}
