//! The ticket and its EIP-712 hash.

use alloy_primitives::{Address, B256};
use alloy_sol_types::{Eip712Domain, SolStruct, eip712_domain, sol};

sol! {
    /// The signed fields of a ticket: the EIP-712 type `Ticket` of `ITicketBroker`.
    #[derive(Debug, PartialEq, Eq)]
    struct Ticket {
        address recipient;
        address sender;
        address signer;
        uint256 faceValue;
        uint256 winProb;
        uint256 senderNonce;
        bytes32 recipientRandHash;
        uint256 creationRound;
    }
}

/// The EIP-712 domain name and version of the TicketBroker.
pub const DOMAIN_NAME: &str = "peerflow TicketBroker";
/// See [`DOMAIN_NAME`].
pub const DOMAIN_VERSION: &str = "1";

/// Where a ticket is valid: one chain, one broker deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketDomain {
    pub chain_id: u64,
    pub broker: Address,
}

impl TicketDomain {
    /// The EIP-712 domain `{name, version, chainId, verifyingContract}`.
    pub fn eip712(&self) -> Eip712Domain {
        eip712_domain! {
            name: DOMAIN_NAME,
            version: DOMAIN_VERSION,
            chain_id: self.chain_id,
            verifying_contract: self.broker,
        }
    }
}

impl Ticket {
    /// The digest that is signed and fed to the lottery (`TicketBroker.hashTicket`).
    pub fn hash(&self, domain: &TicketDomain) -> B256 {
        self.eip712_signing_hash(&domain.eip712())
    }
}
