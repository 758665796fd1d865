//! Every integration test of this crate, linked into one binary (one test binary per crate keeps
//! the build's disk and link time small); each file below is one module, named as its file.
//!
//! - `rust_client`, `python`, `job`: five simulated nodes against [`fake::FakeDac`], a perfect
//!   consensus oracle, with the Rust client, the Python module and the `dac-job` binary.
//! - the same against [`real::RealDac`], the real consensus (`peerflow-dac`) over its signed
//!   relay on loopback.
//! - `docker`: the `dac-job` image built `FROM scratch` with the real Docker daemon (needs one:
//!   `script/lib.sh ensure_docker` starts it).

mod data;
mod docker;
mod fake;
mod job;
mod python;
mod real;
mod rust_client;
