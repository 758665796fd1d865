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
///         parameters under open claims, governance rotating Staking's verifier away and back, and
///         the accused trying to unbond or re-delegate its stake. Ghosts come from the events of
///         successful calls.
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
    uint256 public penalties; // Σ penalty of upheld claims
    uint256 public feesPaid; // Σ finderFee of upheld claims (from Staking or from a pot)
    uint256 public feesBurned; // Σ FinderFeeBurned
    mapping(address orchestrator => uint256) public strandedFreezes; // Σ FreezeNotReleased
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
        (bool resolved,, uint256 finderFee, uint256 burnedNow) = _record(vm.getRecordedLogs());
        if (!resolved) return;
        // Exactly what Staking burned plus what a forfeit burned from a pot.
        if (supplyBefore - token.totalSupply() != burnedNow) penaltyMismatch = true;
        uint256 paid = token.balanceOf(c.claimant) - claimantBefore;
        IFaultClaims.ClaimStatus status = claims.claim(id).status;
        uint256 bondBack = status == IFaultClaims.ClaimStatus.Upheld ? c.bond : 0;
        if (paid != finderFee + bondBack) penaltyMismatch = true;
    }

    function expire(uint256 idSeed) external {
        uint256 id = _id(idSeed);
        IFaultClaims.Claim memory c = claims.claim(id);
        uint256 claimantBefore = token.balanceOf(c.claimant);
        uint256 accusedBefore = token.balanceOf(c.orchestrator);
        vm.recordLogs();
        claims.expire(id);
        calls["expire"]++;
        _record(vm.getRecordedLogs());
        uint256 kept = uint256(c.bond) * claims.EXPIRY_KEEP_PPM() / 1_000_000;
        if (token.balanceOf(c.claimant) - claimantBefore != c.bond - kept) penaltyMismatch = true;
        if (token.balanceOf(c.orchestrator) - accusedBefore != kept) penaltyMismatch = true;
    }

    /// @dev Governance points Staking's verifier elsewhere, or back at FaultClaims.
    function rotateVerifier(bool away) external {
        vm.prank(owner);
        staking.setVerifier(away ? address(0xDEAD) : address(claims));
        calls[away ? bytes32("verifier away") : bytes32("verifier back")]++;
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

    /// @dev Counts the ClaimResolved, FinderFeeHeld, FinderFeeBurned and FreezeNotReleased events of
    ///      one call into the ghosts; `burnedNow` is the most the supply may have dropped by.
    function _record(Vm.Log[] memory logs)
        internal
        returns (bool resolved, uint256 penalty, uint256 finderFee, uint256 burnedNow)
    {
        uint256 held;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(claims)) continue;
            bytes32 topic = logs[i].topics[0];
            if (topic == IFaultClaims.FinderFeeHeld.selector) {
                (held,) = abi.decode(logs[i].data, (uint256, uint256));
            } else if (topic == IFaultClaims.FinderFeeBurned.selector) {
                uint256 amount = abi.decode(logs[i].data, (uint256));
                feesBurned += amount;
                burnedNow += amount;
            } else if (topic == IFaultClaims.FreezeNotReleased.selector) {
                strandedFreezes[address(uint160(uint256(logs[i].topics[2])))]++;
            } else if (topic == IFaultClaims.ClaimResolved.selector) {
                uint256 id = uint256(logs[i].topics[1]);
                IFaultClaims.ClaimStatus status;
                (status, penalty, finderFee) = abi.decode(logs[i].data, (IFaultClaims.ClaimStatus, uint256, uint256));
                if (++resolutions[id] > 1) resolvedTwice = true;
                finalStatus[id] = status;
                penalties += penalty;
                feesPaid += finderFee;
                resolved = true;
            }
        }
        // Staking burned the penalty less the fee it paid out (to the claimant, or here as a pot).
        if (penalty > 0) burnedNow += penalty - (held > 0 ? held : finderFee);
    }

    function _result(address o, address b, uint256 seq)
        internal
        pure
        returns (SegmentResultHash.SegmentResult memory r)
    {
        r = twoRenditionResult(o, b, seq);
    }
}
