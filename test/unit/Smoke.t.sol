// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "../utils/Fixture.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

contract SmokeTest is Fixture {
    function test_TicketPaysOrchestratorAndDelegators() public {
        address o = newOrchestrator("o", 100 ether, 100_000, 500_000);
        address d = makeAddr("d");
        bondAs(d, 100 ether, o);
        nextRound();
        (address b, uint256 bk) = makeAddrAndKey("b");
        fundSender(b, 10 ether, 0);
        bytes32 rand = keccak256("rand");
        ITicketBroker.SignedTicket memory st = sign(bk, ticketFor(o, b, 1 ether, 0, rand), rand);
        vm.prank(o);
        broker.redeemWinningTicket(st);
        assertEq(broker.getSenderInfo(b).deposit, 9 ether);
        assertEq(staking.pendingFees(d), 0.25 ether);
        assertEq(staking.pendingFees(o), 0.75 ether);
        vm.prank(o);
        staking.reward();
        assertGt(staking.pendingStake(d), 100 ether);
        vm.prank(d);
        staking.withdrawFees(d, 0.25 ether);
        assertEq(token.balanceOf(d), 0.25 ether);
    }
}
