//! Why a contract refused a call: the revert data decoded against every contract of the suite, so
//! that a refusal reads `Staking refused: UnbondingNotOver { withdrawRound: 9, currentRound: 4 }`
//! with the rule behind it, instead of a hex blob.

use alloy::primitives::Bytes;
use alloy::sol_types::SolInterface;

use crate::bindings::{
    fault_claims::FaultClaims, governor::PeerflowGovernor, job_escrow::JobEscrow, minter::Minter,
    service_registry::ServiceRegistry, staking::Staking, ticket_broker::TicketBroker,
    timelock::PeerflowTimelock, work_token::WorkToken,
};

/// A decoded custom error: which contract, which error with its arguments, and the rule it
/// enforces where we have words for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub contract: &'static str,
    /// The error's name, e.g. `UnbondingNotOver`.
    pub name: String,
    /// The error with its arguments, e.g. `UnbondingNotOver { withdrawRound: 9, currentRound: 4 }`.
    pub error: String,
    /// The contract rule in words, e.g. "unbonded stake can be withdrawn only from its withdraw round".
    pub rule: Option<&'static str>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} refused: {}", self.contract, self.error)?;
        if let Some(rule) = self.rule {
            write!(f, " (rule: {rule})")?;
        }
        Ok(())
    }
}

/// The contracts in the order their errors are tried; `prefer` (the called contract) goes first
/// because a few errors share a selector across contracts (e.g. `ZeroAmount()`).
const CONTRACTS: [&str; 9] = [
    "Staking",
    "TicketBroker",
    "ServiceRegistry",
    "WorkToken",
    "FaultClaims",
    "JobEscrow",
    "Governor",
    "Timelock",
    "Minter",
];

/// Decodes `data` (revert data) as a custom error of `prefer` or of another contract of the suite.
pub fn decode(data: &[u8], prefer: Option<&str>) -> Option<Refusal> {
    let order = prefer
        .into_iter()
        .chain(CONTRACTS.iter().copied().filter(|c| Some(*c) != prefer));
    order
        .into_iter()
        .find_map(|contract| decode_as(contract, data))
}

fn decode_as(contract: &str, data: &[u8]) -> Option<Refusal> {
    let debug = match contract {
        "Staking" => format!("{:?}", Staking::StakingErrors::abi_decode(data).ok()?),
        "TicketBroker" => format!(
            "{:?}",
            TicketBroker::TicketBrokerErrors::abi_decode(data).ok()?
        ),
        "ServiceRegistry" => format!(
            "{:?}",
            ServiceRegistry::ServiceRegistryErrors::abi_decode(data).ok()?
        ),
        "WorkToken" => format!("{:?}", WorkToken::WorkTokenErrors::abi_decode(data).ok()?),
        "FaultClaims" => format!(
            "{:?}",
            FaultClaims::FaultClaimsErrors::abi_decode(data).ok()?
        ),
        "JobEscrow" => format!("{:?}", JobEscrow::JobEscrowErrors::abi_decode(data).ok()?),
        "Governor" => format!(
            "{:?}",
            PeerflowGovernor::PeerflowGovernorErrors::abi_decode(data).ok()?
        ),
        "Timelock" => format!(
            "{:?}",
            PeerflowTimelock::PeerflowTimelockErrors::abi_decode(data).ok()?
        ),
        "Minter" => format!("{:?}", Minter::MinterErrors::abi_decode(data).ok()?),
        _ => return None,
    };
    let contract = CONTRACTS.iter().copied().find(|c| *c == contract)?;
    let (name, error) = unwrap_variant(&debug);
    Some(Refusal {
        contract,
        rule: rule(&name),
        name,
        error,
    })
}

/// The enum's `Debug` is `Name(Name { .. })` or `Name(Name)`: keep the inner part and the name.
pub(crate) fn unwrap_variant(debug: &str) -> (String, String) {
    let name: String = debug
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let inner = debug
        .strip_prefix(&format!("{name}("))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(debug);
    (name, inner.to_string())
}

/// The revert data an RPC error carries (a call or gas estimate that reverted).
pub fn revert_data_of<E>(error: &alloy::transports::RpcError<E>) -> Option<Bytes> {
    error.as_error_resp().and_then(|p| p.as_revert_data())
}

/// The refusal behind a failed contract call, if it reverted with a known custom error.
pub fn of_contract_error(error: &alloy::contract::Error, prefer: Option<&str>) -> Option<Refusal> {
    decode(&error.as_revert_data()?, prefer)
}

/// The rules of the errors a token holder, an orchestrator operator or a broadcaster meets.
fn rule(name: &str) -> Option<&'static str> {
    Some(match name {
        // Staking
        "ZeroAmount" => "the amount must be more than zero",
        "ZeroAddress" => "the address must not be zero",
        "NotOrchestrator" => "only a registered orchestrator may do this",
        "NotRewardCaller" => {
            "only the orchestrator or the reward caller it named (setRewardCaller) may call rewardFor"
        }
        "NotRedeemer" => {
            "only the recipient or the redeemer it named (setRedeemer) may redeem its tickets"
        }
        "AlreadyRegistered" => "an account registers as an orchestrator once",
        "OrchestratorMustSelfDelegate" => {
            "an orchestrator bonds to itself before it registers, and cannot delegate elsewhere"
        }
        "ThirdPartyCannotOpenPosition" => "a third party may only add to an existing position",
        "ThirdPartyCannotChangeDelegate" => {
            "a third party may only add stake to the owner's current delegate"
        }
        "NotBonded" => "the account has no bonded stake",
        "AlreadyBonded" => "the account is bonded to another delegate: unbond first, or bond to it",
        "NothingToBond" => "there is nothing to bond",
        "InsufficientBond" => "one can unbond at most the stake bonded",
        "InsufficientFees" => "one can withdraw at most the fees earned",
        "UnknownUnbondingLock" => "no such unbonding lock for this account (or it was used)",
        "UnbondingNotOver" => "unbonded stake can be withdrawn only from its withdraw round",
        "RateAbovePpm" => "a rate is at most 100%",
        "RatesLockedInWindow" => "rates cannot change in the last blocks of a round",
        "RateChangeCooldown" => "rates can change only once per cooldown period",
        "NotActiveOrchestrator" => "only an orchestrator active this round may call reward",
        "AlreadyRewarded" => "reward can be called once per round",
        "NotEligibleForActiveSet" => "the active set needs at least the minimum active stake",
        "AlreadyInActiveSet" => "the orchestrator is already in the active set",
        "EvicteeHasMoreStake" => "only an orchestrator with less stake can be evicted",
        "StakeFrozen" => "stake under an open fault claim cannot be unbonded or moved",
        // TicketBroker
        "NoFunds" => "there is no deposit or reserve to withdraw",
        "AlreadyUnlocking" => "the funds are already unlocking",
        "NotUnlocking" => "unlock the funds first, then withdraw after the unlock period",
        "UnlockPeriodNotOver" => "unlocked funds can be withdrawn only from their withdraw round",
        "SignerIsFunder" => "the funder signs its own tickets without authorizing itself",
        "TicketNonceUsed" => "a ticket pays once per (signer, recipient, nonce)",
        "TicketNonceTooOld" => {
            "a ticket pays only within the replay window of its signer and recipient (the newest \
             redeemed word of 192 nonces and the 15 before it: 3,072 nonces); a winner 16 words newer \
             was redeemed first, so this one can never be paid"
        }
        "UnsupportedToken" => {
            "the payment token delivered less than the amount (a transfer fee or rebase): not accepted"
        }
        // ServiceRegistry
        "EmptyUri" => "an advertisement needs a service URI",
        "UriTooLong" => "the service URI is too long",
        "TooManyServiceIds" => "too many services in one advertisement",
        "TooManyRegions" => "too many regions in one advertisement",
        "ZeroServiceId" | "ZeroRegion" => "service ids and regions must not be empty",
        "NoService" => "the orchestrator has no advertisement",
        // Governor and timelock
        "GovernorUnexpectedProposalState" => {
            "a proposal is voted on while active, queued once it succeeded, executed once queued"
        }
        "GovernorAlreadyCastVote" => "an account votes once per proposal",
        "GovernorAlreadyOverriddenVote" => {
            "a delegator overrides its orchestrator once per proposal"
        }
        "GovernorInsufficientProposerVotes" => {
            "proposing needs the proposal threshold in votes at the previous block"
        }
        "GovernorNonexistentProposal" => "no such proposal",
        "GovernorOnlyExecutor" => "governance settings change only through an executed proposal",
        "TimelockUnexpectedOperationState" => {
            "the timelock executes an operation once, after its delay, and only if it was queued"
        }
        "TimelockUnauthorizedCaller" | "AccessControlUnauthorizedAccount" => {
            "only the governor schedules on the timelock, and only the timelock changes its delay"
        }
        "OwnableUnauthorizedAccount" => {
            "parameters change only through the timelock, by an executed governance proposal"
        }
        // ERC-20
        "ERC20InsufficientBalance" => "the account holds fewer tokens than the amount",
        "ERC20InsufficientAllowance" => "the contract may not spend that many of the tokens",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Address, U256};
    use alloy::sol_types::SolError;

    #[test]
    fn names_the_contract_the_error_and_the_rule() {
        let data = Staking::UnbondingNotOver {
            withdrawRound: U256::from(9),
            currentRound: U256::from(4),
        }
        .abi_encode();
        let r = decode(&data, None).expect("a Staking error");
        assert_eq!(r.contract, "Staking");
        assert_eq!(r.name, "UnbondingNotOver");
        assert_eq!(
            r.error,
            "UnbondingNotOver { withdrawRound: 9, currentRound: 4 }"
        );
        assert_eq!(
            r.to_string(),
            "Staking refused: UnbondingNotOver { withdrawRound: 9, currentRound: 4 } \
             (rule: unbonded stake can be withdrawn only from its withdraw round)"
        );
    }

    #[test]
    fn shared_selectors_go_to_the_called_contract() {
        let data = TicketBroker::ZeroAmount {}.abi_encode();
        assert_eq!(
            decode(&data, Some("TicketBroker")).unwrap().contract,
            "TicketBroker"
        );
        assert_eq!(decode(&data, Some("Staking")).unwrap().contract, "Staking");
    }

    #[test]
    fn token_errors_bubble_through_any_call() {
        let data = WorkToken::ERC20InsufficientBalance {
            sender: Address::repeat_byte(1),
            balance: U256::from(1),
            needed: U256::from(2),
        }
        .abi_encode();
        let r = decode(&data, Some("Staking")).unwrap();
        assert_eq!(r.contract, "WorkToken");
        assert_eq!(r.name, "ERC20InsufficientBalance");
    }

    #[test]
    fn a_ticket_out_of_the_replay_window_is_named_with_its_rule() {
        let data = TicketBroker::TicketNonceTooOld {}.abi_encode();
        let r = decode(&data, Some("TicketBroker")).expect("a TicketBroker error");
        assert_eq!(
            (r.contract, r.name.as_str()),
            ("TicketBroker", "TicketNonceTooOld")
        );
        assert!(r.rule.unwrap().contains("3,072"));
        let used = decode(&TicketBroker::TicketNonceUsed {}.abi_encode(), None).unwrap();
        assert_eq!(used.name, "TicketNonceUsed");
        assert_ne!(used.rule, r.rule);
    }

    #[test]
    fn unknown_data_is_not_a_refusal() {
        assert_eq!(decode(&[1, 2, 3, 4, 5], None), None);
        assert_eq!(decode(&[], None), None);
    }
}
