// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {
    GovernorCountingOverridable
} from "@openzeppelin/contracts/governance/extensions/GovernorCountingOverridable.sol";
import {GovernanceTestBase} from "../utils/GovernanceTestBase.sol";
import {IFaultClaims} from "../../contracts/interfaces/IFaultClaims.sol";
import {IMinter} from "../../contracts/interfaces/IMinter.sol";

/// @notice Attacks on governance of the deployed suite: votes bought after the snapshot, votes counted
///         twice through transfers, delegation or rebonding, overrides around the orchestrator's vote,
///         execution before the delay or outside the governor, out-of-bound parameters, cancellation.
contract GovernanceAttacksTest is GovernanceTestBase {
    address internal attacker = makeAddr("attacker");

    function proposal() internal returns (uint256) {
        return propose1(address(staking), abi.encodeCall(staking.setMinActiveStake, (2 ether)), "min stake");
    }

    function totalVotes(uint256 id) internal view returns (uint256) {
        (uint256 a, uint256 f, uint256 ab) = governor.proposalVotes(id);
        return a + f + ab;
    }

    /* VOTES BOUGHT OR MOVED AFTER THE SNAPSHOT */

    /// Flash-loan style: borrow the whale's tokens during the vote, delegate, vote, give them back.
    function test_BuyVoteSellWithinTheVotingPeriodGivesNoVotes() public {
        uint256 id = proposal();
        startVoting(id);
        vm.prank(whale);
        assertTrue(token.transfer(attacker, 1_000_000 ether));
        vm.startPrank(attacker);
        token.delegate(attacker);
        assertEq(governor.castVote(id, AGAINST), 0, "no votes at the snapshot");
        assertTrue(token.transfer(whale, 1_000_000 ether));
        vm.stopPrank();
        assertEq(totalVotes(id), 0);
    }

    /// The same in the proposal's own block (the snapshot is a later block, but the buy is the same
    /// block as the vote and the vote reads the snapshot only).
    function test_BuyingBetweenSnapshotAndVoteGivesNoVotes() public {
        uint256 id = proposal();
        vm.roll(governor.proposalSnapshot(id) + 1);
        vm.prank(whale);
        assertTrue(token.transfer(attacker, 1_000_000 ether));
        vm.prank(attacker);
        token.delegate(attacker);
        vm.roll(block.number + 5);
        assertEq(voteAs(attacker, id, AGAINST), 0);
    }

    /// Bonding stake after the snapshot gives the orchestrator no extra votes either.
    function test_BondingAfterTheSnapshotGivesNoStakeVotes() public {
        uint256 id = proposal();
        startVoting(id);
        bondAs(attacker, 1_000_000 ether, o);
        vm.roll(block.number + 1);
        assertEq(voteAs(o, id, FOR), 300_000 ether);
        assertEq(overrideAs(attacker, id, AGAINST), 0);
    }

    /* DOUBLE VOTING */

    function test_DoubleVoteThroughTokenTransferCountsOnce() public {
        uint256 id = proposal();
        startVoting(id);
        assertEq(voteAs(alice, id, FOR), 500_000 ether);
        vm.prank(alice);
        assertTrue(token.transfer(attacker, 500_000 ether));
        vm.prank(attacker);
        token.delegate(attacker);
        vm.roll(block.number + 1);
        assertEq(voteAs(attacker, id, FOR), 0);
        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorAlreadyCastVote.selector, alice));
        voteAs(alice, id, FOR);
        assertEq(totalVotes(id), 500_000 ether);
    }

    function test_DoubleVoteThroughDelegationChangeCountsOnce() public {
        uint256 id = proposal();
        startVoting(id);
        voteAs(alice, id, AGAINST);
        vm.prank(alice);
        token.delegate(attacker);
        vm.roll(block.number + 1);
        assertEq(voteAs(attacker, id, AGAINST), 0);
        assertEq(totalVotes(id), 500_000 ether);
    }

    /// A delegator that moves its stake to another orchestrator after the snapshot: the new
    /// orchestrator's snapshot pool does not hold it, and its override still counts its snapshot
    /// position against its snapshot orchestrator only.
    function test_DoubleVoteThroughRebondingCountsOnce() public {
        address o2 = newSigner("o2", 50_000 ether);
        vm.roll(block.number + 1);
        uint256 id = proposal();
        startVoting(id);
        voteAs(o, id, FOR); // 300k, d's 100k included
        vm.startPrank(d);
        staking.unbond(100_000 ether);
        staking.rebondFromUnbonded(o2, 0);
        vm.stopPrank();
        vm.roll(block.number + 1);
        assertEq(voteAs(o2, id, AGAINST), 50_000 ether, "o2's pool at the snapshot");
        assertEq(overrideAs(d, id, AGAINST), 100_000 ether, "taken out of o's vote");
        (uint256 against, uint256 for_,) = governor.proposalVotes(id);
        assertEq(for_, 200_000 ether);
        assertEq(against, 150_000 ether);
        assertEq(totalVotes(id), 350_000 ether, "every snapshot unit once");
    }

    /* OVERRIDES */

    function test_OverrideAfterTheOrchestratorVoted() public {
        uint256 id = proposal();
        startVoting(id);
        voteAs(o, id, FOR);
        overrideAs(d, id, AGAINST);
        (uint256 against, uint256 for_,) = governor.proposalVotes(id);
        assertEq(for_, 200_000 ether);
        assertEq(against, 100_000 ether);
        vm.expectRevert(abi.encodeWithSelector(GovernorCountingOverridable.GovernorAlreadyOverriddenVote.selector, d));
        overrideAs(d, id, FOR);
        assertEq(totalVotes(id), 300_000 ether);
    }

    function test_OverrideBeforeTheOrchestratorVotes() public {
        uint256 id = proposal();
        startVoting(id);
        overrideAs(d, id, AGAINST);
        assertEq(voteAs(o, id, FOR), 200_000 ether, "o votes its pool less d's stake");
        assertEq(totalVotes(id), 300_000 ether);
    }

    /// A token holder delegating its held tokens to the orchestrator cannot override: overrides
    /// weigh bonded stake only, so held tokens never count twice.
    function test_OverrideWeighsOnlyOwnBondedStake() public {
        vm.prank(whale);
        token.delegate(o);
        vm.roll(block.number + 1);
        uint256 id = proposal();
        startVoting(id);
        assertEq(voteAs(o, id, FOR), 1_300_000 ether);
        assertEq(overrideAs(whale, id, AGAINST), 0);
        assertEq(totalVotes(id), 1_300_000 ether);
    }

    /* EXECUTION */

    function test_RevertWhen_ExecutedBeforeTheTimelockDelay() public {
        uint256 id = proposal();
        startVoting(id);
        voteAs(alice, id, FOR);
        voteAs(o, id, FOR);
        endVoting(id);
        governor.queue(id);
        vm.warp(block.timestamp + timelock.getMinDelay() - 1);
        vm.expectRevert();
        governor.execute(id);
        assertEq(staking.minActiveStake(), 1 ether);
    }

    function test_RevertWhen_TimelockUsedAroundTheGovernor() public {
        (address[] memory t, uint256[] memory v, bytes[] memory c) =
            calls1(address(staking), abi.encodeCall(staking.setMinActiveStake, (0)));
        uint256 delay = timelock.getMinDelay();
        bytes32 proposer = timelock.PROPOSER_ROLE();
        bytes32 executor = timelock.EXECUTOR_ROLE();
        vm.startPrank(attacker);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, attacker, proposer)
        );
        timelock.scheduleBatch(t, v, c, bytes32(0), bytes32(0), delay);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, attacker, executor)
        );
        timelock.executeBatch(t, v, c, bytes32(0), bytes32(0));
        vm.stopPrank();
        // The deployer neither: its bootstrap roles are gone.
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), proposer)
        );
        timelock.scheduleBatch(t, v, c, bytes32(0), bytes32(0), delay);
    }

    function test_OutOfBoundParametersFailAtExecution() public {
        bytes[4] memory bad = [
            abi.encodeCall(faultClaims.setParameters, (IFaultClaims.Parameters(10 ether, 1 days, 1_000_001, 0))),
            abi.encodeCall(minter.setTreasuryRewardCutRate, (500_000_001)),
            abi.encodeCall(timelock.updateDelay, (31 days)),
            abi.encodeCall(governor.setVotingPeriod, (0))
        ];
        address[4] memory target = [address(faultClaims), address(minter), address(timelock), address(governor)];
        for (uint256 i; i < bad.length; ++i) {
            uint256 id = propose1(target[i], bad[i], vm.toString(i));
            startVoting(id);
            voteAs(alice, id, FOR);
            voteAs(o, id, FOR);
            endVoting(id);
            queueAndWait(id);
            vm.expectRevert();
            governor.execute(id);
            assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Queued));
        }
        assertEq(faultClaims.parameters().slashPpm, 250_000);
        assertEq(minter.treasuryRewardCutRate(), 0);
        assertEq(timelock.getMinDelay(), 10);
        assertEq(governor.votingPeriod(), 20);
    }

    /// A proposal below the threshold is refused: no one without 100 votes can put a change to a vote.
    function test_RevertWhen_ProposerBelowThreshold() public {
        (address[] memory t, uint256[] memory v, bytes[] memory c) =
            calls1(address(minter), abi.encodeCall(minter.setTreasury, (attacker)));
        vm.expectRevert(
            abi.encodeWithSelector(IGovernor.GovernorInsufficientProposerVotes.selector, attacker, 0, 100 ether)
        );
        proposeAs(attacker, t, v, c, "steal the treasury");
    }

    /* CANCELLATION */

    function test_Cancel_OnlyTheProposerAndOnlyWhilePending() public {
        (address[] memory t, uint256[] memory v, bytes[] memory c) =
            calls1(address(staking), abi.encodeCall(staking.setMinActiveStake, (2 ether)));
        uint256 id = proposeAs(alice, t, v, c, "cancel me");
        bytes32 h = keccak256("cancel me");
        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorUnableToCancel.selector, id, attacker));
        vm.prank(attacker);
        governor.cancel(t, v, c, h);
        vm.prank(alice);
        governor.cancel(t, v, c, h);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Canceled));

        uint256 id2 = proposeAs(alice, t, v, c, "no cancel once active");
        startVoting(id2);
        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorUnableToCancel.selector, id2, alice));
        vm.prank(alice);
        governor.cancel(id2);
    }

    /// Once queued, nobody cancels an operation in the timelock: its only canceller is the governor,
    /// which cancels only a Pending proposal at its proposer's request.
    function test_Cancel_QueuedOperationCannotBeCancelledByAnyone() public {
        uint256 id = proposal();
        startVoting(id);
        voteAs(alice, id, FOR);
        voteAs(o, id, FOR);
        endVoting(id);
        governor.queue(id);
        (address[] memory t, uint256[] memory v, bytes[] memory c) =
            calls1(address(staking), abi.encodeCall(staking.setMinActiveStake, (2 ether)));
        bytes32 opId =
            timelock.hashOperationBatch(t, v, c, 0, bytes32(bytes20(address(governor))) ^ keccak256("min stake"));
        assertTrue(timelock.isOperationPending(opId));
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, attacker, timelock.CANCELLER_ROLE()
            )
        );
        vm.prank(attacker);
        timelock.cancel(opId);
        vm.expectRevert();
        vm.prank(alice);
        governor.cancel(id);
        vm.warp(block.timestamp + timelock.getMinDelay());
        governor.execute(id);
        assertEq(staking.minActiveStake(), 2 ether);
    }

    /// The treasury's tokens leave only through an executed proposal.
    function test_TreasurySpentOnlyByProposal() public {
        give(address(timelock), 1000 ether);
        vm.prank(attacker);
        vm.expectRevert();
        governor.relay(address(token), 0, abi.encodeCall(token.transfer, (attacker, 1000 ether)));
        assertEq(token.balanceOf(address(timelock)), 1000 ether);
        assertEq(IMinter(address(minter)).treasury(), address(timelock));
    }
}
