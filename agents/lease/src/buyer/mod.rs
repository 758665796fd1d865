//! The buyer's side of leases: open them, and pay each metered interval once it checks out.
//!
//! [`Payer::pay_lease`] reads the intervals the provider metered since the last one settled,
//! checks each ([`check_interval`]), signs one ticket for each charge and sends it, then compares
//! the CPU time charged so far with the container's own counter ([`check_audit`]). The first
//! interval that does not check out is refused: nothing more is paid for that lease and it is
//! closed. Progress is in [`store::BuyerStore`], written after each interval settles.

pub mod client;
pub mod store;

use alloy::primitives::U256;
use peerflow_protocol::api::TicketMsg;
use peerflow_protocol::{Ticket, TicketDomain};

use crate::meter::{AUDIT_CMD, MeterRefusal, check_audit, check_interval};
use crate::proto::{Interval, LeaseState, PayRequest};
use crate::provider::now_ms;
use client::{ClientError, LeaseClient};
use store::{BuyerLease, BuyerStore, BuyerStoreError, Settled, Standing};

#[derive(Debug, thiserror::Error)]
pub enum PayError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Store(#[from] BuyerStoreError),
}

/// What one pass over a lease did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PayProgress {
    /// Intervals checked and settled.
    pub settled: u64,
    /// Tickets sent.
    pub tickets: u64,
    /// Token wei paid.
    pub paid: U256,
    /// The refusal that stopped paying, if one did.
    pub refused: Option<String>,
    /// Whether the lease is closed and settled to its last interval.
    pub closed: bool,
}

/// How far ahead of the buyer's clock an interval may end (the provider's clock may run ahead).
const CLOCK_SKEW_MS: u64 = 5_000;

/// How long an audit may take (a provider must not stall the agent's other leases).
const AUDIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How often a lease's CPU time is audited from inside its container (each audit is an exec).
const AUDIT_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

pub struct Payer {
    client: LeaseClient,
    domain: TicketDomain,
    /// When each lease was last audited.
    audited: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

impl Payer {
    /// Pays with `client`'s key, for tickets on `domain`'s broker.
    pub fn new(client: LeaseClient, domain: TicketDomain) -> Self {
        Self {
            client,
            domain,
            audited: Default::default(),
        }
    }

    /// Whether lease `id` is due an audit (and, if so, it counts as audited now).
    fn audit_due(&self, id: &str) -> bool {
        let mut audited = self.audited.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        match audited.get(id) {
            Some(at) if now.duration_since(*at) < AUDIT_EVERY => false,
            _ => {
                audited.insert(id.to_string(), now);
                true
            }
        }
    }

    pub fn client(&self) -> &LeaseClient {
        &self.client
    }

    fn ticket(&self, lease: &BuyerLease, i: &Interval, nonce: u64) -> Option<TicketMsg> {
        let t = i.ticket.as_ref()?;
        let key = self.client.key();
        let ticket = Ticket {
            recipient: lease.terms.provider,
            sender: key.address(),
            signer: key.address(),
            faceValue: t.face_value,
            winProb: t.win_prob,
            senderNonce: U256::from(nonce),
            recipientRandHash: t.recipient_rand_hash,
            creationRound: U256::from(t.creation_round),
        };
        let signature = key.sign_digest(ticket.hash(&self.domain));
        Some(TicketMsg::new(&ticket, &signature))
    }

    /// Checks and pays what lease `id` owes now.
    pub async fn pay_lease(
        &self,
        store: &mut BuyerStore,
        id: &str,
    ) -> Result<PayProgress, PayError> {
        let mut progress = PayProgress::default();
        let Some(mut lease) = store.get(id)? else {
            return Ok(progress);
        };
        if lease.standing != Standing::Open {
            return Ok(progress);
        }
        let url = lease.provider_url.clone();
        let reply = self.client.intervals(&url, id, lease.next_seq).await?;
        let mut saw_last = false;
        let now = now_ms();
        for i in &reply.intervals {
            if i.seq < lease.next_seq {
                continue;
            }
            let prev_end = lease.prev_end_ms.or(Some(lease.opened_ms));
            let checked =
                check_interval(&lease.terms, lease.next_seq, prev_end, i).and_then(|()| {
                    if i.end_ms > now + CLOCK_SKEW_MS {
                        Err(MeterRefusal::Implausible {
                            seq: i.seq,
                            what: format!(
                                "it ends at {} ms, ahead of our clock ({now} ms)",
                                i.end_ms
                            ),
                        })
                    } else {
                        Ok(())
                    }
                });
            if let Err(refusal) = checked {
                return self.refuse(store, &lease, refusal, progress).await;
            }
            let mut sent = None;
            if !i.charge.is_zero() && !i.paid {
                let Some(ticket) = store.ticket_for(
                    id,
                    i.seq,
                    lease.terms.provider,
                    reply.next_nonce,
                    |nonce| self.ticket(&lease, i, nonce),
                )?
                else {
                    return Err(ClientError::Exec("the ticket could not be signed".into()).into());
                };
                let want = i.ticket.as_ref().map(|t| t.recipient_rand_hash);
                if want != Some(ticket.recipient_rand_hash) {
                    // Our one ticket for this interval went out under parameters the provider has
                    // since replaced: paying again could pay twice.
                    let refusal = MeterRefusal::Ticket {
                        seq: i.seq,
                        what: "parameters replaced after our ticket was sent".into(),
                    };
                    return self.refuse(store, &lease, refusal, progress).await;
                }
                let req = PayRequest {
                    seq: i.seq,
                    sender: self.client.key().address(),
                    ticket: ticket.clone(),
                };
                match self.client.pay(&url, id, &req).await {
                    Ok(_) => {}
                    // Only the provider saying the interval is paid settles it: a nonce it calls
                    // replayed is not a payment it took.
                    Err(e) if e.code() == Some("already_paid") => {}
                    Err(e) => return Err(e.into()),
                }
                sent = Some(ticket.sender_nonce);
                progress.tickets += 1;
            }
            store.settle(
                id,
                &Settled {
                    seq: i.seq,
                    end_ms: i.end_ms,
                    cpu_s: i.usage.cpu_seconds,
                    paid: i.charge,
                    nonce: sent,
                    at_ms: now_ms(),
                },
            )?;
            progress.settled += 1;
            progress.paid += i.charge;
            lease.next_seq = i.seq + 1;
            lease.prev_end_ms = Some(i.end_ms);
            lease.cpu_charged += i.usage.cpu_seconds;
            saw_last |= i.last;
        }
        if reply.lease.state == LeaseState::Running && progress.settled > 0 && self.audit_due(id) {
            let audit = tokio::time::timeout(AUDIT_TIMEOUT, self.client.run(&url, id, &AUDIT_CMD));
            match audit.await.unwrap_or(Err(ClientError::NoExit)) {
                Ok((0, out, _)) => {
                    if let Ok(ns) = String::from_utf8_lossy(&out).trim().parse::<u64>()
                        && let Err(refusal) = check_audit(lease.cpu_charged, ns)
                    {
                        return self.refuse(store, &lease, refusal, progress).await;
                    }
                }
                Ok((code, _, _)) => tracing::debug!(
                    lease = id,
                    code,
                    "the container's CPU counter is not readable; audit skipped"
                ),
                // Paused or closed since, say: the next audit reads the counter.
                Err(e) => tracing::debug!(lease = id, error = %e, "audit not run"),
            }
        }
        let closed = reply.lease.state == LeaseState::Closed
            && (saw_last || reply.intervals.iter().all(|i| i.seq < lease.next_seq));
        if closed {
            store.set_standing(id, Standing::Closed, reply.lease.reason.as_deref())?;
            progress.closed = true;
        }
        Ok(progress)
    }

    async fn refuse(
        &self,
        store: &mut BuyerStore,
        lease: &BuyerLease,
        refusal: MeterRefusal,
        mut progress: PayProgress,
    ) -> Result<PayProgress, PayError> {
        let why = format!("{}: {refusal}", refusal.code());
        tracing::warn!(lease = %lease.id, %why, "metered usage refused; the lease is closed unpaid");
        store.set_standing(&lease.id, Standing::Refused, Some(&why))?;
        if let Err(e) = self.client.close(&lease.provider_url, &lease.id).await {
            tracing::warn!(lease = %lease.id, error = %e, "close after a refusal failed");
        }
        progress.refused = Some(why);
        Ok(progress)
    }
}
