//! Compute leases paid as you go.
//!
//! A buyer opens a lease on a provider (`POST /v1/leases`): a container with the CPUs and memory
//! it asked for starts at once. The provider meters the container's cgroup every interval and
//! asks, for each interval, one lottery ticket whose expected value is exactly the interval's
//! charge (`rates · usage`); the buyer's agent checks each interval ([`meter::check_interval`],
//! [`meter::check_audit`]) before it signs that ticket. A lease whose unpaid charges go over the
//! credit the provider set is paused, and closed if they stay there; the buyer closes it any
//! time, paying the last interval. Tickets go to the provider's own address and are redeemed
//! like an orchestrator's; the TicketBroker pays an account that never registered as an
//! orchestrator directly, with no fee pool.

pub mod auth;
pub mod buyer;
mod db;
pub mod frames;
pub mod meter;
pub mod proto;
pub mod provider;

pub use auth::{LeaseAuth, LeaseKey};
pub use proto::{Interval, LeaseState, LeaseView, Offer, OpenRequest, Terms};
pub use provider::{ChainInfo, LeaseConfig, LeaseError, LeaseService};
