// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {SuiteDeployer} from "../../script/SuiteDeployer.sol";
import {IFaultClaims} from "../../contracts/interfaces/IFaultClaims.sol";

/// @notice Random accounts (the deployer among them) calling every setter, the timelock's and the
///         governor's restricted functions directly, while the holders propose in-bound parameter
///         changes, vote, override, move and re-delegate their tokens, queue and execute, and rounds
///         mint the treasury's share. Ghosts: the parameter values executed proposals set, restricted
///         calls that went through, the proposals made.
contract GovernanceHandler is Test {
    SuiteDeployer.Suite internal s;
    address[] public actors; // actors[0] is the deployer; voters follow
    address public immutable orchestrator;
    address public immutable delegator;

    // Ghosts: what executed proposals set.
    uint256 public expectedMinActiveStake;
    uint256 public expectedInflationChange;
    uint32 public expectedSlashPpm;
    uint256 public expectedVotingPeriod;
    uint256 public expectedDelay;

    uint256 public rogueSuccesses;
    uint256 public executed;
    uint256[] public proposals;
    mapping(uint256 id => uint256 which) internal _which;
    mapping(uint256 id => uint256 value) internal _value;
    mapping(string => uint256) public calls;

    constructor(SuiteDeployer.Suite memory suite, address[] memory actors_, address orchestrator_, address delegator_) {
        s = suite;
        actors = actors_;
        orchestrator = orchestrator_;
        delegator = delegator_;
        expectedMinActiveStake = suite.staking.minActiveStake();
        expectedInflationChange = suite.minter.inflationChange();
        expectedSlashPpm = suite.faultClaims.parameters().slashPpm;
        expectedVotingPeriod = suite.governor.votingPeriod();
        expectedDelay = suite.timelock.getMinDelay();
    }

    function proposalCount() external view returns (uint256) {
        return proposals.length;
    }

    function actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    /* ROGUE CALLS: every one must fail */

    function rogue(uint256 actorSeed, uint256 which, uint256 value) external {
        address a = actor(actorSeed);
        (address target, bytes memory data) = rogueCall(which % 22, value, a);
        vm.prank(a);
        (bool ok,) = target.call(data);
        if (ok) rogueSuccesses++;
        calls["rogue"]++;
    }

    function rogueCall(uint256 which, uint256 value, address a) internal view returns (address, bytes memory) {
        address[] memory one = new address[](1);
        one[0] = a;
        address[] memory none = new address[](0);
        uint256[] memory noValues = new uint256[](0);
        bytes[] memory noData = new bytes[](0);
        if (which == 0) return (address(s.staking), abi.encodeCall(s.staking.setMinActiveStake, (value)));
        if (which == 1) return (address(s.staking), abi.encodeCall(s.staking.setMaxActive, (100 + value % 100)));
        if (which == 2) return (address(s.staking), abi.encodeCall(s.staking.setVerifier, (a)));
        if (which == 3) return (address(s.staking), abi.encodeCall(s.staking.setMinSelfBond, (value)));
        if (which == 4) return (address(s.staking), abi.encodeCall(s.staking.setUnbondingPeriod, (1 + value % 10)));
        if (which == 5) return (address(s.staking), abi.encodeCall(s.staking.transferOwnership, (a)));
        if (which == 6) return (address(s.minter), abi.encodeCall(s.minter.setInflationChange, (value % 1e9)));
        if (which == 7) return (address(s.minter), abi.encodeCall(s.minter.setTreasury, (a)));
        if (which == 8) return (address(s.minter), abi.encodeCall(s.minter.setTreasuryRewardCutRate, (value % 5e8)));
        if (which == 9) return (address(s.minter), abi.encodeCall(s.minter.setTreasuryBalanceCeiling, (value)));
        if (which == 10) {
            return (
                address(s.faultClaims),
                abi.encodeCall(s.faultClaims.setParameters, (IFaultClaims.Parameters(1, 1 days, 1_000_000, 0)))
            );
        }
        if (which == 11) return (address(s.faultClaims), abi.encodeCall(s.faultClaims.setCommittee, (one, 1)));
        if (which == 12) return (address(s.faultClaims), abi.encodeCall(s.faultClaims.setTermLength, (1 days)));
        if (which == 13) {
            return (address(s.governor), abi.encodeCall(s.governor.setVotingPeriod, (uint32(5 + value % 50))));
        }
        if (which == 14) return (address(s.governor), abi.encodeCall(s.governor.setProposalThreshold, (0)));
        if (which == 15) return (address(s.governor), abi.encodeCall(s.governor.updateQuorumNumerator, (1)));
        if (which == 16) {
            return (
                address(s.governor),
                abi.encodeCall(s.governor.relay, (address(s.token), 0, abi.encodeCall(s.token.transfer, (a, 1))))
            );
        }
        if (which == 17) return (address(s.timelock), abi.encodeCall(s.timelock.updateDelay, (1 + value % 60)));
        if (which == 18) {
            return (address(s.timelock), abi.encodeCall(s.timelock.grantRole, (s.timelock.PROPOSER_ROLE(), a)));
        }
        if (which == 19) {
            return (
                address(s.timelock),
                abi.encodeCall(s.timelock.scheduleBatch, (none, noValues, noData, bytes32(0), bytes32(value), 1 days))
            );
        }
        if (which == 20) {
            return (
                address(s.timelock),
                abi.encodeCall(s.timelock.executeBatch, (none, noValues, noData, bytes32(0), bytes32(value)))
            );
        }
        return (address(s.token), abi.encodeCall(s.token.setMinter, (a)));
    }

    /* GOVERNANCE */

    function propose(uint256 proposerSeed, uint256 which, uint256 value) external {
        which %= 5;
        (address target, bytes memory data, uint256 v) = change(which, value);
        address[] memory t = new address[](1);
        uint256[] memory vals = new uint256[](1);
        bytes[] memory c = new bytes[](1);
        (t[0], c[0]) = (target, data);
        vm.prank(actor(proposerSeed));
        try s.governor.propose(t, vals, c, vm.toString(proposals.length)) returns (uint256 id) {
            proposals.push(id);
            (_which[id], _value[id]) = (which, v);
            calls["propose"]++;
        } catch {}
    }

    function change(uint256 which, uint256 value) internal view returns (address, bytes memory, uint256) {
        if (which == 0) {
            value = bound(value, 0, 10 ether);
            return (address(s.staking), abi.encodeCall(s.staking.setMinActiveStake, (value)), value);
        }
        if (which == 1) {
            value = bound(value, 0, 1e9);
            return (address(s.minter), abi.encodeCall(s.minter.setInflationChange, (value)), value);
        }
        if (which == 2) {
            value = bound(value, 0, 1_000_000);
            return (
                address(s.faultClaims),
                abi.encodeCall(
                    s.faultClaims.setParameters, (IFaultClaims.Parameters(10 ether, 1 days, uint32(value), 500_000))
                ),
                value
            );
        }
        if (which == 3) {
            value = bound(value, 5, 40);
            return (address(s.governor), abi.encodeCall(s.governor.setVotingPeriod, (uint32(value))), value);
        }
        value = bound(value, 1, 60);
        return (address(s.timelock), abi.encodeCall(s.timelock.updateDelay, (value)), value);
    }

    function vote(uint256 idSeed, uint256 voterSeed, uint8 support, bool asOverride) external {
        if (proposals.length == 0) return;
        uint256 id = proposals[idSeed % proposals.length];
        address voter = actor(voterSeed);
        support %= 3;
        vm.prank(voter);
        if (asOverride) {
            try s.governor.castOverrideVote(id, support, "") {
                calls["override"]++;
            } catch {}
        } else {
            try s.governor.castVote(id, support) {
                calls["vote"]++;
            } catch {}
        }
    }

    /// @dev The two largest voters (actors[1], actors[2]) back a proposal together, so that some
    ///      proposals pass and run.
    function rally(uint256 idSeed) external {
        if (proposals.length == 0) return;
        uint256 id = proposals[idSeed % proposals.length];
        for (uint256 i = 1; i <= 2; ++i) {
            vm.prank(actors[i]);
            try s.governor.castVote(id, 1) {
                calls["vote"]++;
            } catch {}
        }
    }

    /// @dev Held tokens change hands or delegates mid-vote (double-vote attempts).
    function moveTokens(uint256 fromSeed, uint256 toSeed, uint256 amount, bool redelegate) external {
        address from = actor(fromSeed);
        address to = actor(toSeed);
        if (redelegate) {
            vm.prank(from);
            s.token.delegate(to);
        } else {
            amount = bound(amount, 0, s.token.balanceOf(from));
            vm.prank(from);
            s.token.transfer(to, amount);
        }
        calls["moveTokens"]++;
    }

    /// @dev The delegator moves part of its stake out (unbond) or back in (rebond of its first lock).
    function moveStake(bool out) external {
        vm.prank(delegator);
        if (out) {
            try s.staking.unbond(1000 ether) {} catch {}
        } else {
            try s.staking.rebond(0) {} catch {}
        }
        calls["moveStake"]++;
    }

    function advance(uint256 blocks) external {
        blocks = bound(blocks, 1, 12);
        vm.roll(block.number + blocks);
        vm.warp(block.timestamp + blocks * 12);
        calls["advance"]++;
    }

    function queue(uint256 idSeed) external {
        if (proposals.length == 0) return;
        try s.governor.queue(proposals[idSeed % proposals.length]) {
            calls["queue"]++;
        } catch {}
    }

    function execute(uint256 idSeed) external {
        if (proposals.length == 0) return;
        uint256 id = proposals[idSeed % proposals.length];
        try s.governor.execute(id) {
            executed++;
            uint256 which = _which[id];
            uint256 value = _value[id];
            if (which == 0) expectedMinActiveStake = value;
            else if (which == 1) expectedInflationChange = value;
            else if (which == 2) expectedSlashPpm = uint32(value);
            else if (which == 3) expectedVotingPeriod = value;
            else expectedDelay = value;
            calls["execute"]++;
        } catch {}
    }

    function initializeRound() external {
        try s.minter.initializeRound() {
            calls["initializeRound"]++;
        } catch {}
    }

    /// @dev Proposal `i`'s votes and its snapshot.
    function tally(uint256 i) external view returns (uint256 total, uint256 snapshot) {
        uint256 id = proposals[i];
        (uint256 a, uint256 f, uint256 ab) = s.governor.proposalVotes(id);
        return (a + f + ab, s.governor.proposalSnapshot(id));
    }

    function state(uint256 i) external view returns (IGovernor.ProposalState) {
        return s.governor.state(proposals[i]);
    }
}
