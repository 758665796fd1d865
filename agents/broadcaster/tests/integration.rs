//! Every integration test of this crate, linked into one binary (one test binary per crate keeps
//! the build's disk and link time small); each file below is one module, named as its file.

mod common;

mod bad_input;
mod deposit;
mod dishonest_quotes;
mod ffmpeg_push;
mod lifecycle;
mod multipart;
mod outage;
mod push_and_play;
mod stream_keys;
mod stream_limits;
