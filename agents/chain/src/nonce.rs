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
//! per address and for the whole process, the nonces it handed out to sends still in flight and
//! the last nonce the node accepted from it: the next send takes the highest of the pending count,
//! the highest in flight + 1, and the last accepted + 1 (a node may count an accepted transaction a
//! moment late; a load-balanced provider may ask another node). That last one only stands while the
//! node still knows the transaction: one a reorg took out and dropped no longer holds the nonce.
//! Sends of one key in one process take turns from taking their nonce until the node accepted or
//! refused them, so they never collide, and neither a refused estimate (its nonce is released
//! unused, before the next send takes one) nor a reorg leaves a gap. A nonce handed to a send made without [`send`] is
//! released after [`HINT`]. [`send`] also retries a call the node refused for its nonce (another
//! process took it between the read and the send) with a fresh one.
//!
//! A retried `eth_sendRawTransaction` whose first try was accepted is turned into success by the
//! transport ([`crate::rpc`]), so a "nonce too low" reaching [`send`] means the transaction was
//! not accepted and sending it again cannot pay twice.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::network::Ethereum;
use alloy::primitives::{Address, B256};
use alloy::providers::fillers::NonceManager;
use alloy::providers::{PendingTransactionBuilder, Provider};
use alloy::transports::TransportResult;

/// How long a nonce handed to a send not made through [`send`] counts as in flight.
pub const HINT: Duration = Duration::from_secs(15);

/// Sends of one call refused for their nonce before [`send`] gives up.
pub const ATTEMPTS: usize = 4;

/// Per address: the nonces handed out to sends still in flight (with when), how many sends have
/// ended (a pending count read before one ended may be stale), and the last accepted transaction.
#[derive(Default)]
struct Account {
    in_flight: BTreeMap<u64, Instant>,
    ended: u64,
    /// The nonce after the highest one the node accepted from this process, and that transaction.
    accepted: Option<(u64, B256)>,
}

static ACCOUNTS: LazyLock<Mutex<HashMap<Address, Account>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn accounts() -> std::sync::MutexGuard<'static, HashMap<Address, Account>> {
    ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Per address: whose turn it is to take a nonce and hand its transaction to the node. A send made
/// through [`send`] holds it from taking its nonce until the node accepted or refused it, so a
/// send that fails never leaves a gap under a later one that went through.
static TURNS: LazyLock<Mutex<HashMap<Address, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn turn_of(address: Address) -> Arc<tokio::sync::Mutex<()>> {
    let mut turns = TURNS.lock().unwrap_or_else(|e| e.into_inner());
    Arc::clone(turns.entry(address).or_default())
}

/// A nonce a send in this task took, and its turn.
struct Taken {
    address: Address,
    nonce: u64,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

tokio::task_local! {
    /// The nonces taken by the send [`send`] is making in this task.
    static TAKEN: RefCell<Vec<Taken>>;
}

/// What [`SharedNonces::take`] decided.
#[derive(Debug, PartialEq, Eq)]
enum Take {
    Nonce(u64),
    /// A send ended after the pending count was read: read it again.
    Stale,
    /// The count is below the last accepted transaction's: ask the node whether it still knows it.
    Check(B256),
}

/// The process-wide nonce manager (see the module's description).
#[derive(Debug, Clone, Copy, Default)]
pub struct SharedNonces;

impl SharedNonces {
    /// Sends of `address` ended so far.
    fn ended(address: Address) -> u64 {
        accounts().get(&address).map_or(0, |a| a.ended)
    }

    /// The nonce to use given a pending count read when `ended` sends had ended; `known`: the node
    /// still knows the last accepted transaction. The nonce counts as in flight until released.
    fn take(address: Address, pending: u64, ended: u64, known: bool, now: Instant) -> Take {
        let mut all = accounts();
        let account = all.entry(address).or_default();
        if account.ended != ended {
            return Take::Stale;
        }
        let mut floor = pending;
        if let Some((next, tx)) = account.accepted
            && next > pending
        {
            if !known {
                return Take::Check(tx);
            }
            floor = next;
        }
        account
            .in_flight
            .retain(|_, at| now.duration_since(*at) < HINT);
        let nonce = account
            .in_flight
            .last_key_value()
            .map_or(floor, |(&n, _)| floor.max(n + 1));
        account.in_flight.insert(nonce, now);
        Take::Nonce(nonce)
    }

    /// The node no longer knows `tx` (a reorg took it out): it holds no nonce.
    fn unknown(address: Address, tx: B256) {
        let mut all = accounts();
        if let Some(account) = all.get_mut(&address)
            && account.accepted.is_some_and(|(_, t)| t == tx)
        {
            account.accepted = None;
        }
    }

    /// The send that took `nonce` is over: accepted by the node as `accepted`, or failed.
    fn release(address: Address, nonce: u64, accepted: Option<B256>) {
        let mut all = accounts();
        let account = all.entry(address).or_default();
        account.in_flight.remove(&nonce);
        account.ended += 1;
        if let Some(tx) = accepted
            && account.accepted.is_none_or(|(next, _)| nonce >= next)
        {
            account.accepted = Some((nonce + 1, tx));
        }
    }
}

#[async_trait::async_trait]
impl NonceManager for SharedNonces {
    async fn get_next_nonce<P, N>(&self, provider: &P, address: Address) -> TransportResult<u64>
    where
        P: Provider<N>,
        N: alloy::network::Network,
    {
        // Inside [`send`], wait for this key's turn (held until the send is over).
        let turn = match TAKEN.try_with(|_| ()) {
            Ok(()) => Some(turn_of(address).lock_owned().await),
            Err(_) => None,
        };
        let mut known = false;
        let nonce = loop {
            let ended = Self::ended(address);
            let pending = provider.get_transaction_count(address).pending().await?;
            match Self::take(address, pending, ended, known, Instant::now()) {
                Take::Nonce(n) => break n,
                Take::Stale => known = false,
                Take::Check(tx) => {
                    known = provider.get_transaction_by_hash(tx).await?.is_some();
                    if !known {
                        Self::unknown(address, tx);
                    }
                }
            }
        };
        // Inside [`send`], the nonce is released, and the turn passed on, when its send is over.
        if let Some(turn) = turn {
            let _ = TAKEN.try_with(|t| {
                t.borrow_mut().push(Taken {
                    address,
                    nonce,
                    _turn: turn,
                })
            });
        }
        Ok(nonce)
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
/// its nonce; each attempt's nonce is released when the attempt is over.
pub async fn send<P: Provider, D: CallDecoder>(
    call: &CallBuilder<P, D>,
) -> Result<PendingTransactionBuilder<Ethereum>, alloy::contract::Error> {
    let mut attempt = 1;
    loop {
        let (sent, taken) = TAKEN
            .scope(RefCell::new(Vec::new()), async {
                let sent = call.send().await;
                (sent, TAKEN.with(|t| t.take()))
            })
            .await;
        // The filler takes one nonce per send; the accepted transaction has the last one taken.
        let accepted = sent.as_ref().ok().map(|p| *p.tx_hash());
        let last = taken.len().saturating_sub(1);
        for (i, t) in taken.into_iter().enumerate() {
            SharedNonces::release(t.address, t.nonce, accepted.filter(|_| i == last));
            // The turn passes on here, once the release is recorded.
        }
        match sent {
            Ok(pending) => return Ok(pending),
            Err(error) if attempt < ATTEMPTS && refused_for_nonce(&error) => {
                tracing::debug!(%error, attempt, "the nonce was taken: sending again");
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 * attempt as u64)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_in_flight_take_the_next_nonces_and_release_them() {
        let a = Address::repeat_byte(0xa1);
        let t = Instant::now();
        let take =
            |pending, known| SharedNonces::take(a, pending, SharedNonces::ended(a), known, t);
        // Two sends in flight before the node counts the first: consecutive nonces.
        assert_eq!(take(5, false), Take::Nonce(5));
        assert_eq!(take(5, false), Take::Nonce(6));
        // Another sender moved the account on: the chain wins.
        assert_eq!(take(9, false), Take::Nonce(9));
        // A count read before a send ended is read again.
        let before = SharedNonces::ended(a);
        SharedNonces::release(a, 5, None);
        SharedNonces::release(a, 6, None);
        assert_eq!(SharedNonces::take(a, 5, before, false, t), Take::Stale);
        // 9 was accepted; a node that counts 9 still (late, or another node) is asked about it.
        let tx = B256::repeat_byte(9);
        SharedNonces::release(a, 9, Some(tx));
        assert_eq!(take(9, false), Take::Check(tx));
        assert_eq!(take(9, true), Take::Nonce(10));
        SharedNonces::release(a, 10, None);
        // Once the node no longer knows it (reorged out), the count alone: no gap.
        SharedNonces::unknown(a, tx);
        assert_eq!(take(9, false), Take::Nonce(9));
        // A nonce never released (a send made without `send`) stops counting after HINT.
        let later = SharedNonces::take(a, 9, SharedNonces::ended(a), false, t + HINT);
        assert_eq!(later, Take::Nonce(9));
    }
}
