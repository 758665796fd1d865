// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {FaultClaimsTestBase} from "../utils/FaultClaimsTestBase.sol";
import {IFaultClaims} from "../../contracts/interfaces/IFaultClaims.sol";

/// @notice Fuzzed slash and finder-fee arithmetic and bond flows over random stakes, rates, bonds,
///         voting periods, vote orders and vote times.
contract FaultClaimsFuzz is FaultClaimsTestBase {
    uint256 internal constant MAX_STAKE = 1_000_000 ether;
    address internal d = makeAddr("d");
    uint256 internal expectedBond; // the bond of the claim under test

    /// @dev Members in one of the six orders.
    function order(uint256 seed) internal view returns (address[3] memory m) {
        uint256 p = seed % 6;
        if (p == 0) m = [m1, m2, m3];
        else if (p == 1) m = [m1, m3, m2];
        else if (p == 2) m = [m2, m1, m3];
        else if (p == 3) m = [m2, m3, m1];
        else if (p == 4) m = [m3, m1, m2];
        else m = [m3, m2, m1];
    }

    /// @dev Casts the votes of `votes` (bit i: member i's vote) in `seed`'s order until the claim is
    ///      decided; returns the final status.
    function voteUntilDecided(uint256 id, uint256 seed, uint8 votes) internal returns (IFaultClaims.ClaimStatus) {
        address[3] memory m = order(seed);
        for (uint256 i; i < 3 && statusOf(id) == IFaultClaims.ClaimStatus.Open; ++i) {
            castVote(m[i], id, (votes >> i) & 1 == 1);
        }
        return statusOf(id);
    }

    /// @dev Balances just before the votes.
    struct Before {
        uint256 supply;
        uint256 claimant;
        uint256 staking;
    }

    function snapshot() internal view returns (Before memory) {
        return Before(token.totalSupply(), token.balanceOf(bcast), token.balanceOf(address(staking)));
    }

    function testFuzz_UpheldOrRejected_ExactAmounts(
        uint256 selfStake,
        uint256 delegated,
        uint32 slashPpm,
        uint32 finderFeePpm,
        uint256 seed,
        uint8 votes
    ) public {
        selfStake = bound(selfStake, 1, MAX_STAKE);
        delegated = bound(delegated, 0, MAX_STAKE);
        slashPpm = uint32(bound(slashPpm, 0, PPM));
        finderFeePpm = uint32(bound(finderFeePpm, 0, PPM));
        vm.prank(governance());
        faultClaims.setParameters(IFaultClaims.Parameters(uint128(BOND), uint64(VOTING_PERIOD), slashPpm, finderFeePpm));
        address o = newSigner("o", selfStake);
        if (delegated > 0) bondAs(d, delegated, o);
        expectedBond = bondOn(selfStake, slashPpm);
        assertEq(faultClaims.bondFor(o), expectedBond);
        give(bcast, expectedBond);
        uint256 id = file(result(o, bcast, 1));
        assertEq(faultClaims.claim(id).bond, expectedBond, "the bond scales with what the claim can slash");
        Before memory before = snapshot();

        IFaultClaims.ClaimStatus status = voteUntilDecided(id, seed, votes);

        // Three votes of two kinds: some side always reaches 2.
        assertEq(faultClaims.claim(id).votesFor >= 2, status == IFaultClaims.ClaimStatus.Upheld);
        assertEq(token.balanceOf(address(faultClaims)), 0);
        if (status == IFaultClaims.ClaimStatus.Upheld) {
            assertUpheld(o, selfStake * slashPpm / PPM, finderFeePpm, selfStake, before);
        } else {
            assertEq(uint8(status), uint8(IFaultClaims.ClaimStatus.Rejected));
            assertEq(staking.pendingStake(o), selfStake);
            assertEq(token.balanceOf(bcast), before.claimant);
            assertEq(token.balanceOf(o), expectedBond);
            assertEq(token.totalSupply(), before.supply);
            assertTrue(staking.isRegistered(o));
            assertEq(faultClaims.record(o).rejected, 1);
        }
        if (delegated > 0) assertEq(staking.pendingStake(d), delegated, "delegators are never slashed");
    }

    /// @dev The bond: 10, or 4% of what the claim can slash when more.
    function bondOn(uint256 selfStake, uint32 slashPpm) internal view returns (uint256 bond) {
        bond = BOND;
        uint256 scaled = selfStake * slashPpm / PPM * faultClaims.BOND_PER_SLASHABLE_PPM() / PPM;
        if (scaled > bond) bond = scaled;
    }

    function assertUpheld(address o, uint256 penalty, uint256 finderFeePpm, uint256 selfStake, Before memory before)
        internal
        view
    {
        uint256 fee = penalty * finderFeePpm / PPM;
        assertEq(staking.pendingStake(o), selfStake - penalty);
        assertEq(token.balanceOf(bcast), before.claimant + fee + expectedBond);
        assertEq(token.totalSupply(), before.supply - (penalty - fee));
        assertEq(token.balanceOf(address(staking)), before.staking - penalty);
        assertEq(token.balanceOf(o), 0);
        assertFalse(staking.isRegistered(o));
        assertEq(faultClaims.record(o).upheld, 1);
    }

    function testFuzz_BondFlows_AnyTimingConservesTokens(
        uint128 bond,
        uint64 period,
        uint256 seed,
        uint8 votes,
        uint32[3] memory gaps
    ) public {
        bond = uint128(bound(bond, 1, 50 * BOND));
        period = uint64(bound(period, 1, 30 days));
        vm.prank(governance());
        faultClaims.setParameters(IFaultClaims.Parameters(bond, period, 250_000, 500_000));
        address o = newSigner("o", 100 ether);
        uint256 claimantStart = token.balanceOf(bcast);
        uint256 supply = token.totalSupply();
        uint256 id = file(result(o, bcast, 1));
        uint256 deadline = block.timestamp + period;
        // At least 4% of the 25 a claim on 100 of own stake can slash.
        if (bond < 1 ether) bond = 1 ether;
        expectedBond = bond;
        assertEq(faultClaims.claim(id).bond, bond);
        assertEq(token.balanceOf(address(faultClaims)), bond);
        assertEq(token.balanceOf(bcast), claimantStart - bond);

        address[3] memory m = order(seed);
        for (uint256 i; i < 3 && statusOf(id) == IFaultClaims.ClaimStatus.Open; ++i) {
            vm.warp(block.timestamp + bound(gaps[i], 0, 2 * uint256(period)));
            if (block.timestamp >= deadline) {
                vm.expectRevert(abi.encodeWithSelector(IFaultClaims.VotingClosed.selector, id, deadline));
            }
            castVote(m[i], id, (votes >> i) & 1 == 1);
        }
        IFaultClaims.ClaimStatus status = statusOf(id);
        if (status == IFaultClaims.ClaimStatus.Open) {
            vm.warp(deadline);
            faultClaims.expire(id);
            status = IFaultClaims.ClaimStatus.Expired;
            assertEq(uint8(statusOf(id)), uint8(status));
        }

        uint256 finderFee = status == IFaultClaims.ClaimStatus.Upheld ? 12.5 ether : 0;
        assertEq(supply - token.totalSupply(), finderFee, "the burned half of the penalty");
        assertEq(token.balanceOf(address(faultClaims)), 0, "no bond left behind");
        if (status == IFaultClaims.ClaimStatus.Rejected) {
            assertEq(token.balanceOf(o), expectedBond);
            assertEq(token.balanceOf(bcast), claimantStart - expectedBond);
        } else if (status == IFaultClaims.ClaimStatus.Expired) {
            assertEq(token.balanceOf(o), expectedBond / 10, "the accused is paid 10% for the freeze");
            assertEq(token.balanceOf(bcast), claimantStart - expectedBond / 10);
        } else {
            assertEq(token.balanceOf(o), 0);
            assertEq(token.balanceOf(bcast), claimantStart + finderFee);
        }
    }
}
