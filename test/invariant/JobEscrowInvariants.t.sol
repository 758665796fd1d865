// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EscrowTestBase} from "../utils/EscrowTestBase.sol";
import {IJobEscrow} from "../../contracts/interfaces/IJobEscrow.sol";
import {JobEscrowHandler} from "./JobEscrowHandler.sol";

/// @notice Invariants of JobEscrow under random sequences of jobs, bids, results, disputes, votes,
///         finalizations, cancellations and time warps.
/// forge-config: default.invariant.runs = 64
/// forge-config: default.invariant.depth = 80
contract JobEscrowInvariants is EscrowTestBase {
    uint256 internal constant FUND = 1_000_000 ether;

    JobEscrowHandler internal handler;
    address[] internal all;
    uint256 internal initialTotal;

    function setUp() public override {
        super.setUp();
        handler = new JobEscrowHandler(token, escrow);
        all = handler.actors();
        for (uint256 i; i < all.length; ++i) {
            give(all[i], FUND);
        }
        handler.approveAll();
        initialTotal = FUND * all.length;

        bytes4[] memory selectors = new bytes4[](15);
        selectors[0] = JobEscrowHandler.createJob.selector;
        selectors[1] = JobEscrowHandler.accept.selector;
        selectors[2] = JobEscrowHandler.commitBid.selector;
        selectors[3] = JobEscrowHandler.revealBid.selector;
        selectors[4] = JobEscrowHandler.closeAuction.selector;
        selectors[5] = JobEscrowHandler.reportCheckpoint.selector;
        selectors[6] = JobEscrowHandler.releaseCheckpoint.selector;
        selectors[7] = JobEscrowHandler.commitResult.selector;
        selectors[8] = JobEscrowHandler.dispute.selector;
        selectors[9] = JobEscrowHandler.vote.selector;
        selectors[10] = JobEscrowHandler.finalize.selector;
        selectors[11] = JobEscrowHandler.cancel.selector;
        selectors[12] = JobEscrowHandler.warp.selector;
        selectors[13] = JobEscrowHandler.revealResult.selector;
        selectors[14] = JobEscrowHandler.settleExpired.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @dev What the escrow owes for one job, recomputed from its slots.
    function _obligation(uint256 id) internal view returns (uint256 owed) {
        IJobEscrow.Job memory j = escrow.getJob(id);
        if (j.status == IJobEscrow.JobStatus.Cancelled) return 0;
        bool finalized = j.status == IJobEscrow.JobStatus.Finalized;
        uint256 slotsUnfilled =
            j.status == IJobEscrow.JobStatus.Bidding ? j.params.replicas : j.params.replicas - j.filled;
        // A finalized job holds only its disputes still open (each waits for its vote or expiry).
        if (!finalized) owed = uint256(j.params.price) * slotsUnfilled;
        address[] memory members = escrow.providersOf(id);
        for (uint256 i; i < members.length; ++i) {
            IJobEscrow.Slot memory s = escrow.getSlot(id, members[i]);
            IJobEscrow.SlotStatus st = s.status;
            if (finalized && st != IJobEscrow.SlotStatus.Disputed) continue;
            if (st == IJobEscrow.SlotStatus.Bid || st == IJobEscrow.SlotStatus.Revealed) {
                owed += s.collateralLeft;
            } else if (
                st == IJobEscrow.SlotStatus.Accepted || st == IJobEscrow.SlotStatus.Committed
                    || st == IJobEscrow.SlotStatus.Disputed
            ) {
                owed += uint256(j.clearingPrice) - s.paidOut + s.collateralLeft;
            }
        }
    }

    /// @notice The escrow holds exactly Σ escrowed, and each job's escrowed is what its slots are owed.
    function invariant_balanceEqualsEscrowedEqualsObligations() public view {
        uint256 sumEscrowed;
        uint256 sumOwed;
        for (uint256 i; i < handler.jobsLength(); ++i) {
            uint256 id = handler.jobs(i);
            uint256 escrowed = escrow.getJob(id).escrowed;
            assertEq(escrowed, _obligation(id), "job escrowed != obligations recomputed from slots");
            sumEscrowed += escrowed;
            sumOwed += _obligation(id);
        }
        assertEq(token.balanceOf(address(escrow)), sumEscrowed, "escrow balance != sum of escrowed");
        assertEq(sumEscrowed, sumOwed);
    }

    /// @notice No token is created or lost: actors and the escrow hold what the actors were given.
    function invariant_tokensConserved() public view {
        // Forfeited bid collateral is burned: it sits at the burn address.
        uint256 sum = token.balanceOf(address(escrow)) + token.balanceOf(escrow.BURN_ADDRESS());
        for (uint256 i; i < all.length; ++i) {
            sum += token.balanceOf(all[i]);
        }
        assertEq(sum, initialTotal);
    }

    /// @notice A job finalizes once and a slot settles once.
    function invariant_settleOnce() public view {
        assertFalse(handler.finalizedTwice(), "a job finalized twice");
        assertFalse(handler.settledTwice(), "a slot settled twice");
    }

    /// @notice Settled slots hold nothing; a finished job holds nothing.
    function invariant_settledHoldNothing() public view {
        for (uint256 i; i < handler.jobsLength(); ++i) {
            uint256 id = handler.jobs(i);
            IJobEscrow.Job memory j = escrow.getJob(id);
            if (j.status == IJobEscrow.JobStatus.Cancelled) assertEq(j.escrowed, 0, "a cancelled job holds tokens");
            address[] memory members = escrow.providersOf(id);
            for (uint256 k; k < members.length; ++k) {
                IJobEscrow.SlotStatus st = escrow.getSlot(id, members[k]).status;
                if (uint8(st) >= uint8(IJobEscrow.SlotStatus.Paid)) {
                    assertEq(escrow.getSlot(id, members[k]).collateralLeft, 0, "a settled slot holds collateral");
                }
            }
        }
    }

    /// @notice Driving every job to its end empties the escrow, to the token.
    function afterInvariant() public {
        handler.sweep();
        assertEq(token.balanceOf(address(escrow)), 0, "escrow not empty after every job ended");
        invariant_tokensConserved();
        invariant_settleOnce();
        for (uint256 i; i < handler.jobsLength(); ++i) {
            IJobEscrow.JobStatus st = escrow.getJob(handler.jobs(i)).status;
            assertTrue(st == IJobEscrow.JobStatus.Finalized || st == IJobEscrow.JobStatus.Cancelled, "job not ended");
        }
    }
}
