//! What the process-level tests share: a child killed on drop, a free port, waiting for HTTP; and
//! for the devnet tests, a proxy in front of an orchestrator ([`proxy`]).

#![allow(dead_code)]

pub mod proxy;

use std::net::TcpListener;
use std::process::Child;
use std::time::{Duration, Instant};

/// A child process killed (and reaped) when dropped.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `url` answers at all (up to two minutes).
pub async fn wait_http(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if reqwest::get(url).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{url} never answered");
}

/// A Foundry tool from the npm toolchain (the real binary, not the npm launcher, which exits 0
/// even when the tool fails).
pub fn foundry_tool(name: &str) -> std::path::PathBuf {
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../node_modules/@foundry-rs")
        .join(format!("{name}-linux-{arch}/bin/{name}"));
    assert!(
        path.exists(),
        "{} missing: run npm ci (./script/test does)",
        path.display()
    );
    path.canonicalize().unwrap()
}
