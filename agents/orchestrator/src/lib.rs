//! The orchestrator: its HTTP API ([`http`], over [`node`]), the pull queue its transcoders take
//! work from ([`jobs`]), and its payment side: it issues ticket parameters to each broadcaster
//! ([`params`]), validates the tickets that pay for segments ([`validator`]) and keeps everything it
//! accepted in sqlite ([`store`]): nonces (so replay protection survives a restart), each sender's
//! credit, and the queue of winning tickets waiting to be redeemed, which [`redeemer`] drains
//! on-chain once each ticket's parameters have expired. Operators read it through [`metrics`]
//! (Prometheus) and [`status`] (JSON and a web page), which report the connected [`transcoders`],
//! the [`streams`] served and its on-chain [`earnings`].

pub mod admission;
pub mod book;
pub mod chain_view;
pub mod earnings;
pub mod gas_outlook;
pub mod http;
pub mod jobs;
pub mod limits;
pub mod metrics;
pub mod node;
pub mod params;
pub mod redeemer;
pub mod service;
pub mod status;
pub mod store;
pub mod streams;
pub mod transcoders;
pub mod validator;

pub use book::TicketBook;
pub use limits::Limits;
pub use node::{Node, NodeConfig, NodeError};
pub use params::{ParamsPolicy, RecipientSecret, TicketParams};
pub use redeemer::{GasPolicy, RedeemReport, Redeemer};
pub use store::{PaymentStore, StoreError, WinningTicket, WinningTicketStatus};
pub use validator::{Accepted, PaymentError, SenderFunds, Validator};
