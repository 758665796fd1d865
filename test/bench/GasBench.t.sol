// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {console} from "forge-std/console.sol";
import {Fixture} from "../utils/Fixture.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice Gas figures for `./script/bench gas`. Run with `--isolate`, where each top-level call is its
///         own transaction: figures are receipt gas (21,000 base + calldata + execution, cold accesses
///         as on a real chain). Nothing here asserts a figure: targets live in the benchmark output.
contract GasBench is Fixture {
    address internal o;
    address internal b;
    uint256 internal bKey;
    uint256 internal nonce;

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("orchestrator", 1000 ether, 100_000, 500_000);
        for (uint256 i; i < 19; ++i) {
            newOrchestrator(string.concat("peer", vm.toString(i)), 100 ether + i, 100_000, 500_000);
        }
        bondAs(makeAddr("delegator"), 500 ether, o);
        (b, bKey) = makeAddrAndKey("broadcaster");
        fundSender(b, 1000 ether, 100 ether);
        nextRound();
        // Steady state: the orchestrator was paid and rewarded in an earlier round, so its fee and
        // nonce slots exist; the measured round starts fresh.
        redeem(signed(1 ether));
        vm.prank(o);
        staking.reward();
        nextRound();
    }

    function report(string memory name, uint256 value) internal pure {
        console.log(string.concat(name, ": ", vm.toString(value)));
    }

    function signed(uint256 faceValue) internal returns (ITicketBroker.SignedTicket memory) {
        bytes32 rand = keccak256(abi.encode("rand", nonce));
        ITicketBroker.Ticket memory t = ticketFor(o, b, faceValue, nonce++, rand);
        return sign(bKey, t, rand);
    }

    function redeem(ITicketBroker.SignedTicket memory st) internal returns (uint256 gasUsed) {
        vm.prank(o);
        broker.redeemWinningTicket(st);
        gasUsed = vm.lastCallGas().gasTotalUsed;
    }

    function redeemBatch(uint256 n) internal returns (uint256 gasUsed, uint256 calldataBytes) {
        ITicketBroker.SignedTicket[] memory tickets = new ITicketBroker.SignedTicket[](n);
        for (uint256 i; i < n; ++i) {
            tickets[i] = signed(1 ether);
        }
        calldataBytes = abi.encodeCall(broker.redeemWinningTickets, (tickets)).length;
        vm.prank(o);
        broker.redeemWinningTickets(tickets);
        gasUsed = vm.lastCallGas().gasTotalUsed;
    }

    function test_GasFigures() public {

        // Reference measured in the same run: a plain ERC-20 transfer to an existing holder.
        address holder = makeAddr("holder");
        give(holder, 10 ether);
        give(makeAddr("other"), 1);
        vm.prank(holder);
        token.transfer(makeAddr("other"), 1 ether);
        report("erc20_transfer_gas", vm.lastCallGas().gasTotalUsed);

        // First ticket to this orchestrator since its fees were last folded (pending-fee slot is zero).
        report("redeem_single_cold_gas", redeem(signed(1 ether)));
        // The orchestrator has already earned this round: the common case.
        report("redeem_single_gas", redeem(signed(1 ether)));
        report("redeem_single_calldata_bytes", abi.encodeCall(broker.redeemWinningTicket, (signed(1))).length);
        nonce--;

        (uint256 one, uint256 oneBytes) = redeemBatch(1);
        (uint256 ten, uint256 tenBytes) = redeemBatch(10);
        report("redeem_batch1_gas", one);
        report("redeem_batch10_gas", ten);
        report("redeem_batch10_marginal_gas", (ten - one) / 9);
        report("ticket_calldata_bytes", (tenBytes - oneBytes) / 9);

        // Staking.
        address d = makeAddr("newDelegator");
        give(d, 100 ether);
        vm.prank(d);
        token.approve(address(staking), 100 ether);
        vm.prank(d);
        staking.bond(100 ether, o);
        report("bond_gas", vm.lastCallGas().gasTotalUsed);

        vm.prank(makeAddr("peer0"));
        staking.reward(); // initializes the round in the Minter
        report("reward_first_in_round_gas", vm.lastCallGas().gasTotalUsed);
        vm.prank(o);
        staking.reward();
        report("reward_gas", vm.lastCallGas().gasTotalUsed);

        for (uint256 i; i < 5; ++i) {
            nextRound();
            redeem(signed(1 ether));
            vm.prank(o);
            staking.reward();
        }
        vm.prank(makeAddr("delegator"));
        staking.claimEarnings();
        report("claim_earnings_gas", vm.lastCallGas().gasTotalUsed);
    }
}
