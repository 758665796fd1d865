//! Ticket parameters: what a broadcaster must put in the tickets it sends this orchestrator.
//!
//! The orchestrator commits to `recipientRand` by handing out only its hash. The value itself is
//! derived from a node secret, a fresh seed and the broadcaster's address, so nothing but the seed
//! needs storing and a restart loses no way to redeem. It is revealed on-chain only at redemption,
//! after the parameters expired, so a broadcaster can never learn it while still paying with it.

use alloy_primitives::ruint::Uint;
use alloy_primitives::{Address, B256, U256, keccak256};
use peerflow_protocol::{Ticket, recipient_rand_hash};

/// The node secret from which every `recipientRand` is derived.
#[derive(Clone)]
pub struct RecipientSecret([u8; 32]);

impl RecipientSecret {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn random() -> Self {
        Self(B256::random().0)
    }

    pub fn bytes(&self) -> [u8; 32] {
        self.0
    }

    /// `keccak256(secret ‖ seed ‖ sender)`.
    pub fn recipient_rand(&self, seed: B256, sender: Address) -> B256 {
        let mut preimage = [0u8; 84];
        preimage[..32].copy_from_slice(&self.0);
        preimage[32..64].copy_from_slice(seed.as_slice());
        preimage[64..].copy_from_slice(sender.as_slice());
        keccak256(preimage)
    }
}

impl std::fmt::Debug for RecipientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecipientSecret(..)")
    }
}

/// How this orchestrator prices work and sizes tickets.
#[derive(Debug, Clone)]
pub struct ParamsPolicy {
    /// Fee-token wei charged per output pixel.
    pub price_per_pixel: U256,
    pub face_value: U256,
    pub win_prob: U256,
    /// Blocks during which tickets with one set of parameters are accepted.
    pub lifetime_blocks: u64,
}

/// One broadcaster's current parameters (they bind `sender`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketParams {
    pub recipient: Address,
    pub sender: Address,
    pub face_value: U256,
    pub win_prob: U256,
    pub recipient_rand_hash: B256,
    pub seed: B256,
    pub creation_round: u64,
    /// Last block at which tickets with these parameters are accepted.
    pub expiration_block: u64,
    pub price_per_pixel: U256,
}

impl TicketParams {
    /// Fresh parameters for `sender`, valid from `block` (in `round`) for the policy's lifetime.
    pub fn issue(
        secret: &RecipientSecret,
        policy: &ParamsPolicy,
        recipient: Address,
        sender: Address,
        block: u64,
        round: u64,
    ) -> Self {
        let seed = B256::random();
        Self {
            recipient,
            sender,
            face_value: policy.face_value,
            win_prob: policy.win_prob,
            recipient_rand_hash: recipient_rand_hash(secret.recipient_rand(seed, sender)),
            seed,
            creation_round: round,
            expiration_block: block + policy.lifetime_blocks,
            price_per_pixel: policy.price_per_pixel,
        }
    }

    /// The ticket `signer` signs under these parameters with `nonce` (signer = sender unless the
    /// sender authorized a hot key).
    pub fn ticket(&self, signer: Address, nonce: u64) -> Ticket {
        Ticket {
            recipient: self.recipient,
            sender: self.sender,
            signer,
            faceValue: self.face_value,
            winProb: self.win_prob,
            senderNonce: U256::from(nonce),
            recipientRandHash: self.recipient_rand_hash,
            creationRound: U256::from(self.creation_round),
        }
    }

    /// Expected value of one ticket: `faceValue × winProb / 2²⁵⁶` (rounded down).
    pub fn ticket_value(&self) -> U256 {
        expected_value(self.face_value, self.win_prob)
    }
}

/// `faceValue × winProb / 2²⁵⁶`, rounded down (with `winProb = 2²⁵⁶ − 1` read as certainty).
pub fn expected_value(face_value: U256, win_prob: U256) -> U256 {
    if win_prob == U256::MAX {
        return face_value;
    }
    let product: Uint<512, 8> = face_value.widening_mul(win_prob);
    let high: [u64; 4] = product.as_limbs()[4..]
        .try_into()
        .expect("512-bit product has 8 limbs");
    U256::from_limbs(high)
}

/// The smallest face value whose expected value at `win_prob` covers `charge`.
pub fn face_value_for(charge: U256, win_prob: U256) -> U256 {
    if win_prob == U256::MAX || charge.is_zero() {
        return charge;
    }
    if win_prob.is_zero() {
        return U256::MAX;
    }
    // ceil(charge · 2²⁵⁶ / winProb), then the least value that expected_value rounds up to it.
    let shifted: Uint<512, 8> = Uint::<512, 8>::from(charge) << 256;
    let p = Uint::<512, 8>::from(win_prob);
    let face = (shifted + p - Uint::<512, 8>::from(1u8)) / p;
    let mut face = U256::saturating_from(face);
    while expected_value(face, win_prob) < charge && face < U256::MAX {
        face += U256::from(1u8);
    }
    face
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_value_is_face_value_times_probability() {
        let face = U256::from(1_000_000u64);
        assert_eq!(expected_value(face, U256::MAX), face);
        assert_eq!(expected_value(face, U256::ZERO), U256::ZERO);
        assert_eq!(
            expected_value(face, U256::MAX / U256::from(4) + U256::from(1)),
            U256::from(250_000u64)
        );
    }

    #[test]
    fn recipient_rand_depends_on_seed_and_sender() {
        let secret = RecipientSecret::new([1; 32]);
        let a = secret.recipient_rand(B256::repeat_byte(1), Address::repeat_byte(1));
        assert_ne!(
            a,
            secret.recipient_rand(B256::repeat_byte(2), Address::repeat_byte(1))
        );
        assert_ne!(
            a,
            secret.recipient_rand(B256::repeat_byte(1), Address::repeat_byte(2))
        );
        assert_eq!(
            a,
            RecipientSecret::new([1; 32])
                .recipient_rand(B256::repeat_byte(1), Address::repeat_byte(1))
        );
    }
}
