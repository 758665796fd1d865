//! The real consensus (`peerflow-dac`): one relay per node, each with its own key and HTTP server
//! on loopback, as providers run them, and each session's local API on its own Unix socket. The
//! same clients that run against [`crate::fake::FakeDac`] run against this.

use std::path::PathBuf;
use std::time::Duration;

use peerflow_dac::{Topology, TopologyKind};

/// The decimals the real sessions agree on.
pub const DECIMALS: u8 = 9;

pub struct RealDac {
    sockets: Vec<PathBuf>,
    _runtime: std::thread::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl RealDac {
    /// `nodes` nodes on a ring.
    pub fn start(nodes: u32) -> RealDac {
        let dir = tempfile::Builder::new()
            .prefix("pf-dac-")
            .tempdir()
            .unwrap();
        let sockets: Vec<PathBuf> = (0..nodes)
            .map(|i| dir.path().join(format!("n{i}/dac.sock")))
            .collect();
        let paths = sockets.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let ring = Topology {
                    kind: TopologyKind::Ring,
                    degree: 0,
                    seed: 0,
                };
                let cluster = peerflow_dac::loopback::cluster(
                    nodes,
                    1,
                    ring,
                    DECIMALS,
                    Duration::from_secs(30),
                )
                .await
                .unwrap();
                for (session, path) in cluster.sessions.into_iter().zip(&paths) {
                    peerflow_dac::local::serve(session, path).await.unwrap();
                }
                ready_tx.send(()).unwrap();
                let _ = stopped.await;
            });
        });
        ready_rx.recv().unwrap();
        RealDac {
            sockets,
            _runtime: runtime,
            stop: Some(stop),
            _dir: dir,
        }
    }

    pub fn socket(&self, node: u32) -> PathBuf {
        self.sockets[node as usize].clone()
    }
}

impl Drop for RealDac {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
