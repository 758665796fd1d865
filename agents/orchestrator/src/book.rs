//! Group commit of accepted tickets. Every payment request hands its checked tickets to one
//! thread that owns its own connection to the payment database; the thread takes every request
//! waiting at that moment and books them in one transaction, so one fsync makes a whole batch
//! durable. A request is answered only after that commit: a ticket the broadcaster was told is
//! accepted survives a `kill -9`, and a nonce is booked once however many requests race for it
//! (the batch is checked in order against what it has booked itself).
//!
//! Under light load a batch holds a single payment and costs what a transaction per payment did;
//! the more payments arrive while a commit is on disk, the more the next one carries. The thread
//! keeps each signer's next nonce, each sender's credit and pending winners in memory while no
//! other connection writes the database, so a batch mostly only writes.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::store::{Acceptance, BookCache, Booked, PaymentStore, StoreError};

/// The most tickets booked in one transaction: a bound on how long one commit holds the
/// database (other writers, the redeemer say, wait for it).
pub const MAX_BATCH_TICKETS: usize = 4096;

/// How long a batch waits for more payments when the last one held [`BUSY`] or more.
pub const LINGER: Duration = Duration::from_millis(1);

/// Payments in a batch from which the next one waits [`LINGER`] for more (a few payments at once
/// are booked at once: their senders wait for the answer).
pub const BUSY: usize = 8;

struct Request {
    tickets: Vec<Acceptance>,
    reply: oneshot::Sender<Booked>,
}

/// A handle on the booking thread; cheap to clone. The thread ends when the last handle is
/// dropped.
#[derive(Clone)]
pub struct TicketBook {
    requests: mpsc::Sender<Request>,
    commits: Arc<AtomicU64>,
}

impl TicketBook {
    /// Opens its own connection to the payment database at `path` and starts the booking thread.
    pub fn open(path: &Path) -> Result<TicketBook, StoreError> {
        let store = PaymentStore::open(path)?;
        let (requests, queue) = mpsc::channel();
        let commits = Arc::new(AtomicU64::new(0));
        let counted = commits.clone();
        std::thread::Builder::new()
            .name("ticket-book".into())
            .spawn(move || run(store, queue, &counted))
            .map_err(|e| StoreError::Batch(format!("starting the booking thread: {e}")))?;
        Ok(TicketBook { requests, commits })
    }

    /// How many batches were committed so far.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Books `tickets` (in order, up to the first refused) and answers once they are durable.
    pub async fn book(&self, tickets: Vec<Acceptance>) -> Booked {
        let closed = || Booked {
            booked: 0,
            refused: Some(StoreError::BookClosed),
        };
        if tickets.is_empty() {
            return Booked {
                booked: 0,
                refused: None,
            };
        }
        let (reply, answer) = oneshot::channel();
        if self.requests.send(Request { tickets, reply }).is_err() {
            return closed();
        }
        answer.await.unwrap_or_else(|_| closed())
    }
}

fn run(mut store: PaymentStore, queue: mpsc::Receiver<Request>, commits: &AtomicU64) {
    // This connection only books: what it read and booked stays valid until another connection
    // writes (see `BookCache`).
    let mut cache = BookCache::default();
    let mut busy = false;
    while let Ok(first) = queue.recv() {
        let mut size = first.tickets.len();
        let mut batch = vec![first];
        // Under load (the last batch held many payments), wait a moment for more: each
        // commit costs an fsync, so fewer, larger batches carry more tickets a second. A lone
        // payment is booked at once.
        // (A sleep, not a wait on the queue: each payment arriving would wake the thread.)
        if busy {
            std::thread::sleep(LINGER);
        }
        while size < MAX_BATCH_TICKETS {
            let Ok(next) = queue.try_recv() else { break };
            size += next.tickets.len();
            batch.push(next);
        }
        busy = batch.len() >= BUSY;
        let (groups, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|r| (r.tickets, r.reply)).unzip();
        match store.accept_batch_with(&groups, &mut cache) {
            Ok(outcomes) => {
                if outcomes.iter().any(|o| o.booked > 0) {
                    commits.fetch_add(1, Ordering::Relaxed);
                }
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // A caller gone (its request dropped) is told nothing; its tickets stay booked,
                    // as a broadcaster that asks again is told `ticket_replayed`.
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, tickets = size, "booking a batch of tickets failed");
                let text = e.to_string();
                for reply in replies {
                    let _ = reply.send(Booked {
                        booked: 0,
                        refused: Some(StoreError::Batch(text.clone())),
                    });
                }
            }
        }
    }
}
