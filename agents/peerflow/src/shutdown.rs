//! How every long-running role learns that it should stop: SIGINT (Ctrl-C) or SIGTERM (what
//! `kill`, systemd and container runtimes send). A role returns from `main` after either, so every
//! child it started (anvil, containers, ffmpeg) is stopped by the destructors that own it instead
//! of being orphaned.
//!
//! [`install`] runs first thing in `main`, so a signal that arrives while a role is still starting
//! is remembered (not lost, and not the default action that would kill the process and orphan its
//! children) and [`requested`] returns at once when the role gets there.

use std::sync::OnceLock;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

static STOP: OnceLock<watch::Receiver<Option<&'static str>>> = OnceLock::new();

/// Starts listening for SIGINT and SIGTERM. Needs a tokio runtime; idempotent.
pub fn install() -> std::io::Result<()> {
    if STOP.get().is_some() {
        return Ok(());
    }
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let (tx, rx) = watch::channel(None);
    if STOP.set(rx).is_ok() {
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            };
            tracing::info!(signal = name, "stopping");
            let _ = tx.send(Some(name));
        });
    }
    Ok(())
}

/// Waits until SIGINT or SIGTERM has come (since [`install`]) and returns its name.
pub async fn requested() -> std::io::Result<&'static str> {
    install()?;
    let mut rx = STOP.get().expect("installed above").clone();
    let name = rx
        .wait_for(Option::is_some)
        .await
        .map_err(std::io::Error::other)?;
    Ok(name.expect("waited for Some"))
}
