// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {SafeERC20, IERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {IStakeVotes} from "./interfaces/IStakeVotes.sol";
import {IMinter} from "./interfaces/IMinter.sol";
import {IWorkToken} from "./interfaces/IWorkToken.sol";
import {ITicketBroker} from "./interfaces/ITicketBroker.sol";
import {ChangeLog} from "./libraries/ChangeLog.sol";

/// @title Staking
/// @notice Bonding, delegation, orchestrators, the active set, rewards, fee sharing, slashing and the
///         freezes that hold an accused account's stake while claims against it are open.
/// @dev Accounting model. Each orchestrator keeps a pool with a cumulative reward factor (CRF, starts at
///      PRECISION) and a cumulative fee factor (CFF). A delegator records its principal and the two
///      factors at its last claim; its stake is `principal × CRF / crfAtClaim` and its fees
///      `principal × (CFF − cffAtClaim) / crfAtClaim`. Claiming is O(1) and path independent.
///      Fees arrive from the ticket broker into two pending counters (one SSTORE per ticket) and are
///      folded into the CFF before anything changes the pool's stake, so they are shared over the
///      stake that earned them.
///      Stake earns from the round after it arrives. Stake bonded, rebonded or moved into a pool is
///      the delegator's `pendingPrincipal` and the pool's `arrived` for that round: it counts in the
///      pool's stake (rank, security) but not in its earning stake (`stake − arrived`), over which
///      reward() mints and spreads and fees fold. The first touch of the pool in a later round
///      (`_roll`) folds the old round's fees and records the factors as that round's checkpoint,
///      where the pending stake joins: O(1) per touch, whatever the number of delegators or rounds.
///      Slashing takes the orchestrator's own stake: its principal and, through a share-based lock
///      pool, its unwithdrawn unbonding locks, in O(1).
///      Per-round snapshots of the active set's count and stake are taken lazily: the first change
///      in a round records the value the round started with.
///      Voting record (IStakeVotes). Each pool's stake, each account's own bonded stake (principal +
///      pendingPrincipal as settled) and its delegate keep a ChangeLog: the current value is the
///      struct's, and a change in a later block than the last one appends the value before it (one
///      slot). Lengths and the block a position was first opened (`openedAt`: before it, the
///      position's record is empty, so a first bond appends nothing) sit in slots every change writes.
///      A position's factors at claim are only meaningful while its principal is nonzero: they are
///      written when principal first appears (pending stake joining, a reward cut), not at opening.
contract Staking is IStaking, IStakeVotes, Ownable2Step {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /* TYPES */

    struct Orchestrator {
        // slot 0: read by every fee credit
        uint32 rewardCut;
        uint32 feeShare;
        uint32 prevRewardCut;
        uint32 prevFeeShare;
        uint40 ratesSince; // first round in which rewardCut/feeShare apply; earlier rounds use prev*
        uint40 lastRewardRound;
        uint40 touchRound; // last round the pool was rolled in (see _roll)
        bool registered;
        // slot 1: written by every fee credit
        uint128 pendingPoolFees; // credited in touchRound, not yet folded
        uint128 pendingCutFees;
        // slot 2: written by every stake change
        uint104 stake; // all stake delegated, earning or not
        uint104 arrived; // stake that arrived in touchRound: earns from the round after
        bool inActiveSet;
        uint40 stakeLogLength; // entries in _stakeLog
        // slot 3
        uint64 activationRound;
        uint64 deactivationRound;
        uint40 slashedUntil; // first round in which a slashed account may rebond or register again
        bool wasRegistered;
        // slot 4
        uint128 cumulativeRewardFactor;
        // slot 5: 256 bits, so no fee credit can saturate it (see _foldFees)
        uint256 cumulativeFeeFactor;
    }

    struct Delegator {
        // slot 0
        address delegate;
        uint96 principal; // earning stake, valued at rewardFactorAtClaim
        // slot 1: the factors at claim are read only while principal != 0
        uint128 rewardFactorAtClaim;
        uint128 fees;
        // slot 2
        uint256 feeFactorAtClaim;
        // slot 3: stake that arrived in pendingRound; earns from pendingRound + 1. The voting record's
        // header: written by every bond, unbond and claim, like the pending stake.
        uint96 pendingPrincipal;
        uint40 pendingRound;
        uint40 nextLockId; // 2^40 unbonds cannot be paid for
        uint40 openedAt; // block of the position's first change: its record is empty before
        uint40 bondedLogLength; // entries in _bondedLog
    }

    /// @dev The active-set minimums, read together by every membership check: one slot (a bond into
    ///      an active pool reads both).
    struct Minimums {
        uint128 activeStake;
        uint128 selfBond;
    }

    /// @dev The pool factors at the end of a round in which stake arrived: that stake's starting point.
    struct Checkpoint {
        uint128 rewardFactor;
        uint256 feeFactor;
    }

    /// @dev An account's unbonding locks as one slashable pool: each lock holds shares of `tokens`.
    struct LockPool {
        uint128 shares;
        uint128 tokens;
    }

    struct ActiveTotals {
        // slot 0: written by every bond and unbond
        uint128 stake; // stake of the active set
        uint128 totalBonded; // all bonded stake, active or not
        // slot 1: written once per round
        uint128 stakeAtRoundStart;
        uint32 count;
        uint32 countAtRoundStart;
        uint64 round; // round of the last change
    }

    /* CONSTANTS */

    uint256 internal constant PPM = 1_000_000;
    uint256 internal constant PRECISION = 1e27;
    uint256 internal constant MIN_MAX_ACTIVE = 100;
    /// @inheritdoc IStaking
    uint256 public constant MAX_ACTIVE_LIMIT = 1000;
    /// @dev Below this a pool's earning stake is rounding dust that no delegator owns: it counts as
    ///      empty (mints no reward, shares no fees; the fees go to the orchestrator with FeesNotShared).
    uint256 internal constant DUST_STAKE = 1e9;
    uint64 internal constant NEVER = type(uint64).max;
    /// @inheritdoc IStaking
    uint256 public constant MAX_UNBONDING_PERIOD = 365;

    /* IMMUTABLES */

    IWorkToken public immutable token;
    /// @inheritdoc IStaking
    uint256 public immutable startBlock;
    /// @inheritdoc IStaking
    uint256 public immutable roundLength;
    /// @inheritdoc IStaking
    uint256 public immutable lockBlocks;
    /// @inheritdoc IStaking
    uint256 public immutable rateChangeCooldown;

    /* STORAGE */

    IMinter public minter;
    /// @inheritdoc IStaking
    address public ticketBroker;
    /// @inheritdoc IStaking
    address public verifier;
    /// @inheritdoc IStaking
    uint256 public maxActive;
    Minimums internal _minimums;
    /// @inheritdoc IStaking
    uint256 public unbondingPeriod;

    ActiveTotals internal _totals;
    address[] internal _activeSet;
    mapping(address => uint256) internal _activeIndex; // 1-based position in _activeSet
    mapping(address => Orchestrator) internal _orchestrators;
    mapping(address => Delegator) internal _delegators;
    mapping(address => mapping(uint256 => UnbondingLock)) internal _locks; // amount in LockPool shares
    mapping(address => LockPool) internal _lockPools;
    mapping(address => mapping(uint256 round => Checkpoint)) internal _checkpoints;
    mapping(address => uint256) internal _freezes; // open verifier claims against an account
    mapping(address verifier => mapping(address account => uint256)) internal _freezesBy;
    /// @dev Orchestrators active in round `r - 1` and inactive from round `r` on, per `r`: the reserve
    ///      claimants that are no longer counted in the active set (see reserveEligibility).
    mapping(uint256 round => uint256) internal _departures;
    /// @dev Operator keys: the one hot key per orchestrator that may call rewardFor for it, and the one
    ///      that may redeem its tickets in the broker (which reads it here: one record of the keys).
    mapping(address orchestrator => address) internal _rewardCallers;
    mapping(address orchestrator => address) internal _redeemers;
    /// @dev The round after which a replaced redeemer no longer signs results for the orchestrator
    ///      (`signsResultsFor`): the replacement round plus `unbondingPeriod`.
    mapping(address orchestrator => mapping(address key => uint256 round)) internal _redeemerAnswerableUntil;
    /// @dev Voting record (IStakeVotes), ChangeLogs by block number: each pool's stake (length in
    ///      Orchestrator), each account's own bonded stake (length in Delegator) and its delegate (length
    ///      apart: delegates change rarely, and a position's first delegate needs no entry).
    mapping(address orchestrator => mapping(uint256 => uint256)) internal _stakeLog;
    mapping(address account => mapping(uint256 => uint256)) internal _bondedLog;
    mapping(address account => mapping(uint256 => uint256)) internal _delegateLog;
    mapping(address account => uint256) internal _delegateLogLength;

    /* CONSTRUCTOR */

    /// @param token_ The work token.
    /// @param roundLength_ Blocks per round.
    /// @param lockBlocks_ Blocks at the end of a round in which rates are locked (< roundLength_).
    /// @param unbondingPeriod_ Rounds before unbonded stake can be withdrawn.
    /// @param rateChangeCooldown_ Rounds between rate changes; must cover the broker's ticket validity.
    /// @param minActiveStake_ Minimum stake to be in the active set; also the initial minimum self-bond.
    /// @param maxActive_ Cap on the active set (100 to MAX_ACTIVE_LIMIT).
    /// @param owner_ Governance owner (parameters, verifier, one-time wiring).
    constructor(
        IWorkToken token_,
        uint256 roundLength_,
        uint256 lockBlocks_,
        uint256 unbondingPeriod_,
        uint256 rateChangeCooldown_,
        uint256 minActiveStake_,
        uint256 maxActive_,
        address owner_
    ) Ownable(owner_) {
        if (address(token_) == address(0) || roundLength_ == 0 || lockBlocks_ >= roundLength_) {
            revert InvalidParameters();
        }
        if (unbondingPeriod_ == 0 || unbondingPeriod_ > MAX_UNBONDING_PERIOD || rateChangeCooldown_ == 0) {
            revert InvalidParameters();
        }
        if (maxActive_ < MIN_MAX_ACTIVE) revert MaxActiveTooSmall(maxActive_, MIN_MAX_ACTIVE);
        if (maxActive_ > MAX_ACTIVE_LIMIT) revert MaxActiveTooLarge(maxActive_, MAX_ACTIVE_LIMIT);
        token = token_;
        startBlock = block.number;
        roundLength = roundLength_;
        lockBlocks = lockBlocks_;
        unbondingPeriod = unbondingPeriod_;
        rateChangeCooldown = rateChangeCooldown_;
        maxActive = maxActive_;
        _minimums = Minimums(minActiveStake_.toUint128(), minActiveStake_.toUint128());
    }

    /* MODIFIERS */

    modifier onlyTicketBroker() {
        if (msg.sender != ticketBroker) revert NotTicketBroker(msg.sender);
        _;
    }

    /* ROUNDS */

    /// @inheritdoc IStaking
    function currentRound() public view returns (uint256) {
        return (block.number - startBlock) / roundLength;
    }

    function _inLockWindow() internal view returns (bool) {
        return (block.number - startBlock) % roundLength >= roundLength - lockBlocks;
    }

    /* BONDING */

    /// @inheritdoc IStaking
    function bond(uint256 amount, address to) external {
        _bond(msg.sender, msg.sender, to, amount);
    }

    /// @inheritdoc IStaking
    function bondFor(address owner, uint256 amount, address to) external {
        if (owner != msg.sender) {
            address current = _delegators[owner].delegate;
            if (current == address(0)) revert ThirdPartyCannotOpenPosition(owner);
            if (to != current) revert ThirdPartyCannotChangeDelegate(owner, current, to);
        }
        _bond(msg.sender, owner, to, amount);
    }

    /// @inheritdoc IStaking
    function unbond(uint256 amount) external returns (uint256 lockId) {
        if (amount == 0) revert ZeroAmount();
        if (_freezes[msg.sender] != 0) revert StakeFrozen(msg.sender);
        Delegator storage del = _delegators[msg.sender];
        address delegate = del.delegate;
        if (delegate == address(0)) revert NotBonded(msg.sender);
        uint256 bondedBefore = _bondedOf(del);
        _claim(msg.sender, del);
        uint256 bonded = _bondedOf(del);
        if (amount > bonded) revert InsufficientBond(bonded, amount);

        _takeStake(delegate, del, _orchestrators[delegate], amount);
        _totals.totalBonded -= uint128(amount);
        // A fully unbonded delegator is free to bond anywhere; an orchestrator stays self-delegated.
        if (bonded == amount && !_orchestrators[msg.sender].registered) del.delegate = address(0);
        _recordPosition(msg.sender, del, bondedBefore, delegate);
        lockId = del.nextLockId++;
        uint256 withdrawRound = currentRound() + unbondingPeriod;
        _locks[msg.sender][lockId] =
            UnbondingLock(_depositLock(msg.sender, amount).toUint128(), withdrawRound.toUint64());
        emit Unbond(msg.sender, delegate, lockId, amount, withdrawRound);
    }

    /// @inheritdoc IStaking
    function rebond(uint256 lockId) external {
        _requireNotHeld(msg.sender);
        address delegate = _delegators[msg.sender].delegate;
        if (delegate == address(0)) revert NotBonded(msg.sender);
        _rebond(delegate, delegate, lockId);
    }

    /// @inheritdoc IStaking
    function rebondFromUnbonded(address to, uint256 lockId) external {
        _requireNotHeld(msg.sender);
        address delegate = _delegators[msg.sender].delegate;
        if (delegate != address(0)) revert AlreadyBonded(msg.sender, delegate);
        _requireCanDelegateTo(msg.sender, to);
        _rebond(address(0), to, lockId);
    }

    /// @inheritdoc IStaking
    function withdrawStake(uint256 lockId) external {
        // Locks stay slashable while a claim is open: they may have backed the work in dispute.
        if (_freezes[msg.sender] != 0) revert StakeFrozen(msg.sender);
        UnbondingLock memory lock = _locks[msg.sender][lockId];
        if (lock.amount == 0) revert UnknownUnbondingLock(msg.sender, lockId);
        uint256 round = currentRound();
        if (round < lock.withdrawRound) revert UnbondingNotOver(lock.withdrawRound, round);
        uint256 amount = _consumeLock(msg.sender, lockId);
        emit WithdrawStake(msg.sender, lockId, amount);
        if (amount > 0) IERC20(address(token)).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IStaking
    function claimEarnings() external {
        Delegator storage del = _delegators[msg.sender];
        if (del.delegate == address(0)) revert NotBonded(msg.sender);
        _claimAndRecord(msg.sender, del);
    }

    /// @inheritdoc IStaking
    function withdrawFees(address to, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        Delegator storage del = _delegators[msg.sender];
        _claimAndRecord(msg.sender, del);
        if (msg.sender != del.delegate) _rollAndFold(msg.sender); // an orchestrator's own cut
        uint256 available = del.fees;
        if (amount > available) revert InsufficientFees(available, amount);
        del.fees = uint128(available - amount);
        emit WithdrawFees(msg.sender, to, amount);
        ITicketBroker(ticketBroker).payFees(to, amount);
    }

    /* ORCHESTRATORS */

    /// @inheritdoc IStaking
    function registerOrchestrator(uint32 rewardCut, uint32 feeShare) external {
        Orchestrator storage orch = _orchestrators[msg.sender];
        if (orch.registered) revert AlreadyRegistered(msg.sender);
        _requireNotHeld(msg.sender);
        address delegate = _delegators[msg.sender].delegate;
        if (delegate != address(0) && delegate != msg.sender) revert OrchestratorMustSelfDelegate(msg.sender);
        _checkRates(rewardCut, feeShare);
        uint256 round = currentRound();
        if (orch.wasRegistered) {
            // Returning (after a slash): a rate change like setRates, so tickets already issued keep
            // the rates they were issued under.
            _checkRateChangeAllowed(orch, round);
            (orch.prevRewardCut, orch.prevFeeShare) = _ratesAt(orch, round);
            orch.ratesSince = uint40(round + 1);
        } else {
            _initPool(orch);
            orch.prevRewardCut = rewardCut;
            orch.prevFeeShare = feeShare;
            orch.ratesSince = 0; // first registration is not a rate change: no cooldown follows it
            orch.wasRegistered = true;
        }
        orch.registered = true;
        orch.rewardCut = rewardCut;
        orch.feeShare = feeShare;
        emit OrchestratorRegistered(msg.sender, rewardCut, feeShare);
        _updateMembership(msg.sender, orch, round);
    }

    /// @inheritdoc IStaking
    function setRates(uint32 rewardCut, uint32 feeShare) external {
        Orchestrator storage orch = _orchestrators[msg.sender];
        if (!orch.registered) revert NotOrchestrator(msg.sender);
        _checkRates(rewardCut, feeShare);
        uint256 round = currentRound();
        _checkRateChangeAllowed(orch, round);
        (orch.prevRewardCut, orch.prevFeeShare) = _ratesAt(orch, round);
        orch.rewardCut = rewardCut;
        orch.feeShare = feeShare;
        orch.ratesSince = uint40(round + 1);
        emit RatesChanged(msg.sender, rewardCut, feeShare, round + 1);
    }

    /// @inheritdoc IStaking
    function joinActiveSet(address evictee) external {
        Orchestrator storage orch = _orchestrators[msg.sender];
        if (orch.inActiveSet) revert AlreadyInActiveSet(msg.sender);
        if (!_eligible(msg.sender, orch)) revert NotEligibleForActiveSet(msg.sender);
        uint256 round = currentRound();
        if (_totals.count >= maxActive) {
            Orchestrator storage out = _orchestrators[evictee];
            if (!out.inActiveSet) revert NotInActiveSet(evictee);
            if (out.stake >= orch.stake) revert EvicteeHasMoreStake(evictee, out.stake, orch.stake);
            _leave(evictee, out, round);
        }
        _join(msg.sender, orch, round);
    }

    /// @inheritdoc IStaking
    function reward() external {
        _reward(msg.sender);
    }

    /// @inheritdoc IStaking
    function rewardFor(address orchestrator) external {
        if (msg.sender != orchestrator && _rewardCallers[orchestrator] != msg.sender) {
            revert NotRewardCaller(msg.sender, orchestrator);
        }
        _reward(orchestrator);
    }

    /* OPERATOR KEYS */

    /// @inheritdoc IStaking
    function setRewardCaller(address rewardCaller) external {
        _rewardCallers[msg.sender] = rewardCaller;
        emit RewardCallerSet(msg.sender, rewardCaller);
    }

    /// @inheritdoc IStaking
    function setRedeemer(address redeemer) external {
        address previous = _redeemers[msg.sender];
        if (previous != address(0) && previous != redeemer) {
            _redeemerAnswerableUntil[msg.sender][previous] = currentRound() + unbondingPeriod;
        }
        _redeemers[msg.sender] = redeemer;
        emit RedeemerSet(msg.sender, redeemer);
    }

    /* PAYMENTS AND SLASHING */

    /// @inheritdoc IStaking
    function creditFees(address orchestrator, uint256 amount, uint256 creationRound) external onlyTicketBroker {
        Orchestrator storage orch = _orchestrators[orchestrator];
        if (!orch.registered) revert NotOrchestrator(orchestrator);
        // Pending fees belong to the round they were credited in; the first credit of a new round
        // settles the previous round's first (once per pool and round).
        uint256 round = currentRound();
        if (orch.touchRound < round) _roll(orchestrator, orch, round);
        uint256 feeShare = creationRound >= orch.ratesSince ? orch.feeShare : orch.prevFeeShare;
        uint256 delegatorFees = amount * feeShare / PPM;
        uint256 orchestratorFees = amount - delegatorFees;
        orch.pendingPoolFees = (orch.pendingPoolFees + delegatorFees).toUint128();
        orch.pendingCutFees = (orch.pendingCutFees + orchestratorFees).toUint128();
        emit FeesCredited(orchestrator, delegatorFees, orchestratorFees, creationRound);
    }

    /// @inheritdoc IStaking
    function slash(address orchestrator, address finder, uint32 slashPpm, uint32 finderFeePpm) external {
        // The current verifier, or a former one resolving a claim it froze the account for.
        if (msg.sender != verifier && _freezesBy[msg.sender][orchestrator] == 0) revert NotVerifier(msg.sender);
        if (slashPpm > PPM) revert RateAbovePpm(slashPpm);
        if (finderFeePpm > PPM) revert RateAbovePpm(finderFeePpm);
        Orchestrator storage orch = _orchestrators[orchestrator];
        if (!orch.registered) revert NotOrchestrator(orchestrator);
        Delegator storage self = _delegators[orchestrator];
        uint256 bondedBefore = _bondedOf(self);
        _claim(orchestrator, self);
        _rollAndFold(orchestrator);

        uint256 round = currentRound();
        orch.registered = false;
        orch.slashedUntil = uint40(round + unbondingPeriod);
        uint256 bondedPenalty;
        if (self.delegate == orchestrator) {
            bondedPenalty = (uint256(self.principal) + self.pendingPrincipal) * slashPpm / PPM;
            _takeStake(orchestrator, self, orch, bondedPenalty);
            _totals.totalBonded -= uint128(bondedPenalty);
        }
        _recordPosition(orchestrator, self, bondedBefore, self.delegate);
        // Unbonding locks backed the same work until they mature: they share the penalty in O(1).
        LockPool storage locks = _lockPools[orchestrator];
        uint256 lockPenalty = uint256(locks.tokens) * slashPpm / PPM;
        locks.tokens -= uint128(lockPenalty);
        uint256 penalty = bondedPenalty + lockPenalty;
        uint256 finderFee = finder == address(0) ? 0 : penalty * finderFeePpm / PPM;
        // Unregistered now: out of the active set even when the penalty is zero.
        if (orch.inActiveSet) _leave(orchestrator, orch, round);
        emit Slashed(orchestrator, finder, penalty, finderFee);
        if (finderFee > 0) IERC20(address(token)).safeTransfer(finder, finderFee);
        if (penalty > finderFee) token.burn(penalty - finderFee);
    }

    /// @inheritdoc IStaking
    function freeze(address account) external {
        if (msg.sender != verifier) revert NotVerifier(msg.sender);
        ++_freezesBy[msg.sender][account];
        uint256 count = _freezes[account] + 1;
        _freezes[account] = count;
        emit Frozen(account, count);
    }

    /// @inheritdoc IStaking
    function unfreeze(address account) external {
        uint256 own = _freezesBy[msg.sender][account];
        if (own == 0) {
            if (msg.sender != verifier) revert NotVerifier(msg.sender);
            revert NotFrozen(account);
        }
        _freezesBy[msg.sender][account] = own - 1;
        uint256 count = _freezes[account] - 1;
        _freezes[account] = count;
        emit Unfrozen(account, count);
    }

    /* ADMIN */

    /// @inheritdoc IStaking
    function wire(address minter_, address ticketBroker_) external onlyOwner {
        if (address(minter) != address(0)) revert AlreadyWired();
        if (minter_ == address(0) || ticketBroker_ == address(0)) revert ZeroAddress();
        _checkUnbondingPeriod(unbondingPeriod, ticketBroker_);
        minter = IMinter(minter_);
        ticketBroker = ticketBroker_;
        emit Wired(minter_, ticketBroker_);
    }

    /// @inheritdoc IStaking
    function setMinActiveStake(uint256 minActiveStake_) external onlyOwner {
        _minimums.activeStake = minActiveStake_.toUint128();
        emit MinActiveStakeSet(minActiveStake_);
    }

    /// @inheritdoc IStaking
    function setMinSelfBond(uint256 minSelfBond_) external onlyOwner {
        _minimums.selfBond = minSelfBond_.toUint128();
        emit MinSelfBondSet(minSelfBond_);
    }

    /// @inheritdoc IStaking
    function setMaxActive(uint256 maxActive_) external onlyOwner {
        uint256 floor = _totals.count > MIN_MAX_ACTIVE ? _totals.count : MIN_MAX_ACTIVE;
        if (maxActive_ < floor) revert MaxActiveTooSmall(maxActive_, floor);
        if (maxActive_ > MAX_ACTIVE_LIMIT) revert MaxActiveTooLarge(maxActive_, MAX_ACTIVE_LIMIT);
        maxActive = maxActive_;
        emit MaxActiveSet(maxActive_);
    }

    /// @inheritdoc IStaking
    function setVerifier(address verifier_) external onlyOwner {
        if (verifier_ == address(0)) revert ZeroAddress();
        verifier = verifier_;
        emit VerifierSet(verifier_);
    }

    /// @inheritdoc IStaking
    function setUnbondingPeriod(uint256 unbondingPeriod_) external onlyOwner {
        // Stake must stay slashable (and a replaced redeemer answerable) at least as long as a ticket it
        // earned can be redeemed; existing locks keep the withdraw round they were given.
        _checkUnbondingPeriod(unbondingPeriod_, ticketBroker);
        unbondingPeriod = unbondingPeriod_;
        emit UnbondingPeriodSet(unbondingPeriod_);
    }

    /// @dev At least `broker`'s ticket validity (and never zero), at most MAX_UNBONDING_PERIOD.
    function _checkUnbondingPeriod(uint256 period, address broker) internal view {
        uint256 minimum = broker == address(0) ? 0 : ITicketBroker(broker).ticketValidity();
        if (minimum == 0) minimum = 1;
        if (period < minimum || period > MAX_UNBONDING_PERIOD) {
            revert UnbondingPeriodOutOfRange(period, minimum, MAX_UNBONDING_PERIOD);
        }
    }

    /* VOTES */

    /// @inheritdoc IStakeVotes
    function getPoolStake(address orchestrator) external view returns (uint256) {
        return _orchestrators[orchestrator].stake;
    }

    /// @inheritdoc IStakeVotes
    function getBondedStake(address account) external view returns (uint256) {
        return _bondedOf(_delegators[account]);
    }

    /// @inheritdoc IStakeVotes
    function getPastPoolStake(address orchestrator, uint256 timepoint) external view returns (uint256) {
        Orchestrator storage orch = _orchestrators[orchestrator];
        return _valueAt(_stakeLog[orchestrator], orch.stakeLogLength, 0, timepoint, orch.stake);
    }

    /// @inheritdoc IStakeVotes
    function getPastBondedStake(address account, uint256 timepoint) external view returns (uint256) {
        Delegator storage del = _delegators[account];
        return _valueAt(_bondedLog[account], del.bondedLogLength, del.openedAt, timepoint, _bondedOf(del));
    }

    /// @inheritdoc IStakeVotes
    function getPastDelegateOf(address account, uint256 timepoint) external view returns (address) {
        Delegator storage del = _delegators[account];
        uint256 length = _delegateLogLength[account];
        return address(uint160(_valueAt(_delegateLog[account], length, del.openedAt, timepoint, uint160(del.delegate))));
    }

    /// @dev A record's value at the end of past block `timepoint`: zero before `floor`, else its log's.
    function _valueAt(
        mapping(uint256 => uint256) storage log,
        uint256 length,
        uint256 floor,
        uint256 timepoint,
        uint256 current
    ) internal view returns (uint256) {
        if (timepoint >= block.number) revert FutureLookup(timepoint, block.number);
        if (timepoint < floor) return 0;
        return ChangeLog.valueAt(log, length, timepoint, current);
    }

    /// @dev A position's own bonded stake as settled: its voting weight as a delegator.
    function _bondedOf(Delegator storage del) internal view returns (uint256) {
        return uint256(del.principal) + del.pendingPrincipal;
    }

    /// @dev Records a change of `owner`'s position in its voting record, given its bonded stake and
    ///      delegate before the change. Call once the change is done, in the same transaction.
    function _recordPosition(address owner, Delegator storage del, uint256 bondedBefore, address delegateBefore)
        internal
    {
        uint256 bonded = _bondedOf(del);
        address delegate = del.delegate;
        if (bonded == bondedBefore && delegate == delegateBefore) return;
        uint256 openedAt = del.openedAt;
        if (openedAt == 0) {
            // The first change ever: the record was empty until now, which needs no entry.
            openedAt = block.number;
            del.openedAt = uint40(openedAt);
        }
        if (bonded != bondedBefore) {
            del.bondedLogLength =
                uint40(ChangeLog.noteChange(_bondedLog[owner], del.bondedLogLength, openedAt, bondedBefore));
        }
        if (delegate != delegateBefore) {
            _delegateLogLength[owner] =
                ChangeLog.noteChange(_delegateLog[owner], _delegateLogLength[owner], openedAt, uint160(delegateBefore));
        }
    }

    /* VIEWS */

    /// @inheritdoc IStaking
    function minActiveStake() external view returns (uint256) {
        return _minimums.activeStake;
    }

    /// @inheritdoc IStaking
    function minSelfBond() external view returns (uint256) {
        return _minimums.selfBond;
    }

    /// @inheritdoc IStaking
    function totalBonded() external view returns (uint256) {
        return _totals.totalBonded;
    }

    /// @inheritdoc IStaking
    function isRegistered(address account) external view returns (bool) {
        return _orchestrators[account].registered;
    }

    /// @inheritdoc IStaking
    function everRegistered(address account) external view returns (bool) {
        // Set by the first registration and never cleared: a slash unregisters, it does not erase.
        return _orchestrators[account].wasRegistered;
    }

    /// @inheritdoc IStaking
    function isActive(address orchestrator, uint256 round) external view returns (bool) {
        return _isActive(_orchestrators[orchestrator], round);
    }

    /// @inheritdoc IStaking
    function activeTotalsThisRound() external view returns (uint256 count, uint256 stake) {
        return _totalsAt(currentRound());
    }

    /// @inheritdoc IStaking
    function activeSet() external view returns (address[] memory) {
        return _activeSet;
    }

    /// @inheritdoc IStaking
    function activeSetPage(uint256 offset, uint256 limit)
        external
        view
        returns (address[] memory members, uint256 total)
    {
        total = _activeSet.length;
        uint256 end = offset >= total ? offset : (limit > total - offset ? total : offset + limit);
        members = new address[](end - offset);
        for (uint256 i = offset; i < end; ++i) {
            members[i - offset] = _activeSet[i];
        }
    }

    /// @inheritdoc IStaking
    function orchestratorInfo(address orchestrator) external view returns (OrchestratorInfo memory info) {
        Orchestrator storage orch = _orchestrators[orchestrator];
        uint256 round = currentRound();
        (uint256 rewardCut, uint256 feeShare) = _ratesAt(orch, round);
        info = OrchestratorInfo({
            registered: orch.registered,
            inActiveSet: orch.inActiveSet,
            activeThisRound: _isActive(orch, round),
            rewardCut: uint32(rewardCut),
            feeShare: uint32(feeShare),
            stake: orch.stake,
            lastRewardRound: orch.lastRewardRound
        });
    }

    /// @inheritdoc IStaking
    function pendingStake(address account) public view returns (uint256 stake) {
        (stake,) = _position(_delegators[account]);
    }

    /// @inheritdoc IStaking
    function pendingFees(address account) external view returns (uint256 fees) {
        Delegator storage del = _delegators[account];
        Orchestrator storage own = _orchestrators[account];
        (, bool ownPooled) = _feeFactorAfterFold(own);
        fees = own.pendingCutFees + (ownPooled ? 0 : own.pendingPoolFees);
        (, uint256 positionFees) = _position(del);
        fees += positionFees;
    }

    /// @inheritdoc IStaking
    function slashableStake(address orchestrator) external view returns (uint256) {
        Delegator storage self = _delegators[orchestrator];
        uint256 own = self.delegate == orchestrator ? pendingStake(orchestrator) : 0;
        return own + _lockPools[orchestrator].tokens;
    }

    /// @inheritdoc IStaking
    function earningStake(address orchestrator) external view returns (uint256) {
        Orchestrator storage orch = _orchestrators[orchestrator];
        return orch.touchRound < currentRound() ? orch.stake : orch.stake - orch.arrived;
    }

    /// @inheritdoc IStaking
    function poolFactors(address orchestrator) external view returns (uint256 rewardFactor, uint256 feeFactor) {
        Orchestrator storage orch = _orchestrators[orchestrator];
        (feeFactor,) = _feeFactorAfterFold(orch);
        return (orch.cumulativeRewardFactor, feeFactor);
    }

    /// @inheritdoc IStaking
    function freezeCount(address account) external view returns (uint256) {
        return _freezes[account];
    }

    /// @inheritdoc IStaking
    function freezesBy(address verifier_, address account) external view returns (uint256) {
        return _freezesBy[verifier_][account];
    }

    /// @inheritdoc IStaking
    function frozen(address account) external view returns (bool) {
        return _freezes[account] != 0;
    }

    /// @inheritdoc IStaking
    function slashedUntil(address account) external view returns (uint256) {
        return _orchestrators[account].slashedUntil;
    }

    /// @inheritdoc IStaking
    function delegateOf(address account) external view returns (address) {
        return _delegators[account].delegate;
    }

    /// @inheritdoc IStaking
    function unbondingLock(address account, uint256 lockId) external view returns (UnbondingLock memory lock) {
        lock = _locks[account][lockId];
        lock.amount = uint128(_lockValue(_lockPools[account], lock.amount));
    }

    /// @inheritdoc IStaking
    function rewardCallerOf(address orchestrator) external view returns (address) {
        return _rewardCallers[orchestrator];
    }

    /// @inheritdoc IStaking
    function redeemerOf(address orchestrator) external view returns (address) {
        return _redeemers[orchestrator];
    }

    /// @inheritdoc IStaking
    function signsResultsFor(address orchestrator, address signer) external view returns (bool) {
        if (signer == address(0)) return false;
        if (signer == orchestrator || signer == _redeemers[orchestrator]) return true;
        return currentRound() < _redeemerAnswerableUntil[orchestrator][signer];
    }

    /// @inheritdoc IStaking
    function reserveEligibility(address orchestrator, uint256 round, uint256 creationRound)
        external
        view
        returns (bool eligible, uint256 activeCount)
    {
        Orchestrator storage orch = _orchestrators[orchestrator];
        eligible = orch.registered && (_isActive(orch, round) || _isActive(orch, creationRound));
        (activeCount,) = _totalsAt(round);
        // Every orchestrator that left the set within the window in which a ticket it was paid
        // while active can still be redeemed also claims in `round`: it takes a share too. Tickets
        // are valid for at most rateChangeCooldown rounds (the broker checks), so departures
        // effective in (round - rateChangeCooldown + 1, round] are counted.
        uint256 window = rateChangeCooldown;
        for (uint256 r = round; r + window > round + 1 && r > 0; --r) {
            activeCount += _departures[r];
        }
    }

    /* INTERNAL: REWARD */

    /// @dev reward() for `orchestrator`, whose authority the caller has checked.
    function _reward(address orchestrator) internal {
        Orchestrator storage orch = _orchestrators[orchestrator];
        uint256 round = currentRound();
        if (!orch.registered || !_isActive(orch, round)) revert NotActiveOrchestrator(orchestrator, round);
        if (_freezes[orchestrator] != 0) revert StakeFrozen(orchestrator);
        if (orch.lastRewardRound == round) revert AlreadyRewarded(orchestrator, round);
        orch.lastRewardRound = uint40(round);
        _roll(orchestrator, orch, round);
        _foldFees(orchestrator, orch);

        // Paid on, and shared over, the stake that earned all round: stake that arrived this round
        // (`arrived`) starts earning next round, so bonding just before reward() earns nothing.
        uint256 stake = orch.stake;
        uint256 earning = stake - orch.arrived;
        (, uint256 totalAtStart) = _totalsAt(round);
        // A pool whose earning stake is below the active minimum (or dust) mints nothing: its reward
        // factor cannot be blown up by draining the pool before reward() and refilling it.
        uint256 minStake = _minimums.activeStake;
        uint256 floor = minStake > DUST_STAKE ? minStake : DUST_STAKE;
        uint256 minted = earning < floor ? 0 : minter.mintReward(earning, totalAtStart);
        uint256 cut;
        if (minted > 0) {
            (uint256 rewardCut,) = _ratesAt(orch, round);
            cut = minted * rewardCut / PPM;
            Delegator storage self = _delegators[orchestrator];
            // The cut is the orchestrator's own stake; without a self-bond it stays with the pool.
            if (self.delegate != orchestrator) cut = 0;
            // minted ≤ earning (mintable ≤ supply share), so the factor at most doubles in a round.
            orch.cumulativeRewardFactor = (orch.cumulativeRewardFactor * (earning + minted - cut) / earning).toUint128();
            if (cut > 0) _addCut(orchestrator, orch, self, cut);
            _setStake(orchestrator, orch, stake + minted);
            _totals.totalBonded = (_totals.totalBonded + minted).toUint128();
        }
        emit Reward(orchestrator, round, minted, cut);
    }

    /// @dev Adds the orchestrator's reward cut to its own (settled) principal.
    function _addCut(address orchestrator, Orchestrator storage orch, Delegator storage self, uint256 cut) internal {
        uint256 bondedBefore = _bondedOf(self);
        _claim(orchestrator, self);
        uint256 principal = self.principal;
        if (principal == 0) {
            // The cut is its first earning principal: it starts at the pool's factors now.
            self.rewardFactorAtClaim = orch.cumulativeRewardFactor;
            self.feeFactorAtClaim = orch.cumulativeFeeFactor;
        }
        self.principal = (principal + cut).toUint96();
        _recordPosition(orchestrator, self, bondedBefore, orchestrator);
    }

    /* INTERNAL: EARNINGS */

    /// @dev _claim, recorded in the voting record.
    function _claimAndRecord(address owner, Delegator storage del) internal {
        uint256 bondedBefore = _bondedOf(del);
        _claim(owner, del);
        _recordPosition(owner, del, bondedBefore, del.delegate);
    }

    /// @dev Settles `owner`'s rewards and fees on its delegate's pool into principal and fees, and
    ///      turns stake that arrived in an earlier round into earning principal from that round's end.
    function _claim(address owner, Delegator storage del) internal {
        address delegate = del.delegate;
        if (delegate == address(0)) return;
        Orchestrator storage orch = _orchestrators[delegate];
        uint256 round = currentRound();
        _roll(delegate, orch, round);
        _foldFees(delegate, orch);
        uint256 principal = del.principal;
        uint256 pending = del.pendingPrincipal;
        bool joins = pending != 0 && del.pendingRound < round;
        // Nothing earns: the factors at claim are not read (nor written, see the contract's notes).
        if (principal == 0 && !joins) return;
        uint256 crf = orch.cumulativeRewardFactor;
        uint256 cff = orch.cumulativeFeeFactor;
        uint256 newPrincipal = principal;
        uint256 fees;
        bool settled = true;
        if (principal != 0) {
            uint256 crfAtClaim = del.rewardFactorAtClaim;
            uint256 cffAtClaim = del.feeFactorAtClaim;
            if (crf != crfAtClaim || cff != cffAtClaim) {
                // Rounding down keeps Σ delegator stake ≤ pool stake and Σ fees ≤ fees credited.
                newPrincipal = principal * crf / crfAtClaim;
                fees = Math.mulDiv(principal, cff - cffAtClaim, crfAtClaim);
                settled = false;
            }
        }
        uint256 joined; // pending stake of an earlier round, now earning principal
        if (joins) {
            // Arrived in pendingRound: earns from the pool's factors at that round's end.
            Checkpoint storage ck = _checkpoints[delegate][del.pendingRound];
            uint256 ckCrf = ck.rewardFactor;
            newPrincipal += pending * crf / ckCrf;
            fees += Math.mulDiv(pending, cff - ck.feeFactor, ckCrf);
            joined = pending;
            del.pendingPrincipal = 0;
            settled = false;
        }
        if (settled) return;
        del.principal = newPrincipal.toUint96();
        del.rewardFactorAtClaim = uint128(crf);
        del.feeFactorAtClaim = cff;
        if (fees > 0) del.fees = (del.fees + fees).toUint128();
        emit EarningsClaimed(owner, delegate, newPrincipal - principal - joined, fees);
    }

    /// @dev The first touch of a pool in a new round closes its last round: the fees credited in it
    ///      are shared over the stake that earned in it, and the factors at that point are recorded as
    ///      the starting point of the stake that arrived in it. O(1): one round is ever open.
    function _roll(address orchestrator, Orchestrator storage orch, uint256 round) internal {
        uint256 touched = orch.touchRound;
        if (touched >= round) return;
        _foldFees(orchestrator, orch);
        if (orch.arrived != 0) {
            _checkpoints[orchestrator][touched] = Checkpoint(orch.cumulativeRewardFactor, orch.cumulativeFeeFactor);
            orch.arrived = 0;
        }
        orch.touchRound = uint40(round);
    }

    function _rollAndFold(address orchestrator) internal {
        Orchestrator storage orch = _orchestrators[orchestrator];
        _roll(orchestrator, orch, currentRound());
        _foldFees(orchestrator, orch);
    }

    /// @dev Moves fees credited since the last fold into the pool's fee factor and the orchestrator's
    ///      cut. Call after _roll: the pending fees then belong to the pool's current round.
    function _foldFees(address orchestrator, Orchestrator storage orch) internal {
        uint256 poolFees = orch.pendingPoolFees;
        uint256 cutFees = orch.pendingCutFees;
        if (poolFees | cutFees == 0) return;
        (uint256 cff, bool pooled) = _feeFactorAfterFold(orch);
        orch.pendingPoolFees = 0;
        orch.pendingCutFees = 0;
        if (pooled) {
            orch.cumulativeFeeFactor = cff;
        } else if (poolFees > 0) {
            // Nobody earned in this pool (or its factor is exhausted): the orchestrator keeps the
            // delegators' share, and says so.
            cutFees += poolFees;
            emit FeesNotShared(orchestrator, poolFees, orch.stake - orch.arrived);
        }
        Delegator storage self = _delegators[orchestrator];
        self.fees = (self.fees + cutFees).toUint128();
    }

    /// @dev The fee factor with pending pool fees folded in over the earning stake, and whether the
    ///      pool takes them: not when its earning stake is below DUST_STAKE, nor in the (unreachable in
    ///      practice: a fee of 2^128 wei over 1 gwei of stake moves a 256-bit factor by < 2^226) case
    ///      where the factor would overflow.
    function _feeFactorAfterFold(Orchestrator storage orch) internal view returns (uint256 cff, bool pooled) {
        cff = orch.cumulativeFeeFactor;
        uint256 earning = orch.stake - orch.arrived;
        if (earning < DUST_STAKE) return (cff, false);
        uint256 delta = Math.mulDiv(orch.pendingPoolFees, orch.cumulativeRewardFactor, earning);
        unchecked {
            uint256 next = cff + delta;
            if (next < cff) return (cff, false);
            return (next, true);
        }
    }

    /// @dev A position's stake and fees as `_claim` would settle them now (views only).
    function _position(Delegator storage del) internal view returns (uint256 stake, uint256 fees) {
        fees = del.fees;
        stake = uint256(del.principal) + del.pendingPrincipal;
        address delegate = del.delegate;
        if (delegate == address(0)) return (stake, fees);
        Orchestrator storage orch = _orchestrators[delegate];
        (uint256 cff,) = _feeFactorAfterFold(orch);
        uint256 crf = orch.cumulativeRewardFactor;
        stake = 0;
        uint256 principal = del.principal;
        if (principal != 0) {
            stake = principal * crf / del.rewardFactorAtClaim;
            fees += Math.mulDiv(principal, cff - del.feeFactorAtClaim, del.rewardFactorAtClaim);
        }
        uint256 pending = del.pendingPrincipal;
        uint256 pendingRound = del.pendingRound;
        if (pending == 0) return (stake, fees);
        if (pendingRound == currentRound()) return (stake + pending, fees);
        (uint256 ckCrf, uint256 ckCff) = (crf, cff); // the pool has not rolled past pendingRound yet
        if (pendingRound < orch.touchRound) {
            Checkpoint storage ck = _checkpoints[delegate][pendingRound];
            (ckCrf, ckCff) = (ck.rewardFactor, ck.feeFactor);
        }
        stake += pending * crf / ckCrf;
        fees += Math.mulDiv(pending, cff - ckCff, ckCrf);
    }

    function _initPool(Orchestrator storage orch) internal {
        if (orch.cumulativeRewardFactor == 0) orch.cumulativeRewardFactor = uint128(PRECISION);
    }

    /* INTERNAL: STAKE */

    /// @dev Moves the caller's lock `lockId` into its position with `to` (its delegate `delegate`).
    function _rebond(address delegate, address to, uint256 lockId) internal {
        uint256 amount = _consumeLock(msg.sender, lockId);
        Delegator storage del = _delegators[msg.sender];
        uint256 bondedBefore = _bondedOf(del);
        _addStake(msg.sender, to, amount);
        _recordPosition(msg.sender, del, bondedBefore, delegate);
        emit Rebond(msg.sender, to, lockId, amount);
    }

    function _bond(address payer, address owner, address to, uint256 amount) internal {
        Delegator storage del = _delegators[owner];
        address current = del.delegate;
        if (amount == 0 && current == to) revert NothingToBond();
        uint256 bondedBefore = _bondedOf(del);
        // Moving to a new delegate takes the whole principal along: not while a claim holds it.
        if (current != to && bondedBefore != 0 && _freezes[owner] != 0) revert StakeFrozen(owner);
        _requireCanDelegateTo(owner, to);
        if (current != to) _moveDelegation(owner, del, current, to);
        _addStake(owner, to, amount);
        _recordPosition(owner, del, bondedBefore, current);
        emit Bond(owner, payer, to, amount);
        if (amount > 0) IERC20(address(token)).safeTransferFrom(payer, address(this), amount);
    }

    function _requireCanDelegateTo(address owner, address to) internal view {
        if (to == address(0)) revert ZeroAddress();
        if (to == owner) return;
        if (!_orchestrators[to].registered) revert NotOrchestrator(to);
        if (_orchestrators[owner].registered) revert OrchestratorMustSelfDelegate(owner);
    }

    /// @dev An accused (frozen) or just-slashed account may not bring stake back nor register.
    function _requireNotHeld(address account) internal view {
        if (_freezes[account] != 0) revert StakeFrozen(account);
        uint256 until = _orchestrators[account].slashedUntil;
        if (currentRound() < until) revert RecentlySlashed(account, until);
    }

    /// @dev Moves `owner`'s whole stake from `from` (may be none) to `to`, settling earnings first. At
    ///      `to` it arrives now, so it earns there from the next round.
    function _moveDelegation(address owner, Delegator storage del, address from, address to) internal {
        uint256 moved;
        if (from != address(0)) {
            _claim(owner, del);
            moved = _bondedOf(del);
            _takeStake(from, del, _orchestrators[from], moved);
            _totals.totalBonded -= uint128(moved);
        }
        _openPosition(owner, del, to);
        // Opening a position is announced by Bond / Rebond, which name the delegate.
        if (from != address(0)) emit DelegateChanged(owner, from, to, moved);
        if (moved > 0) _addStake(owner, to, moved);
    }

    /// @dev Opens `del`'s (empty) position at `delegate`'s current factors.
    function _openPosition(address owner, Delegator storage del, address delegate) internal {
        // A registered delegate's pool was initialized at registration; a self-bond may come first.
        if (delegate == owner) _initPool(_orchestrators[delegate]);
        // An empty position (no delegate) holds nothing; its factors at claim are set when principal
        // first appears (see _claim), so opening writes only the delegate.
        del.delegate = delegate;
    }

    /// @dev Adds `amount` to `owner`'s stake with `delegate` (its current delegate, or a new one for
    ///      an empty position) as stake that arrives now.
    function _addStake(address owner, address delegate, uint256 amount) internal {
        Delegator storage del = _delegators[owner];
        if (del.delegate != delegate) _openPosition(owner, del, delegate); // rebondFromUnbonded
        else if (_bondedOf(del) != 0) _claim(owner, del); // an empty position has nothing to settle
        if (amount == 0) return;
        Orchestrator storage orch = _orchestrators[delegate];
        uint256 round = currentRound();
        // Closes the pool's last round if it is over. Arriving stake does not change the earning stake
        // (stake − arrived) that pending fees are shared over, so they need not be folded first.
        _roll(delegate, orch, round);
        // _claim turned any pending stake of an earlier round into principal.
        del.pendingPrincipal = (del.pendingPrincipal + amount).toUint96();
        del.pendingRound = uint40(round);
        orch.arrived = (orch.arrived + amount).toUint104();
        _setStake(delegate, orch, orch.stake + amount);
        _totals.totalBonded += uint128(amount); // amount ≤ uint96: pendingPrincipal is checked above
    }

    /// @dev Takes `amount` from a settled position and from its pool's stake: stake that arrived this
    ///      round first (it has earned nothing), then earning principal. The caller keeps totalBonded.
    function _takeStake(address delegate, Delegator storage del, Orchestrator storage orch, uint256 amount) internal {
        uint256 pending = del.pendingPrincipal;
        uint256 fromPending = amount < pending ? amount : pending;
        if (fromPending > 0) {
            del.pendingPrincipal = uint96(pending - fromPending);
            orch.arrived -= uint104(fromPending);
        }
        del.principal -= uint96(amount - fromPending);
        _setStake(delegate, orch, orch.stake - amount);
    }

    function _consumeLock(address owner, uint256 lockId) internal returns (uint256 amount) {
        uint256 shares = _locks[owner][lockId].amount;
        if (shares == 0) revert UnknownUnbondingLock(owner, lockId);
        delete _locks[owner][lockId];
        LockPool storage pool = _lockPools[owner];
        amount = _lockValue(pool, shares);
        pool.shares -= uint128(shares);
        pool.tokens -= uint128(amount);
    }

    /// @dev Puts `amount` unbonded tokens into `owner`'s lock pool; returns the shares they buy.
    function _depositLock(address owner, uint256 amount) internal returns (uint256 shares) {
        LockPool storage pool = _lockPools[owner];
        uint256 totalShares = pool.shares;
        uint256 tokens = pool.tokens;
        // A pool slashed to nothing restarts; its old shares are worth nothing either way.
        shares = totalShares == 0 || tokens == 0 ? amount : amount * totalShares / tokens;
        if (shares == 0) shares = 1;
        pool.shares = (totalShares + shares).toUint128();
        pool.tokens = (tokens + amount).toUint128();
    }

    function _lockValue(LockPool storage pool, uint256 shares) internal view returns (uint256) {
        uint256 totalShares = pool.shares;
        return totalShares == 0 ? 0 : shares * pool.tokens / totalShares;
    }

    /// @dev Sets a pool's stake, keeping the active totals and membership in step.
    function _setStake(address orchestrator, Orchestrator storage orch, uint256 newStake) internal {
        uint256 round = currentRound();
        uint256 oldStake = orch.stake;
        if (newStake != oldStake) {
            orch.stakeLogLength =
                uint40(ChangeLog.noteChange(_stakeLog[orchestrator], orch.stakeLogLength, 0, oldStake));
        }
        orch.stake = newStake.toUint104();
        if (orch.inActiveSet) {
            ActiveTotals storage totals = _touchTotals(round);
            totals.stake = (totals.stake + newStake - oldStake).toUint128();
        }
        _updateMembership(orchestrator, orch, round);
    }

    /* INTERNAL: ACTIVE SET */

    /// @dev Registered, at least the minimum stake, and at least the minimum self-bond at risk.
    function _eligible(address orchestrator, Orchestrator storage orch) internal view returns (bool) {
        uint256 stake = orch.stake;
        if (!orch.registered || stake == 0) return false;
        Minimums storage minimums = _minimums;
        if (stake < minimums.activeStake) return false;
        Delegator storage self = _delegators[orchestrator];
        if (self.delegate != orchestrator) return minimums.selfBond == 0;
        return _bondedOf(self) >= minimums.selfBond;
    }

    function _updateMembership(address orchestrator, Orchestrator storage orch, uint256 round) internal {
        bool eligible = _eligible(orchestrator, orch);
        if (orch.inActiveSet) {
            if (!eligible) _leave(orchestrator, orch, round);
        } else if (eligible && _totals.count < maxActive) {
            _join(orchestrator, orch, round);
        }
    }

    /// @dev Joins the set; active from the next round (or stays active if it left this round).
    function _join(address orchestrator, Orchestrator storage orch, uint256 round) internal {
        ActiveTotals storage totals = _touchTotals(round);
        totals.count += 1;
        totals.stake += orch.stake;
        orch.inActiveSet = true;
        _activeSet.push(orchestrator);
        _activeIndex[orchestrator] = _activeSet.length;
        if (!(orch.deactivationRound == round + 1 && orch.activationRound <= round)) {
            orch.activationRound = uint64(round + 1);
        } else {
            _departures[round + 1] -= 1; // it left this round and stays active after all
        }
        orch.deactivationRound = NEVER;
        emit OrchestratorActivated(orchestrator, round + 1);
    }

    /// @dev Leaves the set; inactive from the next round.
    function _leave(address orchestrator, Orchestrator storage orch, uint256 round) internal {
        ActiveTotals storage totals = _touchTotals(round);
        totals.count -= 1;
        totals.stake -= orch.stake;
        if (_isActive(orch, round)) _departures[round + 1] += 1;
        orch.inActiveSet = false;
        orch.deactivationRound = uint64(round + 1);
        uint256 index = _activeIndex[orchestrator];
        address last = _activeSet[_activeSet.length - 1];
        _activeSet[index - 1] = last;
        _activeIndex[last] = index;
        _activeSet.pop();
        delete _activeIndex[orchestrator];
        emit OrchestratorDeactivated(orchestrator, round + 1);
    }

    function _touchTotals(uint256 round) internal returns (ActiveTotals storage totals) {
        totals = _totals;
        if (totals.round < round) {
            totals.stakeAtRoundStart = totals.stake;
            totals.countAtRoundStart = totals.count;
            totals.round = uint64(round);
        }
    }

    /// @dev Count and stake of the active set at the start of `round` (the current round or later).
    function _totalsAt(uint256 round) internal view returns (uint256 count, uint256 stake) {
        ActiveTotals memory totals = _totals;
        if (totals.round < round) return (totals.count, totals.stake);
        return (totals.countAtRoundStart, totals.stakeAtRoundStart);
    }

    function _isActive(Orchestrator storage orch, uint256 round) internal view returns (bool) {
        uint256 activation = orch.activationRound;
        return activation != 0 && activation <= round && round < orch.deactivationRound;
    }

    /* INTERNAL: RATES */

    function _ratesAt(Orchestrator storage orch, uint256 round) internal view returns (uint32, uint32) {
        if (round >= orch.ratesSince) return (orch.rewardCut, orch.feeShare);
        return (orch.prevRewardCut, orch.prevFeeShare);
    }

    function _checkRates(uint256 rewardCut, uint256 feeShare) internal pure {
        if (rewardCut > PPM) revert RateAbovePpm(rewardCut);
        if (feeShare > PPM) revert RateAbovePpm(feeShare);
    }

    /// @dev Outside the lock window, and the previous change (in force from ratesSince) must be
    ///      older than the cooldown, so every ticket created before it has expired.
    function _checkRateChangeAllowed(Orchestrator storage orch, uint256 round) internal view {
        if (_inLockWindow()) revert RatesLockedInWindow(round);
        uint256 nextAllowed = uint256(orch.ratesSince) + rateChangeCooldown;
        if (orch.ratesSince != 0 && round + 1 < nextAllowed) revert RateChangeCooldown(nextAllowed - 1);
    }
}
