//! The chain the redemption tests start from: the suite deployed on anvil, an orchestrator
//! (account 1, 50 tokens bonded, rates 0) and senders with the deposits asked for.

use alloy::primitives::{Address, U256, utils::parse_ether};
use alloy::providers::DynProvider;
use peerflow_chain::actions::{fund_sender, give, register_orchestrator};
use peerflow_chain::rpc::RpcOptions;
use peerflow_chain::{Deployment, DevChain, SuiteParams, deploy_suite};

pub struct Redemption {
    pub chain: DevChain,
    pub d: Deployment,
    pub deployer: DynProvider,
    /// The orchestrator's wallet and address.
    pub orchestrator: DynProvider,
    pub o: Address,
}

/// A signing provider for development account `i`, as the roles build it (shared nonces).
pub fn wallet(chain: &DevChain, i: usize) -> DynProvider {
    RpcOptions::new([chain.endpoint()])
        .wallet_provider(chain.signer(i))
        .unwrap()
}

/// Deploys, gives the orchestrator and each sender 100 tokens, registers the orchestrator, and
/// funds each sender (a development account index) with its deposit (in tokens).
pub async fn redemption_chain(senders: &[(usize, &str)]) -> Redemption {
    let chain = DevChain::spawn().expect("anvil");
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
    let orchestrator = wallet(&chain, 1);
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
    }
}
