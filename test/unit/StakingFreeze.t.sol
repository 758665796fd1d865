// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StakingHelpers} from "../utils/StakingHelpers.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice freeze / unfreeze: verifier only, counted; a frozen account can neither unbond nor move its
///         bonded principal to another delegate, but may bond more to its delegate, rebond and
///         withdraw earlier locks, and withdraw fees.
/// @dev Setup (round 0): o self-bonds 100 (10%, 50%), d delegates 100 to o, o2 self-bonds 200.
contract StakingFreezeTest is StakingHelpers {
    address internal o;
    address internal o2;
    address internal d = makeAddr("d");

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 100 ether, 100_000, 500_000);
        bondAs(d, 100 ether, o);
        o2 = newOrchestrator("o2", 200 ether, 0, 0);
    }

    function freeze(address account) internal {
        vm.prank(verifier);
        staking.freeze(account);
    }

    function unfreeze(address account) internal {
        vm.prank(verifier);
        staking.unfreeze(account);
    }

    function frozenError(address account) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IStaking.StakeFrozen.selector, account);
    }

    /* FREEZE AND UNFREEZE */

    function test_Freeze_CountsAndEmits() public {
        assertFalse(staking.frozen(o));
        vm.expectEmit(address(staking));
        emit IStaking.Frozen(o, 1);
        freeze(o);
        vm.expectEmit(address(staking));
        emit IStaking.Frozen(o, 2);
        freeze(o);
        assertEq(staking.freezeCount(o), 2);
        assertTrue(staking.frozen(o));
        assertFalse(staking.frozen(d), "only the named account");

        vm.expectEmit(address(staking));
        emit IStaking.Unfrozen(o, 1);
        unfreeze(o);
        assertTrue(staking.frozen(o));
        vm.expectEmit(address(staking));
        emit IStaking.Unfrozen(o, 0);
        unfreeze(o);
        assertFalse(staking.frozen(o));
        assertEq(staking.freezeCount(o), 0);
    }

    function test_RevertWhen_FreezeNotVerifier() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotVerifier.selector, o));
        vm.prank(o);
        staking.freeze(o2);
        // The owner cannot either: freezing is the verifier's alone.
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotVerifier.selector, address(this)));
        staking.freeze(o2);
    }

    function test_RevertWhen_UnfreezeNotVerifier() public {
        freeze(o);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotVerifier.selector, o));
        vm.prank(o);
        staking.unfreeze(o);
        assertTrue(staking.frozen(o));
    }

    function test_RevertWhen_UnfreezeBelowZero() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotFrozen.selector, o));
        unfreeze(o);
        freeze(o);
        unfreeze(o);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotFrozen.selector, o));
        unfreeze(o);
    }

    /* WHAT A FREEZE BLOCKS */

    function test_RevertWhen_FrozenOrchestratorUnbonds() public {
        freeze(o);
        vm.expectRevert(frozenError(o));
        vm.prank(o);
        staking.unbond(1);
        assertEq(staking.pendingStake(o), 100 ether);
    }

    function test_RevertWhen_FrozenDelegatorUnbondsOrRedelegates() public {
        freeze(d);
        vm.startPrank(d);
        vm.expectRevert(frozenError(d));
        staking.unbond(100 ether);
        vm.expectRevert(frozenError(d));
        staking.bond(0, o2);
        vm.stopPrank();
        fund(d, 5 ether);
        vm.expectRevert(frozenError(d));
        vm.prank(d);
        staking.bond(5 ether, o2);
        vm.expectRevert(frozenError(d));
        vm.prank(d);
        staking.bondFor(d, 5 ether, o2);
        assertEq(staking.delegateOf(d), o);
    }

    function test_RevertWhen_FrozenSlashedOrchestratorRedelegates() public {
        // Unregistered by an earlier slash, an orchestrator may delegate elsewhere: not while frozen.
        freeze(o);
        vm.prank(verifier);
        staking.slash(o, address(0), 0, 0);
        vm.expectRevert(frozenError(o));
        vm.prank(o);
        staking.bond(0, o2);
        assertEq(staking.delegateOf(o), o);
    }

    function test_Freeze_LeavesOtherAccountsFree() public {
        freeze(o);
        vm.prank(d);
        staking.unbond(100 ether); // o's delegators are not accused
        assertEq(staking.pendingStake(d), 0);
    }

    /* WHAT A FREEZE ALLOWS */

    function test_Freeze_BondingMoreToItsDelegateWorks() public {
        freeze(o);
        bondAs(o, 10 ether, o);
        fund(d, 5 ether);
        vm.prank(d);
        staking.bondFor(o, 5 ether, o); // a third-party top-up
        assertEq(staking.pendingStake(o), 115 ether);
    }

    /// @dev Locks made before the claim may have backed the work in dispute: they are held (and a
    ///      slash takes its share of them) until the freeze is lifted.
    function test_Freeze_HoldsEarlierLocksUntilUnfrozen() public {
        vm.startPrank(o);
        staking.unbond(10 ether);
        staking.unbond(20 ether);
        vm.stopPrank();
        freeze(o);
        vm.expectRevert(frozenError(o));
        vm.prank(o);
        staking.rebond(0);
        rollRounds(params.unbondingPeriod);
        vm.expectRevert(frozenError(o));
        vm.prank(o);
        staking.withdrawStake(1);
        unfreeze(o);
        vm.prank(o);
        staking.rebond(0);
        assertEq(staking.pendingStake(o), 80 ether);
        vm.prank(o);
        staking.withdrawStake(1);
        assertEq(token.balanceOf(o), 20 ether);
    }

    function test_Freeze_FullyUnbondedAccountCannotRebondItsLock() public {
        vm.prank(d);
        staking.unbond(100 ether);
        freeze(d);
        vm.expectRevert(frozenError(d));
        vm.prank(d);
        staking.rebondFromUnbonded(o2, 0);
        unfreeze(d);
        vm.prank(d);
        staking.rebondFromUnbonded(o2, 0);
        assertEq(staking.delegateOf(d), o2);
    }

    function test_Freeze_FeesStayWithdrawable() public {
        payFees(o, 1 ether);
        freeze(o);
        vm.prank(o);
        staking.withdrawFees(o, 0.75 ether);
        assertEq(token.balanceOf(o), 0.75 ether);
    }

    function test_Unfreeze_RestoresUnbondAndRedelegation() public {
        freeze(d);
        freeze(d);
        unfreeze(d);
        vm.expectRevert(frozenError(d));
        vm.prank(d);
        staking.unbond(1 ether);

        unfreeze(d);
        vm.startPrank(d);
        staking.unbond(1 ether);
        staking.bond(0, o2);
        vm.stopPrank();
        assertEq(staking.delegateOf(d), o2);
        assertEq(staking.pendingStake(d), 99 ether);
    }
}
