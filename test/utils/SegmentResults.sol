// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {SegmentResultHash} from "../../contracts/libraries/SegmentResultHash.sol";

/// @notice A two-rendition (360p and 240p H.264) result of segment `seq` from orchestrator `o` to
///         broadcaster `b`, with hashes that differ per `seq`: the result the FaultClaims tests,
///         fuzz handler and gas bench sign and claim.
function twoRenditionResult(address o, address b, uint256 seq)
    pure
    returns (SegmentResultHash.SegmentResult memory r)
{
    r.orchestrator = o;
    r.broadcaster = b;
    r.streamHash = keccak256("test");
    r.seq = seq;
    r.inputHash = keccak256(abi.encode("segment", seq));
    r.profiles = new SegmentResultHash.Profile[](2);
    r.profiles[0] = SegmentResultHash.Profile("360p", 640, 360, 800, "h264");
    r.profiles[1] = SegmentResultHash.Profile("240p", 426, 240, 400, "h264");
    r.renditionHashes = new bytes32[](2);
    r.renditionHashes[0] = keccak256(abi.encode("360p", seq));
    r.renditionHashes[1] = keccak256(abi.encode("240p", seq));
}
