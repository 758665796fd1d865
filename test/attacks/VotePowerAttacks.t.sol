// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StakingHelpers} from "../utils/StakingHelpers.sol";
import {VotePower} from "../../contracts/VotePower.sol";
import {IStakeVotes} from "../../contracts/interfaces/IStakeVotes.sol";

/// @notice Attempts to get votes that were not there at a snapshot: bonding, transferring or moving
///         delegation after it, flash bond-and-unbond in one block, looking up the current block,
///         inflating an override beyond what the orchestrator counted, and making lookups unbounded.
contract VotePowerAttacksTest is StakingHelpers {
    VotePower internal power;
    address internal o;
    address internal o2;
    address internal attacker = makeAddr("attacker");
    address internal d = makeAddr("d");

    function setUp() public override {
        super.setUp();
        power = new VotePower(token, staking);
        o = newOrchestrator("o", 100 ether, 100_000, 500_000);
        o2 = newOrchestrator("o2", 100 ether, 0, 0);
        fund(d, 50 ether);
        vm.prank(d);
        staking.bond(50 ether, o);
        give(attacker, 1000 ether);
        vm.prank(attacker);
        token.approve(address(staking), type(uint256).max);
        vm.roll(block.number + 1);
    }

    function snapshot() internal returns (uint256 t) {
        t = block.number;
        vm.roll(t + 1);
    }

    function test_Attack_BondAfterSnapshotAddsNoVotesAtIt() public {
        uint256 t = snapshot();
        uint256 votes = power.getPastVotes(o, t);
        vm.prank(attacker);
        staking.bond(1000 ether, o);
        vm.roll(block.number + 1);
        assertEq(power.getPastVotes(o, t), votes);
        assertEq(power.getPastBalanceOf(attacker, t), 0);
        assertEq(power.getPastDelegate(attacker, t), address(0));
    }

    function test_Attack_TransferAfterSnapshotAddsNoVotesAtIt() public {
        address accomplice = makeAddr("accomplice");
        vm.prank(accomplice);
        token.delegate(accomplice);
        vm.prank(attacker);
        token.delegate(attacker);
        uint256 t = snapshot();
        vm.prank(attacker);
        assertTrue(token.transfer(accomplice, 1000 ether));
        vm.roll(block.number + 1);
        assertEq(power.getPastVotes(attacker, t), 1000 ether);
        assertEq(power.getPastVotes(accomplice, t), 0);
    }

    function test_Attack_MovingDelegationAfterSnapshotMovesNothingAtIt() public {
        uint256 t = snapshot();
        uint256 votesO = power.getPastVotes(o, t);
        uint256 votesO2 = power.getPastVotes(o2, t);
        vm.prank(d);
        staking.bond(0, o2);
        vm.roll(block.number + 1);
        assertEq(power.getPastVotes(o, t), votesO);
        assertEq(power.getPastVotes(o2, t), votesO2);
        assertEq(power.getPastDelegate(d, t), o, "the override still reduces the old orchestrator at t");
        assertEq(power.getPastBalanceOf(d, t), 50 ether);
    }

    /// @dev A delegator hopping between orchestrators within one block counts once, where it ends.
    function test_Attack_HoppingWithinABlockCountsOnceWhereItEnds() public {
        uint256 t = block.number;
        vm.startPrank(d);
        staking.bond(0, o2);
        staking.bond(0, o);
        staking.bond(0, o2);
        vm.stopPrank();
        vm.roll(t + 1);
        assertEq(power.getPastDelegate(d, t), o2);
        assertEq(power.getPastVotes(o, t), 100 ether);
        assertEq(power.getPastVotes(o2, t), 150 ether);
        assertEq(power.getPastVotes(o, t) + power.getPastVotes(o2, t), staking.totalBonded());
    }

    function test_Attack_FlashBondAndUnbondInOneBlockLeavesNothing() public {
        uint256 t = block.number;
        uint256 before = power.getPastVotes(o, t - 1);
        vm.startPrank(attacker);
        staking.bond(1000 ether, o);
        staking.unbond(1000 ether);
        vm.stopPrank();
        vm.roll(t + 1);
        assertEq(power.getPastVotes(o, t), before);
        assertEq(power.getPastBalanceOf(attacker, t), 0);
        assertEq(power.getPastDelegate(attacker, t), address(0));
        assertEq(power.getVotes(o), before);
    }

    function test_Attack_CurrentAndFutureBlocksCannotBeRead() public {
        vm.prank(attacker);
        staking.bond(1000 ether, o);
        uint256 n = block.number;
        vm.expectRevert(abi.encodeWithSelector(IStakeVotes.FutureLookup.selector, n, n));
        staking.getPastPoolStake(o, n);
        vm.expectRevert(abi.encodeWithSelector(IStakeVotes.FutureLookup.selector, n, n));
        power.getPastBalanceOf(attacker, n);
        vm.expectRevert();
        power.getPastVotes(o, n);
        vm.expectRevert();
        power.getPastVotes(o, n + 100);
    }

    /// @dev Rewards and claims make a delegator's settled stake grow, but never past what its
    ///      orchestrator's pool counts for it: Σ overrides ≤ pool at every block.
    function test_Attack_OverrideNeverExceedsWhatThePoolCounted() public {
        vm.prank(attacker);
        staking.bond(500 ether, o);
        uint256[] memory blocks = new uint256[](12);
        for (uint256 i; i < 12; ++i) {
            nextRound();
            vm.prank(o);
            staking.reward();
            payFees(o, 1 ether);
            vm.prank(attacker);
            staking.claimEarnings();
            if (i % 3 == 0) {
                vm.prank(d);
                staking.claimEarnings();
            }
            blocks[i] = block.number;
            vm.roll(block.number + 1);
        }
        for (uint256 i; i < 12; ++i) {
            uint256 t = blocks[i];
            uint256 overrides =
                power.getPastBalanceOf(attacker, t) + power.getPastBalanceOf(d, t) + power.getPastBalanceOf(o, t);
            assertLe(overrides, staking.getPastPoolStake(o, t));
            assertGt(power.getPastBalanceOf(attacker, t), 500 ether);
        }
    }

    /// @dev A slashed orchestrator's delegators keep their weight, and its own shrinks with its pool.
    function test_Attack_SlashCannotLeaveOverridesAboveThePool() public {
        vm.prank(attacker);
        staking.bond(500 ether, o);
        vm.prank(verifier);
        staking.slash(o, address(0), 1_000_000, 0);
        uint256 t = snapshot();
        uint256 overrides =
            power.getPastBalanceOf(attacker, t) + power.getPastBalanceOf(d, t) + power.getPastBalanceOf(o, t);
        assertEq(power.getPastBalanceOf(o, t), 0);
        assertEq(overrides, staking.getPastPoolStake(o, t));
    }

    /// @dev Hundreds of changes in as many blocks: a lookup stays a binary search (bounded gas).
    function test_Attack_ManyChangesKeepLookupsCheap() public {
        for (uint256 i; i < 300; ++i) {
            vm.prank(attacker);
            staking.bond(1 ether, o);
            vm.roll(block.number + 1);
        }
        uint256 oldest = block.number - 300; // the first bond's block
        uint256 gasBefore = gasleft();
        uint256 stake = staking.getPastPoolStake(o, oldest);
        uint256 bonded = staking.getPastBondedStake(attacker, oldest);
        uint256 used = gasBefore - gasleft();
        assertEq(stake, 151 ether);
        assertEq(bonded, 1 ether);
        assertLt(used, 50_000, "lookups are O(log n) reads");
    }
}
