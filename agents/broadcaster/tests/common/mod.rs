//! Test scaffolding shared by the integration tests: a real ffmpeg processor, real media, a
//! broadcaster on a loopback port and a playlist reader.
#![allow(dead_code)] // Each test binary uses a different part of it.

pub mod hls;
pub mod media;
pub mod processor;
pub mod server;
