//! The orchestrator's payment side: it issues ticket parameters to each broadcaster
//! ([`params`]), validates the tickets that pay for segments ([`validator`]) and keeps everything it
//! accepted in sqlite ([`store`]): nonces (so replay protection survives a restart), each sender's
//! credit, and the queue of winning tickets waiting to be redeemed.

pub mod params;
pub mod store;
pub mod validator;

pub use params::{ParamsPolicy, RecipientSecret, TicketParams};
pub use store::{PaymentStore, StoreError, WinningTicket, WinningTicketStatus};
pub use validator::{Accepted, PaymentError, SenderFunds, Validator};
