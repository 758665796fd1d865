// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {GovernanceTestBase} from "../utils/GovernanceTestBase.sol";
import {IFaultClaims} from "../../contracts/interfaces/IFaultClaims.sol";

/// @notice Governance of the deployed suite end to end: holders delegate and bond, a proposal for a
///         new slash rate and a new committee member is voted with token votes and stake votes, a
///         delegator overrides its orchestrator, the proposal is queued, waits the timelock and runs;
///         the change applies to claims filed after it, a claim filed before keeps its rules and jury.
contract GovernanceLifecycleTest is GovernanceTestBase {
    function test_Lifecycle_NewSlashRateAndCommitteeMember() public {
        give(bcast, 10_000 ether); // bonds scale with what a claim against o's 200k could slash
        uint256 before = file(result(o, bcast, 1));
        address m4 = makeAddr("member4");

        address[] memory t = new address[](2);
        uint256[] memory v = new uint256[](2);
        bytes[] memory c = new bytes[](2);
        (t[0], c[0]) =
        (
            address(faultClaims),
            abi.encodeCall(faultClaims.setParameters, (IFaultClaims.Parameters(10 ether, 1 days, 500_000, 500_000)))
        );
        address[] memory next = members3(m1, m2, m4);
        (t[1], c[1]) = (address(faultClaims), abi.encodeCall(faultClaims.setCommittee, (next, 2)));
        uint256 id = proposeAs(alice, t, v, c, "slash 50%, m4 replaces m3");
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Pending));
        assertEq(governor.proposalCount(), 1);

        startVoting(id);
        assertEq(voteAs(alice, id, FOR), 500_000 ether, "token votes");
        assertEq(voteAs(o, id, FOR), 300_000 ether, "stake votes: the whole pool");
        assertEq(overrideAs(d, id, AGAINST), 100_000 ether, "the delegator's own stake");
        (uint256 against, uint256 for_, uint256 abstain) = governor.proposalVotes(id);
        assertEq(for_, 700_000 ether);
        assertEq(against, 100_000 ether);
        assertEq(abstain, 0);
        assertGe(for_, governor.quorum(governor.proposalSnapshot(id)));
        endVoting(id);

        governor.queue(id);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Queued));
        vm.expectRevert();
        governor.execute(id);
        vm.warp(block.timestamp + timelock.getMinDelay());
        governor.execute(id);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Executed));

        assertEq(faultClaims.parameters().slashPpm, 500_000);
        assertEq(faultClaims.committee(), next);
        assertEq(faultClaims.currentTerm(), 3);

        // The claim filed before: term 2 (m1, m2, m3), 25%; m3 still decides it, m4 does not.
        IFaultClaims.Claim memory old = faultClaims.claim(before);
        assertEq(old.term, 2);
        assertEq(old.slashPpm, 250_000);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.NotMember.selector, m4));
        castVote(m4, before, true);
        uint256 stake = staking.pendingStake(o);
        castVote(m3, before, true);
        castVote(m1, before, true);
        assertEq(uint8(statusOf(before)), uint8(IFaultClaims.ClaimStatus.Upheld));
        assertLt(staking.pendingStake(o), stake);

        // A claim filed after: term 3 and 50%.
        address o2 = newSigner("o2", 100 ether);
        uint256 later = file(result(o2, bcast, 2));
        assertEq(faultClaims.claim(later).term, 3);
        assertEq(faultClaims.claim(later).slashPpm, 500_000);
        castVote(m4, later, true);
        castVote(m2, later, true);
        assertEq(staking.pendingStake(o2), 50 ether);
    }

    function test_Lifecycle_TreasuryFundedThenSpentByProposal() public {
        // Governance turns the treasury share on (10%, ceiling 500), the treasury fills, then pays a grant.
        address[] memory t = new address[](2);
        uint256[] memory v = new uint256[](2);
        bytes[] memory c = new bytes[](2);
        (t[0], c[0]) = (address(minter), abi.encodeCall(minter.setTreasuryBalanceCeiling, (500 ether)));
        (t[1], c[1]) = (address(minter), abi.encodeCall(minter.setTreasuryRewardCutRate, (100_000_000)));
        pass(proposeAs(alice, t, v, c, "treasury on"));
        assertEq(minter.treasuryRewardCutRate(), 100_000_000);
        for (uint256 i; i < 4; ++i) {
            nextRound();
            minter.initializeRound();
            assertLe(token.balanceOf(address(timelock)), 500 ether);
        }
        assertEq(token.balanceOf(address(timelock)), 500 ether, "capped at the ceiling");
        assertEq(minter.treasuryRewardCutRate(), 0, "stopped at the ceiling");

        address grantee = makeAddr("grantee");
        pass(propose1(address(token), abi.encodeCall(token.transfer, (grantee, 200 ether)), "grant"));
        assertEq(token.balanceOf(grantee), 200 ether);
        assertEq(token.balanceOf(address(timelock)), 300 ether);
    }

    function test_Lifecycle_GovernanceChangesItsOwnSettings() public {
        pass(propose1(address(governor), abi.encodeCall(governor.setVotingPeriod, (30)), "period"));
        assertEq(governor.votingPeriod(), 30);
        pass(propose1(address(governor), abi.encodeCall(governor.updateQuorumNumerator, (5)), "quorum"));
        assertEq(governor.quorumNumerator(), 5);
        pass(propose1(address(timelock), abi.encodeCall(timelock.updateDelay, (1 hours)), "delay"));
        assertEq(timelock.getMinDelay(), 1 hours);
        pass(propose1(address(staking), abi.encodeCall(staking.setMinActiveStake, (2 ether)), "min stake"));
        assertEq(staking.minActiveStake(), 2 ether);
        pass(propose1(address(minter), abi.encodeCall(minter.setTargetBondingRate, (600_000_000)), "target"));
        assertEq(minter.targetBondingRate(), 600_000_000);
    }

    function test_Lifecycle_DefeatedWithoutQuorum() public {
        uint256 id = propose1(address(staking), abi.encodeCall(staking.setMinActiveStake, (2 ether)), "x");
        startVoting(id);
        voteAs(o, id, FOR); // 300k < 4% of the supply
        endVoting(id);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Defeated));
        vm.expectRevert();
        governor.queue(id);
        assertEq(staking.minActiveStake(), 1 ether);
    }
}
