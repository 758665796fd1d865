//! Cooperative jobs: this provider runs one node of a job whose N replicas each hold a shard and
//! compute global quantities by distributed average consensus ([`peerflow_dac`]).
//!
//! Before the container starts, the provider
//! 1. announces its API's URL on-chain (`announceEndpoint`) so its peers can reach it;
//! 2. waits until every slot is taken and announced (or the spec's join timeout passed: the
//!    missing nodes start as dropped);
//! 3. takes its node index from its slot's position, fetches its shard, opens a consensus session
//!    on the relay (peers' messages are accepted from then on) and serves the session's local API
//!    on a Unix socket that the container gets at [`crate::executor::DAC_SOCKET`];
//! 4. reports each completed consensus operation as a checkpoint (up to the job's checkpoints),
//!    so the buyer can pay as the job goes and a node that drops out is paid for those only.
//!
//! The session is closed when the run ends (the node stops answering as alive).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use alloy::providers::Provider;
use peerflow_compute::escrow::{Escrow, codes};
use peerflow_compute::{Cooperative, TopologyKind};
use peerflow_dac::{Peer, Relay, Session, SessionConfig, Topology};
use tokio::task::JoinHandle;

use crate::agent::{Agent, AgentError};
use crate::executor::NodeContext;

/// A joined node: closed, and its socket removed, when dropped.
pub(crate) struct Joined {
    pub(crate) ctx: NodeContext,
    session: Arc<Session>,
    relay: Arc<Relay>,
    job: u64,
    server: JoinHandle<()>,
    reporter: JoinHandle<()>,
}

impl Joined {
    /// The node's result: its last agreement as `agreed.json` (compact JSON `{"values",
    /// "decimals"}`), whatever the container wrote. The buyer's code decides what is agreed, but
    /// not what one node commits: it cannot have one honest node outvoted by writing something
    /// else there. `None` when the node never agreed.
    pub(crate) fn result(&self) -> Option<(String, Vec<u8>)> {
        let agreed = self.session.agreed()?;
        let json = serde_json::json!({"values": agreed.values, "decimals": agreed.decimals});
        Some(("agreed.json".into(), json.to_string().into_bytes()))
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        self.relay.close(self.job, self.ctx.index);
        self.server.abort();
        self.reporter.abort();
        let _ = std::fs::remove_file(&self.ctx.socket);
    }
}

/// Whether a slot status is a slot at all: not a sealed bid nor a lost one.
fn holds_slot(status: u8) -> bool {
    !matches!(
        status,
        codes::SLOT_BID | codes::SLOT_REVEALED | codes::SLOT_LOST
    )
}

/// The consensus engine's name for the spec's topology.
fn topology(c: &Cooperative) -> Topology {
    Topology {
        kind: match c.topology.kind {
            TopologyKind::Ring => peerflow_dac::TopologyKind::Ring,
            TopologyKind::Regular => peerflow_dac::TopologyKind::Regular,
            TopologyKind::Complete => peerflow_dac::TopologyKind::Complete,
        },
        degree: c.topology.degree,
        seed: c.topology.seed,
    }
}

impl<P: Provider + Clone + 'static> Agent<P> {
    /// Announces this provider's endpoint for `job` unless its latest announcement already says it.
    pub(crate) async fn announce(&self, job: u64) -> Result<(), AgentError> {
        let me = self.config().address;
        let url = &self.config().public_url;
        let known = self.escrow().endpoints(job).await?;
        if known.iter().any(|(p, u)| *p == me && u == url) {
            return Ok(());
        }
        self.escrow().announce_endpoint(job, url).await?;
        tracing::info!(job, url, "endpoint announced");
        Ok(())
    }

    /// Joins the job's group: waits for the peers, opens the session and serves its socket.
    pub(crate) async fn join_group(
        &self,
        job: u64,
        coop: &Cooperative,
        timeout_secs: u64,
    ) -> Result<Joined, AgentError> {
        let relay = self.relay().cloned().ok_or_else(|| {
            AgentError::Other("cooperative job without a signing key for the relay".into())
        })?;
        let me = self.config().address;
        let started = Instant::now();
        let join_timeout = Duration::from_secs(u64::from(coop.join_timeout_secs));
        let allow_private = self.config().allow_private_urls;
        let (holders, endpoints) = loop {
            self.announce(job).await?;
            let state = self.escrow().job(job).await?;
            // Never wait past the moment the run must start to finish by the deadline.
            let (_, now) = self.escrow().chain_time().await?;
            let latest_start = state.params.deadline.saturating_sub(timeout_secs + 30);
            let holders: Vec<Address> = self
                .escrow()
                .slots(job)
                .await?
                .into_iter()
                .filter(|(_, s)| holds_slot(s.status))
                .map(|(p, _)| p)
                .collect();
            // An endpoint that is not a plain public http(s) origin counts as never announced.
            let endpoints: Vec<(Address, String)> = self
                .escrow()
                .endpoints(job)
                .await?
                .into_iter()
                .filter(|(_, url)| peerflow_dac::relay::valid_endpoint(url, allow_private))
                .collect();
            let announced = holders
                .iter()
                .filter(|h| endpoints.iter().any(|(p, _)| p == *h))
                .count();
            let full = state.filled == state.params.replicas
                && announced == usize::from(state.params.replicas);
            if full || started.elapsed() >= join_timeout || now >= latest_start {
                break (holders, endpoints);
            }
            if state.status != codes::JOB_OPEN {
                return Err(AgentError::Other("job no longer open".into()));
            }
            tokio::time::sleep(self.config().poll.max(Duration::from_millis(200))).await;
        };
        let nodes = usize::from(coop.nodes);
        let index = holders
            .iter()
            .position(|h| *h == me)
            .ok_or_else(|| AgentError::Other("this provider holds no slot of the job".into()))?;
        if index >= nodes {
            return Err(AgentError::Other(format!(
                "slot {index} beyond the spec's {nodes} nodes"
            )));
        }
        // Nodes whose slot is empty or whose provider never said where it is start as dropped.
        let mut peers = Vec::with_capacity(nodes);
        let mut dropped = Vec::new();
        for k in 0..nodes {
            let holder = holders.get(k).copied();
            let url = holder.and_then(|h| {
                endpoints
                    .iter()
                    .rev()
                    .find(|(p, _)| *p == h)
                    .map(|(_, u)| u.clone())
            });
            match (holder, url) {
                (Some(address), Some(url)) => peers.push(Peer { address, url }),
                _ => {
                    dropped.push(k as u32);
                    peers.push(Peer {
                        address: holder.unwrap_or(Address::ZERO),
                        url: String::new(),
                    });
                }
            }
        }
        if !dropped.is_empty() {
            tracing::warn!(job, ?dropped, "starting without nodes that never joined");
        }
        let shard = coop.shards[index].clone();
        for input in &shard {
            self.fetch_blob(&input.blob).await?;
        }
        let session = relay
            .open(SessionConfig {
                job,
                me: index as u32,
                peers,
                topology: topology(coop),
                decimals: coop.decimals,
                peer_timeout: Duration::from_millis(u64::from(coop.peer_timeout_ms)),
                dropped,
            })
            .map_err(|e| AgentError::Other(e.to_string()))?;
        let socket = self.socket_path(job);
        // Until the node is handed over, a failure closes the session (a session left open would
        // answer its peers' probes as alive and stall them).
        let started = async {
            let server = peerflow_dac::local::serve(Arc::clone(&session), &socket)
                .await
                .map_err(|e| AgentError::Other(format!("consensus socket: {e}")))?;
            let checkpoints = match self.escrow().job(job).await {
                Ok(j) => j.params.checkpoints,
                Err(e) => {
                    server.abort();
                    return Err(e.into());
                }
            };
            Ok::<_, AgentError>((server, checkpoints))
        }
        .await;
        let (server, checkpoints) = match started {
            Ok(x) => x,
            Err(e) => {
                relay.close(job, index as u32);
                return Err(e);
            }
        };
        let reporter = tokio::spawn(report_checkpoints(
            self.escrow().clone(),
            job,
            Arc::clone(&session),
            u64::from(checkpoints),
        ));
        tracing::info!(job, node = index, nodes, "joined the cooperative job");
        Ok(Joined {
            ctx: NodeContext {
                index: index as u32,
                nodes: nodes as u32,
                shard,
                socket,
            },
            session,
            relay,
            job,
            server,
            reporter,
        })
    }

    fn socket_path(&self, job: u64) -> PathBuf {
        self.config()
            .data_dir
            .join("dac")
            .join(format!("job{job}.sock"))
    }
}

/// Reports each completed operation of `session` as checkpoint 1, 2, … of `job` (up to
/// `checkpoints`), with the operation and the dropped set it completed in as the state
/// ([`peerflow_dac::session::checkpoint_state`]).
async fn report_checkpoints<P: Provider + Clone + 'static>(
    escrow: Escrow<P>,
    job: u64,
    session: Arc<Session>,
    checkpoints: u64,
) {
    let mut done = session.completed();
    let mut reported = 0u64;
    while reported < checkpoints {
        if done.changed().await.is_err() {
            return;
        }
        let completed = u64::from(*done.borrow());
        while reported < completed.min(checkpoints) {
            let Some(state) = session.checkpoint(reported as u32) else {
                break;
            };
            match escrow.report_checkpoint(job, reported + 1, state).await {
                Ok(()) => {
                    reported += 1;
                    tracing::info!(job, checkpoint = reported, "checkpoint reported");
                }
                Err(e) => {
                    tracing::warn!(job, error = %e, "checkpoint not reported; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}
