// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice The reserve: per-round, per-orchestrator allocation of reserve-at-round-start / N.
contract TicketBrokerReserveTest is BrokerTestBase {
    address internal o1;
    address internal o2;
    address internal o3;

    uint256 internal constant R = 9 ether;

    function setUp() public override {
        super.setUp();
        o1 = newOrchestrator("o1", 10 ether, 0, 0);
        o2 = newOrchestrator("o2", 20 ether, 0, 0);
        o3 = newOrchestrator("o3", 30 ether, 0, 0);
        fundSender(sender, 0, R); // round 0: backs tickets from round 1 on
        nextRound(); // round 1: 3 active orchestrators
        (uint256 count,) = staking.activeTotalsThisRound();
        assertEq(count, 3);
    }

    function _claimable(address recipient) internal view returns (uint256) {
        return broker.claimableReserve(sender, recipient, broker.currentRound());
    }

    function test_Reserve_EachActiveOrchestratorClaimsAtMostReserveOverN() public {
        assertEq(_claimable(o1), 3 ether);
        assertEq(_claimable(o2), 3 ether);
        assertEq(_claimable(o3), 3 ether);

        ITicketBroker.SignedTicket memory a = _signedBy(o1, 2 ether, 0);
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, o1, 2 ether, 0, 2 ether);
        _redeem(o1, a);
        assertEq(broker.getSenderInfo(sender).reserve, 7 ether);
        assertEq(broker.getSenderInfo(sender).deposit, 0);
        assertEq(staking.pendingFees(o1), 2 ether);
        assertEq(_claimable(o1), 1 ether);

        ITicketBroker.SignedTicket memory tooMuch = _signedBy(o1, 1 ether + 1, 1);
        View memory before = _view(sender, sender, o1);
        _expectRedeemRevert(o1, tooMuch, ITicketBroker.TicketInsufficientFunds.selector);
        _assertSame(before, _view(sender, sender, o1));

        ITicketBroker.SignedTicket memory rest = _signedBy(o1, 1 ether, 2);
        _redeem(o1, rest);
        assertEq(_claimable(o1), 0);

        // The others' allocation is still a third of the reserve at the round's start.
        assertEq(_claimable(o2), 3 ether);
        ITicketBroker.SignedTicket memory b = _signedBy(o2, 3 ether, 0);
        ITicketBroker.SignedTicket memory c = _signedBy(o3, 3 ether, 0);
        _redeem(o2, b);
        _redeem(o3, c);
        assertEq(broker.getSenderInfo(sender).reserve, 0);
        assertEq(_claimable(o2), 0);
        assertEq(_claimable(o3), 0);
    }

    function test_Reserve_ClaimsResetNextRound() public {
        ITicketBroker.SignedTicket memory a = _signedBy(o1, 3 ether, 0);
        _redeem(o1, a);
        assertEq(_claimable(o1), 0);
        nextRound(); // round 2: 6 ether left over 3 orchestrators
        assertEq(_claimable(o1), 2 ether);
        assertEq(_claimable(o2), 2 ether);
        ITicketBroker.SignedTicket memory b = _signedBy(o1, 2 ether, 1);
        _redeem(o1, b);
        assertEq(broker.getSenderInfo(sender).reserve, 4 ether);
        assertEq(_claimable(o1), 0);
    }

    function test_Reserve_FundedThisRoundDoesNotCountUntilNextRound() public {
        (address late, uint256 lateKey) = makeAddrAndKey("late");
        fundSender(late, 0, R); // round 1
        assertEq(broker.claimableReserve(late, o1, 1), 0);
        ITicketBroker.SignedTicket memory st = sign(lateKey, _t(o1, late, late, 1 ether, ALWAYS, 0, RAND, 1), RAND);
        _expectRedeemRevert(o1, st, ITicketBroker.TicketInsufficientFunds.selector);
        nextRound();
        assertEq(broker.claimableReserve(late, o1, 1), 3 ether);
        _redeem(o1, st);
        assertEq(broker.getSenderInfo(late).reserve, 8 ether);
    }

    function test_Reserve_TopUpThisRoundCountsNextRound() public {
        fundSender(sender, 0, R); // round 1: 18 ether in all, 9 at the round's start
        assertEq(broker.getSenderInfo(sender).reserve, 18 ether);
        assertEq(_claimable(o1), 3 ether);
        ITicketBroker.SignedTicket memory st = _signedBy(o1, 3 ether + 1, 0);
        _expectRedeemRevert(o1, st, ITicketBroker.TicketInsufficientFunds.selector);
        nextRound();
        assertEq(_claimable(o1), 6 ether);
        _redeem(o1, st);
    }

    function test_Reserve_TopUpAfterAClaimThisRoundDoesNotCount() public {
        ITicketBroker.SignedTicket memory a = _signedBy(o1, 3 ether, 0);
        _redeem(o1, a);
        fundSender(sender, 0, 30 ether);
        assertEq(_claimable(o1), 0);
        assertEq(_claimable(o2), 3 ether);
    }

    function test_Reserve_DepositIsUsedFirst() public {
        fundSender(sender, 1 ether, 0);
        ITicketBroker.SignedTicket memory st = _signedBy(o1, 3 ether, 0);
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, o1, 3 ether, 0, 2 ether);
        _redeem(o1, st);
        assertEq(broker.getSenderInfo(sender).deposit, 0);
        assertEq(broker.getSenderInfo(sender).reserve, 7 ether);
        assertEq(_claimable(o1), 1 ether);
        // Deposit plus allocation is the most one ticket can pay.
        fundSender(sender, 1 ether, 0);
        ITicketBroker.SignedTicket memory over = _signedBy(o1, 2 ether + 1, 1);
        _expectRedeemRevert(o1, over, ITicketBroker.TicketInsufficientFunds.selector);
        ITicketBroker.SignedTicket memory exact = _signedBy(o1, 2 ether, 1);
        _redeem(o1, exact);
        assertEq(broker.getSenderInfo(sender).reserve, 6 ether);
    }

    function test_Reserve_DivisorIsActiveSetAtRoundStart() public {
        address o4 = newOrchestrator("o4", 40 ether, 0, 0); // joins now, active from round 2
        assertEq(_claimable(o1), 3 ether, "a member joining mid-round does not change this round's share");
        assertEq(_claimable(o4), 0, "not active in this round nor the ticket's");
        ITicketBroker.SignedTicket memory st = _signedBy(o4, 1, 0);
        _expectRedeemRevert(o4, st, ITicketBroker.TicketInsufficientFunds.selector);
        nextRound(); // round 2: 4 active
        assertEq(_claimable(o4), R / 4);
        assertEq(_claimable(o1), R / 4);
        _redeem(o4, st); // created in round 1, redeemed in round 2 where o4 is active
    }

    function test_Reserve_DeactivatedOrchestratorStillPaidForTicketOfItsActiveRound() public {
        ITicketBroker.SignedTicket memory st = _signedBy(o3, 3 ether, 0); // round 1: o3 active
        vm.prank(o3);
        staking.unbond(30 ether); // leaves the active set: inactive from round 2
        nextRound();
        assertFalse(staking.isActive(o3, 2));
        assertTrue(staking.isRegistered(o3));
        // Divisor: 2 active + o3, which left and may still claim for its round-1 tickets.
        assertEq(broker.claimableReserve(sender, o3, 1), R / 3, "eligible through the ticket's round");
        assertEq(broker.claimableReserve(sender, o3, 2), 0, "not for tickets of a round it is inactive in");
        _redeem(o3, st);
        assertEq(broker.getSenderInfo(sender).reserve, 6 ether);
        assertEq(staking.pendingFees(o3), 3 ether);

        ITicketBroker.SignedTicket memory later = _signedBy(o3, 1 ether, 1); // round 2
        _expectRedeemRevert(o3, later, ITicketBroker.TicketInsufficientFunds.selector);
    }

    function test_Reserve_DepartedClaimantCountsInTheDivisor() public {
        // o3 deactivates: round 2 divides by 2 active + 1 departed, so every claimant keeps R / 3.
        ITicketBroker.SignedTicket memory st3 = _signedBy(o3, 3 ether, 0);
        ITicketBroker.SignedTicket memory over3 = _signedBy(o3, 3 ether + 1, 1);
        vm.prank(o3);
        staking.unbond(30 ether);
        nextRound();
        assertEq(_claimable(o1), R / 3);
        assertEq(broker.claimableReserve(sender, o3, 1), R / 3);
        _expectRedeemRevert(o3, over3, ITicketBroker.TicketInsufficientFunds.selector);
        _redeem(o3, st3);
        ITicketBroker.SignedTicket memory a = _signedBy(o1, 3 ether, 0);
        ITicketBroker.SignedTicket memory b = _signedBy(o2, 3 ether, 0);
        _redeem(o1, a);
        _redeem(o2, b);
        assertEq(broker.getSenderInfo(sender).reserve, 0, "exactly the reserve, every claimant paid its share");
        nextRound(); // round 3: o3's departure is out of the window (tickets of round 1 expired)
        (bool eligible, uint256 divisor) = staking.reserveEligibility(o1, 3, 3);
        assertTrue(eligible);
        assertEq(divisor, 2);
    }

    function test_Reserve_LeavingAndRejoiningInOneRoundIsNotADeparture() public {
        vm.startPrank(o3);
        uint256 lock = staking.unbond(30 ether); // leaves the set...
        staking.rebond(lock); // ...and is back in the same round: active throughout
        vm.stopPrank();
        nextRound();
        assertTrue(staking.isActive(o3, 2));
        (, uint256 divisor) = staking.reserveEligibility(o1, 2, 2);
        assertEq(divisor, 3, "three active, no departure");
        assertEq(_claimable(o1), R / 3);
    }

    function test_Reserve_EveryDepartureOfTheWindowCounts() public {
        vm.prank(o2);
        staking.unbond(20 ether);
        vm.prank(o3);
        staking.unbond(30 ether);
        nextRound(); // round 2: o1 active; o2 and o3 may still redeem round-1 tickets
        (bool eligible, uint256 divisor) = staking.reserveEligibility(o2, 2, 1);
        assertTrue(eligible);
        assertEq(divisor, 3);
        assertEq(_claimable(o1), R / 3, "the one active orchestrator keeps a third, not the whole reserve's rest");
        assertEq(broker.claimableReserve(sender, o2, 1), R / 3);
        assertEq(broker.claimableReserve(sender, o3, 1), R / 3);
    }

    function test_Reserve_NothingForNonOrchestrators() public {
        assertEq(_claimable(makeAddr("stranger")), 0);
        assertEq(broker.claimableReserve(makeAddr("nobody"), o1, 1), 0, "sender without reserve");
    }

    function test_Reserve_StillPaysWhileUnlocking() public {
        vm.prank(sender);
        broker.unlock(); // withdrawRound 4
        rollRounds(2); // round 3
        ITicketBroker.SignedTicket memory st = _signedBy(o1, 3 ether, 0);
        _redeem(o1, st);
        nextRound();
        assertEq(_claimable(o1), 2 ether, "the view does not know about the unlock");
        ITicketBroker.SignedTicket memory late = _signedBy(o1, 1 ether, 1);
        _expectRedeemRevert(o1, late, ITicketBroker.TicketFundsUnlocked.selector);
    }

    function test_Reserve_SendersAreIndependent() public {
        (address s2, uint256 k2) = makeAddrAndKey("s2");
        fundSender(s2, 0, 3 ether);
        nextRound(); // round 2
        ITicketBroker.SignedTicket memory a = _signedBy(o1, 3 ether, 0);
        ITicketBroker.SignedTicket memory b =
            sign(k2, _t(o1, s2, s2, 1 ether, ALWAYS, 0, RAND, broker.currentRound()), RAND);
        _redeem(o1, a);
        _redeem(o1, b);
        assertEq(broker.getSenderInfo(sender).reserve, 6 ether);
        assertEq(broker.getSenderInfo(s2).reserve, 2 ether);
    }

    /// @dev Reserve re-funded in the round of a withdrawal must, like any reserve added in the
    ///      current round, back tickets only from the next round on. FAILS: withdraw() zeroes
    ///      `funds` but keeps a snapshot (`fundsAtRoundStart`) taken earlier in the same round, so
    ///      the new funds are claimable at once, against the pre-withdrawal allocation.
    function test_Reserve_RefundedAfterWithdrawalInSameRoundDoesNotCountUntilNextRound() public {
        vm.prank(sender);
        broker.unlock(); // round 1: withdrawRound 4
        rollRounds(3); // round 4
        fundSender(sender, 0, 1 ether); // snapshot of this round taken here: 9 ether at its start
        vm.prank(sender);
        broker.withdraw(); // funds 0
        fundSender(sender, 0, 6 ether); // added in the current round
        assertEq(_claimable(o1), 0, "reserve added this round is claimable");
        ITicketBroker.SignedTicket memory st = _signedBy(o1, 1 ether, 0);
        _expectRedeemRevert(o1, st, ITicketBroker.TicketInsufficientFunds.selector);
        nextRound();
        assertEq(_claimable(o1), 2 ether);
    }
}
