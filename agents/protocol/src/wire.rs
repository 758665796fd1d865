//! The six-word form in which the broker redeems a ticket (192 bytes of calldata).
//!
//! `senderFace = sender << 96 | faceValue (96 bits)`, `winProb`,
//! `meta = signer << 96 | senderNonce (56 bits) << 40 | creationRound (32 bits) << 8 | v`,
//! `recipientRand`, `r`, `s`. The recipient is the redeeming account, so it is not on the wire.

use alloy_primitives::{Address, B256, U256};

use crate::lottery::recipient_rand_hash;
use crate::signature::Signature;
use crate::ticket::Ticket;

/// Largest face value that fits the wire form (96 bits).
pub const MAX_FACE_VALUE: U256 = U256::from_limbs([u64::MAX, u32::MAX as u64, 0, 0]);
/// Largest sender nonce that fits the wire form (56 bits).
pub const MAX_NONCE: u64 = (1 << 56) - 1;
/// Largest creation round that fits the wire form (32 bits).
pub const MAX_CREATION_ROUND: u64 = u32::MAX as u64;

/// Why a ticket cannot be put on the wire.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("face value {0} does not fit in 96 bits")]
    FaceValueTooLarge(U256),
    #[error("sender nonce {0} does not fit in 56 bits")]
    NonceTooLarge(U256),
    #[error("creation round {0} does not fit in 32 bits")]
    CreationRoundTooLarge(U256),
    #[error("recipientRand does not match the ticket's recipientRandHash")]
    RecipientRandMismatch,
}

/// A ticket as redeemed: packed fields, revealed `recipientRand` and signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedTicket {
    pub sender_face: U256,
    pub win_prob: U256,
    pub meta: U256,
    pub recipient_rand: B256,
    pub r: B256,
    pub s: B256,
}

impl SignedTicket {
    /// Packs a signed ticket and the revealed `recipient_rand` (which must match its commitment).
    pub fn pack(
        ticket: &Ticket,
        recipient_rand: B256,
        signature: &Signature,
    ) -> Result<Self, WireError> {
        if ticket.faceValue > MAX_FACE_VALUE {
            return Err(WireError::FaceValueTooLarge(ticket.faceValue));
        }
        if ticket.senderNonce > U256::from(MAX_NONCE) {
            return Err(WireError::NonceTooLarge(ticket.senderNonce));
        }
        if ticket.creationRound > U256::from(MAX_CREATION_ROUND) {
            return Err(WireError::CreationRoundTooLarge(ticket.creationRound));
        }
        if recipient_rand_hash(recipient_rand) != ticket.recipientRandHash {
            return Err(WireError::RecipientRandMismatch);
        }
        let address = |a: Address| U256::from_be_slice(a.as_slice());
        Ok(Self {
            sender_face: address(ticket.sender) << 96 | ticket.faceValue,
            win_prob: ticket.winProb,
            meta: address(ticket.signer) << 96
                | ticket.senderNonce << 40
                | ticket.creationRound << 8
                | U256::from(signature.v),
            recipient_rand,
            r: signature.r,
            s: signature.s,
        })
    }

    /// Splits the wire form into the ticket (addressed to `recipient`) and its signature.
    pub fn unpack(&self, recipient: Address) -> (Ticket, Signature) {
        let low = |word: U256, shift: usize, bits: usize| {
            (word >> shift) & ((U256::from(1) << bits) - U256::from(1))
        };
        let address = |word: U256| {
            let shifted: U256 = word >> 96usize;
            let bytes: [u8; 32] = shifted.to_be_bytes();
            Address::from_slice(&bytes[12..])
        };
        let ticket = Ticket {
            recipient,
            sender: address(self.sender_face),
            signer: address(self.meta),
            faceValue: low(self.sender_face, 0, 96),
            winProb: self.win_prob,
            senderNonce: low(self.meta, 40, 56),
            recipientRandHash: recipient_rand_hash(self.recipient_rand),
            creationRound: low(self.meta, 8, 32),
        };
        let v = low(self.meta, 0, 8).to::<u8>();
        (
            ticket,
            Signature {
                r: self.r,
                s: self.s,
                v,
            },
        )
    }

    /// The six 32-byte words, in calldata order.
    pub fn words(&self) -> [B256; 6] {
        [
            B256::from(self.sender_face),
            B256::from(self.win_prob),
            B256::from(self.meta),
            self.recipient_rand,
            self.r,
            self.s,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::TicketDomain;

    fn ticket(rand: B256) -> Ticket {
        Ticket {
            recipient: Address::repeat_byte(0x11),
            sender: Address::repeat_byte(0x22),
            signer: Address::repeat_byte(0x33),
            faceValue: MAX_FACE_VALUE,
            winProb: U256::MAX,
            senderNonce: U256::from(MAX_NONCE),
            recipientRandHash: recipient_rand_hash(rand),
            creationRound: U256::from(MAX_CREATION_ROUND),
        }
    }

    #[test]
    fn pack_then_unpack_is_identity_at_field_limits() {
        let rand = B256::repeat_byte(0x44);
        let t = ticket(rand);
        let domain = TicketDomain {
            chain_id: 31337,
            broker: Address::repeat_byte(0x55),
        };
        let sig = Signature::sign(&[7u8; 32], t.hash(&domain)).unwrap();
        let wire = SignedTicket::pack(&t, rand, &sig).unwrap();
        assert_eq!(wire.unpack(t.recipient), (t, sig));
    }

    #[test]
    fn pack_rejects_fields_that_do_not_fit() {
        let rand = B256::repeat_byte(1);
        let sig = Signature {
            r: B256::ZERO,
            s: B256::ZERO,
            v: 27,
        };
        let mut t = ticket(rand);
        t.faceValue = MAX_FACE_VALUE + U256::from(1);
        assert!(matches!(
            SignedTicket::pack(&t, rand, &sig),
            Err(WireError::FaceValueTooLarge(_))
        ));
        let mut t = ticket(rand);
        t.senderNonce = U256::from(MAX_NONCE) + U256::from(1);
        assert!(matches!(
            SignedTicket::pack(&t, rand, &sig),
            Err(WireError::NonceTooLarge(_))
        ));
        let mut t = ticket(rand);
        t.creationRound = U256::from(MAX_CREATION_ROUND) + U256::from(1);
        assert!(matches!(
            SignedTicket::pack(&t, rand, &sig),
            Err(WireError::CreationRoundTooLarge(_))
        ));
        assert_eq!(
            SignedTicket::pack(&ticket(rand), B256::ZERO, &sig),
            Err(WireError::RecipientRandMismatch)
        );
    }
}
