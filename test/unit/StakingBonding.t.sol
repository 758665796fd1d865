// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StakingHelpers} from "../utils/StakingHelpers.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice bond, bondFor, redelegation, unbond, rebond, rebondFromUnbonded, withdrawStake, claimEarnings
///         (authorization and bookkeeping), and the per-account views.
contract StakingBondingTest is StakingHelpers {
    address internal o;
    address internal o2;
    address internal d = makeAddr("d");
    address internal payer = makeAddr("payer");

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 100 ether, 100_000, 500_000);
        o2 = newOrchestrator("o2", 100 ether, 0, 0);
    }

    /* BOND */

    function test_Bond_OpensPositionWithOrchestrator() public {
        fund(d, 10 ether);
        vm.expectEmit(address(staking));
        emit IStaking.Bond(d, d, o, 10 ether);
        vm.prank(d);
        staking.bond(10 ether, o);

        assertEq(staking.delegateOf(d), o);
        assertEq(staking.pendingStake(d), 10 ether);
        assertEq(staking.orchestratorInfo(o).stake, 110 ether);
        assertEq(staking.totalBonded(), 210 ether);
        assertEq(token.balanceOf(d), 0);
        assertEq(token.balanceOf(address(staking)), 210 ether);
    }

    function test_Bond_TopsUpSameDelegate() public {
        bondAs(d, 10 ether, o);
        fund(d, 5 ether);
        vm.expectEmit(address(staking));
        emit IStaking.Bond(d, d, o, 5 ether);
        vm.prank(d);
        staking.bond(5 ether, o);

        assertEq(staking.pendingStake(d), 15 ether);
        assertEq(staking.orchestratorInfo(o).stake, 115 ether);
        assertEq(staking.totalBonded(), 215 ether);
    }

    function test_Bond_SelfDelegationWithoutRegistration() public {
        bondAs(d, 10 ether, d);
        assertEq(staking.delegateOf(d), d);
        assertEq(staking.pendingStake(d), 10 ether);
        assertFalse(staking.isRegistered(d));
        assertFalse(inActiveSet(d));
        assertEq(staking.orchestratorInfo(d).stake, 10 ether);
        assertEq(staking.totalBonded(), 210 ether);
    }

    function test_Bond_ZeroAmountOpensEmptyPosition() public {
        vm.expectEmit(address(staking));
        emit IStaking.Bond(d, d, o, 0);
        vm.prank(d);
        staking.bond(0, o);
        assertEq(staking.delegateOf(d), o);
        assertEq(staking.pendingStake(d), 0);
        assertEq(staking.totalBonded(), 200 ether);
    }

    function test_Bond_RedelegationMovesWholeBond() public {
        bondAs(d, 10 ether, o);
        vm.expectEmit(address(staking));
        emit IStaking.DelegateChanged(d, o, o2, 10 ether);
        vm.expectEmit(address(staking));
        emit IStaking.Bond(d, d, o2, 0);
        vm.prank(d);
        staking.bond(0, o2);

        assertEq(staking.delegateOf(d), o2);
        assertEq(staking.pendingStake(d), 10 ether);
        assertEq(staking.orchestratorInfo(o).stake, 100 ether);
        assertEq(staking.orchestratorInfo(o2).stake, 110 ether);
        assertEq(staking.totalBonded(), 210 ether);
        assertEq(token.balanceOf(address(staking)), 210 ether);
    }

    function test_Bond_RedelegationWithAmountMovesBondPlusAmount() public {
        bondAs(d, 10 ether, o);
        fund(d, 5 ether);
        vm.expectEmit(address(staking));
        emit IStaking.DelegateChanged(d, o, o2, 10 ether);
        vm.expectEmit(address(staking));
        emit IStaking.Bond(d, d, o2, 5 ether);
        vm.prank(d);
        staking.bond(5 ether, o2);

        assertEq(staking.pendingStake(d), 15 ether);
        assertEq(staking.orchestratorInfo(o).stake, 100 ether);
        assertEq(staking.orchestratorInfo(o2).stake, 115 ether);
        assertEq(staking.totalBonded(), 215 ether);
    }

    function test_Bond_RedelegationCarriesUnclaimedRewards() public {
        bondAs(d, 100 ether, o);
        nextRound();
        vm.prank(o);
        staking.reward();
        uint256 earned = staking.pendingStake(d);
        assertGt(earned, 100 ether);
        uint256 o2Before = staking.orchestratorInfo(o2).stake;
        uint256 oBefore = staking.orchestratorInfo(o).stake;

        vm.expectEmit(address(staking));
        emit IStaking.EarningsClaimed(d, o, earned - 100 ether, 0);
        vm.expectEmit(address(staking));
        emit IStaking.DelegateChanged(d, o, o2, earned);
        vm.prank(d);
        staking.bond(0, o2);

        assertEq(staking.pendingStake(d), earned);
        assertEq(staking.orchestratorInfo(o2).stake, o2Before + earned);
        assertEq(staking.orchestratorInfo(o).stake, oBefore - earned);
    }

    function test_Bond_UnregisteredSelfBonderMovesToOrchestrator() public {
        bondAs(d, 10 ether, d);
        vm.prank(d);
        staking.bond(0, o);
        assertEq(staking.delegateOf(d), o);
        assertEq(staking.orchestratorInfo(d).stake, 0);
        assertEq(staking.orchestratorInfo(o).stake, 110 ether);
    }

    function test_RevertWhen_BondZeroToCurrentDelegate() public {
        bondAs(d, 10 ether, o);
        vm.expectRevert(IStaking.NothingToBond.selector);
        vm.prank(d);
        staking.bond(0, o);
    }

    function test_RevertWhen_BondToZeroAddress() public {
        fund(d, 1 ether);
        vm.expectRevert(IStaking.ZeroAddress.selector);
        vm.prank(d);
        staking.bond(1 ether, address(0));
    }

    function test_RevertWhen_BondToUnregistered() public {
        address x = makeAddr("x");
        fund(d, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotOrchestrator.selector, x));
        vm.prank(d);
        staking.bond(1 ether, x);
    }

    function test_RevertWhen_OrchestratorBondsToAnother() public {
        fund(o, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(IStaking.OrchestratorMustSelfDelegate.selector, o));
        vm.prank(o);
        staking.bond(1 ether, o2);
    }

    function test_RevertWhen_BondWithoutAllowance() public {
        give(d, 1 ether);
        vm.expectRevert(erc20InsufficientAllowance(address(staking), 0, 1 ether));
        vm.prank(d);
        staking.bond(1 ether, o);
    }

    /* BOND FOR */

    function test_BondFor_OwnerCallOpensPosition() public {
        fund(d, 10 ether);
        vm.expectEmit(address(staking));
        emit IStaking.Bond(d, d, o, 10 ether);
        vm.prank(d);
        staking.bondFor(d, 10 ether, o);
        assertEq(staking.delegateOf(d), o);
        assertEq(staking.pendingStake(d), 10 ether);
    }

    function test_BondFor_ThirdPartyTopsUpExistingPosition() public {
        bondAs(d, 10 ether, o);
        fund(payer, 5 ether);
        vm.expectEmit(address(staking));
        emit IStaking.Bond(d, payer, o, 5 ether);
        vm.prank(payer);
        staking.bondFor(d, 5 ether, o);

        assertEq(staking.pendingStake(d), 15 ether);
        assertEq(staking.pendingStake(payer), 0);
        assertEq(staking.delegateOf(payer), address(0));
        assertEq(token.balanceOf(payer), 0);
        assertEq(token.balanceOf(d), 0);
        assertEq(staking.orchestratorInfo(o).stake, 115 ether);
        assertEq(staking.totalBonded(), 215 ether);
    }

    function test_BondFor_ThirdPartyTopsUpOrchestratorSelfBond() public {
        fund(payer, 5 ether);
        vm.prank(payer);
        staking.bondFor(o, 5 ether, o);
        assertEq(staking.pendingStake(o), 105 ether);
        assertEq(staking.orchestratorInfo(o).stake, 105 ether);
    }

    function test_RevertWhen_BondForThirdPartyOpensPosition() public {
        fund(payer, 5 ether);
        vm.expectRevert(abi.encodeWithSelector(IStaking.ThirdPartyCannotOpenPosition.selector, d));
        vm.prank(payer);
        staking.bondFor(d, 5 ether, o);
    }

    function test_RevertWhen_BondForThirdPartyForcesSelfDelegation() public {
        fund(payer, 5 ether);
        vm.expectRevert(abi.encodeWithSelector(IStaking.ThirdPartyCannotOpenPosition.selector, d));
        vm.prank(payer);
        staking.bondFor(d, 5 ether, d);
    }

    function test_RevertWhen_BondForThirdPartyChangesDelegate() public {
        bondAs(d, 10 ether, o);
        fund(payer, 5 ether);
        vm.expectRevert(abi.encodeWithSelector(IStaking.ThirdPartyCannotChangeDelegate.selector, d, o, o2));
        vm.prank(payer);
        staking.bondFor(d, 5 ether, o2);
    }

    function test_RevertWhen_BondForThirdPartyZeroAmount() public {
        bondAs(d, 10 ether, o);
        vm.expectRevert(IStaking.NothingToBond.selector);
        vm.prank(payer);
        staking.bondFor(d, 0, o);
    }

    function test_RevertWhen_BondForThirdPartyAfterOwnerFullyUnbonded() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(10 ether);
        fund(payer, 5 ether);
        vm.expectRevert(abi.encodeWithSelector(IStaking.ThirdPartyCannotOpenPosition.selector, d));
        vm.prank(payer);
        staking.bondFor(d, 5 ether, o);
    }

    /* UNBOND */

    function test_Unbond_CreatesLock() public {
        bondAs(d, 10 ether, o);
        vm.expectEmit(address(staking));
        emit IStaking.Unbond(d, o, 0, 4 ether, 3);
        vm.prank(d);
        uint256 lockId = staking.unbond(4 ether);

        assertEq(lockId, 0);
        IStaking.UnbondingLock memory lock = staking.unbondingLock(d, 0);
        assertEq(lock.amount, 4 ether);
        assertEq(lock.withdrawRound, 3);
        assertEq(staking.pendingStake(d), 6 ether);
        assertEq(staking.delegateOf(d), o);
        assertEq(staking.orchestratorInfo(o).stake, 106 ether);
        assertEq(staking.totalBonded(), 206 ether);
        assertEq(token.balanceOf(address(staking)), 210 ether);
    }

    function test_Unbond_LockIdsIncrementAndWithdrawRoundFollowsCurrentRound() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        assertEq(staking.unbond(1 ether), 0);
        rollRounds(2);
        vm.prank(d);
        assertEq(staking.unbond(2 ether), 1);
        assertEq(staking.unbondingLock(d, 0).withdrawRound, 3);
        assertEq(staking.unbondingLock(d, 1).withdrawRound, 5);
        assertEq(staking.unbondingLock(d, 1).amount, 2 ether);
    }

    function test_Unbond_FullDelegatorClearsDelegate() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(10 ether);
        assertEq(staking.delegateOf(d), address(0));
        assertEq(staking.pendingStake(d), 0);
        assertEq(staking.orchestratorInfo(o).stake, 100 ether);
    }

    function test_Unbond_FullOrchestratorStaysSelfDelegatedAndLeavesSet() public {
        vm.expectEmit(address(staking));
        emit IStaking.OrchestratorDeactivated(o, 1);
        vm.expectEmit(address(staking));
        emit IStaking.Unbond(o, o, 0, 100 ether, 3);
        vm.prank(o);
        staking.unbond(100 ether);

        assertEq(staking.delegateOf(o), o);
        assertTrue(staking.isRegistered(o));
        assertFalse(inActiveSet(o));
        assertEq(staking.pendingStake(o), 0);
    }

    function test_Unbond_IncludesUnclaimedRewards() public {
        bondAs(d, 100 ether, o);
        nextRound();
        vm.prank(o);
        staking.reward();
        uint256 all = staking.pendingStake(d);
        assertGt(all, 100 ether);
        vm.prank(d);
        staking.unbond(all);
        assertEq(staking.unbondingLock(d, 0).amount, all);
        assertEq(staking.delegateOf(d), address(0));
    }

    function test_RevertWhen_UnbondZero() public {
        bondAs(d, 10 ether, o);
        vm.expectRevert(IStaking.ZeroAmount.selector);
        vm.prank(d);
        staking.unbond(0);
    }

    function test_RevertWhen_UnbondNotBonded() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotBonded.selector, d));
        vm.prank(d);
        staking.unbond(1);
    }

    function test_RevertWhen_UnbondMoreThanBonded() public {
        bondAs(d, 10 ether, o);
        vm.expectRevert(abi.encodeWithSelector(IStaking.InsufficientBond.selector, 10 ether, 10 ether + 1));
        vm.prank(d);
        staking.unbond(10 ether + 1);
    }

    /* WITHDRAW STAKE */

    function test_WithdrawStake_AfterUnbondingPeriod() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(4 ether);
        rollRounds(3);
        vm.expectEmit(address(staking));
        emit IStaking.WithdrawStake(d, 0, 4 ether);
        vm.prank(d);
        staking.withdrawStake(0);

        assertEq(token.balanceOf(d), 4 ether);
        assertEq(token.balanceOf(address(staking)), 206 ether);
        assertEq(staking.unbondingLock(d, 0).amount, 0);
        assertEq(staking.unbondingLock(d, 0).withdrawRound, 0);
        assertEq(staking.pendingStake(d), 6 ether);
    }

    function test_WithdrawStake_LongAfterUnbondingPeriod() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(10 ether);
        rollRounds(10);
        vm.prank(d);
        staking.withdrawStake(0);
        assertEq(token.balanceOf(d), 10 ether);
    }

    function test_RevertWhen_WithdrawStakeBeforeUnbondingPeriodOver() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(4 ether);
        vm.expectRevert(abi.encodeWithSelector(IStaking.UnbondingNotOver.selector, 3, 0));
        vm.prank(d);
        staking.withdrawStake(0);

        rollRounds(2);
        rollToOffset(99); // last block of round 2
        vm.expectRevert(abi.encodeWithSelector(IStaking.UnbondingNotOver.selector, 3, 2));
        vm.prank(d);
        staking.withdrawStake(0);
    }

    function test_RevertWhen_WithdrawStakeUnknownLock() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.UnknownUnbondingLock.selector, d, 7));
        vm.prank(d);
        staking.withdrawStake(7);
    }

    function test_RevertWhen_WithdrawStakeTwice() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(4 ether);
        rollRounds(3);
        vm.prank(d);
        staking.withdrawStake(0);
        vm.expectRevert(abi.encodeWithSelector(IStaking.UnknownUnbondingLock.selector, d, 0));
        vm.prank(d);
        staking.withdrawStake(0);
    }

    function test_RevertWhen_WithdrawStakeOfAnotherOwnersLock() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(4 ether);
        rollRounds(3);
        vm.expectRevert(abi.encodeWithSelector(IStaking.UnknownUnbondingLock.selector, payer, 0));
        vm.prank(payer);
        staking.withdrawStake(0);
    }

    /* REBOND */

    function test_Rebond_MovesLockBackToDelegate() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(4 ether);
        vm.expectEmit(address(staking));
        emit IStaking.Rebond(d, o, 0, 4 ether);
        vm.prank(d);
        staking.rebond(0);

        assertEq(staking.pendingStake(d), 10 ether);
        assertEq(staking.unbondingLock(d, 0).amount, 0);
        assertEq(staking.orchestratorInfo(o).stake, 110 ether);
        assertEq(staking.totalBonded(), 210 ether);
        assertEq(token.balanceOf(address(staking)), 210 ether);
    }

    function test_Rebond_AfterUnbondingPeriod() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(4 ether);
        rollRounds(5);
        vm.prank(d);
        staking.rebond(0);
        assertEq(staking.pendingStake(d), 10 ether);
    }

    function test_Rebond_GoesToCurrentDelegateAfterRedelegation() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(4 ether);
        vm.prank(d);
        staking.bond(0, o2);
        vm.expectEmit(address(staking));
        emit IStaking.Rebond(d, o2, 0, 4 ether);
        vm.prank(d);
        staking.rebond(0);
        assertEq(staking.orchestratorInfo(o2).stake, 110 ether);
        assertEq(staking.orchestratorInfo(o).stake, 100 ether);
    }

    function test_RevertWhen_RebondNotBonded() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(10 ether);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotBonded.selector, d));
        vm.prank(d);
        staking.rebond(0);
    }

    function test_RevertWhen_RebondUnknownLock() public {
        bondAs(d, 10 ether, o);
        vm.expectRevert(abi.encodeWithSelector(IStaking.UnknownUnbondingLock.selector, d, 0));
        vm.prank(d);
        staking.rebond(0);
    }

    function test_RevertWhen_RebondWithdrawnLock() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(4 ether);
        rollRounds(3);
        vm.prank(d);
        staking.withdrawStake(0);
        vm.expectRevert(abi.encodeWithSelector(IStaking.UnknownUnbondingLock.selector, d, 0));
        vm.prank(d);
        staking.rebond(0);
    }

    /* REBOND FROM UNBONDED */

    function test_RebondFromUnbonded_BondsLockToNewDelegate() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(10 ether);
        vm.expectEmit(address(staking));
        emit IStaking.Rebond(d, o2, 0, 10 ether);
        vm.prank(d);
        staking.rebondFromUnbonded(o2, 0);

        assertEq(staking.delegateOf(d), o2);
        assertEq(staking.pendingStake(d), 10 ether);
        assertEq(staking.unbondingLock(d, 0).amount, 0);
        assertEq(staking.orchestratorInfo(o2).stake, 110 ether);
        assertEq(staking.orchestratorInfo(o).stake, 100 ether);
        assertEq(staking.totalBonded(), 210 ether);
    }

    function test_RebondFromUnbonded_ToSelf() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(10 ether);
        vm.prank(d);
        staking.rebondFromUnbonded(d, 0);
        assertEq(staking.delegateOf(d), d);
        assertEq(staking.pendingStake(d), 10 ether);
    }

    function test_RebondFromUnbonded_StartsAtPoolsCurrentFactors() public {
        bondAs(d, 100 ether, o);
        vm.prank(d);
        staking.unbond(100 ether);
        nextRound();
        vm.prank(o);
        staking.reward(); // grows o's pool before d comes back
        vm.prank(d);
        staking.rebondFromUnbonded(o, 0);
        assertEq(staking.pendingStake(d), 100 ether);
    }

    function test_RevertWhen_RebondFromUnbondedWhileBonded() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(4 ether);
        vm.expectRevert(abi.encodeWithSelector(IStaking.AlreadyBonded.selector, d, o));
        vm.prank(d);
        staking.rebondFromUnbonded(o2, 0);
    }

    function test_RevertWhen_RebondFromUnbondedToUnregistered() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(10 ether);
        address x = makeAddr("x");
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotOrchestrator.selector, x));
        vm.prank(d);
        staking.rebondFromUnbonded(x, 0);
    }

    function test_RevertWhen_RebondFromUnbondedToZeroAddress() public {
        bondAs(d, 10 ether, o);
        vm.prank(d);
        staking.unbond(10 ether);
        vm.expectRevert(IStaking.ZeroAddress.selector);
        vm.prank(d);
        staking.rebondFromUnbonded(address(0), 0);
    }

    function test_RevertWhen_RebondFromUnbondedUnknownLock() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.UnknownUnbondingLock.selector, d, 0));
        vm.prank(d);
        staking.rebondFromUnbonded(o, 0);
    }

    /* CLAIM EARNINGS */

    function test_RevertWhen_ClaimEarningsNotBonded() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotBonded.selector, d));
        vm.prank(d);
        staking.claimEarnings();
    }

    function test_ClaimEarnings_NothingAccruedChangesNothing() public {
        bondAs(d, 10 ether, o);
        vm.recordLogs();
        vm.prank(d);
        staking.claimEarnings();
        assertEq(vm.getRecordedLogs().length, 0);
        assertEq(staking.pendingStake(d), 10 ether);
        assertEq(staking.pendingFees(d), 0);
    }

    /* VIEWS */

    function test_DelegateOf_ZeroForUnknownAccount() public view {
        assertEq(staking.delegateOf(d), address(0));
        assertEq(staking.pendingStake(d), 0);
        assertEq(staking.pendingFees(d), 0);
        assertEq(staking.unbondingLock(d, 0).amount, 0);
    }
}
