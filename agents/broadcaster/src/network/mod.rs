//! The broadcaster's side of the network: finding orchestrators on-chain ([`discovery`]), paying
//! them and submitting segments ([`session`]), keeping failing ones out of every stream
//! ([`suspension`]), choosing, failing over and racing them per segment ([`processor`]), and
//! keeping the deposit that backs the tickets topped up ([`deposit`]).

pub mod deposit;
pub mod discovery;
pub mod processor;
pub mod session;
pub mod suspension;
