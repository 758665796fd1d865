// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {Vm} from "forge-std/Vm.sol";
import {WorkToken} from "../../contracts/WorkToken.sol";
import {JobEscrow} from "../../contracts/JobEscrow.sol";
import {IJobEscrow} from "../../contracts/interfaces/IJobEscrow.sol";

/// @notice Drives JobEscrow with bounded inputs over 2 buyers, 5 providers and an arbiter, and counts
///         settlements from the events: a job must finalize once, a slot settle once.
/// @dev A call the escrow rejects reverts the whole handler step (fail_on_revert is off), so the
///      bookkeeping after each call only ever sees successful calls.
contract JobEscrowHandler is Test {
    uint256 internal constant FUND = 1_000_000 ether;

    WorkToken public immutable token;
    JobEscrow public immutable escrow;
    address public immutable arbiter;
    address[] public buyers;
    address[] public providers;
    uint256[] public jobs;

    /* GHOSTS */

    mapping(uint256 jobId => uint256) public finalizations;
    mapping(uint256 jobId => mapping(address provider => uint256)) public settlements;
    bool public settledTwice;
    bool public finalizedTwice;
    mapping(uint256 jobId => mapping(address provider => uint96)) internal _bidPrice;
    mapping(uint256 jobId => mapping(address provider => bytes32)) internal _result;
    mapping(bytes32 => uint256) public calls; // successful calls per action

    constructor(WorkToken token_, JobEscrow escrow_) {
        token = token_;
        escrow = escrow_;
        arbiter = makeAddr("inv-arbiter");
        for (uint256 i; i < 2; ++i) {
            buyers.push(makeAddr(string.concat("inv-buyer", vm.toString(i))));
        }
        for (uint256 i; i < 5; ++i) {
            providers.push(makeAddr(string.concat("inv-provider", vm.toString(i))));
        }
    }

    /// @dev Every actor approves the escrow once; the test gives them tokens.
    function approveAll() external {
        address[] memory all = actors();
        for (uint256 i; i < all.length; ++i) {
            vm.prank(all[i]);
            token.approve(address(escrow), type(uint256).max);
        }
    }

    function actors() public view returns (address[] memory all) {
        all = new address[](buyers.length + providers.length + 1);
        for (uint256 i; i < buyers.length; ++i) {
            all[i] = buyers[i];
        }
        for (uint256 i; i < providers.length; ++i) {
            all[buyers.length + i] = providers[i];
        }
        all[all.length - 1] = arbiter;
    }

    function jobsLength() external view returns (uint256) {
        return jobs.length;
    }

    /* ACTIONS */

    function createJob(
        uint256 buyerSeed,
        bool sealedBid,
        uint8 replicas,
        uint8 checkpoints,
        uint96 price,
        uint96 collateral,
        uint32 minCompleted,
        uint32 duration,
        uint32 review
    ) external {
        IJobEscrow.JobParams memory p;
        p.specHash = keccak256(abi.encode(jobs.length));
        p.arbiter = arbiter;
        p.mode = sealedBid ? IJobEscrow.Mode.SealedBid : IJobEscrow.Mode.Fixed;
        p.price = uint96(bound(price, 1, 100 ether));
        p.collateral = uint96(bound(collateral, (uint256(p.price) + 9) / 10, 20 ether));
        p.replicas = uint8(bound(replicas, 1, 4));
        p.checkpoints = uint8(bound(checkpoints, 0, 3));
        p.minCompleted = uint32(bound(minCompleted, 0, 4)) == 4 ? 1 : 0; // 1 in 5 jobs need a record
        uint256 d = bound(duration, 1 hours, 3 days);
        if (sealedBid) {
            p.bidDeadline = uint64(block.timestamp + d / 4);
            p.revealDeadline = uint64(block.timestamp + d / 2);
        }
        p.deadline = uint64(block.timestamp + d);
        p.reviewPeriod = uint32(bound(review, 0, 6 hours));
        vm.prank(buyers[buyerSeed % buyers.length]);
        uint256 id = escrow.createJob(p, "inv://spec");
        jobs.push(id);
        _count("createJob");
    }

    function accept(uint256 jobSeed, uint256 provSeed) external {
        (uint256 id, bool ok) = _jobId(jobSeed);
        if (!ok) return;
        vm.prank(_provider(provSeed));
        escrow.accept(id);
        _count("accept");
    }

    function commitBid(uint256 jobSeed, uint256 provSeed, uint96 price) external {
        (uint256 id, bool ok) = _jobId(jobSeed);
        if (!ok) return;
        address who = _provider(provSeed);
        // Mostly within the maximum; sometimes above it (the reveal then fails and the bid forfeits).
        price = uint96(bound(price, 0, uint256(escrow.getJob(id).params.price) * 9 / 8));
        _bidPrice[id][who] = price;
        vm.prank(who);
        escrow.commitBid(id, keccak256(abi.encode(id, who, price, bytes32(uint256(uint160(who))))));
        _count("commitBid");
    }

    function revealBid(uint256 jobSeed, uint256 provSeed) external {
        (uint256 id, address who, bool ok) = _member(jobSeed, provSeed);
        if (!ok) return;
        vm.prank(who);
        escrow.revealBid(id, _bidPrice[id][who], bytes32(uint256(uint160(who))));
        _count("revealBid");
    }

    function closeAuction(uint256 jobSeed) external {
        (uint256 id, bool ok) = _jobId(jobSeed);
        if (!ok) return;
        _recorded();
        escrow.closeAuction(id);
        _tally();
        _count("closeAuction");
    }

    function reportCheckpoint(uint256 jobSeed, uint256 provSeed, uint256 index) external {
        (uint256 id, address who, bool ok) = _member(jobSeed, provSeed);
        if (!ok) return;
        vm.prank(who);
        escrow.reportCheckpoint(id, bound(index, 1, 3), keccak256(abi.encode(index)));
        _count("reportCheckpoint");
    }

    function releaseCheckpoint(uint256 jobSeed, uint256 provSeed) external {
        (uint256 id, address who, bool ok) = _member(jobSeed, provSeed);
        if (!ok) return;
        vm.prank(escrow.getJob(id).buyer);
        escrow.releaseCheckpoint(id, who);
        _count("releaseCheckpoint");
    }

    function commitResult(uint256 jobSeed, uint256 provSeed, uint8 resultSeed, uint96 charge) external {
        (uint256 id, address who, bool ok) = _member(jobSeed, provSeed);
        if (!ok) return;
        charge = uint96(bound(charge, 0, escrow.getJob(id).clearingPrice));
        // Three possible results, the first most likely: majorities, splits and no-majorities all occur.
        uint256 r = resultSeed % 6;
        bytes32 h = keccak256(abi.encode(r < 4 ? 0 : r));
        _result[id][who] = h;
        vm.prank(who);
        escrow.commitResult(id, keccak256(abi.encode(id, who, h, bytes32(uint256(uint160(who))))), charge, 0);
        _count("commitResult");
    }

    function revealResult(uint256 jobSeed, uint256 provSeed) external {
        (uint256 id, address who, bool ok) = _member(jobSeed, provSeed);
        if (!ok) return;
        vm.prank(who);
        escrow.revealResult(id, _result[id][who], bytes32(uint256(uint160(who))), "");
        _count("revealResult");
    }

    function settleExpired(uint256 jobSeed, uint256 provSeed) external {
        (uint256 id, address who, bool ok) = _member(jobSeed, provSeed);
        if (!ok) return;
        _recorded();
        escrow.settleExpired(id, who);
        _tally();
        _count("settleExpired");
    }

    function dispute(uint256 jobSeed, uint256 provSeed, bool byBuyer) external {
        (uint256 id, address who, bool ok) = _member(jobSeed, provSeed);
        if (!ok) return;
        vm.prank(byBuyer ? escrow.getJob(id).buyer : who);
        escrow.dispute(id, who);
        _count("dispute");
    }

    function vote(uint256 jobSeed, uint256 provSeed, uint8 voterSeed, bool pay) external {
        (uint256 id, address who, bool ok) = _member(jobSeed, provSeed);
        if (!ok) return;
        uint256 v = voterSeed % 3;
        address voter = v == 0 ? escrow.getJob(id).buyer : v == 1 ? who : arbiter;
        _recorded();
        vm.prank(voter);
        escrow.vote(id, who, pay);
        _tally();
        _count("vote");
    }

    function finalize(uint256 jobSeed) external {
        (uint256 id, bool ok) = _jobId(jobSeed);
        if (!ok) return;
        _recorded();
        escrow.finalize(id);
        _tally();
        _count("finalize");
    }

    function cancel(uint256 jobSeed) external {
        (uint256 id, bool ok) = _jobId(jobSeed);
        if (!ok) return;
        vm.prank(escrow.getJob(id).buyer);
        escrow.cancel(id);
        _count("cancel");
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 1, 12 hours));
    }

    /* SWEEP */

    /// @dev Drives every job to its end: close auctions, let every period pass, finalize.
    function sweep() external {
        uint256 latest = block.timestamp;
        for (uint256 i; i < jobs.length; ++i) {
            IJobEscrow.JobParams memory p = escrow.getJob(jobs[i]).params;
            uint256 end = escrow.disputeExpiry(jobs[i]);
            if (uint256(p.deadline) > end) end = p.deadline; // (never: the expiry is later)
            if (end > latest) latest = end;
        }
        vm.warp(latest);
        for (uint256 i; i < jobs.length; ++i) {
            uint256 id = jobs[i];
            if (escrow.getJob(id).status == IJobEscrow.JobStatus.Bidding) {
                _recorded();
                escrow.closeAuction(id);
                _tally();
            }
            if (escrow.getJob(id).status == IJobEscrow.JobStatus.Open) {
                _recorded();
                escrow.finalize(id);
                _tally();
            }
            // Disputes a finalize before their expiry left open.
            address[] memory members = escrow.providersOf(id);
            for (uint256 k; k < members.length; ++k) {
                if (escrow.getSlot(id, members[k]).status == IJobEscrow.SlotStatus.Disputed) {
                    _recorded();
                    escrow.settleExpired(id, members[k]);
                    _tally();
                }
            }
        }
    }

    /* INTERNAL */

    function _count(string memory action) internal {
        calls[keccak256(bytes(action))]++;
    }

    function _jobId(uint256 seed) internal view returns (uint256 id, bool ok) {
        if (jobs.length == 0) return (0, false);
        return (jobs[seed % jobs.length], true);
    }

    function _provider(uint256 seed) internal view returns (address) {
        return providers[seed % providers.length];
    }

    /// @dev A provider already in the job (most actions need one).
    function _member(uint256 jobSeed, uint256 provSeed) internal view returns (uint256 id, address who, bool ok) {
        (id, ok) = _jobId(jobSeed);
        if (!ok) return (0, address(0), false);
        address[] memory members = escrow.providersOf(id);
        if (members.length == 0) return (0, address(0), false);
        return (id, members[provSeed % members.length], true);
    }

    function _recorded() internal {
        vm.recordLogs();
    }

    /// @dev Counts SlotSettled and JobFinalized events of the last call.
    function _tally() internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(escrow)) continue;
            bytes32 topic = logs[i].topics[0];
            if (topic == IJobEscrow.SlotSettled.selector) {
                uint256 id = uint256(logs[i].topics[1]);
                address who = address(uint160(uint256(logs[i].topics[2])));
                if (++settlements[id][who] > 1) settledTwice = true;
            } else if (topic == IJobEscrow.JobFinalized.selector) {
                if (++finalizations[uint256(logs[i].topics[1])] > 1) finalizedTwice = true;
            }
        }
    }
}
