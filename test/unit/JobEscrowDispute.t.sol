// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EscrowTestBase} from "../utils/EscrowTestBase.sol";
import {IJobEscrow} from "../../contracts/interfaces/IJobEscrow.sol";

/// @notice JobEscrow disputes: who may dispute and when, 2-of-3 votes both ways, expiry at finalize.
contract JobEscrowDisputeTest is EscrowTestBase {
    uint256 internal id;

    function setUp() public override {
        super.setUp();
        id = createFixed(3);
        accept(id, p1);
        accept(id, p2);
        accept(id, p3);
    }

    function _dispute(address by, address provider) internal {
        vm.prank(by);
        escrow.dispute(id, provider);
    }

    function _vote(address by, address provider, bool pay) internal {
        vm.prank(by);
        escrow.vote(id, provider, pay);
    }

    /* DISPUTE */

    function test_Dispute_ByBuyerOrProvider() public {
        commit(id, p1, GOOD, PRICE);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.Disputed(id, p1, buyer);
        _dispute(buyer, p1);
        assertEq(uint8(slotStatus(id, p1)), uint8(IJobEscrow.SlotStatus.Disputed));
        commit(id, p2, GOOD, PRICE);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.Disputed(id, p2, p2);
        _dispute(p2, p2); // its own committed slot
        assertEq(uint8(slotStatus(id, p2)), uint8(IJobEscrow.SlotStatus.Disputed));
        vm.expectEmit(address(escrow));
        emit IJobEscrow.Disputed(id, p3, buyer);
        _dispute(buyer, p3); // the buyer may dispute a slot not yet committed
        assertEq(uint8(slotStatus(id, p3)), uint8(IJobEscrow.SlotStatus.Disputed));
    }

    function test_RevertWhen_DisputeByOthers() public {
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.NotVoter.selector, id, p2));
        _dispute(p2, p1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.NotVoter.selector, id, arbiter));
        _dispute(arbiter, p1);
    }

    function test_RevertWhen_DisputeTwiceOrNoSlot() public {
        _dispute(buyer, p1);
        vm.expectRevert(
            abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p1, IJobEscrow.SlotStatus.Disputed)
        );
        _dispute(p1, p1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p4, IJobEscrow.SlotStatus.None));
        _dispute(buyer, p4);
    }

    function test_RevertWhen_DisputeAfterTheReviewPeriod() public {
        commit(id, p1, GOOD, PRICE);
        commit(id, p2, GOOD, PRICE);
        commit(id, p3, GOOD, PRICE);
        uint256 reviewEnd = escrow.finalizableAt(id);
        vm.warp(reviewEnd - 1);
        _dispute(buyer, p1);
        vm.warp(reviewEnd);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.DeadlinePassed.selector, id, reviewEnd));
        _dispute(buyer, p2);
    }

    function test_RevertWhen_DisputedSlotCommits() public {
        _dispute(buyer, p1);
        vm.expectRevert(
            abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p1, IJobEscrow.SlotStatus.Disputed)
        );
        commit(id, p1, GOOD, PRICE);
        vm.expectRevert(
            abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p1, IJobEscrow.SlotStatus.Disputed)
        );
        vm.prank(buyer);
        escrow.releaseCheckpoint(id, p1);
    }

    /* VOTE */

    function test_Vote_BuyerAndArbiterSlash() public {
        commit(id, p1, BAD, PRICE);
        _dispute(buyer, p1);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.Voted(id, p1, buyer, false);
        _vote(buyer, p1, false);
        assertEq(uint8(slotStatus(id, p1)), uint8(IJobEscrow.SlotStatus.Disputed), "one vote decides nothing");
        vm.expectEmit(address(escrow));
        emit IJobEscrow.Voted(id, p1, arbiter, false);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p1, IJobEscrow.SlotStatus.Slashed, 0, PRICE + COLLATERAL);
        _vote(arbiter, p1, false);
        assertEq(uint8(slotStatus(id, p1)), uint8(IJobEscrow.SlotStatus.Slashed));
        assertEq(bal(buyer), PRICE + COLLATERAL);
        assertEq(bal(p1), 0);
        assertEq(escrow.recordOf(p1).failed, 1);
        assertEq(job(id).escrowed, 2 * (uint256(PRICE) + COLLATERAL));
        assertEscrowSolvent();
    }

    function test_Vote_ProviderAndArbiterPay() public {
        commit(id, p1, GOOD, 8 ether);
        _dispute(buyer, p1);
        _vote(buyer, p1, false);
        _vote(p1, p1, true);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p1, IJobEscrow.SlotStatus.Paid, 8 ether + COLLATERAL, 2 ether);
        _vote(arbiter, p1, true);
        assertEq(bal(p1), 8 ether + COLLATERAL);
        assertEq(bal(buyer), 2 ether);
        assertEq(escrow.recordOf(p1).completed, 1);
        assertEscrowSolvent();
    }

    function test_Vote_BuyerAndProviderAgree() public {
        commit(id, p1, GOOD, 8 ether);
        _dispute(p1, p1);
        _vote(p1, p1, true);
        _vote(buyer, p1, true);
        assertEq(uint8(slotStatus(id, p1)), uint8(IJobEscrow.SlotStatus.Paid));
        assertEq(bal(p1), 8 ether + COLLATERAL);
        assertEq(bal(buyer), 2 ether);
    }

    function test_Vote_PayingAnUncommittedSlotPaysTheClearingPrice() public {
        _dispute(buyer, p1);
        _vote(p1, p1, true);
        _vote(arbiter, p1, true);
        assertEq(bal(p1), PRICE + COLLATERAL);
        assertEq(bal(buyer), 0);
    }

    function test_Vote_PayNetOfCheckpoints() public {
        uint256 j = create(fixedParams(1, 1));
        accept(j, p4);
        vm.prank(buyer);
        escrow.releaseCheckpoint(j, p4); // 5 paid, 1 back
        commit(j, p4, GOOD, 6 ether);
        vm.prank(buyer);
        escrow.dispute(j, p4);
        vm.prank(p4);
        escrow.vote(j, p4, true);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(j, p4, IJobEscrow.SlotStatus.Paid, 1 ether + 1 ether, 4 ether);
        vm.prank(arbiter);
        escrow.vote(j, p4, true);
        assertEq(bal(p4), 6 ether + COLLATERAL);
        assertEscrowSolvent();
    }

    function test_Vote_SlashNetOfCheckpoints() public {
        uint256 j = create(fixedParams(1, 1));
        accept(j, p4);
        vm.prank(buyer);
        escrow.releaseCheckpoint(j, p4);
        vm.prank(buyer);
        escrow.dispute(j, p4);
        vm.prank(buyer);
        escrow.vote(j, p4, false);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(j, p4, IJobEscrow.SlotStatus.Slashed, 0, 5 ether + 1 ether);
        vm.prank(arbiter);
        escrow.vote(j, p4, false);
        assertEq(bal(p4), 6 ether, "keeps what was released");
    }

    function test_RevertWhen_VoteTwiceOrByOthersOrUndisputed() public {
        vm.expectRevert(
            abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p1, IJobEscrow.SlotStatus.Accepted)
        );
        _vote(buyer, p1, true);
        _dispute(buyer, p1);
        _vote(buyer, p1, true);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.AlreadyVoted.selector, id, buyer));
        _vote(buyer, p1, false);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.NotVoter.selector, id, p2));
        _vote(p2, p1, true);
        _vote(p1, p1, false);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.AlreadyVoted.selector, id, p1));
        _vote(p1, p1, true);
        _vote(arbiter, p1, false); // 1 pay, 2 slash
        assertEq(uint8(slotStatus(id, p1)), uint8(IJobEscrow.SlotStatus.Slashed));
        vm.expectRevert(
            abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p1, IJobEscrow.SlotStatus.Slashed)
        );
        _vote(arbiter, p1, false);
    }

    /* FINALIZE WITH DISPUTES */

    function test_Finalize_WaitsForOpenDisputesThenAppliesTheMajorityRule() public {
        commit(id, p1, GOOD, PRICE);
        commit(id, p2, GOOD, PRICE);
        commit(id, p3, BAD, PRICE);
        vm.prank(p3);
        escrow.dispute(id, p3); // a diverging provider stalls, hoping nobody decides
        toFinalizable(id);
        escrow.finalize(id); // the undisputed slots settle at once
        assertEq(bal(p1), PRICE + COLLATERAL, "not delayed by p3's dispute");
        assertEq(uint8(slotStatus(id, p3)), uint8(IJobEscrow.SlotStatus.Disputed));
        assertEq(job(id).escrowed, PRICE + COLLATERAL, "only the disputed slot is still held");
        uint256 expiry = escrow.disputeExpiry(id);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.TooEarly.selector, id, expiry));
        escrow.settleExpired(id, p3);
        vm.warp(expiry);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.DisputeExpired.selector, id, expiry));
        _vote(p3, p3, true);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p3, IJobEscrow.SlotStatus.Slashed, 0, PRICE + COLLATERAL);
        escrow.settleExpired(id, p3);
        assertEq(bal(p1), PRICE + COLLATERAL);
        assertEq(bal(p3), 0);
        assertEq(bal(buyer), PRICE + COLLATERAL);
        assertEq(escrow.recordOf(p3).failed, 1);
        assertEq(bal(address(escrow)), 0);
    }

    function test_Finalize_ExpiredBuyerDisputesDoNotSaveTheBuyerThePrice() public {
        // A buyer whose arbiter never votes disputes every agreeing result and waits.
        commit(id, p1, GOOD, PRICE);
        commit(id, p2, GOOD, PRICE);
        commit(id, p3, GOOD, PRICE);
        _dispute(buyer, p1);
        _dispute(buyer, p2);
        _dispute(buyer, p3);
        _vote(buyer, p1, false);
        _vote(p1, p1, true);
        revealAll(id);
        vm.warp(escrow.disputeExpiry(id));
        escrow.finalize(id);
        for (uint256 i; i < 3; ++i) {
            address p = [p1, p2, p3][i];
            assertEq(uint8(slotStatus(id, p)), uint8(IJobEscrow.SlotStatus.Paid));
            assertEq(bal(p), PRICE + COLLATERAL);
        }
        assertEq(bal(buyer), 0);
        assertEq(bal(address(escrow)), 0);
    }

    function test_Finalize_ExpiredDisputeBeforeCommitIsRefundedNeutrally() public {
        commit(id, p1, GOOD, PRICE);
        commit(id, p2, GOOD, PRICE);
        _dispute(buyer, p3); // p3 had not committed yet, and now cannot
        revealAll(id);
        vm.warp(escrow.disputeExpiry(id));
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p3, IJobEscrow.SlotStatus.Refunded, COLLATERAL, PRICE);
        escrow.finalize(id);
        assertEq(bal(p3), COLLATERAL);
        assertEq(bal(buyer), PRICE);
        assertEq(bal(address(escrow)), 0);
    }

    function test_Finalize_DecidedDisputesDoNotWaitAndPaidResultsCountForTheMajority() public {
        commit(id, p1, GOOD, PRICE);
        commit(id, p2, GOOD, PRICE);
        commit(id, p3, GOOD, PRICE);
        _dispute(buyer, p1);
        _dispute(buyer, p2);
        _vote(buyer, p1, true);
        _vote(p1, p1, true);
        _vote(buyer, p2, true);
        _vote(arbiter, p2, true);
        toFinalizable(id);
        escrow.finalize(id); // no open dispute: no wait; p1 and p2 (paid by votes) confirm p3's result
        assertEq(uint8(slotStatus(id, p1)), uint8(IJobEscrow.SlotStatus.Paid));
        assertEq(uint8(slotStatus(id, p3)), uint8(IJobEscrow.SlotStatus.Paid));
        assertEq(bal(p1), PRICE + COLLATERAL);
        assertEq(bal(p3), PRICE + COLLATERAL);
        assertEq(bal(buyer), 0);
        assertEq(bal(address(escrow)), 0);
    }

    function test_Finalize_ResultsSlashedByVoteDoNotCountForTheMajority() public {
        commit(id, p1, GOOD, PRICE);
        commit(id, p2, GOOD, PRICE);
        commit(id, p3, BAD, PRICE);
        revealAll(id);
        _dispute(buyer, p1);
        _dispute(buyer, p2);
        _vote(buyer, p1, false);
        _vote(arbiter, p1, false);
        _vote(buyer, p2, false);
        _vote(arbiter, p2, false);
        toFinalizable(id);
        escrow.finalize(id); // only p3's result counts: 1 of 1 revealed, its result is the majority
        assertEq(job(id).majorityHash, BAD);
        assertEq(uint8(slotStatus(id, p3)), uint8(IJobEscrow.SlotStatus.Paid));
        assertEq(bal(p3), PRICE + COLLATERAL);
        assertEq(bal(address(escrow)), 0);
    }

    function test_Vote_PossibleAfterTheReviewPeriodUntilTheDisputeExpires() public {
        commit(id, p1, GOOD, PRICE);
        _dispute(buyer, p1);
        vm.warp(escrow.disputeExpiry(id) - 1);
        _vote(buyer, p1, false);
        _vote(arbiter, p1, false);
        escrow.finalize(id);
        assertEq(uint8(slotStatus(id, p1)), uint8(IJobEscrow.SlotStatus.Slashed));
        // p2, p3 never committed: late.
        assertEq(bal(buyer), 3 * (uint256(PRICE) + COLLATERAL));
    }
}
