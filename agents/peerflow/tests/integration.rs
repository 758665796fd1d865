//! Every integration test of this crate, linked into one binary (one test binary per crate keeps
//! the build's disk and link time small); each file below is one module, named as its file.

mod common;

mod chain_outage;
mod compute_cli;
mod cooperative;
mod devnet_signals;
mod dishonest_orchestrator;
mod governance;
mod lease;
mod network;
mod operator_cli;
mod paid_viewing;
mod private_streams;
mod processes;
mod recipes;
mod signed_results;
mod verification;
mod web;
