//! What buyer and provider say to each other over HTTP (JSON unless noted):
//!
//! - `GET  /v1/lease/offer`: the provider's [`Offer`] (rates, limits, interval, credit, ticket odds).
//! - `POST /v1/leases` ([`OpenRequest`], signed): a container starts; the reply is its [`LeaseView`].
//! - `GET  /v1/leases/{id}` (signed): the [`LeaseView`].
//! - `GET  /v1/leases/{id}/intervals?from=N` (signed): [`IntervalsReply`], the metered intervals
//!   from `N` on, each with the ticket parameters that pay it.
//! - `POST /v1/leases/{id}/pay` ([`PayRequest`]): one ticket for one interval.
//! - `POST /v1/leases/{id}/exec` ([`ExecRequest`], signed): the command's output as
//!   [`crate::frames`], then its exit code.
//! - `POST /v1/leases/{id}/close` (signed): the container stops; a last interval is metered.
//! - `POST /v1/leases/{id}/ports/{port}` (signed by the buyer or a reader it named): a TCP
//!   connection to that published port of the container; the request body is what is sent, the
//!   response body what comes back.
//!
//! A refusal is `{"code": …, "message": …}` with an HTTP status.

use alloy::primitives::{Address, B256, U256};
use peerflow_compute::Resources;
use peerflow_compute::manifest::{MeteredUsage, RateCard};
use peerflow_protocol::api::TicketMsg;
use serde::{Deserialize, Serialize};

/// What a provider offers every lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    /// Its account: the recipient of every ticket.
    pub provider: Address,
    /// Prices per unit of metered usage (token wei).
    pub rates: RateCard,
    /// The most one lease may ask for.
    pub max: Resources,
    /// How often usage is metered and charged.
    pub interval_ms: u64,
    /// How much unpaid usage it lets a lease run up before it pauses it: this many intervals at
    /// the lease's full size (all its CPUs and memory busy).
    pub credit_intervals: u32,
    /// The odds of every lease ticket (`winProb`, 2²⁵⁶ − 1 is certainty).
    pub win_prob: U256,
    /// The image a lease runs when it names none.
    pub default_image: String,
    /// Leases it holds open now, and the most it takes.
    pub open: usize,
    pub max_leases: usize,
}

/// A buyer's request for one lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRequest {
    pub milli_cpus: u32,
    pub memory_mb: u64,
    #[serde(default)]
    pub gpus: u16,
    /// An image the provider has (by reference); `None`: its default image.
    #[serde(default)]
    pub image: Option<String>,
    /// Container ports the buyer may reach through the provider.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// Other accounts that may reach those ports (signing their requests).
    #[serde(default)]
    pub port_readers: Vec<Address>,
}

/// Where a lease is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseState {
    Running,
    /// Frozen by the provider until payment catches up.
    Paused,
    Closed,
}

impl LeaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(Self::Running),
            "paused" => Some(Self::Paused),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// The agreed terms of a lease, fixed when it opens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Terms {
    pub provider: Address,
    pub buyer: Address,
    pub milli_cpus: u32,
    pub memory_mb: u64,
    pub gpus: u16,
    pub image: String,
    pub ports: Vec<u16>,
    /// Accounts besides the buyer that may reach `ports`.
    pub port_readers: Vec<Address>,
    pub rates: RateCard,
    pub interval_ms: u64,
    /// Unpaid usage it may run up before the provider pauses it (token wei).
    pub credit: U256,
    pub win_prob: U256,
    /// The most block I/O charged per second (MB/s): I/O over it is not charged.
    pub io_mb_per_second: f64,
}

/// A lease as its provider reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseView {
    pub id: String,
    pub terms: Terms,
    pub state: LeaseState,
    /// Why it closed (`closed_by_buyer`, `unpaid`, `container_gone`, …).
    pub reason: Option<String>,
    pub opened_ms: u64,
    pub closed_ms: Option<u64>,
    /// Metered intervals so far.
    pub intervals: u64,
    /// Sum of their charges, and of the paid ones (token wei).
    pub charged: U256,
    pub paid: U256,
}

impl LeaseView {
    /// Charged and not paid.
    pub fn unpaid(&self) -> U256 {
        self.charged.saturating_sub(self.paid)
    }
}

/// The parameters of the one ticket that pays an interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntervalTicket {
    pub recipient_rand_hash: B256,
    pub face_value: U256,
    pub win_prob: U256,
    pub creation_round: u64,
    pub expiration_block: u64,
}

/// One metered interval of a lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub seq: u64,
    /// Unix milliseconds, by the provider's clock; an interval starts where the one before ended.
    pub start_ms: u64,
    pub end_ms: u64,
    /// What the container used in it.
    pub usage: MeteredUsage,
    /// `rates · usage`, rounded down.
    pub charge: U256,
    /// The ticket that pays it (`None` when it charged nothing).
    pub ticket: Option<IntervalTicket>,
    pub paid: bool,
    /// The lease's last interval (metered at its close).
    #[serde(rename = "final")]
    pub last: bool,
}

/// `GET /v1/leases/{id}/intervals` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalsReply {
    pub lease: LeaseView,
    pub intervals: Vec<Interval>,
    /// The lowest ticket nonce the provider accepts from the asking signer.
    pub next_nonce: u64,
}

/// One ticket for one interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayRequest {
    pub seq: u64,
    pub sender: Address,
    pub ticket: TicketMsg,
}

/// `POST /v1/leases/{id}/pay` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayReply {
    pub seq: u64,
    pub lease: LeaseView,
}

/// A command to run in the lease's container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRequest {
    pub cmd: Vec<String>,
    /// Whether the request body is the command's stdin.
    #[serde(default)]
    pub stdin: bool,
}
