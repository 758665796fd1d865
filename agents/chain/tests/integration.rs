//! Every integration test of this crate, linked into one binary (one test binary per crate keeps
//! the build's disk and link time small); each file below is one module, named as its file.

mod devchain;
mod fault_claims;
mod nonces;
mod public_rpc;
mod redeem_on_anvil;
mod stuck;
