// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "../utils/Fixture.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice Deterministic reproduction of the sequence the invariant suite shrinks to for
///         invariant_rewardMintedOnlyForOwnedStake: a pool left with rounding dust only still mints.
contract DustPoolRewardTest is Fixture {
    address internal o;
    address internal other;
    address internal d = makeAddr("d");

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 10_000 ether, 200_000, 500_000);
        other = newOrchestrator("other", 10_000 ether, 100_000, 500_000);
        bondAs(d, 1_000 ether + 7, o); // any odd amount: claims round down and leave dust in the pool
        nextRound();
        vm.prank(o);
        staking.reward();
        vm.prank(d);
        staking.claimEarnings();
        nextRound();
    }

    function _crf(address x) internal view returns (uint256 crf) {
        (crf,) = staking.poolFactors(x);
    }

    function _drain() internal {
        uint256 so = staking.pendingStake(o);
        uint256 sd = staking.pendingStake(d);
        vm.prank(o);
        staking.unbond(so);
        if (sd > 0) {
            vm.prank(d);
            staking.unbond(sd);
        }
    }

    /// @dev Everyone leaves the pool this round; the orchestrator (still active until next round) calls reward().
    function test_RewardOnDustOnlyPoolMintsNothing() public {
        _drain();
        uint256 dust = staking.orchestratorInfo(o).stake;
        emit log_named_uint("pool stake after everyone unbonded (dust)", dust);
        assertGt(dust, 0, "no dust in this run");
        assertEq(staking.pendingStake(o) + staking.pendingStake(d), 0);

        uint256 bonded = staking.totalBonded();
        vm.prank(o);
        staking.reward();
        uint256 minted = staking.totalBonded() - bonded;
        emit log_named_uint("minted", minted);
        emit log_named_uint("owned by the orchestrator (its cut)", staking.pendingStake(o));
        emit log_named_uint("owned by nobody", staking.orchestratorInfo(o).stake - staking.pendingStake(o));
        assertEq(minted, 0, "a pool holding only rounding dust minted rewards that nobody owns");
    }

    /// @dev Consequence: the unowned minted stake stays in the pool for good. When the owners come back it
    ///      is counted in the pool's stake, so it takes its proportional share of every later reward and
    ///      fee of the pool (lost to the owners, stuck in Staking / the broker).
    function test_UnownedStakeStaysInThePool() public {
        _drain();
        vm.prank(o);
        staking.reward();
        nextRound();
        vm.prank(o);
        staking.rebond(0);
        vm.prank(d);
        staking.rebondFromUnbonded(o, 0);
        uint256 owned = staking.pendingStake(o) + staking.pendingStake(d);
        uint256 poolStake = staking.orchestratorInfo(o).stake;
        emit log_named_uint("pool stake", poolStake);
        emit log_named_uint("owned by its delegators", owned);
        assertApproxEqAbs(poolStake, owned, 2, "pool stake owned by no one");
    }

    /// @dev Shrunk from the invariant run (invariant_positionsStaySettleable): a pool drained to a few
    ///      wei before reward() used to mint a full share onto them, multiplying its reward factor by
    ///      ~1e20 until `principal * rewardFactor` overflowed. A pool below the active minimum now mints
    ///      nothing, so the factor stays put and every position stays settleable.
    function test_TinyPoolRewardsDoNotBlowUpTheRewardFactor() public {
        address solo = newOrchestrator("solo", 10_000 ether, 300_000, 500_000);
        nextRound();
        uint256 factor = _crf(solo);
        vm.startPrank(solo);
        staking.unbond(10_000 ether);
        token.approve(address(staking), 2);
        vm.stopPrank();
        give(solo, 2);
        vm.prank(solo);
        staking.bond(2, solo);
        uint256 supply = token.totalSupply();
        vm.prank(solo);
        staking.reward(); // still active this round, but its pool is below the minimum
        assertEq(token.totalSupply(), supply, "nothing minted onto a drained pool");
        assertEq(_crf(solo), factor, "reward factor unchanged");

        nextRound();
        assertFalse(staking.isActive(solo, staking.currentRound()), "left the active set with its stake");
        (address b, uint256 bk) = makeAddrAndKey("b");
        fundSender(b, 10 ether, 0);
        bytes32 rand = keccak256("rand");
        ITicketBroker.SignedTicket memory st = sign(bk, ticketFor(solo, b, 1 ether, 0, rand), rand);
        vm.prank(solo);
        broker.redeemWinningTicket(st);
        assertEq(staking.pendingStake(solo), 2);
        assertEq(staking.pendingFees(solo), 1 ether, "a dust pool's fees go to the orchestrator");
        vm.prank(solo);
        staking.unbond(2);
        vm.prank(solo);
        staking.withdrawFees(solo, 1 ether);
        assertEq(token.balanceOf(solo), 1 ether);
    }
}
