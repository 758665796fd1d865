//! The hot key's authorization: an EIP-712 `SignerGrant` the viewer's wallet signs once, which the
//! broadcaster relays to the TicketBroker (`authorizeSignerWithSig`).

use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolStruct;
use peerflow_protocol::TicketDomain;
use peerflow_protocol::signature::{Signature, SignatureError};

alloy::sol! {
    /// `SignerGrant(address funder,address signer,address recipient,uint256 maxSpend,uint256 untilRound,uint256 nonce,uint256 deadline)`
    /// under the broker's EIP-712 domain: `funder` lets `signer` sign its tickets to `recipient`
    /// created before round `untilRound`, for at most `maxSpend` of face value redeemed; relayed at
    /// most once (`nonce` is the funder's grant nonce) and only until `deadline` (unix seconds).
    #[derive(Debug, PartialEq, Eq)]
    struct SignerGrant {
        address funder;
        address signer;
        address recipient;
        uint256 maxSpend;
        uint256 untilRound;
        uint256 nonce;
        uint256 deadline;
    }
}

impl SignerGrant {
    /// The digest the funder signs.
    pub fn digest(&self, domain: &TicketDomain) -> B256 {
        self.eip712_signing_hash(&domain.eip712())
    }

    /// The funder's signature of this grant.
    pub fn sign(
        &self,
        funder_key: &[u8; 32],
        domain: &TicketDomain,
    ) -> Result<Signature, SignatureError> {
        Signature::sign(funder_key, self.digest(domain))
    }

    /// Who signed it.
    pub fn signer_of(
        &self,
        signature: &Signature,
        domain: &TicketDomain,
    ) -> Result<Address, SignatureError> {
        signature.recover(self.digest(domain))
    }

    pub fn new(
        funder: Address,
        signer: Address,
        recipient: Address,
        max_spend: U256,
        until_round: u64,
        nonce: U256,
        deadline: u64,
    ) -> Self {
        Self {
            funder,
            signer,
            recipient,
            maxSpend: max_spend,
            untilRound: U256::from(until_round),
            nonce,
            deadline: U256::from(deadline),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerflow_protocol::signature::address_of_secret;

    #[test]
    fn a_grant_recovers_to_its_funder_and_only_under_its_domain() {
        let key = [7u8; 32];
        let funder = address_of_secret(&key).unwrap();
        let domain = TicketDomain {
            chain_id: 31337,
            broker: Address::repeat_byte(0xbb),
        };
        let grant = SignerGrant::new(
            funder,
            Address::repeat_byte(0x11),
            Address::repeat_byte(0x22),
            U256::from(10u8),
            12,
            U256::ZERO,
            1_900_000_000,
        );
        let sig = grant.sign(&key, &domain).unwrap();
        assert_eq!(grant.signer_of(&sig, &domain).unwrap(), funder);
        let other = TicketDomain {
            chain_id: 1,
            ..domain
        };
        assert_ne!(grant.signer_of(&sig, &other).unwrap(), funder);
        let later = SignerGrant {
            untilRound: U256::from(13),
            ..grant.clone()
        };
        assert_ne!(later.signer_of(&sig, &domain).unwrap(), funder);
        let elsewhere = SignerGrant {
            recipient: Address::repeat_byte(0x33),
            ..grant.clone()
        };
        assert_ne!(elsewhere.signer_of(&sig, &domain).unwrap(), funder);
        let more = SignerGrant {
            maxSpend: U256::from(11u8),
            ..grant.clone()
        };
        assert_ne!(more.signer_of(&sig, &domain).unwrap(), funder);
    }
}
