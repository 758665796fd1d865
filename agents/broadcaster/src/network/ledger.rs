//! The broadcaster's own books of what it paid each orchestrator, kept in memory for this process:
//! the expected value of the tickets sent, the price of the work charged against it at the quoted
//! price, the credit left (never the balance the orchestrator reports), the quotes refused by
//! reason, and the win-rate watch: the nonces of every ticket sent with their win probabilities,
//! so that on-chain redemptions of our tickets can be counted against the expected count of
//! winners. An orchestrator whose wins exceed what chance allows by a clear margin (a one-sided
//! Poisson tail below [`WinPolicy::p_value`], at least [`WinPolicy::min_wins`] wins) is flagged;
//! the watcher ([`watch_wins`]) suspends it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolEvent;
use peerflow_chain::bindings::ticket_broker::TicketBroker;
use peerflow_chain::logscan::LogScanner;
use peerflow_protocol::metrics::Metrics;
use serde::Serialize;

use super::pricing::win_fraction;
use super::reputation::Reputation;

/// The most nonce ranges remembered per orchestrator (a range per quote whose nonces do not
/// follow the last one's).
const MAX_RANGES: usize = 4096;

/// When a win count is too high to be chance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WinPolicy {
    /// Flag when P(at least this many wins | expected) is below this.
    pub p_value: f64,
    /// …and at least this many wins were redeemed.
    pub min_wins: u64,
}

impl Default for WinPolicy {
    /// p < 1e-6 with at least 5 wins.
    fn default() -> Self {
        Self {
            p_value: 1e-6,
            min_wins: 5,
        }
    }
}

/// Our books at one orchestrator.
#[derive(Debug, Clone, Default)]
struct Account {
    tickets: u64,
    value_sent: U256,
    charged: U256,
    credit: U256,
    expected_wins: f64,
    wins: u64,
    face_value_won: U256,
    /// Nonces sent, as half-open ranges, each with its win probability (fraction).
    nonces: Vec<(u64, u64, f64)>,
    flagged: bool,
}

impl Account {
    fn ours(&self, nonce: u64) -> bool {
        self.nonces.iter().any(|&(a, b, _)| (a..b).contains(&nonce))
    }
}

/// One orchestrator's books as `/v1/status` shows them.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub address: Address,
    pub tickets_sent: u64,
    /// Expected value of the tickets sent, wei.
    pub value_sent: String,
    /// The work charged against it at the quoted price, wei.
    pub charged: String,
    /// Our credit there by our own count, wei.
    pub credit: String,
    pub expected_wins: f64,
    /// Our tickets it redeemed on-chain (counted since this process started).
    pub wins: u64,
    pub face_value_won: String,
    /// P(at least `wins` | `expected_wins`).
    pub win_p_value: f64,
    /// Suspended for winning more than chance allows.
    pub win_rate_flagged: bool,
}

/// The books, shared by the payer, the win watcher and the status API.
#[derive(Debug, Default)]
pub struct Ledger {
    accounts: Mutex<HashMap<Address, Account>>,
    refused: Mutex<BTreeMap<&'static str, u64>>,
    policy: WinPolicy,
}

impl Ledger {
    pub fn new(policy: WinPolicy) -> Self {
        Self {
            policy,
            ..Self::default()
        }
    }

    fn with<T>(&self, who: Address, f: impl FnOnce(&mut Account) -> T) -> T {
        let mut all = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        f(all.entry(who).or_default())
    }

    /// Our credit at `who`.
    pub fn credit(&self, who: Address) -> U256 {
        self.with(who, |a| a.credit)
    }

    /// `count` tickets from `first_nonce` on, each worth `ticket_value` and winning with
    /// `win_prob`, were signed for `who`.
    pub fn sent(
        &self,
        who: Address,
        first_nonce: u64,
        count: u64,
        ticket_value: U256,
        win_prob: U256,
    ) {
        if count == 0 {
            return;
        }
        let value = ticket_value.saturating_mul(U256::from(count));
        let p = win_fraction(win_prob);
        self.with(who, |a| {
            a.tickets += count;
            a.value_sent = a.value_sent.saturating_add(value);
            a.credit = a.credit.saturating_add(value);
            a.expected_wins += p * count as f64;
            let end = first_nonce.saturating_add(count);
            match a.nonces.last_mut() {
                Some((_, b, q)) if *b == first_nonce && *q == p => *b = end,
                _ => {
                    if a.nonces.len() >= MAX_RANGES {
                        // Forget the oldest: its wins no longer count (the safe side).
                        a.nonces.remove(0);
                    }
                    a.nonces.push((first_nonce, end, p));
                }
            }
        });
    }

    /// `who` did work worth `cost` at the quoted price.
    pub fn charged(&self, who: Address, cost: U256) {
        self.with(who, |a| {
            a.charged = a.charged.saturating_add(cost);
            a.credit = a.credit.saturating_sub(cost);
        });
    }

    /// A quote was refused for `code`.
    pub fn refused(&self, code: &'static str) {
        *self
            .refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(code)
            .or_default() += 1;
    }

    /// Refused quotes by reason.
    pub fn refusals(&self) -> BTreeMap<&'static str, u64> {
        self.refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `who` redeemed our ticket `nonce` for `face_value`. Returns true when this win makes the
    /// count exceed chance by the policy's margin for the first time. Nonces we did not send (in
    /// this process) are not counted.
    pub fn won(&self, who: Address, nonce: u64, face_value: U256) -> bool {
        let policy = self.policy;
        self.with(who, |a| {
            if !a.ours(nonce) {
                return false;
            }
            a.wins += 1;
            a.face_value_won = a.face_value_won.saturating_add(face_value);
            let flag = !a.flagged
                && a.wins >= policy.min_wins
                && poisson_tail(a.wins, a.expected_wins) < policy.p_value;
            a.flagged |= flag;
            flag
        })
    }

    /// Every account, by address.
    pub fn accounts(&self) -> Vec<AccountView> {
        let all = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<AccountView> = all
            .iter()
            .map(|(&address, a)| AccountView {
                address,
                tickets_sent: a.tickets,
                value_sent: a.value_sent.to_string(),
                charged: a.charged.to_string(),
                credit: a.credit.to_string(),
                expected_wins: a.expected_wins,
                wins: a.wins,
                face_value_won: a.face_value_won.to_string(),
                win_p_value: poisson_tail(a.wins, a.expected_wins),
                win_rate_flagged: a.flagged,
            })
            .collect();
        out.sort_by_key(|a| a.address);
        out
    }
}

/// P(X ≥ k) for X ~ Poisson(λ): the chance of at least `k` wins when `lambda` are expected (the
/// Poisson tail bounds the tail of a sum of independent draws with these probabilities).
pub fn poisson_tail(k: u64, lambda: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    let kf = k as f64;
    if lambda > kf {
        // Not in the upper tail: sum the lower part instead.
        let mut term = (-lambda).exp();
        let mut below = 0.0;
        for i in 0..k {
            below += term;
            term *= lambda / (i + 1) as f64;
        }
        return (1.0 - below).clamp(0.0, 1.0);
    }
    // ln P(X = k), then the terms above it, each smaller than the last.
    let ln_factorial = |n: u64| -> f64 {
        if n < 1000 {
            (2..=n).map(|i| (i as f64).ln()).sum()
        } else {
            let n = n as f64;
            n * n.ln() - n + 0.5 * (2.0 * std::f64::consts::PI * n).ln() + 1.0 / (12.0 * n)
        }
    };
    let mut term = (-lambda + kf * lambda.ln() - ln_factorial(k)).exp();
    let mut sum = 0.0;
    let mut i = k;
    while term > sum * 1e-17 && i < k + 100_000 {
        sum += term;
        i += 1;
        term *= lambda / i as f64;
    }
    sum.min(1.0)
}

/// What the win watcher reads and writes.
pub struct WinWatcher<P> {
    pub chain: P,
    pub broker: Address,
    /// Our account: the tickets' sender.
    pub me: Address,
    pub ledger: Arc<Ledger>,
    pub reputation: Arc<Reputation>,
    pub metrics: Arc<Metrics>,
}

impl<P: Provider> WinWatcher<P> {
    /// Reads our `WinningTicketRedeemed` events in blocks `from..=to`, counts each against its
    /// recipient, and suspends (for the fault period) every orchestrator whose wins just became
    /// implausible. Returns those suspended.
    pub async fn poll(&self, from: u64, to: u64) -> Result<Vec<Address>, String> {
        let filter = TicketBroker::new(self.broker, &self.chain)
            .WinningTicketRedeemed_filter()
            .topic1(self.me)
            .filter;
        // In windows the provider accepts: after an outage `from..=to` may span thousands of blocks.
        let logs = LogScanner::new(filter)
            .scan(&self.chain, from, to)
            .await
            .map_err(|e| e.to_string())?;
        let events = logs
            .iter()
            .filter_map(|l| TicketBroker::WinningTicketRedeemed::decode_log(&l.inner).ok());
        let mut flagged = Vec::new();
        for event in events {
            let Ok(nonce) = u64::try_from(event.senderNonce) else {
                continue;
            };
            self.metrics.inc(
                "peerflow_broadcaster_tickets_won_total",
                "Our tickets redeemed on-chain as winners.",
                &[],
            );
            if self.ledger.won(event.recipient, nonce, event.faceValue) {
                tracing::error!(orchestrator = %event.recipient, "wins far above the win probability; suspending");
                self.metrics.inc(
                    "peerflow_broadcaster_win_rate_suspensions_total",
                    "Orchestrators suspended for winning more tickets than chance allows.",
                    &[],
                );
                if let Err(error) = self.reputation.faulted(event.recipient, "win_rate") {
                    tracing::warn!(%error, "could not record the suspension");
                }
                flagged.push(event.recipient);
            }
        }
        Ok(flagged)
    }

    /// Polls every `every` from the current block on, until aborted.
    pub fn spawn(self, every: Duration) -> tokio::task::JoinHandle<()>
    where
        P: Send + Sync + 'static,
    {
        tokio::spawn(async move {
            let mut next = loop {
                match self.chain.get_block_number().await {
                    Ok(b) => break b,
                    Err(error) => {
                        tracing::warn!(%error, "win watch: reading the block");
                        tokio::time::sleep(every).await;
                    }
                }
            };
            loop {
                tokio::time::sleep(every).await;
                let Ok(head) = self.chain.get_block_number().await else {
                    continue;
                };
                if head < next {
                    continue;
                }
                match self.poll(next, head).await {
                    Ok(_) => next = head + 1,
                    Err(error) => tracing::warn!(%error, "win watch: reading redemptions"),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_poisson_tail_matches_known_values() {
        // P(X ≥ 1 | 1) = 1 − e⁻¹.
        assert!((poisson_tail(1, 1.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
        // P(X ≥ 3 | 0.5) = 1 − e^-0.5 (1 + 0.5 + 0.125).
        let want = 1.0 - (-0.5f64).exp() * 1.625;
        assert!((poisson_tail(3, 0.5) - want).abs() < 1e-12);
        assert_eq!(poisson_tail(0, 3.0), 1.0);
        assert_eq!(poisson_tail(2, 0.0), 0.0);
        // Around the mean: not small.
        assert!(poisson_tail(100, 100.0) > 0.4);
        // Ten wins where 0.1 are expected: about 2.5e-17.
        let p = poisson_tail(10, 0.1);
        assert!(p > 1e-17 && p < 1e-16, "{p}");
    }

    #[test]
    fn honest_luck_is_not_flagged_but_a_cheat_is() {
        let ledger = Ledger::new(WinPolicy::default());
        let honest = Address::repeat_byte(1);
        let cheat = Address::repeat_byte(2);
        let tenth = U256::MAX / U256::from(10u64);
        let thousandth = U256::MAX / U256::from(1000u64);
        // 100 tickets at 1/10: 10 expected; 20 wins is lucky (p ≈ 0.003), not flagged.
        ledger.sent(honest, 0, 100, U256::from(1u64), tenth);
        for n in 0..20 {
            assert!(!ledger.won(honest, n, U256::from(10u64)));
        }
        // 100 tickets at 1/1000: 0.1 expected; the fifth win is flagged, once.
        ledger.sent(cheat, 500, 100, U256::from(1u64), thousandth);
        let flags: Vec<bool> = (500..510)
            .map(|n| ledger.won(cheat, n, U256::from(1000u64)))
            .collect();
        assert_eq!(flags.iter().filter(|f| **f).count(), 1);
        assert!(flags[4], "flagged at the minimum count: {flags:?}");
        // A nonce we never sent does not count.
        assert!(!ledger.won(cheat, 10_000, U256::from(1u64)));
        let views = ledger.accounts();
        let c = views.iter().find(|a| a.address == cheat).unwrap();
        assert_eq!(
            (c.wins, c.tickets_sent, c.win_rate_flagged),
            (10, 100, true)
        );
        assert!((c.expected_wins - 0.1).abs() < 1e-9);
        let h = views.iter().find(|a| a.address == honest).unwrap();
        assert!(!h.win_rate_flagged && h.win_p_value > 1e-6);
    }

    #[test]
    fn credit_is_value_sent_less_work_charged() {
        let ledger = Ledger::default();
        let o = Address::repeat_byte(3);
        ledger.sent(o, 0, 3, U256::from(10u64), U256::MAX);
        ledger.charged(o, U256::from(25u64));
        assert_eq!(ledger.credit(o), U256::from(5u64));
        ledger.charged(o, U256::from(25u64));
        assert_eq!(ledger.credit(o), U256::ZERO, "never below zero");
        ledger.refused("price_too_high");
        ledger.refused("price_too_high");
        assert_eq!(ledger.refusals().get("price_too_high"), Some(&2));
    }
}
