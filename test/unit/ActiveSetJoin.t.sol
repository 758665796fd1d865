// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "../utils/Fixture.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice Joining the active set: with room (no stake change needed) and by eviction when full.
contract ActiveSetJoinTest is Fixture {
    function fill(uint256 n) internal returns (address[] memory members) {
        members = new address[](n);
        for (uint256 i; i < n; ++i) {
            members[i] = newOrchestrator(string.concat("m", vm.toString(i)), 10 ether + i, 0, 0);
        }
    }

    function test_JoinActiveSet_WhenRoomFreesUp() public {
        address[] memory members = fill(100);
        address waiting = newOrchestrator("waiting", 5 ether, 0, 0);
        assertFalse(staking.orchestratorInfo(waiting).inActiveSet, "set was full");

        vm.prank(members[0]);
        staking.unbond(10 ether); // below the minimum: leaves
        assertEq(staking.activeSet().length, 99);

        vm.expectEmit(address(staking));
        emit IStaking.OrchestratorActivated(waiting, staking.currentRound() + 1);
        vm.prank(waiting);
        staking.joinActiveSet(address(0));
        assertTrue(staking.orchestratorInfo(waiting).inActiveSet);
        nextRound();
        assertTrue(staking.isActive(waiting, staking.currentRound()));
        assertFalse(staking.isActive(members[0], staking.currentRound()));
    }

    function test_JoinActiveSet_EvictsALowerStakeMemberWhenFull() public {
        address[] memory members = fill(100);
        address big = newOrchestrator("big", 50 ether, 0, 0);
        address small = newOrchestrator("small", 5 ether, 0, 0);
        nextRound();
        (uint256 count, uint256 stake) = staking.activeTotalsThisRound();
        assertEq(count, 100);

        vm.prank(small);
        vm.expectRevert(abi.encodeWithSelector(IStaking.EvicteeHasMoreStake.selector, members[1], 10 ether + 1, 5 ether));
        staking.joinActiveSet(members[1]);
        vm.prank(big);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotInActiveSet.selector, small));
        staking.joinActiveSet(small);

        vm.prank(big);
        staking.joinActiveSet(members[0]);
        assertEq(staking.activeSet().length, 100);
        assertFalse(staking.orchestratorInfo(members[0]).inActiveSet);
        // This round's snapshot is unchanged; the swap applies from the next round.
        (uint256 countNow, uint256 stakeNow) = staking.activeTotalsThisRound();
        assertEq(countNow, count);
        assertEq(stakeNow, stake);
        nextRound();
        (countNow, stakeNow) = staking.activeTotalsThisRound();
        assertEq(countNow, 100);
        assertEq(stakeNow, stake - 10 ether + 50 ether);
        assertTrue(staking.isActive(big, staking.currentRound()));
        assertFalse(staking.isActive(members[0], staking.currentRound()));
    }

    function test_RevertWhen_JoinActiveSet_NotEligible() public {
        address o = newOrchestrator("o", 10 ether, 0, 0);
        vm.prank(o);
        vm.expectRevert(abi.encodeWithSelector(IStaking.AlreadyInActiveSet.selector, o));
        staking.joinActiveSet(address(0));
        address poor = makeAddr("poor");
        bondAs(poor, 0.5 ether, poor);
        vm.prank(poor);
        staking.registerOrchestrator(0, 0);
        vm.prank(poor);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotEligibleForActiveSet.selector, poor));
        staking.joinActiveSet(address(0));
    }
}
