//! A whole job's nodes in one process, on loopback: one relay per node, each with its own key
//! and its own HTTP server, as separate providers would run them. For tests and benchmarks.

use std::sync::Arc;
use std::time::Duration;

use peerflow_protocol::blobauth::RequestKey;

use crate::relay::Relay;
use crate::session::{Peer, Session, SessionConfig};
use crate::topology::Topology;

/// The nodes of one job on loopback.
pub struct Cluster {
    /// Node i's relay (its key's secret is `[i + 1; 32]`).
    pub relays: Vec<Arc<Relay>>,
    /// Node i's open session.
    pub sessions: Vec<Arc<Session>>,
}

/// Starts `nodes` relays on 127.0.0.1 (servers spawned on the current runtime) and opens node i
/// of `job` on relay i.
pub async fn cluster(
    nodes: u32,
    job: u64,
    topology: Topology,
    decimals: u8,
    peer_timeout: Duration,
) -> std::io::Result<Cluster> {
    let mut relays = Vec::new();
    let mut peers = Vec::new();
    for i in 0..nodes {
        let key = RequestKey::new([i as u8 + 1; 32]).expect("a valid test key");
        let relay = Relay::new(key, true);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        peers.push(Peer {
            address: relay.address(),
            url: format!("http://{}", listener.local_addr()?),
        });
        let app = relay.routes();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "loopback relay stopped");
            }
        });
        relays.push(relay);
    }
    let sessions = relays
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.open(SessionConfig {
                job,
                me: i as u32,
                peers: peers.clone(),
                topology,
                decimals,
                peer_timeout,
                dropped: vec![],
            })
            .expect("node i is held by relay i")
        })
        .collect();
    Ok(Cluster { relays, sessions })
}
