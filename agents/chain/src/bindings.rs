//! Typed bindings to the contracts, generated from `abi/` (ABI and bytecode). Each contract has its
//! own module because the ABIs share interface types (e.g. `IStaking` structs).

/// `WorkToken` (abi/WorkToken.json).
pub mod work_token {
    #![allow(clippy::too_many_arguments, missing_docs)]
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        WorkToken,
        "../../abi/WorkToken.json"
    );
}

/// `Staking` (abi/Staking.json).
pub mod staking {
    #![allow(clippy::too_many_arguments, missing_docs)]
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        Staking,
        "../../abi/Staking.json"
    );
}

/// `Minter` (abi/Minter.json).
pub mod minter {
    #![allow(clippy::too_many_arguments, missing_docs)]
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        Minter,
        "../../abi/Minter.json"
    );
}

/// `TicketBroker` (abi/TicketBroker.json).
pub mod ticket_broker {
    #![allow(clippy::too_many_arguments, missing_docs)]
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        TicketBroker,
        "../../abi/TicketBroker.json"
    );
}

/// `ServiceRegistry` (abi/ServiceRegistry.json).
pub mod service_registry {
    #![allow(clippy::too_many_arguments, missing_docs)]
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        ServiceRegistry,
        "../../abi/ServiceRegistry.json"
    );
}

/// `JobEscrow` (abi/JobEscrow.json).
pub mod job_escrow {
    #![allow(clippy::too_many_arguments, missing_docs)]
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        JobEscrow,
        "../../abi/JobEscrow.json"
    );
}

/// `FaultClaims` (abi/FaultClaims.json).
pub mod fault_claims {
    #![allow(clippy::too_many_arguments, missing_docs)]
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        FaultClaims,
        "../../abi/FaultClaims.json"
    );
}

/// `StreamSupport` (abi/StreamSupport.json): tips and subscriptions, viewer to streamer.
pub mod stream_support {
    #![allow(clippy::too_many_arguments, missing_docs)]
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        StreamSupport,
        "../../abi/StreamSupport.json"
    );
}

/// `PeerflowGovernor` (abi/PeerflowGovernor.json): OpenZeppelin's Governor over the vote source.
pub mod governor {
    #![allow(clippy::too_many_arguments, missing_docs)]
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        PeerflowGovernor,
        "../../abi/PeerflowGovernor.json"
    );
}

/// `PeerflowTimelock` (abi/PeerflowTimelock.json): owns every contract of the suite.
pub mod timelock {
    #![allow(clippy::too_many_arguments, missing_docs)]
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        PeerflowTimelock,
        "../../abi/PeerflowTimelock.json"
    );
}

/// `VotePower` (abi/VotePower.json): tokens held plus bonded stake, the governor's vote source.
pub mod vote_power {
    #![allow(clippy::too_many_arguments, missing_docs)]
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        VotePower,
        "../../abi/VotePower.json"
    );
}

/// `VestingWallet` (abi/VestingWallet.json).
pub mod vesting_wallet {
    #![allow(clippy::too_many_arguments, missing_docs)]
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        VestingWallet,
        "../../abi/VestingWallet.json"
    );
}

impl From<peerflow_protocol::SignedTicket> for ticket_broker::ITicketBroker::SignedTicket {
    fn from(t: peerflow_protocol::SignedTicket) -> Self {
        Self {
            senderFace: t.sender_face,
            winProb: t.win_prob,
            meta: t.meta,
            recipientRand: t.recipient_rand,
            r: t.r,
            s: t.s,
        }
    }
}

impl From<peerflow_protocol::Ticket> for ticket_broker::ITicketBroker::Ticket {
    fn from(t: peerflow_protocol::Ticket) -> Self {
        Self {
            recipient: t.recipient,
            sender: t.sender,
            signer: t.signer,
            faceValue: t.faceValue,
            winProb: t.winProb,
            senderNonce: t.senderNonce,
            recipientRandHash: t.recipientRandHash,
            creationRound: t.creationRound,
        }
    }
}

impl From<&peerflow_protocol::result::Profile> for fault_claims::SegmentResultHash::Profile {
    fn from(p: &peerflow_protocol::result::Profile) -> Self {
        Self {
            name: p.name.clone(),
            width: p.width,
            height: p.height,
            bitrateKbps: p.bitrateKbps,
            codec: p.codec.clone(),
        }
    }
}

impl From<&peerflow_protocol::SegmentResult> for fault_claims::SegmentResultHash::SegmentResult {
    fn from(r: &peerflow_protocol::SegmentResult) -> Self {
        Self {
            orchestrator: r.orchestrator,
            broadcaster: r.broadcaster,
            streamHash: r.streamHash,
            seq: r.seq,
            inputHash: r.inputHash,
            profiles: r.profiles.iter().map(Into::into).collect(),
            renditionHashes: r.renditionHashes.clone(),
        }
    }
}
