//! Validates the tickets that pay for a segment and books them.
//!
//! A ticket is accepted when it carries this orchestrator's current parameters for its sender,
//! is signed (canonically) by the sender or a signer the chain says the sender authorized, uses a
//! nonce above every nonce seen from that signer, and its sender has funds that are not unlocking.
//! Its expected value is credited to the sender; a winner is queued for redemption once its
//! parameters have expired. Work is then debited at this orchestrator's own price.

use alloy_primitives::{Address, B256, U256};
use peerflow_protocol::{
    Signature, SignatureError, SignedTicket, Ticket, TicketDomain, is_winning_ticket,
};

use crate::params::{RecipientSecret, TicketParams};
use crate::store::{Acceptance, NewWinner, PaymentStore, StoreError};

/// Why a ticket was refused. Each maps to a machine-readable code for the HTTP API.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("no ticket parameters with this recipientRandHash were issued here")]
    UnknownParams,
    #[error("ticket parameters expired at block {expiration_block} (now {block})")]
    ParamsExpired { expiration_block: u64, block: u64 },
    #[error("ticket is not addressed to this orchestrator")]
    WrongRecipient,
    #[error("ticket field {0} does not match the parameters issued")]
    ParamsMismatch(&'static str),
    #[error("bad signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("signature is by {recovered}, ticket names signer {claimed}")]
    WrongSigner {
        recovered: Address,
        claimed: Address,
    },
    #[error("{signer} may not sign for {sender}")]
    UnauthorizedSigner { sender: Address, signer: Address },
    #[error("sender {0} is unlocking its funds")]
    SenderUnlocking(Address),
    #[error(
        "sender {sender} has {available} in deposit and reserve share, a ticket may pay {face_value}"
    )]
    InsufficientFunds {
        sender: Address,
        available: U256,
        face_value: U256,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PaymentError {
    /// Machine-readable code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownParams | Self::ParamsExpired { .. } => "ticket_params_expired",
            Self::WrongRecipient => "wrong_recipient",
            Self::ParamsMismatch(_) => "ticket_params_mismatch",
            Self::Signature(_) | Self::WrongSigner { .. } => "invalid_signature",
            Self::UnauthorizedSigner { .. } => "unauthorized_signer",
            Self::SenderUnlocking(_) => "sender_unlocking",
            Self::InsufficientFunds { .. } | Self::Store(StoreError::FundsSpokenFor { .. }) => {
                "insufficient_deposit"
            }
            Self::Store(StoreError::NonceReplayed { .. }) => "ticket_replayed",
            Self::Store(StoreError::ParamsSpent(_)) => "already_paid",
            Self::Store(StoreError::InsufficientBalance { .. }) => "insufficient_balance",
            Self::Store(_) => "internal",
        }
    }
}

/// What the chain says about a sender, as far as this orchestrator has read it.
#[derive(Debug, Clone, Copy)]
pub struct SenderFunds {
    /// Deposit plus this orchestrator's share of the reserve.
    pub available: U256,
    pub unlocking: bool,
    /// Whether the ticket's signer is the sender or authorized by it for the ticket's round.
    pub signer_authorized: bool,
}

/// Outcome of an accepted ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub credited: U256,
    pub winning: bool,
}

/// Validates tickets addressed to `recipient` on one broker.
pub struct Validator {
    pub recipient: Address,
    domain: TicketDomain,
    /// The domain's EIP-712 separator, computed once.
    separator: B256,
    secret: RecipientSecret,
}

impl Validator {
    pub fn new(recipient: Address, domain: TicketDomain, secret: RecipientSecret) -> Self {
        Self {
            recipient,
            domain,
            separator: domain.separator(),
            secret,
        }
    }

    /// The chain and broker whose tickets it takes.
    pub fn domain(&self) -> TicketDomain {
        self.domain
    }

    /// The secret parameters are derived from (for issuing parameters).
    pub fn secret(&self) -> &RecipientSecret {
        &self.secret
    }

    /// Checks one ticket at `block` and, if valid, books it in `store` (atomically).
    pub fn accept(
        &self,
        store: &mut PaymentStore,
        ticket: &Ticket,
        signature: &Signature,
        funds: &SenderFunds,
        block: u64,
    ) -> Result<Accepted, PaymentError> {
        let params = store
            .params(ticket.recipientRandHash)?
            .ok_or(PaymentError::UnknownParams)?;
        let (accepted, acceptance) = self.check(&params, ticket, signature, funds, block)?;
        store.accept(&acceptance)?;
        Ok(accepted)
    }

    /// Checks one ticket at `block` against `params`, the parameters its `recipientRandHash`
    /// names (the caller looked them up where they were issued): what it earns its sender, and
    /// the [`Acceptance`] that books it. Nothing is booked here, so neither its nonce nor the
    /// funds it may win are known to be free yet: the booking checks both.
    pub fn check(
        &self,
        params: &TicketParams,
        ticket: &Ticket,
        signature: &Signature,
        funds: &SenderFunds,
        block: u64,
    ) -> Result<(Accepted, Acceptance), PaymentError> {
        if ticket.recipient != self.recipient {
            return Err(PaymentError::WrongRecipient);
        }
        if ticket.recipientRandHash != params.recipient_rand_hash {
            return Err(PaymentError::UnknownParams);
        }
        check_against_params(ticket, params, block)?;

        let hash = ticket.hash_under(self.separator);
        let recovered = signature.recover(hash)?;
        if recovered != ticket.signer {
            return Err(PaymentError::WrongSigner {
                recovered,
                claimed: ticket.signer,
            });
        }
        if !funds.signer_authorized {
            return Err(PaymentError::UnauthorizedSigner {
                sender: ticket.sender,
                signer: ticket.signer,
            });
        }
        if funds.unlocking {
            return Err(PaymentError::SenderUnlocking(ticket.sender));
        }
        if funds.available < ticket.faceValue {
            return Err(PaymentError::InsufficientFunds {
                sender: ticket.sender,
                available: funds.available,
                face_value: ticket.faceValue,
            });
        }

        let rand = self.secret.recipient_rand(params.seed, params.sender);
        // The draw reads the sender's signature (recovered canonically above), which this
        // orchestrator could not know when it committed to `rand`.
        let winning = is_winning_ticket(signature, rand, ticket.winProb);
        let winner = if winning {
            let wire = SignedTicket::pack(ticket, rand, signature)
                .map_err(|_| PaymentError::ParamsMismatch("wire"))?;
            Some(NewWinner {
                face_value: ticket.faceValue,
                creation_round: params.creation_round,
                redeemable_from_block: params.expiration_block + 1,
                wire,
            })
        } else {
            None
        };
        let credited = params.ticket_value();
        let acceptance = Acceptance {
            signer: ticket.signer,
            nonce: ticket.senderNonce.to::<u64>(),
            sender: ticket.sender,
            credit: credited,
            winner,
            face_value: ticket.faceValue,
            deposit: funds.available,
            spends_params: None,
        };
        Ok((Accepted { credited, winning }, acceptance))
    }
}

fn check_against_params(
    ticket: &Ticket,
    params: &TicketParams,
    block: u64,
) -> Result<(), PaymentError> {
    if block > params.expiration_block {
        return Err(PaymentError::ParamsExpired {
            expiration_block: params.expiration_block,
            block,
        });
    }
    if ticket.sender != params.sender {
        return Err(PaymentError::ParamsMismatch("sender"));
    }
    if ticket.faceValue != params.face_value {
        return Err(PaymentError::ParamsMismatch("faceValue"));
    }
    if ticket.winProb != params.win_prob {
        return Err(PaymentError::ParamsMismatch("winProb"));
    }
    if ticket.creationRound != U256::from(params.creation_round) {
        return Err(PaymentError::ParamsMismatch("creationRound"));
    }
    if ticket.senderNonce > U256::from(peerflow_protocol::wire::MAX_NONCE) {
        return Err(PaymentError::ParamsMismatch("senderNonce"));
    }
    Ok(())
}
