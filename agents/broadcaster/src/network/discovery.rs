//! Discovery: the registry's one-call view of the active set, filtered by service and region.

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use peerflow_chain::actions::string_of;
use peerflow_chain::bindings::service_registry::ServiceRegistry;

/// An orchestrator that advertises what we need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub address: Address,
    pub uri: String,
    /// Its whole pool, delegations included.
    pub stake: U256,
    /// What a fault claim can slash: its own stake and unbonding locks (delegations never are).
    pub at_risk: U256,
    /// Advertised price (0: none; the quote in `/v1/info` is what counts).
    pub advertised_price: U256,
    pub services: Vec<String>,
    pub regions: Vec<String>,
    /// The key it named to sign its segment results besides its own (`Staking.redeemerOf`), so its
    /// stake key can stay offline; `None`: its own key signs.
    pub hot_key: Option<Address>,
}

/// Reading the registry failed.
#[derive(Debug, thiserror::Error)]
#[error("registry read failed: {0}")]
pub struct DiscoveryError(pub String);

/// Active orchestrators with a URI offering `service` (and serving `region`, if given).
pub async fn discover<P: Provider>(
    provider: P,
    registry: Address,
    service: &str,
    region: Option<&str>,
) -> Result<Vec<Candidate>, DiscoveryError> {
    let listings = ServiceRegistry::new(registry, provider)
        .getActiveSet()
        .call()
        .await
        .map_err(|e| DiscoveryError(e.to_string()))?;
    Ok(listings
        .into_iter()
        .map(|l| Candidate {
            address: l.orchestrator,
            uri: l.service.uri.trim_end_matches('/').to_string(),
            stake: l.stake,
            at_risk: l.atRisk,
            advertised_price: l.service.pricePerUnit,
            services: l.service.serviceIds.iter().map(string_of).collect(),
            regions: l.service.regions.iter().map(string_of).collect(),
            hot_key: (!l.hotKey.is_zero()).then_some(l.hotKey),
        })
        .filter(|c| !c.uri.is_empty() && c.services.iter().any(|s| s == service))
        .filter(|c| region.is_none_or(|r| c.regions.iter().any(|x| x == r)))
        .collect())
}
