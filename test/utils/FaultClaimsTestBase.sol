// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "./Fixture.sol";
import {IFaultClaims} from "../../contracts/interfaces/IFaultClaims.sol";
import {SegmentResultHash} from "../../contracts/libraries/SegmentResultHash.sol";
import {twoRenditionResult} from "./SegmentResults.sol";

/// @notice The deployed suite with FaultClaims as Staking's verifier (as deployed) and a committee of
///         three with quorum 2, plus helpers to build, sign and claim segment results.
/// @dev Deployment parameters: bond 10, voting period 1 day, slash 25% of own stake, finder fee 50%.
abstract contract FaultClaimsTestBase is Fixture {
    uint256 internal constant PPM = 1_000_000;
    uint256 internal constant BOND = 10 ether;
    uint256 internal constant VOTING_PERIOD = 1 days;
    uint8 internal constant WRONG_RESOLUTION = 3;

    address internal m1 = makeAddr("member1");
    address internal m2 = makeAddr("member2");
    address internal m3 = makeAddr("member3");
    address internal bcast;
    mapping(address orchestrator => uint256 key) internal keyOf;

    function setUp() public virtual override {
        super.setUp();
        // The Fixture points Staking's verifier at a plain account for the Staking tests: undo that.
        vm.prank(governance());
        staking.setVerifier(address(faultClaims));
        vm.prank(governance());
        faultClaims.setCommittee(members3(m1, m2, m3), 2);
        bcast = newBroadcaster("broadcaster");
    }

    function members3(address a, address b, address c) internal pure returns (address[] memory m) {
        m = new address[](3);
        (m[0], m[1], m[2]) = (a, b, c);
    }

    /// @dev A registered orchestrator with `stake` self-bonded whose key signs results.
    function newSigner(string memory name, uint256 stake) internal returns (address o) {
        uint256 key;
        (o, key) = makeAddrAndKey(name);
        keyOf[o] = key;
        bondAs(o, stake, o);
        vm.prank(o);
        staking.registerOrchestrator(100_000, 500_000);
    }

    /// @dev An account holding tokens for a few bonds, with the claims contract approved.
    function newBroadcaster(string memory name) internal returns (address b) {
        b = makeAddr(name);
        give(b, 100 * BOND);
        vm.prank(b);
        token.approve(address(faultClaims), type(uint256).max);
    }

    /// @dev A two-rendition result of segment `seq` from `o` to `b`.
    function result(address o, address b, uint256 seq)
        internal
        pure
        returns (SegmentResultHash.SegmentResult memory r)
    {
        r = twoRenditionResult(o, b, seq);
    }

    function digestOf(SegmentResultHash.SegmentResult memory r) internal view returns (bytes32) {
        return SegmentResultHash.digest(r, block.chainid, address(staking));
    }

    function signWith(uint256 key, SegmentResultHash.SegmentResult memory r) internal view returns (bytes memory) {
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(key, digestOf(r));
        return abi.encodePacked(rr, s, v);
    }

    /// @dev Files a claim as `r.broadcaster` on rendition 1, signed by the orchestrator's key.
    function file(SegmentResultHash.SegmentResult memory r) internal returns (uint256 id) {
        bytes memory sig = signWith(keyOf[r.orchestrator], r);
        vm.prank(r.broadcaster);
        id = faultClaims.fileClaim(r, sig, 1, WRONG_RESOLUTION, keccak256("evidence"), "ipfs://evidence");
    }

    function castVote(address member, uint256 id, bool uphold) internal {
        vm.prank(member);
        faultClaims.vote(id, uphold);
    }

    function statusOf(uint256 id) internal view returns (IFaultClaims.ClaimStatus) {
        return faultClaims.claim(id).status;
    }
}
