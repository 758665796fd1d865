//! What the broadcaster is willing to sign: its price ceilings (broadcaster-wide and per stream)
//! and the checks every quote must pass before a single ticket is signed. A quote is the
//! orchestrator's word; every field that moves money is checked against the broadcaster's own
//! deployment and limits here, with checked arithmetic (no product may wrap, no count may
//! overflow), and a refusal names its reason with a machine-readable code.

use alloy::primitives::{Address, U256, Uint};
use peerflow_protocol::TicketDomain;
use peerflow_protocol::api::OrchestratorInfo;

/// One token of the fee token (18 decimals), in wei.
pub const TOKEN: u128 = 1_000_000_000_000_000_000;

/// The broadcaster-wide limits on what it pays and signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentLimits {
    /// The highest price per output pixel accepted, wei.
    pub max_price_per_pixel: U256,
    /// The highest price of one segment (price × the ladder's output pixels), wei.
    pub max_price_per_segment: U256,
    /// The highest face value of one ticket, wei (a winner is paid this much at once).
    pub max_face_value: U256,
    /// Face value is also capped at the sender's funds (deposit + its reserve allocation per
    /// recipient) divided by this, when the funds are known.
    pub face_value_funds_divisor: u64,
    /// The highest expected value sent to one orchestrator for one segment, wei.
    pub max_value_per_segment: U256,
    /// The most tickets signed for one segment at one orchestrator.
    pub max_tickets_per_segment: u64,
}

impl Default for PaymentLimits {
    /// 1e9 wei (a billionth of a token) per pixel, 1 token per segment, face value at most
    /// 1 token and a tenth of the funds, 2 tokens of expected value and 1000 tickets per segment.
    fn default() -> Self {
        Self {
            max_price_per_pixel: U256::from(1_000_000_000u64),
            max_price_per_segment: U256::from(TOKEN),
            max_face_value: U256::from(TOKEN),
            face_value_funds_divisor: 10,
            max_value_per_segment: U256::from(2 * TOKEN),
            max_tickets_per_segment: 1000,
        }
    }
}

/// A stream's own, tighter, price ceiling (`None`: the broadcaster-wide one applies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCeiling {
    pub max_price_per_pixel: Option<U256>,
    pub max_price_per_segment: Option<U256>,
}

impl StreamCeiling {
    /// Parses `maxPricePerPixel` / `maxPricePerSegment` (wei, decimal) from a URL query string;
    /// unknown keys are ignored.
    pub fn from_query(query: &str) -> Result<Self, String> {
        let mut ceiling = Self::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match key {
                "maxPricePerPixel" => &mut ceiling.max_price_per_pixel,
                "maxPricePerSegment" => &mut ceiling.max_price_per_segment,
                _ => continue,
            };
            let parsed = value
                .parse::<U256>()
                .map_err(|_| format!("{key}={value:?} is not a wei amount"))?;
            *slot = Some(parsed);
        }
        Ok(ceiling)
    }
}

/// Why a quote was refused; the code is what metrics and `/v1/status` count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("quote is for chain {quoted}, ours is {ours}")]
    WrongChain { quoted: u64, ours: u64 },
    #[error("quote names broker {quoted}, ours is {ours}")]
    WrongBroker { quoted: Address, ours: Address },
    #[error("tickets would pay {quoted}, not the orchestrator {expected}")]
    WrongRecipient { quoted: Address, expected: Address },
    #[error("tickets would be funded by {quoted}, not by us ({ours})")]
    WrongSender { quoted: Address, ours: Address },
    #[error("a ticket of these parameters is worth nothing")]
    Worthless,
    #[error("quoted ticket value {quoted} is not face value × win probability = {actual}")]
    TicketValue { quoted: U256, actual: U256 },
    #[error("face value {face_value} is above our cap {cap}")]
    FaceValue { face_value: U256, cap: U256 },
    #[error("price {price} wei/pixel is above our ceiling {ceiling}")]
    PricePerPixel { price: U256, ceiling: U256 },
    #[error("price {price} wei/pixel is above the {advertised} advertised on-chain")]
    AboveAdvertised { price: U256, advertised: U256 },
    #[error("the segment would cost {cost} wei, above our ceiling {ceiling}")]
    PricePerSegment { cost: U256, ceiling: U256 },
    #[error("paying the segment takes {tickets} tickets, above our cap {cap}")]
    TooManyTickets { tickets: U256, cap: u64 },
    #[error("paying the segment sends {value} wei of expected value, above our cap {cap}")]
    ValuePerSegment { value: U256, cap: U256 },
    #[error("ticket parameters expired at block {expiration}, now {block}")]
    Expired { expiration: u64, block: u64 },
    #[error("amounts overflow")]
    Overflow,
}

impl QuoteError {
    /// The machine-readable reason.
    pub fn code(&self) -> &'static str {
        match self {
            Self::WrongChain { .. } => "wrong_chain",
            Self::WrongBroker { .. } => "wrong_broker",
            Self::WrongRecipient { .. } => "wrong_recipient",
            Self::WrongSender { .. } => "wrong_sender",
            Self::Worthless => "worthless_ticket",
            Self::TicketValue { .. } => "bad_ticket_value",
            Self::FaceValue { .. } => "face_value_too_high",
            Self::PricePerPixel { .. } => "price_too_high",
            Self::AboveAdvertised { .. } => "price_above_advertised",
            Self::PricePerSegment { .. } => "segment_price_too_high",
            Self::TooManyTickets { .. } => "too_many_tickets",
            Self::ValuePerSegment { .. } => "value_per_segment_too_high",
            Self::Expired { .. } => "params_expired",
            Self::Overflow => "overflow",
        }
    }

    /// A quote that lies (about who is paid, what a ticket is worth or where it is valid), as
    /// opposed to one that is honest but too expensive for us: the former is the orchestrator's
    /// failure.
    pub fn is_dishonest(&self) -> bool {
        matches!(
            self,
            Self::WrongChain { .. }
                | Self::WrongBroker { .. }
                | Self::WrongRecipient { .. }
                | Self::WrongSender { .. }
                | Self::Worthless
                | Self::TicketValue { .. }
                | Self::Overflow
        )
    }
}

/// `faceValue × winProb / 2²⁵⁶`, rounded down, with `winProb = 2²⁵⁶ − 1` read as certainty: the
/// expected value of one ticket, computed in 512 bits so it never wraps.
pub fn expected_value(face_value: U256, win_prob: U256) -> U256 {
    if win_prob == U256::MAX {
        return face_value;
    }
    let product: Uint<512, 8> = face_value.widening_mul(win_prob);
    let high: [u64; 4] = product.as_limbs()[4..]
        .try_into()
        .expect("a 512-bit product has 8 limbs");
    U256::from_limbs(high)
}

/// The win probability as a fraction of one.
pub fn win_fraction(win_prob: U256) -> f64 {
    let as_f64 = |x: U256| -> f64 {
        x.as_limbs().iter().rev().fold(0.0, |acc, &limb| {
            acc * 18_446_744_073_709_551_616.0 + limb as f64
        })
    };
    (as_f64(win_prob) / as_f64(U256::MAX)).clamp(0.0, 1.0)
}

/// What the quote is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Expectations {
    /// Our deployment: the only chain and broker we sign for.
    pub domain: TicketDomain,
    /// Who funds our tickets.
    pub sender: Address,
    /// The orchestrator's on-chain address (the registry listing we chose).
    pub recipient: Address,
    /// Its advertised price on-chain (0: none).
    pub advertised: U256,
    /// The block now.
    pub block: u64,
    /// Our deposit plus our reserve allocation per recipient, if known.
    pub funds: Option<U256>,
}

/// Checks the fields of `info` that do not depend on the segment.
pub fn check_quote(
    info: &OrchestratorInfo,
    expect: &Expectations,
    limits: &PaymentLimits,
    ceiling: &StreamCeiling,
) -> Result<(), QuoteError> {
    let p = &info.ticket_params;
    if info.chain_id != expect.domain.chain_id {
        return Err(QuoteError::WrongChain {
            quoted: info.chain_id,
            ours: expect.domain.chain_id,
        });
    }
    if info.ticket_broker != expect.domain.broker {
        return Err(QuoteError::WrongBroker {
            quoted: info.ticket_broker,
            ours: expect.domain.broker,
        });
    }
    if p.recipient != expect.recipient {
        return Err(QuoteError::WrongRecipient {
            quoted: p.recipient,
            expected: expect.recipient,
        });
    }
    if p.sender != expect.sender {
        return Err(QuoteError::WrongSender {
            quoted: p.sender,
            ours: expect.sender,
        });
    }
    let actual = expected_value(p.face_value, p.win_prob);
    if actual.is_zero() {
        return Err(QuoteError::Worthless);
    }
    if p.ticket_value != actual {
        return Err(QuoteError::TicketValue {
            quoted: p.ticket_value,
            actual,
        });
    }
    let mut cap = limits.max_face_value;
    if let Some(funds) = expect.funds {
        cap = cap.min(funds / U256::from(limits.face_value_funds_divisor.max(1)));
    }
    if p.face_value > cap {
        return Err(QuoteError::FaceValue {
            face_value: p.face_value,
            cap,
        });
    }
    let ceiling_ppx = ceiling
        .max_price_per_pixel
        .map_or(limits.max_price_per_pixel, |c| {
            c.min(limits.max_price_per_pixel)
        });
    if info.price_per_pixel > ceiling_ppx {
        return Err(QuoteError::PricePerPixel {
            price: info.price_per_pixel,
            ceiling: ceiling_ppx,
        });
    }
    if !expect.advertised.is_zero() && info.price_per_pixel > expect.advertised {
        return Err(QuoteError::AboveAdvertised {
            price: info.price_per_pixel,
            advertised: expect.advertised,
        });
    }
    if p.expiration_block < expect.block {
        return Err(QuoteError::Expired {
            expiration: p.expiration_block,
            block: expect.block,
        });
    }
    Ok(())
}

/// What paying one segment takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bill {
    /// What the work costs at the quoted price.
    pub cost: U256,
    /// Tickets to sign.
    pub tickets: u64,
    /// Their expected value in all.
    pub value: U256,
}

/// The tickets that pay for `pixels` at the quote's price, given our `credit` there and a
/// `headroom_ppm` margin: checked against the segment ceilings and caps, never wrapping.
pub fn bill(
    info: &OrchestratorInfo,
    pixels: u64,
    credit: U256,
    headroom_ppm: u64,
    limits: &PaymentLimits,
    ceiling: &StreamCeiling,
) -> Result<Bill, QuoteError> {
    let ticket_value = expected_value(info.ticket_params.face_value, info.ticket_params.win_prob);
    if ticket_value.is_zero() {
        return Err(QuoteError::Worthless);
    }
    let cost = info
        .price_per_pixel
        .checked_mul(U256::from(pixels))
        .ok_or(QuoteError::Overflow)?;
    let ceiling_seg = ceiling
        .max_price_per_segment
        .map_or(limits.max_price_per_segment, |c| {
            c.min(limits.max_price_per_segment)
        });
    if cost > ceiling_seg {
        return Err(QuoteError::PricePerSegment {
            cost,
            ceiling: ceiling_seg,
        });
    }
    let margin = cost
        .checked_mul(U256::from(headroom_ppm))
        .ok_or(QuoteError::Overflow)?
        / U256::from(1_000_000u64);
    let wanted = cost.checked_add(margin).ok_or(QuoteError::Overflow)?;
    let missing = wanted.saturating_sub(credit);
    let count = if missing.is_zero() {
        U256::ZERO
    } else {
        missing.div_ceil(ticket_value)
    };
    let tickets = u64::try_from(count)
        .ok()
        .filter(|&n| n <= limits.max_tickets_per_segment)
        .ok_or(QuoteError::TooManyTickets {
            tickets: count,
            cap: limits.max_tickets_per_segment,
        })?;
    let value = ticket_value
        .checked_mul(U256::from(tickets))
        .ok_or(QuoteError::Overflow)?;
    if value > limits.max_value_per_segment {
        return Err(QuoteError::ValuePerSegment {
            value,
            cap: limits.max_value_per_segment,
        });
    }
    Ok(Bill {
        cost,
        tickets,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::B256;
    use peerflow_protocol::api::TicketParamsMsg;

    const ME: Address = Address::repeat_byte(0xb0);
    const ORCH: Address = Address::repeat_byte(0x0c);

    fn domain() -> TicketDomain {
        TicketDomain {
            chain_id: 31337,
            broker: Address::repeat_byte(0xbb),
        }
    }

    fn expect() -> Expectations {
        Expectations {
            domain: domain(),
            sender: ME,
            recipient: ORCH,
            advertised: U256::from(2u64),
            block: 100,
            funds: Some(U256::from(100 * TOKEN)),
        }
    }

    /// An honest quote: 1 wei/pixel, face 0.01 token at 1/10.
    fn honest() -> OrchestratorInfo {
        let face_value = U256::from(TOKEN / 100);
        let win_prob = U256::MAX / U256::from(10u64);
        OrchestratorInfo {
            orchestrator: ORCH,
            chain_id: 31337,
            ticket_broker: domain().broker,
            price_per_pixel: U256::from(1u64),
            codecs: vec!["h264".into()],
            capacity_pixels_per_second: 1,
            ticket_params: TicketParamsMsg {
                recipient: ORCH,
                sender: ME,
                face_value,
                win_prob,
                recipient_rand_hash: B256::repeat_byte(1),
                creation_round: 1,
                expiration_block: 110,
                ticket_value: expected_value(face_value, win_prob),
            },
            balance: U256::ZERO,
            next_nonce: 0,
            next_request_nonce: 0,
        }
    }

    fn refused(info: &OrchestratorInfo) -> &'static str {
        check_quote(
            info,
            &expect(),
            &PaymentLimits::default(),
            &StreamCeiling::default(),
        )
        .unwrap_err()
        .code()
    }

    #[test]
    fn an_honest_quote_passes_and_every_lie_is_named() {
        let limits = PaymentLimits::default();
        check_quote(&honest(), &expect(), &limits, &StreamCeiling::default()).unwrap();
        let mut q = honest();
        q.chain_id = 1;
        assert_eq!(refused(&q), "wrong_chain");
        let mut q = honest();
        q.ticket_broker = Address::repeat_byte(9);
        assert_eq!(refused(&q), "wrong_broker");
        let mut q = honest();
        q.ticket_params.recipient = Address::repeat_byte(9);
        assert_eq!(refused(&q), "wrong_recipient");
        let mut q = honest();
        q.ticket_params.sender = Address::repeat_byte(9);
        assert_eq!(refused(&q), "wrong_sender");
        let mut q = honest();
        q.ticket_params.ticket_value *= U256::from(1000u64);
        assert_eq!(refused(&q), "bad_ticket_value");
        let mut q = honest();
        q.ticket_params.win_prob = U256::ZERO;
        assert_eq!(refused(&q), "worthless_ticket");
        // The whole deposit at certainty, honestly valued: the face value cap refuses it.
        let mut q = honest();
        q.ticket_params.face_value = U256::from(100 * TOKEN);
        q.ticket_params.win_prob = U256::MAX;
        q.ticket_params.ticket_value = q.ticket_params.face_value;
        assert_eq!(refused(&q), "face_value_too_high");
        let mut q = honest();
        q.price_per_pixel = U256::from(3u64);
        assert_eq!(refused(&q), "price_above_advertised");
        q.price_per_pixel = U256::from(10_000_000_000u64);
        assert_eq!(refused(&q), "price_too_high");
        let mut q = honest();
        q.ticket_params.expiration_block = 99;
        assert_eq!(refused(&q), "params_expired");
    }

    #[test]
    fn the_face_value_cap_follows_the_funds() {
        let mut q = honest();
        q.ticket_params.face_value = U256::from(TOKEN / 2);
        q.ticket_params.ticket_value =
            expected_value(q.ticket_params.face_value, q.ticket_params.win_prob);
        let limits = PaymentLimits::default();
        let poor = Expectations {
            funds: Some(U256::from(4 * TOKEN)),
            ..expect()
        };
        let err = check_quote(&q, &poor, &limits, &StreamCeiling::default()).unwrap_err();
        assert_eq!(
            err,
            QuoteError::FaceValue {
                face_value: U256::from(TOKEN / 2),
                cap: U256::from(4 * TOKEN / 10)
            }
        );
        check_quote(&q, &expect(), &limits, &StreamCeiling::default()).unwrap();
    }

    #[test]
    fn a_stream_ceiling_only_tightens() {
        let limits = PaymentLimits::default();
        let tight = StreamCeiling::from_query("maxPricePerPixel=0&x=1").unwrap();
        assert_eq!(
            check_quote(&honest(), &expect(), &limits, &tight)
                .unwrap_err()
                .code(),
            "price_too_high"
        );
        let loose = StreamCeiling {
            max_price_per_pixel: Some(U256::MAX),
            max_price_per_segment: Some(U256::MAX),
        };
        let mut q = honest();
        q.price_per_pixel = U256::from(10_000_000_000u64);
        let mut e = expect();
        e.advertised = U256::ZERO;
        assert_eq!(
            check_quote(&q, &e, &limits, &loose).unwrap_err().code(),
            "price_too_high",
            "a stream cannot loosen the broadcaster's ceiling"
        );
        assert!(StreamCeiling::from_query("maxPricePerSegment=lots").is_err());
    }

    #[test]
    fn bills_are_checked_and_never_wrap() {
        let limits = PaymentLimits::default();
        let open = StreamCeiling::default();
        let q = honest();
        let tv = q.ticket_params.ticket_value;
        // 1e15 pixels at 1 wei cost 1e15 wei; +20 % = 1.2e15 → ceil(1.2e15 / tv) tickets.
        let b = bill(
            &q,
            1_000_000_000_000_000,
            U256::ZERO,
            200_000,
            &limits,
            &open,
        )
        .unwrap();
        assert_eq!(b.cost, U256::from(1_000_000_000_000_000u64));
        assert_eq!(
            U256::from(b.tickets),
            U256::from(1_200_000_000_000_000u64).div_ceil(tv)
        );
        assert_eq!(b.value, tv * U256::from(b.tickets));
        // Credit covers it: nothing is signed.
        let b = bill(&q, 1000, U256::from(TOKEN), 200_000, &limits, &open).unwrap();
        assert_eq!((b.tickets, b.value), (0, U256::ZERO));
        // A price that would wrap the product is refused, not wrapped.
        let mut q = honest();
        q.price_per_pixel = U256::MAX / U256::from(2u64);
        assert_eq!(
            bill(&q, u64::MAX, U256::ZERO, 200_000, &limits, &open).unwrap_err(),
            QuoteError::Overflow
        );
        // A tiny ticket value needs more tickets than we sign per segment.
        let mut q = honest();
        q.ticket_params.win_prob = U256::from(1u64) << 220;
        assert_eq!(
            bill(&q, 1_000_000_000, U256::ZERO, 0, &limits, &open)
                .unwrap_err()
                .code(),
            "too_many_tickets"
        );
        // A segment over the per-segment price ceiling.
        assert_eq!(
            bill(
                &honest(),
                2_000_000_000_000_000_000,
                U256::ZERO,
                0,
                &limits,
                &open
            )
            .unwrap_err()
            .code(),
            "segment_price_too_high"
        );
        // A ticket value over the per-segment value cap.
        let capped = PaymentLimits {
            max_value_per_segment: U256::from(1u64),
            ..limits
        };
        assert_eq!(
            bill(&honest(), 10, U256::ZERO, 0, &capped, &open)
                .unwrap_err()
                .code(),
            "value_per_segment_too_high"
        );
    }

    #[test]
    fn expected_value_and_win_fraction() {
        let face = U256::from(1_000_000u64);
        assert_eq!(expected_value(face, U256::MAX), face);
        assert_eq!(expected_value(face, U256::ZERO), U256::ZERO);
        let half = expected_value(face, U256::MAX / U256::from(2u64));
        assert!(half == U256::from(499_999u64) || half == U256::from(500_000u64));
        assert!((win_fraction(U256::MAX / U256::from(10u64)) - 0.1).abs() < 1e-12);
        assert_eq!(win_fraction(U256::ZERO), 0.0);
        assert_eq!(win_fraction(U256::MAX), 1.0);
    }
}
