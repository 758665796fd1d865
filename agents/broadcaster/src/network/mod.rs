//! The broadcaster's side of the network: finding orchestrators on-chain ([`discovery`]), paying
//! them and submitting segments ([`session`]), checking what comes back ([`verification`]),
//! keeping the evidence of faults ([`evidence`]) and filing claims on them ([`claims`]), judging
//! claims as a committee member ([`juror`]), remembering how each orchestrator did and
//! keeping failing ones out of every stream ([`reputation`]), choosing, failing over and racing
//! them per segment ([`processor`]), and keeping the deposit that backs the tickets topped up
//! ([`deposit`]). [`pricing`] checks every quote against our deployment and price ceilings before
//! a ticket is signed; [`ledger`] keeps our own books per orchestrator and watches win rates. [`record`] reads an orchestrator's whole record, [`http`] serves it and the
//! fault bundles; [`stats`] keeps what happened per stream and [`status`] serves it with the
//! on-chain deposit, for the web page.

pub mod claims;
pub mod deposit;
pub mod discovery;
pub mod evidence;
pub mod http;
pub mod juror;
pub mod ledger;
pub mod pricing;
pub mod processor;
pub mod record;
pub mod reputation;
pub mod session;
pub mod stats;
pub mod status;
pub mod verification;
