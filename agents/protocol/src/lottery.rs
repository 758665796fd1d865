//! The lottery draw and the recipient's commitment.

use alloy_primitives::{B256, U256, keccak256};

/// `keccak256(recipientRand)`: what the recipient commits to in its ticket parameters.
pub fn recipient_rand_hash(recipient_rand: B256) -> B256 {
    keccak256(recipient_rand)
}

/// A ticket wins iff `keccak256(recipientRand ‖ ticketHash) < winProb`. The draw never reads the
/// signature, so re-encoding a signature cannot give a second draw.
pub fn is_winning_ticket(ticket_hash: B256, recipient_rand: B256, win_prob: U256) -> bool {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(recipient_rand.as_slice());
    preimage[32..].copy_from_slice(ticket_hash.as_slice());
    U256::from_be_bytes(keccak256(preimage).0) < win_prob
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_probability_never_wins_and_max_almost_always_does() {
        let hash = B256::repeat_byte(7);
        let rand = B256::repeat_byte(9);
        assert!(!is_winning_ticket(hash, rand, U256::ZERO));
        assert!(is_winning_ticket(hash, rand, U256::MAX));
    }

    #[test]
    fn draw_depends_on_recipient_rand() {
        let hash = B256::repeat_byte(1);
        let half = U256::MAX / U256::from(2);
        let wins = (0u8..64)
            .filter(|i| is_winning_ticket(hash, B256::repeat_byte(*i), half))
            .count();
        assert!(
            (16..=48).contains(&wins),
            "about half of 64 draws win, got {wins}"
        );
    }
}
