// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {SegmentResultHash} from "../../contracts/libraries/SegmentResultHash.sol";

/// @notice Checks test/vectors/segment_results.json (written by the Rust agents'
///         `segment_result_vectors` example) against SegmentResultHash: type hashes, domain
///         separator, struct hashes, digest, the deterministic signature and its recovery.
contract SegmentResultVectorsTest is Test {
    string internal constant VECTORS_PATH = "test/vectors/segment_results.json";
    string internal json;
    uint256 internal count;
    uint256 internal chainId;
    address internal staking;

    function setUp() public {
        json = vm.readFile(VECTORS_PATH);
        while (vm.keyExistsJson(json, _p(count, ""))) {
            ++count;
        }
        chainId = vm.parseJsonUint(json, ".eip712.domain.chainId");
        staking = vm.parseJsonAddress(json, ".eip712.domain.verifyingContract");
    }

    function _p(uint256 i, string memory field) internal pure returns (string memory) {
        return string.concat(".vectors[", vm.toString(i), "]", field);
    }

    function _resultOf(uint256 i) internal view returns (SegmentResultHash.SegmentResult memory r) {
        r.orchestrator = vm.parseJsonAddress(json, _p(i, ".result.orchestrator"));
        r.broadcaster = vm.parseJsonAddress(json, _p(i, ".result.broadcaster"));
        r.streamHash = vm.parseJsonBytes32(json, _p(i, ".result.streamHash"));
        r.seq = vm.parseJsonUint(json, _p(i, ".result.seq"));
        r.inputHash = vm.parseJsonBytes32(json, _p(i, ".result.inputHash"));
        uint256 n;
        while (vm.keyExistsJson(json, _p(i, string.concat(".result.renditionHashes[", vm.toString(n), "]")))) {
            ++n;
        }
        r.profiles = new SegmentResultHash.Profile[](n);
        r.renditionHashes = new bytes32[](n);
        for (uint256 j; j < n; ++j) {
            string memory base = string.concat(".result.profiles[", vm.toString(j), "]");
            r.profiles[j].name = vm.parseJsonString(json, _p(i, string.concat(base, ".name")));
            r.profiles[j].width = uint32(vm.parseJsonUint(json, _p(i, string.concat(base, ".width"))));
            r.profiles[j].height = uint32(vm.parseJsonUint(json, _p(i, string.concat(base, ".height"))));
            r.profiles[j].bitrateKbps = uint32(vm.parseJsonUint(json, _p(i, string.concat(base, ".bitrateKbps"))));
            r.profiles[j].codec = vm.parseJsonString(json, _p(i, string.concat(base, ".codec")));
            r.renditionHashes[j] =
                vm.parseJsonBytes32(json, _p(i, string.concat(".result.renditionHashes[", vm.toString(j), "]")));
        }
    }

    function test_SegmentResultVectors_TypeHashesAndDomain() public view {
        assertEq(vm.parseJsonString(json, ".format"), "peerflow-segment-result-vectors/1");
        assertEq(
            keccak256(bytes(vm.parseJsonString(json, ".eip712.segmentResultType"))),
            SegmentResultHash.SEGMENT_RESULT_TYPEHASH
        );
        assertEq(vm.parseJsonBytes32(json, ".eip712.segmentResultTypeHash"), SegmentResultHash.SEGMENT_RESULT_TYPEHASH);
        assertEq(vm.parseJsonBytes32(json, ".eip712.profileTypeHash"), SegmentResultHash.PROFILE_TYPEHASH);
        assertEq(vm.parseJsonBytes32(json, ".eip712.domainTypeHash"), SegmentResultHash.DOMAIN_TYPEHASH);
        assertEq(vm.parseJsonString(json, ".eip712.domain.name"), "peerflow SegmentResult");
        assertEq(vm.parseJsonString(json, ".eip712.domain.version"), "1");
        assertEq(
            vm.parseJsonBytes32(json, ".eip712.domainSeparator"), SegmentResultHash.domainSeparator(chainId, staking)
        );
    }

    function test_SegmentResultVectors_EveryVectorHashesSignsAndRecovers() public view {
        assertGe(count, 3);
        for (uint256 i; i < count; ++i) {
            SegmentResultHash.SegmentResult memory r = _resultOf(i);
            assertEq(r.streamHash, keccak256(bytes(vm.parseJsonString(json, _p(i, ".stream")))), "stream hash");
            assertEq(r.inputHash, keccak256(vm.parseJsonBytes(json, _p(i, ".input"))), "input hash");
            for (uint256 j; j < r.profiles.length; ++j) {
                assertEq(
                    SegmentResultHash.hashProfile(r.profiles[j]),
                    vm.parseJsonBytes32(json, _p(i, string.concat(".profileHashes[", vm.toString(j), "]"))),
                    "profile hash"
                );
                assertEq(
                    r.renditionHashes[j],
                    keccak256(vm.parseJsonBytes(json, _p(i, string.concat(".renditions[", vm.toString(j), "]")))),
                    "rendition hash"
                );
            }
            assertEq(SegmentResultHash.hashResult(r), vm.parseJsonBytes32(json, _p(i, ".structHash")), "struct hash");
            bytes32 digest = SegmentResultHash.digest(r, chainId, staking);
            assertEq(digest, vm.parseJsonBytes32(json, _p(i, ".digest")), "digest");

            uint256 key = vm.parseJsonUint(json, _p(i, ".privateKey"));
            assertEq(vm.addr(key), r.orchestrator, "orchestrator key");
            (uint8 v, bytes32 sr, bytes32 ss) = vm.sign(key, digest);
            assertEq(sr, vm.parseJsonBytes32(json, _p(i, ".signature.r")), "r");
            assertEq(ss, vm.parseJsonBytes32(json, _p(i, ".signature.s")), "s");
            assertEq(v, vm.parseJsonUint(json, _p(i, ".signature.v")), "v");
            bytes memory signature = vm.parseJsonBytes(json, _p(i, ".signature.bytes"));
            assertEq(signature, abi.encodePacked(sr, ss, v), "65-byte form");
            assertEq(SegmentResultHash.recover(r, chainId, staking, signature), r.orchestrator, "recovery");
        }
    }
}
