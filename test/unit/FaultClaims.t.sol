// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {FaultClaimsTestBase} from "../utils/FaultClaimsTestBase.sol";
import {FaultClaims} from "../../contracts/FaultClaims.sol";
import {IFaultClaims} from "../../contracts/interfaces/IFaultClaims.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";
import {SegmentResultHash} from "../../contracts/libraries/SegmentResultHash.sol";
import {SuiteDeployer} from "../../script/SuiteDeployer.sol";

/// @notice FaultClaims: filing (every refusal), committee votes and their money flows, expiry, the
///         reputation record and governance.
/// @dev Setup: o self-bonds 100 and d delegates 100 to it; committee m1, m2, m3 with quorum 2. An
///      upheld claim slashes 25 of o's own 100, pays 12.5 to the claimant and burns 12.5.
contract FaultClaimsTest is FaultClaimsTestBase {
    address internal o;
    address internal d = makeAddr("d");

    function setUp() public override {
        super.setUp();
        o = newSigner("o", 100 ether);
        bondAs(d, 100 ether, o);
    }

    /// @dev The result claimed in most tests: segment 1 from o to the broadcaster.
    function first() internal view returns (SegmentResultHash.SegmentResult memory) {
        return result(o, bcast, 1);
    }

    /* FILING */

    function test_FileClaim_StoresTheClaimAndPullsTheBond() public {
        bytes32 digest = digestOf(first());
        uint256 deadline = block.timestamp + VOTING_PERIOD;
        bytes memory sig = signWith(keyOf[o], first());
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.ClaimFiled(1, o, bcast, digest, 1, 7, keccak256("report"), "ipfs://report", deadline);
        vm.prank(bcast);
        uint256 id = faultClaims.fileClaim(first(), sig, 1, 7, keccak256("report"), "ipfs://report");

        assertEq(id, 1);
        assertEq(faultClaims.claimCount(), 1);
        assertEq(faultClaims.claimOfResult(digest), 1);
        IFaultClaims.Claim memory c = faultClaims.claim(1);
        assertEq(c.resultDigest, digest);
        assertEq(c.orchestrator, o);
        assertEq(c.claimant, bcast);
        assertEq(c.rendition, 1);
        assertEq(c.fault, 7);
        assertEq(c.evidenceHash, keccak256("report"));
        assertEq(c.bond, BOND);
        assertEq(c.deadline, deadline);
        assertEq(c.quorum, 2);
        assertEq(c.slashPpm, 250_000);
        assertEq(c.finderFeePpm, 500_000);
        assertEq(c.episode, 1, "the first finder's-fee episode of o");
        assertEq(c.votesFor, 0);
        assertEq(c.votesAgainst, 0);
        assertEq(uint8(c.status), uint8(IFaultClaims.ClaimStatus.Open));
        assertEq(token.balanceOf(address(faultClaims)), BOND);
        assertEq(token.balanceOf(bcast), 99 * BOND);
        assertEq(faultClaims.record(o).open, 1);
    }

    function test_FileClaim_IdsCountUp() public {
        assertEq(file(first()), 1);
        assertEq(file(result(o, bcast, 2)), 2);
        assertEq(faultClaims.claimCount(), 2);
        assertEq(faultClaims.record(o).open, 2);
    }

    function test_FileClaim_EveryFaultCodeIsKnown() public {
        for (uint8 fault = 1; fault <= 10; ++fault) {
            SegmentResultHash.SegmentResult memory r = result(o, bcast, 100 + fault);
            bytes memory sig = signWith(keyOf[o], r);
            vm.prank(bcast);
            faultClaims.fileClaim(r, sig, 0, fault, bytes32(0), "");
            assertEq(faultClaims.claim(fault).fault, fault);
        }
    }

    function test_ResultDigest_IsTheLibraryDigestUnderStaking() public view {
        assertEq(faultClaims.resultDigest(first()), SegmentResultHash.digest(first(), block.chainid, address(staking)));
    }

    function test_RevertWhen_FileClaimWithMalformedSignature() public {
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(keyOf[o], digestOf(first()));
        vm.startPrank(bcast);
        vm.expectRevert(IFaultClaims.InvalidSignature.selector);
        faultClaims.fileClaim(first(), abi.encodePacked(rr, s), 1, 3, bytes32(0), "");
        vm.expectRevert(IFaultClaims.InvalidSignature.selector);
        faultClaims.fileClaim(first(), abi.encodePacked(rr, s, v, uint8(0)), 1, 3, bytes32(0), "");
        vm.expectRevert(IFaultClaims.InvalidSignature.selector);
        faultClaims.fileClaim(first(), abi.encodePacked(rr, s, uint8(29)), 1, 3, bytes32(0), "");
        // The malleable twin (n - s, flipped v) recovers the same key and is still refused.
        bytes32 highS = bytes32(SECP256K1_N - uint256(s));
        vm.expectRevert(IFaultClaims.InvalidSignature.selector);
        faultClaims.fileClaim(
            first(), abi.encodePacked(rr, highS, v == 27 ? uint8(28) : uint8(27)), 1, 3, bytes32(0), ""
        );
        // EIP-2098 compact form (64 bytes) is refused too.
        bytes32 vs = bytes32(uint256(v - 27) << 255 | uint256(s));
        vm.expectRevert(IFaultClaims.InvalidSignature.selector);
        faultClaims.fileClaim(first(), abi.encodePacked(rr, vs), 1, 3, bytes32(0), "");
        vm.stopPrank();
    }

    function test_RevertWhen_FileClaimSignedByAnotherKey() public {
        (address mallory, uint256 malloryKey) = makeAddrAndKey("mallory");
        bytes memory sig = signWith(malloryKey, first());
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.NotSignedByOrchestrator.selector, mallory, o));
        vm.prank(bcast);
        faultClaims.fileClaim(first(), sig, 1, 3, bytes32(0), "");
    }

    function test_RevertWhen_FileClaimOnAResultOtherThanTheSignedOne() public {
        bytes memory sig = signWith(keyOf[o], first());
        SegmentResultHash.SegmentResult memory tampered = result(o, bcast, 1);
        tampered.renditionHashes[1] = keccak256("what the claimant wishes it had received");
        vm.expectPartialRevert(IFaultClaims.NotSignedByOrchestrator.selector);
        vm.prank(bcast);
        faultClaims.fileClaim(tampered, sig, 1, 3, bytes32(0), "");
    }

    function test_RevertWhen_FileClaimSignedForAnotherDomain() public {
        bytes32 foreign = SegmentResultHash.digest(first(), block.chainid, address(0xBAD));
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(keyOf[o], foreign);
        vm.expectPartialRevert(IFaultClaims.NotSignedByOrchestrator.selector);
        vm.prank(bcast);
        faultClaims.fileClaim(first(), abi.encodePacked(rr, s, v), 1, 3, bytes32(0), "");
    }

    function test_RevertWhen_FileClaimNotByTheBroadcaster() public {
        address finder = newBroadcaster("front-runner");
        bytes memory sig = signWith(keyOf[o], first());
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.NotBroadcaster.selector, finder, bcast));
        vm.prank(finder);
        faultClaims.fileClaim(first(), sig, 1, 3, bytes32(0), "");
    }

    function test_RevertWhen_FileClaimRenditionOutOfRange() public {
        bytes memory sig = signWith(keyOf[o], first());
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.RenditionOutOfRange.selector, 2, 2));
        vm.prank(bcast);
        faultClaims.fileClaim(first(), sig, 2, 3, bytes32(0), "");
    }

    function test_RevertWhen_FileClaimProfilesAndRenditionsDiffer() public {
        SegmentResultHash.SegmentResult memory r = result(o, bcast, 1);
        r.renditionHashes = new bytes32[](1);
        bytes memory sig = signWith(keyOf[o], r);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.RenditionCountMismatch.selector, 2, 1));
        vm.prank(bcast);
        faultClaims.fileClaim(r, sig, 0, 3, bytes32(0), "");
    }

    function test_RevertWhen_FileClaimUnknownFault() public {
        bytes memory sig = signWith(keyOf[o], first());
        vm.startPrank(bcast);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.UnknownFault.selector, 0));
        faultClaims.fileClaim(first(), sig, 1, 0, bytes32(0), "");
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.UnknownFault.selector, 11));
        faultClaims.fileClaim(first(), sig, 1, 11, bytes32(0), "");
        vm.stopPrank();
    }

    function test_RevertWhen_FileClaimTwiceOnOneResult() public {
        file(first());
        bytes memory sig = signWith(keyOf[o], first());
        // Another rendition or fault of the same result is still the same result.
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.AlreadyClaimed.selector, digestOf(first()), 1));
        vm.prank(bcast);
        faultClaims.fileClaim(first(), sig, 0, 1, bytes32(0), "");
    }

    function test_RevertWhen_FileClaimTwiceEvenAfterResolution() public {
        uint256 id = file(first());
        castVote(m1, id, false);
        castVote(m2, id, false);
        bytes memory sig = signWith(keyOf[o], first());
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.AlreadyClaimed.selector, digestOf(first()), id));
        vm.prank(bcast);
        faultClaims.fileClaim(first(), sig, 1, 3, bytes32(0), "");
    }

    function test_RevertWhen_FileClaimAgainstUnregisteredOrchestrator() public {
        (address stranger, uint256 strangerKey) = makeAddrAndKey("stranger");
        SegmentResultHash.SegmentResult memory r = result(stranger, bcast, 1);
        bytes memory sig = signWith(strangerKey, r);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.NotRegistered.selector, stranger));
        vm.prank(bcast);
        faultClaims.fileClaim(r, sig, 1, 3, bytes32(0), "");
    }

    function test_RevertWhen_FileClaimAgainstSlashedOrchestrator() public {
        uint256 id = file(first());
        castVote(m1, id, true);
        castVote(m2, id, true);
        SegmentResultHash.SegmentResult memory r2 = result(o, bcast, 2);
        bytes memory sig = signWith(keyOf[o], r2);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.NotRegistered.selector, o));
        vm.prank(bcast);
        faultClaims.fileClaim(r2, sig, 1, 3, bytes32(0), "");
    }

    function test_RevertWhen_FileClaimBondNotApproved() public {
        address b = makeAddr("unapproved");
        give(b, BOND);
        SegmentResultHash.SegmentResult memory r = result(o, b, 1);
        bytes memory sig = signWith(keyOf[o], r);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(faultClaims), 0, BOND)
        );
        vm.prank(b);
        faultClaims.fileClaim(r, sig, 1, 3, bytes32(0), "");
    }

    function test_RevertWhen_FileClaimBondNotHeld() public {
        address b = makeAddr("penniless");
        vm.prank(b);
        token.approve(address(faultClaims), BOND);
        SegmentResultHash.SegmentResult memory r = result(o, b, 1);
        bytes memory sig = signWith(keyOf[o], r);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, b, 0, BOND));
        vm.prank(b);
        faultClaims.fileClaim(r, sig, 1, 3, bytes32(0), "");
    }

    /* VOTING: UPHELD */

    function test_Vote_QuorumForSlashesPaysTheFinderAndReturnsTheBond() public {
        uint256 id = file(first());
        uint256 supply = token.totalSupply();
        uint256 held = token.balanceOf(address(staking));
        uint256 claimantBefore = token.balanceOf(bcast);

        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.Voted(id, m1, true, 1, 0);
        castVote(m1, id, true);
        assertEq(uint8(statusOf(id)), uint8(IFaultClaims.ClaimStatus.Open));

        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.Voted(id, m2, true, 2, 0);
        vm.expectEmit(address(staking));
        emit IStaking.Slashed(o, bcast, 25 ether, 12.5 ether);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.ClaimResolved(id, IFaultClaims.ClaimStatus.Upheld, 25 ether, 12.5 ether);
        castVote(m2, id, true);

        assertEq(uint8(statusOf(id)), uint8(IFaultClaims.ClaimStatus.Upheld));
        assertEq(faultClaims.claim(id).votesFor, 2);
        assertEq(staking.pendingStake(o), 75 ether, "25% of its own stake");
        assertEq(staking.pendingStake(d), 100 ether, "delegators keep theirs");
        assertEq(staking.orchestratorInfo(o).stake, 175 ether);
        assertFalse(staking.isRegistered(o));
        assertEq(token.balanceOf(bcast), claimantBefore + 12.5 ether + BOND, "finder fee and bond");
        assertEq(token.totalSupply(), supply - 12.5 ether, "the rest burned");
        assertEq(token.balanceOf(address(staking)), held - 25 ether);
        assertEq(token.balanceOf(address(faultClaims)), 0);
        IFaultClaims.Record memory rec = faultClaims.record(o);
        assertEq(rec.upheld, 1);
        assertEq(rec.open, 0);
    }

    function test_Vote_SplitVotesDecidedByTheThird() public {
        uint256 id = file(first());
        castVote(m1, id, true);
        castVote(m2, id, false);
        assertEq(uint8(statusOf(id)), uint8(IFaultClaims.ClaimStatus.Open));
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.Voted(id, m3, true, 2, 1);
        castVote(m3, id, true);
        assertEq(uint8(statusOf(id)), uint8(IFaultClaims.ClaimStatus.Upheld));
        assertEq(staking.pendingStake(o), 75 ether);
    }

    function test_Vote_SecondUpheldClaimOnASlashedOrchestratorHasNoPenalty() public {
        uint256 earlier = file(first());
        uint256 second = file(result(o, bcast, 2));
        castVote(m1, earlier, true);
        castVote(m2, earlier, true);
        uint256 supply = token.totalSupply();
        uint256 claimantBefore = token.balanceOf(bcast);

        castVote(m1, second, true);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.ClaimResolved(second, IFaultClaims.ClaimStatus.Upheld, 0, 0);
        castVote(m2, second, true);

        assertEq(uint8(statusOf(second)), uint8(IFaultClaims.ClaimStatus.Upheld));
        assertEq(token.balanceOf(bcast), claimantBefore + BOND, "only the bond back");
        assertEq(token.totalSupply(), supply);
        assertEq(staking.pendingStake(o), 75 ether);
        assertEq(faultClaims.record(o).upheld, 2);
    }

    function test_Vote_ZeroSlashRateOnlyUnregisters() public {
        vm.prank(governance());
        faultClaims.setParameters(IFaultClaims.Parameters(uint128(BOND), uint64(VOTING_PERIOD), 0, 500_000));
        uint256 id = file(first());
        castVote(m1, id, true);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.ClaimResolved(id, IFaultClaims.ClaimStatus.Upheld, 0, 0);
        castVote(m2, id, true);
        assertFalse(staking.isRegistered(o));
        assertEq(staking.pendingStake(o), 100 ether);
    }

    /* VOTING: REJECTED */

    function test_Vote_QuorumAgainstGivesTheBondToTheOrchestrator() public {
        uint256 id = file(first());
        uint256 supply = token.totalSupply();
        uint256 claimantBefore = token.balanceOf(bcast);
        castVote(m3, id, false);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.ClaimResolved(id, IFaultClaims.ClaimStatus.Rejected, 0, 0);
        castVote(m1, id, false);

        assertEq(uint8(statusOf(id)), uint8(IFaultClaims.ClaimStatus.Rejected));
        assertEq(faultClaims.claim(id).votesAgainst, 2);
        assertEq(token.balanceOf(o), BOND);
        assertEq(token.balanceOf(bcast), claimantBefore);
        assertEq(token.balanceOf(address(faultClaims)), 0);
        assertEq(token.totalSupply(), supply);
        assertTrue(staking.isRegistered(o));
        assertEq(staking.pendingStake(o), 100 ether, "stake untouched");
        IFaultClaims.Record memory rec = faultClaims.record(o);
        assertEq(rec.rejected, 1);
        assertEq(rec.open, 0);
    }

    /* VOTING: REFUSALS */

    function test_RevertWhen_VoteNotMember() public {
        uint256 id = file(first());
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.NotMember.selector, address(this)));
        faultClaims.vote(id, true);
    }

    function test_RevertWhen_VoteTwice() public {
        uint256 id = file(first());
        castVote(m1, id, true);
        assertTrue(faultClaims.hasVoted(id, m1));
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.AlreadyVoted.selector, id, m1));
        castVote(m1, id, false);
    }

    function test_RevertWhen_VoteAtOrAfterDeadline() public {
        uint256 id = file(first());
        uint256 deadline = block.timestamp + VOTING_PERIOD;
        vm.warp(deadline - 1);
        castVote(m1, id, true);
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.VotingClosed.selector, id, deadline));
        castVote(m2, id, true);
    }

    function test_RevertWhen_VoteOnUnknownClaim() public {
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.UnknownClaim.selector, 1));
        castVote(m1, 1, true);
    }

    function test_RevertWhen_VoteOnResolvedClaim() public {
        uint256 id = file(first());
        castVote(m1, id, false);
        castVote(m2, id, false);
        vm.expectRevert(
            abi.encodeWithSelector(IFaultClaims.ClaimNotOpen.selector, id, IFaultClaims.ClaimStatus.Rejected)
        );
        castVote(m3, id, true);
    }

    function test_RevertWhen_VoteByAParty() public {
        vm.prank(governance());
        faultClaims.setCommittee(members3(m1, bcast, o), 2);
        uint256 id = file(first());
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.PartyCannotVote.selector, id, bcast));
        castVote(bcast, id, true);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.PartyCannotVote.selector, id, o));
        castVote(o, id, false);
    }

    /* EXPIRY */

    function test_Expire_ReturnsTheBondAfterTheDeadline() public {
        uint256 id = file(first());
        castVote(m1, id, true);
        uint256 deadline = block.timestamp + VOTING_PERIOD;
        vm.warp(deadline - 1);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.VotingNotOver.selector, id, deadline));
        faultClaims.expire(id);

        vm.warp(deadline);
        uint256 claimantBefore = token.balanceOf(bcast);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.ClaimResolved(id, IFaultClaims.ClaimStatus.Expired, 0, 0);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.BondReleased(id, 9 ether, 1 ether);
        vm.prank(makeAddr("anyone"));
        faultClaims.expire(id);

        assertEq(uint8(statusOf(id)), uint8(IFaultClaims.ClaimStatus.Expired));
        assertEq(token.balanceOf(bcast), claimantBefore + 9 ether, "the bond less the 10% kept");
        assertEq(token.balanceOf(o), 1 ether, "paid to the accused for the freeze");
        assertEq(token.balanceOf(address(faultClaims)), 0);
        assertTrue(staking.isRegistered(o));
        assertEq(staking.pendingStake(o), 100 ether);
        IFaultClaims.Record memory rec = faultClaims.record(o);
        assertEq(rec.expired, 1);
        assertEq(rec.open, 0);
    }

    function test_RevertWhen_ExpireTwiceOrAfterDecision() public {
        uint256 id = file(first());
        vm.warp(block.timestamp + VOTING_PERIOD);
        faultClaims.expire(id);
        vm.expectRevert(
            abi.encodeWithSelector(IFaultClaims.ClaimNotOpen.selector, id, IFaultClaims.ClaimStatus.Expired)
        );
        faultClaims.expire(id);

        uint256 decided = file(result(o, bcast, 2));
        castVote(m1, decided, true);
        castVote(m2, decided, true);
        vm.warp(block.timestamp + VOTING_PERIOD);
        vm.expectRevert(
            abi.encodeWithSelector(IFaultClaims.ClaimNotOpen.selector, decided, IFaultClaims.ClaimStatus.Upheld)
        );
        faultClaims.expire(decided);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.UnknownClaim.selector, 3));
        faultClaims.expire(3);
    }

    /* FREEZE */

    function frozenError(address account) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IStaking.StakeFrozen.selector, account);
    }

    function test_FileClaim_FreezesTheAccused() public {
        vm.expectEmit(address(staking));
        emit IStaking.Frozen(o, 1);
        file(first());
        assertEq(staking.freezeCount(o), 1);
        vm.expectRevert(frozenError(o));
        vm.prank(o);
        staking.unbond(1 ether);
        vm.prank(d);
        staking.unbond(100 ether); // its delegators are not accused
    }

    function test_Vote_UpheldSlashesThePrincipalHeldAtFilingDespiteAnUnbond() public {
        uint256 id = file(first());
        castVote(m1, id, true);
        // The accused tries to pull its whole stake out before the deciding vote.
        vm.expectRevert(frozenError(o));
        vm.prank(o);
        staking.unbond(100 ether);

        vm.expectEmit(address(staking));
        emit IStaking.Slashed(o, bcast, 25 ether, 12.5 ether);
        vm.expectEmit(address(staking));
        emit IStaking.Unfrozen(o, 0);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.ClaimResolved(id, IFaultClaims.ClaimStatus.Upheld, 25 ether, 12.5 ether);
        castVote(m2, id, true);
        assertEq(staking.pendingStake(o), 75 ether, "slashPpm of the 100 held at filing");
        assertFalse(staking.frozen(o));
        vm.prank(o);
        staking.unbond(75 ether);
        assertEq(staking.pendingStake(o), 0);
    }

    function test_Vote_RejectedUnfreezes() public {
        uint256 id = file(first());
        castVote(m1, id, false);
        vm.expectEmit(address(staking));
        emit IStaking.Unfrozen(o, 0);
        castVote(m2, id, false);
        assertFalse(staking.frozen(o));
        vm.prank(o);
        staking.unbond(100 ether);
    }

    function test_Expire_Unfreezes() public {
        uint256 id = file(first());
        vm.warp(block.timestamp + VOTING_PERIOD);
        vm.expectEmit(address(staking));
        emit IStaking.Unfrozen(o, 0);
        faultClaims.expire(id);
        assertFalse(staking.frozen(o));
        vm.prank(o);
        staking.unbond(100 ether);
    }

    function test_Freeze_HeldUntilTheLastOpenClaimResolves() public {
        uint256 rejected = file(first());
        uint256 expired = file(result(o, bcast, 2));
        assertEq(staking.freezeCount(o), 2);
        castVote(m1, rejected, false);
        castVote(m2, rejected, false);
        assertEq(staking.freezeCount(o), 1);
        vm.expectRevert(frozenError(o));
        vm.prank(o);
        staking.unbond(1 ether);

        vm.warp(block.timestamp + VOTING_PERIOD);
        faultClaims.expire(expired);
        assertEq(staking.freezeCount(o), 0);
        vm.prank(o);
        staking.unbond(1 ether);
    }

    function test_Freeze_SecondClaimKeepsASlashedOrchestratorFrozen() public {
        uint256 earlier = file(first());
        uint256 second = file(result(o, bcast, 2));
        castVote(m1, earlier, true);
        castVote(m2, earlier, true);
        assertEq(staking.freezeCount(o), 1, "the second claim still holds its freeze");
        castVote(m1, second, true);
        castVote(m2, second, true);
        assertEq(staking.freezeCount(o), 0);
        assertEq(faultClaims.record(o).open, 0);
    }

    /* SNAPSHOTS */

    function test_Claim_KeepsTheTermsInForceAtFiling() public {
        uint256 id = file(first());
        assertEq(faultClaims.claim(id).term, 2);
        vm.prank(governance());
        faultClaims.setParameters(IFaultClaims.Parameters(1 ether, 2 days, 1_000_000, 1_000_000));
        address[] memory five = new address[](5);
        (five[0], five[1], five[2], five[3], five[4]) = (m1, m2, m3, makeAddr("m4"), makeAddr("m5"));
        vm.prank(governance());
        faultClaims.setCommittee(five, 3);
        assertEq(faultClaims.currentTerm(), 3);

        // The new members are not the claim's jury.
        assertFalse(faultClaims.canVote(id, five[3]));
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.NotMember.selector, five[3]));
        castVote(five[3], id, true);
        castVote(m1, id, true);
        castVote(m2, id, true);
        // Quorum 2 of the claim's term, not 3 of the new committee; 25% and 50%, not 100%.
        assertEq(uint8(statusOf(id)), uint8(IFaultClaims.ClaimStatus.Upheld));
        assertEq(staking.pendingStake(o), 75 ether);
        assertEq(faultClaims.claim(id).bond, BOND);
    }

    function test_Vote_ARemovedMemberStillDecidesTheClaimsOfItsTerm() public {
        uint256 before = file(first());
        address m4 = makeAddr("m4");
        vm.prank(governance());
        faultClaims.setCommittee(members3(m2, m3, m4), 2);
        assertFalse(faultClaims.isMember(m1));
        assertTrue(faultClaims.isMemberOf(2, m1));
        assertTrue(faultClaims.canVote(before, m1));
        uint256 afterRotation = file(result(o, bcast, 2));
        assertEq(faultClaims.claim(afterRotation).term, 3);
        // m1 no longer decides claims filed after the rotation; m4 decides only those.
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.NotMember.selector, m1));
        castVote(m1, afterRotation, true);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.NotMember.selector, m4));
        castVote(m4, before, true);
        castVote(m1, before, false);
        castVote(m3, before, false);
        assertEq(uint8(statusOf(before)), uint8(IFaultClaims.ClaimStatus.Rejected));
        castVote(m4, afterRotation, false);
        castVote(m2, afterRotation, false);
        assertEq(uint8(statusOf(afterRotation)), uint8(IFaultClaims.ClaimStatus.Rejected));
    }

    function test_Term_LapsedCommitteeKeepsServing() public {
        IFaultClaims.Term memory t = faultClaims.term(faultClaims.currentTerm());
        assertEq(t.end, t.start + 30 days);
        assertEq(t.quorum, 2);
        vm.warp(t.end);
        assertTrue(faultClaims.termLapsed());
        // Claims are still filed and decided by the holdover committee.
        uint256 id = file(first());
        assertEq(faultClaims.claim(id).term, faultClaims.currentTerm());
        castVote(m1, id, true);
        castVote(m2, id, true);
        assertEq(uint8(statusOf(id)), uint8(IFaultClaims.ClaimStatus.Upheld));
        vm.prank(governance());
        faultClaims.setCommittee(members3(m1, m2, m3), 2);
        assertFalse(faultClaims.termLapsed());
    }

    function test_SetTermLength_AppliesToTheNextElection() public {
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.TermLengthSet(90 days);
        vm.prank(governance());
        faultClaims.setTermLength(90 days);
        uint256 end = faultClaims.term(faultClaims.currentTerm()).end;
        assertEq(end, block.timestamp + 30 days, "the current term keeps its end");
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.TermStarted(3, block.timestamp, block.timestamp + 90 days, 2);
        vm.prank(governance());
        faultClaims.setCommittee(members3(m1, m2, m3), 2);
        assertEq(faultClaims.termMembers(3), members3(m1, m2, m3));
        vm.expectRevert(
            abi.encodeWithSelector(IFaultClaims.TermLengthOutOfRange.selector, 1 hours - 1, 1 hours, 4 * 365 days)
        );
        vm.prank(governance());
        faultClaims.setTermLength(1 hours - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IFaultClaims.TermLengthOutOfRange.selector, 4 * 365 days + 1, 1 hours, 4 * 365 days)
        );
        vm.prank(governance());
        faultClaims.setTermLength(4 * 365 days + 1);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, m1));
        vm.prank(m1);
        faultClaims.setTermLength(1 days);
    }

    /* GOVERNANCE */

    function test_SetCommittee_ReplacesTheWholeSet() public {
        address[] memory two = new address[](2);
        (two[0], two[1]) = (m3, makeAddr("m4"));
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.CommitteeSet(two, 2);
        vm.prank(governance());
        faultClaims.setCommittee(two, 2);
        assertEq(faultClaims.committee(), two);
        assertEq(faultClaims.quorum(), 2);
        assertFalse(faultClaims.isMember(m1));
        assertFalse(faultClaims.isMember(m2));
        assertTrue(faultClaims.isMember(m3));
        assertTrue(faultClaims.isMember(two[1]));
    }

    function test_RevertWhen_SetCommitteeNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, m1));
        vm.prank(m1);
        faultClaims.setCommittee(members3(m1, m2, m3), 2);
    }

    function test_RevertWhen_SetCommitteeOutOfBounds() public {
        vm.expectRevert(IFaultClaims.EmptyCommittee.selector);
        vm.prank(governance());
        faultClaims.setCommittee(new address[](0), 0);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.InvalidQuorum.selector, 1, 3));
        vm.prank(governance());
        faultClaims.setCommittee(members3(m1, m2, m3), 1);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.InvalidQuorum.selector, 4, 3));
        vm.prank(governance());
        faultClaims.setCommittee(members3(m1, m2, m3), 4);
        address[] memory four = new address[](4);
        (four[0], four[1], four[2], four[3]) = (m1, m2, m3, makeAddr("m4"));
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.InvalidQuorum.selector, 2, 4));
        vm.prank(governance());
        faultClaims.setCommittee(four, 2);
        vm.expectRevert(IFaultClaims.ZeroAddress.selector);
        vm.prank(governance());
        faultClaims.setCommittee(members3(m1, address(0), m3), 2);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.DuplicateMember.selector, m1));
        vm.prank(governance());
        faultClaims.setCommittee(members3(m1, m2, m1), 2);
        address[] memory many = new address[](65);
        for (uint256 i; i < many.length; ++i) {
            many[i] = address(uint160(0x1000 + i));
        }
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.CommitteeTooLarge.selector, 65, 64));
        vm.prank(governance());
        faultClaims.setCommittee(many, 64);
        // Unchanged by the refusals.
        assertEq(faultClaims.committee(), members3(m1, m2, m3));
        assertTrue(faultClaims.isMember(m1));
    }

    function test_SetCommittee_OneMemberQuorumOne() public {
        address[] memory one = new address[](1);
        one[0] = m1;
        vm.prank(governance());
        faultClaims.setCommittee(one, 1);
        uint256 id = file(first());
        castVote(m1, id, false);
        assertEq(uint8(statusOf(id)), uint8(IFaultClaims.ClaimStatus.Rejected));
    }

    function test_SetParameters() public {
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.ParametersSet(5 ether, 30 days, 1_000_000, 0);
        vm.prank(governance());
        faultClaims.setParameters(IFaultClaims.Parameters(5 ether, 30 days, 1_000_000, 0));
        IFaultClaims.Parameters memory p = faultClaims.parameters();
        assertEq(p.bond, 5 ether);
        assertEq(p.votingPeriod, 30 days);
        assertEq(p.slashPpm, 1_000_000);
        assertEq(p.finderFeePpm, 0);
        uint256 id = file(first());
        assertEq(token.balanceOf(address(faultClaims)), 5 ether);
        assertEq(faultClaims.claim(id).deadline, block.timestamp + 30 days);
    }

    function test_RevertWhen_SetParametersNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, m1));
        vm.prank(m1);
        faultClaims.setParameters(IFaultClaims.Parameters(5 ether, 1 days, 0, 0));
    }

    function test_RevertWhen_SetParametersOutOfBounds() public {
        vm.expectRevert(IFaultClaims.ZeroBond.selector);
        vm.prank(governance());
        faultClaims.setParameters(IFaultClaims.Parameters(0, 1 days, 0, 0));
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.VotingPeriodOutOfRange.selector, 0, 30 days));
        vm.prank(governance());
        faultClaims.setParameters(IFaultClaims.Parameters(1, 0, 0, 0));
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.VotingPeriodOutOfRange.selector, 30 days + 1, 30 days));
        vm.prank(governance());
        faultClaims.setParameters(IFaultClaims.Parameters(1, 30 days + 1, 0, 0));
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.RateAbovePpm.selector, 1_000_001));
        vm.prank(governance());
        faultClaims.setParameters(IFaultClaims.Parameters(1, 1 days, 1_000_001, 0));
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.RateAbovePpm.selector, 1_000_001));
        vm.prank(governance());
        faultClaims.setParameters(IFaultClaims.Parameters(1, 1 days, 0, 1_000_001));
    }

    function test_RevertWhen_ConstructedWithoutTokenOrStaking() public {
        IFaultClaims.Parameters memory p = IFaultClaims.Parameters(1, 1 days, 0, 0);
        vm.expectRevert(IFaultClaims.ZeroAddress.selector);
        new FaultClaims(IERC20(address(0)), staking, p, members3(m1, m2, m3), 2, 30 days, address(this));
        vm.expectRevert(IFaultClaims.ZeroAddress.selector);
        new FaultClaims(token, IStaking(address(0)), p, members3(m1, m2, m3), 2, 30 days, address(this));
        vm.expectRevert(IFaultClaims.ZeroBond.selector);
        new FaultClaims(
            token, staking, IFaultClaims.Parameters(0, 1 days, 0, 0), members3(m1, m2, m3), 2, 30 days, address(this)
        );
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.InvalidQuorum.selector, 1, 3));
        new FaultClaims(token, staking, p, members3(m1, m2, m3), 1, 30 days, address(this));
    }

    /* DEPLOYMENT */

    function test_Deployment_FaultClaimsIsStakingsVerifier() public {
        SuiteDeployer.Params memory p = SuiteDeployer.devnetParams(address(this));
        SuiteDeployer.Suite memory s = SuiteDeployer.deploy(p);
        assertEq(s.staking.verifier(), address(s.faultClaims));
        assertEq(address(s.faultClaims.token()), address(s.token));
        assertEq(address(s.faultClaims.staking()), address(s.staking));
        address[] memory one = new address[](1);
        one[0] = address(this);
        assertEq(s.faultClaims.committee(), one);
        assertEq(s.faultClaims.quorum(), 1);
        IFaultClaims.Parameters memory params_ = s.faultClaims.parameters();
        assertEq(params_.bond, 10 ether);
        assertEq(params_.votingPeriod, 1 days);
        assertEq(params_.slashPpm, 250_000);
        assertEq(params_.finderFeePpm, 500_000);
        assertEq(s.faultClaims.owner(), address(s.timelock));
    }

    function test_Deployment_HandsFaultClaimsToGovernance() public {
        SuiteDeployer.Suite memory s = SuiteDeployer.deploy(SuiteDeployer.devnetParams(address(this)));
        assertEq(s.faultClaims.owner(), address(s.timelock));
        assertEq(s.faultClaims.pendingOwner(), address(0));
        assertEq(s.faultClaims.termLength(), 30 days);
        assertEq(s.faultClaims.currentTerm(), 1);
    }
}
