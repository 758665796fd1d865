// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {console} from "forge-std/console.sol";
import {GovernanceTestBase} from "../utils/GovernanceTestBase.sol";
import {IFaultClaims} from "../../contracts/interfaces/IFaultClaims.sol";

/// @notice Governance gas figures. Run with `--isolate` (each top-level call its own transaction:
///         receipt gas, 21,000 base and calldata included). A one-call proposal: FaultClaims'
///         parameters with a new slash rate. Voters: alice (token votes), o (stake votes of its pool),
///         d (bonded to o, overriding it). Nothing here asserts a figure.
contract GovernanceGasBench is GovernanceTestBase {
    function report(string memory name, uint256 value) internal pure {
        console.log(string.concat(name, ": ", vm.toString(value)));
    }

    function test_GovernanceGasFigures() public {
        (address[] memory t, uint256[] memory v, bytes[] memory c) = calls1(
            address(faultClaims),
            abi.encodeCall(faultClaims.setParameters, (IFaultClaims.Parameters(10 ether, 1 days, 500_000, 500_000)))
        );
        vm.prank(alice);
        uint256 id = governor.propose(t, v, c, "slash 50%");
        report("gov_propose_gas", vm.lastCallGas().gasTotalUsed);

        startVoting(id);
        vm.prank(alice);
        governor.castVote(id, FOR);
        report("gov_vote_gas", vm.lastCallGas().gasTotalUsed);
        vm.prank(o);
        governor.castVote(id, FOR);
        report("gov_vote_stake_gas", vm.lastCallGas().gasTotalUsed);
        vm.prank(d);
        governor.castOverrideVote(id, AGAINST, "");
        report("gov_vote_override_gas", vm.lastCallGas().gasTotalUsed);

        endVoting(id);
        governor.queue(t, v, c, keccak256("slash 50%"));
        report("gov_queue_gas", vm.lastCallGas().gasTotalUsed);
        vm.warp(block.timestamp + timelock.getMinDelay());
        governor.execute(t, v, c, keccak256("slash 50%"));
        report("gov_execute_gas", vm.lastCallGas().gasTotalUsed);
        assertEq(faultClaims.parameters().slashPpm, 500_000);
    }
}
