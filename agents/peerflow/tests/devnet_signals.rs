//! `peerflow devnet` stopped by SIGTERM (as `kill`, systemd or a container runtime stop it) or
//! SIGINT takes everything it started with it: its anvil and its HTTP servers are gone, their ports
//! free, and the process exits cleanly.

use crate::common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Kill;

/// Starts a small devnet, waits for it to run, sends `signal`, and checks what is left.
fn stops_everything_on(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Kill(
        Command::new(env!("CARGO_BIN_EXE_peerflow"))
            .args(["devnet", "--orchestrators", "1", "--providers", "0"])
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("peerflow binary"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut chain_port = None;
    let mut broadcaster_port = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("chain:") {
            chain_port = port_of(rest);
        }
        if let Some(rest) = line.strip_prefix("push:") {
            broadcaster_port = port_of(rest);
        }
        if line.starts_with("running;") {
            break;
        }
    }
    let ports = [
        chain_port.expect("the devnet printed its chain"),
        broadcaster_port.expect("the devnet printed its broadcaster"),
    ];
    for port in ports {
        assert!(listening(port), "port {port} answers while the devnet runs");
    }

    let pid = child.0.id().to_string();
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the devnet ignored {signal}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{signal}: exit {status}");
    for port in ports {
        assert!(
            !listening(port),
            "port {port} still answers after {signal}: a child outlived the devnet"
        );
    }
}

/// The port of the first `http://host:port` in `text`.
fn port_of(text: &str) -> Option<u16> {
    let after = text.split("http://").nth(1)?;
    let authority = after.split(['/', ' ']).next()?;
    authority.rsplit_once(':')?.1.parse().ok()
}

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_ok()
}

#[test]
fn sigterm_stops_the_devnet_and_its_anvil() {
    stops_everything_on("TERM");
}

#[test]
fn sigint_stops_the_devnet_and_its_anvil() {
    stops_everything_on("INT");
}
