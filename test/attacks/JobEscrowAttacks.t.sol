// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {EscrowTestBase} from "../utils/EscrowTestBase.sol";
import {JobEscrow} from "../../contracts/JobEscrow.sol";
import {IJobEscrow} from "../../contracts/interfaces/IJobEscrow.sol";

/// @dev A payment token that keeps 1 % of every transfer (fee-on-transfer).
contract EscrowFeeToken is ERC20 {
    constructor() ERC20("Fee", "FEE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) return super._update(from, to, value);
        uint256 fee = value / 100;
        super._update(from, address(0xFEE), fee);
        super._update(from, to, value - fee);
    }
}

/// @notice Attacks on JobEscrow by an adversary who reads the contract (issue 14: item 5 and the
///         JobEscrow medium items). Each test performs the attack and asserts the safe outcome,
///         balances included.
contract JobEscrowAttacksTest is EscrowTestBase {
    /* ITEM 5: REPLICAS COPY RESULTS */

    /// @notice Two copiers that never ran the job watch the honest provider's commit and copy it:
    ///         the commitment is bound to the committer, so the copy cannot be revealed, and the
    ///         reveal of the honest result comes only once nobody can commit any more. The honest
    ///         provider is paid; the copiers lose price and collateral to the buyer.
    function test_Attack_CopiersCannotOutvoteTheHonestReplica() public {
        uint256 id = createFixed(3);
        accept(id, p1);
        accept(id, p2);
        accept(id, p3);
        commit(id, p1, GOOD, PRICE);
        bytes32 seen = slot(id, p1).resultCommitment;
        assertEq(slot(id, p1).resultHash, bytes32(0), "nothing to copy: the hash is sealed");
        // The honest provider cannot be made to reveal early: reveals wait for every commit.
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.RevealNotOpen.selector, id));
        vm.prank(p1);
        escrow.revealResult(id, GOOD, resultSalt(p1), "ipfs://result");
        // The copiers copy the sealed commitment verbatim.
        vm.prank(p2);
        escrow.commitResult(id, seen, PRICE, USAGE);
        vm.prank(p3);
        escrow.commitResult(id, seen, PRICE, USAGE);
        revealResult(id, p1); // now public: hash and salt
        // Replaying the honest provider's hash and salt does not open a copy bound to p1.
        for (uint256 i; i < 2; ++i) {
            address copier = [p2, p3][i];
            vm.expectRevert(abi.encodeWithSelector(IJobEscrow.BadResultReveal.selector, id, copier));
            vm.prank(copier);
            escrow.revealResult(id, GOOD, resultSalt(p1), "ipfs://copy");
        }
        toFinalizable(id);
        escrow.finalize(id);
        assertEq(job(id).majorityHash, GOOD);
        assertEq(bal(p1), PRICE + COLLATERAL, "honest replica paid");
        assertEq(bal(p2), 0, "copier slashed");
        assertEq(bal(p3), 0, "copier slashed");
        assertEq(bal(buyer), 2 * (uint256(PRICE) + COLLATERAL));
        assertEq(escrow.recordOf(p2).failed, 1);
        assertEq(bal(address(escrow)), 0);
    }

    /// @notice A copier that takes the last slot after the honest commit still sees only a
    ///         commitment; revealing after the deadline cannot help anyone commit late.
    function test_Attack_LateCommitAfterAnOpenRevealIsImpossible() public {
        uint256 id = createFixed(2);
        accept(id, p1);
        commit(id, p1, GOOD, PRICE);
        // One slot free: reveals only open strictly after the deadline, when commits are closed.
        vm.warp(job(id).params.deadline);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.RevealNotOpen.selector, id));
        vm.prank(p1);
        escrow.revealResult(id, GOOD, resultSalt(p1), "ipfs://result");
        vm.warp(block.timestamp + 1);
        revealResult(id, p1);
        uint256 deadline = job(id).params.deadline;
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.DeadlinePassed.selector, id, deadline));
        vm.prank(p2);
        escrow.accept(id);
    }

    /// @notice A sealed result never revealed (or revealed after the window) is not paid.
    function test_Attack_CommitWithoutRevealIsSlashed() public {
        uint256 id = createFixed(2);
        accept(id, p1);
        accept(id, p2);
        commit(id, p1, GOOD, PRICE);
        commit(id, p2, BAD, PRICE);
        revealResult(id, p1);
        uint256 until = escrow.resultRevealDeadline(id);
        vm.warp(until);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.DeadlinePassed.selector, id, until));
        vm.prank(p2);
        escrow.revealResult(id, BAD, resultSalt(p2), "");
        delete sealedResult[id][p2];
        toFinalizable(id);
        escrow.finalize(id);
        assertEq(uint8(slotStatus(id, p2)), uint8(IJobEscrow.SlotStatus.Slashed));
        assertEq(bal(p1), PRICE + COLLATERAL);
        assertEq(bal(p2), 0);
        assertEq(bal(buyer), PRICE + COLLATERAL);
    }

    /* SHILL BIDS */

    /// @notice The buyer's sybil commits a bid it never reveals: its forfeited collateral is burned,
    ///         so the buyer gains nothing from shilling (before: it went to the buyer).
    function test_Attack_ShillBidForfeitIsBurnedNotPaidToTheBuyer() public {
        uint256 id = create(sealedParams(1));
        address shill = makeAddr("shill");
        bid(id, shill, 1 ether);
        bid(id, p1, 5 ether);
        vm.warp(job(id).params.bidDeadline);
        reveal(id, p1, 5 ether);
        vm.warp(job(id).params.revealDeadline);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.CollateralBurned(id, shill, COLLATERAL);
        escrow.closeAuction(id);
        assertEq(bal(buyer), 0, "the buyer gets no forfeited collateral");
        assertEq(bal(shill), 0, "the shill lost its collateral");
        assertEq(bal(escrow.BURN_ADDRESS()), COLLATERAL);
        assertEscrowSolvent();
    }

    /* ZERO-COLLATERAL SYBILS */

    /// @notice Jobs without collateral (free sybil slots and bids) are refused; a squatter that
    ///         holds a slot and never commits loses the collateral to the buyer.
    function test_Attack_ZeroCollateralSybilsRefusedAndSquattingCosts() public {
        IJobEscrow.JobParams memory p = fixedParams(1, 0);
        p.collateral = 0;
        give(buyer, PRICE);
        vm.startPrank(buyer);
        token.approve(address(escrow), PRICE);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.CollateralTooLow.selector, 0, uint256(PRICE) / 10));
        escrow.createJob(p, "ipfs://spec");
        p.collateral = PRICE / 10 - 1;
        vm.expectRevert(
            abi.encodeWithSelector(IJobEscrow.CollateralTooLow.selector, PRICE / 10 - 1, uint256(PRICE) / 10)
        );
        escrow.createJob(p, "ipfs://spec");
        vm.stopPrank();

        uint256 id = createFixed(1);
        address squatter = makeAddr("squatter");
        accept(id, squatter);
        toFinalizable(id);
        escrow.finalize(id);
        assertEq(bal(squatter), 0, "the squatter's collateral is gone");
        assertEq(bal(buyer), PRICE + PRICE + COLLATERAL, "the buyer is refunded and compensated");
    }

    /* SELF-DISPUTE */

    /// @notice A provider that will miss the deadline disputes its own empty slot so that the
    ///         expired dispute refunds its collateral: refused, and the late penalty applies.
    function test_Attack_SelfDisputeDoesNotEscapeTheLatePenalty() public {
        uint256 id = createFixed(1);
        accept(id, p1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.NotCommitted.selector, id, p1));
        vm.prank(p1);
        escrow.dispute(id, p1);
        vm.warp(escrow.disputeExpiry(id));
        escrow.finalize(id);
        assertEq(uint8(slotStatus(id, p1)), uint8(IJobEscrow.SlotStatus.Slashed));
        assertEq(bal(p1), 0);
        assertEq(bal(buyer), PRICE + COLLATERAL);
    }

    /* VOTE DEADLINE */

    /// @notice After a dispute expired (the automatic rule applies), a buyer and its arbiter can no
    ///         longer outvote it: the honest majority result is paid.
    function test_Attack_VoteAfterExpiryRefused() public {
        uint256 id = createFixed(1);
        accept(id, p1);
        commit(id, p1, GOOD, PRICE);
        revealResult(id, p1);
        vm.prank(buyer);
        escrow.dispute(id, p1);
        uint256 expiry = escrow.disputeExpiry(id);
        vm.warp(expiry);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.DisputeExpired.selector, id, expiry));
        vm.prank(buyer);
        escrow.vote(id, p1, false);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.DisputeExpired.selector, id, expiry));
        vm.prank(arbiter);
        escrow.vote(id, p1, false);
        escrow.finalize(id);
        assertEq(uint8(slotStatus(id, p1)), uint8(IJobEscrow.SlotStatus.Paid));
        assertEq(bal(p1), PRICE + COLLATERAL);
    }

    /* ONE DISPUTE DELAYS EVERYONE */

    /// @notice The buyer disputes one slot for free: the undisputed replicas are still paid at
    ///         `finalizableAt`, not after the dispute period; only the disputed slot waits.
    function test_Attack_OneDisputeDoesNotDelayTheOtherSlots() public {
        uint256 id = createFixed(3);
        accept(id, p1);
        accept(id, p2);
        accept(id, p3);
        commit(id, p1, GOOD, PRICE);
        commit(id, p2, GOOD, PRICE);
        commit(id, p3, GOOD, PRICE);
        revealAll(id);
        vm.prank(buyer);
        escrow.dispute(id, p3);
        toFinalizable(id);
        assertLt(block.timestamp, escrow.disputeExpiry(id));
        escrow.finalize(id);
        assertEq(bal(p1), PRICE + COLLATERAL, "paid without waiting for p3's dispute");
        assertEq(bal(p2), PRICE + COLLATERAL);
        assertEq(job(id).escrowed, PRICE + COLLATERAL, "p3's slot still held");
        vm.warp(escrow.disputeExpiry(id));
        escrow.settleExpired(id, p3);
        assertEq(bal(p3), PRICE + COLLATERAL, "the expired dispute falls back to the majority rule");
        assertEq(bal(address(escrow)), 0);
    }

    /* RECORD FARMING */

    /// @notice A sybil pair farms `completed` with 1-wei jobs, then enters a job that asks for a
    ///         record: refused, the record is weighted by value earned; failures count against it.
    function test_Attack_OneWeiSelfJobsDoNotFarmTheRecord() public {
        address farmer = makeAddr("farmer");
        for (uint256 i; i < 3; ++i) {
            IJobEscrow.JobParams memory tiny = fixedParams(1, 0);
            tiny.price = 1;
            tiny.collateral = 1;
            uint256 t = create(tiny); // the buyer here is the farmer's own sybil
            accept(t, farmer);
            commit(t, farmer, GOOD, 1);
            toFinalizable(t);
            escrow.finalize(t);
        }
        assertEq(escrow.recordOf(farmer).completed, 3);
        assertEq(escrow.recordOf(farmer).earned, 3);

        IJobEscrow.JobParams memory p = fixedParams(1, 0);
        p.minCompleted = 3;
        uint256 id = create(p);
        give(farmer, COLLATERAL);
        vm.startPrank(farmer);
        token.approve(address(escrow), COLLATERAL);
        vm.expectRevert(
            abi.encodeWithSelector(IJobEscrow.InsufficientEarnings.selector, farmer, 3, 3 * uint256(PRICE) / 10)
        );
        escrow.accept(id);
        vm.stopPrank();
    }

    /// @notice Completed jobs net of failed ones: a provider with 3 paid and 1 slashed slot does not
    ///         qualify for `minCompleted = 3`.
    function test_Attack_FailuresCountAgainstTheRecord() public {
        for (uint256 i; i < 4; ++i) {
            uint256 t = createFixed(1);
            accept(t, p1);
            if (i < 3) commit(t, p1, GOOD, PRICE);
            toFinalizable(t);
            escrow.finalize(t);
        }
        assertEq(escrow.recordOf(p1).completed, 3);
        assertEq(escrow.recordOf(p1).failed, 1);
        IJobEscrow.JobParams memory p = fixedParams(1, 0);
        p.minCompleted = 3;
        uint256 id = create(p);
        give(p1, COLLATERAL);
        vm.startPrank(p1);
        token.approve(address(escrow), COLLATERAL);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.InsufficientRecord.selector, p1, 2, 3));
        escrow.accept(id);
        vm.stopPrank();
    }

    /* FEE-ON-TRANSFER TOKEN */

    /// @notice An escrow over a fee-on-transfer token would hold less than it books and pay the
    ///         last party out of others' money: every transfer in is checked and refused.
    function test_Attack_FeeOnTransferTokenRefused() public {
        EscrowFeeToken fee = new EscrowFeeToken();
        JobEscrow e = new JobEscrow(IERC20(address(fee)), DISPUTE);
        fee.mint(buyer, PRICE);
        vm.startPrank(buyer);
        fee.approve(address(e), PRICE);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.TransferAmountMismatch.selector, PRICE, PRICE - PRICE / 100));
        e.createJob(fixedParams(1, 0), "ipfs://spec");
        vm.stopPrank();
        assertEq(fee.balanceOf(buyer), PRICE, "nothing lost");
        assertEq(fee.balanceOf(address(e)), 0);
    }
}

/// @notice Issue 21: only a slot holder of an open job may announce an endpoint, and only its own.
contract JobEscrowEndpointAttacksTest is EscrowTestBase {
    function test_Attack_StrangerCannotAnnounce() public {
        uint256 id = createFixed(2);
        accept(id, p1);
        vm.expectRevert(
            abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, stranger, IJobEscrow.SlotStatus.None)
        );
        vm.prank(stranger);
        escrow.announceEndpoint(id, "http://evil");
    }

    function test_Attack_BuyerCannotAnnounce() public {
        uint256 id = createFixed(2);
        accept(id, p1);
        vm.expectRevert(
            abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, buyer, IJobEscrow.SlotStatus.None)
        );
        vm.prank(buyer);
        escrow.announceEndpoint(id, "http://evil");
    }

    function test_Attack_LostBidderCannotAnnounce() public {
        uint256 id = create(sealedParams(1));
        bid(id, p1, 5 ether);
        bid(id, p2, 6 ether);
        vm.warp(job(id).params.bidDeadline);
        reveal(id, p1, 5 ether);
        reveal(id, p2, 6 ether);
        vm.warp(job(id).params.revealDeadline);
        escrow.closeAuction(id);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p2, IJobEscrow.SlotStatus.Lost));
        vm.prank(p2);
        escrow.announceEndpoint(id, "http://evil");
    }

    function test_Attack_BidderCannotAnnounceBeforeTheAuctionCloses() public {
        uint256 id = create(sealedParams(1));
        bid(id, p1, 5 ether);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongStatus.selector, id, IJobEscrow.JobStatus.Bidding));
        vm.prank(p1);
        escrow.announceEndpoint(id, "http://early");
    }

    function test_Attack_UnknownJobRefused() public {
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.UnknownJob.selector, 42));
        vm.prank(p1);
        escrow.announceEndpoint(42, "http://ghost");
    }

    function test_Attack_FinalizedJobRefused() public {
        uint256 id = createFixed(1);
        accept(id, p1);
        commit(id, p1, GOOD, PRICE);
        toFinalizable(id);
        escrow.finalize(id);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongStatus.selector, id, IJobEscrow.JobStatus.Finalized));
        vm.prank(p1);
        escrow.announceEndpoint(id, "http://late");
    }

    function test_Attack_CancelledJobRefused() public {
        uint256 id = createFixed(1);
        vm.prank(buyer);
        escrow.cancel(id);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongStatus.selector, id, IJobEscrow.JobStatus.Cancelled));
        vm.prank(p1);
        escrow.announceEndpoint(id, "http://late");
    }

    /// @notice A holder of another job's slot cannot announce in this one.
    function test_Attack_HolderOfAnotherJobCannotAnnounce() public {
        uint256 a = createFixed(1);
        uint256 b = createFixed(1);
        accept(a, p1);
        accept(b, p2);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, b, p1, IJobEscrow.SlotStatus.None));
        vm.prank(p1);
        escrow.announceEndpoint(b, "http://evil");
    }

    /// @notice The event names the caller: a holder has no way to announce a URL for another
    ///         provider, whose own (latest) announcement therefore stands.
    function test_Attack_HolderCannotAnnounceForAnotherProvider() public {
        uint256 id = createFixed(2);
        accept(id, p1);
        accept(id, p2);
        vm.prank(p2);
        escrow.announceEndpoint(id, "http://p2");
        vm.expectEmit(true, true, false, true, address(escrow));
        emit IJobEscrow.EndpointAnnounced(id, p1, "http://p2-hijack");
        vm.prank(p1);
        escrow.announceEndpoint(id, "http://p2-hijack");
    }
}
