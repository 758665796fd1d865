// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StakingHelpers} from "../utils/StakingHelpers.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice slash: verifier only, penalty on the orchestrator's own stake, finder fee paid, the rest
///         burned, the orchestrator out of the registry and (from next round) the active set.
/// @dev Setup (round 0) as in StakingRewardsTest: o self-bonds 100 (10%, 50%), d delegates 100 to o,
///      o2 self-bonds 200. Genesis supply 15M.
contract StakingSlashTest is StakingHelpers {
    address internal o;
    address internal o2;
    address internal d = makeAddr("d");
    address internal d2 = makeAddr("d2");
    address internal finder = makeAddr("finder");

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 100 ether, 100_000, 500_000);
        bondAs(d, 100 ether, o);
        o2 = newOrchestrator("o2", 200 ether, 0, 0);
    }

    /* SLASH */

    function test_Slash_BurnsPenaltyAndPaysFinder() public {
        vm.expectEmit(address(staking));
        emit IStaking.OrchestratorDeactivated(o, 1);
        vm.expectEmit(address(staking));
        emit IStaking.Slashed(o, finder, 50 ether, 5 ether);
        vm.prank(verifier);
        staking.slash(o, finder, 500_000, 100_000);

        assertEq(token.totalSupply(), GENESIS_SUPPLY - 45 ether);
        assertEq(token.balanceOf(finder), 5 ether);
        assertEq(token.balanceOf(address(staking)), 350 ether);
        assertEq(staking.totalBonded(), 350 ether);
        assertFalse(staking.isRegistered(o));
        assertFalse(inActiveSet(o));
        assertEq(staking.orchestratorInfo(o).stake, 150 ether);
        assertEq(staking.pendingStake(o), 50 ether);
        assertEq(staking.pendingStake(d), 100 ether);
    }

    function test_Slash_WithoutFinderBurnsWholePenalty() public {
        vm.expectEmit(address(staking));
        emit IStaking.Slashed(o, address(0), 50 ether, 0);
        vm.prank(verifier);
        staking.slash(o, address(0), 500_000, 100_000);
        assertEq(token.totalSupply(), GENESIS_SUPPLY - 50 ether);
    }

    function test_Slash_WholeStakeWithWholePenaltyToFinder() public {
        vm.prank(verifier);
        staking.slash(o, finder, 1_000_000, 1_000_000);
        assertEq(token.balanceOf(finder), 100 ether);
        assertEq(token.totalSupply(), GENESIS_SUPPLY);
        assertEq(staking.pendingStake(o), 0);
        assertEq(staking.orchestratorInfo(o).stake, 100 ether);
    }

    function test_Slash_ZeroPercentOnlyUnregisters() public {
        vm.expectEmit(address(staking));
        emit IStaking.Slashed(o, finder, 0, 0);
        vm.prank(verifier);
        staking.slash(o, finder, 0, 100_000);
        assertFalse(staking.isRegistered(o));
        assertFalse(inActiveSet(o));
        assertEq(token.totalSupply(), GENESIS_SUPPLY);
        assertEq(staking.pendingStake(o), 100 ether);
    }

    function test_Slash_IncludesUnclaimedRewards() public {
        nextRound();
        vm.prank(o);
        staking.reward(); // o: 1003.375
        uint256 supply = token.totalSupply();
        vm.expectEmit(address(staking));
        emit IStaking.Slashed(o, finder, 501.6875 ether, 50.16875 ether);
        vm.prank(verifier);
        staking.slash(o, finder, 500_000, 100_000);
        assertEq(staking.pendingStake(o), 501.6875 ether);
        assertEq(token.totalSupply(), supply - 451.51875 ether);
    }

    function test_Slash_OrchestratorWithoutSelfBondLosesNothing() public {
        address x = makeAddr("x");
        vm.prank(x);
        staking.registerOrchestrator(0, 0);
        bondAs(d2, 10 ether, x);
        vm.expectEmit(address(staking));
        emit IStaking.Slashed(x, finder, 0, 0);
        vm.prank(verifier);
        staking.slash(x, finder, 1_000_000, 100_000);
        assertFalse(staking.isRegistered(x));
        assertEq(staking.pendingStake(d2), 10 ether);
    }

    function test_Slash_KeepsEarnedFeesWithdrawable() public {
        nextRound();
        payFees(o, 1 ether);
        vm.prank(verifier);
        staking.slash(o, finder, 500_000, 0);
        assertEq(staking.pendingFees(o), 0.75 ether);
        assertEq(staking.pendingFees(d), 0.25 ether);
        vm.prank(o);
        staking.withdrawFees(o, 0.75 ether);
        assertEq(token.balanceOf(o), 0.75 ether);
    }

    function test_Slash_ActiveUntilRoundEndButNotEligibleForReserve() public {
        nextRound();
        vm.expectEmit(address(staking));
        emit IStaking.OrchestratorDeactivated(o, 2);
        vm.prank(verifier);
        staking.slash(o, finder, 500_000, 0);
        assertTrue(staking.isActive(o, 1));
        assertFalse(staking.isActive(o, 2));
        (bool eligible,) = staking.reserveEligibility(o, 1, 1);
        assertFalse(eligible);
        nextRound();
        (uint256 count, uint256 stake) = staking.activeTotalsThisRound();
        assertEq(count, 1);
        assertEq(stake, 200 ether);
    }

    function test_Slash_TicketsNoLongerCredited() public {
        ITicketBroker.SignedTicket memory st = signedTicket(o, 1 ether);
        vm.prank(verifier);
        staking.slash(o, finder, 500_000, 0);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotOrchestrator.selector, o));
        vm.prank(o);
        broker.redeemWinningTicket(st);
    }

    function test_Slash_DelegatorsCanRedelegateAndUnbond() public {
        vm.prank(verifier);
        staking.slash(o, finder, 500_000, 0);
        vm.prank(d);
        staking.unbond(40 ether);
        vm.expectEmit(address(staking));
        emit IStaking.DelegateChanged(d, o, o2, 60 ether);
        vm.prank(d);
        staking.bond(0, o2);
        assertEq(staking.orchestratorInfo(o2).stake, 260 ether);
        assertEq(staking.orchestratorInfo(o).stake, 50 ether);
    }

    function test_Slash_ByNewVerifier() public {
        address v2 = makeAddr("v2");
        vm.prank(governance());
        staking.setVerifier(v2);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotVerifier.selector, verifier));
        vm.prank(verifier);
        staking.slash(o, finder, 500_000, 0);
        vm.prank(v2);
        staking.slash(o, finder, 500_000, 0);
        assertFalse(staking.isRegistered(o));
    }

    function test_RevertWhen_SlashNotVerifier() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotVerifier.selector, address(this)));
        staking.slash(o, finder, 500_000, 0);
    }

    function test_RevertWhen_SlashPercentAbovePpm() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.RateAbovePpm.selector, 1_000_001));
        vm.prank(verifier);
        staking.slash(o, finder, 1_000_001, 0);
    }

    function test_RevertWhen_SlashFinderFeeAbovePpm() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.RateAbovePpm.selector, 1_000_001));
        vm.prank(verifier);
        staking.slash(o, finder, 0, 1_000_001);
    }

    function test_RevertWhen_SlashUnregistered() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotOrchestrator.selector, d));
        vm.prank(verifier);
        staking.slash(d, finder, 500_000, 0);
    }

    function test_RevertWhen_SlashTwice() public {
        vm.prank(verifier);
        staking.slash(o, finder, 500_000, 0);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotOrchestrator.selector, o));
        vm.prank(verifier);
        staking.slash(o, finder, 500_000, 0);
    }
}
