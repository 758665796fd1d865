// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IStaking
/// @notice Bonding, delegation, orchestrator registration, the active set, rounds, rewards, fee
///         sharing and slashing.
/// @dev Amounts are in work-token wei. Rates (rewardCut, feeShare, slash percentages) are parts per
///      million. Rounds are `(block.number - startBlock) / roundLength`. Earnings are tracked with
///      cumulative reward and fee factors per orchestrator, so claiming is O(1) however many rounds
///      have passed, and claiming every round or once gives the same result. A pool whose stake is
///      below 1 gwei counts as empty (such stake can be rounding dust that no delegator owns): it
///      mints no reward and its delegators' fee share goes to the orchestrator.
///
///      Authorization rules for actions on someone else's position:
///      - `bondFor`: a third party may only add stake to an existing position, to its current delegate.
///      - claiming earnings, unbonding, rebonding, withdrawing stake or fees: the owner only.
///      - `freeze` / `unfreeze`: the verifier only. While an account is frozen (the verifier has open
///        claims against it) it cannot unbond nor move its bonded principal to another delegate; it may
///        still bond more to its current delegate, rebond, withdraw matured locks and withdraw fees.
///      - `joinActiveSet`: the joining orchestrator only; the evicted one must have strictly less stake.
///      - `slash`: the verifier only. `creditFees`: the ticket broker only. Parameters: the owner only.
interface IStaking {
    /* TYPES */

    /// @notice A pending withdrawal of unbonded stake.
    struct UnbondingLock {
        uint128 amount;
        uint64 withdrawRound;
    }

    /// @notice Everything a client needs to judge an orchestrator, in one read.
    struct OrchestratorInfo {
        bool registered;
        bool inActiveSet; // member of the set that is active from the next round
        bool activeThisRound;
        uint32 rewardCut;
        uint32 feeShare;
        uint256 stake; // total stake delegated to it, rewards included
        uint256 lastRewardRound;
    }

    /* EVENTS */

    event Bond(address indexed owner, address indexed payer, address indexed delegate, uint256 amount);
    event DelegateChanged(address indexed owner, address indexed oldDelegate, address indexed newDelegate, uint256 moved);
    event Unbond(address indexed owner, address indexed delegate, uint256 lockId, uint256 amount, uint256 withdrawRound);
    event Rebond(address indexed owner, address indexed delegate, uint256 lockId, uint256 amount);
    event WithdrawStake(address indexed owner, uint256 lockId, uint256 amount);
    event EarningsClaimed(address indexed owner, address indexed delegate, uint256 rewards, uint256 fees);
    event WithdrawFees(address indexed owner, address indexed to, uint256 amount);
    event OrchestratorRegistered(address indexed orchestrator, uint32 rewardCut, uint32 feeShare);
    event RatesChanged(address indexed orchestrator, uint32 rewardCut, uint32 feeShare, uint256 effectiveRound);
    event OrchestratorActivated(address indexed orchestrator, uint256 round);
    event OrchestratorDeactivated(address indexed orchestrator, uint256 round);
    event Reward(address indexed orchestrator, uint256 indexed round, uint256 minted, uint256 orchestratorCut);
    event FeesCredited(address indexed orchestrator, uint256 delegatorFees, uint256 orchestratorFees, uint256 creationRound);
    event Slashed(address indexed orchestrator, address indexed finder, uint256 penalty, uint256 finderFee);
    event Frozen(address indexed account, uint256 count);
    event Unfrozen(address indexed account, uint256 count);
    event Wired(address minter, address ticketBroker);
    event MinActiveStakeSet(uint256 minActiveStake);
    event MaxActiveSet(uint256 maxActive);
    event VerifierSet(address verifier);

    /* ERRORS */

    error ZeroAmount();
    error ZeroAddress();
    error AlreadyWired();
    error NotTicketBroker(address caller);
    error NotVerifier(address caller);
    error NotOrchestrator(address account);
    error AlreadyRegistered(address orchestrator);
    error OrchestratorMustSelfDelegate(address orchestrator);
    error ThirdPartyCannotOpenPosition(address owner);
    error ThirdPartyCannotChangeDelegate(address owner, address currentDelegate, address requested);
    error NotBonded(address owner);
    error AlreadyBonded(address owner, address delegate);
    error NothingToBond();
    error InsufficientBond(uint256 bonded, uint256 requested);
    error InsufficientFees(uint256 available, uint256 requested);
    error UnknownUnbondingLock(address owner, uint256 lockId);
    error UnbondingNotOver(uint256 withdrawRound, uint256 currentRound);
    error RateAbovePpm(uint256 rate);
    error RatesLockedInWindow(uint256 round);
    error RateChangeCooldown(uint256 nextAllowedRound);
    error NotActiveOrchestrator(address orchestrator, uint256 round);
    error AlreadyRewarded(address orchestrator, uint256 round);
    error NotEligibleForActiveSet(address orchestrator);
    error AlreadyInActiveSet(address orchestrator);
    error NotInActiveSet(address orchestrator);
    error EvicteeHasMoreStake(address evictee, uint256 evicteeStake, uint256 stake);
    error MaxActiveTooSmall(uint256 requested, uint256 minimum);
    error InvalidParameters();
    error StakeFrozen(address account);
    error NotFrozen(address account);

    /* ROUNDS */

    /// @notice The block at which round 0 starts.
    function startBlock() external view returns (uint256);
    /// @notice Blocks per round.
    function roundLength() external view returns (uint256);
    /// @notice Blocks at the end of each round during which rates cannot change.
    function lockBlocks() external view returns (uint256);
    /// @notice Rounds an unbonded amount waits before it can be withdrawn.
    function unbondingPeriod() external view returns (uint256);
    /// @notice Minimum rounds between two rate changes of one orchestrator (≥ ticket validity).
    function rateChangeCooldown() external view returns (uint256);
    /// @notice The current round.
    function currentRound() external view returns (uint256);

    /* BONDING */

    /// @notice Bonds `amount` of the caller's tokens to `to` (which must be a registered orchestrator,
    ///         or the caller itself). Moving to a new delegate moves the whole existing bond with it.
    /// @dev Pulls `amount` from the caller (approve first). `amount` may be 0 to only change delegate.
    function bond(uint256 amount, address to) external;

    /// @notice Adds `amount` of the caller's tokens to `owner`'s bond to `to`.
    /// @dev A third party (caller ≠ owner) may only top up an existing position and must name the
    ///      owner's current delegate: it can neither open a position (no forced self-delegation) nor
    ///      change a delegate.
    function bondFor(address owner, uint256 amount, address to) external;

    /// @notice Unbonds `amount` of the caller's stake into a new unbonding lock.
    /// @return lockId The id of the lock, withdrawable after `unbondingPeriod` rounds.
    function unbond(uint256 amount) external returns (uint256 lockId);

    /// @notice Moves an unbonding lock back into the caller's bond with its current delegate.
    function rebond(uint256 lockId) external;

    /// @notice Bonds an unbonding lock of a fully unbonded caller to `to`.
    function rebondFromUnbonded(address to, uint256 lockId) external;

    /// @notice Withdraws a matured unbonding lock to the caller.
    function withdrawStake(uint256 lockId) external;

    /// @notice Settles the caller's rewards and fees up to now into its bond and fee balance.
    function claimEarnings() external;

    /// @notice Pays `amount` of the caller's earned fees (in the broker's fee token) to `to`.
    function withdrawFees(address to, uint256 amount) external;

    /* ORCHESTRATORS */

    /// @notice Registers the caller as an orchestrator with its reward cut and fee share.
    /// @dev The caller must not be delegated to anyone else; a registered orchestrator stays
    ///      self-delegated. Rates apply at once; no rate-change cooldown follows.
    function registerOrchestrator(uint32 rewardCut, uint32 feeShare) external;

    /// @notice Changes the caller's rates; they take effect next round. Not allowed inside the lock
    ///         window at the end of a round, nor within `rateChangeCooldown` rounds of the last change.
    /// @dev Tickets keep the fee share in force in their creation round, so lowering it cannot take
    ///      fees from delegators for work already paid for.
    function setRates(uint32 rewardCut, uint32 feeShare) external;

    /// @notice Joins the active set (from the next round) if eligible: registered with at least the
    ///         minimum stake. If the set is full, takes the place of `evictee`, which must have less
    ///         stake; otherwise `evictee` is ignored. Membership otherwise follows stake changes.
    function joinActiveSet(address evictee) external;

    /// @notice Mints the caller's share of this round's inflation. Once per round, active orchestrators
    ///         only. The share is paid on the pool's round-start stake, or on its current stake if
    ///         lower; a pool now below the minimum active stake mints nothing.
    function reward() external;

    /* PAYMENTS AND SLASHING */

    /// @notice Credits a redeemed ticket's face value to `orchestrator`'s fee pool, split by the fee
    ///         share in force in `creationRound`. Ticket broker only.
    function creditFees(address orchestrator, uint256 amount, uint256 creationRound) external;

    /// @notice Slashes `slashPpm` of `orchestrator`'s own stake, pays `finderFeePpm` of the penalty to
    ///         `finder`, burns the rest, and removes the orchestrator from the registry and active set.
    ///         Verifier only.
    function slash(address orchestrator, address finder, uint32 slashPpm, uint32 finderFeePpm) external;

    /// @notice Adds one freeze on `account`'s bonded principal (the verifier opened a claim against it).
    ///         Verifier only. While any freeze is held, `unbond` by `account` and every move of its
    ///         bonded principal to another delegate revert with `StakeFrozen`, so the principal a
    ///         later `slash` takes cannot leave first.
    /// @dev Freezes count: each `freeze` needs its own `unfreeze`. Unbonding locks that exist already
    ///      stay untouched (rebond, withdrawal): stake unbonded before the claim was filed no longer
    ///      backed the account's active-set position, and `slash` takes bonded principal only. Bonding
    ///      more to the current delegate and withdrawing fees stay allowed.
    function freeze(address account) external;

    /// @notice Removes one freeze from `account` (the verifier resolved a claim against it). Verifier
    ///         only; reverts with `NotFrozen` if `account` holds no freeze.
    function unfreeze(address account) external;

    /* ADMIN */

    /// @notice Sets the Minter and the TicketBroker, once. Owner only.
    function wire(address minter_, address ticketBroker_) external;
    /// @notice Sets the minimum stake for the active set. Owner only. Members below a raised minimum
    ///         leave at their next stake change or when an orchestrator with more stake evicts them.
    function setMinActiveStake(uint256 minActiveStake_) external;
    /// @notice Raises the active-set cap (never below 100 nor below the current size). Owner only.
    function setMaxActive(uint256 maxActive_) external;
    /// @notice Sets the slashing verifier. Owner only.
    function setVerifier(address verifier_) external;

    /* VIEWS */

    /// @notice All bonded stake, in active pools or not (the bonding rate's numerator).
    function totalBonded() external view returns (uint256);
    /// @notice Minimum stake to be in the active set.
    function minActiveStake() external view returns (uint256);
    /// @notice Cap on the size of the active set (≥ 100).
    function maxActive() external view returns (uint256);
    /// @notice The only account allowed to slash, freeze and unfreeze.
    function verifier() external view returns (address);
    /// @notice The only account allowed to credit fees (the TicketBroker).
    function ticketBroker() external view returns (address);
    /// @notice True if `account` is a registered orchestrator.
    function isRegistered(address account) external view returns (bool);
    /// @notice True if `orchestrator` is active in `round` (a member of the set at that round's start).
    function isActive(address orchestrator, uint256 round) external view returns (bool);
    /// @notice Number of active orchestrators and their total stake at the start of the current round.
    function activeTotalsThisRound() external view returns (uint256 count, uint256 stake);
    /// @notice The members of the active set, in no particular order.
    function activeSet() external view returns (address[] memory);
    /// @notice An orchestrator's registration, membership, rates and stake.
    function orchestratorInfo(address orchestrator) external view returns (OrchestratorInfo memory);
    /// @notice `account`'s delegate and stake including rewards not yet claimed.
    function pendingStake(address account) external view returns (uint256);
    /// @notice `account`'s fees, withdrawable and not yet claimed.
    function pendingFees(address account) external view returns (uint256);
    /// @notice A pool's cumulative reward and fee factors (1e27 precision): a delegator's stake grows by
    ///         `rewardFactor` ratios, its fees by `feeFactor` differences over the `rewardFactor` it
    ///         claimed at. The fee factor includes fees credited but not yet folded into the pool, so
    ///         both move as soon as a delegator's `pendingStake` / `pendingFees` do; comparing them at
    ///         two blocks gives the yield per staked token between those blocks.
    function poolFactors(address orchestrator) external view returns (uint256 rewardFactor, uint256 feeFactor);
    /// @notice Number of freezes held on `account` (open claims against it).
    function freezeCount(address account) external view returns (uint256);
    /// @notice True if `account` holds at least one freeze: it can neither unbond nor re-delegate.
    function frozen(address account) external view returns (bool);
    /// @notice `account`'s delegate (zero if unbonded).
    function delegateOf(address account) external view returns (address);
    /// @notice An unbonding lock of `account`.
    function unbondingLock(address account, uint256 lockId) external view returns (UnbondingLock memory);
    /// @notice Reserve eligibility for the ticket broker: whether `orchestrator` may claim from a
    ///         sender's reserve in `round` for a ticket created in `creationRound`, and the number of
    ///         orchestrators that may claim in `round` (the divisor of each one's share): the active
    ///         set at the start of `round` plus every orchestrator that left it within the last
    ///         `rateChangeCooldown - 1` rounds (it may still redeem tickets of a round it was active in).
    function reserveEligibility(address orchestrator, uint256 round, uint256 creationRound)
        external
        view
        returns (bool eligible, uint256 activeCount);
}
