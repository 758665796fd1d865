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
///      mints no reward and its delegators' fee share goes to the orchestrator (`FeesNotShared` says so).
///
///      Stake earns from the round after it arrives. Stake bonded, rebonded or moved to a pool in
///      round r is counted in the pool's stake at once (active-set rank, security) but neither shares
///      the inflation minted in round r nor the fees credited in round r: it joins the pool's factors
///      at their values at the end of round r (a checkpoint the first touch of round r + 1 writes).
///      reward() mints on, and spreads over, the pool's earning stake: the stake that was there all round.
///
///      Slashing. A slash takes `slashPpm` of the orchestrator's own stake: its bonded self-stake
///      (earning and just arrived) and every unbonding lock it has not withdrawn, all in O(1) (locks
///      are shares of one per-account pool that the slash shrinks). Delegated stake does not share
///      the slash: delegators choose an orchestrator but do not control its work, and a delegator's
///      exit cannot be held without holding every delegator. The stake at risk for an orchestrator's
///      faults is therefore `slashableStake` (shown by the agents and `peerflow stake status`), not
///      its total stake; an active orchestrator must keep at least `minSelfBond` self-bonded. While
///      a claim is open (the account is frozen) it cannot unbond, move, withdraw a lock, rebond,
///      register or call reward(); after a slash it is unregistered and cannot rebond or register
///      again for `unbondingPeriod` rounds, and returning is a rate change (next round, cooldown).
///
///      Authorization rules for actions on someone else's position:
///      - `bondFor`: a third party may only add stake to an existing position, to its current delegate.
///      - claiming earnings, unbonding, rebonding, withdrawing stake or fees: the owner only.
///      - `freeze`: the verifier only. `unfreeze` and `slash`: the current verifier, or a former one for
///        an account it still holds a freeze on (so rotating the verifier strands no open claim). While
///        an account is frozen it cannot unbond, move its bonded stake to another delegate, rebond,
///        withdraw an unbonding lock, register or call reward(); it may still bond more to its current
///        delegate and withdraw fees.
///      - `joinActiveSet`: the joining orchestrator only; the evicted one must have strictly less stake.
///      - `slash`: the verifier only. `creditFees`: the ticket broker only. Parameters: the owner only.
///
///      Operator keys. The orchestrator's own address (its stake key) does everything above and may
///      be kept cold: it names two optional hot keys, each one address per orchestrator, set, replaced
///      or cleared (zero) by the orchestrator alone, at any time (frozen or slashed included), with an
///      event. The reward caller (`setRewardCaller`) may call `rewardFor(orchestrator)` and nothing
///      else; the redeemer (`setRedeemer`) may redeem tickets addressed to the orchestrator through
///      the ticket broker's `redeemWinningTicket(s)For`, which credits the fees to the orchestrator,
///      and nothing else. A key acts for its orchestrator only while it is the current one: a
///      replaced or cleared key is refused from the next transaction on. One address may serve as
///      the key of several orchestrators (a reward or redemption service): each names it for itself,
///      and it acts for each only when called with that orchestrator's address.
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
    event DelegateChanged(
        address indexed owner, address indexed oldDelegate, address indexed newDelegate, uint256 moved
    );
    event Unbond(
        address indexed owner, address indexed delegate, uint256 lockId, uint256 amount, uint256 withdrawRound
    );
    event Rebond(address indexed owner, address indexed delegate, uint256 lockId, uint256 amount);
    event WithdrawStake(address indexed owner, uint256 lockId, uint256 amount);
    event EarningsClaimed(address indexed owner, address indexed delegate, uint256 rewards, uint256 fees);
    event WithdrawFees(address indexed owner, address indexed to, uint256 amount);
    event OrchestratorRegistered(address indexed orchestrator, uint32 rewardCut, uint32 feeShare);
    event RatesChanged(address indexed orchestrator, uint32 rewardCut, uint32 feeShare, uint256 effectiveRound);
    event OrchestratorActivated(address indexed orchestrator, uint256 round);
    event OrchestratorDeactivated(address indexed orchestrator, uint256 round);
    event Reward(address indexed orchestrator, uint256 indexed round, uint256 minted, uint256 orchestratorCut);
    event FeesCredited(
        address indexed orchestrator, uint256 delegatorFees, uint256 orchestratorFees, uint256 creationRound
    );
    event Slashed(address indexed orchestrator, address indexed finder, uint256 penalty, uint256 finderFee);
    event Frozen(address indexed account, uint256 count);
    event Unfrozen(address indexed account, uint256 count);
    event Wired(address minter, address ticketBroker);
    event MinActiveStakeSet(uint256 minActiveStake);
    event MaxActiveSet(uint256 maxActive);
    event VerifierSet(address verifier);
    event MinSelfBondSet(uint256 minSelfBond);
    /// @notice The unbonding period of locks created from now on (existing locks keep theirs).
    event UnbondingPeriodSet(uint256 unbondingPeriod);
    /// @notice `amount` of delegators' fee share went to the orchestrator because the pool had no
    ///         earning stake to share it with (`earningStake` below 1 gwei) or its fee factor is exhausted.
    event FeesNotShared(address indexed orchestrator, uint256 amount, uint256 earningStake);
    /// @notice `orchestrator` named `rewardCaller` as the key that may call `rewardFor` for it (zero: none).
    event RewardCallerSet(address indexed orchestrator, address indexed rewardCaller);
    /// @notice `orchestrator` named `redeemer` as the key that may redeem its tickets in the ticket
    ///         broker (zero: none).
    event RedeemerSet(address indexed orchestrator, address indexed redeemer);

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
    error RecentlySlashed(address account, uint256 untilRound);
    error MaxActiveTooLarge(uint256 requested, uint256 maximum);
    /// @notice `caller` called `rewardFor(orchestrator)` without being it nor its reward caller.
    error NotRewardCaller(address caller, address orchestrator);
    /// @notice An unbonding period below the ticket broker's ticket validity (or zero) or above
    ///         MAX_UNBONDING_PERIOD.
    error UnbondingPeriodOutOfRange(uint256 requested, uint256 minimum, uint256 maximum);

    /* ROUNDS */

    /// @notice The block at which round 0 starts.
    function startBlock() external view returns (uint256);
    /// @notice Blocks per round.
    function roundLength() external view returns (uint256);
    /// @notice Blocks at the end of each round during which rates cannot change.
    function lockBlocks() external view returns (uint256);
    /// @notice Rounds an unbonded amount waits before it can be withdrawn (for locks created now), for
    ///         which a replaced redeemer stays answerable, and for which a slashed account is held.
    function unbondingPeriod() external view returns (uint256);
    /// @notice Upper bound on `unbondingPeriod` (rounds): at daily rounds a year, the longest stake can
    ///         be held from its owner after unbonding, whatever governance decides.
    function MAX_UNBONDING_PERIOD() external view returns (uint256);
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

    /// @notice Moves an unbonding lock back into the caller's bond with its current delegate; it earns
    ///         from the next round. Not while frozen or within a slash's hold (`slashedUntil`).
    function rebond(uint256 lockId) external;

    /// @notice Bonds an unbonding lock of a fully unbonded caller to `to`. Like every arrival, the stake
    ///         earns at `to` from the next round. Not while frozen or within a slash's hold.
    function rebondFromUnbonded(address to, uint256 lockId) external;

    /// @notice Withdraws a matured unbonding lock to the caller (its value after any slash). Not while
    ///         frozen: a lock stays slashable while a claim that may concern it is open.
    function withdrawStake(uint256 lockId) external;

    /// @notice Settles the caller's rewards and fees up to now into its bond and fee balance.
    function claimEarnings() external;

    /// @notice Pays `amount` of the caller's earned fees (in the broker's fee token) to `to`.
    function withdrawFees(address to, uint256 amount) external;

    /* ORCHESTRATORS */

    /// @notice Registers the caller as an orchestrator with its reward cut and fee share.
    /// @dev The caller must not be delegated to anyone else; a registered orchestrator stays
    ///      self-delegated. A first registration's rates apply at once and no cooldown follows.
    ///      Registering again (after a slash, once `slashedUntil` has passed and no freeze is held) is a
    ///      rate change: outside the lock window, after the cooldown, in force from the next round, and
    ///      tickets created before keep the old rates.
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

    /// @notice Mints the caller's share of this round's inflation. Once per round, registered active
    ///         orchestrators that hold no freeze only. The share is paid on, and shared over, the pool's
    ///         earning stake (stake that has not arrived this round); a pool whose earning stake is
    ///         below the minimum active stake mints nothing.
    function reward() external;

    /// @notice `reward()` for `orchestrator`, called by the orchestrator itself or by its current
    ///         reward caller (`setRewardCaller`); anyone else gets `NotRewardCaller`. Every rule of
    ///         `reward()` applies to `orchestrator` (registered, active, not frozen, once per round),
    ///         the reward goes to its pool exactly as if it had called, and `Reward` names it.
    function rewardFor(address orchestrator) external;

    /* OPERATOR KEYS */

    /// @notice Names `rewardCaller` as the caller's reward caller: the one address besides the caller
    ///         that may call `rewardFor(caller)`; it can do nothing else for the caller. Replaces the
    ///         previous one; zero clears it. Allowed at any time (frozen, slashed, or not registered yet).
    function setRewardCaller(address rewardCaller) external;

    /// @notice Names `redeemer` as the caller's redeemer, its hot key: the one address besides the
    ///         caller that may redeem tickets addressed to the caller
    ///         (`ITicketBroker.redeemWinningTicket(s)For`, the fees going to the caller) and sign the
    ///         caller's segment results (`signsResultsFor`), so the stake key can stay offline: fault
    ///         claims against results it signs slash the caller's stake, so name only a key you hold.
    ///         It can do nothing else for the caller. Replaces the previous one, which stays
    ///         answerable for the results it signed for `unbondingPeriod` rounds; zero clears it.
    ///         Allowed at any time (frozen, slashed, or not registered yet).
    function setRedeemer(address redeemer) external;

    /* PAYMENTS AND SLASHING */

    /// @notice Credits a redeemed ticket's face value to `orchestrator`'s fee pool, split by the fee
    ///         share in force in `creationRound`. Ticket broker only, for every recipient that is or
    ///         ever was an orchestrator (`everRegistered`); reverts `NotOrchestrator` for one that is
    ///         not registered now (slashed).
    function creditFees(address orchestrator, uint256 amount, uint256 creationRound) external;

    /// @notice Slashes `slashPpm` of `orchestrator`'s own stake (bonded self-stake and unwithdrawn
    ///         unbonding locks), pays `finderFeePpm` of the penalty to `finder`, burns the rest, removes
    ///         the orchestrator from the registry and active set, and holds it (no rebond, no
    ///         registration) until `slashedUntil`. Delegated stake is not slashed. The current
    ///         verifier, or a former verifier holding a freeze on `orchestrator`.
    function slash(address orchestrator, address finder, uint32 slashPpm, uint32 finderFeePpm) external;

    /// @notice Adds one freeze on `account`'s bonded principal (the verifier opened a claim against it).
    ///         Verifier only. While any freeze is held, `unbond` by `account` and every move of its
    ///         bonded principal to another delegate revert with `StakeFrozen`, so the principal a
    ///         later `slash` takes cannot leave first.
    /// @dev Freezes count, per verifier: each `freeze` needs its own `unfreeze` by the same verifier.
    ///      Unbonding locks are held too (no withdrawal, no rebond): stake unbonded just before the
    ///      claim was filed may have backed the faulty work, and `slash` takes a share of it.
    function freeze(address account) external;

    /// @notice Removes one of the caller's freezes from `account` (it resolved a claim against it). Any
    ///         verifier, current or former, lifts only freezes it made; the current verifier gets
    ///         `NotFrozen` if it holds none, anyone else `NotVerifier`.
    function unfreeze(address account) external;

    /* ADMIN */

    /// @notice Sets the Minter and the TicketBroker, once. Owner only. The unbonding period must be at
    ///         least the broker's ticket validity (`UnbondingPeriodOutOfRange` otherwise).
    function wire(address minter_, address ticketBroker_) external;
    /// @notice Sets the minimum stake for the active set. Owner only. Members below a raised minimum
    ///         leave at their next stake change or when an orchestrator with more stake evicts them.
    function setMinActiveStake(uint256 minActiveStake_) external;
    /// @notice Sets the minimum self-bond an orchestrator keeps to stay in the active set. Owner only.
    ///         Members below a raised minimum leave at their next stake change.
    function setMinSelfBond(uint256 minSelfBond_) external;
    /// @notice Sets the active-set cap (never below 100 nor below the current size, never above
    ///         MAX_ACTIVE_LIMIT, which bounds `activeSet` and every view built on it). Owner only.
    function setMaxActive(uint256 maxActive_) external;
    /// @notice Sets the slashing verifier (not zero: a verifier can always be named, so slashing is
    ///         never switched off by accident). Owner only.
    function setVerifier(address verifier_) external;
    /// @notice Sets the unbonding period for locks created from now on; locks already created keep
    ///         their withdraw round. Owner only. At least the ticket broker's `ticketValidity` (at least 1
    ///         before the broker is wired), at most MAX_UNBONDING_PERIOD.
    function setUnbondingPeriod(uint256 unbondingPeriod_) external;

    /* VIEWS */

    /// @notice All bonded stake, in active pools or not (the bonding rate's numerator).
    function totalBonded() external view returns (uint256);
    /// @notice Minimum stake to be in the active set.
    function minActiveStake() external view returns (uint256);
    /// @notice Cap on the size of the active set (100 to MAX_ACTIVE_LIMIT).
    function maxActive() external view returns (uint256);
    /// @notice Upper bound on `maxActive`.
    function MAX_ACTIVE_LIMIT() external view returns (uint256);
    /// @notice Minimum self-bond (principal with itself, arrived or earning) of an active orchestrator.
    function minSelfBond() external view returns (uint256);
    /// @notice The only account allowed to slash, freeze and unfreeze.
    function verifier() external view returns (address);
    /// @notice The only account allowed to credit fees (the TicketBroker).
    function ticketBroker() external view returns (address);
    /// @notice True if `account` is a registered orchestrator.
    function isRegistered(address account) external view returns (bool);
    /// @notice True if `account` is or ever was a registered orchestrator: registered now, or
    ///         registered once and slashed since (a slash is the only way to lose a registration, and
    ///         it sets `slashedUntil`), i.e. `isRegistered(account) || slashedUntil(account) != 0`. The
    ///         ticket broker pays an account for which this is false (a compute provider) directly,
    ///         and credits every other recipient's fee pool through `creditFees`.
    function everRegistered(address account) external view returns (bool);
    /// @notice True if `orchestrator` is active in `round` (a member of the set at that round's start).
    function isActive(address orchestrator, uint256 round) external view returns (bool);
    /// @notice Number of active orchestrators and their total stake at the start of the current round.
    function activeTotalsThisRound() external view returns (uint256 count, uint256 stake);
    /// @notice The members of the active set, in no particular order (at most MAX_ACTIVE_LIMIT).
    function activeSet() external view returns (address[] memory);
    /// @notice Up to `limit` members of the active set from position `offset`, and the set's size.
    function activeSetPage(uint256 offset, uint256 limit)
        external
        view
        returns (address[] memory members, uint256 total);
    /// @notice An orchestrator's registration, membership, rates and stake.
    function orchestratorInfo(address orchestrator) external view returns (OrchestratorInfo memory);
    /// @notice `account`'s delegate and stake including rewards not yet claimed.
    function pendingStake(address account) external view returns (uint256);
    /// @notice `account`'s fees, withdrawable and not yet claimed.
    function pendingFees(address account) external view returns (uint256);
    /// @notice What a slash of `orchestrator` can take from (the stake at risk for its faults): its
    ///         self-bonded stake with rewards plus its unbonding locks not yet withdrawn.
    function slashableStake(address orchestrator) external view returns (uint256);
    /// @notice The part of `orchestrator`'s pool stake that earns this round (excludes stake arrived
    ///         this round).
    function earningStake(address orchestrator) external view returns (uint256);
    /// @notice First round in which a slashed `account` may rebond or register again (0: never slashed).
    function slashedUntil(address account) external view returns (uint256);
    /// @notice Freezes `verifier_` holds on `account`.
    function freezesBy(address verifier_, address account) external view returns (uint256);
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
    /// @notice `orchestrator`'s reward caller (zero: none), see `setRewardCaller`.
    function rewardCallerOf(address orchestrator) external view returns (address);
    /// @notice `orchestrator`'s redeemer in the ticket broker (zero: none), see `setRedeemer`.
    function redeemerOf(address orchestrator) external view returns (address);
    /// @notice Whether a segment result of `orchestrator` signed by `signer` is `orchestrator`'s: the
    ///         orchestrator itself, its redeemer, or a redeemer it replaced less than
    ///         `unbondingPeriod` rounds ago: a claim on a result signed by a replaced key must be
    ///         filed within that window (as long as stake unbonded at the replacement stays
    ///         slashable; claimants file at once). Fault claims check signatures with it.
    function signsResultsFor(address orchestrator, address signer) external view returns (bool);
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
