//! Orchestrators that failed are suspended for every stream at once, for a time that doubles with
//! each consecutive failure and resets on success.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy::primitives::Address;

/// Shared by all streams of a broadcaster.
#[derive(Debug)]
pub struct Suspensions {
    base: Duration,
    max: Duration,
    state: Mutex<HashMap<Address, (u32, Instant)>>,
}

impl Suspensions {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failure; returns how long the orchestrator is now suspended.
    pub fn failed(&self, orchestrator: Address) -> Duration {
        let mut state = self.state.lock().expect("suspensions");
        let failures = state.get(&orchestrator).map_or(0, |(n, _)| *n) + 1;
        let period = (self.base * 2u32.saturating_pow(failures - 1)).min(self.max);
        state.insert(orchestrator, (failures, Instant::now() + period));
        period
    }

    pub fn succeeded(&self, orchestrator: Address) {
        self.state
            .lock()
            .expect("suspensions")
            .remove(&orchestrator);
    }

    pub fn is_suspended(&self, orchestrator: Address) -> bool {
        self.state
            .lock()
            .expect("suspensions")
            .get(&orchestrator)
            .is_some_and(|(_, until)| Instant::now() < *until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspension_doubles_and_resets() {
        let s = Suspensions::new(Duration::from_secs(1), Duration::from_secs(3));
        let o = Address::repeat_byte(1);
        assert!(!s.is_suspended(o));
        assert_eq!(s.failed(o), Duration::from_secs(1));
        assert_eq!(s.failed(o), Duration::from_secs(2));
        assert_eq!(s.failed(o), Duration::from_secs(3), "capped");
        assert!(s.is_suspended(o));
        s.succeeded(o);
        assert!(!s.is_suspended(o));
    }
}
