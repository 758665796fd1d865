// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {FaultClaimsTestBase} from "./FaultClaimsTestBase.sol";

/// @notice The deployed suite (timelock owner, governor proposer and executor) with voters: `alice`
///         holds 500k tokens delegated to herself, orchestrator `o` has 200k self-bonded and `d` 100k
///         bonded to it (o votes 300k of stake), `whale` holds 1M undelegated. Quorum is 4% of the
///         token's supply (≈ 600k); FaultClaims is Staking's verifier with committee m1, m2, m3.
abstract contract GovernanceTestBase is FaultClaimsTestBase {
    uint8 internal constant AGAINST = 0;
    uint8 internal constant FOR = 1;
    uint8 internal constant ABSTAIN = 2;

    address internal alice = makeAddr("alice");
    address internal whale = makeAddr("whale");
    address internal o;
    address internal d = makeAddr("delegator");

    function setUp() public virtual override {
        super.setUp();
        give(alice, 500_000 ether);
        vm.prank(alice);
        token.delegate(alice);
        give(whale, 1_000_000 ether);
        o = newSigner("gov-orchestrator", 200_000 ether);
        bondAs(d, 100_000 ether, o);
        vm.roll(block.number + 1);
    }

    function calls1(address target, bytes memory data)
        internal
        pure
        returns (address[] memory t, uint256[] memory v, bytes[] memory c)
    {
        t = new address[](1);
        v = new uint256[](1);
        c = new bytes[](1);
        (t[0], c[0]) = (target, data);
    }

    function proposeAs(address proposer, address[] memory t, uint256[] memory v, bytes[] memory c, string memory desc)
        internal
        returns (uint256 id)
    {
        vm.prank(proposer);
        id = governor.propose(t, v, c, desc);
    }

    function propose1(address target, bytes memory data, string memory desc) internal returns (uint256) {
        (address[] memory t, uint256[] memory v, bytes[] memory c) = calls1(target, data);
        return proposeAs(alice, t, v, c, desc);
    }

    function startVoting(uint256 id) internal {
        vm.roll(governor.proposalSnapshot(id) + 1);
    }

    function endVoting(uint256 id) internal {
        vm.roll(governor.proposalDeadline(id) + 1);
    }

    function voteAs(address voter, uint256 id, uint8 support) internal returns (uint256) {
        vm.prank(voter);
        return governor.castVote(id, support);
    }

    function overrideAs(address voter, uint256 id, uint8 support) internal returns (uint256) {
        vm.prank(voter);
        return governor.castOverrideVote(id, support, "");
    }

    /// @dev Queues a succeeded proposal and waits the timelock's delay.
    function queueAndWait(uint256 id) internal {
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Succeeded));
        governor.queue(id);
        vm.warp(block.timestamp + timelock.getMinDelay());
    }

    /// @dev alice and o vote For (800k ≥ quorum), then queue, wait and execute.
    function pass(uint256 id) internal {
        startVoting(id);
        voteAs(alice, id, FOR);
        voteAs(o, id, FOR);
        endVoting(id);
        queueAndWait(id);
        governor.execute(id);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Executed));
    }
}
