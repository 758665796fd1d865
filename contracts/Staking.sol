// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {SafeERC20, IERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {IMinter} from "./interfaces/IMinter.sol";
import {IWorkToken} from "./interfaces/IWorkToken.sol";
import {ITicketBroker} from "./interfaces/ITicketBroker.sol";

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
///      Per-round snapshots (an orchestrator's stake, the active set's count and stake) are taken
///      lazily: the first change in a round records the value the round started with.
contract Staking is IStaking, Ownable2Step {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /* TYPES */

    struct Orchestrator {
        // slot 0: read by every fee credit
        uint32 rewardCut;
        uint32 feeShare;
        uint32 prevRewardCut;
        uint32 prevFeeShare;
        uint56 ratesSince; // first round in which rewardCut/feeShare apply; earlier rounds use prev*
        uint56 lastRewardRound;
        bool registered;
        // slot 1: written by every fee credit
        uint128 pendingPoolFees;
        uint128 pendingCutFees;
        // slot 2: written by every stake change
        uint104 stake;
        uint104 stakeAtRoundStart;
        uint40 stakeRound; // round of the last stake change
        bool inActiveSet;
        // slot 3
        uint64 activationRound;
        uint64 deactivationRound;
        // slot 4
        uint128 cumulativeRewardFactor;
        uint128 cumulativeFeeFactor;
    }

    struct Delegator {
        address delegate;
        uint96 principal;
        uint128 rewardFactorAtClaim;
        uint128 feeFactorAtClaim;
        uint128 fees;
        uint64 nextLockId;
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
    /// @dev Below this a pool holds only rounding dust that no delegator owns: it counts as empty
    ///      (mints no reward, shares no fees).
    uint256 internal constant DUST_STAKE = 1e9;
    uint64 internal constant NEVER = type(uint64).max;

    /* IMMUTABLES */

    IWorkToken public immutable token;
    /// @inheritdoc IStaking
    uint256 public immutable startBlock;
    /// @inheritdoc IStaking
    uint256 public immutable roundLength;
    /// @inheritdoc IStaking
    uint256 public immutable lockBlocks;
    /// @inheritdoc IStaking
    uint256 public immutable unbondingPeriod;
    /// @inheritdoc IStaking
    uint256 public immutable rateChangeCooldown;

    /* STORAGE */

    IMinter public minter;
    /// @inheritdoc IStaking
    address public ticketBroker;
    /// @inheritdoc IStaking
    address public verifier;
    /// @inheritdoc IStaking
    uint256 public minActiveStake;
    /// @inheritdoc IStaking
    uint256 public maxActive;

    ActiveTotals internal _totals;
    address[] internal _activeSet;
    mapping(address => uint256) internal _activeIndex; // 1-based position in _activeSet
    mapping(address => Orchestrator) internal _orchestrators;
    mapping(address => Delegator) internal _delegators;
    mapping(address => mapping(uint256 => UnbondingLock)) internal _locks;
    mapping(address => uint256) internal _freezes; // open verifier claims against an account
    /// @dev Orchestrators active in round `r - 1` and inactive from round `r` on, per `r`: the reserve
    ///      claimants that are no longer counted in the active set (see reserveEligibility).
    mapping(uint256 round => uint256) internal _departures;

    /* CONSTRUCTOR */

    /// @param token_ The work token.
    /// @param roundLength_ Blocks per round.
    /// @param lockBlocks_ Blocks at the end of a round in which rates are locked (< roundLength_).
    /// @param unbondingPeriod_ Rounds before unbonded stake can be withdrawn.
    /// @param rateChangeCooldown_ Rounds between rate changes; must cover the broker's ticket validity.
    /// @param minActiveStake_ Minimum stake to be in the active set.
    /// @param maxActive_ Cap on the active set (≥ 100).
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
        if (unbondingPeriod_ == 0 || rateChangeCooldown_ == 0) revert InvalidParameters();
        if (maxActive_ < MIN_MAX_ACTIVE) revert MaxActiveTooSmall(maxActive_, MIN_MAX_ACTIVE);
        token = token_;
        startBlock = block.number;
        roundLength = roundLength_;
        lockBlocks = lockBlocks_;
        unbondingPeriod = unbondingPeriod_;
        rateChangeCooldown = rateChangeCooldown_;
        minActiveStake = minActiveStake_;
        maxActive = maxActive_;
    }

    /* MODIFIERS */

    modifier onlyTicketBroker() {
        if (msg.sender != ticketBroker) revert NotTicketBroker(msg.sender);
        _;
    }

    modifier onlyVerifier() {
        if (msg.sender != verifier) revert NotVerifier(msg.sender);
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
        _claim(msg.sender, del);
        uint256 principal = del.principal;
        if (amount > principal) revert InsufficientBond(principal, amount);

        del.principal = uint96(principal - amount);
        // A fully unbonded delegator is free to bond anywhere; an orchestrator stays self-delegated.
        if (principal == amount && !_orchestrators[msg.sender].registered) del.delegate = address(0);
        Orchestrator storage orch = _orchestrators[delegate];
        _setStake(delegate, orch, orch.stake - amount);
        _totals.totalBonded -= uint128(amount);
        lockId = del.nextLockId++;
        uint256 withdrawRound = currentRound() + unbondingPeriod;
        _locks[msg.sender][lockId] = UnbondingLock(amount.toUint128(), withdrawRound.toUint64());
        emit Unbond(msg.sender, delegate, lockId, amount, withdrawRound);
    }

    /// @inheritdoc IStaking
    function rebond(uint256 lockId) external {
        address delegate = _delegators[msg.sender].delegate;
        if (delegate == address(0)) revert NotBonded(msg.sender);
        uint256 amount = _consumeLock(msg.sender, lockId);
        _addStake(msg.sender, delegate, amount);
        emit Rebond(msg.sender, delegate, lockId, amount);
    }

    /// @inheritdoc IStaking
    function rebondFromUnbonded(address to, uint256 lockId) external {
        address delegate = _delegators[msg.sender].delegate;
        if (delegate != address(0)) revert AlreadyBonded(msg.sender, delegate);
        _requireCanDelegateTo(msg.sender, to);
        uint256 amount = _consumeLock(msg.sender, lockId);
        _addStake(msg.sender, to, amount);
        emit Rebond(msg.sender, to, lockId, amount);
    }

    /// @inheritdoc IStaking
    function withdrawStake(uint256 lockId) external {
        UnbondingLock memory lock = _locks[msg.sender][lockId];
        if (lock.amount == 0) revert UnknownUnbondingLock(msg.sender, lockId);
        uint256 round = currentRound();
        if (round < lock.withdrawRound) revert UnbondingNotOver(lock.withdrawRound, round);
        delete _locks[msg.sender][lockId];
        emit WithdrawStake(msg.sender, lockId, lock.amount);
        IERC20(address(token)).safeTransfer(msg.sender, lock.amount);
    }

    /// @inheritdoc IStaking
    function claimEarnings() external {
        Delegator storage del = _delegators[msg.sender];
        if (del.delegate == address(0)) revert NotBonded(msg.sender);
        _claim(msg.sender, del);
    }

    /// @inheritdoc IStaking
    function withdrawFees(address to, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        Delegator storage del = _delegators[msg.sender];
        _claim(msg.sender, del);
        if (msg.sender != del.delegate) _foldFeesOf(msg.sender); // an orchestrator's own cut
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
        address delegate = _delegators[msg.sender].delegate;
        if (delegate != address(0) && delegate != msg.sender) revert OrchestratorMustSelfDelegate(msg.sender);
        _checkRates(rewardCut, feeShare);
        _initPool(orch);
        orch.registered = true;
        orch.rewardCut = orch.prevRewardCut = rewardCut;
        orch.feeShare = orch.prevFeeShare = feeShare;
        orch.ratesSince = 0; // registration is not a rate change: no cooldown follows it
        emit OrchestratorRegistered(msg.sender, rewardCut, feeShare);
        _updateMembership(msg.sender, orch, currentRound());
    }

    /// @inheritdoc IStaking
    function setRates(uint32 rewardCut, uint32 feeShare) external {
        Orchestrator storage orch = _orchestrators[msg.sender];
        if (!orch.registered) revert NotOrchestrator(msg.sender);
        _checkRates(rewardCut, feeShare);
        uint256 round = currentRound();
        if (_inLockWindow()) revert RatesLockedInWindow(round);
        // The previous change took effect at ratesSince; tickets created before it must have expired.
        uint256 nextAllowed = uint256(orch.ratesSince) + rateChangeCooldown;
        if (orch.ratesSince != 0 && round + 1 < nextAllowed) revert RateChangeCooldown(nextAllowed - 1);
        (orch.prevRewardCut, orch.prevFeeShare) = _ratesAt(orch, round);
        orch.rewardCut = rewardCut;
        orch.feeShare = feeShare;
        orch.ratesSince = uint56(round + 1);
        emit RatesChanged(msg.sender, rewardCut, feeShare, round + 1);
    }

    /// @inheritdoc IStaking
    function joinActiveSet(address evictee) external {
        Orchestrator storage orch = _orchestrators[msg.sender];
        if (orch.inActiveSet) revert AlreadyInActiveSet(msg.sender);
        if (!orch.registered || orch.stake == 0 || orch.stake < minActiveStake) {
            revert NotEligibleForActiveSet(msg.sender);
        }
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
        Orchestrator storage orch = _orchestrators[msg.sender];
        uint256 round = currentRound();
        if (!_isActive(orch, round)) revert NotActiveOrchestrator(msg.sender, round);
        if (orch.lastRewardRound == round) revert AlreadyRewarded(msg.sender, round);
        orch.lastRewardRound = uint56(round);
        _foldFees(msg.sender, orch);

        // Paid on the stake it held all round: the round-start stake, or less if some left since.
        uint256 stake = orch.stake;
        uint256 stakeAtStart = orch.stakeRound < round ? stake : orch.stakeAtRoundStart;
        if (stake < stakeAtStart) stakeAtStart = stake;
        (, uint256 totalAtStart) = _totalsAt(round);
        // A pool that fell below the active minimum (or to dust) during the round mints nothing: its
        // reward factor cannot be blown up by draining the pool before reward() and refilling it.
        uint256 floor = minActiveStake > DUST_STAKE ? minActiveStake : DUST_STAKE;
        uint256 minted = stake < floor ? 0 : minter.mintReward(stakeAtStart, totalAtStart);
        uint256 cut;
        if (minted > 0) {
            (uint256 rewardCut,) = _ratesAt(orch, round);
            cut = minted * rewardCut / PPM;
            Delegator storage self = _delegators[msg.sender];
            // The cut is the orchestrator's own stake; without a self-bond it stays with the pool.
            if (self.delegate != msg.sender) cut = 0;
            // minted ≤ stake (mintable ≤ supply share), so the factor at most doubles in a round.
            orch.cumulativeRewardFactor = (orch.cumulativeRewardFactor * (stake + minted - cut) / stake).toUint128();
            if (cut > 0) {
                _claim(msg.sender, self);
                self.principal = (self.principal + cut).toUint96();
            }
            _setStake(msg.sender, orch, stake + minted);
            _totals.totalBonded = (_totals.totalBonded + minted).toUint128();
        }
        emit Reward(msg.sender, round, minted, cut);
    }

    /* PAYMENTS AND SLASHING */

    /// @inheritdoc IStaking
    function creditFees(address orchestrator, uint256 amount, uint256 creationRound) external onlyTicketBroker {
        Orchestrator storage orch = _orchestrators[orchestrator];
        if (!orch.registered) revert NotOrchestrator(orchestrator);
        uint256 feeShare = creationRound >= orch.ratesSince ? orch.feeShare : orch.prevFeeShare;
        uint256 delegatorFees = amount * feeShare / PPM;
        uint256 orchestratorFees = amount - delegatorFees;
        orch.pendingPoolFees = (orch.pendingPoolFees + delegatorFees).toUint128();
        orch.pendingCutFees = (orch.pendingCutFees + orchestratorFees).toUint128();
        emit FeesCredited(orchestrator, delegatorFees, orchestratorFees, creationRound);
    }

    /// @inheritdoc IStaking
    function slash(address orchestrator, address finder, uint32 slashPpm, uint32 finderFeePpm)
        external
        onlyVerifier
    {
        if (slashPpm > PPM) revert RateAbovePpm(slashPpm);
        if (finderFeePpm > PPM) revert RateAbovePpm(finderFeePpm);
        Orchestrator storage orch = _orchestrators[orchestrator];
        if (!orch.registered) revert NotOrchestrator(orchestrator);
        Delegator storage self = _delegators[orchestrator];
        _claim(orchestrator, self);
        _foldFeesOf(orchestrator);

        uint256 penalty = self.delegate == orchestrator ? uint256(self.principal) * slashPpm / PPM : 0;
        uint256 finderFee = finder == address(0) ? 0 : penalty * finderFeePpm / PPM;
        orch.registered = false;
        if (penalty > 0) {
            self.principal -= uint96(penalty);
            _totals.totalBonded -= uint128(penalty);
        }
        _setStake(orchestrator, orch, orch.stake - penalty);
        // Unregistered now: out of the active set even when the penalty is zero.
        if (orch.inActiveSet) _leave(orchestrator, orch, currentRound());
        emit Slashed(orchestrator, finder, penalty, finderFee);
        if (finderFee > 0) IERC20(address(token)).safeTransfer(finder, finderFee);
        if (penalty > finderFee) token.burn(penalty - finderFee);
    }

    /// @inheritdoc IStaking
    function freeze(address account) external onlyVerifier {
        uint256 count = _freezes[account] + 1;
        _freezes[account] = count;
        emit Frozen(account, count);
    }

    /// @inheritdoc IStaking
    function unfreeze(address account) external onlyVerifier {
        uint256 count = _freezes[account];
        if (count == 0) revert NotFrozen(account);
        _freezes[account] = --count;
        emit Unfrozen(account, count);
    }

    /* ADMIN */

    /// @inheritdoc IStaking
    function wire(address minter_, address ticketBroker_) external onlyOwner {
        if (address(minter) != address(0)) revert AlreadyWired();
        if (minter_ == address(0) || ticketBroker_ == address(0)) revert ZeroAddress();
        minter = IMinter(minter_);
        ticketBroker = ticketBroker_;
        emit Wired(minter_, ticketBroker_);
    }

    /// @inheritdoc IStaking
    function setMinActiveStake(uint256 minActiveStake_) external onlyOwner {
        minActiveStake = minActiveStake_;
        emit MinActiveStakeSet(minActiveStake_);
    }

    /// @inheritdoc IStaking
    function setMaxActive(uint256 maxActive_) external onlyOwner {
        uint256 floor = _totals.count > MIN_MAX_ACTIVE ? _totals.count : MIN_MAX_ACTIVE;
        if (maxActive_ < floor) revert MaxActiveTooSmall(maxActive_, floor);
        maxActive = maxActive_;
        emit MaxActiveSet(maxActive_);
    }

    /// @inheritdoc IStaking
    function setVerifier(address verifier_) external onlyOwner {
        verifier = verifier_;
        emit VerifierSet(verifier_);
    }

    /* VIEWS */

    /// @inheritdoc IStaking
    function totalBonded() external view returns (uint256) {
        return _totals.totalBonded;
    }

    /// @inheritdoc IStaking
    function isRegistered(address account) external view returns (bool) {
        return _orchestrators[account].registered;
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
    function pendingStake(address account) external view returns (uint256) {
        Delegator storage del = _delegators[account];
        if (del.delegate == address(0)) return del.principal;
        return uint256(del.principal) * _orchestrators[del.delegate].cumulativeRewardFactor / del.rewardFactorAtClaim;
    }

    /// @inheritdoc IStaking
    function pendingFees(address account) external view returns (uint256 fees) {
        Delegator storage del = _delegators[account];
        Orchestrator storage own = _orchestrators[account];
        (, bool ownPooled) = _feeFactorAfterFold(own);
        fees = del.fees + own.pendingCutFees + (ownPooled ? 0 : own.pendingPoolFees);
        address delegate = del.delegate;
        if (delegate == address(0)) return fees;
        (uint256 cff,) = _feeFactorAfterFold(_orchestrators[delegate]);
        fees += uint256(del.principal) * (cff - del.feeFactorAtClaim) / del.rewardFactorAtClaim;
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
    function frozen(address account) external view returns (bool) {
        return _freezes[account] != 0;
    }

    /// @inheritdoc IStaking
    function delegateOf(address account) external view returns (address) {
        return _delegators[account].delegate;
    }

    /// @inheritdoc IStaking
    function unbondingLock(address account, uint256 lockId) external view returns (UnbondingLock memory) {
        return _locks[account][lockId];
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

    /* INTERNAL: EARNINGS */

    /// @dev Settles `owner`'s rewards and fees on its delegate's pool into principal and fees.
    function _claim(address owner, Delegator storage del) internal {
        address delegate = del.delegate;
        if (delegate == address(0)) return;
        Orchestrator storage orch = _orchestrators[delegate];
        _foldFees(delegate, orch);
        uint256 crf = orch.cumulativeRewardFactor;
        uint256 cff = orch.cumulativeFeeFactor;
        uint256 crfAtClaim = del.rewardFactorAtClaim;
        uint256 cffAtClaim = del.feeFactorAtClaim;
        if (crf == crfAtClaim && cff == cffAtClaim) return;
        uint256 principal = del.principal;
        // Rounding down keeps Σ delegator stake ≤ pool stake and Σ fees ≤ fees credited.
        uint256 newPrincipal = principal * crf / crfAtClaim;
        uint256 fees = principal * (cff - cffAtClaim) / crfAtClaim;
        del.principal = newPrincipal.toUint96();
        del.rewardFactorAtClaim = uint128(crf);
        del.feeFactorAtClaim = uint128(cff);
        if (fees > 0) del.fees = (del.fees + fees).toUint128();
        emit EarningsClaimed(owner, delegate, newPrincipal - principal, fees);
    }

    /// @dev Moves fees credited since the last fold into the pool's fee factor and the orchestrator's cut.
    function _foldFees(address orchestrator, Orchestrator storage orch) internal {
        uint256 poolFees = orch.pendingPoolFees;
        uint256 cutFees = orch.pendingCutFees;
        if (poolFees | cutFees == 0) return;
        (uint256 cff, bool pooled) = _feeFactorAfterFold(orch);
        orch.pendingPoolFees = 0;
        orch.pendingCutFees = 0;
        if (pooled) orch.cumulativeFeeFactor = uint128(cff);
        else cutFees += poolFees;
        Delegator storage self = _delegators[orchestrator];
        self.fees = (self.fees + cutFees).toUint128();
    }

    /// @dev The fee factor with pending pool fees folded in, and whether the pool takes them. An empty
    ///      pool (stake below DUST_STAKE) has nobody to share with, and a factor that would overflow
    ///      means the same: then the orchestrator keeps the fees.
    function _feeFactorAfterFold(Orchestrator storage orch) internal view returns (uint256 cff, bool pooled) {
        cff = orch.cumulativeFeeFactor;
        uint256 stake = orch.stake;
        if (stake < DUST_STAKE) return (cff, false);
        uint256 next = cff + uint256(orch.pendingPoolFees) * orch.cumulativeRewardFactor / stake;
        if (next > type(uint128).max) return (cff, false);
        return (next, true);
    }

    function _foldFeesOf(address orchestrator) internal {
        _foldFees(orchestrator, _orchestrators[orchestrator]);
    }

    function _initPool(Orchestrator storage orch) internal {
        if (orch.cumulativeRewardFactor == 0) orch.cumulativeRewardFactor = uint128(PRECISION);
    }

    /* INTERNAL: STAKE */

    function _bond(address payer, address owner, address to, uint256 amount) internal {
        Delegator storage del = _delegators[owner];
        address current = del.delegate;
        if (amount == 0 && current == to) revert NothingToBond();
        // Moving to a new delegate takes the whole principal along: not while a claim holds it.
        if (current != to && del.principal != 0 && _freezes[owner] != 0) revert StakeFrozen(owner);
        _requireCanDelegateTo(owner, to);
        if (current != to) _moveDelegation(owner, del, current, to);
        _addStake(owner, to, amount);
        emit Bond(owner, payer, to, amount);
        if (amount > 0) IERC20(address(token)).safeTransferFrom(payer, address(this), amount);
    }

    function _requireCanDelegateTo(address owner, address to) internal view {
        if (to == address(0)) revert ZeroAddress();
        if (to == owner) return;
        if (!_orchestrators[to].registered) revert NotOrchestrator(to);
        if (_orchestrators[owner].registered) revert OrchestratorMustSelfDelegate(owner);
    }

    /// @dev Moves `owner`'s whole principal from `from` (may be none) to `to`, settling earnings first.
    function _moveDelegation(address owner, Delegator storage del, address from, address to) internal {
        uint256 principal;
        if (from != address(0)) {
            _claim(owner, del);
            principal = del.principal;
            Orchestrator storage old = _orchestrators[from];
            _setStake(from, old, old.stake - principal);
            del.principal = 0;
            _totals.totalBonded -= uint128(principal);
        }
        Orchestrator storage orch = _orchestrators[to];
        _initPool(orch);
        _foldFees(to, orch);
        del.delegate = to;
        del.rewardFactorAtClaim = orch.cumulativeRewardFactor;
        del.feeFactorAtClaim = orch.cumulativeFeeFactor;
        // Opening a position is announced by Bond / Rebond, which name the delegate.
        if (from != address(0)) emit DelegateChanged(owner, from, to, principal);
        if (principal > 0) _addStake(owner, to, principal);
    }

    /// @dev Adds `amount` to `owner`'s principal with `delegate` (its current delegate).
    function _addStake(address owner, address delegate, uint256 amount) internal {
        Delegator storage del = _delegators[owner];
        if (del.delegate != delegate) {
            // rebondFromUnbonded: open the position at the pool's current factors.
            Orchestrator storage target = _orchestrators[delegate];
            _initPool(target);
            _foldFees(delegate, target);
            del.delegate = delegate;
            del.rewardFactorAtClaim = target.cumulativeRewardFactor;
            del.feeFactorAtClaim = target.cumulativeFeeFactor;
        } else {
            _claim(owner, del);
        }
        if (amount == 0) return;
        Orchestrator storage orch = _orchestrators[delegate];
        _foldFees(delegate, orch);
        del.principal = (del.principal + amount).toUint96();
        _setStake(delegate, orch, orch.stake + amount);
        _totals.totalBonded += uint128(amount); // amount ≤ uint96: principal is checked above
    }

    function _consumeLock(address owner, uint256 lockId) internal returns (uint256 amount) {
        amount = _locks[owner][lockId].amount;
        if (amount == 0) revert UnknownUnbondingLock(owner, lockId);
        delete _locks[owner][lockId];
    }

    /// @dev Sets a pool's stake, keeping round-start snapshots, active totals and membership in step.
    function _setStake(address orchestrator, Orchestrator storage orch, uint256 newStake) internal {
        uint256 round = currentRound();
        uint256 oldStake = orch.stake;
        if (orch.stakeRound < round) {
            orch.stakeAtRoundStart = uint104(oldStake);
            orch.stakeRound = uint40(round);
        }
        orch.stake = newStake.toUint104();
        if (orch.inActiveSet) {
            ActiveTotals storage totals = _touchTotals(round);
            totals.stake = (totals.stake + newStake - oldStake).toUint128();
        }
        _updateMembership(orchestrator, orch, round);
    }

    /* INTERNAL: ACTIVE SET */

    function _updateMembership(address orchestrator, Orchestrator storage orch, uint256 round) internal {
        bool eligible = orch.registered && orch.stake >= minActiveStake && orch.stake > 0;
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
}
