//! Every integration test of this crate, linked into one binary (one test binary per crate keeps
//! the build's disk and link time small); each file below is one module, named as its file.

mod common;

mod auction;
mod commit_reveal;
mod containers;
mod dishonest_buyer;
mod gpu_check;
mod metrics;
mod restart;
mod vod;
