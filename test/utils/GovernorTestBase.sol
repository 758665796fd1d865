// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {PeerflowGovernor} from "../../contracts/PeerflowGovernor.sol";
import {PeerflowTimelock} from "../../contracts/PeerflowTimelock.sol";
import {IPeerflowGovernor} from "../../contracts/interfaces/IPeerflowGovernor.sol";
import {IVotePower} from "../../contracts/interfaces/IVotePower.sol";
import {MockVotePower} from "./MockVotePower.sol";

/// @notice The governor and timelock wired as deployed (governor: proposer, canceller, executor; no
///         other admin), on a test double of the vote source: 1 block voting delay, 20 blocks voting
///         period, threshold 100, quorum 4%, timelock delay 10 s within [5 s, 30 days].
abstract contract GovernorTestBase is Test {
    uint48 internal constant VOTING_DELAY = 1;
    uint32 internal constant VOTING_PERIOD = 20;
    uint256 internal constant THRESHOLD = 100 ether;
    uint256 internal constant QUORUM_PERCENT = 4;
    uint256 internal constant DELAY = 10;
    uint256 internal constant MIN_DELAY = 5;
    uint256 internal constant MAX_DELAY = 30 days;

    MockVotePower internal votes;
    PeerflowTimelock internal timelock;
    PeerflowGovernor internal governor;

    function defaultBounds() internal pure returns (IPeerflowGovernor.Bounds memory) {
        return IPeerflowGovernor.Bounds({
            maxVotingDelay: 1000,
            minVotingPeriod: 5,
            maxVotingPeriod: 100_000,
            maxProposalThreshold: 1_000_000 ether,
            minQuorumNumerator: 1,
            maxQuorumNumerator: 50
        });
    }

    function defaultSettings() internal pure returns (PeerflowGovernor.Settings memory) {
        return PeerflowGovernor.Settings({
            votingDelay: VOTING_DELAY,
            votingPeriod: VOTING_PERIOD,
            proposalThreshold: THRESHOLD,
            quorumNumerator: QUORUM_PERCENT
        });
    }

    function setUp() public virtual {
        vm.roll(100);
        votes = new MockVotePower();
        address[] memory none = new address[](0);
        timelock = new PeerflowTimelock(DELAY, none, none, address(this), MIN_DELAY, MAX_DELAY);
        governor = new PeerflowGovernor(IVotePower(address(votes)), timelock, defaultSettings(), defaultBounds());
        timelock.grantRole(timelock.PROPOSER_ROLE(), address(governor));
        timelock.grantRole(timelock.CANCELLER_ROLE(), address(governor));
        timelock.grantRole(timelock.EXECUTOR_ROLE(), address(governor));
        timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), address(this));
        vm.roll(block.number + 1);
    }

    /* PROPOSALS */

    function one(address target, bytes memory data)
        internal
        pure
        returns (address[] memory targets, uint256[] memory values, bytes[] memory calldatas)
    {
        targets = new address[](1);
        values = new uint256[](1);
        calldatas = new bytes[](1);
        (targets[0], calldatas[0]) = (target, data);
    }

    function propose(address proposer, address target, bytes memory data, string memory description)
        internal
        returns (uint256 id)
    {
        (address[] memory t, uint256[] memory v, bytes[] memory c) = one(target, data);
        vm.prank(proposer);
        id = governor.propose(t, v, c, description);
    }

    /// @dev Past the voting delay: the proposal is Active.
    function startVoting(uint256 id) internal {
        vm.roll(governor.proposalSnapshot(id) + 1);
    }

    function endVoting(uint256 id) internal {
        vm.roll(governor.proposalDeadline(id) + 1);
    }

    function castVote(address voter, uint256 id, uint8 support) internal returns (uint256) {
        vm.prank(voter);
        return governor.castVote(id, support);
    }

    function castOverride(address voter, uint256 id, uint8 support) internal returns (uint256) {
        vm.prank(voter);
        return governor.castOverrideVote(id, support, "");
    }

    /// @dev Votes `for` by `voter`, then queues, waits the timelock delay and executes.
    function pass(uint256 id, address voter) internal {
        startVoting(id);
        castVote(voter, id, 1);
        endVoting(id);
        governor.queue(id);
        vm.warp(block.timestamp + timelock.getMinDelay());
        governor.execute(id);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Executed));
    }
}
