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

impl TicketDomain {
    /// The EIP-712 domain separator (what [`Ticket::hash_under`] takes: computing it is most of
    /// [`Ticket::hash`]'s work).
    pub fn separator(&self) -> B256 {
        self.eip712().separator()
    }
}

impl Ticket {
    /// The digest that is signed and fed to the lottery (`TicketBroker.hashTicket`).
    pub fn hash(&self, domain: &TicketDomain) -> B256 {
        self.eip712_signing_hash(&domain.eip712())
    }

    /// [`Ticket::hash`] under a domain's [`separator`](TicketDomain::separator), computed once
    /// for many tickets: `keccak256(0x1901 ‖ separator ‖ hashStruct(ticket))`.
    pub fn hash_under(&self, separator: B256) -> B256 {
        let mut digest = [0u8; 66];
        digest[..2].copy_from_slice(&[0x19, 0x01]);
        digest[2..34].copy_from_slice(separator.as_slice());
        digest[34..].copy_from_slice(self.eip712_hash_struct().as_slice());
        alloy_primitives::keccak256(digest)
    }
}
