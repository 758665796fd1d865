// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EscrowTestBase} from "../utils/EscrowTestBase.sol";
import {IJobEscrow} from "../../contracts/interfaces/IJobEscrow.sol";

/// @notice JobEscrow, fixed-price jobs: accept, checkpoints, result commits, finalize with a majority,
///         a diverging provider, a late provider, no majority, unfilled slots; records and gating.
contract JobEscrowFixedTest is EscrowTestBase {
    /* ACCEPT */

    function test_Accept_PullsCollateralAndTakesASlot() public {
        uint256 id = createFixed(2);
        give(p1, 5 ether);
        vm.prank(p1);
        token.approve(address(escrow), COLLATERAL);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotAccepted(id, p1, COLLATERAL);
        vm.prank(p1);
        escrow.accept(id);
        assertEq(bal(p1), 3 ether);
        assertEq(bal(address(escrow)), 22 ether);
        assertEq(job(id).escrowed, 22 ether);
        assertEq(job(id).filled, 1);
        IJobEscrow.Slot memory s = slot(id, p1);
        assertEq(uint8(s.status), uint8(IJobEscrow.SlotStatus.Accepted));
        assertEq(s.collateralLeft, COLLATERAL);
        assertEq(escrow.providersOf(id)[0], p1);
    }

    function test_Accept_WithTheMinimumCollateral() public {
        IJobEscrow.JobParams memory p = fixedParams(1, 0);
        p.collateral = PRICE / 10;
        uint256 id = create(p);
        accept(id, p1);
        assertEq(job(id).filled, 1);
        assertEq(bal(address(escrow)), PRICE + PRICE / 10);
    }

    function test_RevertWhen_AcceptFullJob() public {
        uint256 id = createFixed(1);
        accept(id, p1);
        give(p2, COLLATERAL);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.JobFull.selector, id));
        vm.prank(p2);
        escrow.accept(id);
    }

    function test_RevertWhen_AcceptTwice() public {
        uint256 id = createFixed(2);
        accept(id, p1);
        vm.expectRevert(
            abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p1, IJobEscrow.SlotStatus.Accepted)
        );
        vm.prank(p1);
        escrow.accept(id);
    }

    function test_RevertWhen_BuyerOrArbiterAccepts() public {
        uint256 id = createFixed(2);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.BuyerCannotProvide.selector, id));
        vm.prank(buyer);
        escrow.accept(id);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.ArbiterCannotProvide.selector, id));
        vm.prank(arbiter);
        escrow.accept(id);
    }

    function test_RevertWhen_AcceptAtTheDeadline() public {
        uint256 id = createFixed(1);
        uint256 deadline = job(id).params.deadline;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.DeadlinePassed.selector, id, deadline));
        vm.prank(p1);
        escrow.accept(id);
    }

    function test_RevertWhen_AcceptSealedBidJob() public {
        uint256 id = create(sealedParams(1));
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongMode.selector, id));
        vm.prank(p1);
        escrow.accept(id);
    }

    function test_RevertWhen_AcceptCancelledJob() public {
        uint256 id = createFixed(1);
        vm.prank(buyer);
        escrow.cancel(id);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongStatus.selector, id, IJobEscrow.JobStatus.Cancelled));
        vm.prank(p1);
        escrow.accept(id);
    }

    function test_RevertWhen_AcceptWithoutCollateralAllowance() public {
        uint256 id = createFixed(1);
        give(p1, COLLATERAL);
        vm.expectRevert(); // ERC20InsufficientAllowance
        vm.prank(p1);
        escrow.accept(id);
    }

    function test_MinCompleted_GatesProvidersByRecord() public {
        // p1 completes one job.
        uint256 first = createFixed(1);
        accept(first, p1);
        commit(first, p1, GOOD, PRICE);
        toFinalizable(first);
        escrow.finalize(first);
        assertEq(escrow.recordOf(p1).completed, 1);

        IJobEscrow.JobParams memory p = fixedParams(2, 0);
        p.minCompleted = 1;
        uint256 id = create(p);
        give(p2, COLLATERAL);
        vm.prank(p2);
        token.approve(address(escrow), COLLATERAL);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.InsufficientRecord.selector, p2, uint256(0), uint256(1)));
        vm.prank(p2);
        escrow.accept(id);
        accept(id, p1);
        assertEq(job(id).filled, 1);
    }

    /* CHECKPOINTS */

    function test_ReportCheckpoint_OnlyEmits() public {
        uint256 id = create(fixedParams(1, 3));
        accept(id, p1);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.CheckpointReported(id, p1, 3, keccak256("state"));
        vm.prank(p1);
        escrow.reportCheckpoint(id, 3, keccak256("state"));
        assertEq(slot(id, p1).checkpointsReleased, 0);
        commit(id, p1, GOOD, PRICE);
        vm.prank(p1);
        escrow.reportCheckpoint(id, 1, keccak256("state"));
    }

    function test_RevertWhen_ReportCheckpointOutOfRangeOrWithoutSlot() public {
        uint256 id = create(fixedParams(1, 3));
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p1, IJobEscrow.SlotStatus.None));
        vm.prank(p1);
        escrow.reportCheckpoint(id, 1, 0);
        accept(id, p1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.NoCheckpointLeft.selector, id, p1));
        vm.prank(p1);
        escrow.reportCheckpoint(id, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.NoCheckpointLeft.selector, id, p1));
        vm.prank(p1);
        escrow.reportCheckpoint(id, 4, 0);
    }

    function test_ReleaseCheckpoint_PaysAShareOfPriceAndCollateral() public {
        uint256 id = create(fixedParams(1, 3)); // shares of 1/4
        accept(id, p1);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.CheckpointReleased(id, p1, 1, 2.5 ether, 0.5 ether);
        vm.prank(buyer);
        escrow.releaseCheckpoint(id, p1);
        assertEq(bal(p1), 3 ether);
        assertEq(bal(address(escrow)), 9 ether);
        assertEq(job(id).escrowed, 9 ether);
        IJobEscrow.Slot memory s = slot(id, p1);
        assertEq(s.checkpointsReleased, 1);
        assertEq(s.paidOut, 2.5 ether);
        assertEq(s.collateralLeft, 1.5 ether);
    }

    function test_RevertWhen_ReleaseCheckpointNotBuyerNoneLeftOrNoSlot() public {
        uint256 id = create(fixedParams(1, 1));
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p1, IJobEscrow.SlotStatus.None));
        vm.prank(buyer);
        escrow.releaseCheckpoint(id, p1);
        accept(id, p1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.NotBuyer.selector, id, p1));
        vm.prank(p1);
        escrow.releaseCheckpoint(id, p1);
        vm.prank(buyer);
        escrow.releaseCheckpoint(id, p1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.NoCheckpointLeft.selector, id, p1));
        vm.prank(buyer);
        escrow.releaseCheckpoint(id, p1);
    }

    function test_Checkpoints_ThenSettlementPaysTheChargeNetOfPaidOut() public {
        uint256 id = create(fixedParams(1, 3));
        accept(id, p1);
        vm.prank(buyer);
        escrow.releaseCheckpoint(id, p1);
        vm.prank(buyer);
        escrow.releaseCheckpoint(id, p1); // paid 5, collateral 1 back
        commit(id, p1, GOOD, 8 ether);
        vm.prank(buyer);
        escrow.releaseCheckpoint(id, p1); // committed slots may still be released: paid 7.5, collateral 1.5 back
        assertEq(bal(p1), 9 ether);
        toFinalizable(id);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p1, IJobEscrow.SlotStatus.Paid, 0.5 ether + 0.5 ether, 2 ether);
        escrow.finalize(id);
        assertEq(bal(p1), 8 ether + COLLATERAL, "charge + collateral in all");
        assertEq(bal(buyer), 2 ether);
        assertEq(bal(address(escrow)), 0);
    }

    function test_Checkpoints_ChargeBelowPaidOutKeepsWhatWasPaid() public {
        uint256 id = create(fixedParams(1, 1)); // shares of 1/2
        accept(id, p1);
        vm.prank(buyer);
        escrow.releaseCheckpoint(id, p1); // 5 paid, 1 collateral back
        commit(id, p1, GOOD, 3 ether);
        toFinalizable(id);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p1, IJobEscrow.SlotStatus.Paid, 1 ether, 5 ether);
        escrow.finalize(id);
        assertEq(bal(p1), 5 ether + COLLATERAL);
        assertEq(bal(buyer), 5 ether);
        assertEq(bal(address(escrow)), 0);
    }

    function test_Checkpoints_OddAmountsRoundDownAndStillBalance() public {
        IJobEscrow.JobParams memory p = fixedParams(1, 2);
        p.price = 10;
        p.collateral = 5;
        uint256 id = create(p);
        accept(id, p1);
        vm.prank(buyer);
        escrow.releaseCheckpoint(id, p1); // 3 and 1
        vm.prank(buyer);
        escrow.releaseCheckpoint(id, p1); // 6 and 2
        assertEq(bal(p1), 6 + 2);
        commit(id, p1, GOOD, 7);
        toFinalizable(id);
        escrow.finalize(id);
        assertEq(bal(p1), 7 + 5);
        assertEq(bal(buyer), 3);
        assertEq(bal(address(escrow)), 0);
    }

    function test_Checkpoints_LateProviderIsSlashedOnTheRest() public {
        uint256 id = create(fixedParams(1, 1));
        accept(id, p1);
        vm.prank(buyer);
        escrow.releaseCheckpoint(id, p1);
        toFinalizable(id);
        escrow.finalize(id);
        assertEq(bal(p1), 5 ether + 1 ether, "keeps the released share");
        assertEq(bal(buyer), 5 ether + 1 ether);
        assertEq(bal(address(escrow)), 0);
    }

    /* COMMIT */

    function test_CommitResult_RecordsHashChargeAndTime() public {
        uint256 id = createFixed(2);
        accept(id, p1);
        vm.warp(block.timestamp + 100);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.ResultCommitted(id, p1, resultCommitment(id, p1, GOOD), 7 ether, USAGE);
        commit(id, p1, GOOD, 7 ether);
        IJobEscrow.Slot memory s = slot(id, p1);
        assertEq(uint8(s.status), uint8(IJobEscrow.SlotStatus.Committed));
        assertEq(s.resultCommitment, resultCommitment(id, p1, GOOD));
        assertEq(s.resultHash, bytes32(0), "sealed until revealed");
        assertEq(s.charge, 7 ether);
        assertEq(job(id).committed, 1);
        assertEq(job(id).lastCommitAt, block.timestamp);
        assertEq(
            escrow.finalizableAt(id),
            job(id).params.deadline + 1 + escrow.REVEAL_PERIOD() + REVIEW,
            "one slot still open: reveals open after the deadline"
        );
    }

    function test_CommitResult_AtTheDeadline() public {
        uint256 id = createFixed(1);
        accept(id, p1);
        vm.warp(job(id).params.deadline);
        commit(id, p1, GOOD, 1);
        assertEq(escrow.finalizableAt(id), block.timestamp + escrow.REVEAL_PERIOD() + REVIEW, "sealed");
        revealResult(id, p1); // every slot committed: the reveal window is open at once
        assertEq(escrow.finalizableAt(id), block.timestamp + REVIEW, "all revealed");
    }

    function test_RevertWhen_CommitAfterDeadline() public {
        uint256 id = createFixed(1);
        accept(id, p1);
        uint256 deadline = job(id).params.deadline;
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.DeadlinePassed.selector, id, deadline));
        commit(id, p1, GOOD, 1);
    }

    function test_RevealResult_OpensTheCommitmentOnce() public {
        uint256 id = createFixed(1);
        accept(id, p1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.NothingToReveal.selector, id, p1));
        vm.prank(p1);
        escrow.revealResult(id, GOOD, resultSalt(p1), "");
        commit(id, p1, GOOD, 3 ether);
        vm.expectRevert(IJobEscrow.ZeroResultHash.selector);
        vm.prank(p1);
        escrow.revealResult(id, bytes32(0), resultSalt(p1), "");
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.BadResultReveal.selector, id, p1));
        vm.prank(p1);
        escrow.revealResult(id, BAD, resultSalt(p1), "");
        vm.expectEmit(address(escrow));
        emit IJobEscrow.ResultRevealed(id, p1, GOOD, "ipfs://result");
        revealResult(id, p1);
        assertEq(slot(id, p1).resultHash, GOOD);
        assertEq(job(id).revealed, 1);
        assertEq(job(id).lastRevealAt, block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.NothingToReveal.selector, id, p1));
        vm.prank(p1);
        escrow.revealResult(id, GOOD, resultSalt(p1), "");
    }

    function test_RevertWhen_CommitBadInput() public {
        uint256 id = createFixed(1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p1, IJobEscrow.SlotStatus.None));
        commit(id, p1, GOOD, 1);
        accept(id, p1);
        vm.expectRevert(IJobEscrow.ZeroResultHash.selector);
        vm.prank(p1);
        escrow.commitResult(id, bytes32(0), 1, USAGE);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.ChargeTooHigh.selector, uint256(PRICE) + 1, PRICE));
        commit(id, p1, GOOD, PRICE + 1);
        commit(id, p1, GOOD, PRICE);
        vm.expectRevert(
            abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p1, IJobEscrow.SlotStatus.Committed)
        );
        commit(id, p1, GOOD, PRICE);
    }

    /* FINALIZE */

    function _threeReplicas() internal returns (uint256 id) {
        id = createFixed(3);
        accept(id, p1);
        accept(id, p2);
        accept(id, p3);
    }

    function test_Finalize_ThreeAgreeing_EachPaidItsCharge() public {
        uint256 id = _threeReplicas();
        commit(id, p1, GOOD, 6 ether);
        commit(id, p2, GOOD, 7 ether);
        vm.warp(block.timestamp + 10);
        commit(id, p3, GOOD, PRICE);
        assertEq(
            escrow.finalizableAt(id),
            block.timestamp + escrow.REVEAL_PERIOD() + REVIEW,
            "all committed, none revealed: the reveal window + review"
        );
        revealAll(id);
        assertEq(escrow.finalizableAt(id), block.timestamp + REVIEW, "all revealed: last reveal + review");

        vm.warp(block.timestamp + REVIEW - 1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.TooEarly.selector, id, block.timestamp + 1));
        escrow.finalize(id);
        vm.warp(block.timestamp + 1);

        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p1, IJobEscrow.SlotStatus.Paid, 6 ether + COLLATERAL, 4 ether);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p2, IJobEscrow.SlotStatus.Paid, 7 ether + COLLATERAL, 3 ether);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p3, IJobEscrow.SlotStatus.Paid, PRICE + COLLATERAL, 0);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.JobFinalized(id, GOOD, 7 ether);
        vm.prank(stranger);
        escrow.finalize(id);

        assertEq(bal(p1), 6 ether + COLLATERAL);
        assertEq(bal(p2), 7 ether + COLLATERAL);
        assertEq(bal(p3), PRICE + COLLATERAL);
        assertEq(bal(buyer), 7 ether);
        assertEq(bal(address(escrow)), 0);
        IJobEscrow.Job memory j = job(id);
        assertEq(uint8(j.status), uint8(IJobEscrow.JobStatus.Finalized));
        assertEq(j.escrowed, 0);
        assertEq(escrow.recordOf(p1).completed, 1);
        assertEq(escrow.recordOf(p3).completed, 1);
        assertEq(uint8(slotStatus(id, p2)), uint8(IJobEscrow.SlotStatus.Paid));
        assertEq(slot(id, p2).collateralLeft, 0);

        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongStatus.selector, id, IJobEscrow.JobStatus.Finalized));
        escrow.finalize(id);
    }

    function test_Finalize_OneDiverging_LosesPriceAndCollateralToTheBuyer() public {
        uint256 id = _threeReplicas();
        commit(id, p1, GOOD, PRICE);
        commit(id, p2, BAD, PRICE);
        commit(id, p3, GOOD, PRICE);
        toFinalizable(id);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p2, IJobEscrow.SlotStatus.Slashed, 0, PRICE + COLLATERAL);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.JobFinalized(id, GOOD, PRICE + COLLATERAL);
        escrow.finalize(id);
        assertEq(bal(p1), PRICE + COLLATERAL);
        assertEq(bal(p2), 0);
        assertEq(bal(p3), PRICE + COLLATERAL);
        assertEq(bal(buyer), PRICE + COLLATERAL);
        assertEq(bal(address(escrow)), 0);
        assertEq(escrow.recordOf(p2).failed, 1);
        assertEq(escrow.recordOf(p2).completed, 0);
    }

    function test_Finalize_LateProviderIsSlashed() public {
        uint256 id = _threeReplicas();
        commit(id, p1, GOOD, PRICE);
        commit(id, p2, GOOD, PRICE);
        revealAll(id); // opens after the deadline (p3 might still commit until then)
        uint256 when = job(id).params.deadline + 1 + escrow.REVEAL_PERIOD() + REVIEW;
        assertEq(escrow.finalizableAt(id), when);
        vm.warp(when - 1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.TooEarly.selector, id, block.timestamp + 1));
        escrow.finalize(id);
        vm.warp(block.timestamp + 1);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p3, IJobEscrow.SlotStatus.Slashed, 0, PRICE + COLLATERAL);
        escrow.finalize(id);
        assertEq(bal(p1), PRICE + COLLATERAL);
        assertEq(bal(p2), PRICE + COLLATERAL);
        assertEq(bal(p3), 0);
        assertEq(bal(buyer), PRICE + COLLATERAL);
        assertEq(escrow.recordOf(p3).failed, 1);
        assertEq(bal(address(escrow)), 0);
    }

    function test_Finalize_NoMajority_RefundsPriceAndReturnsCollateral() public {
        uint256 id = _threeReplicas();
        commit(id, p1, GOOD, PRICE);
        commit(id, p2, BAD, PRICE);
        commit(id, p3, keccak256("third"), PRICE);
        toFinalizable(id);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p1, IJobEscrow.SlotStatus.Refunded, COLLATERAL, PRICE);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p2, IJobEscrow.SlotStatus.Refunded, COLLATERAL, PRICE);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.SlotSettled(id, p3, IJobEscrow.SlotStatus.Refunded, COLLATERAL, PRICE);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.JobFinalized(id, bytes32(0), 3 * uint256(PRICE));
        escrow.finalize(id);
        assertEq(bal(p1), COLLATERAL);
        assertEq(bal(p2), COLLATERAL);
        assertEq(bal(p3), COLLATERAL);
        assertEq(bal(buyer), 30 ether);
        assertEq(escrow.recordOf(p1).completed + escrow.recordOf(p1).failed, 0, "no record change");
        assertEq(bal(address(escrow)), 0);
    }

    function test_Finalize_NoMajorityWithALateProvider_SlashesOnlyTheLateOne() public {
        uint256 id = _threeReplicas();
        commit(id, p1, GOOD, PRICE);
        commit(id, p2, BAD, PRICE);
        toFinalizable(id);
        escrow.finalize(id);
        assertEq(uint8(slotStatus(id, p1)), uint8(IJobEscrow.SlotStatus.Refunded));
        assertEq(uint8(slotStatus(id, p3)), uint8(IJobEscrow.SlotStatus.Slashed));
        assertEq(bal(p1), COLLATERAL);
        assertEq(bal(p3), 0);
        assertEq(bal(buyer), 30 ether + COLLATERAL);
    }

    function test_Finalize_HalfIsNoMajority() public {
        uint256 id = create(fixedParams(4, 0));
        accept(id, p1);
        accept(id, p2);
        accept(id, p3);
        accept(id, p4);
        commit(id, p1, GOOD, PRICE);
        commit(id, p2, GOOD, PRICE);
        commit(id, p3, BAD, PRICE);
        commit(id, p4, BAD, PRICE);
        toFinalizable(id);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.JobFinalized(id, bytes32(0), 4 * uint256(PRICE));
        escrow.finalize(id);
    }

    function test_Finalize_MajorityOverRevealedResults() public {
        // 3 replicas, only 2 slots filled, they agree: a majority; the unfilled slot is refunded.
        uint256 id = createFixed(3);
        accept(id, p1);
        accept(id, p2);
        commit(id, p1, GOOD, 4 ether);
        commit(id, p2, GOOD, 4 ether);
        assertEq(
            escrow.finalizableAt(id),
            job(id).params.deadline + 1 + escrow.REVEAL_PERIOD() + REVIEW,
            "a slot is unfilled"
        );
        toFinalizable(id);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.JobFinalized(id, GOOD, PRICE + 2 * 6 ether);
        escrow.finalize(id);
        assertEq(bal(p1), 4 ether + COLLATERAL);
        assertEq(bal(buyer), PRICE + 12 ether);

        // 3 replicas, one slot filled: the only revealed result is the majority of the revealed ones.
        id = createFixed(3);
        accept(id, p4);
        commit(id, p4, GOOD, 4 ether);
        toFinalizable(id);
        escrow.finalize(id);
        assertEq(uint8(slotStatus(id, p4)), uint8(IJobEscrow.SlotStatus.Paid));

        // 3 replicas, two revealed results that differ: no majority, both refunded.
        id = createFixed(3);
        accept(id, p1);
        accept(id, p2);
        commit(id, p1, GOOD, 4 ether);
        commit(id, p2, BAD, 4 ether);
        toFinalizable(id);
        escrow.finalize(id);
        assertEq(uint8(slotStatus(id, p1)), uint8(IJobEscrow.SlotStatus.Refunded));
        assertEq(uint8(slotStatus(id, p2)), uint8(IJobEscrow.SlotStatus.Refunded));
    }

    function test_Finalize_NobodyAcceptedRefundsEverything() public {
        uint256 id = createFixed(3);
        toFinalizable(id);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.JobFinalized(id, bytes32(0), 30 ether);
        escrow.finalize(id);
        assertEq(bal(buyer), 30 ether);
        assertEq(bal(address(escrow)), 0);
    }

    function test_Finalize_SingleReplica() public {
        uint256 id = createFixed(1);
        accept(id, p1);
        commit(id, p1, GOOD, 9 ether);
        toFinalizable(id);
        escrow.finalize(id);
        assertEq(bal(p1), 9 ether + COLLATERAL);
        assertEq(bal(buyer), 1 ether);
    }

    function test_RevertWhen_FinalizeCancelledJob() public {
        uint256 id = createFixed(1);
        vm.prank(buyer);
        escrow.cancel(id);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongStatus.selector, id, IJobEscrow.JobStatus.Cancelled));
        escrow.finalize(id);
    }

    function test_SlotsSettledCannotActAgain() public {
        uint256 id = createFixed(1);
        accept(id, p1);
        commit(id, p1, GOOD, PRICE);
        toFinalizable(id);
        escrow.finalize(id);
        bytes memory err =
            abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p1, IJobEscrow.SlotStatus.Paid);
        vm.expectRevert(err);
        vm.prank(buyer);
        escrow.releaseCheckpoint(id, p1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongStatus.selector, id, IJobEscrow.JobStatus.Finalized));
        vm.prank(buyer);
        escrow.dispute(id, p1);
        vm.expectRevert(err);
        vm.prank(buyer);
        escrow.vote(id, p1, false);
    }
}
