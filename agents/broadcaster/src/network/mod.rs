//! The broadcaster's side of the network: finding orchestrators on-chain ([`discovery`]), paying
//! them and submitting segments ([`session`]), keeping failing ones out of every stream
//! ([`suspension`]), and choosing, failing over and racing them per segment ([`processor`]).

pub mod discovery;
pub mod processor;
pub mod session;
pub mod suspension;
