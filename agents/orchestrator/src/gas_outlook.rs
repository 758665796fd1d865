//! Ticket face value that follows the gas outlook, so that redeeming a winner stays within the
//! redemption policy's share of what it pays ([`GasPolicy::max_cost_ppm`], 1 %) when gas rises.
//!
//! The outlook is the median base fee of the last [`OUTLOOK_BLOCKS`] blocks (`eth_feeHistory`), so
//! a single expensive block moves nothing and a spike that lasts does. The face value is the
//! configured one doubled as often as needed (`floor × 2^k`: stable while gas wobbles, so the
//! parameters broadcasters hold are not reissued for nothing), up to a cap: past it the tickets
//! keep the cap and the redeemer waits for cheaper gas (down to a ticket's last valid round), while
//! segments keep flowing. Nothing about serving depends on gas.

use std::sync::Arc;
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::U256;
use alloy::providers::Provider;

use crate::redeemer::GasPolicy;

/// Blocks the outlook's median covers.
pub const OUTLOOK_BLOCKS: u64 = 20;

/// How often the outlook is read.
pub const OUTLOOK_POLL: Duration = Duration::from_secs(2);

/// The face value to quote for a gas outlook.
#[derive(Debug, Clone, Copy)]
pub struct FacePolicy {
    /// The configured face value: never less.
    pub floor: U256,
    /// Never more (0: the face value does not follow gas).
    pub cap: U256,
    pub gas: GasPolicy,
}

impl FacePolicy {
    /// The smallest `floor × 2^k` (at most `cap`) whose redemption alone, at `gas_price` wei, costs
    /// no more than the policy's share of it.
    pub fn face_value(&self, gas_price: u128) -> U256 {
        if self.cap.is_zero() || self.floor.is_zero() || self.floor >= self.cap {
            return self.floor;
        }
        let mut face = self.floor;
        while !self.gas.worth_it(1, face, gas_price) {
            let doubled = face.saturating_mul(U256::from(2u64));
            if doubled >= self.cap {
                return self.cap;
            }
            face = doubled;
        }
        face
    }
}

/// The median of `base_fees` (the outlook), if any.
pub fn outlook(base_fees: &[u128]) -> Option<u128> {
    let mut fees = base_fees.to_vec();
    fees.sort_unstable();
    fees.get(fees.len() / 2).copied()
}

/// Reads the outlook every [`OUTLOOK_POLL`] and hands the face value it calls for to `set` (which
/// sees the same value again until the outlook moves it).
pub async fn follow<P: Provider>(
    provider: P,
    policy: FacePolicy,
    set: Arc<dyn Fn(U256) + Send + Sync>,
) {
    loop {
        match provider
            .get_fee_history(OUTLOOK_BLOCKS, BlockNumberOrTag::Latest, &[])
            .await
        {
            Ok(history) => {
                // The last entry is the next block's base fee: the outlook is what was paid.
                let paid =
                    &history.base_fee_per_gas[..history.base_fee_per_gas.len().saturating_sub(1)];
                if let Some(fee) = outlook(paid) {
                    set(policy.face_value(fee));
                }
            }
            Err(error) => tracing::debug!(%error, "reading the gas outlook"),
        }
        tokio::time::sleep(OUTLOOK_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: u64 = 1_000_000_000_000_000_000;

    fn policy(cap: u64) -> FacePolicy {
        FacePolicy {
            floor: U256::from(TOKEN / 100),
            cap: U256::from(cap),
            gas: GasPolicy::default(),
        }
    }

    #[test]
    fn the_face_value_doubles_until_redemption_is_worth_it_and_stops_at_the_cap() {
        let gwei = 1_000_000_000u128;
        // 61,000 gas at 1 gwei is 0.000061 token at 1:1: 0.61 % of 0.01: the floor.
        assert_eq!(policy(TOKEN).face_value(gwei), U256::from(TOKEN / 100));
        // At 100 gwei it is 0.0061: 1 % of it needs 0.61, so 0.01 × 64 = 0.64.
        assert_eq!(
            policy(TOKEN).face_value(100 * gwei),
            U256::from(TOKEN / 100 * 64)
        );
        // At 1,000 gwei it would need 6.1: the cap (1 token) holds.
        assert_eq!(policy(TOKEN).face_value(1000 * gwei), U256::from(TOKEN));
        // No cap: the face value does not follow gas.
        assert_eq!(policy(0).face_value(1000 * gwei), U256::from(TOKEN / 100));
    }

    #[test]
    fn the_outlook_is_the_median_so_one_block_moves_nothing() {
        assert_eq!(outlook(&[]), None);
        assert_eq!(outlook(&[5, 1, 1, 1, 1000]), Some(1));
        assert_eq!(outlook(&[100, 100, 100, 1, 1]), Some(100));
    }
}
