// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

/// @title SegmentResultHash
/// @notice The EIP-712 digest of an orchestrator's signed segment result (what it was given, what
///         it was asked for and what it answered), and the recovery of its signer: the on-chain
///         half of `agents/protocol/src/result.rs`, so that a fault claim can check a result the
///         orchestrator signed off-chain. The domain is `{name: "peerflow SegmentResult",
///         version: "1", chainId, verifyingContract: Staking}`.
library SegmentResultHash {
    /// @notice One rendition as asked for.
    struct Profile {
        string name;
        uint32 width;
        uint32 height;
        uint32 bitrateKbps;
        string codec;
    }

    /// @notice What an orchestrator signs for one segment. `streamHash` is keccak256 of the stream
    ///         id, `inputHash` of the segment, `renditionHashes[i]` of the rendition of
    ///         `profiles[i]`.
    struct SegmentResult {
        address orchestrator;
        address broadcaster;
        bytes32 streamHash;
        uint256 seq;
        bytes32 inputHash;
        Profile[] profiles;
        bytes32[] renditionHashes;
    }

    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant NAME_HASH = keccak256("peerflow SegmentResult");
    bytes32 internal constant VERSION_HASH = keccak256("1");
    bytes32 internal constant PROFILE_TYPEHASH =
        keccak256("Profile(string name,uint32 width,uint32 height,uint32 bitrateKbps,string codec)");
    bytes32 internal constant SEGMENT_RESULT_TYPEHASH = keccak256(
        "SegmentResult(address orchestrator,address broadcaster,bytes32 streamHash,uint256 seq,bytes32 inputHash,Profile[] profiles,bytes32[] renditionHashes)Profile(string name,uint32 width,uint32 height,uint32 bitrateKbps,string codec)"
    );

    /// @notice The domain separator for `verifyingContract` (the Staking contract) on `chainId`.
    function domainSeparator(uint256 chainId, address verifyingContract) internal pure returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, chainId, verifyingContract));
    }

    /// @notice `hashStruct(Profile)`: dynamic strings are hashed.
    function hashProfile(Profile memory p) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                PROFILE_TYPEHASH, keccak256(bytes(p.name)), p.width, p.height, p.bitrateKbps, keccak256(bytes(p.codec))
            )
        );
    }

    /// @notice `hashStruct(SegmentResult)`: `Profile[]` is the keccak256 of its members' struct
    ///         hashes, `bytes32[]` the keccak256 of its packed words.
    function hashResult(SegmentResult memory r) internal pure returns (bytes32) {
        bytes32[] memory profileHashes = new bytes32[](r.profiles.length);
        for (uint256 i = 0; i < r.profiles.length; ++i) {
            profileHashes[i] = hashProfile(r.profiles[i]);
        }
        return keccak256(
            abi.encode(
                SEGMENT_RESULT_TYPEHASH,
                r.orchestrator,
                r.broadcaster,
                r.streamHash,
                r.seq,
                r.inputHash,
                keccak256(abi.encodePacked(profileHashes)),
                keccak256(abi.encodePacked(r.renditionHashes))
            )
        );
    }

    /// @notice The EIP-712 digest the orchestrator signs.
    function digest(SegmentResult memory r, uint256 chainId, address verifyingContract)
        internal
        pure
        returns (bytes32)
    {
        return MessageHashUtils.toTypedDataHash(domainSeparator(chainId, verifyingContract), hashResult(r));
    }

    /// @notice The signer of `signature` (65 bytes `r ‖ s ‖ v`, low `s`) over `r`'s digest; reverts
    ///         on a malformed or malleable signature.
    function recover(SegmentResult memory r, uint256 chainId, address verifyingContract, bytes memory signature)
        internal
        pure
        returns (address)
    {
        return ECDSA.recover(digest(r, chainId, verifyingContract), signature);
    }
}
