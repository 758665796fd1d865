// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {
    GovernorCountingOverridable
} from "@openzeppelin/contracts/governance/extensions/GovernorCountingOverridable.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {GovernorTestBase} from "../utils/GovernorTestBase.sol";
import {PeerflowGovernor} from "../../contracts/PeerflowGovernor.sol";
import {PeerflowTimelock} from "../../contracts/PeerflowTimelock.sol";
import {IPeerflowGovernor} from "../../contracts/interfaces/IPeerflowGovernor.sol";
import {IVotePower} from "../../contracts/interfaces/IVotePower.sol";

/// @notice PeerflowGovernor on a test double of the vote source: construction and bounds, the bounded
///         settings (only through executed proposals), proposal storage, bravo counting with delegator
///         overrides, and PeerflowTimelock's bounded delay.
contract GovernanceGovernorTest is GovernorTestBase {
    address internal alice = makeAddr("alice"); // held votes
    address internal o = makeAddr("orchestrator"); // stake votes
    address internal d = makeAddr("delegator"); // bonded to o

    function setUp() public override {
        super.setUp();
        votes.giveVotes(alice, 1000 ether);
        votes.bond(o, o, 600 ether);
        votes.bond(d, o, 400 ether);
        vm.roll(block.number + 1);
    }

    /* DEPLOYMENT */

    function test_Deployment_Settings() public view {
        assertEq(governor.name(), "PeerflowGovernor");
        assertEq(governor.votingDelay(), VOTING_DELAY);
        assertEq(governor.votingPeriod(), VOTING_PERIOD);
        assertEq(governor.proposalThreshold(), THRESHOLD);
        assertEq(governor.quorumNumerator(), QUORUM_PERCENT);
        assertEq(governor.timelock(), address(timelock));
        assertEq(address(governor.token()), address(votes));
        assertEq(governor.CLOCK_MODE(), "mode=blocknumber&from=default");
        assertEq(governor.clock(), block.number);
        assertEq(governor.COUNTING_MODE(), "support=bravo,override&quorum=for,abstain&overridable=true");
        assertEq(governor.maxVotingDelay(), 1000);
        assertEq(governor.minVotingPeriod(), 5);
        assertEq(governor.maxVotingPeriod(), 100_000);
        assertEq(governor.maxProposalThreshold(), 1_000_000 ether);
        assertEq(governor.minQuorumNumerator(), 1);
        assertEq(governor.maxQuorumNumerator(), 50);
        assertEq(governor.quorum(block.number - 1), 2000 ether * QUORUM_PERCENT / 100);
    }

    function test_RevertWhen_ConstructedWithInconsistentBounds() public {
        IPeerflowGovernor.Bounds[5] memory bad;
        for (uint256 i; i < 5; ++i) {
            bad[i] = defaultBounds();
        }
        bad[0].minVotingPeriod = 0;
        bad[1].minVotingPeriod = bad[1].maxVotingPeriod + 1;
        bad[2].minQuorumNumerator = 0;
        bad[3].minQuorumNumerator = bad[3].maxQuorumNumerator + 1;
        bad[4].maxQuorumNumerator = 101;
        for (uint256 i; i < 5; ++i) {
            vm.expectRevert(IPeerflowGovernor.InvalidGovernorBounds.selector);
            new PeerflowGovernor(IVotePower(address(votes)), timelock, defaultSettings(), bad[i]);
        }
    }

    function test_RevertWhen_ConstructedWithSettingsOutOfBounds() public {
        PeerflowGovernor.Settings memory s = defaultSettings();
        s.votingDelay = 1001;
        vm.expectRevert(abi.encodeWithSelector(IPeerflowGovernor.SettingOutOfBounds.selector, 1001, 0, 1000));
        new PeerflowGovernor(IVotePower(address(votes)), timelock, s, defaultBounds());
        s = defaultSettings();
        s.votingPeriod = 4;
        vm.expectRevert(abi.encodeWithSelector(IPeerflowGovernor.SettingOutOfBounds.selector, 4, 5, 100_000));
        new PeerflowGovernor(IVotePower(address(votes)), timelock, s, defaultBounds());
        s = defaultSettings();
        s.proposalThreshold = 1_000_000 ether + 1;
        vm.expectRevert(
            abi.encodeWithSelector(
                IPeerflowGovernor.SettingOutOfBounds.selector, 1_000_000 ether + 1, 0, 1_000_000 ether
            )
        );
        new PeerflowGovernor(IVotePower(address(votes)), timelock, s, defaultBounds());
        s = defaultSettings();
        s.quorumNumerator = 0;
        vm.expectRevert(abi.encodeWithSelector(IPeerflowGovernor.SettingOutOfBounds.selector, 0, 1, 50));
        new PeerflowGovernor(IVotePower(address(votes)), timelock, s, defaultBounds());
    }

    /* BOUNDED SETTINGS THROUGH PROPOSALS */

    function test_Settings_ChangedByAnExecutedProposal() public {
        pass(propose(alice, address(governor), abi.encodeCall(governor.setVotingPeriod, (40)), "period"), alice);
        assertEq(governor.votingPeriod(), 40);
        pass(propose(alice, address(governor), abi.encodeCall(governor.setVotingDelay, (7)), "delay"), alice);
        assertEq(governor.votingDelay(), 7);
        pass(propose(alice, address(governor), abi.encodeCall(governor.setProposalThreshold, (5 ether)), "thr"), alice);
        assertEq(governor.proposalThreshold(), 5 ether);
        pass(propose(alice, address(governor), abi.encodeCall(governor.updateQuorumNumerator, (10)), "quorum"), alice);
        assertEq(governor.quorumNumerator(), 10);
        pass(propose(alice, address(timelock), abi.encodeCall(timelock.updateDelay, (1 days)), "tl"), alice);
        assertEq(timelock.getMinDelay(), 1 days);
    }

    function test_Settings_OutOfBoundsProposalFailsAtExecution() public {
        bytes[5] memory calls = [
            abi.encodeCall(governor.setVotingPeriod, (4)),
            abi.encodeCall(governor.setVotingDelay, (1001)),
            abi.encodeCall(governor.setProposalThreshold, (1_000_000 ether + 1)),
            abi.encodeCall(governor.updateQuorumNumerator, (51)),
            abi.encodeCall(timelock.updateDelay, (MIN_DELAY - 1))
        ];
        bytes[5] memory errors = [
            abi.encodeWithSelector(IPeerflowGovernor.SettingOutOfBounds.selector, 4, 5, 100_000),
            abi.encodeWithSelector(IPeerflowGovernor.SettingOutOfBounds.selector, 1001, 0, 1000),
            abi.encodeWithSelector(
                IPeerflowGovernor.SettingOutOfBounds.selector, 1_000_000 ether + 1, 0, 1_000_000 ether
            ),
            abi.encodeWithSelector(IPeerflowGovernor.SettingOutOfBounds.selector, 51, 1, 50),
            abi.encodeWithSelector(PeerflowTimelock.DelayOutOfBounds.selector, MIN_DELAY - 1, MIN_DELAY, MAX_DELAY)
        ];
        for (uint256 i; i < calls.length; ++i) {
            address target = i == 4 ? address(timelock) : address(governor);
            uint256 id = propose(alice, target, calls[i], vm.toString(i));
            startVoting(id);
            castVote(alice, id, 1);
            endVoting(id);
            governor.queue(id);
            vm.warp(block.timestamp + DELAY);
            vm.expectRevert(errors[i]);
            governor.execute(id);
            assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Queued));
        }
        assertEq(governor.votingPeriod(), VOTING_PERIOD);
        assertEq(governor.votingDelay(), VOTING_DELAY);
        assertEq(governor.proposalThreshold(), THRESHOLD);
        assertEq(governor.quorumNumerator(), QUORUM_PERCENT);
        assertEq(timelock.getMinDelay(), DELAY);
    }

    function test_RevertWhen_SettingsSetOutsideAProposal() public {
        bytes memory onlyExecutor = abi.encodeWithSelector(IGovernor.GovernorOnlyExecutor.selector, alice);
        vm.startPrank(alice);
        vm.expectRevert(onlyExecutor);
        governor.setVotingPeriod(40);
        vm.expectRevert(onlyExecutor);
        governor.setVotingDelay(2);
        vm.expectRevert(onlyExecutor);
        governor.setProposalThreshold(0);
        vm.expectRevert(onlyExecutor);
        governor.updateQuorumNumerator(10);
        vm.expectRevert(onlyExecutor);
        governor.updateTimelock(TimelockController(payable(alice)));
        vm.expectRevert(onlyExecutor);
        governor.relay(alice, 0, "");
        vm.expectRevert(abi.encodeWithSelector(TimelockController.TimelockUnauthorizedCaller.selector, alice));
        timelock.updateDelay(1 days);
        vm.stopPrank();
        // Even the timelock cannot call the governor's setters except inside the governor's execute.
        vm.prank(address(timelock));
        vm.expectRevert();
        governor.setVotingPeriod(40);
    }

    /* PROPOSING */

    function test_RevertWhen_ProposerBelowThreshold() public {
        address poor = makeAddr("poor");
        votes.giveVotes(poor, THRESHOLD - 1);
        vm.roll(block.number + 1);
        (address[] memory t, uint256[] memory v, bytes[] memory c) =
            one(address(governor), abi.encodeCall(governor.setVotingPeriod, (40)));
        vm.expectRevert(
            abi.encodeWithSelector(IGovernor.GovernorInsufficientProposerVotes.selector, poor, THRESHOLD - 1, THRESHOLD)
        );
        vm.prank(poor);
        governor.propose(t, v, c, "x");
    }

    function test_Storage_ListsProposals() public {
        uint256 a = propose(alice, address(governor), abi.encodeCall(governor.setVotingPeriod, (40)), "a");
        uint256 b = propose(o, address(governor), abi.encodeCall(governor.setVotingDelay, (2)), "b");
        assertEq(governor.proposalCount(), 2);
        (uint256 id0, address[] memory t0,, bytes[] memory c0, bytes32 h0) = governor.proposalDetailsAt(0);
        (uint256 id1,,,,) = governor.proposalDetailsAt(1);
        assertEq(id0, a);
        assertEq(id1, b);
        assertEq(t0[0], address(governor));
        assertEq(c0[0], abi.encodeCall(governor.setVotingPeriod, (40)));
        assertEq(h0, keccak256("a"));
        assertEq(governor.proposalProposer(b), o);
        // GovernorStorage's id-only queue and execute.
        startVoting(a);
        castVote(alice, a, 1);
        endVoting(a);
        governor.queue(a);
        vm.warp(block.timestamp + DELAY);
        governor.execute(a);
        assertEq(governor.votingPeriod(), 40);
    }

    /* COUNTING WITH OVERRIDES */

    function test_Count_HeldAndStakeVotes() public {
        uint256 id = propose(alice, address(governor), abi.encodeCall(governor.setVotingPeriod, (40)), "x");
        startVoting(id);
        assertEq(castVote(alice, id, 0), 1000 ether);
        assertEq(castVote(o, id, 1), 1000 ether);
        (uint256 against, uint256 for_, uint256 abstain) = governor.proposalVotes(id);
        assertEq(against, 1000 ether);
        assertEq(for_, 1000 ether);
        assertEq(abstain, 0);
        endVoting(id);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Defeated), "a tie is defeated");
    }

    function test_Override_AfterTheOrchestratorVotedMovesTheDelegatorsStake() public {
        uint256 id = propose(alice, address(governor), abi.encodeCall(governor.setVotingPeriod, (40)), "x");
        startVoting(id);
        castVote(o, id, 1);
        vm.expectEmit(address(governor));
        emit GovernorCountingOverridable.VoteReduced(o, id, 1, 400 ether);
        assertEq(castOverride(d, id, 0), 400 ether);
        (uint256 against, uint256 for_,) = governor.proposalVotes(id);
        assertEq(for_, 600 ether);
        assertEq(against, 400 ether);
        assertTrue(governor.hasVotedOverride(id, d));
        assertFalse(governor.hasVoted(id, d));
    }

    function test_Override_BeforeTheOrchestratorVotesReducesItsWeight() public {
        uint256 id = propose(alice, address(governor), abi.encodeCall(governor.setVotingPeriod, (40)), "x");
        startVoting(id);
        castOverride(d, id, 2);
        assertEq(castVote(o, id, 1), 600 ether);
        (uint256 against, uint256 for_, uint256 abstain) = governor.proposalVotes(id);
        assertEq(for_, 600 ether);
        assertEq(abstain, 400 ether);
        assertEq(against, 0);
    }

    function test_RevertWhen_OverrideOrVoteTwice() public {
        uint256 id = propose(alice, address(governor), abi.encodeCall(governor.setVotingPeriod, (40)), "x");
        startVoting(id);
        castOverride(d, id, 0);
        vm.expectRevert(abi.encodeWithSelector(GovernorCountingOverridable.GovernorAlreadyOverriddenVote.selector, d));
        castOverride(d, id, 1);
        castVote(o, id, 1);
        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorAlreadyCastVote.selector, o));
        castVote(o, id, 0);
    }

    function test_Override_OnlyWhileActive() public {
        uint256 id = propose(alice, address(governor), abi.encodeCall(governor.setVotingPeriod, (40)), "x");
        vm.expectRevert();
        castOverride(d, id, 0);
        endVoting(id);
        vm.expectRevert();
        castOverride(d, id, 0);
    }

    function test_Quorum_CountsForAndAbstainOnly() public {
        // Quorum: 4% of the supply at the snapshot (2079 votes): 83.16. Against never counts toward it.
        address small = makeAddr("small");
        votes.giveVotes(small, 79 ether);
        vm.roll(block.number + 1);
        uint256 id = propose(alice, address(governor), abi.encodeCall(governor.setVotingPeriod, (40)), "x");
        startVoting(id);
        castVote(small, id, 1);
        endVoting(id);
        assertLt(uint256(79 ether), governor.quorum(governor.proposalSnapshot(id)));
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Defeated), "79 For: no quorum");

        id = propose(alice, address(governor), abi.encodeCall(governor.setVotingPeriod, (41)), "y");
        startVoting(id);
        castVote(small, id, 1);
        castOverride(d, id, 2); // 400 abstaining
        castVote(alice, id, 0); // 1000 against: no help to the quorum, and it defeats the vote
        endVoting(id);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Defeated));

        id = propose(alice, address(governor), abi.encodeCall(governor.setVotingPeriod, (42)), "z");
        startVoting(id);
        castVote(small, id, 1);
        castOverride(d, id, 2); // For 79 + Abstain 400 ≥ quorum, For > Against 0
        endVoting(id);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Succeeded));
    }

    /* TIMELOCK */

    function test_RevertWhen_TimelockBoundsInvalid() public {
        address[] memory none = new address[](0);
        vm.expectRevert(abi.encodeWithSelector(PeerflowTimelock.InvalidDelayBounds.selector, 0, 10));
        new PeerflowTimelock(0, none, none, address(0), 0, 10);
        vm.expectRevert(abi.encodeWithSelector(PeerflowTimelock.InvalidDelayBounds.selector, 11, 10));
        new PeerflowTimelock(0, none, none, address(0), 11, 10);
        vm.expectRevert(abi.encodeWithSelector(PeerflowTimelock.InvalidDelayBounds.selector, 1, 365 days + 1));
        new PeerflowTimelock(0, none, none, address(0), 1, 365 days + 1);
        vm.expectRevert(abi.encodeWithSelector(PeerflowTimelock.DelayOutOfBounds.selector, 4, 5, 10));
        new PeerflowTimelock(4, none, none, address(0), 5, 10);
        vm.expectRevert(abi.encodeWithSelector(PeerflowTimelock.DelayOutOfBounds.selector, 11, 5, 10));
        new PeerflowTimelock(11, none, none, address(0), 5, 10);
        PeerflowTimelock t = new PeerflowTimelock(0, none, none, address(0), 5, 10);
        assertEq(t.getMinDelay(), 0, "0 is the bootstrap delay");
        assertEq(t.MIN_DELAY(), 5);
        assertEq(t.MAX_DELAY(), 10);
    }

    function test_Timelock_DelayBoundsInclusive() public {
        vm.startPrank(address(timelock));
        timelock.updateDelay(MIN_DELAY);
        assertEq(timelock.getMinDelay(), MIN_DELAY);
        timelock.updateDelay(MAX_DELAY);
        assertEq(timelock.getMinDelay(), MAX_DELAY);
        vm.expectRevert(
            abi.encodeWithSelector(PeerflowTimelock.DelayOutOfBounds.selector, MAX_DELAY + 1, MIN_DELAY, MAX_DELAY)
        );
        timelock.updateDelay(MAX_DELAY + 1);
        vm.expectRevert(abi.encodeWithSelector(PeerflowTimelock.DelayOutOfBounds.selector, 0, MIN_DELAY, MAX_DELAY));
        timelock.updateDelay(0);
        vm.stopPrank();
    }

    function test_RevertWhen_ExecutedBeforeTheTimelockDelay() public {
        uint256 id = propose(alice, address(governor), abi.encodeCall(governor.setVotingPeriod, (40)), "x");
        startVoting(id);
        castVote(alice, id, 1);
        endVoting(id);
        governor.queue(id);
        vm.warp(block.timestamp + DELAY - 1);
        vm.expectRevert();
        governor.execute(id);
        vm.warp(block.timestamp + 1);
        governor.execute(id);
        assertEq(governor.votingPeriod(), 40);
    }
}
