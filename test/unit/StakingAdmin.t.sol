// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StakingHelpers} from "../utils/StakingHelpers.sol";
import {Staking} from "../../contracts/Staking.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";
import {IWorkToken} from "../../contracts/interfaces/IWorkToken.sol";

/// @notice Constructor checks, wiring, owner-only parameters, ownership transfer, round clock and
///         parameter views.
contract StakingAdminTest is StakingHelpers {
    address internal stranger = makeAddr("stranger");

    function freshStaking() internal returns (Staking) {
        return new Staking(token, 100, 10, 3, 2, 1 ether, 100, address(this));
    }

    /* CONSTRUCTOR */

    function test_Constructor_SetsParameters() public {
        vm.roll(500);
        Staking s = new Staking(token, 40, 4, 5, 6, 7 ether, 120, stranger);
        assertEq(address(s.token()), address(token));
        assertEq(s.startBlock(), 500);
        assertEq(s.roundLength(), 40);
        assertEq(s.lockBlocks(), 4);
        assertEq(s.unbondingPeriod(), 5);
        assertEq(s.rateChangeCooldown(), 6);
        assertEq(s.minActiveStake(), 7 ether);
        assertEq(s.maxActive(), 120);
        assertEq(s.owner(), stranger);
        assertEq(address(s.minter()), address(0));
        assertEq(s.ticketBroker(), address(0));
        assertEq(s.verifier(), address(0));
        assertEq(s.currentRound(), 0);
    }

    function test_RevertWhen_ConstructedWithZeroToken() public {
        vm.expectRevert(IStaking.InvalidParameters.selector);
        new Staking(IWorkToken(address(0)), 100, 10, 3, 2, 1 ether, 100, address(this));
    }

    function test_RevertWhen_ConstructedWithZeroRoundLength() public {
        vm.expectRevert(IStaking.InvalidParameters.selector);
        new Staking(token, 0, 0, 3, 2, 1 ether, 100, address(this));
    }

    function test_RevertWhen_ConstructedWithLockWindowCoveringRound() public {
        vm.expectRevert(IStaking.InvalidParameters.selector);
        new Staking(token, 100, 100, 3, 2, 1 ether, 100, address(this));
    }

    function test_RevertWhen_ConstructedWithZeroUnbondingPeriod() public {
        vm.expectRevert(IStaking.InvalidParameters.selector);
        new Staking(token, 100, 10, 0, 2, 1 ether, 100, address(this));
    }

    function test_RevertWhen_ConstructedWithZeroRateChangeCooldown() public {
        vm.expectRevert(IStaking.InvalidParameters.selector);
        new Staking(token, 100, 10, 3, 0, 1 ether, 100, address(this));
    }

    function test_RevertWhen_ConstructedWithMaxActiveBelow100() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.MaxActiveTooSmall.selector, 99, 100));
        new Staking(token, 100, 10, 3, 2, 1 ether, 99, address(this));
    }

    /* WIRE */

    function test_Wire_SetsMinterAndBrokerOnce() public {
        Staking s = freshStaking();
        vm.expectEmit(address(s));
        emit IStaking.Wired(address(minter), address(broker));
        s.wire(address(minter), address(broker));
        assertEq(address(s.minter()), address(minter));
        assertEq(s.ticketBroker(), address(broker));
        vm.expectRevert(IStaking.AlreadyWired.selector);
        s.wire(address(minter), address(broker));
    }

    function test_RevertWhen_WireTwice() public {
        vm.expectRevert(IStaking.AlreadyWired.selector);
        vm.prank(governance());
        staking.wire(address(minter), address(broker));
    }

    function test_RevertWhen_WireZeroMinter() public {
        Staking s = freshStaking();
        vm.expectRevert(IStaking.ZeroAddress.selector);
        s.wire(address(0), address(broker));
    }

    function test_RevertWhen_WireZeroBroker() public {
        Staking s = freshStaking();
        vm.expectRevert(IStaking.ZeroAddress.selector);
        s.wire(address(minter), address(0));
    }

    function test_RevertWhen_WireNotOwner() public {
        Staking s = freshStaking();
        vm.expectRevert(ownableUnauthorized(stranger));
        vm.prank(stranger);
        s.wire(address(minter), address(broker));
    }

    /* PARAMETERS */

    function test_SetMinActiveStake() public {
        vm.expectEmit(address(staking));
        emit IStaking.MinActiveStakeSet(5 ether);
        vm.prank(governance());
        staking.setMinActiveStake(5 ether);
        assertEq(staking.minActiveStake(), 5 ether);
    }

    function test_RevertWhen_SetMinActiveStakeNotOwner() public {
        vm.expectRevert(ownableUnauthorized(stranger));
        vm.prank(stranger);
        staking.setMinActiveStake(5 ether);
    }

    function test_SetMaxActive_RaisesAndLowersAboveFloor() public {
        vm.expectEmit(address(staking));
        emit IStaking.MaxActiveSet(150);
        vm.prank(governance());
        staking.setMaxActive(150);
        assertEq(staking.maxActive(), 150);
        vm.prank(governance());
        staking.setMaxActive(100);
        assertEq(staking.maxActive(), 100);
    }

    function test_RevertWhen_SetMaxActiveBelow100() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.MaxActiveTooSmall.selector, 99, 100));
        vm.prank(governance());
        staking.setMaxActive(99);
    }

    function test_RevertWhen_SetMaxActiveBelowCurrentSize() public {
        vm.prank(governance());
        staking.setMaxActive(101);
        fillOrchestrators("f", 101, 1 ether);
        assertEq(staking.activeSet().length, 101);
        vm.expectRevert(abi.encodeWithSelector(IStaking.MaxActiveTooSmall.selector, 100, 101));
        vm.prank(governance());
        staking.setMaxActive(100);
        vm.prank(governance());
        staking.setMaxActive(101);
    }

    function test_RevertWhen_SetMaxActiveNotOwner() public {
        vm.expectRevert(ownableUnauthorized(stranger));
        vm.prank(stranger);
        staking.setMaxActive(150);
    }

    function test_SetVerifier() public {
        vm.expectEmit(address(staking));
        emit IStaking.VerifierSet(stranger);
        vm.prank(governance());
        staking.setVerifier(stranger);
        assertEq(staking.verifier(), stranger);
    }

    function test_RevertWhen_SetVerifierNotOwner() public {
        vm.expectRevert(ownableUnauthorized(stranger));
        vm.prank(stranger);
        staking.setVerifier(stranger);
    }

    /* OWNERSHIP (Ownable2Step) */

    function test_TransferOwnership_TwoStep() public {
        vm.prank(governance());
        staking.transferOwnership(stranger);
        assertEq(staking.owner(), governance());
        assertEq(staking.pendingOwner(), stranger);
        vm.prank(stranger);
        staking.acceptOwnership();
        assertEq(staking.owner(), stranger);
        assertEq(staking.pendingOwner(), address(0));

        vm.expectRevert(ownableUnauthorized(governance()));
        vm.prank(governance());
        staking.setMinActiveStake(0);
        vm.prank(stranger);
        staking.setMinActiveStake(0);
        assertEq(staking.minActiveStake(), 0);
    }

    function test_RevertWhen_AcceptOwnershipNotPending() public {
        vm.prank(governance());
        staking.transferOwnership(stranger);
        address other = makeAddr("other");
        vm.expectRevert(ownableUnauthorized(other));
        vm.prank(other);
        staking.acceptOwnership();
    }

    function test_RevertWhen_TransferOwnershipNotOwner() public {
        vm.expectRevert(ownableUnauthorized(stranger));
        vm.prank(stranger);
        staking.transferOwnership(stranger);
    }

    function test_RenounceOwnership_LocksParameters() public {
        vm.prank(governance());
        staking.renounceOwnership();
        assertEq(staking.owner(), address(0));
        vm.expectRevert(ownableUnauthorized(governance()));
        vm.prank(governance());
        staking.setMaxActive(150);
    }

    /* ROUNDS AND VIEWS OF THE DEPLOYMENT */

    function test_DeploymentParameters() public view {
        assertEq(address(staking.token()), address(token));
        assertEq(staking.startBlock(), 1);
        assertEq(staking.roundLength(), 100);
        assertEq(staking.lockBlocks(), 10);
        assertEq(staking.unbondingPeriod(), 3);
        assertEq(staking.rateChangeCooldown(), 2);
        assertEq(staking.minActiveStake(), 1 ether);
        assertEq(staking.maxActive(), 100);
        assertEq(staking.verifier(), verifier);
        assertEq(staking.ticketBroker(), address(broker));
        assertEq(address(staking.minter()), address(minter));
        assertEq(staking.owner(), governance());
        assertEq(staking.totalBonded(), 0);
        assertEq(staking.activeSet().length, 0);
    }

    function test_CurrentRound_CountsWholeRoundsFromStartBlock() public {
        assertEq(staking.currentRound(), 0);
        vm.roll(100); // startBlock 1 + 99
        assertEq(staking.currentRound(), 0);
        vm.roll(101);
        assertEq(staking.currentRound(), 1);
        vm.roll(1 + 100 * 7 + 42);
        assertEq(staking.currentRound(), 7);
    }
}
