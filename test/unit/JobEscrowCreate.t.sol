// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {EscrowTestBase} from "../utils/EscrowTestBase.sol";
import {JobEscrow} from "../../contracts/JobEscrow.sol";
import {IJobEscrow} from "../../contracts/interfaces/IJobEscrow.sol";

/// @notice JobEscrow: construction and deployment, createJob's checks and escrow, the permit path,
///         cancel and the views.
contract JobEscrowCreateTest is EscrowTestBase {
    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    /* CONSTRUCTION */

    function test_Constructor_SetsTokenAndDisputePeriod() public view {
        assertEq(escrow.token(), address(token));
        assertEq(escrow.disputePeriod(), DISPUTE);
        assertEq(escrow.jobCount(), 0);
        assertEq(escrow.MAX_REPLICAS(), 16);
        assertEq(escrow.MAX_CHECKPOINTS(), 16);
        assertEq(escrow.MAX_BIDDERS(), 32);
    }

    function test_RevertWhen_ConstructedWithZeroToken() public {
        vm.expectRevert(JobEscrow.ZeroToken.selector);
        new JobEscrow(IERC20(address(0)), 1);
    }

    function test_RevertWhen_ConstructedWithTooLongADisputePeriod() public {
        uint256 max = 365 days;
        assertEq(escrow.MAX_DISPUTE_PERIOD(), max);
        new JobEscrow(IERC20(address(token)), max);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.DisputePeriodTooLong.selector, max + 1, max));
        new JobEscrow(IERC20(address(token)), max + 1);
    }

    function test_SuiteDeployer_DeploysEscrowOnTheWorkToken() public {
        JobEscrow e = deployedEscrow();
        assertEq(e.disputePeriod(), 1 days);
        assertTrue(e.token() != address(0));
        assertEq(keccak256(bytes(IERC20Meta(e.token()).symbol())), keccak256("FLOW"));
    }

    /* CREATE */

    function test_CreateJob_EscrowsPriceTimesReplicas() public {
        IJobEscrow.JobParams memory p = fixedParams(3, 2);
        give(buyer, 100 ether);
        vm.prank(buyer);
        token.approve(address(escrow), 30 ether);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.JobCreated(1, buyer, arbiter, p, "ipfs://spec");
        vm.prank(buyer);
        uint256 id = escrow.createJob(p, "ipfs://spec");
        assertEq(id, 1);
        assertEq(escrow.jobCount(), 1);
        assertEq(bal(buyer), 70 ether);
        assertEq(bal(address(escrow)), 30 ether);

        IJobEscrow.Job memory j = job(id);
        assertEq(j.buyer, buyer);
        assertEq(uint8(j.status), uint8(IJobEscrow.JobStatus.Open));
        assertEq(j.escrowed, 30 ether);
        assertEq(j.clearingPrice, PRICE);
        assertEq(j.filled, 0);
        assertEq(j.committed, 0);
        assertEq(j.lastCommitAt, 0);
        assertEq(j.params.specHash, SPEC);
        assertEq(j.params.replicas, 3);
        assertEq(j.params.checkpoints, 2);
        assertEq(j.params.resources.memoryMb, 4096);
        assertEq(escrow.providersOf(id).length, 0);
        assertEq(escrow.finalizableAt(id), p.deadline + 1 + escrow.REVEAL_PERIOD() + REVIEW);
    }

    function test_CreateJob_IdsAreSequential() public {
        assertEq(createFixed(1), 1);
        assertEq(createFixed(2), 2);
        assertEq(create(sealedParams(1)), 3);
        assertEq(escrow.jobCount(), 3);
    }

    function test_CreateJob_SealedBidStartsBiddingWithoutClearingPrice() public {
        uint256 id = create(sealedParams(2));
        IJobEscrow.Job memory j = job(id);
        assertEq(uint8(j.status), uint8(IJobEscrow.JobStatus.Bidding));
        assertEq(j.clearingPrice, 0);
        assertEq(j.escrowed, 2 * uint256(PRICE));
    }

    function test_CreateJob_AcceptsTheLimits() public {
        IJobEscrow.JobParams memory p = fixedParams(16, 16);
        p.collateral = PRICE / 10; // the least collateral allowed
        p.reviewPeriod = 0;
        uint256 id = create(p);
        assertEq(job(id).params.replicas, 16);
    }

    function _expectCreateRevert(IJobEscrow.JobParams memory p, bytes memory err) internal {
        give(buyer, 1000 ether);
        vm.prank(buyer);
        token.approve(address(escrow), type(uint256).max);
        vm.expectRevert(err);
        vm.prank(buyer);
        escrow.createJob(p, "");
    }

    function test_RevertWhen_CreateWithZeroReplicas() public {
        _expectCreateRevert(fixedParams(0, 0), abi.encodeWithSelector(IJobEscrow.ZeroReplicas.selector));
    }

    function test_RevertWhen_CreateWithTooManyReplicas() public {
        _expectCreateRevert(
            fixedParams(17, 0), abi.encodeWithSelector(IJobEscrow.TooManyReplicas.selector, uint256(17), uint256(16))
        );
    }

    function test_RevertWhen_CreateWithTooManyCheckpoints() public {
        _expectCreateRevert(
            fixedParams(1, 17), abi.encodeWithSelector(IJobEscrow.TooManyCheckpoints.selector, uint256(17), uint256(16))
        );
    }

    function test_RevertWhen_CreateWithZeroSpecHash() public {
        IJobEscrow.JobParams memory p = fixedParams(1, 0);
        p.specHash = 0;
        _expectCreateRevert(p, abi.encodeWithSelector(IJobEscrow.ZeroSpecHash.selector));
    }

    function test_RevertWhen_CreateWithZeroPrice() public {
        IJobEscrow.JobParams memory p = fixedParams(1, 0);
        p.price = 0;
        _expectCreateRevert(p, abi.encodeWithSelector(IJobEscrow.ZeroPrice.selector));
    }

    function test_RevertWhen_ArbiterIsZeroOrTheBuyer() public {
        IJobEscrow.JobParams memory p = fixedParams(1, 0);
        p.arbiter = address(0);
        _expectCreateRevert(p, abi.encodeWithSelector(IJobEscrow.BadArbiter.selector, address(0)));
        p.arbiter = buyer;
        _expectCreateRevert(p, abi.encodeWithSelector(IJobEscrow.BadArbiter.selector, buyer));
    }

    function test_RevertWhen_FixedJobDeadlinesAreBad() public {
        bytes memory err = abi.encodeWithSelector(IJobEscrow.BadDeadlines.selector);
        IJobEscrow.JobParams memory p = fixedParams(1, 0);
        p.bidDeadline = uint64(block.timestamp + 1);
        _expectCreateRevert(p, err);
        p = fixedParams(1, 0);
        p.revealDeadline = uint64(block.timestamp + 1);
        _expectCreateRevert(p, err);
        p = fixedParams(1, 0);
        p.deadline = uint64(block.timestamp);
        _expectCreateRevert(p, err);
    }

    function test_RevertWhen_SealedBidDeadlinesAreOutOfOrder() public {
        bytes memory err = abi.encodeWithSelector(IJobEscrow.BadDeadlines.selector);
        IJobEscrow.JobParams memory p = sealedParams(1);
        p.bidDeadline = uint64(block.timestamp);
        _expectCreateRevert(p, err);
        p = sealedParams(1);
        p.revealDeadline = p.bidDeadline;
        _expectCreateRevert(p, err);
        p = sealedParams(1);
        p.deadline = p.revealDeadline;
        _expectCreateRevert(p, err);
    }

    function test_RevertWhen_CreateWithoutAllowance() public {
        give(buyer, 100 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(escrow), 0, uint256(PRICE))
        );
        vm.prank(buyer);
        escrow.createJob(fixedParams(1, 0), "");
    }

    /* PERMIT */

    function _permit(uint256 value, uint256 nonce, uint256 deadline)
        internal
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, buyer, address(escrow), value, nonce, deadline));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        return vm.sign(buyerKey, digest);
    }

    function test_CreateJobWithPermit_NeedsNoApproval() public {
        give(buyer, 30 ether);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(30 ether, 0, deadline);
        vm.prank(buyer);
        uint256 id = escrow.createJobWithPermit(fixedParams(3, 0), "ipfs://spec", deadline, v, r, s);
        assertEq(job(id).escrowed, 30 ether);
        assertEq(bal(buyer), 0);
        assertEq(bal(address(escrow)), 30 ether);
        assertEq(token.allowance(buyer, address(escrow)), 0);
        assertEq(token.nonces(buyer), 1);
    }

    function test_CreateJobWithPermit_SurvivesAFrontRunPermit() public {
        give(buyer, 10 ether);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(10 ether, 0, deadline);
        vm.prank(stranger);
        token.permit(buyer, address(escrow), 10 ether, deadline, v, r, s);
        vm.prank(buyer);
        uint256 id = escrow.createJobWithPermit(fixedParams(1, 0), "", deadline, v, r, s);
        assertEq(job(id).escrowed, 10 ether);
        assertEq(bal(buyer), 0);
    }

    function test_RevertWhen_PermitFailsAndNoAllowance() public {
        give(buyer, 10 ether);
        uint256 deadline = block.timestamp - 1;
        (uint8 v, bytes32 r, bytes32 s) = _permit(10 ether, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, deadline));
        vm.prank(buyer);
        escrow.createJobWithPermit(fixedParams(1, 0), "", deadline, v, r, s);
    }

    function test_RevertWhen_PermitIsForLessThanTheEscrow() public {
        give(buyer, 30 ether);
        uint256 deadline = block.timestamp + 1 hours;
        // Signed for 10, the escrow asks for 30: the digest differs, the recovered signer is not the buyer.
        (uint8 v, bytes32 r, bytes32 s) = _permit(10 ether, 0, deadline);
        vm.expectPartialRevert(ERC20Permit.ERC2612InvalidSigner.selector);
        vm.prank(buyer);
        escrow.createJobWithPermit(fixedParams(3, 0), "", deadline, v, r, s);
    }

    /* CANCEL */

    function test_Cancel_RefundsEverything() public {
        uint256 id = createFixed(3);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.JobCancelled(id, 30 ether);
        vm.prank(buyer);
        escrow.cancel(id);
        assertEq(bal(buyer), 30 ether);
        assertEq(bal(address(escrow)), 0);
        assertEq(uint8(job(id).status), uint8(IJobEscrow.JobStatus.Cancelled));
        assertEq(job(id).escrowed, 0);
    }

    function test_Cancel_BiddingJobWithoutBids() public {
        uint256 id = create(sealedParams(2));
        vm.prank(buyer);
        escrow.cancel(id);
        assertEq(bal(buyer), 20 ether);
        assertEq(uint8(job(id).status), uint8(IJobEscrow.JobStatus.Cancelled));
    }

    function test_RevertWhen_CancelByAnotherThanTheBuyer() public {
        uint256 id = createFixed(1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.NotBuyer.selector, id, stranger));
        vm.prank(stranger);
        escrow.cancel(id);
    }

    function test_RevertWhen_CancelAfterASlotIsTaken() public {
        uint256 id = createFixed(2);
        accept(id, p1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.JobTaken.selector, id));
        vm.prank(buyer);
        escrow.cancel(id);
    }

    function test_RevertWhen_CancelAfterABid() public {
        uint256 id = create(sealedParams(2));
        bid(id, p1, 5 ether);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.JobTaken.selector, id));
        vm.prank(buyer);
        escrow.cancel(id);
    }

    function test_RevertWhen_CancelTwice() public {
        uint256 id = createFixed(1);
        vm.prank(buyer);
        escrow.cancel(id);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.WrongStatus.selector, id, IJobEscrow.JobStatus.Cancelled));
        vm.prank(buyer);
        escrow.cancel(id);
    }

    function test_RevertWhen_UnknownJob() public {
        bytes memory err = abi.encodeWithSelector(IJobEscrow.UnknownJob.selector, uint256(7));
        vm.expectRevert(err);
        escrow.cancel(7);
        vm.expectRevert(err);
        escrow.accept(7);
        vm.expectRevert(err);
        escrow.commitBid(7, 0);
        vm.expectRevert(err);
        escrow.revealBid(7, 0, 0);
        vm.expectRevert(err);
        escrow.closeAuction(7);
        vm.expectRevert(err);
        escrow.reportCheckpoint(7, 1, 0);
        vm.expectRevert(err);
        escrow.releaseCheckpoint(7, p1);
        vm.expectRevert(err);
        escrow.commitResult(7, GOOD, 0, 0);
        vm.expectRevert(err);
        escrow.revealResult(7, GOOD, 0, "");
        vm.expectRevert(err);
        escrow.dispute(7, p1);
        vm.expectRevert(err);
        escrow.vote(7, p1, true);
        vm.expectRevert(err);
        escrow.finalize(7);
        vm.expectRevert(err);
        escrow.finalizableAt(7);
    }

    /* VIEWS */

    function test_Views_UnknownEntriesAreEmpty() public view {
        assertEq(uint8(job(9).status), uint8(IJobEscrow.JobStatus.None));
        assertEq(uint8(slotStatus(9, p1)), uint8(IJobEscrow.SlotStatus.None));
        assertEq(escrow.providersOf(9).length, 0);
        assertEq(escrow.recordOf(p1).completed, 0);
        assertEq(escrow.recordOf(p1).failed, 0);
    }
}

interface IERC20Meta {
    function symbol() external view returns (string memory);
}
