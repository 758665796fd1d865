//! The messages of paid playback, as JSON (camelCase; token amounts and other uint256 values as
//! decimal strings, which a browser reads with `BigInt`).

use alloy::primitives::{Address, B256, U256};
use peerflow_broadcaster::gate::decimal;
use serde::{Deserialize, Serialize};

/// `GET /v1/watch/{stream}/offer[?viewer=ADDR]`: what watching costs and how to pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    pub stream: String,
    /// False for a free stream: no session, no tickets.
    pub paid: bool,
    #[serde(with = "decimal")]
    pub price_per_minute: U256,
    /// The broadcaster's account: the tickets' recipient, and the streamer tips and
    /// subscriptions go to.
    pub recipient: Address,
    pub chain_id: u64,
    pub broker: Address,
    pub token: Address,
    /// The StreamSupport contract (tips, subscriptions); zero when the deployment has none.
    pub support: Address,
    /// Milliseconds of video one ticket pays for.
    pub ms_per_ticket: u64,
    /// How far behind its payments a viewer may get before segments are refused.
    pub credit_ms: u64,
    #[serde(with = "decimal")]
    pub face_value: U256,
    #[serde(with = "decimal")]
    pub win_prob: U256,
    /// The broker's current round, its length in blocks, and for how many rounds a grant should
    /// authorize the hot key.
    pub round: u64,
    pub round_length_blocks: u64,
    pub grant_rounds: u64,
    /// How long a signed grant may wait to be relayed (seconds).
    pub deadline_secs: u64,
    /// The spending cap a grant should carry (face value redeemed under it; a new grant, with a
    /// new hot key, when it is spent): 25 winning tickets.
    #[serde(with = "decimal")]
    pub grant_max_spend: U256,
    /// The least deposit a paying viewer needs: one ticket's face value.
    #[serde(with = "decimal")]
    pub min_deposit: U256,
    #[serde(with = "decimal")]
    pub subscription_price: U256,
    pub subscription_period_secs: u64,
    pub viewer: Option<ViewerFunds>,
}

/// The asking viewer's side of the offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewerFunds {
    pub address: Address,
    /// The nonce its next grant must carry.
    #[serde(with = "decimal")]
    pub grant_nonce: U256,
    #[serde(with = "decimal")]
    pub deposit: U256,
    /// Unix seconds; 0 when it never subscribed.
    pub subscribed_until: u64,
}

/// `POST /v1/watch/{stream}/sessions`: a grant signed by the funder's wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenSession {
    pub funder: Address,
    pub signer: Address,
    /// Must be the broadcaster's account: the hot key signs tickets to nobody else.
    pub recipient: Address,
    #[serde(with = "decimal")]
    pub max_spend: U256,
    #[serde(with = "decimal")]
    pub until_round: U256,
    #[serde(with = "decimal")]
    pub nonce: U256,
    #[serde(with = "decimal")]
    pub deadline: U256,
    /// 65 bytes, `r ‖ s ‖ v`, hex.
    pub signature: String,
}

/// The next ticket a session takes: sign exactly these fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketToSign {
    pub recipient: Address,
    pub sender: Address,
    pub signer: Address,
    #[serde(with = "decimal")]
    pub face_value: U256,
    #[serde(with = "decimal")]
    pub win_prob: U256,
    #[serde(with = "decimal")]
    pub sender_nonce: U256,
    pub recipient_rand_hash: B256,
    #[serde(with = "decimal")]
    pub creation_round: U256,
}

impl TicketToSign {
    pub fn ticket(&self) -> peerflow_protocol::Ticket {
        peerflow_protocol::Ticket {
            recipient: self.recipient,
            sender: self.sender,
            signer: self.signer,
            faceValue: self.face_value,
            winProb: self.win_prob,
            senderNonce: self.sender_nonce,
            recipientRandHash: self.recipient_rand_hash,
            creationRound: self.creation_round,
        }
    }
}

/// Where a viewer's session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    Ok,
    /// A segment was refused for payment due; it serves again once paid.
    CutOff,
}

/// A viewer's session: what it got, what it paid, and the ticket it may pay with next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub session: String,
    pub stream: String,
    pub funder: Address,
    pub signer: Address,
    pub subscriber: bool,
    pub subscribed_until: u64,
    pub paid_ms: u64,
    pub consumed_ms: u64,
    /// Video got and not paid for yet.
    pub due_ms: u64,
    pub credit_ms: u64,
    pub ms_per_ticket: u64,
    pub tickets_accepted: u64,
    pub state: SessionState,
    /// The last round the hot key signs for is `untilRound - 1`.
    pub until_round: u64,
    /// What the grant's cap still allows (face value); below one ticket's face value the session
    /// takes no more tickets and the viewer opens a new one, with a new grant.
    #[serde(with = "decimal")]
    pub grant_left: U256,
    /// Null when nothing can be paid: a subscriber's session, or a grant spent.
    pub ticket: Option<TicketToSign>,
}

/// `POST /v1/watch/sessions/{session}/tickets`: the session's ticket, signed by the hot key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketPayment {
    pub recipient_rand_hash: B256,
    #[serde(with = "decimal")]
    pub sender_nonce: U256,
    /// 65 bytes, `r ‖ s ‖ v`, hex.
    pub signature: String,
}

/// One viewer in the streamer's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewerRow {
    /// A short id of the session (never its token).
    pub viewer: String,
    pub stream: String,
    pub funder: Address,
    pub subscriber: bool,
    pub paid_ms: u64,
    pub consumed_ms: u64,
    pub tickets_accepted: u64,
    pub state: SessionState,
    pub last_seen_ms: u64,
}

/// Totals of the streamer's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Sessions that fetched a segment in the last 30 s.
    pub viewers: u64,
    pub paid_ms: u64,
    pub tickets_received: u64,
    pub tickets_won: u64,
    pub tickets_redeemed: u64,
    /// Expected value of the tickets received.
    #[serde(with = "decimal")]
    pub received_wei: U256,
    /// Face value of the winners redeemed.
    #[serde(with = "decimal")]
    pub redeemed_wei: U256,
}

/// One tip, from the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tip {
    pub from: Address,
    #[serde(with = "decimal")]
    pub amount: U256,
    pub message: String,
    pub block: u64,
    pub tx: B256,
}

/// One subscriber, from the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscriber {
    pub subscriber: Address,
    /// Unix seconds.
    pub until: u64,
    /// Everything it paid.
    #[serde(with = "decimal")]
    pub paid: U256,
}

/// `GET /v1/watch/status`: the streamer's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    pub recipient: Address,
    pub viewers: Vec<ViewerRow>,
    pub totals: Totals,
    pub tips: Vec<Tip>,
    pub subscribers: Vec<Subscriber>,
    #[serde(with = "decimal")]
    pub tips_wei: U256,
    #[serde(with = "decimal")]
    pub subscriptions_wei: U256,
}
