//! The chain head as last read, so a role rides out an RPC outage: while the RPC does not answer,
//! the last block read stands in for the head for a bounded time, and the RPC is not asked again
//! before a short back-off, so work that needs the head (a segment, a quote) is not held up by a
//! hanging endpoint on every call.
//!
//! The last block is not extrapolated: a chain that stopped (a paused node) has not moved, and one
//! whose RPC is down moves by rounds that are long beside an outage; a stale head only makes
//! ticket parameters look a little younger than they are, which the broker's own validity checks
//! bound.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy::providers::Provider;

/// No head to answer with.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error("reading the chain head: {0}")]
    Rpc(String),
    #[error("reading the chain head: no reply within {0:?}")]
    Timeout(Duration),
    #[error("the chain head has not been read for {0:?} (the RPC is down)")]
    Stale(Duration),
}

/// How long a head may stand in, how long a read may take, how soon to ask again after a failure.
#[derive(Debug, Clone, Copy)]
pub struct HeadPolicy {
    pub max_stale: Duration,
    pub read_timeout: Duration,
    pub retry_after: Duration,
}

impl Default for HeadPolicy {
    /// Ten minutes of outage ridden out; a read that takes over 2 s is a failure; asked again 3 s
    /// after a failure.
    fn default() -> Self {
        Self {
            max_stale: Duration::from_secs(600),
            read_timeout: Duration::from_secs(2),
            retry_after: Duration::from_secs(3),
        }
    }
}

#[derive(Debug, Default)]
struct Seen {
    /// The last block read and when.
    last: Option<(u64, Instant)>,
    /// When the last read failed, if it did.
    failed_at: Option<Instant>,
}

/// The chain head, read through an RPC that may fail.
#[derive(Debug, Default)]
pub struct Head {
    policy: HeadPolicy,
    seen: Mutex<Seen>,
}

impl Head {
    pub fn new(policy: HeadPolicy) -> Self {
        Self {
            policy,
            seen: Mutex::default(),
        }
    }

    /// The current block: read, or the last one read while the RPC fails (within `max_stale`).
    pub async fn block<P: Provider>(&self, provider: &P) -> Result<u64, HeadError> {
        let (last, backing_off) = {
            let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            let backing_off = seen
                .failed_at
                .is_some_and(|at| at.elapsed() < self.policy.retry_after);
            (seen.last, backing_off)
        };
        let failure = if backing_off {
            HeadError::Rpc("backing off after a failed read".into())
        } else {
            match tokio::time::timeout(self.policy.read_timeout, provider.get_block_number()).await
            {
                Ok(Ok(block)) => {
                    let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
                    seen.last = Some((block, Instant::now()));
                    if seen.failed_at.take().is_some() {
                        tracing::info!(block, "the chain answers again");
                    }
                    return Ok(block);
                }
                Ok(Err(e)) => HeadError::Rpc(e.to_string()),
                Err(_) => HeadError::Timeout(self.policy.read_timeout),
            }
        };
        if !backing_off {
            self.seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .failed_at = Some(Instant::now());
        }
        match last {
            Some((block, at)) if at.elapsed() <= self.policy.max_stale => {
                if !backing_off {
                    tracing::warn!(block, stale_for = ?at.elapsed(), error = %failure, "the chain does not answer; going on from the last block read");
                }
                Ok(block)
            }
            Some((_, at)) => Err(HeadError::Stale(at.elapsed())),
            None => Err(failure),
        }
    }

    /// How long ago the head was last read, if ever.
    pub fn age(&self) -> Option<Duration> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last
            .map(|(_, at)| at.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::RpcOptions;

    fn provider(url: &str) -> alloy::providers::DynProvider {
        RpcOptions::new([url]).provider().unwrap()
    }

    fn policy() -> HeadPolicy {
        HeadPolicy {
            max_stale: Duration::from_secs(60),
            read_timeout: Duration::from_millis(300),
            retry_after: Duration::from_secs(60),
        }
    }

    #[tokio::test]
    async fn the_last_block_stands_in_while_the_rpc_is_down_and_none_is_made_up() {
        let chain = crate::DevChain::spawn().unwrap();
        let up = provider(&chain.endpoint());
        // A port nobody listens on: the RPC is down.
        let down = provider("http://127.0.0.1:9");
        let never_read = Head::new(policy());
        assert!(
            never_read.block(&down).await.is_err(),
            "nothing read yet: no head"
        );
        let head = Head::new(policy());
        let block = head.block(&up).await.unwrap();
        assert_eq!(head.block(&down).await.unwrap(), block);
        // Backing off: the failed RPC is not asked again, the answer comes at once.
        let started = Instant::now();
        assert_eq!(head.block(&down).await.unwrap(), block);
        assert!(started.elapsed() < Duration::from_millis(100));
    }

    #[tokio::test]
    async fn a_head_older_than_the_limit_is_refused() {
        let chain = crate::DevChain::spawn().unwrap();
        let up = provider(&chain.endpoint());
        let down = provider("http://127.0.0.1:9");
        let head = Head::new(HeadPolicy {
            max_stale: Duration::from_millis(50),
            ..policy()
        });
        head.block(&up).await.unwrap();
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(matches!(head.block(&down).await, Err(HeadError::Stale(_))));
    }
}
