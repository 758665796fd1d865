// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {Vm} from "forge-std/Vm.sol";
import {WorkToken} from "../../contracts/WorkToken.sol";
import {Staking} from "../../contracts/Staking.sol";
import {FaultClaims} from "../../contracts/FaultClaims.sol";
import {IFaultClaims} from "../../contracts/interfaces/IFaultClaims.sol";
import {SegmentResultHash} from "../../contracts/libraries/SegmentResultHash.sol";
import {twoRenditionResult} from "../utils/SegmentResults.sol";

/// @notice Drives FaultClaims with bounded inputs: claims by two broadcasters against three
///         orchestrators (duplicates, foreign signatures and slashed orchestrators included), votes by
///         members and outsiders, expiries, time warps, governance changing the committee and the
///         parameters under open claims, and the accused trying to unbond or re-delegate its stake.
///         Ghosts come from the events of successful calls.
/// @dev A call the contract rejects reverts the whole handler step (fail_on_revert is off).
contract FaultClaimsHandler is Test {
    WorkToken public immutable token;
    Staking public immutable staking;
    FaultClaims public immutable claims;
    address public immutable owner;
    address[] public orchestrators;
    uint256[] internal _keys;
    address[] public broadcasters;
    address[] public voters; // five members of the two committees and an outsider

    /* GHOSTS */

    mapping(uint256 id => uint256) public resolutions;
    mapping(uint256 id => IFaultClaims.ClaimStatus) public finalStatus;
    uint256 public burned; // Σ (penalty − finderFee) of upheld claims
    bool public resolvedTwice;
    bool public penaltyMismatch; // an event's amounts differ from the supply and balance changes
    bool public escapedWhileFrozen; // an accused moved bonded principal out while a claim was open
    mapping(bytes32 => uint256) public calls;

    constructor(
        WorkToken token_,
        Staking staking_,
        FaultClaims claims_,
        address owner_,
        address[] memory orchestrators_,
        uint256[] memory keys_,
        address[] memory broadcasters_,
        address[] memory voters_
    ) {
        (token, staking, claims, owner) = (token_, staking_, claims_, owner_);
        (orchestrators, _keys, broadcasters, voters) = (orchestrators_, keys_, broadcasters_, voters_);
    }

    /* ACTIONS */

    function fileClaim(uint256 oSeed, uint256 bSeed, uint256 seq, uint256 rendition, uint8 fault, bool foreignKey)
        external
    {
        uint256 i = oSeed % orchestrators.length;
        SegmentResultHash.SegmentResult memory r =
            _result(orchestrators[i], broadcasters[bSeed % broadcasters.length], bound(seq, 0, 15));
        // A foreign signature must always be refused.
        uint256 key = foreignKey ? _keys[(i + 1) % _keys.length] : _keys[i];
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(key, SegmentResultHash.digest(r, block.chainid, address(staking)));
        vm.prank(r.broadcaster);
        claims.fileClaim(r, abi.encodePacked(rr, s, v), bound(rendition, 0, 1), uint8(bound(fault, 1, 10)), 0, "");
        calls["fileClaim"]++;
    }

    function vote(uint256 idSeed, uint256 voterSeed, bool uphold) external {
        uint256 id = _id(idSeed);
        address voter = voters[voterSeed % voters.length];
        IFaultClaims.Claim memory c = claims.claim(id);
        uint256 supplyBefore = token.totalSupply();
        uint256 claimantBefore = token.balanceOf(c.claimant);
        vm.recordLogs();
        vm.prank(voter);
        claims.vote(id, uphold);
        calls["vote"]++;
        (bool resolved, uint256 penalty, uint256 finderFee) = _record(vm.getRecordedLogs());
        if (!resolved) return;
        uint256 supplyDrop = supplyBefore - token.totalSupply();
        uint256 paid = token.balanceOf(c.claimant) - claimantBefore;
        IFaultClaims.ClaimStatus status = claims.claim(id).status;
        uint256 bondBack = status == IFaultClaims.ClaimStatus.Upheld ? c.bond : 0;
        if (supplyDrop != penalty - finderFee || paid != finderFee + bondBack) penaltyMismatch = true;
    }

    function expire(uint256 idSeed) external {
        uint256 id = _id(idSeed);
        vm.recordLogs();
        claims.expire(id);
        calls["expire"]++;
        _record(vm.getRecordedLogs());
    }

    /// @dev An orchestrator unbonds part of its stake: refused while a claim against it is open.
    function unbond(uint256 oSeed, uint256 amount) external {
        address o = orchestrators[oSeed % orchestrators.length];
        uint256 stake = staking.pendingStake(o);
        bool accused = claims.record(o).open > 0;
        vm.prank(o);
        try staking.unbond(bound(amount, 1, stake == 0 ? 1 : stake)) {
            if (accused) escapedWhileFrozen = true;
            calls["unbond"]++;
        } catch {
            calls["unbond refused"]++;
        }
    }

    /// @dev An orchestrator moves its bond to another one (possible once a slash unregistered it):
    ///      refused while a claim against it is open.
    function redelegate(uint256 oSeed, uint256 toSeed) external {
        uint256 i = oSeed % orchestrators.length;
        address o = orchestrators[i];
        address to = orchestrators[(i + 1 + toSeed % (orchestrators.length - 1)) % orchestrators.length];
        bool accused = claims.record(o).open > 0 && staking.pendingStake(o) > 0;
        vm.prank(o);
        try staking.bond(0, to) {
            if (accused) escapedWhileFrozen = true;
            calls["redelegate"]++;
        } catch {
            calls["redelegate refused"]++;
        }
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 2 days));
        calls["warp"]++;
    }

    /// @dev Either m1..m3 with quorum 2 or m2..m5 with quorum 3.
    function setCommittee(bool large) external {
        address[] memory members = new address[](large ? 4 : 3);
        for (uint256 i; i < members.length; ++i) {
            members[i] = voters[large ? i + 1 : i];
        }
        vm.prank(owner);
        claims.setCommittee(members, large ? 3 : 2);
        calls["setCommittee"]++;
    }

    function setParameters(uint128 bond, uint64 period, uint32 slashPpm, uint32 finderFeePpm) external {
        IFaultClaims.Parameters memory p = IFaultClaims.Parameters({
            bond: uint128(bound(bond, 1, 20 ether)),
            votingPeriod: uint64(bound(period, 1 hours, 3 days)),
            slashPpm: uint32(bound(slashPpm, 0, 1_000_000)),
            finderFeePpm: uint32(bound(finderFeePpm, 0, 1_000_000))
        });
        vm.prank(owner);
        claims.setParameters(p);
        calls["setParameters"]++;
    }

    /* INTERNAL */

    function _id(uint256 seed) internal view returns (uint256) {
        uint256 count = claims.claimCount();
        return count == 0 ? 1 : 1 + seed % count;
    }

    /// @dev Counts the ClaimResolved events of one call into the ghosts.
    function _record(Vm.Log[] memory logs) internal returns (bool resolved, uint256 penalty, uint256 finderFee) {
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(claims) || logs[i].topics[0] != IFaultClaims.ClaimResolved.selector) {
                continue;
            }
            uint256 id = uint256(logs[i].topics[1]);
            IFaultClaims.ClaimStatus status;
            (status, penalty, finderFee) = abi.decode(logs[i].data, (IFaultClaims.ClaimStatus, uint256, uint256));
            if (++resolutions[id] > 1) resolvedTwice = true;
            finalStatus[id] = status;
            burned += penalty - finderFee;
            resolved = true;
        }
    }

    function _result(address o, address b, uint256 seq)
        internal
        pure
        returns (SegmentResultHash.SegmentResult memory r)
    {
        r = twoRenditionResult(o, b, seq);
    }
}
