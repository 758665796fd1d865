// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {console} from "forge-std/console.sol";
import {GovernanceTestBase} from "../utils/GovernanceTestBase.sol";
import {GovernanceHandler} from "./GovernanceHandler.sol";

/// @notice Governance invariants under random calls (test/invariant/GovernanceHandler.sol): no
///         parameter changes except through an executed proposal (restricted calls by any account,
///         the deployer included, never succeed; parameters equal what executed proposals set); the
///         votes of a proposal never exceed the vote source's supply at its snapshot (no unit counted
///         twice across transfers, re-delegation, unbonding and overrides); the treasury never exceeds
///         its ceiling.
contract GovernanceInvariants is GovernanceTestBase {
    GovernanceHandler internal handler;
    uint256 internal constant CEILING = 5_000 ether;
    address internal stranger = makeAddr("stranger");

    function setUp() public override {
        super.setUp();
        vm.startPrank(address(timelock));
        minter.setTreasuryBalanceCeiling(CEILING);
        minter.setTreasuryRewardCutRate(100_000_000);
        vm.stopPrank();
        address[] memory actors = new address[](6);
        (actors[0], actors[1], actors[2], actors[3], actors[4], actors[5]) =
        (address(this), alice, o, d, whale, stranger);
        handler = new GovernanceHandler(suite, actors, o, d);

        bytes4[] memory selectors = new bytes4[](14);
        selectors[12] = GovernanceHandler.rally.selector;
        selectors[13] = GovernanceHandler.execute.selector;
        selectors[0] = GovernanceHandler.rogue.selector;
        selectors[1] = GovernanceHandler.rogue.selector;
        selectors[2] = GovernanceHandler.propose.selector;
        selectors[3] = GovernanceHandler.vote.selector;
        selectors[4] = GovernanceHandler.vote.selector;
        selectors[5] = GovernanceHandler.moveTokens.selector;
        selectors[6] = GovernanceHandler.moveStake.selector;
        selectors[7] = GovernanceHandler.advance.selector;
        selectors[8] = GovernanceHandler.advance.selector;
        selectors[9] = GovernanceHandler.queue.selector;
        selectors[10] = GovernanceHandler.execute.selector;
        selectors[11] = GovernanceHandler.initializeRound.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    function invariant_NoRestrictedCallSucceeds() public view {
        assertEq(handler.rogueSuccesses(), 0);
        assertEq(token.minter(), address(minter));
        assertEq(staking.owner(), address(timelock));
        assertEq(minter.owner(), address(timelock));
        assertEq(faultClaims.owner(), address(timelock));
        assertEq(minter.treasury(), address(timelock));
        assertFalse(timelock.hasRole(timelock.PROPOSER_ROLE(), address(this)));
    }

    function invariant_ParametersOnlyChangeThroughExecutedProposals() public view {
        assertEq(staking.minActiveStake(), handler.expectedMinActiveStake());
        assertEq(minter.inflationChange(), handler.expectedInflationChange());
        assertEq(faultClaims.parameters().slashPpm, handler.expectedSlashPpm());
        assertEq(governor.votingPeriod(), handler.expectedVotingPeriod());
        assertEq(timelock.getMinDelay(), handler.expectedDelay());
        assertEq(staking.verifier(), address(faultClaims));
        assertEq(faultClaims.currentTerm(), 2);
        assertEq(governor.proposalThreshold(), params.proposalThreshold);
        assertEq(governor.quorumNumerator(), params.quorumPercent);
    }

    function invariant_VotesNeverCountTwice() public view {
        for (uint256 i; i < handler.proposalCount(); ++i) {
            (uint256 total, uint256 snapshot) = handler.tally(i);
            if (snapshot >= block.number) continue;
            assertLe(total, votePower.getPastTotalSupply(snapshot));
            // Stake and held votes of the voters at the snapshot bound the tally as well.
            uint256 bound_ = votePower.getPastVotes(alice, snapshot) + votePower.getPastVotes(o, snapshot)
                + votePower.getPastVotes(d, snapshot) + votePower.getPastVotes(whale, snapshot)
                + votePower.getPastVotes(address(this), snapshot) + votePower.getPastVotes(stranger, snapshot);
            assertLe(total, bound_);
        }
    }

    function invariant_TreasuryNeverExceedsItsCeiling() public view {
        assertLe(token.balanceOf(address(timelock)), CEILING);
    }

    /// @dev The handler's legitimate path does change parameters (so the ghost comparison is not vacuous).
    function test_HandlerPathExecutesAProposal() public {
        handler.propose(1, 0, 3 ether); // alice: minActiveStake 3
        handler.advance(2);
        handler.rally(0);
        for (uint256 i; i < 3; ++i) {
            handler.advance(12);
        }
        handler.queue(0);
        handler.advance(1);
        handler.execute(0);
        assertEq(handler.executed(), 1);
        assertEq(staking.minActiveStake(), 3 ether);
        invariant_ParametersOnlyChangeThroughExecutedProposals();
        invariant_VotesNeverCountTwice();
    }

    function afterInvariant() external view {
        console.log("proposals", handler.proposalCount(), "executed", handler.executed());
        console.log("votes", handler.calls("vote"), "overrides", handler.calls("override"));
        console.log("rogue calls", handler.calls("rogue"), "rounds", handler.calls("initializeRound"));
    }
}
