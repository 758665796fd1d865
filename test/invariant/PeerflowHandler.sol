// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {Vm} from "forge-std/Vm.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {WorkToken} from "../../contracts/WorkToken.sol";
import {Staking} from "../../contracts/Staking.sol";
import {Minter} from "../../contracts/Minter.sol";
import {TicketBroker} from "../../contracts/TicketBroker.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice Drives the staking + ticket-broker suite with bounded inputs over a fixed set of actors and
///         keeps ghost accounting for the invariants in PeerflowInvariants.t.sol.
/// @dev Actors: 3 orchestrators (self-bonded, registered), 4 delegators, 2 "twin" delegators with
///      identical bonds to orchestrator 0 (the eager one claims after every handler step, the lazy one
///      never acts), 3 broadcasters with hot-key signers, and 2 operator keys that the orchestrators
///      name (and rename, share and clear) as their redeemer or reward caller, and that also try to
///      act for orchestrators that did not name them, and 2 compute providers (issue 18): recipients
///      that never registered, paid directly; provider 1 may register as an orchestrator later
///      (`registerProvider`), from when on its tickets go to its pool. Calls into the suite are wrapped in
///      try/catch wherever a revert is an expected outcome, so that each step runs to the end and
///      the eager twin's claim and the event bookkeeping always happen.
contract PeerflowHandler is Test {
    uint256 internal constant PPM = 1_000_000;
    uint256 internal constant PRECISION = 1e27;
    uint256 internal constant MAX_REPLAYS = 48;

    WorkToken public immutable token;
    Staking public immutable staking;
    Minter public immutable minter;
    TicketBroker public immutable broker;
    address public immutable verifier;

    address[] public orchs;
    address[] public dels; // free delegators (not the twins)
    address public eager; // claims after every step
    address public lazy; // never claims
    address[] public stakers; // orchs + dels + twins: every account that can hold stake or earn fees
    address[] public bcasters;
    uint256[] internal bcasterKeys;
    address[] public hotSigners; // hotSigners[i] may be authorized by bcasters[i]
    uint256[] internal hotKeys;
    address[] public opKeys; // operator keys: redeemers and reward callers, shared among orchestrators
    address[] public providers; // never registered (provider 1 until registerProvider): paid directly

    /* GHOSTS */

    // staking
    mapping(address => uint256) public lockCount; // unbonding lock ids ever created per account
    mapping(address => uint256) public roundingEvents; // per pool: settlements + rewards (each may leave < 1 wei dust)
    uint256 public eagerSettlements; // settlements of the eager twin that changed its factors
    // reward / minting
    uint256 public mintRound = type(uint256).max;
    uint256 public mintedThisRound;
    uint256 public mintableThisRound;
    bool public overMinted;
    bool public rewardUnderpaidOwners; // owners got less than their share of a reward, beyond rounding
    bool public rewardToUnownedPool; // a reward minted to a pool that nobody owns any stake of
    uint256 public strandedReward; // first such case: minted amount no account owns
    address public strandedRewardOrchestrator;
    bool public rewardRevertedWhenEligible;
    bytes public rewardRevertData;
    address public rewardRevertOrchestrator;
    uint256 public rewardRevertRound;
    // tickets
    mapping(bytes32 => bool) public ticketPaid;
    /// @dev Next fresh nonce per (signer, recipient): the broker keeps a window of used nonces, not a counter.
    mapping(address => mapping(address => uint256)) internal freshNonce;
    bool public ticketPaidTwice;
    bytes32 public ticketPaidTwiceHash;
    uint256 public redeemedFaceTotal; // Σ face values of successful redemptions
    uint256 public fundsDecreaseByRedemption; // Σ drop of Σ(deposit + reserve) across redemption calls
    bool public redemptionIncreasedFunds;
    uint256 public ticketsRedeemed;
    uint256 public replaysAttempted;
    // direct payments (issue 18)
    mapping(address => bool) public providerRegistered; // registerProvider succeeded for it
    mapping(address => uint256) public directPaid; // Σ face values redeemed to it while never registered
    uint256 public directPaidTotal;
    uint256 public paidToRecipientTotal; // Σ PaidToRecipient amounts
    uint256 public directTransfersTotal; // Σ token transfers out of the broker to providers
    bool public directPaidToOrchestrator; // a PaidToRecipient named an account that is or was registered
    address public directPaidTo;
    bool public severalTransfersInOneCall; // more than one direct transfer in one step (one call)
    // the broker's books, from events: Σ FeesCredited (both shares) and Σ FeesPaid
    uint256 public feesCreditedTotal;
    uint256 public feesPaidTotal;

    struct Redeemed {
        address recipient;
        bytes32 hash;
        uint256 face;
        ITicketBroker.SignedTicket st;
    }

    Redeemed[] internal redeemed;

    // just-in-time stake: `jit` bonds or hops into a pool and is watched for the rest of that round
    address public jit;
    uint256 internal jitRound;
    uint256 internal jitStake;
    uint256 internal jitFees;
    bool internal jitWatching;
    bool internal jitHasLock;
    uint256 internal jitLock;
    bool public stakeEarnedInArrivalRound;
    // fee sharing, witnessed by the eager twin (always earning in orchestrator 0's pool)
    uint256 internal eagerFeesBefore;
    bool public feesNotSharedSilently;
    uint256 public feesWitnessed; // steps in which the witness check ran on credited fees
    // freezes: the slashable stake of a frozen orchestrator, last seen
    mapping(address => uint256) internal frozenSlashable;
    mapping(address => bool) public heldByHandler;
    bool public frozenSlashableDecreased;
    // operator keys
    address internal redeemRecipient; // the recipient of this step's redemptions: FeesCredited must name it
    bool public feesCreditedToNonRecipient;
    address public feesCreditedTo;
    bool public unauthorizedRedemption; // a redemption by a key that was neither the recipient nor its redeemer
    bool public unauthorizedReward; // a rewardFor by a key that was neither the orchestrator nor its caller
    uint256 public keyRedemptions; // redemptions that went through redeemWinningTicket(s)For
    // the round from which each key no longer signs results for each orchestrator once it stops
    // being its redeemer (set when the handler replaces or clears it)
    mapping(address orchestrator => mapping(address key => uint256 round)) public signsUntil;

    // signer grants (issue 19): the handler's model of each broadcaster's hot key, from the signer
    // actions it took, against which the broker's answers and every hot-key payment are checked
    address public grantRelayer; // relays every grant: gains nothing
    mapping(address funder => uint256) public ghostGrantNonce; // relays + cancellations + revocations
    mapping(address funder => bool) internal hotAuthorized;
    mapping(address funder => uint256) internal hotUntil; // tickets created from this round on are refused; 0: never
    mapping(address funder => HeldGrant) internal heldGrant; // the last grant signed: relayed, or held back
    bool public signerModelMismatch; // the broker's nonce, authorization or a signer call's outcome differed
    bool public staleGrantAccepted; // a grant signed with a nonce already used was relayed
    bool public unauthorizedSignerPaid; // a hot-key ticket paid outside the key's authorization
    uint256 public grantsRelayed;
    // a grant's bounds (recipient and cap, both zero after authorizeSigner) and what the hot key's
    // tickets paid since the grant was relayed, as the handler saw them paid
    mapping(address funder => address) public hotRecipient;
    mapping(address funder => uint256) public hotCap;
    mapping(address funder => uint256) public paidUnderGrant;
    mapping(address funder => uint256) public paidToOthersUnderGrant; // Σ paid by a bound key to anyone else
    bool public grantOverspent; // a bound key's tickets paid more than its cap since the grant
    uint256 public grantTicketsPaid; // hot-key tickets paid under a recipient-bound, capped grant
    uint256 public grantRecipientRefusals; // a bound key's tickets to another recipient, refused
    uint256 public grantCapRefusals; // a bound key's tickets beyond its cap, refused

    struct HeldGrant {
        address recipient;
        uint256 maxSpend;
        uint256 untilRound;
        uint256 nonce;
        uint256 deadline;
        bytes sig;
    }

    // coverage counters: handler calls and successful suite calls per action (for debugging a campaign)
    mapping(bytes32 => uint256) public calls;
    mapping(bytes32 => uint256) public succeeded;

    constructor(WorkToken token_, Staking staking_, Minter minter_, TicketBroker broker_, address verifier_) {
        (token, staking, minter, broker, verifier) = (token_, staking_, minter_, broker_, verifier_);
        for (uint256 i; i < 3; ++i) {
            orchs.push(makeAddr(string.concat("orch", vm.toString(i))));
            stakers.push(orchs[i]);
        }
        for (uint256 i; i < 4; ++i) {
            dels.push(makeAddr(string.concat("del", vm.toString(i))));
            stakers.push(dels[i]);
        }
        eager = makeAddr("twinEager");
        lazy = makeAddr("twinLazy");
        stakers.push(eager);
        stakers.push(lazy);
        jit = makeAddr("justInTime");
        stakers.push(jit);
        for (uint256 i; i < 3; ++i) {
            (address b, uint256 bk) = makeAddrAndKey(string.concat("bcast", vm.toString(i)));
            (address h, uint256 hk) = makeAddrAndKey(string.concat("hot", vm.toString(i)));
            bcasters.push(b);
            bcasterKeys.push(bk);
            hotSigners.push(h);
            hotKeys.push(hk);
        }
        opKeys.push(makeAddr("opKey0"));
        opKeys.push(makeAddr("opKey1"));
        providers.push(makeAddr("provider0"));
        providers.push(makeAddr("provider1"));
        grantRelayer = makeAddr("grantRelayer");
    }

    /// @dev Called once by the test after it has given every actor tokens.
    function bootstrap(uint256 orchStake, uint256 twinStake, uint256 deposit, uint256 reserve) external {
        for (uint256 i; i < stakers.length; ++i) {
            _approveAll(stakers[i]);
        }
        for (uint256 i; i < bcasters.length; ++i) {
            _approveAll(bcasters[i]);
        }
        for (uint256 i; i < orchs.length; ++i) {
            vm.startPrank(orchs[i]);
            staking.bond(orchStake, orchs[i]);
            staking.registerOrchestrator(uint32(100_000 * (i + 1)), uint32(250_000 * (i + 1)));
            vm.stopPrank();
        }
        vm.prank(eager);
        staking.bond(twinStake, orchs[0]);
        vm.prank(lazy);
        staking.bond(twinStake, orchs[0]);
        for (uint256 i; i < bcasters.length; ++i) {
            vm.prank(bcasters[i]);
            broker.fundDepositAndReserve(deposit, reserve);
        }
    }

    function _approveAll(address a) internal {
        vm.startPrank(a);
        token.approve(address(staking), type(uint256).max);
        token.approve(address(broker), type(uint256).max);
        vm.stopPrank();
    }

    /* STEP WRAPPER */

    /// @dev Records the step's logs (for rounding bookkeeping) and lets the eager twin claim afterwards.
    bytes32 internal _current;

    function _ok() internal {
        succeeded[_current]++;
    }

    modifier step(bytes32 name) {
        calls[name]++;
        _current = name;
        eagerFeesBefore = staking.pendingFees(eager);
        redeemRecipient = address(0);
        vm.recordLogs();
        _;
        vm.prank(eager);
        staking.claimEarnings(); // the eager twin is always bonded
        _scanLogs();
        _checkJit();
        _checkFrozen();
    }

    /// @dev Stake that arrived this round (jit's) neither grows nor earns fees until the round ends.
    function _checkJit() internal {
        if (!jitWatching) return;
        if (staking.currentRound() != jitRound) {
            jitWatching = false;
            return;
        }
        uint256 stake = _stakeOf(jit);
        uint256 fees = _feesOf(jit);
        if (stake > jitStake || fees > jitFees) stakeEarnedInArrivalRound = true;
        // Other steps may take it out (drainPool unbonds every member): watch what is left.
        (jitStake, jitFees) = (stake, fees);
    }

    /// @dev While the handler holds a freeze on an orchestrator, its slashable stake never decreases.
    function _checkFrozen() internal {
        for (uint256 i; i < orchs.length; ++i) {
            address o = orchs[i];
            if (!heldByHandler[o]) continue;
            uint256 now_ = staking.slashableStake(o);
            if (now_ < frozenSlashable[o]) frozenSlashableDecreased = true;
            frozenSlashable[o] = now_;
        }
    }

    function _scanLogs() internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 poolFees0; // delegators' share credited to orchestrator 0 in this step
        bool notShared0;
        uint256 directTransfers;
        for (uint256 i; i < logs.length; ++i) {
            _scanBrokerLog(logs[i]);
            if (
                logs[i].emitter == address(token) && logs[i].topics.length == 3
                    && logs[i].topics[0] == IERC20.Transfer.selector
                    && address(uint160(uint256(logs[i].topics[1]))) == address(broker)
                    && _isProvider(address(uint160(uint256(logs[i].topics[2]))))
            ) {
                ++directTransfers;
                directTransfersTotal += abi.decode(logs[i].data, (uint256));
            }
            if (logs[i].emitter != address(staking) || logs[i].topics.length < 2) continue;
            bytes32 sig = logs[i].topics[0];
            address subject = address(uint160(uint256(logs[i].topics[1])));
            // Fees are credited only by a redemption, and only to the tickets' recipient, whoever called.
            if (sig == IStaking.FeesCredited.selector && subject != redeemRecipient && !feesCreditedToNonRecipient) {
                feesCreditedToNonRecipient = true;
                feesCreditedTo = subject;
            }
            if (sig == IStaking.FeesCredited.selector) {
                (uint256 poolShare, uint256 cut,) = abi.decode(logs[i].data, (uint256, uint256, uint256));
                feesCreditedTotal += poolShare + cut;
            }
            if (sig == IStaking.FeesCredited.selector && subject == orchs[0]) {
                (uint256 delegatorFees,,) = abi.decode(logs[i].data, (uint256, uint256, uint256));
                poolFees0 += delegatorFees;
            } else if (sig == IStaking.FeesNotShared.selector && subject == orchs[0]) {
                notShared0 = true;
            }
            if (sig == IStaking.EarningsClaimed.selector) {
                address owner = address(uint160(uint256(logs[i].topics[1])));
                address delegate = address(uint160(uint256(logs[i].topics[2])));
                roundingEvents[delegate]++;
                if (owner == eager) eagerSettlements++;
            } else if (sig == IStaking.Reward.selector) {
                roundingEvents[address(uint160(uint256(logs[i].topics[1])))]++;
            }
        }
        _witnessFees(poolFees0, notShared0);
        if (directTransfers > 1) severalTransfersInOneCall = true;
    }

    /// @dev PaidToRecipient must name a provider that never registered (the handler's own record, not
    ///      Staking's); FeesPaid is what leaves the broker for fee withdrawals.
    function _scanBrokerLog(Vm.Log memory log) internal {
        if (log.emitter != address(broker) || log.topics.length < 2) return;
        if (log.topics[0] == ITicketBroker.PaidToRecipient.selector) {
            address to = address(uint160(uint256(log.topics[1])));
            (uint256 amount,) = abi.decode(log.data, (uint256, uint256));
            paidToRecipientTotal += amount;
            if ((!_isProvider(to) || providerRegistered[to]) && !directPaidToOrchestrator) {
                directPaidToOrchestrator = true;
                directPaidTo = to;
            }
        } else if (log.topics[0] == ITicketBroker.FeesPaid.selector) {
            feesPaidTotal += abi.decode(log.data, (uint256));
        }
    }

    /// @dev The eager twin's stake always earns in orchestrator 0's pool, and its claim after the step
    ///      folds what the step credited: it must gain its pro-rata part of the delegators' share, or a
    ///      FeesNotShared event must say why not.
    function _witnessFees(uint256 poolFees, bool notShared) internal {
        if (poolFees == 0 || notShared) return;
        uint256 earning = staking.earningStake(orchs[0]);
        if (earning == 0) return;
        uint256 expected = poolFees * staking.pendingStake(eager) / earning;
        uint256 gained = staking.pendingFees(eager) - eagerFeesBefore;
        if (gained + 2 < expected || gained > expected + 2) feesNotSharedSilently = true;
        feesWitnessed++;
    }

    /* STAKING ACTIONS */

    function bond(uint256 actorSeed, uint256 amount, uint256 targetSeed) external step("bond") {
        address a = _bonder(actorSeed);
        amount = _b(amount, 0, 5_000 ether);
        address to = _isOrch(a) ? a : _delegateTarget(a, targetSeed);
        vm.prank(a);
        try staking.bond(amount, to) {
            _ok();
        } catch {}
    }

    function bondFor(uint256 payerSeed, uint256 ownerSeed, uint256 amount) external step("bondFor") {
        address payer = payerSeed % 4 == 0 ? bcasters[payerSeed % 3] : _bonder(payerSeed >> 8);
        address owner = _bonder(ownerSeed);
        address to = staking.delegateOf(owner);
        if (to == address(0)) to = _isOrch(owner) ? owner : orchs[ownerSeed % 3];
        amount = _b(amount, 1, 2_000 ether);
        vm.prank(payer);
        try staking.bondFor(owner, amount, to) {
            _ok();
        } catch {}
    }

    function unbond(uint256 actorSeed, uint256 amountSeed) external step("unbond") {
        address a = _bonder(actorSeed);
        uint256 stake = _stakeOf(a);
        if (stake == 0) return;
        // a third of the time the whole stake (full unbond), otherwise a part
        uint256 amount = amountSeed % 3 == 0 ? stake : _b(amountSeed >> 2, 1, stake);
        vm.prank(a);
        try staking.unbond(amount) returns (uint256 lockId) {
            if (lockId + 1 > lockCount[a]) lockCount[a] = lockId + 1;
            _ok();
        } catch {}
    }

    /// @notice Every actor bonded to orchestrator 1 or 2 (the orchestrator included) unbonds all of its
    ///         stake: the pool is left with its rounding dust only. Half the time the orchestrator then
    ///         bonds a few wei back (a pool that shrank to almost nothing during the round).
    function drainPool(uint256 orchSeed) external step("drainPool") {
        address o = orchs[1 + orchSeed % 2];
        for (uint256 i; i < stakers.length; ++i) {
            address a = stakers[i];
            if (staking.delegateOf(a) != o) continue;
            uint256 stake = _stakeOf(a);
            if (stake == 0) continue;
            vm.prank(a);
            try staking.unbond(stake) returns (uint256 lockId) {
                if (lockId + 1 > lockCount[a]) lockCount[a] = lockId + 1;
                _ok();
            } catch {}
        }
        if ((orchSeed >> 1) % 2 == 0) {
            vm.prank(o);
            try staking.bond(1 + (orchSeed >> 2) % 3, o) {} catch {}
        }
    }

    function rebond(uint256 actorSeed, uint256 lockSeed) external step("rebond") {
        (address a, uint256 lockId) = _pickLock(actorSeed, lockSeed, LOCK_BONDED);
        if (a == address(0)) return;
        vm.prank(a);
        try staking.rebond(lockId) {
            _ok();
        } catch {}
    }

    function rebondFromUnbonded(uint256 actorSeed, uint256 lockSeed, uint256 targetSeed)
        external
        step("rebondFromUnbonded")
    {
        (address a, uint256 lockId) = _pickLock(actorSeed, lockSeed, LOCK_UNBONDED);
        if (a == address(0)) return;
        address to = _isOrch(a) ? a : _delegateTarget(a, targetSeed);
        vm.prank(a);
        try staking.rebondFromUnbonded(to, lockId) {
            _ok();
        } catch {}
    }

    function withdrawStake(uint256 actorSeed, uint256 lockSeed) external step("withdrawStake") {
        (address a, uint256 lockId) = _pickLock(actorSeed, lockSeed, LOCK_MATURE);
        if (a == address(0)) return;
        vm.prank(a);
        try staking.withdrawStake(lockId) {
            _ok();
        } catch {}
    }

    function claimEarnings(uint256 actorSeed) external step("claimEarnings") {
        address a = _bonder(actorSeed);
        vm.prank(a);
        try staking.claimEarnings() {
            _ok();
        } catch {}
    }

    function withdrawFees(uint256 actorSeed, uint256 amountSeed) external step("withdrawFees") {
        address a = _bonder(actorSeed);
        // prefer an actor with fees to withdraw
        for (uint256 k; k < 7 && _feesOf(a) == 0; ++k) {
            a = _bonder(actorSeed % 7 + k + 1);
        }
        uint256 fees = _feesOf(a);
        if (fees == 0) return;
        uint256 amount = amountSeed % 2 == 0 ? fees : _b(amountSeed >> 1, 1, fees);
        vm.prank(a);
        try staking.withdrawFees(a, amount) {
            _ok();
        } catch {}
    }

    function setRates(uint256 orchSeed, uint256 rewardCut, uint256 feeShare) external step("setRates") {
        address o = orchs[orchSeed % 3];
        vm.prank(o);
        try staking.setRates(uint32(_b(rewardCut, 0, PPM)), uint32(_b(feeShare, 0, PPM))) {
            _ok();
        } catch {}
    }

    function reward(uint256 orchSeed) external step("reward") {
        address o = orchs[orchSeed % 3];
        _reward(o, o);
    }

    /// @dev All three orchestrators call reward in turn (the common case in a real round).
    function rewardAll() external step("rewardAll") {
        for (uint256 i; i < orchs.length; ++i) {
            _reward(orchs[i], orchs[i]);
        }
    }

    /// @notice rewardFor(o) by an operator key: o's reward caller most of the time, else any key.
    function rewardByKey(uint256 orchSeed, uint256 keySeed) external step("rewardByKey") {
        address o = orchs[orchSeed % 3];
        address named = staking.rewardCallerOf(o);
        _reward(o, keySeed % 4 != 0 && named != address(0) ? named : opKeys[(keySeed >> 2) % opKeys.length]);
    }

    /// @dev `by` rewards `o`: reward() when it is o, rewardFor(o) otherwise.
    function _reward(address o, address by) internal {
        IStaking.OrchestratorInfo memory info = staking.orchestratorInfo(o);
        uint256 round = staking.currentRound();
        bool authorized = by == o || staking.rewardCallerOf(o) == by;
        bool eligible = authorized && info.registered && !staking.frozen(o) && info.activeThisRound
            && info.lastRewardRound != round;
        RewardSnapshot memory before;
        before.round = round;
        before.bonded = staking.totalBonded();
        (before.owned, before.members) = _ownedStake(o);
        // Only stake that did not arrive this round shares the reward (it is what mints it).
        before.earning = staking.earningStake(o);
        before.arrived = info.stake - before.earning;
        (bool ok, bytes memory err) = _callReward(o, by);
        if (ok) {
            if (!authorized) unauthorizedReward = true;
            _ok();
            _rewardPaid(o, before);
        } else if (eligible && !rewardRevertedWhenEligible) {
            rewardRevertedWhenEligible = true;
            rewardRevertData = err;
            rewardRevertOrchestrator = o;
            rewardRevertRound = round;
        }
    }

    struct RewardSnapshot {
        uint256 round;
        uint256 bonded; // totalBonded
        uint256 owned; // Σ pendingStake of the pool's members
        uint256 members;
        uint256 earning; // the pool's earning stake
        uint256 arrived; // the pool's stake that arrived this round
    }

    /// @dev After a successful reward of `o`: the owners got their share, the round's mint is within
    ///      its mintable.
    function _rewardPaid(address o, RewardSnapshot memory before) internal {
        uint256 minted = staking.totalBonded() - before.bonded;
        (uint256 ownedAfter,) = _ownedStake(o);
        uint256 ownedEarning = before.owned > before.arrived ? before.owned - before.arrived : 0;
        uint256 ownedArrived = before.owned - ownedEarning; // unchanged by the reward
        uint256 earningAfter = ownedAfter > ownedArrived ? ownedAfter - ownedArrived : 0;
        _checkRewardPaid(o, minted, before.earning, ownedEarning, earningAfter, before.members);
        if (before.round != mintRound) {
            mintRound = before.round;
            mintedThisRound = 0;
        }
        mintedThisRound += minted;
        mintableThisRound = minter.currentMintable();
        if (mintedThisRound > mintableThisRound) overMinted = true;
    }

    /// @dev `by` calls reward() when it is `o`, rewardFor(o) otherwise.
    function _callReward(address o, address by) internal returns (bool ok, bytes memory err) {
        vm.prank(by);
        (ok, err) = address(staking).call(
            by == o ? abi.encodeCall(IStaking.reward, ()) : abi.encodeCall(IStaking.rewardFor, (o))
        );
    }

    /// @dev pendingStake / pendingFees, or 0 when the view reverts (PeerflowInvariants checks that it
    ///      never does: a position whose view reverts can no longer be settled either).
    function _stakeOf(address a) internal view returns (uint256) {
        try staking.pendingStake(a) returns (uint256 stake) {
            return stake;
        } catch {
            return 0;
        }
    }

    function _feesOf(address a) internal view returns (uint256) {
        try staking.pendingFees(a) returns (uint256 fees) {
            return fees;
        } catch {
            return 0;
        }
    }

    /// @dev Σ pendingStake of the accounts delegated to pool `o`, and their number.
    function _ownedStake(address o) internal view returns (uint256 owned, uint256 members) {
        for (uint256 i; i < stakers.length; ++i) {
            if (staking.delegateOf(stakers[i]) == o) {
                owned += _stakeOf(stakers[i]);
                members++;
            }
        }
    }

    /// @dev A reward must reach the pool's owners: they gain at least their proportional share of the
    ///      minted amount (the share of the pool's rounding dust goes to nobody), up to a wei of rounding
    ///      each. A pool that nobody owns any stake of (only dust left) must not mint at all, as
    ///      Staking.reward() intends ("an orchestrator whose whole pool unbonded this round mints nothing").
    function _checkRewardPaid(
        address o,
        uint256 minted,
        uint256 stakeBefore,
        uint256 ownedBefore,
        uint256 ownedAfter,
        uint256 members
    ) internal {
        if (minted == 0) return;
        uint256 gained = ownedAfter > ownedBefore ? ownedAfter - ownedBefore : 0;
        uint256 share = stakeBefore == 0 ? 0 : minted * ownedBefore / stakeBefore;
        if (gained + members + 2 < share) rewardUnderpaidOwners = true;
        if (ownedBefore == 0 && gained + members + 2 < minted && !rewardToUnownedPool) {
            rewardToUnownedPool = true;
            strandedReward = minted - gained;
            strandedRewardOrchestrator = o;
        }
    }

    function slash(uint256 orchSeed, uint256 finderSeed, uint256 slashPpm, uint256 finderPpm) external step("slash") {
        if (orchSeed % 4 != 0) return; // rare: a slash takes an orchestrator out until it re-registers
        address o = orchs[(orchSeed >> 2) % 3];
        if (heldByHandler[o]) return; // an open claim is resolved by resolveClaim
        address finder = finderSeed % 3 == 0 ? address(0) : stakers[finderSeed % stakers.length];
        vm.prank(verifier);
        try staking.slash(o, finder, uint32(_b(slashPpm, 0, PPM)), uint32(_b(finderPpm, 0, PPM))) {
            _ok();
        } catch {}
    }

    /// @dev A slashed orchestrator (still self-delegated) registers again.
    function reregister(uint256 orchSeed, uint256 rewardCut, uint256 feeShare) external step("reregister") {
        address o = orchs[orchSeed % 3];
        if (staking.isRegistered(o)) return;
        vm.prank(o);
        try staking.registerOrchestrator(uint32(_b(rewardCut, 0, PPM)), uint32(_b(feeShare, 0, PPM))) {
            _ok();
        } catch {}
    }

    /// @notice Provider 1 registers as an orchestrator (no stake): its later tickets go to its pool.
    function registerProvider(uint256 rewardCut, uint256 feeShare) external step("registerProvider") {
        address p = providers[1];
        if (providerRegistered[p]) return;
        vm.prank(p);
        try staking.registerOrchestrator(uint32(_b(rewardCut, 0, PPM)), uint32(_b(feeShare, 0, PPM))) {
            providerRegistered[p] = true;
            _ok();
        } catch {}
    }

    /// @notice A claim is filed against an orchestrator: the verifier freezes it.
    function fileClaim(uint256 orchSeed) external step("fileClaim") {
        address o = orchs[orchSeed % 3];
        if (heldByHandler[o]) return;
        vm.prank(verifier);
        staking.freeze(o);
        heldByHandler[o] = true;
        frozenSlashable[o] = staking.slashableStake(o);
        _ok();
    }

    /// @notice The open claim is resolved: upheld (slash, then unfreeze) or rejected (unfreeze).
    function resolveClaim(uint256 orchSeed, bool uphold, uint256 slashPpm) external step("resolveClaim") {
        address o = orchs[orchSeed % 3];
        if (!heldByHandler[o]) return;
        heldByHandler[o] = false;
        vm.startPrank(verifier);
        if (uphold && staking.isRegistered(o)) staking.slash(o, address(0), uint32(_b(slashPpm, 0, PPM)), 0);
        staking.unfreeze(o);
        vm.stopPrank();
        _ok();
    }

    /// @notice `jit` bonds (or brings its last lock back) to a pool, and is watched for the rest of
    ///         the round: its stake and fees must not move.
    function jitBond(uint256 orchSeed, uint256 amount) external step("jitBond") {
        address to = orchs[orchSeed % 3];
        if (!staking.isRegistered(to)) return;
        if (staking.delegateOf(jit) != address(0)) {
            uint256 stake = _stakeOf(jit);
            vm.prank(jit);
            try staking.unbond(stake) returns (uint256 lockId) {
                if (lockId + 1 > lockCount[jit]) lockCount[jit] = lockId + 1;
                (jitLock, jitHasLock) = (lockId, true);
            } catch {
                return;
            }
        }
        vm.prank(jit);
        if (jitHasLock) {
            try staking.rebondFromUnbonded(to, jitLock) {
                jitHasLock = false;
            } catch {
                return;
            }
        } else {
            try staking.bond(_b(amount, 1, 500 ether), to) {}
            catch {
                return;
            }
        }
        _ok();
        (jitRound, jitStake, jitFees, jitWatching) = (staking.currentRound(), _stakeOf(jit), _feesOf(jit), true);
    }

    /* TIME */

    function advanceBlocks(uint256 n) external step("advanceBlocks") {
        vm.roll(block.number + _b(n, 1, 100));
    }

    function advanceRound(uint256 offset) external step("advanceRound") {
        uint256 len = staking.roundLength();
        uint256 next = staking.startBlock() + (staking.currentRound() + 1) * len;
        // one to three rounds ahead, landing anywhere in the round (lock window included)
        vm.roll(next + (offset % 3) * len + _b(offset >> 2, 0, len - 1));
    }

    /* BROKER ACTIONS */

    function fund(uint256 bSeed, uint256 deposit, uint256 reserve, bool forOther) external step("fund") {
        address b = bcasters[bSeed % 3];
        deposit = _b(deposit, 0, 50 ether);
        reserve = _b(reserve, 0, 50 ether);
        if (deposit + reserve == 0) deposit = 1 ether;
        if (forOther) {
            // another broadcaster pays into b's funds
            vm.prank(bcasters[(bSeed % 3 + 1) % 3]);
            try broker.fundDepositAndReserveFor(b, deposit, reserve) {
                _ok();
            } catch {}
        } else {
            vm.prank(b);
            try broker.fundDepositAndReserve(deposit, reserve) {
                _ok();
            } catch {}
        }
    }

    function unlock(uint256 bSeed) external step("unlock") {
        vm.prank(bcasters[bSeed % 3]);
        try broker.unlock() {
            _ok();
        } catch {}
    }

    function cancelUnlock(uint256 bSeed) external step("cancelUnlock") {
        vm.prank(bcasters[bSeed % 3]);
        try broker.cancelUnlock() {
            _ok();
        } catch {}
    }

    function withdraw(uint256 bSeed) external step("withdraw") {
        vm.prank(bcasters[bSeed % 3]);
        try broker.withdraw() {
            _ok();
        } catch {}
    }

    function authorizeSigner(uint256 bSeed) external step("authorizeSigner") {
        uint256 i = bSeed % 3;
        vm.prank(bcasters[i]);
        try broker.authorizeSigner(hotSigners[i]) {
            _ok();
            (hotAuthorized[bcasters[i]], hotUntil[bcasters[i]]) = (true, 0);
            // the funder's own transaction: no recipient, no cap
            (hotRecipient[bcasters[i]], hotCap[bcasters[i]], paidUnderGrant[bcasters[i]]) = (address(0), 0, 0);
        } catch {
            signerModelMismatch = true; // never refused: hot keys are neither zero nor their funder
        }
        _checkSignerModel(i);
    }

    function revokeSigner(uint256 bSeed) external step("revokeSigner") {
        uint256 i = bSeed % 3;
        address b = bcasters[i];
        uint256 from = broker.currentRound() + 1;
        bool expected = hotAuthorized[b] && (hotUntil[b] == 0 || hotUntil[b] > from);
        vm.prank(b);
        try broker.revokeSigner(hotSigners[i]) {
            _ok();
            hotUntil[b] = from;
            ghostGrantNonce[b]++;
            if (!expected) signerModelMismatch = true;
        } catch {
            if (expected) signerModelMismatch = true;
        }
        _checkSignerModel(i);
    }

    /// @notice Broadcaster i's wallet signs a grant for its hot key (untilRound from the current round
    ///         to 5 rounds ahead: the current one is refused), bound to one orchestrator or provider
    ///         and capped at 0.25 to 4 ether or at 1 to 64 wei (caps are reached; rarely a zero cap or
    ///         recipient, refused), with its current nonce; the grant is relayed at once, or held back
    ///         for `relayHeldGrant` (after which other signer actions may have killed it).
    function grantSigner(uint256 bSeed, uint256 untilSeed, bool hold) external step("grantSigner") {
        uint256 i = bSeed % 3;
        address b = bcasters[i];
        HeldGrant storage g = heldGrant[b];
        uint256 h = uint256(keccak256(abi.encode("grant", untilSeed)));
        uint256 who = h % 5;
        g.recipient = who < 3 ? orchs[who] : providers[who - 3];
        // (a third of the caps a few wei: the fuzzer's small seeds make tiny face values)
        g.maxSpend = (h >> 24) % 3 == 0 ? 1 + (h >> 8) % 64 : 0.25 ether * (1 + (h >> 8) % 16);
        if ((h >> 16) % 32 == 0) g.recipient = address(0);
        if ((h >> 16) % 32 == 1) g.maxSpend = 0;
        g.untilRound = broker.currentRound() + untilSeed % 6;
        g.nonce = ghostGrantNonce[b];
        g.deadline = block.timestamp + 1 + (untilSeed >> 8) % 3 hours;
        bytes32 structHash = keccak256(
            abi.encode(
                broker.SIGNER_GRANT_TYPEHASH(),
                b,
                hotSigners[i],
                g.recipient,
                g.maxSpend,
                g.untilRound,
                g.nonce,
                g.deadline
            )
        );
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("peerflow TicketBroker"),
                keccak256("1"),
                block.chainid,
                address(broker)
            )
        );
        (uint8 v, bytes32 r, bytes32 sig) =
            vm.sign(bcasterKeys[i], keccak256(abi.encodePacked("\x19\x01", domain, structHash)));
        g.sig = abi.encodePacked(r, sig, v);
        if (!hold) _relayGrant(i);
    }

    /// @notice Relays broadcaster i's last signed grant, fresh, held back or already used (a replay).
    function relayHeldGrant(uint256 bSeed, uint256 waitSeconds) external step("relayHeldGrant") {
        uint256 i = bSeed % 3;
        if (heldGrant[bcasters[i]].sig.length == 0) return;
        if (waitSeconds % 4 == 0) vm.warp(block.timestamp + waitSeconds % 3 hours);
        _relayGrant(i);
    }

    function _relayGrant(uint256 i) internal {
        address b = bcasters[i];
        HeldGrant memory g = heldGrant[b];
        bool fresh = g.nonce == ghostGrantNonce[b];
        bool expected = fresh && g.untilRound > broker.currentRound() && block.timestamp <= g.deadline
            && g.recipient != address(0) && g.maxSpend != 0;
        uint256 relayerBalance = token.balanceOf(grantRelayer);
        vm.prank(grantRelayer);
        try broker.authorizeSignerWithSig(b, hotSigners[i], g.recipient, g.maxSpend, g.untilRound, g.deadline, g.sig) {
            _ok();
            grantsRelayed++;
            if (!fresh) staleGrantAccepted = true;
            if (!expected) signerModelMismatch = true;
            (hotAuthorized[b], hotUntil[b]) = (true, g.untilRound);
            // exactly what it says, spent from zero again
            (hotRecipient[b], hotCap[b], paidUnderGrant[b]) = (g.recipient, g.maxSpend, 0);
            ghostGrantNonce[b]++;
        } catch {
            if (expected) signerModelMismatch = true;
        }
        if (token.balanceOf(grantRelayer) != relayerBalance) signerModelMismatch = true;
        _checkSignerModel(i);
    }

    function cancelSignerGrants(uint256 bSeed) external step("cancelSignerGrants") {
        uint256 i = bSeed % 3;
        vm.prank(bcasters[i]);
        broker.cancelSignerGrants();
        _ok();
        ghostGrantNonce[bcasters[i]]++;
        _checkSignerModel(i);
    }

    /// @dev Whether broadcaster i's hot key may sign a ticket created in `round`, in the handler's model.
    function _hotMaySign(address b, uint256 round) internal view returns (bool) {
        return hotAuthorized[b] && (hotUntil[b] == 0 || round < hotUntil[b]);
    }

    /// @dev The broker's grant nonce, the hot key's bounds (`signerGrant`) and its answers for the hot
    ///      key around now and around the bound agree with the model.
    function _checkSignerModel(uint256 i) internal {
        address b = bcasters[i];
        if (broker.signerGrantNonce(b) != ghostGrantNonce[b]) signerModelMismatch = true;
        _checkGrantBounds(i);
        uint256 round = broker.currentRound();
        uint256 until = hotUntil[b];
        uint256[6] memory probes =
            [round == 0 ? 0 : round - 1, round, round + 1, round + 2, until == 0 ? 0 : until - 1, until];
        for (uint256 k; k < probes.length; ++k) {
            if (broker.isAuthorizedSigner(b, hotSigners[i], probes[k]) != _hotMaySign(b, probes[k])) {
                signerModelMismatch = true;
            }
        }
    }

    /// @dev `signerGrant` of broadcaster i's hot key matches the model: recipient, cap, what it paid
    ///      under the grant, its end and whether it may sign this round's tickets.
    function _checkGrantBounds(uint256 i) internal {
        address b = bcasters[i];
        (address recipient, uint256 maxSpend, uint256 spent, uint256 untilRound, bool authorized) =
            broker.signerGrant(b, hotSigners[i]);
        if (
            recipient != hotRecipient[b] || maxSpend != hotCap[b] || spent != paidUnderGrant[b]
                || untilRound != hotUntil[b] || authorized != _hotMaySign(b, broker.currentRound())
        ) signerModelMismatch = true;
    }

    /* TICKETS */

    struct TicketParams {
        uint256 bIndex;
        address recipient;
        bool hot;
        uint256 face;
        uint256 winProb;
        uint256 nonce;
        uint256 creationRound;
        bytes32 rand;
    }

    /// @notice Redeems one freshly signed ticket, as its recipient.
    function redeemTicket(uint256 bSeed, uint256 oSeed, uint256 faceSeed, uint256 flags) external step("redeemTicket") {
        _redeemTicket(bSeed, oSeed, faceSeed, flags, false, 0);
    }

    /// @notice Redeems one freshly signed ticket through redeemWinningTicketFor, by the recipient's
    ///         redeemer, the recipient itself, or an operator key it may not have named.
    function redeemTicketByKey(uint256 bSeed, uint256 oSeed, uint256 faceSeed, uint256 flags, uint256 keySeed)
        external
        step("redeemTicketByKey")
    {
        _redeemTicket(bSeed, oSeed, faceSeed, flags, true, keySeed);
    }

    function _redeemTicket(uint256 bSeed, uint256 oSeed, uint256 faceSeed, uint256 flags, bool byKey, uint256 keySeed)
        internal
    {
        TicketParams memory p = _ticketParams(bSeed, oSeed, faceSeed, flags);
        p.nonce = freshNonce[_signerOf(p)][p.recipient] + (flags % 7 == 0 ? (flags >> 32) % 4 : 0);
        // Sometimes far ahead (up to 24 replay words of 192 nonces): the broker's 16-word window moves
        // on and evicts older words, so replays of older paid tickets meet TicketNonceTooOld.
        if (flags % 11 == 0) p.nonce += 192 * (1 + (flags >> 40) % 24);
        freshNonce[_signerOf(p)][p.recipient] = p.nonce + 1;
        (ITicketBroker.SignedTicket memory st, bytes32 h) = _sign(p);
        address caller = byKey ? _keyFor(p.recipient, keySeed) : p.recipient;
        bool authorized = caller == p.recipient || staking.redeemerOf(p.recipient) == caller;
        redeemRecipient = p.recipient;
        uint256 before = _senderFunds();
        vm.prank(caller);
        (bool ok, bytes memory ret) = address(broker).call(
            byKey
                ? abi.encodeCall(ITicketBroker.redeemWinningTicketFor, (p.recipient, st))
                : abi.encodeCall(ITicketBroker.redeemWinningTicket, (st))
        );
        if (ok) {
            if (!authorized) unauthorizedRedemption = true;
            if (byKey) keyRedemptions++;
            _recordRedeemed(p.recipient, h, p.face, st);
        } else if (ret.length == 4 && bytes4(ret) == ITicketBroker.TicketUnauthorizedSigner.selector) {
            _checkSignerRefusal(p.recipient, p.face, st);
        }
        _accountFunds(before);
    }

    /// @notice Redeems a batch of 1-4 fresh tickets (one sender, one recipient, nonce order per signer),
    ///         sometimes with a copy of one of them or an already redeemed ticket slipped in, as the
    ///         recipient.
    function redeemBatch(uint256 bSeed, uint256 oSeed, uint256 faceSeed, uint256 flags) external step("redeemBatch") {
        (ITicketBroker.SignedTicket[] memory sts, bytes32[] memory hashes, uint256[] memory faces, address recipient)
        = _buildBatch(bSeed, oSeed, faceSeed, flags);
        _submitBatch(sts, hashes, faces, recipient, recipient, false);
    }

    /// @notice The same batch through redeemWinningTicketsFor, by the recipient's redeemer, the
    ///         recipient itself, or an operator key it may not have named. Sometimes a ticket of
    ///         another recipient is slipped in: it must not pay (it fails its signature check).
    function redeemBatchByKey(uint256 bSeed, uint256 oSeed, uint256 faceSeed, uint256 flags, uint256 keySeed)
        external
        step("redeemBatchByKey")
    {
        (ITicketBroker.SignedTicket[] memory sts, bytes32[] memory hashes, uint256[] memory faces, address recipient)
        = _buildBatch(bSeed, oSeed, faceSeed, flags);
        if (keySeed % 3 == 0 && redeemed.length > 0) {
            // Another recipient's paid ticket in place of the first (a replay under the wrong recipient).
            Redeemed storage old = redeemed[(keySeed >> 8) % redeemed.length];
            if (old.recipient != recipient) {
                (sts[0], hashes[0], faces[0]) = (old.st, old.hash, old.face);
                replaysAttempted++;
            }
        }
        _submitBatch(sts, hashes, faces, recipient, _keyFor(recipient, keySeed >> 2), true);
    }

    function _buildBatch(uint256 bSeed, uint256 oSeed, uint256 faceSeed, uint256 flags)
        internal
        returns (
            ITicketBroker.SignedTicket[] memory sts,
            bytes32[] memory hashes,
            uint256[] memory faces,
            address recipient
        )
    {
        uint256 n = 1 + flags % 4;
        bool extra = (flags >> 4) % 3 == 0;
        sts = new ITicketBroker.SignedTicket[](n + (extra ? 1 : 0));
        hashes = new bytes32[](sts.length);
        faces = new uint256[](sts.length);
        TicketParams memory p = _ticketParams(bSeed, oSeed, faceSeed, flags);
        recipient = p.recipient;
        uint256 nonceOwn = freshNonce[bcasters[p.bIndex]][p.recipient];
        uint256 nonceHot = freshNonce[hotSigners[p.bIndex]][p.recipient];
        for (uint256 i; i < n; ++i) {
            uint256 seed = uint256(keccak256(abi.encode(flags, faceSeed, i)));
            p.hot = seed % 4 == 0;
            p.face = _face(seed >> 8);
            p.winProb = _winProb(seed >> 16);
            p.rand = keccak256(abi.encode("rand", seed));
            p.nonce = p.hot ? nonceHot++ : nonceOwn++;
            (sts[i], hashes[i]) = _sign(p);
            faces[i] = p.face;
        }
        freshNonce[bcasters[p.bIndex]][p.recipient] = nonceOwn;
        freshNonce[hotSigners[p.bIndex]][p.recipient] = nonceHot;
        if (extra) {
            uint256 pos = (flags >> 8) % (n + 1);
            // shift the tail to make room
            for (uint256 j = n; j > pos; --j) {
                (sts[j], hashes[j], faces[j]) = (sts[j - 1], hashes[j - 1], faces[j - 1]);
            }
            if ((flags >> 12) % 2 == 0 && redeemed.length > 0) {
                Redeemed storage old = redeemed[(flags >> 16) % redeemed.length];
                (sts[pos], hashes[pos], faces[pos]) = (old.st, old.hash, old.face);
                replaysAttempted++;
            } else {
                // a duplicate of another ticket of this batch (placed after or before it)
                uint256 src = pos == 0 ? 1 : pos - 1;
                (sts[pos], hashes[pos], faces[pos]) = (sts[src], hashes[src], faces[src]);
            }
        }
    }

    function _submitBatch(
        ITicketBroker.SignedTicket[] memory sts,
        bytes32[] memory hashes,
        uint256[] memory faces,
        address recipient,
        address caller,
        bool byKey
    ) internal {
        bool authorized = caller == recipient || staking.redeemerOf(recipient) == caller;
        redeemRecipient = recipient;
        uint256 before = _senderFunds();
        vm.prank(caller);
        (bool ok, bytes memory ret) = address(broker).call(
            byKey
                ? abi.encodeCall(ITicketBroker.redeemWinningTicketsFor, (recipient, sts))
                : abi.encodeCall(ITicketBroker.redeemWinningTickets, (sts))
        );
        if (ok) {
            ITicketBroker.RedeemStatus[] memory statuses = abi.decode(ret, (ITicketBroker.RedeemStatus[]));
            for (uint256 i; i < statuses.length; ++i) {
                if (statuses[i] == ITicketBroker.RedeemStatus.UnauthorizedSigner) {
                    _checkSignerRefusal(recipient, faces[i], sts[i]); // in order: spent as at this ticket
                }
                if (statuses[i] != ITicketBroker.RedeemStatus.Redeemed) continue;
                if (!authorized) unauthorizedRedemption = true;
                if (byKey) keyRedemptions++;
                _recordRedeemed(recipient, hashes[i], faces[i], sts[i]);
            }
        }
        _accountFunds(before);
    }

    /// @dev Who redeems for `recipient` through the For functions: its redeemer (when it has one) half
    ///      of the time, else the recipient itself or any operator key (named by it or not).
    function _keyFor(address recipient, uint256 seed) internal view returns (address) {
        address named = staking.redeemerOf(recipient);
        if (seed % 2 == 0 && named != address(0)) return named;
        if (seed % 8 == 1) return recipient;
        return opKeys[(seed >> 3) % opKeys.length];
    }

    /// @notice An orchestrator names, renames or clears its redeemer or its reward caller (one of the
    ///         operator keys, which several orchestrators may share).
    function setOperatorKey(uint256 orchSeed, uint256 keySeed, bool redeemer) external step("setOperatorKey") {
        address o = orchs[orchSeed % 3];
        uint256 k = keySeed % (opKeys.length + 1);
        address key = k == opKeys.length ? address(0) : opKeys[k];
        address previous = staking.redeemerOf(o);
        vm.prank(o);
        if (redeemer) staking.setRedeemer(key);
        else staking.setRewardCaller(key);
        if (redeemer && previous != address(0) && previous != key) {
            signsUntil[o][previous] = staking.currentRound() + staking.unbondingPeriod();
        }
        _ok();
    }

    /// @notice Presents an already redeemed ticket again, as its recipient.
    function replayTicket(uint256 idx, bool asBatch) external step("replayTicket") {
        if (redeemed.length == 0) return;
        Redeemed memory old = redeemed[idx % redeemed.length];
        replaysAttempted++;
        redeemRecipient = old.recipient;
        uint256 before = _senderFunds();
        vm.prank(old.recipient);
        if (asBatch) {
            ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](1);
            sts[0] = old.st;
            try broker.redeemWinningTickets(sts) returns (ITicketBroker.RedeemStatus[] memory statuses) {
                if (statuses[0] == ITicketBroker.RedeemStatus.Redeemed) {
                    _recordRedeemed(old.recipient, old.hash, old.face, old.st);
                }
            } catch {}
        } else {
            try broker.redeemWinningTicket(old.st) {
                _recordRedeemed(old.recipient, old.hash, old.face, old.st);
            } catch {}
        }
        _accountFunds(before);
    }

    function _ticketParams(uint256 bSeed, uint256 oSeed, uint256 faceSeed, uint256 flags)
        internal
        view
        returns (TicketParams memory p)
    {
        p.bIndex = bSeed % 3;
        p.recipient = orchs[oSeed % 3];
        // mostly a registered orchestrator (a slashed one cannot be credited fees)
        for (uint256 k = 1; k < 3 && oSeed % 8 != 0 && !staking.isRegistered(p.recipient); ++k) {
            p.recipient = orchs[(oSeed % 3 + k) % 3];
        }
        // one time in five a compute provider, paid directly while it never registered
        if ((oSeed >> 8) % 5 == 0) p.recipient = providers[(oSeed >> 16) % providers.length];
        p.hot = (flags >> 40) % 4 == 0;
        // A hot key bound by a grant signs more often, mostly to its recipient (so that caps are
        // reached), otherwise to a recipient it may not pay.
        address bound = hotRecipient[bcasters[p.bIndex]];
        if (bound != address(0) && (flags >> 44) % 3 == 0) p.hot = true;
        if (bound != address(0) && (oSeed >> 24) % 4 < (p.hot ? 3 : 1)) p.recipient = bound;
        p.face = _face(faceSeed);
        p.winProb = _winProb(flags >> 48);
        p.rand = keccak256(abi.encode("rand", flags, faceSeed));
        uint256 round = staking.currentRound();
        uint256 r = (flags >> 56) % 10;
        if (r == 0) p.creationRound = round + 1; // future: rejected
        else if (r == 1 && round >= 2) p.creationRound = round - 2; // expired (validity 2)
        else if (r <= 3 && round >= 1) p.creationRound = round - 1;
        else p.creationRound = round;
    }

    function _face(uint256 seed) internal pure returns (uint256) {
        // mostly small, sometimes larger than a deposit so that the reserve pays
        return seed % 5 == 0 ? _b(seed >> 3, 1, 40 ether) : _b(seed >> 3, 1, 2 ether);
    }

    function _winProb(uint256 seed) internal pure returns (uint256) {
        uint256 k = seed % 16;
        if (k == 0) return 1 << 255; // wins half the time
        if (k == 1) return 0; // never wins
        return type(uint256).max;
    }

    function _signerOf(TicketParams memory p) internal view returns (address) {
        return p.hot ? hotSigners[p.bIndex] : bcasters[p.bIndex];
    }

    function _sign(TicketParams memory p) internal view returns (ITicketBroker.SignedTicket memory st, bytes32 h) {
        address signer = _signerOf(p);
        ITicketBroker.Ticket memory t = ITicketBroker.Ticket({
            recipient: p.recipient,
            sender: bcasters[p.bIndex],
            signer: signer,
            faceValue: p.face,
            winProb: p.winProb,
            senderNonce: p.nonce,
            recipientRandHash: keccak256(abi.encodePacked(p.rand)),
            creationRound: p.creationRound
        });
        h = broker.hashTicket(t);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(p.hot ? hotKeys[p.bIndex] : bcasterKeys[p.bIndex], h);
        st = ITicketBroker.SignedTicket({
            senderFace: uint256(uint160(t.sender)) << 96 | uint96(t.faceValue),
            winProb: t.winProb,
            meta: uint256(uint160(signer)) << 96 | uint256(uint56(t.senderNonce)) << 40
                | uint256(uint32(t.creationRound)) << 8 | v,
            recipientRand: p.rand,
            r: r,
            s: s
        });
    }

    function _recordRedeemed(address recipient, bytes32 h, uint256 face, ITicketBroker.SignedTicket memory st)
        internal
    {
        if (ticketPaid[h]) {
            ticketPaidTwice = true;
            ticketPaidTwiceHash = h;
        }
        ticketPaid[h] = true;
        _ok();
        {
            // A hot-key ticket pays only within its key's authorization, as the handler granted it.
            address signer = address(uint160(st.meta >> 96));
            address funder = address(uint160(st.senderFace >> 96));
            if (signer != funder && !_hotMaySign(funder, uint32(st.meta >> 8))) unauthorizedSignerPaid = true;
            // ...and, under a grant, to its recipient only and within its cap.
            if (signer != funder && hotRecipient[funder] != address(0)) {
                if (recipient != hotRecipient[funder]) paidToOthersUnderGrant[funder] += face;
                paidUnderGrant[funder] += face;
                if (paidUnderGrant[funder] > hotCap[funder]) grantOverspent = true;
                grantTicketsPaid++;
            }
        }
        redeemedFaceTotal += face;
        if (_isProvider(recipient) && !providerRegistered[recipient]) {
            directPaid[recipient] += face;
            directPaidTotal += face;
        }
        ticketsRedeemed++;
        if (redeemed.length < MAX_REPLAYS) {
            redeemed.push(Redeemed({recipient: recipient, hash: h, face: face, st: st}));
        } else {
            redeemed[uint256(h) % MAX_REPLAYS] = Redeemed({recipient: recipient, hash: h, face: face, st: st});
        }
    }

    /// @dev A ticket to `recipient` refused as UnauthorizedSigner: the model must refuse it too, for its
    ///      round, its recipient (a bound key's ticket to another) or its cap (a bound key's ticket
    ///      past what the grant leaves, given what the handler saw paid under it so far).
    function _checkSignerRefusal(address recipient, uint256 face, ITicketBroker.SignedTicket memory st) internal {
        address signer = address(uint160(st.meta >> 96));
        address funder = address(uint160(st.senderFace >> 96));
        if (signer == funder) {
            signerModelMismatch = true; // a funder is always its own signer
            return;
        }
        if (!_hotMaySign(funder, uint32(st.meta >> 8))) return;
        address bound = hotRecipient[funder];
        if (bound != address(0) && recipient != bound) {
            grantRecipientRefusals++;
        } else if (bound != address(0) && paidUnderGrant[funder] + face > hotCap[funder]) {
            grantCapRefusals++;
        } else {
            signerModelMismatch = true; // refused within its round, recipient and cap
        }
    }

    function _accountFunds(uint256 before) internal {
        uint256 afterwards = _senderFunds();
        if (afterwards > before) redemptionIncreasedFunds = true;
        else fundsDecreaseByRedemption += before - afterwards;
        // after every redemption call: what each grant spent is what the handler saw paid under it
        for (uint256 i; i < bcasters.length; ++i) {
            _checkGrantBounds(i);
        }
    }

    /* HELPERS AND VIEWS FOR THE INVARIANTS */

    function _senderFunds() internal view returns (uint256 total) {
        for (uint256 i; i < bcasters.length; ++i) {
            ITicketBroker.SenderInfo memory info = broker.getSenderInfo(bcasters[i]);
            total += info.deposit + info.reserve;
        }
    }

    function senderFunds() external view returns (uint256) {
        return _senderFunds();
    }

    /// @dev Orchestrators and free delegators. The twins never bond, unbond or withdraw: the eager one
    ///      only claims (after every step) and the lazy one never acts.
    function _bonder(uint256 seed) internal view returns (address) {
        uint256 k = seed % 7;
        return k < 3 ? orchs[k] : dels[k - 3];
    }

    function _isProvider(address a) internal view returns (bool) {
        for (uint256 i; i < providers.length; ++i) {
            if (providers[i] == a) return true;
        }
        return false;
    }

    function _isOrch(address a) internal view returns (bool) {
        for (uint256 i; i < orchs.length; ++i) {
            if (orchs[i] == a) return true;
        }
        return false;
    }

    /// @dev A delegate for a non-orchestrator: the twins stay with orchestrator 0; others pick any
    ///      orchestrator, or (rarely) themselves.
    function _delegateTarget(address a, uint256 seed) internal view returns (address) {
        if (a == eager || a == lazy) return orchs[0];
        if (seed % 10 == 9) return a;
        // mostly a registered orchestrator
        for (uint256 k; k < 3; ++k) {
            address o = orchs[(seed % 3 + k) % 3];
            if (seed % 10 == 8 || staking.isRegistered(o)) return o;
        }
        return orchs[seed % 3];
    }

    uint256 internal constant LOCK_ANY = 0;
    uint256 internal constant LOCK_BONDED = 1; // owner still has a delegate: rebond
    uint256 internal constant LOCK_UNBONDED = 2; // owner has no delegate: rebondFromUnbonded
    uint256 internal constant LOCK_MATURE = 3; // unbonding period over: withdrawStake

    /// @dev An actor (from actorSeed on) with a live lock suited to the action, most of the time;
    ///      one time in eight any live lock of the seeded actor, whatever its state (may revert).
    function _pickLock(uint256 actorSeed, uint256 lockSeed, uint256 kind) internal view returns (address, uint256) {
        if (lockSeed % 8 == 0) kind = LOCK_ANY;
        for (uint256 k; k < 7; ++k) {
            address a = _bonder(actorSeed % 7 + k);
            if (kind == LOCK_BONDED && staking.delegateOf(a) == address(0)) continue;
            if (kind == LOCK_UNBONDED && staking.delegateOf(a) != address(0)) continue;
            uint256 n = lockCount[a];
            for (uint256 j; j < n; ++j) {
                uint256 id = (lockSeed % n + j) % n;
                IStaking.UnbondingLock memory lock = staking.unbondingLock(a, id);
                if (lock.amount == 0) continue;
                if (kind == LOCK_MATURE && lock.withdrawRound > staking.currentRound()) continue;
                return (a, id);
            }
        }
        return (address(0), 0);
    }

    function _b(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        return min + x % (max - min + 1);
    }

    function stakersLength() external view returns (uint256) {
        return stakers.length;
    }

    function bcastersLength() external view returns (uint256) {
        return bcasters.length;
    }

    function opKeysLength() external view returns (uint256) {
        return opKeys.length;
    }

    function providersLength() external view returns (uint256) {
        return providers.length;
    }

    /// @dev A pool's cumulative reward factor.
    function rewardFactor(address o) public view returns (uint256 crf) {
        (crf,) = staking.poolFactors(o);
    }
}
