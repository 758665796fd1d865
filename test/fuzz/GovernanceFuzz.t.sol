// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {GovernanceTestBase} from "../utils/GovernanceTestBase.sol";
import {IFaultClaims} from "../../contracts/interfaces/IFaultClaims.sol";
import {IPeerflowGovernor} from "../../contracts/interfaces/IPeerflowGovernor.sol";

/// @notice Bounded setters, given random values by the timelock (or, for the governor's own settings,
///         by an executed proposal), revert exactly when the value is out of bounds; the treasury
///         share never takes the treasury above its ceiling, over random rates, ceilings and rounds.
contract GovernanceFuzzTest is GovernanceTestBase {
    uint256 internal constant PPB = 1e9;

    function timelockCall(address target, bytes memory data, bool ok) internal {
        vm.prank(address(timelock));
        (bool success,) = target.call(data);
        assertEq(success, ok);
    }

    function testFuzz_TimelockDelay(uint256 delay) public {
        delay = bound(delay, 0, 60 days);
        timelockCall(
            address(timelock),
            abi.encodeCall(timelock.updateDelay, (delay)),
            delay >= timelock.MIN_DELAY() && delay <= timelock.MAX_DELAY()
        );
    }

    function testFuzz_MinterRates(uint256 change, uint256 target, uint256 cut) public {
        change = bound(change, 0, 2 * PPB);
        target = bound(target, 0, 2 * PPB);
        cut = bound(cut, 0, PPB);
        timelockCall(address(minter), abi.encodeCall(minter.setInflationChange, (change)), change <= PPB);
        timelockCall(address(minter), abi.encodeCall(minter.setTargetBondingRate, (target)), target <= PPB);
        timelockCall(address(minter), abi.encodeCall(minter.setTreasuryRewardCutRate, (cut)), cut <= PPB / 2);
    }

    function testFuzz_FaultClaimsParameters(uint128 bond, uint64 period, uint32 slash, uint32 finder) public {
        period = uint64(bound(period, 0, 60 days));
        slash = uint32(bound(slash, 0, 2_000_000));
        finder = uint32(bound(finder, 0, 2_000_000));
        bool ok = bond > 0 && period > 0 && period <= 30 days && slash <= 1_000_000 && finder <= 1_000_000;
        timelockCall(
            address(faultClaims),
            abi.encodeCall(faultClaims.setParameters, (IFaultClaims.Parameters(bond, period, slash, finder))),
            ok
        );
    }

    function testFuzz_CommitteeTermLength(uint64 length) public {
        length = uint64(bound(length, 0, 5 * 365 days));
        timelockCall(
            address(faultClaims),
            abi.encodeCall(faultClaims.setTermLength, (length)),
            length >= 1 hours && length <= 4 * 365 days
        );
    }

    /// @dev One governor setting (`which`) set to `value` by a passed proposal: the execution
    ///      reverts exactly when `value` is out of the governor's bounds.
    function testFuzz_GovernorSettings(uint8 which, uint256 value) public {
        which = uint8(bound(which, 0, 3));
        IPeerflowGovernor g = IPeerflowGovernor(address(governor));
        bytes memory data;
        bool ok;
        if (which == 0) {
            value = bound(value, 0, 2 * uint256(g.maxVotingDelay()));
            data = abi.encodeCall(governor.setVotingDelay, (uint48(value)));
            ok = value <= g.maxVotingDelay();
        } else if (which == 1) {
            value = bound(value, 0, 2 * uint256(g.maxVotingPeriod()));
            data = abi.encodeCall(governor.setVotingPeriod, (uint32(value)));
            ok = value >= g.minVotingPeriod() && value <= g.maxVotingPeriod();
        } else if (which == 2) {
            value = bound(value, 0, 2 * g.maxProposalThreshold());
            data = abi.encodeCall(governor.setProposalThreshold, (value));
            ok = value <= g.maxProposalThreshold();
        } else {
            value = bound(value, 0, 120);
            data = abi.encodeCall(governor.updateQuorumNumerator, (value));
            ok = value >= g.minQuorumNumerator() && value <= g.maxQuorumNumerator();
        }
        uint256 id = propose1(address(governor), data, "setting");
        startVoting(id);
        voteAs(alice, id, FOR);
        voteAs(o, id, FOR);
        endVoting(id);
        queueAndWait(id);
        if (!ok) vm.expectRevert();
        governor.execute(id);
    }

    /// @dev Random rate, ceiling, starting balance and rounds (with bonding moving inflation): every
    ///      round's share is min(rate × inflation, ceiling − balance), never above the ceiling, and
    ///      the share plus the stakers' mintable is the round's whole inflation.
    function testFuzz_TreasuryNeverExceedsItsCeiling(uint256 rate, uint256 ceiling, uint256 start, uint8 rounds)
        public
    {
        rate = bound(rate, 1, PPB / 2);
        ceiling = bound(ceiling, 0, 20_000 ether);
        start = bound(start, 0, 20_000 ether);
        rounds = uint8(bound(rounds, 1, 12));
        give(address(timelock), start);
        vm.startPrank(address(timelock));
        minter.setTreasuryBalanceCeiling(ceiling);
        minter.setTreasuryRewardCutRate(rate);
        vm.stopPrank();
        for (uint256 i; i < rounds; ++i) {
            nextRound();
            uint256 before = token.balanceOf(address(timelock));
            uint256 supply = token.totalSupply();
            uint256 currentRate = minter.treasuryRewardCutRate();
            minter.initializeRound();
            uint256 share = token.balanceOf(address(timelock)) - before;
            uint256 inflation = supply * minter.inflation() / PPB;
            uint256 room = ceiling > before ? ceiling - before : 0;
            uint256 due = inflation * currentRate / PPB;
            assertEq(share, due < room ? due : room);
            assertLe(token.balanceOf(address(timelock)), before > ceiling ? before : ceiling);
            assertEq(share + minter.currentMintable(), inflation);
            if (before + share >= ceiling) assertEq(minter.treasuryRewardCutRate(), 0);
            if (i % 3 == 1) bondAs(makeAddr(vm.toString(i)), 10_000 ether, o);
        }
    }
}
