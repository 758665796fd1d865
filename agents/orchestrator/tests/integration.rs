//! Every integration test of this crate, linked into one binary (one test binary per crate keeps
//! the build's disk and link time small); each file below is one module, named as its file.

mod common;
mod redeem_support;

mod admission;
mod dishonest_broadcaster;
mod dishonest_transcoder;
mod gas_aware_redemption;
mod gas_outlook;
mod hot_key_service;
mod http_api;
mod lottery_statistics;
mod operator;
mod payments;
mod redeem_after_restart;
mod redeem_hot_key;
mod redeem_order;
mod redeem_reorg;
mod service;
