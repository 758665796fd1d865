// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StakingHelpers} from "../utils/StakingHelpers.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice registerOrchestrator, setRates, joinActiveSet, active-set membership and the views about it.
contract StakingOrchestratorsTest is StakingHelpers {
    address internal o;
    address internal d = makeAddr("d");

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 100 ether, 100_000, 500_000);
    }

    /// @dev Fills the active set: 99 orchestrators with 2 ether each, plus `o`.
    function fillSet() internal returns (address[] memory fs) {
        fs = fillOrchestrators("f", 99, 2 ether);
        assertEq(staking.activeSet().length, 100);
    }

    /* REGISTER */

    function test_RegisterOrchestrator_WithSelfBondJoinsActiveSetNextRound() public {
        address x = makeAddr("x");
        bondAs(x, 10 ether, x);
        vm.expectEmit(address(staking));
        emit IStaking.OrchestratorRegistered(x, 200_000, 300_000);
        vm.expectEmit(address(staking));
        emit IStaking.OrchestratorActivated(x, 1);
        vm.prank(x);
        staking.registerOrchestrator(200_000, 300_000);

        assertTrue(staking.isRegistered(x));
        IStaking.OrchestratorInfo memory info = staking.orchestratorInfo(x);
        assertTrue(info.registered);
        assertTrue(info.inActiveSet);
        assertFalse(info.activeThisRound);
        assertEq(info.rewardCut, 200_000);
        assertEq(info.feeShare, 300_000);
        assertEq(info.stake, 10 ether);
        assertEq(info.lastRewardRound, 0);
        assertFalse(staking.isActive(x, 0));
        assertTrue(staking.isActive(x, 1));
        assertTrue(inActiveSet(x));

        (uint256 count, uint256 stake) = staking.activeTotalsThisRound();
        assertEq(count, 0);
        assertEq(stake, 0);
        nextRound();
        (count, stake) = staking.activeTotalsThisRound();
        assertEq(count, 2);
        assertEq(stake, 110 ether);
        assertTrue(staking.orchestratorInfo(x).activeThisRound);
    }

    function test_RegisterOrchestrator_WithoutStakeStaysOutOfSetUntilBonded() public {
        vm.prank(governance());
        staking.setMinSelfBond(0); // delegated stake alone may then make it active
        address x = makeAddr("x");
        vm.prank(x);
        staking.registerOrchestrator(0, 0);
        assertTrue(staking.isRegistered(x));
        assertFalse(staking.orchestratorInfo(x).inActiveSet);
        assertEq(staking.delegateOf(x), address(0));

        fund(d, 1 ether);
        vm.expectEmit(address(staking));
        emit IStaking.OrchestratorActivated(x, 1);
        vm.prank(d);
        staking.bond(1 ether, x);
        assertTrue(inActiveSet(x));
    }

    function test_RegisterOrchestrator_BelowMinActiveStakeStaysOutOfSet() public {
        address x = makeAddr("x");
        bondAs(x, 1 ether - 1, x);
        vm.prank(x);
        staking.registerOrchestrator(0, 0);
        assertTrue(staking.isRegistered(x));
        assertFalse(staking.orchestratorInfo(x).inActiveSet);
        assertEq(staking.activeSet().length, 1);
    }

    function test_RegisterOrchestrator_AtMinActiveStakeJoinsSet() public {
        address x = newOrchestrator("x", 1 ether, 0, 0);
        assertTrue(inActiveSet(x));
    }

    function test_RegisterOrchestrator_RatesAtPpmBoundary() public {
        address x = newOrchestrator("x", 1 ether, 1_000_000, 1_000_000);
        assertEq(staking.orchestratorInfo(x).rewardCut, 1_000_000);
        assertEq(staking.orchestratorInfo(x).feeShare, 1_000_000);
    }

    function test_RegisterOrchestrator_FullSetLeavesNewcomerOutside() public {
        fillSet();
        address x = newOrchestrator("x", 50 ether, 0, 0);
        assertTrue(staking.isRegistered(x));
        assertFalse(staking.orchestratorInfo(x).inActiveSet);
        assertEq(staking.activeSet().length, 100);
    }

    function test_RevertWhen_RegisterTwice() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.AlreadyRegistered.selector, o));
        vm.prank(o);
        staking.registerOrchestrator(0, 0);
    }

    function test_RevertWhen_RegisterWhileDelegatedToAnother() public {
        bondAs(d, 1 ether, o);
        vm.expectRevert(abi.encodeWithSelector(IStaking.OrchestratorMustSelfDelegate.selector, d));
        vm.prank(d);
        staking.registerOrchestrator(0, 0);
    }

    function test_RevertWhen_RegisterRewardCutAbovePpm() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.RateAbovePpm.selector, 1_000_001));
        vm.prank(d);
        staking.registerOrchestrator(1_000_001, 0);
    }

    function test_RevertWhen_RegisterFeeShareAbovePpm() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.RateAbovePpm.selector, 1_000_001));
        vm.prank(d);
        staking.registerOrchestrator(0, 1_000_001);
    }

    function test_RegisterOrchestrator_AfterMovingToSelf() public {
        bondAs(d, 2 ether, o);
        vm.prank(d);
        staking.bond(0, d);
        vm.prank(d);
        staking.registerOrchestrator(0, 0);
        assertTrue(inActiveSet(d));
        assertEq(staking.orchestratorInfo(d).stake, 2 ether);
        assertEq(staking.orchestratorInfo(o).stake, 100 ether);
    }

    /* SET RATES */

    function test_SetRates_TakesEffectNextRound() public {
        vm.expectEmit(address(staking));
        emit IStaking.RatesChanged(o, 200_000, 300_000, 1);
        vm.prank(o);
        staking.setRates(200_000, 300_000);

        IStaking.OrchestratorInfo memory info = staking.orchestratorInfo(o);
        assertEq(info.rewardCut, 100_000);
        assertEq(info.feeShare, 500_000);
        nextRound();
        info = staking.orchestratorInfo(o);
        assertEq(info.rewardCut, 200_000);
        assertEq(info.feeShare, 300_000);
    }

    function test_SetRates_AllowedOnLastBlockBeforeLockWindow() public {
        rollToOffset(89);
        vm.prank(o);
        staking.setRates(0, 0);
        nextRound();
        assertEq(staking.orchestratorInfo(o).rewardCut, 0);
    }

    function test_RevertWhen_SetRatesInLockWindow() public {
        rollToOffset(90);
        vm.expectRevert(abi.encodeWithSelector(IStaking.RatesLockedInWindow.selector, 0));
        vm.prank(o);
        staking.setRates(0, 0);

        rollRounds(1);
        rollToOffset(99);
        vm.expectRevert(abi.encodeWithSelector(IStaking.RatesLockedInWindow.selector, 1));
        vm.prank(o);
        staking.setRates(0, 0);
    }

    function test_RevertWhen_SetRatesWithinCooldown() public {
        vm.prank(o);
        staking.setRates(200_000, 300_000); // effective round 1
        vm.expectRevert(abi.encodeWithSelector(IStaking.RateChangeCooldown.selector, 2));
        vm.prank(o);
        staking.setRates(0, 0);

        nextRound();
        vm.expectRevert(abi.encodeWithSelector(IStaking.RateChangeCooldown.selector, 2));
        vm.prank(o);
        staking.setRates(0, 0);
    }

    function test_SetRates_AllowedAfterCooldown() public {
        vm.prank(o);
        staking.setRates(200_000, 300_000);
        rollRounds(2);
        vm.expectEmit(address(staking));
        emit IStaking.RatesChanged(o, 0, 0, 3);
        vm.prank(o);
        staking.setRates(0, 0);
        assertEq(staking.orchestratorInfo(o).rewardCut, 200_000);
        nextRound();
        assertEq(staking.orchestratorInfo(o).rewardCut, 0);
        assertEq(staking.orchestratorInfo(o).feeShare, 0);
    }

    function test_RevertWhen_SetRatesNotOrchestrator() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotOrchestrator.selector, d));
        vm.prank(d);
        staking.setRates(0, 0);
    }

    function test_RevertWhen_SetRatesRewardCutAbovePpm() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.RateAbovePpm.selector, 1_000_001));
        vm.prank(o);
        staking.setRates(1_000_001, 0);
    }

    function test_RevertWhen_SetRatesFeeShareAbovePpm() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.RateAbovePpm.selector, type(uint32).max));
        vm.prank(o);
        staking.setRates(0, type(uint32).max);
    }

    /* ACTIVE SET MEMBERSHIP */

    function test_ActiveSet_JoinsAutomaticallyWhenStakeReachesMinimum() public {
        address x = makeAddr("x");
        bondAs(x, 0.5 ether, x);
        vm.prank(x);
        staking.registerOrchestrator(0, 0);
        assertFalse(inActiveSet(x));
        fund(x, 0.5 ether);
        vm.expectEmit(address(staking));
        emit IStaking.OrchestratorActivated(x, 1);
        vm.prank(x);
        staking.bond(0.5 ether, x);
        assertTrue(inActiveSet(x));
    }

    function test_ActiveSet_LeavesWhenStakeDropsBelowMinimum() public {
        nextRound();
        vm.expectEmit(address(staking));
        emit IStaking.OrchestratorDeactivated(o, 2);
        vm.prank(o);
        staking.unbond(99.5 ether);

        IStaking.OrchestratorInfo memory info = staking.orchestratorInfo(o);
        assertFalse(info.inActiveSet);
        assertTrue(info.activeThisRound);
        assertTrue(info.registered);
        assertTrue(staking.isActive(o, 1));
        assertFalse(staking.isActive(o, 2));
        assertEq(staking.activeSet().length, 0);
        (uint256 count, uint256 stake) = staking.activeTotalsThisRound();
        assertEq(count, 1);
        assertEq(stake, 100 ether);
        nextRound();
        (count, stake) = staking.activeTotalsThisRound();
        assertEq(count, 0);
        assertEq(stake, 0);
    }

    function test_ActiveSet_LeaveAndRejoinInSameRoundStaysActive() public {
        nextRound();
        vm.prank(o);
        staking.unbond(99.5 ether);
        vm.expectEmit(address(staking));
        emit IStaking.OrchestratorActivated(o, 2);
        vm.prank(o);
        staking.rebond(0);
        assertTrue(staking.isActive(o, 1));
        assertTrue(staking.isActive(o, 2));
        assertTrue(inActiveSet(o));
    }

    function test_ActiveSet_RejoinInLaterRoundActivatesNextRound() public {
        nextRound();
        vm.prank(o);
        staking.unbond(99.5 ether);
        nextRound();
        assertFalse(staking.isActive(o, 2));
        vm.prank(o);
        staking.rebond(0);
        assertFalse(staking.isActive(o, 2));
        assertTrue(staking.isActive(o, 3));
    }

    function test_ActiveSet_CapStopsAutomaticJoinUntilRaised() public {
        fillSet();
        address x = newOrchestrator("x", 50 ether, 0, 0);
        assertFalse(inActiveSet(x));

        vm.expectEmit(address(staking));
        emit IStaking.MaxActiveSet(101);
        vm.prank(governance());
        staking.setMaxActive(101);
        bondAs(d, 1 ether, x); // any stake change re-checks membership
        assertTrue(inActiveSet(x));
        assertEq(staking.activeSet().length, 101);
    }

    function test_ActiveSet_RaisedMinimumAppliesOnNextStakeChange() public {
        vm.expectEmit(address(staking));
        emit IStaking.MinActiveStakeSet(200 ether);
        vm.prank(governance());
        staking.setMinActiveStake(200 ether);
        assertTrue(inActiveSet(o));
        bondAs(d, 1 ether, o);
        assertFalse(inActiveSet(o));
    }

    function test_ActiveSet_ZeroMinimumStillRequiresStake() public {
        vm.prank(governance());
        staking.setMinActiveStake(0);
        address x = makeAddr("x");
        vm.prank(x);
        staking.registerOrchestrator(0, 0);
        assertFalse(inActiveSet(x));
    }

    /* JOIN ACTIVE SET */

    function test_JoinActiveSet_EvictsOrchestratorWithLessStake() public {
        address[] memory fs = fillSet();
        nextRound();
        address x = newOrchestrator("x", 3 ether, 0, 0);
        assertFalse(inActiveSet(x));

        vm.expectEmit(address(staking));
        emit IStaking.OrchestratorDeactivated(fs[0], 2);
        vm.expectEmit(address(staking));
        emit IStaking.OrchestratorActivated(x, 2);
        vm.prank(x);
        staking.joinActiveSet(fs[0]);

        assertTrue(inActiveSet(x));
        assertFalse(inActiveSet(fs[0]));
        assertEq(staking.activeSet().length, 100);
        assertTrue(staking.isActive(fs[0], 1));
        assertFalse(staking.isActive(fs[0], 2));
        assertFalse(staking.isActive(x, 1));
        assertTrue(staking.isActive(x, 2));
        assertTrue(staking.isRegistered(fs[0]));

        (uint256 count, uint256 stake) = staking.activeTotalsThisRound();
        assertEq(count, 100);
        assertEq(stake, 99 * 2 ether + 100 ether);
        nextRound();
        (count, stake) = staking.activeTotalsThisRound();
        assertEq(count, 100);
        assertEq(stake, 98 * 2 ether + 100 ether + 3 ether);
    }

    function test_RevertWhen_JoinActiveSetAlreadyIn() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.AlreadyInActiveSet.selector, o));
        vm.prank(o);
        staking.joinActiveSet(o);
    }

    function test_RevertWhen_JoinActiveSetNotRegistered() public {
        fillSet();
        bondAs(d, 50 ether, d);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotEligibleForActiveSet.selector, d));
        vm.prank(d);
        staking.joinActiveSet(o);
    }

    function test_RevertWhen_JoinActiveSetBelowMinimumStake() public {
        address[] memory fs = fillSet();
        address x = makeAddr("x");
        bondAs(x, 0.5 ether, x);
        vm.prank(x);
        staking.registerOrchestrator(0, 0);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotEligibleForActiveSet.selector, x));
        vm.prank(x);
        staking.joinActiveSet(fs[0]);
    }

    function test_JoinActiveSet_NotFullJoinsWithoutEvicting() public {
        vm.prank(governance());
        staking.setMinActiveStake(5 ether);
        address x = newOrchestrator("x", 3 ether, 0, 0);
        assertFalse(inActiveSet(x));
        vm.prank(governance());
        staking.setMinActiveStake(1 ether);
        vm.prank(x);
        staking.joinActiveSet(o); // the evictee is ignored when there is room
        assertTrue(inActiveSet(x));
        assertTrue(inActiveSet(o));
    }

    function test_RevertWhen_JoinActiveSetEvicteeNotInSet() public {
        fillSet();
        address x = newOrchestrator("x", 3 ether, 0, 0);
        address y = newOrchestrator("y", 2 ether, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotInActiveSet.selector, y));
        vm.prank(x);
        staking.joinActiveSet(y);
    }

    function test_RevertWhen_JoinActiveSetEvicteeHasEqualStake() public {
        address[] memory fs = fillSet();
        address x = newOrchestrator("x", 2 ether, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(IStaking.EvicteeHasMoreStake.selector, fs[5], 2 ether, 2 ether));
        vm.prank(x);
        staking.joinActiveSet(fs[5]);
    }

    function test_RevertWhen_JoinActiveSetEvicteeHasMoreStake() public {
        fillSet();
        address x = newOrchestrator("x", 3 ether, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(IStaking.EvicteeHasMoreStake.selector, o, 100 ether, 3 ether));
        vm.prank(x);
        staking.joinActiveSet(o);
    }

    function test_JoinActiveSet_EvicteeCanRewardInEvictionRound() public {
        address[] memory fs = fillSet();
        nextRound();
        address x = newOrchestrator("x", 3 ether, 0, 0);
        vm.prank(x);
        staking.joinActiveSet(fs[0]);
        vm.prank(fs[0]);
        staking.reward();
        assertEq(staking.orchestratorInfo(fs[0]).lastRewardRound, 1);
    }

    /* VIEWS */

    function test_IsActive_FalseForUnknownAccount() public view {
        assertFalse(staking.isActive(d, 0));
        assertFalse(staking.isActive(d, 5));
        assertFalse(staking.isRegistered(d));
    }

    function test_ActiveSet_ListsMembers() public {
        address x = newOrchestrator("x", 1 ether, 0, 0);
        address[] memory set = staking.activeSet();
        assertEq(set.length, 2);
        assertEq(set[0], o);
        assertEq(set[1], x);
    }

    function test_ReserveEligibility_ActiveOrchestrator() public {
        nextRound();
        (bool eligible, uint256 count) = staking.reserveEligibility(o, 1, 1);
        assertTrue(eligible);
        assertEq(count, 1);
    }

    function test_ReserveEligibility_NotYetActiveNewcomer() public {
        nextRound();
        address x = newOrchestrator("x", 1 ether, 0, 0);
        (bool eligible, uint256 count) = staking.reserveEligibility(x, 1, 1);
        assertFalse(eligible);
        assertEq(count, 1);
        nextRound();
        (eligible, count) = staking.reserveEligibility(x, 2, 1);
        assertTrue(eligible);
        assertEq(count, 2);
    }

    function test_ReserveEligibility_LeaverStillEligibleForTicketsOfActiveRound() public {
        nextRound();
        vm.prank(o);
        staking.unbond(100 ether);
        nextRound();
        (bool eligible, uint256 count) = staking.reserveEligibility(o, 2, 1);
        assertTrue(eligible);
        assertEq(count, 1, "no one active, but the leaver may still claim: it counts in the divisor");
        (eligible,) = staking.reserveEligibility(o, 2, 2);
        assertFalse(eligible);
    }

    function test_ReserveEligibility_FalseForUnregistered() public {
        nextRound();
        (bool eligible, uint256 count) = staking.reserveEligibility(d, 1, 1);
        assertFalse(eligible);
        assertEq(count, 1);
    }
}
