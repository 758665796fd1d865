//! A running orchestrator: its HTTP API, the redemption loop and the per-round `reward()` call,
//! with its state (payment database, recipient secret) in a data directory so that a restart
//! loses nothing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use peerflow_chain::Deployment;
use peerflow_chain::bindings::service_registry::ServiceRegistry;
use peerflow_chain::bindings::staking::Staking;
use peerflow_protocol::TicketDomain;
use peerflow_protocol::result::{ResultDomain, ResultSigner};
use tokio::task::JoinHandle;

use crate::book::TicketBook;
use crate::chain_view::ChainView;
use crate::gas_outlook::{self, FacePolicy};
use crate::http::router;
use crate::metrics::reward_call;
use crate::node::{Node, NodeConfig};
use crate::params::RecipientSecret;
use crate::redeemer::{GasPolicy, Redeemer};
use crate::store::{PaymentStore, StoreError};
use crate::validator::Validator;

/// Why the orchestrator could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("chain: {0}")]
    Chain(String),
    #[error("the signing key is not {0}'s")]
    WrongKey(Address),
    #[error(
        "{key} is not {orchestrator}'s hot key (it names {named}): run `peerflow orchestrator \
         set-keys --redeemer {key}` with the orchestrator's key first"
    )]
    NotHotKey {
        orchestrator: Address,
        key: Address,
        named: Address,
    },
}

/// Everything an orchestrator needs besides its chain connection.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub deployment: Deployment,
    pub node: NodeConfig,
    pub max_segment_bytes: usize,
    pub redeem_every: Duration,
    pub gas: GasPolicy,
    /// Blocks a redemption must be deep before it counts ([`Redeemer::with_confirmations`]).
    pub confirmations: u64,
    /// Call `reward()` each round (off when a reward-caller key does, see [`reward_loop`]).
    pub reward_calls: bool,
    /// The most the ticket face value may rise to with the gas outlook ([`crate::gas_outlook`]);
    /// 0: it stays at the configured one.
    pub max_face_value: U256,
}

/// A started orchestrator; its tasks stop when this is dropped.
pub struct RunningOrchestrator<P> {
    pub url: String,
    pub node: Arc<Node<P>>,
    tasks: Vec<JoinHandle<()>>,
}

impl<P> Drop for RunningOrchestrator<P> {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl RecipientSecret {
    /// The secret in `path`, created (randomly) on first use. Losing it would make every queued
    /// winning ticket unredeemable, so it is kept beside the payment database. It is created
    /// readable by its owner only (0600): whoever reads it can tell winning tickets in advance.
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) if bytes.len() == 32 => Ok(Self::new(bytes.try_into().expect("32 bytes"))),
            Ok(_) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "recipient secret must be 32 bytes",
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secret = Self::random();
                write_private(path, &secret.bytes())?;
                Ok(secret)
            }
            Err(e) => Err(e),
        }
    }
}

/// Writes a new file at `path` that only its owner may read and write (0600 on Unix), failing if
/// it exists: a secret is never written through a file someone else prepared.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Starts the API, the redeemer and the reward loop for `me`, whose wallet `provider` signs with;
/// `key` (`me`'s secret key) signs every segment result.
pub async fn start<P: Provider + Clone + 'static>(
    provider: P,
    me: Address,
    key: [u8; 32],
    config: ServiceConfig,
) -> Result<RunningOrchestrator<P>, ServiceError> {
    start_with_keys(provider, None, me, key, config).await
}

/// [`start`], redeeming through `redeemer` (a provider signing with the redemption key `me` named
/// with `Staking.setRedeemer`) when given; `reward()` is called each round unless
/// [`ServiceConfig::reward_calls`] is off (a reward-caller key does it elsewhere).
///
/// With `me`'s stake key offline, `key` and `provider` are `me`'s hot key (the redeemer it named,
/// checked here): it signs the segment results, redeems for `me`, and calls `reward()` for `me`
/// only if `me` also named it its reward caller.
pub async fn start_with_keys<P: Provider + Clone + 'static>(
    provider: P,
    redeemer: Option<P>,
    me: Address,
    key: [u8; 32],
    config: ServiceConfig,
) -> Result<RunningOrchestrator<P>, ServiceError> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).map_err(|e| ServiceError::DataDir(dir.clone(), e))?;
    let secret = RecipientSecret::load_or_create(&dir.join("recipient.secret"))
        .map_err(|e| ServiceError::DataDir(dir.clone(), e))?;
    let db = dir.join("payments.sqlite");
    let d = &config.deployment;
    let domain = TicketDomain {
        chain_id: d.chain_id,
        broker: d.ticket_broker,
    };
    let signer = ResultSigner::new(
        key,
        ResultDomain {
            chain_id: d.chain_id,
            staking: d.staking,
        },
    )
    .map_err(|_| ServiceError::WrongKey(me))?;
    let cold = signer.address() != me;
    let mut reward_calls = config.reward_calls;
    if cold {
        let staking = Staking::new(d.staking, &provider);
        let chain = |e: alloy::contract::Error| ServiceError::Chain(e.to_string());
        let named = staking.redeemerOf(me).call().await.map_err(chain)?;
        if named != signer.address() {
            return Err(ServiceError::NotHotKey {
                orchestrator: me,
                key: signer.address(),
                named,
            });
        }
        if reward_calls && staking.rewardCallerOf(me).call().await.map_err(chain)? != named {
            tracing::warn!(
                orchestrator = %me,
                hot_key = %named,
                "the hot key is not the reward caller: reward() is left to it (call-rewards --for)"
            );
            reward_calls = false;
        }
    }
    let view = ChainView::new(
        provider.clone(),
        d.ticket_broker,
        me,
        d.start_block,
        d.round_length,
    );
    let node = Arc::new(Node::new(
        Validator::new(me, domain, secret),
        PaymentStore::open(&db)?,
        TicketBook::open(&db)?,
        view,
        config.node.clone(),
        signer,
    ));

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServiceError::Listen(config.listen, e))?;
    let url = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(|e| ServiceError::Listen(config.listen, e))?
    );
    let app = router(Arc::clone(&node), config.max_segment_bytes).merge(
        peerflow_chain::governance::routes(provider.clone(), d.clone()),
    );
    let mut tasks = vec![tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "orchestrator HTTP server stopped");
        }
    })];

    // Redemption runs on its own connection to the same database (sqlite WAL).
    let redeem_store = std::sync::Mutex::new(PaymentStore::open(&db)?);
    let hot = redeemer.is_some() || cold;
    let redeemer = Redeemer::new(
        d.ticket_broker,
        redeemer.unwrap_or_else(|| provider.clone()),
        config.gas,
    )
    .await
    .map_err(|e| ServiceError::Chain(e.to_string()))?
    .with_metrics(Arc::clone(node.metrics()))
    .with_confirmations(config.confirmations);
    let redeemer = if hot {
        redeemer.for_recipient(me)
    } else {
        redeemer
    };
    let every = config.redeem_every;
    let redeeming = Arc::clone(&node);
    tasks.push(tokio::spawn(async move {
        loop {
            if redeeming.retired() {
                // The broker would refuse this key: the winners wait for the key named now.
                tokio::time::sleep(every).await;
                continue;
            }
            match redeemer.redeem_due(&redeem_store).await {
                Ok(r) if r.redeemed + r.retrying + r.failed + r.reorged > 0 => {
                    tracing::info!(?r, "redemption pass")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "redemption pass failed; will retry"),
            }
            tokio::time::sleep(every).await;
        }
    }));
    if config.max_face_value > config.node.policy.face_value {
        let face = FacePolicy {
            floor: config.node.policy.face_value,
            cap: config.max_face_value,
            gas: config.gas,
        };
        let quoting = Arc::clone(&node);
        tasks.push(tokio::spawn(gas_outlook::follow(
            provider.clone(),
            face,
            Arc::new(move |f| quoting.set_face_value(f)),
        )));
    }
    if cold {
        tasks.push(tokio::spawn(follow_named_key(
            provider.clone(),
            d.staking,
            me,
            Arc::clone(&node),
        )));
    }
    tasks.push(tokio::spawn(follow_advertised_price(
        provider.clone(),
        d.service_registry,
        me,
        Arc::clone(&node),
    )));
    if reward_calls {
        tasks.push(tokio::spawn(reward_loop(
            provider,
            d.staking,
            me,
            Arc::clone(node.metrics()),
        )));
    }
    tracing::info!(%url, orchestrator = %me, "orchestrator started");
    Ok(RunningOrchestrator { url, node, tasks })
}

/// How often the orchestrator reads its own advertisement in the service registry.
const ADVERTISEMENT_POLL: Duration = Duration::from_secs(2);

/// Quotes the price this orchestrator advertises in the service registry whenever that changes
/// (`peerflow orchestrator set-price`), so broadcasters are charged what they selected it by; an
/// advertisement without a price (0) leaves the configured price.
async fn follow_advertised_price<P: Provider + Clone>(
    provider: P,
    registry: Address,
    me: Address,
    node: Arc<Node<P>>,
) {
    let registry = ServiceRegistry::new(registry, provider);
    loop {
        match registry.getService(me).call().await {
            Ok(service) if service.pricePerUnit > U256::ZERO => {
                node.set_price(service.pricePerUnit)
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "reading the service registry"),
        }
        tokio::time::sleep(ADVERTISEMENT_POLL).await;
    }
}

/// Keeps a hot-key node's [`Node::follow_named_key`] current: the stake key may replace or clear
/// the hot key at any time (`peerflow orchestrator set-keys`), and a node whose key is no longer
/// named stops taking work it could neither redeem nor be named for.
async fn follow_named_key<P: Provider + Clone>(
    provider: P,
    staking: Address,
    me: Address,
    node: Arc<Node<P>>,
) {
    let staking = Staking::new(staking, provider);
    loop {
        tokio::time::sleep(ADVERTISEMENT_POLL).await;
        match staking.redeemerOf(me).call().await {
            Ok(named) => node.follow_named_key(named),
            // Fails open: a chain outage must not stop the video (tickets queue meanwhile);
            // the key is read again at the next poll.
            Err(e) => tracing::warn!(error = %e, "reading the orchestrator's hot key failed"),
        }
    }
}

/// How often the reward loop reads the round and the orchestrator's last rewarded round.
pub const REWARD_POLL: Duration = Duration::from_secs(1);

/// Calls `rewardFor(me)` once in every round in which orchestrator `me` is active, through
/// `provider`: the orchestrator's own key, or the reward-caller key it named
/// (`Staking.setRewardCaller`, `peerflow orchestrator call-rewards`).
pub async fn reward_loop<P: Provider + Clone>(
    provider: P,
    staking: Address,
    me: Address,
    metrics: Arc<peerflow_protocol::metrics::Metrics>,
) {
    let staking = Staking::new(staking, provider);
    loop {
        // The chain says whether this round is rewarded, every time: a reward() a reorg took out
        // is called again.
        tokio::time::sleep(REWARD_POLL).await;
        let Ok(round) = staking.currentRound().call().await else {
            continue;
        };
        let Ok(info) = staking.orchestratorInfo(me).call().await else {
            continue;
        };
        if !info.activeThisRound || info.lastRewardRound == round {
            continue;
        }
        match peerflow_chain::send::until_mined(&staking.rewardFor(me)).await {
            Ok(receipt) if receipt.status() => {
                tracing::info!(%round, orchestrator = %me, "rewardFor() called");
                reward_call(&metrics, "rewarded");
            }
            Ok(receipt) => {
                reward_call(&metrics, "reverted");
                tracing::warn!(tx = %receipt.transaction_hash, "rewardFor() reverted")
            }
            Err(e) => {
                reward_call(&metrics, "failed");
                tracing::warn!(error = %e, "rewardFor() not mined")
            }
        }
    }
}
