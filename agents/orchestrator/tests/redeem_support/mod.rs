//! The chain the redemption tests start from: the suite deployed on anvil, an orchestrator
//! (account 1, 50 tokens bonded, rates 0) and senders with the deposits asked for. Either on a
//! plain anvil, or as on a public network: a chain with 50,000 blocks of history, and the
//! orchestrator reaching it only through a stand-in public provider (https with its own CA, a
//! 500-block log cap, 429s past a request rate, 503s and dropped connections, added latency)
//! while the test drives the chain (mining, base fee, reorgs) directly.

use alloy::primitives::{Address, U256, utils::parse_ether};
use alloy::providers::{DynProvider, Provider};
use peerflow_chain::actions::{fund_sender, give, register_orchestrator};
use peerflow_chain::rpc::RpcOptions;
use peerflow_chain::{Deployment, DevChain, DevChainOptions, SuiteParams, deploy_suite};
use peerflow_rpc_standin::{PublicRpc, StandinConfig};

pub struct Redemption {
    pub chain: DevChain,
    pub d: Deployment,
    /// Account 0, straight to anvil: the test's hand on the chain.
    pub deployer: DynProvider,
    /// The orchestrator's wallet (through the stand-in, if there is one) and address.
    pub orchestrator: DynProvider,
    pub o: Address,
    /// The stand-in public provider the orchestrator goes through, if any.
    pub public_rpc: Option<PublicRpc>,
}

/// Where the orchestrator reaches the chain.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Rpc {
    /// Anvil itself.
    Direct,
    /// A public-provider stand-in, over a chain whose genesis is block 50,000.
    Public,
}

/// Blocks of history before the deployment when the orchestrator goes through the stand-in.
pub const HISTORY_BLOCKS: u64 = 50_000;

/// A signing provider for development account `i`, as the roles build it (shared nonces).
pub fn wallet(chain: &DevChain, i: usize) -> DynProvider {
    RpcOptions::new([chain.endpoint()])
        .wallet_provider(chain.signer(i))
        .unwrap()
}

/// Deploys, gives the orchestrator and each sender 100 tokens, registers the orchestrator, and
/// funds each sender (a development account index) with its deposit (in tokens).
pub async fn redemption_chain(senders: &[(usize, &str)]) -> Redemption {
    redemption_chain_via(Rpc::Direct, senders).await
}

/// [`redemption_chain`], with the orchestrator reaching the chain through `rpc`.
pub async fn redemption_chain_via(rpc: Rpc, senders: &[(usize, &str)]) -> Redemption {
    let chain = DevChain::spawn_with(&DevChainOptions {
        genesis_block: (rpc == Rpc::Public).then_some(HISTORY_BLOCKS),
        ..DevChainOptions::default()
    })
    .expect("anvil");
    let public_rpc = match rpc {
        Rpc::Direct => None,
        Rpc::Public => Some(
            PublicRpc::start(StandinConfig::flaky(chain.endpoint(), 50))
                .await
                .expect("stand-in"),
        ),
    };
    let deployer = wallet(&chain, 0);
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    let o = chain.address(1);
    for to in std::iter::once(o).chain(senders.iter().map(|&(i, _)| chain.address(i))) {
        give(&deployer, &d, to, parse_ether("100").unwrap())
            .await
            .unwrap();
    }
    let orchestrator = match &public_rpc {
        None => wallet(&chain, 1),
        Some(standin) => RpcOptions::new([standin.url()])
            .with_ca_certs([standin.ca_path()])
            .wallet_provider(chain.signer(1))
            .unwrap(),
    };
    register_orchestrator(&orchestrator, &d, o, parse_ether("50").unwrap(), 0, 0)
        .await
        .unwrap();
    for &(i, deposit) in senders {
        fund_sender(
            &wallet(&chain, i),
            &d,
            parse_ether(deposit).unwrap(),
            U256::ZERO,
        )
        .await
        .unwrap();
    }
    Redemption {
        chain,
        d,
        deployer,
        orchestrator,
        o,
        public_rpc,
    }
}

#[allow(dead_code)] // each test file includes this module; not every one queues winners this way
/// Queues winning tickets (win probability 1, 1 token each) that development account `sender`
/// signs with `nonces`, under parameters `r`'s orchestrator issues now (they expire in 5 blocks).
pub async fn queue_winners(
    r: &Redemption,
    store: &std::sync::Mutex<peerflow_orchestrator::PaymentStore>,
    sender: usize,
    nonces: std::ops::Range<u64>,
) {
    use peerflow_chain::bindings::staking::Staking;
    use peerflow_orchestrator::{
        ParamsPolicy, RecipientSecret, SenderFunds, TicketParams, Validator,
    };
    use peerflow_protocol::{Signature, TicketDomain};
    let domain = TicketDomain {
        chain_id: r.chain.chain_id(),
        broker: r.d.ticket_broker,
    };
    let secret = RecipientSecret::new([7; 32]);
    let validator = Validator::new(r.o, domain, secret.clone());
    let policy = ParamsPolicy {
        price_per_pixel: U256::from(1u64),
        face_value: parse_ether("1").unwrap(),
        win_prob: U256::MAX,
        lifetime_blocks: 5,
    };
    let block = r.deployer.get_block_number().await.unwrap();
    let round = Staking::new(r.d.staking, &r.deployer)
        .currentRound()
        .call()
        .await
        .unwrap()
        .to::<u64>();
    let funds = SenderFunds {
        available: parse_ether("10").unwrap(),
        unlocking: false,
        signer_authorized: true,
    };
    let b = r.chain.address(sender);
    let mut s = store.lock().unwrap();
    let params = TicketParams::issue(&secret, &policy, r.o, b, block, round);
    s.save_params(&params).unwrap();
    for nonce in nonces {
        let t = params.ticket(b, nonce);
        let sig = Signature::sign(&r.chain.secret_key(sender), t.hash(&domain)).unwrap();
        assert!(
            validator
                .accept(&mut s, &t, &sig, &funds, block)
                .unwrap()
                .winning
        );
    }
}
