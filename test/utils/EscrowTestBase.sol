// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "./Fixture.sol";
import {JobEscrow} from "../../contracts/JobEscrow.sol";
import {IJobEscrow} from "../../contracts/interfaces/IJobEscrow.sol";
import {SuiteDeployer} from "../../script/SuiteDeployer.sol";

/// @notice The suite as deployed plus helpers to create jobs, take slots, bid and commit results in
///         JobEscrow, and to check every party's balance on each money path.
abstract contract EscrowTestBase is Fixture {
    uint96 internal constant PRICE = 10 ether;
    uint96 internal constant COLLATERAL = 2 ether;
    uint32 internal constant REVIEW = 1 hours;
    uint256 internal constant DISPUTE = 1 days; // SuiteDeployer's devnet value

    bytes32 internal constant SPEC = keccak256("spec");
    bytes32 internal constant GOOD = keccak256("good result");
    bytes32 internal constant BAD = keccak256("bad result");
    bytes32 internal constant USAGE = keccak256("usage");

    JobEscrow internal escrow;
    address internal buyer;
    uint256 internal buyerKey;
    address internal arbiter = makeAddr("arbiter");
    address internal p1 = makeAddr("provider1");
    address internal p2 = makeAddr("provider2");
    address internal p3 = makeAddr("provider3");
    address internal p4 = makeAddr("provider4");
    address internal stranger = makeAddr("stranger");

    function setUp() public virtual override {
        super.setUp();
        escrow = new JobEscrow(token, DISPUTE);
        (buyer, buyerKey) = makeAddrAndKey("buyer");
        vm.warp(1_700_000_000);
    }

    /* JOBS */

    function fixedParams(uint8 replicas, uint8 checkpoints) internal view returns (IJobEscrow.JobParams memory p) {
        p.specHash = SPEC;
        p.arbiter = arbiter;
        p.resources = IJobEscrow.Resources({milliCpus: 2000, memoryMb: 4096, diskMb: 10_000, gpus: 0});
        p.mode = IJobEscrow.Mode.Fixed;
        p.price = PRICE;
        p.collateral = COLLATERAL;
        p.replicas = replicas;
        p.checkpoints = checkpoints;
        p.deadline = uint64(block.timestamp + 1 days);
        p.reviewPeriod = REVIEW;
    }

    function sealedParams(uint8 replicas) internal view returns (IJobEscrow.JobParams memory p) {
        p = fixedParams(replicas, 0);
        p.mode = IJobEscrow.Mode.SealedBid;
        p.bidDeadline = uint64(block.timestamp + 1 hours);
        p.revealDeadline = uint64(block.timestamp + 2 hours);
    }

    /// @dev Funds the buyer with exactly the escrow and creates the job.
    function create(IJobEscrow.JobParams memory p) internal returns (uint256 jobId) {
        uint256 amount = uint256(p.price) * p.replicas;
        give(buyer, amount);
        vm.startPrank(buyer);
        token.approve(address(escrow), amount);
        jobId = escrow.createJob(p, "ipfs://spec");
        vm.stopPrank();
    }

    function createFixed(uint8 replicas) internal returns (uint256) {
        return create(fixedParams(replicas, 0));
    }

    /// @dev Funds `who` with exactly the collateral and takes a slot.
    function accept(uint256 jobId, address who) internal {
        uint256 collateral = escrow.getJob(jobId).params.collateral;
        give(who, collateral);
        vm.startPrank(who);
        token.approve(address(escrow), collateral);
        escrow.accept(jobId);
        vm.stopPrank();
    }

    /// @dev Result hashes committed (sealed) and not yet revealed, per job, to reveal later.
    mapping(uint256 => mapping(address => bytes32)) internal sealedResult;

    function resultSalt(address who) internal pure returns (bytes32) {
        return keccak256(abi.encode("result salt", who));
    }

    function resultCommitment(uint256 jobId, address who, bytes32 resultHash) internal pure returns (bytes32) {
        return keccak256(abi.encode(jobId, who, resultHash, resultSalt(who)));
    }

    /// @dev Commits `resultHash` sealed (commit–reveal); `revealResult`/`revealAll` open it.
    function commit(uint256 jobId, address who, bytes32 resultHash, uint96 charge) internal {
        vm.prank(who);
        escrow.commitResult(jobId, resultCommitment(jobId, who, resultHash), charge, USAGE);
        sealedResult[jobId][who] = resultHash;
    }

    function revealResult(uint256 jobId, address who) internal {
        bytes32 h = sealedResult[jobId][who];
        vm.prank(who);
        escrow.revealResult(jobId, h, resultSalt(who), "ipfs://result");
        delete sealedResult[jobId][who];
    }

    /// @dev Opens every sealed result of the job (warping to the reveal window if it is not open yet).
    function revealAll(uint256 jobId) internal {
        address[] memory ps = escrow.providersOf(jobId);
        bool any;
        for (uint256 i; i < ps.length; ++i) {
            if (sealedResult[jobId][ps[i]] != bytes32(0)) any = true;
        }
        if (!any) return;
        uint256 opens = escrow.resultRevealDeadline(jobId) - escrow.REVEAL_PERIOD();
        if (block.timestamp < opens) vm.warp(opens);
        for (uint256 i; i < ps.length; ++i) {
            if (sealedResult[jobId][ps[i]] != bytes32(0)) revealResult(jobId, ps[i]);
        }
    }

    function commitment(uint256 jobId, address who, uint96 price, bytes32 salt_) internal pure returns (bytes32) {
        return keccak256(abi.encode(jobId, who, price, salt_));
    }

    function salt(address who) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", who));
    }

    /// @dev Funds `who` with exactly the collateral and commits a bid of `price`.
    function bid(uint256 jobId, address who, uint96 price) internal {
        uint256 collateral = escrow.getJob(jobId).params.collateral;
        give(who, collateral);
        vm.startPrank(who);
        token.approve(address(escrow), collateral);
        escrow.commitBid(jobId, commitment(jobId, who, price, salt(who)));
        vm.stopPrank();
    }

    function reveal(uint256 jobId, address who, uint96 price) internal {
        vm.prank(who);
        escrow.revealBid(jobId, price, salt(who));
    }

    function job(uint256 jobId) internal view returns (IJobEscrow.Job memory) {
        return escrow.getJob(jobId);
    }

    function slot(uint256 jobId, address who) internal view returns (IJobEscrow.Slot memory) {
        return escrow.getSlot(jobId, who);
    }

    function slotStatus(uint256 jobId, address who) internal view returns (IJobEscrow.SlotStatus) {
        return escrow.getSlot(jobId, who).status;
    }

    /// @dev Reveals what is sealed, then warps to `finalizableAt`.
    function toFinalizable(uint256 jobId) internal {
        revealAll(jobId);
        uint256 when = escrow.finalizableAt(jobId);
        if (block.timestamp < when) vm.warp(when);
    }

    function bal(address who) internal view returns (uint256) {
        return token.balanceOf(who);
    }

    /// @dev The escrow's balance equals Σ escrowed over all jobs.
    function assertEscrowSolvent() internal view {
        uint256 sum;
        for (uint256 i = 1; i <= escrow.jobCount(); ++i) {
            sum += escrow.getJob(i).escrowed;
        }
        assertEq(bal(address(escrow)), sum, "escrow balance != sum of escrowed");
    }

    function deployedEscrow() internal returns (JobEscrow) {
        SuiteDeployer.Suite memory s = SuiteDeployer.deploy(SuiteDeployer.devnetParams(address(this)));
        return s.escrow;
    }
}
