//! peerflow's payment protocol, the off-chain half of `contracts/TicketBroker.sol`.
//!
//! A broadcaster pays an orchestrator with lottery tickets: [`Ticket`] holds the signed fields,
//! [`TicketDomain`] binds them to one chain and one broker (EIP-712), [`lottery::is_winning_ticket`]
//! is the draw, [`signature`] signs and recovers with libsecp256k1, and [`wire::SignedTicket`] is the
//! six-word form the broker redeems. Every function here matches the contract bit for bit; the shared
//! vectors in `test/vectors/tickets.json` are asserted by both sides. [`api`] holds the messages of
//! the broadcaster ↔ orchestrator HTTP API (`/v1/...`), and [`result`] the orchestrator's signed
//! [`SegmentResult`] that each segment reply carries.

pub mod api;
pub mod blobauth;
pub mod lottery;
pub mod metrics;
#[cfg(feature = "http")]
pub mod metrics_http;
pub mod multipart;
#[cfg(feature = "net")]
pub mod netguard;
pub mod result;
pub mod signature;
pub mod ticket;
pub mod timing;
pub mod wire;

pub use lottery::{is_winning_ticket, recipient_rand_hash};
pub use result::{ResultDomain, ResultError, ResultSigner, SegmentResult, SignedResult};
pub use signature::{Signature, SignatureError};
pub use ticket::{Ticket, TicketDomain};
pub use wire::{SignedTicket, WireError};
