// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EscrowTestBase} from "../utils/EscrowTestBase.sol";
import {IJobEscrow} from "../../contracts/interfaces/IJobEscrow.sol";

/// @notice JobEscrow sealed-bid jobs: commit, reveal, close (reverse Vickrey), ties, forfeits, and the
///         awarded slots through to settlement.
contract JobEscrowAuctionTest is EscrowTestBase {
    function _toReveal(uint256 id) internal {
        vm.warp(job(id).params.bidDeadline);
    }

    function _toClose(uint256 id) internal {
        vm.warp(job(id).params.revealDeadline);
    }

    function _winners(address a) internal pure returns (address[] memory w) {
        w = new address[](1);
        w[0] = a;
    }

    /* COMMIT */

    function test_CommitBid_PullsCollateral() public {
        uint256 id = create(sealedParams(1));
        bytes32 c = commitment(id, p1, 5 ether, salt(p1));
        give(p1, COLLATERAL);
        vm.prank(p1);
        token.approve(address(escrow), COLLATERAL);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.BidCommitted(id, p1, c);
        vm.prank(p1);
        escrow.commitBid(id, c);
        IJobEscrow.Slot memory s = slot(id, p1);
        assertEq(uint8(s.status), uint8(IJobEscrow.SlotStatus.Bid));
        assertEq(s.bidCommitment, c);
        assertEq(s.collateralLeft, COLLATERAL);
        assertEq(bal(p1), 0);
        assertEq(job(id).escrowed, PRICE + COLLATERAL);
        assertEq(job(id).filled, 0);
        assertEq(escrow.providersOf(id)[0], p1);
    }

    function test_RevertWhen_CommitBidBadCases() public {
        uint256 fixedId = createFixed(1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongMode.selector, fixedId));
        vm.prank(p1);
        escrow.commitBid(fixedId, bytes32(uint256(1)));

        uint256 id = create(sealedParams(1));
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.BuyerCannotProvide.selector, id));
        vm.prank(buyer);
        escrow.commitBid(id, bytes32(uint256(1)));
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.ArbiterCannotProvide.selector, id));
        vm.prank(arbiter);
        escrow.commitBid(id, bytes32(uint256(1)));

        bid(id, p1, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p1, IJobEscrow.SlotStatus.Bid));
        vm.prank(p1);
        escrow.commitBid(id, bytes32(uint256(1)));

        uint256 bidDeadline = job(id).params.bidDeadline;
        vm.warp(bidDeadline);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.DeadlinePassed.selector, id, bidDeadline));
        vm.prank(p2);
        escrow.commitBid(id, bytes32(uint256(1)));
    }

    function test_RevertWhen_TooManyBidders() public {
        uint256 id = create(sealedParams(1));
        for (uint256 i; i < 32; ++i) {
            bid(id, address(uint160(0x1000 + i)), 1 ether);
        }
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.TooManyBidders.selector, id, uint256(32)));
        vm.prank(p1);
        escrow.commitBid(id, bytes32(0));
    }

    function test_RevertWhen_BidderLacksRecord() public {
        IJobEscrow.JobParams memory p = sealedParams(1);
        p.minCompleted = 2;
        uint256 id = create(p);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.InsufficientRecord.selector, p1, uint256(0), uint256(2)));
        vm.prank(p1);
        escrow.commitBid(id, bytes32(0));
    }

    /* REVEAL */

    function test_RevealBid_RecordsBidAndTime() public {
        uint256 id = create(sealedParams(1));
        bid(id, p1, 4 ether);
        _toReveal(id);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.BidRevealed(id, p1, 4 ether);
        reveal(id, p1, 4 ether);
        IJobEscrow.Slot memory s = slot(id, p1);
        assertEq(uint8(s.status), uint8(IJobEscrow.SlotStatus.Revealed));
        assertEq(s.bid, 4 ether);
        assertEq(s.revealedAt, block.timestamp);
    }

    function test_RevertWhen_RevealOutsideTheWindow() public {
        uint256 id = create(sealedParams(1));
        bid(id, p1, 4 ether);
        uint256 bidDeadline = job(id).params.bidDeadline;
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.TooEarly.selector, id, bidDeadline));
        reveal(id, p1, 4 ether);
        uint256 revealDeadline = job(id).params.revealDeadline;
        vm.warp(revealDeadline);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.DeadlinePassed.selector, id, revealDeadline));
        reveal(id, p1, 4 ether);
    }

    function test_RevertWhen_RevealDoesNotMatch() public {
        uint256 id = create(sealedParams(1));
        bid(id, p1, 4 ether);
        _toReveal(id);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.BadReveal.selector, id, p1));
        reveal(id, p1, 3 ether);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.BadReveal.selector, id, p1));
        vm.prank(p1);
        escrow.revealBid(id, 4 ether, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p2, IJobEscrow.SlotStatus.None));
        reveal(id, p2, 4 ether);
        reveal(id, p1, 4 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p1, IJobEscrow.SlotStatus.Revealed)
        );
        reveal(id, p1, 4 ether);
    }

    function test_RevertWhen_RevealedPriceAboveTheMaximum() public {
        uint256 id = create(sealedParams(1));
        bid(id, p1, PRICE + 1);
        _toReveal(id);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.PriceTooHigh.selector, uint256(PRICE) + 1, PRICE));
        reveal(id, p1, PRICE + 1);
    }

    /* CLOSE */

    function test_Close_LowestWinsAndIsPaidTheSecondLowest() public {
        uint256 id = create(sealedParams(1));
        bid(id, p1, 7 ether);
        bid(id, p2, 4 ether);
        bid(id, p3, 9 ether);
        _toReveal(id);
        reveal(id, p1, 7 ether);
        reveal(id, p2, 4 ether);
        reveal(id, p3, 9 ether);
        uint256 revealDeadline = job(id).params.revealDeadline;
        vm.warp(revealDeadline - 1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.TooEarly.selector, id, revealDeadline));
        escrow.closeAuction(id);
        _toClose(id);

        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotAccepted(id, p2, COLLATERAL);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p1, IJobEscrow.SlotStatus.Lost, COLLATERAL, 0);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p3, IJobEscrow.SlotStatus.Lost, COLLATERAL, 0);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.AuctionClosed(id, 7 ether, _winners(p2));
        vm.prank(stranger);
        escrow.closeAuction(id);

        IJobEscrow.Job memory j = job(id);
        assertEq(uint8(j.status), uint8(IJobEscrow.JobStatus.Open));
        assertEq(j.clearingPrice, 7 ether);
        assertEq(j.filled, 1);
        assertEq(j.escrowed, 7 ether + COLLATERAL);
        assertEq(bal(buyer), 3 ether, "price difference refunded at close");
        assertEq(bal(p1), COLLATERAL);
        assertEq(bal(p3), COLLATERAL);
        assertEq(uint8(slotStatus(id, p2)), uint8(IJobEscrow.SlotStatus.Accepted));
        assertEq(uint8(slotStatus(id, p1)), uint8(IJobEscrow.SlotStatus.Lost));
        assertEq(slot(id, p1).collateralLeft, 0);
        assertEscrowSolvent();

        // Charges are capped by the clearing price, not the maximum.
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.ChargeTooHigh.selector, uint256(8 ether), uint256(7 ether)));
        commit(id, p2, GOOD, 8 ether);
        commit(id, p2, GOOD, 7 ether);
        toFinalizable(id);
        escrow.finalize(id);
        assertEq(bal(p2), 7 ether + COLLATERAL, "winner paid the second-lowest bid");
        assertEq(bal(buyer), 3 ether);
        assertEq(bal(address(escrow)), 0);
    }

    function test_Close_KWinnersPaidTheKPlusFirstLowest() public {
        uint256 id = create(sealedParams(2));
        bid(id, p1, 5 ether);
        bid(id, p2, 3 ether);
        bid(id, p3, 6 ether);
        bid(id, p4, 4 ether);
        _toReveal(id);
        reveal(id, p1, 5 ether);
        reveal(id, p2, 3 ether);
        reveal(id, p3, 6 ether);
        reveal(id, p4, 4 ether);
        _toClose(id);
        address[] memory w = new address[](2);
        (w[0], w[1]) = (p2, p4);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.AuctionClosed(id, 5 ether, w);
        escrow.closeAuction(id);
        assertEq(bal(buyer), 2 * 5 ether);
        commit(id, p2, GOOD, 5 ether);
        commit(id, p4, GOOD, 4 ether);
        toFinalizable(id);
        escrow.finalize(id);
        assertEq(bal(p2), 5 ether + COLLATERAL);
        assertEq(bal(p4), 4 ether + COLLATERAL);
        assertEq(bal(buyer), 10 ether + 1 ether);
        assertEq(bal(address(escrow)), 0);
    }

    function test_Close_NoLoserPaysTheMaximum() public {
        uint256 id = create(sealedParams(2));
        bid(id, p1, 5 ether);
        bid(id, p2, 3 ether);
        _toReveal(id);
        reveal(id, p1, 5 ether);
        reveal(id, p2, 3 ether);
        _toClose(id);
        escrow.closeAuction(id);
        assertEq(job(id).clearingPrice, PRICE);
        assertEq(job(id).filled, 2);
        assertEq(bal(buyer), 0);
    }

    function test_Close_FewerRevealsThanReplicasLeavesSlotsUnfilled() public {
        uint256 id = create(sealedParams(3));
        bid(id, p1, 5 ether);
        _toReveal(id);
        reveal(id, p1, 5 ether);
        _toClose(id);
        escrow.closeAuction(id);
        assertEq(job(id).filled, 1);
        assertEq(job(id).clearingPrice, PRICE);
        assertEq(job(id).escrowed, 3 * uint256(PRICE) + COLLATERAL);
        commit(id, p1, GOOD, 5 ether);
        assertEq(escrow.finalizableAt(id), job(id).params.deadline + 1 + escrow.REVEAL_PERIOD() + REVIEW);
        toFinalizable(id);
        escrow.finalize(id); // the only revealed result is the majority of the revealed results
        assertEq(uint8(slotStatus(id, p1)), uint8(IJobEscrow.SlotStatus.Paid));
        assertEq(bal(buyer), 25 ether, "two unfilled slots and the rest of p1's price");
        assertEq(bal(p1), 5 ether + COLLATERAL);
    }

    function test_Close_NonRevealerForfeitsCollateralToTheBurnAddress() public {
        uint256 id = create(sealedParams(1));
        bid(id, p1, 5 ether);
        bid(id, p2, 3 ether);
        _toReveal(id);
        reveal(id, p1, 5 ether);
        _toClose(id);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p2, IJobEscrow.SlotStatus.Lost, 0, 0);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.CollateralBurned(id, p2, COLLATERAL);
        escrow.closeAuction(id);
        assertEq(uint8(slotStatus(id, p1)), uint8(IJobEscrow.SlotStatus.Accepted));
        assertEq(uint8(slotStatus(id, p2)), uint8(IJobEscrow.SlotStatus.Lost));
        assertEq(bal(p2), 0);
        assertEq(bal(buyer), 0, "no forfeit to the buyer; no price difference (no loser revealed)");
        assertEq(bal(escrow.BURN_ADDRESS()), COLLATERAL);
        assertEq(job(id).clearingPrice, PRICE);
        assertEscrowSolvent();
    }

    function test_Close_TiesGoToTheEarlierReveal() public {
        uint256 id = create(sealedParams(1));
        bid(id, p1, 5 ether);
        bid(id, p2, 5 ether);
        _toReveal(id);
        reveal(id, p2, 5 ether);
        vm.warp(block.timestamp + 1);
        reveal(id, p1, 5 ether);
        _toClose(id);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.AuctionClosed(id, 5 ether, _winners(p2));
        escrow.closeAuction(id);
    }

    function test_Close_TiesInOneBlockGoToTheEarlierCommit() public {
        uint256 id = create(sealedParams(2));
        bid(id, p1, 5 ether + 1);
        bid(id, p2, 5 ether);
        bid(id, p3, 5 ether);
        _toReveal(id);
        reveal(id, p3, 5 ether);
        reveal(id, p2, 5 ether);
        reveal(id, p1, 5 ether + 1);
        _toClose(id);
        address[] memory w = new address[](2);
        (w[0], w[1]) = (p2, p3);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.AuctionClosed(id, 5 ether + 1, w);
        escrow.closeAuction(id);
    }

    function test_Close_NobodyRevealedThenFinalizeAtOnce() public {
        uint256 id = create(sealedParams(2));
        bid(id, p1, 5 ether);
        _toClose(id);
        address[] memory none;
        vm.expectEmit(address(escrow));
        emit IJobEscrow.AuctionClosed(id, PRICE, none);
        escrow.closeAuction(id);
        assertEq(job(id).filled, 0);
        assertEq(bal(buyer), 0, "the forfeited collateral is burned, not the buyer's");
        assertEq(bal(escrow.BURN_ADDRESS()), COLLATERAL);
        assertEq(escrow.finalizableAt(id), job(id).params.revealDeadline);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.JobFinalized(id, bytes32(0), 20 ether);
        escrow.finalize(id);
        assertEq(bal(buyer), 20 ether);
        assertEq(bal(address(escrow)), 0);
    }

    function test_Close_AfterTheDeadlineAwardsNobody() public {
        uint256 id = create(sealedParams(1));
        bid(id, p1, 5 ether);
        _toReveal(id);
        reveal(id, p1, 5 ether);
        vm.warp(job(id).params.deadline);
        escrow.closeAuction(id);
        assertEq(job(id).filled, 0);
        assertEq(uint8(slotStatus(id, p1)), uint8(IJobEscrow.SlotStatus.Lost));
        assertEq(bal(p1), COLLATERAL);
        escrow.finalize(id);
        assertEq(bal(buyer), PRICE);
    }

    function test_RevertWhen_CloseWrongModeOrTwice() public {
        uint256 fixedId = createFixed(1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongMode.selector, fixedId));
        escrow.closeAuction(fixedId);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongMode.selector, fixedId));
        escrow.revealBid(fixedId, 1, 0);

        uint256 id = create(sealedParams(1));
        _toClose(id);
        escrow.closeAuction(id);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongStatus.selector, id, IJobEscrow.JobStatus.Open));
        escrow.closeAuction(id);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongStatus.selector, id, IJobEscrow.JobStatus.Open));
        escrow.commitBid(id, 0);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongStatus.selector, id, IJobEscrow.JobStatus.Open));
        escrow.revealBid(id, 1, 0);
    }

    function test_RevertWhen_FinalizeBeforeClose() public {
        uint256 id = create(sealedParams(1));
        vm.warp(job(id).params.deadline + REVIEW);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongStatus.selector, id, IJobEscrow.JobStatus.Bidding));
        escrow.finalize(id);
    }

    function test_Auction_CheckpointsUseTheClearingPrice() public {
        IJobEscrow.JobParams memory p = sealedParams(1);
        p.checkpoints = 1;
        uint256 id = create(p);
        bid(id, p1, 3 ether);
        bid(id, p2, 6 ether);
        _toReveal(id);
        reveal(id, p1, 3 ether);
        reveal(id, p2, 6 ether);
        _toClose(id);
        escrow.closeAuction(id);
        vm.prank(buyer);
        escrow.releaseCheckpoint(id, p1);
        assertEq(bal(p1), 3 ether + 1 ether);
        commit(id, p1, GOOD, 6 ether);
        toFinalizable(id);
        escrow.finalize(id);
        assertEq(bal(p1), 6 ether + COLLATERAL);
        assertEq(bal(buyer), 4 ether);
        assertEq(bal(address(escrow)), 0);
    }

    function test_Auction_DisputedWinnerPaidByVoteGetsTheClearingPrice() public {
        uint256 id = create(sealedParams(1));
        bid(id, p1, 3 ether);
        bid(id, p2, 6 ether);
        _toReveal(id);
        reveal(id, p1, 3 ether);
        reveal(id, p2, 6 ether);
        _toClose(id);
        escrow.closeAuction(id);
        vm.prank(buyer);
        escrow.dispute(id, p1);
        vm.prank(p1);
        escrow.vote(id, p1, true);
        vm.prank(arbiter);
        escrow.vote(id, p1, true);
        assertEq(bal(p1), 6 ether + COLLATERAL);
        toFinalizable(id);
        escrow.finalize(id);
        assertEq(bal(buyer), 4 ether);
        assertEq(bal(address(escrow)), 0);
    }
}
