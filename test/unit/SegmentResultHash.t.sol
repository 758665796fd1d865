// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {SegmentResultHash} from "../../contracts/libraries/SegmentResultHash.sol";

/// @notice External entry points, so reverts of the library can be expected.
contract SegmentResultHashHarness {
    function recover(SegmentResultHash.SegmentResult memory r, uint256 chainId, address staking, bytes memory signature)
        external
        pure
        returns (address)
    {
        return SegmentResultHash.recover(r, chainId, staking, signature);
    }
}

contract SegmentResultHashTest is Test {
    uint256 internal constant ORCHESTRATOR_KEY = 0xA11CE;
    address internal constant STAKING = address(0x5A4E);
    SegmentResultHashHarness internal harness = new SegmentResultHashHarness();

    function _result() internal view returns (SegmentResultHash.SegmentResult memory r) {
        r.orchestrator = vm.addr(ORCHESTRATOR_KEY);
        r.broadcaster = address(0xB0B);
        r.streamHash = keccak256("demo");
        r.seq = 7;
        r.inputHash = keccak256("segment");
        r.profiles = new SegmentResultHash.Profile[](2);
        r.profiles[0] = SegmentResultHash.Profile("360p", 640, 360, 800, "h264");
        r.profiles[1] = SegmentResultHash.Profile("240p", 426, 240, 400, "h264");
        r.renditionHashes = new bytes32[](2);
        r.renditionHashes[0] = keccak256("360p bytes");
        r.renditionHashes[1] = keccak256("240p bytes");
    }

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function test_Recover_ValidSignatureRecoversTheOrchestrator() public view {
        SegmentResultHash.SegmentResult memory r = _result();
        bytes memory sig = _sign(ORCHESTRATOR_KEY, SegmentResultHash.digest(r, block.chainid, STAKING));
        assertEq(SegmentResultHash.recover(r, block.chainid, STAKING, sig), r.orchestrator);
        assertNotEq(
            SegmentResultHash.recover(
                r, block.chainid, STAKING, _sign(0xB0B, SegmentResultHash.digest(r, block.chainid, STAKING))
            ),
            r.orchestrator
        );
    }

    function test_Digest_ChangesWithEverySignedField() public view {
        bytes32 base = SegmentResultHash.digest(_result(), block.chainid, STAKING);
        SegmentResultHash.SegmentResult memory r = _result();
        r.renditionHashes[1] = keccak256("tampered");
        assertNotEq(SegmentResultHash.digest(r, block.chainid, STAKING), base, "rendition hash");
        r = _result();
        r.profiles[0].bitrateKbps = 801;
        assertNotEq(SegmentResultHash.digest(r, block.chainid, STAKING), base, "profile bitrate");
        r = _result();
        r.profiles[1].codec = "av1-svt";
        assertNotEq(SegmentResultHash.digest(r, block.chainid, STAKING), base, "profile codec");
        r = _result();
        (r.profiles[0], r.profiles[1]) = (r.profiles[1], r.profiles[0]);
        assertNotEq(SegmentResultHash.digest(r, block.chainid, STAKING), base, "profile order");
        r = _result();
        r.seq = 8;
        assertNotEq(SegmentResultHash.digest(r, block.chainid, STAKING), base, "seq");
        r = _result();
        r.inputHash = keccak256("other segment");
        assertNotEq(SegmentResultHash.digest(r, block.chainid, STAKING), base, "input");
        assertNotEq(SegmentResultHash.digest(_result(), block.chainid + 1, STAKING), base, "chain");
        assertNotEq(SegmentResultHash.digest(_result(), block.chainid, address(0xBAD)), base, "staking");
    }

    function test_Recover_ASignatureOverAChangedResultRecoversSomeoneElse() public view {
        SegmentResultHash.SegmentResult memory r = _result();
        bytes memory sig = _sign(ORCHESTRATOR_KEY, SegmentResultHash.digest(r, block.chainid, STAKING));
        r.renditionHashes[0] = keccak256("tampered");
        assertNotEq(SegmentResultHash.recover(r, block.chainid, STAKING, sig), r.orchestrator);
    }

    function test_Recover_RevertsOnMalformedOrMalleableSignatures() public {
        SegmentResultHash.SegmentResult memory r = _result();
        bytes32 digest = SegmentResultHash.digest(r, block.chainid, STAKING);
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(ORCHESTRATOR_KEY, digest);
        vm.expectRevert();
        harness.recover(r, block.chainid, STAKING, abi.encodePacked(rr, s));
        bytes32 highS = bytes32(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 - uint256(s));
        vm.expectRevert();
        harness.recover(r, block.chainid, STAKING, abi.encodePacked(rr, highS, v == 27 ? uint8(28) : uint8(27)));
    }

    function testFuzz_Digest_MatchesTheTypedDataDefinition(uint256 seq, bytes32 rendition) public view {
        SegmentResultHash.SegmentResult memory r = _result();
        r.seq = seq;
        r.renditionHashes[0] = rendition;
        bytes32 p0 = keccak256(
            abi.encode(
                SegmentResultHash.PROFILE_TYPEHASH,
                keccak256("360p"),
                uint32(640),
                uint32(360),
                uint32(800),
                keccak256("h264")
            )
        );
        bytes32 p1 = keccak256(
            abi.encode(
                SegmentResultHash.PROFILE_TYPEHASH,
                keccak256("240p"),
                uint32(426),
                uint32(240),
                uint32(400),
                keccak256("h264")
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                SegmentResultHash.SEGMENT_RESULT_TYPEHASH,
                r.orchestrator,
                r.broadcaster,
                r.streamHash,
                seq,
                r.inputHash,
                keccak256(abi.encodePacked(p0, p1)),
                keccak256(abi.encodePacked(rendition, r.renditionHashes[1]))
            )
        );
        bytes32 expected = keccak256(
            abi.encodePacked(hex"1901", SegmentResultHash.domainSeparator(block.chainid, STAKING), structHash)
        );
        assertEq(SegmentResultHash.digest(r, block.chainid, STAKING), expected);
    }
}
