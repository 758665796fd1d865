// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StakingHelpers} from "../utils/StakingHelpers.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice Fuzz tests of every Staking function that takes an amount or a rate, with conservation:
///         Staking's balance == totalBonded + Σ open unbonding locks, Σ delegators' pendingStake ≤ pool
///         stake (short by at most a few wei per delegator), Σ fees paid ≤ fees credited.
contract StakingFuzzTest is StakingHelpers {
    uint256 internal constant MAX_STAKE = 1_000_000 ether;
    uint256 internal constant MAX_FACE = 1_000_000 ether; // < uint96 max, the ticket's face field

    address internal o;
    address internal o2;
    address internal d = makeAddr("d");
    address internal d2 = makeAddr("d2");
    address internal finder = makeAddr("finder");

    struct LockRef {
        address owner;
        uint256 id;
    }

    LockRef[] internal locks;

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 100 ether, 100_000, 500_000);
        o2 = newOrchestrator("o2", 100 ether, 0, 0);
    }

    /* HELPERS */

    function unbondAs(address who, uint256 amount) internal returns (uint256 id) {
        vm.prank(who);
        id = staking.unbond(amount);
        locks.push(LockRef(who, id));
    }

    function openLocks() internal view returns (uint256 sum) {
        for (uint256 i; i < locks.length; ++i) {
            sum += staking.unbondingLock(locks[i].owner, locks[i].id).amount;
        }
    }

    function assertConservation() internal view {
        assertEq(token.balanceOf(address(staking)), staking.totalBonded() + openLocks(), "staking balance");
    }

    /// @dev Σ pendingStake of `members` (the whole pool of `orch`) ≤ its stake, short by ≤ `slackPerMember` each.
    function assertPool(address orch, address[] memory members, uint256 slackPerMember) internal view {
        uint256 sum;
        for (uint256 i; i < members.length; ++i) {
            sum += staking.pendingStake(members[i]);
        }
        uint256 stake = staking.orchestratorInfo(orch).stake;
        assertLe(sum, stake, "pool over-allocated");
        assertLe(stake - sum, slackPerMember * members.length, "pool dust");
    }

    function pair(address a, address b) internal pure returns (address[] memory m) {
        m = new address[](2);
        (m[0], m[1]) = (a, b);
    }

    /// @dev The mintable the Minter will fix at its next initialization, from the formula by hand.
    function nextMintable() internal view returns (uint256) {
        uint256 supply = token.totalSupply();
        uint256 rate = staking.totalBonded() * PPB / supply;
        uint256 inflation = minter.inflation();
        if (rate < TARGET_BONDING_RATE) inflation += INFLATION_CHANGE;
        else if (rate > TARGET_BONDING_RATE) inflation = inflation > INFLATION_CHANGE ? inflation - INFLATION_CHANGE : 0;
        return supply * inflation / PPB;
    }

    /// @dev A large active orchestrator, so that a round's inflation is a realistic fraction of the
    ///      active stake. Rounding dust is stake that nobody owns and it compounds with the pool's
    ///      rewards; with only a few hundred ether active, one round's mint would multiply every pool
    ///      (and its dust) several times over.
    function addBackgroundStake() internal {
        newOrchestrator("background", 1_000_000 ether, 0, 0);
    }

    /* BOND */

    function testFuzz_Bond(uint256 amount) public {
        amount = bound(amount, 1, MAX_STAKE);
        fund(d, amount);
        vm.expectEmit(address(staking));
        emit IStaking.Bond(d, d, o, amount);
        vm.prank(d);
        staking.bond(amount, o);
        assertEq(staking.pendingStake(d), amount);
        assertEq(staking.orchestratorInfo(o).stake, 100 ether + amount);
        assertEq(staking.totalBonded(), 200 ether + amount);
        assertEq(token.balanceOf(d), 0);
        assertConservation();
    }

    function testFuzz_BondForTopUp(uint256 amount, uint256 topUp) public {
        amount = bound(amount, 1, MAX_STAKE);
        topUp = bound(topUp, 1, MAX_STAKE);
        bondAs(d, amount, o);
        fund(d2, topUp);
        vm.prank(d2);
        staking.bondFor(d, topUp, o);
        assertEq(staking.pendingStake(d), amount + topUp);
        assertEq(staking.pendingStake(d2), 0);
        assertEq(staking.orchestratorInfo(o).stake, 100 ether + amount + topUp);
        assertConservation();
    }

    function testFuzz_RedelegateMovesWholeBond(uint256 amount, uint256 extra, bool earnFirst) public {
        amount = bound(amount, 1, MAX_STAKE);
        extra = bound(extra, 0, MAX_STAKE);
        bondAs(d, amount, o);
        if (earnFirst) {
            nextRound();
            vm.prank(o);
            staking.reward();
        }
        uint256 moved = staking.pendingStake(d);
        uint256 o2Stake = staking.orchestratorInfo(o2).stake;
        uint256 bonded = staking.totalBonded();
        fund(d, extra);
        vm.expectEmit(address(staking));
        emit IStaking.DelegateChanged(d, o, o2, moved);
        vm.prank(d);
        staking.bond(extra, o2);
        assertEq(staking.pendingStake(d), moved + extra);
        assertEq(staking.orchestratorInfo(o2).stake, o2Stake + moved + extra);
        assertEq(staking.totalBonded(), bonded + extra);
        address[] memory oOnly = new address[](1);
        oOnly[0] = o;
        assertPool(o, oOnly, 3); // d's claim leaves its rounding dust behind in o's pool
        assertPool(o2, pair(o2, d), 2);
        assertConservation();
    }

    /* UNBOND, REBOND, WITHDRAW */

    function testFuzz_Unbond(uint256 bonded, uint256 amount) public {
        bonded = bound(bonded, 1, MAX_STAKE);
        amount = bound(amount, 0, bonded + 1 ether);
        bondAs(d, bonded, o);
        if (amount == 0) {
            vm.expectRevert(IStaking.ZeroAmount.selector);
        } else if (amount > bonded) {
            vm.expectRevert(abi.encodeWithSelector(IStaking.InsufficientBond.selector, bonded, amount));
        }
        vm.prank(d);
        staking.unbond(amount);
        if (amount == 0 || amount > bonded) return;

        locks.push(LockRef(d, 0));
        assertEq(staking.unbondingLock(d, 0).amount, amount);
        assertEq(staking.unbondingLock(d, 0).withdrawRound, 3);
        assertEq(staking.pendingStake(d), bonded - amount);
        assertEq(staking.delegateOf(d), amount == bonded ? address(0) : o);
        assertEq(staking.orchestratorInfo(o).stake, 100 ether + bonded - amount);
        assertConservation();
    }

    function testFuzz_UnbondThenRebond(uint256 bonded, uint256 amount, uint256 rounds) public {
        bonded = bound(bonded, 2, MAX_STAKE);
        amount = bound(amount, 1, bonded - 1);
        rounds = bound(rounds, 0, 6);
        bondAs(d, bonded, o);
        uint256 id = unbondAs(d, amount);
        rollRounds(rounds);
        vm.expectEmit(address(staking));
        emit IStaking.Rebond(d, o, id, amount);
        vm.prank(d);
        staking.rebond(id);
        assertEq(staking.pendingStake(d), bonded);
        assertEq(staking.orchestratorInfo(o).stake, 100 ether + bonded);
        assertConservation();
    }

    function testFuzz_UnbondThenWithdraw(uint256 bonded, uint256 amount, uint256 rounds) public {
        bonded = bound(bonded, 1, MAX_STAKE);
        amount = bound(amount, 1, bonded);
        rounds = bound(rounds, 0, 6);
        bondAs(d, bonded, o);
        uint256 id = unbondAs(d, amount);
        rollRounds(rounds);
        if (rounds < 3) {
            vm.expectRevert(abi.encodeWithSelector(IStaking.UnbondingNotOver.selector, 3, rounds));
        }
        vm.prank(d);
        staking.withdrawStake(id);
        if (rounds >= 3) {
            assertEq(token.balanceOf(d), amount);
            assertEq(staking.unbondingLock(d, id).amount, 0);
        }
        assertConservation();
    }

    function testFuzz_RebondFromUnbonded(uint256 bonded, bool toOther) public {
        bonded = bound(bonded, 1, MAX_STAKE);
        bondAs(d, bonded, o);
        uint256 id = unbondAs(d, bonded);
        address to = toOther ? o2 : d;
        vm.prank(d);
        staking.rebondFromUnbonded(to, id);
        assertEq(staking.delegateOf(d), to);
        assertEq(staking.pendingStake(d), bonded);
        assertEq(staking.orchestratorInfo(o).stake, 100 ether);
        assertConservation();
    }

    /* RATES */

    function testFuzz_RegisterOrchestratorRates(uint32 rewardCut, uint32 feeShare) public {
        address x = makeAddr("x");
        if (rewardCut > PPM) {
            vm.expectRevert(abi.encodeWithSelector(IStaking.RateAbovePpm.selector, rewardCut));
        } else if (feeShare > PPM) {
            vm.expectRevert(abi.encodeWithSelector(IStaking.RateAbovePpm.selector, feeShare));
        }
        vm.prank(x);
        staking.registerOrchestrator(rewardCut, feeShare);
        if (rewardCut > PPM || feeShare > PPM) {
            assertFalse(staking.isRegistered(x));
            return;
        }
        IStaking.OrchestratorInfo memory info = staking.orchestratorInfo(x);
        assertTrue(info.registered);
        assertEq(info.rewardCut, rewardCut);
        assertEq(info.feeShare, feeShare);
    }

    function testFuzz_SetRates(uint32 rewardCut, uint32 feeShare, uint256 offset) public {
        rewardCut = uint32(bound(rewardCut, 0, PPM + 1000));
        feeShare = uint32(bound(feeShare, 0, PPM + 1000));
        offset = bound(offset, 0, 99);
        nextRound();
        rollToOffset(offset);
        if (rewardCut > PPM) {
            vm.expectRevert(abi.encodeWithSelector(IStaking.RateAbovePpm.selector, rewardCut));
        } else if (feeShare > PPM) {
            vm.expectRevert(abi.encodeWithSelector(IStaking.RateAbovePpm.selector, feeShare));
        } else if (offset >= 90) {
            vm.expectRevert(abi.encodeWithSelector(IStaking.RatesLockedInWindow.selector, 1));
        }
        vm.prank(o);
        staking.setRates(rewardCut, feeShare);
        if (rewardCut > PPM || feeShare > PPM || offset >= 90) return;
        assertEq(staking.orchestratorInfo(o).rewardCut, 100_000);
        nextRound();
        assertEq(staking.orchestratorInfo(o).rewardCut, rewardCut);
        assertEq(staking.orchestratorInfo(o).feeShare, feeShare);
    }

    /* FEES */

    function testFuzz_FeesSplitAndWithdraw(uint256 face, uint32 feeShare, uint256 selfStake, uint256 delStake) public {
        face = bound(face, 1, MAX_FACE);
        feeShare = uint32(bound(feeShare, 0, PPM));
        // A pool below 1 gwei of stake counts as empty (its "stake" may be rounding dust nobody owns).
        selfStake = bound(selfStake, 1 gwei, MAX_STAKE);
        delStake = bound(delStake, 1, MAX_STAKE);
        address x = newOrchestrator("x", selfStake, 0, feeShare);
        bondAs(d, delStake, x);
        nextRound(); // stake earns from the round after it arrives

        uint256 poolFees = face * feeShare / PPM;
        ITicketBroker.SignedTicket memory st = signedTicket(x, face);
        vm.expectEmit(address(staking));
        emit IStaking.FeesCredited(x, poolFees, face - poolFees, 1);
        redeem(x, st);

        uint256 total = selfStake + delStake;
        uint256 dFees = staking.pendingFees(d);
        uint256 xFees = staking.pendingFees(x);
        // The 256-bit fee factor shares any fee over any pool of at least 1 gwei (no saturation).
        assertApproxEqAbs(dFees, poolFees * delStake / total, 1);
        assertApproxEqAbs(xFees, face - poolFees + poolFees * selfStake / total, 1);
        assertLe(dFees + xFees, face);
        assertGe(dFees + xFees + 2, face);

        uint256 brokerBalance = token.balanceOf(address(broker));
        if (dFees > 0) {
            vm.prank(d);
            staking.withdrawFees(d, dFees);
        }
        if (xFees > 0) {
            vm.prank(x);
            staking.withdrawFees(x, xFees);
        }
        assertEq(token.balanceOf(d), dFees);
        assertEq(token.balanceOf(x), xFees);
        assertEq(token.balanceOf(address(broker)), brokerBalance - dFees - xFees);
        assertEq(staking.pendingFees(d), 0);
        assertEq(staking.pendingFees(x), 0);
    }

    function testFuzz_FeeShareOfCreationRound(uint256 face, uint32 oldShare, uint32 newShare) public {
        face = bound(face, 1, MAX_FACE);
        oldShare = uint32(bound(oldShare, 0, PPM));
        newShare = uint32(bound(newShare, 0, PPM));
        address x = newOrchestrator("x", 10 ether, 0, oldShare);
        ITicketBroker.SignedTicket memory oldTicket = signedTicket(x, face);
        vm.prank(x);
        staking.setRates(0, newShare);
        nextRound();
        ITicketBroker.SignedTicket memory newTicket = signedTicket(x, face);
        vm.expectEmit(address(staking));
        emit IStaking.FeesCredited(x, face * oldShare / PPM, face - face * oldShare / PPM, 0);
        redeem(x, oldTicket);
        vm.expectEmit(address(staking));
        emit IStaking.FeesCredited(x, face * newShare / PPM, face - face * newShare / PPM, 1);
        redeem(x, newTicket);
        // x is its pool's only member: it gets everything
        assertApproxEqAbs(staking.pendingFees(x), 2 * face, 2);
        assertLe(staking.pendingFees(x), 2 * face);
    }

    function testFuzz_WithdrawFeesAmount(uint256 face, uint256 amount) public {
        face = bound(face, 4, MAX_FACE);
        payFees(o, face);
        uint256 available = staking.pendingFees(d);
        amount = bound(amount, 0, available + 1 ether);
        if (amount == 0) {
            vm.expectRevert(IStaking.ZeroAmount.selector);
        } else if (amount > available) {
            vm.expectRevert(abi.encodeWithSelector(IStaking.InsufficientFees.selector, available, amount));
        }
        vm.prank(d);
        staking.withdrawFees(d, amount);
        if (amount == 0 || amount > available) return;
        assertEq(token.balanceOf(d), amount);
        assertEq(staking.pendingFees(d), available - amount);
    }

    /* REWARD */

    function testFuzz_RewardSplit(uint32 rewardCut, uint256 selfStake, uint256 delStake, uint256 midRound) public {
        rewardCut = uint32(bound(rewardCut, 0, PPM));
        selfStake = bound(selfStake, 1 ether, MAX_STAKE);
        delStake = bound(delStake, 1, MAX_STAKE);
        midRound = bound(midRound, 0, MAX_STAKE);
        address x = newOrchestrator("x", selfStake, rewardCut, 0);
        bondAs(d, delStake, x);
        nextRound();
        if (midRound > 0) bondAs(d2, midRound, x); // arrives this round: neither mints nor earns

        uint256 atStart = selfStake + delStake;
        uint256 mintable = nextMintable();
        uint256 minted = mintable * atStart / (atStart + 200 ether);
        uint256 cut = minted * rewardCut / PPM;
        vm.expectEmit(address(staking));
        emit IStaking.Reward(x, 1, minted, cut);
        vm.prank(x);
        staking.reward();

        uint256 stake = atStart + midRound;
        assertEq(staking.orchestratorInfo(x).stake, stake + minted);
        // the earning delegators share minted − cut in proportion to their stake; d2 earns nothing yet
        assertApproxEqAbs(staking.pendingStake(d), delStake * (atStart + minted - cut) / atStart, 2);
        if (midRound > 0) assertEq(staking.pendingStake(d2), midRound);
        address[] memory members = new address[](3);
        (members[0], members[1], members[2]) = (x, d, d2);
        assertPool(x, members, 2);
        assertConservation();
    }

    /// @notice Whoever calls rewardFor(o) and whatever reward caller o named: it mints iff the caller is
    ///         o or o's current caller, exactly as o's own reward() would (same event, same stake), and
    ///         the caller gains nothing; anyone else gets NotRewardCaller and nothing is minted.
    function testFuzz_RewardFor_OnlyTheOrchestratorOrItsCaller(address someone, address someKey, uint8 mode) public {
        vm.assume(someone != address(0) && someone != address(vm) && someone != CONSOLE);
        address rewardCaller = [address(0), someKey, o, o2][mode % 4];
        vm.prank(o);
        staking.setRewardCaller(rewardCaller);
        address caller = [o, rewardCaller == address(0) ? o : rewardCaller, o2, someone][(mode >> 2) % 4];
        bool allowed = caller == o || caller == rewardCaller;
        nextRound();

        uint256 snap = vm.snapshotState();
        vm.prank(o);
        staking.reward();
        uint256 stakeAfter = staking.pendingStake(o);
        uint256 minted = minter.currentMinted();
        vm.revertToState(snap);

        uint256 callerStake = staking.pendingStake(caller);
        uint256 callerBalance = token.balanceOf(caller);
        vm.prank(caller);
        (bool ok, bytes memory err) = address(staking).call(abi.encodeCall(IStaking.rewardFor, (o)));
        if (!allowed) {
            assertFalse(ok);
            assertEq(err, abi.encodeWithSelector(IStaking.NotRewardCaller.selector, caller, o));
            assertEq(minter.currentMinted(), 0);
            assertEq(staking.orchestratorInfo(o).lastRewardRound, 0);
            return;
        }
        assertTrue(ok);
        assertEq(minter.currentMinted(), minted);
        assertEq(staking.pendingStake(o), stakeAfter);
        assertEq(staking.orchestratorInfo(o).lastRewardRound, 1);
        if (caller != o) assertEq(staking.pendingStake(caller), callerStake, "the caller gains nothing");
        if (caller != o && caller != address(staking)) assertEq(token.balanceOf(caller), callerBalance);
    }

    function testFuzz_RewardEveryRoundConserves(uint256 a, uint256 b, uint256 c, uint8 rounds) public {
        addBackgroundStake();
        a = bound(a, 1, MAX_STAKE);
        b = bound(b, 1, MAX_STAKE);
        c = bound(c, 1, MAX_STAKE);
        rounds = uint8(bound(rounds, 1, 6));
        address d3 = makeAddr("d3");
        bondAs(d, a, o);
        bondAs(d2, b, o);
        bondAs(d3, c, o2);
        for (uint256 i; i < rounds; ++i) {
            nextRound();
            vm.prank(o);
            staking.reward();
            vm.prank(o2);
            staking.reward();
            assertLe(minter.currentMinted(), minter.currentMintable());
            if (i % 2 == 0) {
                vm.prank(d2);
                staking.claimEarnings();
            }
        }
        address[] memory m = new address[](3);
        (m[0], m[1], m[2]) = (o, d, d2);
        assertPool(o, m, rounds + 2);
        assertPool(o2, pair(o2, d3), rounds + 2);
        assertConservation();
    }

    /* SLASH */

    function testFuzz_Slash(uint32 slashPpm, uint32 finderPpm, uint256 selfStake, bool withFinder) public {
        slashPpm = uint32(bound(slashPpm, 0, PPM + 1000));
        finderPpm = uint32(bound(finderPpm, 0, PPM + 1000));
        selfStake = bound(selfStake, 1, MAX_STAKE);
        address x = newOrchestrator("x", selfStake, 0, 0);
        bondAs(d, 5 ether, x);
        address to = withFinder ? finder : address(0);
        uint256 supply = token.totalSupply();
        if (slashPpm > PPM) {
            vm.expectRevert(abi.encodeWithSelector(IStaking.RateAbovePpm.selector, slashPpm));
        } else if (finderPpm > PPM) {
            vm.expectRevert(abi.encodeWithSelector(IStaking.RateAbovePpm.selector, finderPpm));
        }
        vm.prank(verifier);
        staking.slash(x, to, slashPpm, finderPpm);
        if (slashPpm > PPM || finderPpm > PPM) return;

        uint256 penalty = selfStake * slashPpm / PPM;
        uint256 fee = withFinder ? penalty * finderPpm / PPM : 0;
        assertEq(token.balanceOf(finder), fee);
        assertEq(token.totalSupply(), supply - (penalty - fee));
        assertEq(staking.pendingStake(x), selfStake - penalty);
        assertEq(staking.pendingStake(d), 5 ether);
        assertEq(staking.orchestratorInfo(x).stake, selfStake - penalty + 5 ether);
        assertFalse(staking.isRegistered(x));
        assertFalse(inActiveSet(x));
        assertConservation();
    }

    /* EVERYTHING TOGETHER */

    /// @dev Four delegators with fuzzed stakes across two pools, four rounds of rewards, fees and
    ///      fuzzed partial unbonds, rebonds and withdrawals; conservation checked every round.
    function testFuzz_ConservationAcrossRounds(uint96[4] memory stakes, uint32[4] memory unbondPpm, uint96 face)
        public
    {
        addBackgroundStake();
        address[4] memory ds = [d, d2, makeAddr("d3"), makeAddr("d4")];
        uint256 faceValue = bound(face, 1, 1000 ether);
        for (uint256 i; i < 4; ++i) {
            bondAs(ds[i], bound(stakes[i], 1, MAX_STAKE), i % 2 == 0 ? o : o2);
        }
        for (uint256 r; r < 4; ++r) {
            nextRound();
            payFees(o, faceValue);
            vm.prank(o);
            staking.reward();
            vm.prank(o2);
            staking.reward();
            payFees(o2, faceValue);
            address who = ds[r];
            uint256 amount = staking.pendingStake(who) * bound(unbondPpm[r], 0, PPM) / PPM;
            if (amount > 0) {
                uint256 id = unbondAs(who, amount);
                if (r == 1 && staking.delegateOf(who) != address(0)) {
                    vm.prank(who);
                    staking.rebond(id);
                }
            }
            assertConservation();
        }
        rollRounds(3);
        for (uint256 i; i < locks.length; ++i) {
            if (staking.unbondingLock(locks[i].owner, locks[i].id).amount > 0) {
                vm.prank(locks[i].owner);
                staking.withdrawStake(locks[i].id);
            }
        }
        assertConservation();
        address[] memory m1 = new address[](3);
        (m1[0], m1[1], m1[2]) = (o, ds[0], ds[2]);
        address[] memory m2 = new address[](3);
        (m2[0], m2[1], m2[2]) = (o2, ds[1], ds[3]);
        assertPool(o, m1, 8);
        assertPool(o2, m2, 8);

        // the fees credited (8 tickets) can be withdrawn, never more. What is lost: < 1 wei per member
        // per ticket, and the pool fees that fall on a pool's unowned rounding dust (≤ 10 wei of
        // stake over ≥ 100 ether: face / 1e19 wei per ticket).
        uint256 feesOwed;
        for (uint256 i; i < 4; ++i) {
            feesOwed += staking.pendingFees(ds[i]);
        }
        feesOwed += staking.pendingFees(o) + staking.pendingFees(o2);
        assertLe(feesOwed, 8 * faceValue);
        assertGe(feesOwed + 8 * (4 + 10 * faceValue / 100 ether), 8 * faceValue);
    }
}
