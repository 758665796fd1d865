//! Messages of the orchestrator's HTTP API (`/v1/...`), shared by broadcaster and orchestrator.
//!
//! `GET /v1/info?sender=0x…` → [`OrchestratorInfo`] (price, capabilities, capacity and ticket
//! parameters bound to that sender). `POST /v1/segment` carries the segment as its body, a
//! [`SegmentRequest`] in the `X-Peerflow-Segment` header, a [`Payment`] in `X-Peerflow-Payment` and
//! the sender's [`RequestAuth`] over both in `X-Peerflow-Request-Auth` (all JSON); the reply carries the renditions themselves (`multipart/mixed`, one part per
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
/// Header carrying a JSON [`RequestAuth`]: the sender's signature over a `/v1/segment` request.
/// Without a valid one the request is refused (401 `unauthorized_request`) before any credit moves.
pub const REQUEST_AUTH_HEADER: &str = "x-peerflow-request-auth";
/// The most renditions one segment request may ask for.
pub const MAX_PROFILES: usize = 8;

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
    /// The lowest request nonce ([`RequestAuth::nonce`]) sure to be accepted from this sender.
    #[serde(default)]
    pub next_request_nonce: u64,
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

/// A sender's authorization of one `/v1/segment` request: only a request signed by the sender (or a
/// signer the chain says it authorized) may spend the sender's credit.
///
/// The signature is EIP-191 (`personal_sign`) over [`RequestAuth::digest`], which binds the chain
/// and broker, the orchestrator, the sender and signer, the ticket parameters the work is charged
/// under (their `recipientRandHash`), a per-sender request nonce (each is accepted once), the
/// segment's keccak256 and every field of the [`SegmentRequest`] (stream, sequence, format and each
/// profile). A request copied off the wire can therefore not be replayed, re-targeted to another
/// orchestrator, or reused for other work or another segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestAuth {
    pub signer: Address,
    /// `recipientRandHash` of the ticket parameters (issued to the sender) the work is charged under.
    pub params: B256,
    pub nonce: u64,
    /// 65-byte `r ‖ s ‖ v` signature, hex.
    pub signature: alloy_primitives::Bytes,
}

/// What a [`RequestAuth`] covers besides its own fields.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    pub domain: &'a crate::ticket::TicketDomain,
    pub orchestrator: Address,
    pub sender: Address,
    pub request: &'a SegmentRequest,
    pub segment: &'a [u8],
}

impl RequestAuth {
    /// The EIP-191 digest signed for `ctx` by `signer` under parameters `params` with `nonce`.
    pub fn digest(ctx: &RequestContext<'_>, signer: Address, params: B256, nonce: u64) -> B256 {
        use alloy_primitives::keccak256;
        fn field(out: &mut Vec<u8>, bytes: &[u8]) {
            out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            out.extend_from_slice(bytes);
        }
        let r = ctx.request;
        let mut req = Vec::with_capacity(128);
        field(&mut req, r.stream.as_bytes());
        req.extend_from_slice(&r.seq.to_be_bytes());
        field(&mut req, r.format.as_bytes());
        req.extend_from_slice(&(r.profiles.len() as u64).to_be_bytes());
        for p in &r.profiles {
            field(&mut req, p.name.as_bytes());
            req.extend_from_slice(&p.width.to_be_bytes());
            req.extend_from_slice(&p.height.to_be_bytes());
            req.extend_from_slice(&p.bitrate_kbps.to_be_bytes());
            field(&mut req, p.codec.as_bytes());
        }
        let mut inner = Vec::with_capacity(256);
        inner.extend_from_slice(b"peerflow.segment-request.v1");
        inner.extend_from_slice(&U256::from(ctx.domain.chain_id).to_be_bytes::<32>());
        inner.extend_from_slice(ctx.domain.broker.as_slice());
        inner.extend_from_slice(ctx.orchestrator.as_slice());
        inner.extend_from_slice(ctx.sender.as_slice());
        inner.extend_from_slice(signer.as_slice());
        inner.extend_from_slice(params.as_slice());
        inner.extend_from_slice(&nonce.to_be_bytes());
        inner.extend_from_slice(keccak256(ctx.segment).as_slice());
        inner.extend_from_slice(keccak256(&req).as_slice());
        let mut prefixed = b"\x19Ethereum Signed Message:\n32".to_vec();
        prefixed.extend_from_slice(keccak256(&inner).as_slice());
        keccak256(&prefixed)
    }

    /// Signs `ctx` with `secret_key` (whose address is the signer).
    pub fn sign(
        secret_key: &[u8; 32],
        ctx: &RequestContext<'_>,
        params: B256,
        nonce: u64,
    ) -> Result<Self, crate::SignatureError> {
        let signer = crate::signature::address_of_secret(secret_key)?;
        let signature = Signature::sign(secret_key, Self::digest(ctx, signer, params, nonce))?;
        Ok(Self {
            signer,
            params,
            nonce,
            signature: signature.to_bytes().to_vec().into(),
        })
    }

    /// The address whose key signed this authorization for `ctx` (canonical encoding only).
    pub fn recover(&self, ctx: &RequestContext<'_>) -> Result<Address, crate::SignatureError> {
        Signature::from_bytes(&self.signature)?.recover(Self::digest(
            ctx,
            self.signer,
            self.params,
            self.nonce,
        ))
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

    fn sample_request() -> SegmentRequest {
        SegmentRequest {
            stream: "s".into(),
            seq: 3,
            format: "ts".into(),
            profiles: vec![ProfileSpec {
                name: "240p".into(),
                width: 426,
                height: 240,
                bitrate_kbps: 400,
                codec: "h264".into(),
            }],
        }
    }

    #[test]
    fn request_auth_recovers_its_signer_only_for_what_it_signed() {
        let domain = TicketDomain {
            chain_id: 1,
            broker: Address::repeat_byte(5),
        };
        let request = sample_request();
        let ctx = RequestContext {
            domain: &domain,
            orchestrator: Address::repeat_byte(1),
            sender: Address::repeat_byte(2),
            request: &request,
            segment: b"segment",
        };
        let key = [9u8; 32];
        let auth = RequestAuth::sign(&key, &ctx, B256::repeat_byte(7), 4).unwrap();
        let json = serde_json::to_string(&auth).unwrap();
        let auth: RequestAuth = serde_json::from_str(&json).unwrap();
        assert_eq!(auth.recover(&ctx), Ok(auth.signer));

        let mut other = request.clone();
        other.profiles[0].width = 1920;
        let other_domain = TicketDomain {
            chain_id: 2,
            ..domain
        };
        let variants = [
            RequestContext {
                segment: b"other segment",
                ..ctx
            },
            RequestContext {
                request: &other,
                ..ctx
            },
            RequestContext {
                sender: Address::repeat_byte(3),
                ..ctx
            },
            RequestContext {
                orchestrator: Address::repeat_byte(4),
                ..ctx
            },
            RequestContext {
                domain: &other_domain,
                ..ctx
            },
        ];
        for v in &variants {
            assert_ne!(auth.recover(v).ok(), Some(auth.signer));
        }
        let renonced = RequestAuth {
            nonce: 5,
            ..auth.clone()
        };
        assert_ne!(renonced.recover(&ctx).ok(), Some(auth.signer));
        let reparamed = RequestAuth {
            params: B256::repeat_byte(8),
            ..auth.clone()
        };
        assert_ne!(reparamed.recover(&ctx).ok(), Some(auth.signer));
    }
}
