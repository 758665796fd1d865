//! One nonce sequence per key for the whole process, and sends that survive a nonce someone else
//! took.
//!
//! alloy's default `CachedNonceManager` reads the account's nonce once and counts up from there in
//! memory, one cache per provider. That breaks in three ways an operator meets: a second provider
//! or process signing with the same key (the redeemer, `reward()`, `peerflow stake`, a wallet) makes
//! every later send "nonce too low"; a call whose gas estimate reverts has already taken its nonce,
//! so every later send waits behind a gap that is never filled; and nothing ever re-reads the chain.
//!
//! [`SharedNonces`] instead asks the chain for the account's pending count at every send and keeps,
//! per address and for the whole process, only a short-lived hint of the nonces it handed out that
//! the node may not count yet ([`HINT`]): concurrent sends in one process never collide, and a hint
//! left by a send that never went out expires instead of leaving a gap. [`send`] retries a call
//! the node refused for its nonce (another process took it between the read and the send) with a
//! fresh one, and drops the hints of a send that failed.
//!
//! A retried `eth_sendRawTransaction` whose first try was accepted is turned into success by the
//! transport ([`crate::rpc`]), so a "nonce too low" reaching [`send`] means the transaction was
//! not accepted and sending it again cannot pay twice.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::network::Ethereum;
use alloy::primitives::Address;
use alloy::providers::fillers::NonceManager;
use alloy::providers::{PendingTransactionBuilder, Provider};
use alloy::transports::TransportResult;

/// How long a handed-out nonce the node may not count yet stands in for its count.
pub const HINT: Duration = Duration::from_secs(15);

/// The longest a sender waits for a sent transaction's receipt; past it the caller reports the
/// send as failed and tries again later (a transaction that did land makes the retry's outcome
/// "already done": a used ticket nonce, a vote already cast).
pub const RECEIPT_WAIT: Duration = Duration::from_secs(300);

/// Sends of one call refused for their nonce before [`send`] gives up.
pub const ATTEMPTS: usize = 4;

/// Per address: the next nonce this process would hand out, and when that was decided.
static NEXT: LazyLock<Mutex<HashMap<Address, (u64, Instant)>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The process-wide nonce manager: `max(pending count, fresh hint)` for each send.
#[derive(Debug, Clone, Copy, Default)]
pub struct SharedNonces;

impl SharedNonces {
    /// The nonce to use given the node's pending count, recording the next one as a hint.
    fn take(address: Address, pending: u64, now: Instant) -> u64 {
        let mut next = NEXT.lock().unwrap_or_else(|e| e.into_inner());
        let nonce = match next.get(&address) {
            Some(&(hint, at)) if now.duration_since(at) < HINT => hint.max(pending),
            _ => pending,
        };
        next.insert(address, (nonce + 1, now));
        nonce
    }

    /// Drops every hint: the next send reads the chain alone. Called after a send failed (its
    /// nonce was taken but may never reach the node).
    pub fn forget() {
        NEXT.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[async_trait::async_trait]
impl NonceManager for SharedNonces {
    async fn get_next_nonce<P, N>(&self, provider: &P, address: Address) -> TransportResult<u64>
    where
        P: Provider<N>,
        N: alloy::network::Network,
    {
        let pending = provider.get_transaction_count(address).pending().await?;
        Ok(Self::take(address, pending, Instant::now()))
    }
}

/// Whether the node refused a transaction for its nonce: another sender took it first (or holds
/// it in the pool with another transaction), so the same call with a fresh nonce may go through.
pub fn refused_for_nonce(error: &alloy::contract::Error) -> bool {
    let alloy::contract::Error::TransportError(e) = error else {
        return false;
    };
    let Some(payload) = e.as_error_resp() else {
        return false;
    };
    let m = payload.message.to_ascii_lowercase();
    m.contains("nonce too low")
        || m.contains("nonce is too low")
        || m.contains("replacement transaction underpriced")
        || m.contains("invalid nonce")
}

/// Sends `call`, again with a fresh nonce (up to [`ATTEMPTS`] times) when the node refuses it for
/// its nonce; any failed send drops the process's nonce hints.
pub async fn send<P: Provider, D: CallDecoder>(
    call: &CallBuilder<P, D>,
) -> Result<PendingTransactionBuilder<Ethereum>, alloy::contract::Error> {
    let mut attempt = 1;
    loop {
        match call.send().await {
            Ok(pending) => return Ok(pending),
            Err(error) => {
                SharedNonces::forget();
                if attempt >= ATTEMPTS || !refused_for_nonce(&error) {
                    return Err(error);
                }
                tracing::debug!(%error, attempt, "the nonce was taken: sending again");
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 * attempt as u64)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_cover_the_nodes_lag_and_expire() {
        let a = Address::repeat_byte(0xa1);
        let t = Instant::now();
        // Two sends before the node counts the first: consecutive nonces.
        assert_eq!(SharedNonces::take(a, 5, t), 5);
        assert_eq!(SharedNonces::take(a, 5, t), 6);
        // Another sender moved the account on: the chain wins.
        assert_eq!(SharedNonces::take(a, 9, t), 9);
        // A hint left by a send that never went out expires: no lasting gap.
        assert_eq!(SharedNonces::take(a, 9, t + HINT), 9);
    }
}
