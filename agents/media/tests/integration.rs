//! Every integration test of this crate, linked into one binary (one test binary per crate keeps
//! the build's disk and link time small); each file below is one module, named as its file.

mod common;

mod aspect;
mod capacity;
mod ffmpeg_transcoder;
mod ladder;
mod missing_tools;
mod probe;
mod rav1e_transcoder;
mod testsrc;
mod tool_failures;
mod untrusted;
mod verify;
