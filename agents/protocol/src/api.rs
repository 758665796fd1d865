//! Messages of the orchestrator's HTTP API (`/v1/...`), shared by broadcaster and orchestrator.
//!
//! `GET /v1/info?sender=0x…` → [`OrchestratorInfo`] (price, capabilities, capacity and ticket
//! parameters bound to that sender). `POST /v1/segment` carries the segment as its body, a
//! [`SegmentRequest`] in the `X-Peerflow-Segment` header and a [`Payment`] in `X-Peerflow-Payment`
//! (both JSON); the reply carries the renditions themselves (`multipart/mixed`, one part per
//! rendition) or an [`ErrorBody`] whose `code` says whether to retry elsewhere. `POST /v1/payment`
//! (a JSON [`Payment`]) credits tickets without work.

use alloy_primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

use crate::signature::Signature;
use crate::ticket::Ticket;

/// Header carrying a JSON [`SegmentRequest`].
pub const SEGMENT_HEADER: &str = "x-peerflow-segment";
/// Header carrying a JSON [`Payment`].
pub const PAYMENT_HEADER: &str = "x-peerflow-payment";
/// Part header naming the rendition in a multipart reply.
pub const RENDITION_HEADER: &str = "x-peerflow-rendition";

/// What an orchestrator offers, and how the asking sender must pay it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrchestratorInfo {
    pub orchestrator: Address,
    pub chain_id: u64,
    pub ticket_broker: Address,
    /// Fee-token wei per output pixel.
    pub price_per_pixel: U256,
    /// Video codecs it can encode (e.g. "h264", "av1").
    pub codecs: Vec<String>,
    /// Measured capacity of its transcoders, output pixels per second.
    pub capacity_pixels_per_second: u64,
    pub ticket_params: TicketParamsMsg,
    /// The sender's unspent credit with this orchestrator.
    pub balance: U256,
    /// The lowest nonce this orchestrator still accepts from the sender as signer: a broadcaster
    /// that lost its state resumes from here.
    pub next_nonce: u64,
}

/// Ticket parameters bound to one sender; valid until `expirationBlock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketParamsMsg {
    pub recipient: Address,
    pub sender: Address,
    pub face_value: U256,
    pub win_prob: U256,
    pub recipient_rand_hash: B256,
    pub creation_round: u64,
    pub expiration_block: u64,
    /// Expected value of one ticket (face value × win probability), for the sender's arithmetic.
    pub ticket_value: U256,
}

impl TicketParamsMsg {
    /// The ticket these parameters ask `signer` to sign for its `nonce` (the sender is the funder).
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
}

/// One rendition to produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSpec {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    /// "h264", "av1-svt" or "av1-rav1e" (`peerflow_media::VideoCodec::as_str`).
    pub codec: String,
}

/// What to do with a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentRequest {
    pub stream: String,
    pub seq: u64,
    /// "ts" or "mp4".
    pub format: String,
    pub profiles: Vec<ProfileSpec>,
}

/// A signed ticket as sent off-chain (the recipient's `recipientRand` is not in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketMsg {
    pub signer: Address,
    pub sender_nonce: u64,
    pub recipient_rand_hash: B256,
    pub face_value: U256,
    pub win_prob: U256,
    pub creation_round: u64,
    /// 65-byte `r ‖ s ‖ v` signature, hex.
    pub signature: alloy_primitives::Bytes,
}

/// Tickets paying for one segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub sender: Address,
    pub tickets: Vec<TicketMsg>,
}

impl TicketMsg {
    /// A signed ticket for the wire.
    pub fn new(ticket: &Ticket, signature: &Signature) -> Self {
        Self {
            signer: ticket.signer,
            sender_nonce: ticket.senderNonce.to::<u64>(),
            recipient_rand_hash: ticket.recipientRandHash,
            face_value: ticket.faceValue,
            win_prob: ticket.winProb,
            creation_round: ticket.creationRound.to::<u64>(),
            signature: signature.to_bytes().to_vec().into(),
        }
    }

    /// The ticket addressed to `recipient` by `sender`, and its signature.
    pub fn ticket(
        &self,
        recipient: Address,
        sender: Address,
    ) -> Result<(Ticket, Signature), crate::SignatureError> {
        let ticket = Ticket {
            recipient,
            sender,
            signer: self.signer,
            faceValue: self.face_value,
            winProb: self.win_prob,
            senderNonce: U256::from(self.sender_nonce),
            recipientRandHash: self.recipient_rand_hash,
            creationRound: U256::from(self.creation_round),
        };
        Ok((ticket, Signature::from_bytes(&self.signature)?))
    }
}

/// An error reply: a machine-readable code, a message, and whether another orchestrator may succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    pub retry_elsewhere: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lottery::recipient_rand_hash;
    use crate::ticket::TicketDomain;

    #[test]
    fn ticket_message_round_trips_through_json() {
        let ticket = Ticket {
            recipient: Address::repeat_byte(1),
            sender: Address::repeat_byte(2),
            signer: Address::repeat_byte(3),
            faceValue: U256::from(10u64),
            winProb: U256::MAX,
            senderNonce: U256::from(7u64),
            recipientRandHash: recipient_rand_hash(B256::repeat_byte(4)),
            creationRound: U256::from(9u64),
        };
        let domain = TicketDomain {
            chain_id: 1,
            broker: Address::repeat_byte(5),
        };
        let sig = Signature::sign(&[8; 32], ticket.hash(&domain)).unwrap();
        let msg = TicketMsg::new(&ticket, &sig);
        let json = serde_json::to_string(&Payment {
            sender: ticket.sender,
            tickets: vec![msg],
        })
        .unwrap();
        let back: Payment = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back.tickets[0]
                .ticket(ticket.recipient, back.sender)
                .unwrap(),
            (ticket, sig)
        );
    }
}
