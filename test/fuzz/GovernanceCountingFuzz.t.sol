// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {GovernorTestBase} from "../utils/GovernorTestBase.sol";

/// @notice The governor's counting with overrides, on a test double of the vote source: whatever the
///         stakes, supports and the order in which an orchestrator and its delegators vote, each unit
///         of snapshot weight counts once, for the support of whoever cast it last in the chain
///         delegator > orchestrator, and nothing bonded or bought after the snapshot counts.
contract GovernanceCountingFuzzTest is GovernorTestBase {
    address internal o = makeAddr("orchestrator");
    address internal d1 = makeAddr("d1");
    address internal d2 = makeAddr("d2");
    address internal holder = makeAddr("holder");

    function testFuzz_OverridesNeverCountTwice(
        uint96 self,
        uint96 s1,
        uint96 s2,
        uint96 held,
        uint8[4] memory support,
        uint8 order,
        bool[3] memory casts
    ) public {
        votes.giveVotes(holder, uint256(held) + THRESHOLD);
        votes.bond(o, o, self);
        votes.bond(d1, o, s1);
        votes.bond(d2, o, s2);
        vm.roll(block.number + 1);
        uint256 id = propose(holder, address(governor), abi.encodeCall(governor.setVotingPeriod, (40)), "x");
        startVoting(id);
        // After the snapshot: more stake and tokens, which must not count.
        votes.bond(d1, o, 1000 ether);
        votes.giveVotes(holder, 1000 ether);
        vm.roll(block.number + 1);

        for (uint256 i; i < 4; ++i) {
            support[i] %= 3;
        }
        uint256[3] memory expected;
        // Who casts: o (casts[0]), d1 (casts[1]), d2 (casts[2]) in an order given by `order`; the
        // holder always votes.
        address[3] memory who = [o, d1, d2];
        uint256[3] memory idx =
            order % 3 == 0 ? [uint256(0), 1, 2] : order % 3 == 1 ? [uint256(1), 0, 2] : [uint256(2), 1, 0];
        for (uint256 k; k < 3; ++k) {
            uint256 i = idx[k];
            if (!casts[i]) continue;
            if (i == 0) castVote(o, id, support[0]);
            else castOverride(who[i], id, support[i]);
        }
        castVote(holder, id, support[3]);

        expected[support[3]] += uint256(held) + THRESHOLD;
        if (casts[1]) expected[support[1]] += s1;
        if (casts[2]) expected[support[2]] += s2;
        if (casts[0]) {
            uint256 own = uint256(self) + (casts[1] ? 0 : s1) + (casts[2] ? 0 : s2);
            expected[support[0]] += own;
        }
        (uint256 against, uint256 for_, uint256 abstain) = governor.proposalVotes(id);
        assertEq(against, expected[0]);
        assertEq(for_, expected[1]);
        assertEq(abstain, expected[2]);
        assertLe(against + for_ + abstain, votes.getPastTotalSupply(governor.proposalSnapshot(id)));
    }
}
