// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {FaultClaimsTestBase} from "../utils/FaultClaimsTestBase.sol";
import {IFaultClaims} from "../../contracts/interfaces/IFaultClaims.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";
import {SegmentResultHash} from "../../contracts/libraries/SegmentResultHash.sol";

/// @notice Attacks on FaultClaims by the parties themselves (issue 14, FaultClaims bullet), each
///         performed and checked for the safe outcome, with the balances that move.
/// @dev o self-bonds 100 (an upheld claim slashes 25, the finder's fee is 12.5, 12.5 burned);
///      committee m1, m2, m3 with quorum 2; bond 10.
contract FaultClaimsAttacks is FaultClaimsTestBase {
    address internal o;

    function setUp() public override {
        super.setUp();
        o = newSigner("o", 100 ether);
    }

    function uphold(uint256 id) internal {
        castVote(m1, id, true);
        castVote(m2, id, true);
    }

    function reject(uint256 id) internal {
        castVote(m1, id, false);
        castVote(m2, id, false);
    }

    /// @dev What o and the accounts it controls hold in tokens, bonded own stake included.
    function wealth(address sybil) internal view returns (uint256) {
        return staking.pendingStake(o) + token.balanceOf(o) + token.balanceOf(sybil);
    }

    /* FINDER'S FEE: THE ACCUSED'S OWN SYBIL CLAIM */

    /// Before the fix the sybil's claim, decided first, took the whole 12.5 fee and the honest
    /// finder's claim was upheld with nothing; now both claimants open at the slash share it.
    function test_Attack_SybilSelfClaimPreemptsHonestFinder_SharesTheFee() public {
        address sybil = newBroadcaster("o's sybil");
        uint256 honest = file(result(o, bcast, 1)); // the broadcaster o cheated
        uint256 before = wealth(sybil);
        uint256 own = file(result(o, sybil, 1)); // o signs a faulty result for itself
        uint256 honestBefore = token.balanceOf(bcast);
        uint256 supply = token.totalSupply();

        castVote(m1, own, true);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.Voted(own, m2, true, 2, 0);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.FinderFeeHeld(o, 1, 12.5 ether, 2);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.ClaimResolved(own, IFaultClaims.ClaimStatus.Upheld, 25 ether, 6.25 ether);
        castVote(m2, own, true);
        assertEq(faultClaims.episode(o, 1).pot, 6.25 ether, "the honest finder's share waits for its claim");
        assertEq(faultClaims.currentEpisode(o), 2);

        castVote(m1, honest, true);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.Voted(honest, m2, true, 2, 0);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.ClaimResolved(honest, IFaultClaims.ClaimStatus.Upheld, 0, 6.25 ether);
        castVote(m2, honest, true);

        assertEq(token.balanceOf(bcast), honestBefore + BOND + 6.25 ether, "the honest finder is paid");
        assertEq(before - wealth(sybil), 18.75 ether, "o loses the penalty less its sybil's share");
        assertGt(before - wealth(sybil), 0, "worse off than never cheating");
        assertEq(supply - token.totalSupply(), 12.5 ether, "the rest burned");
        assertEq(token.balanceOf(address(faultClaims)), 0);
        assertEq(faultClaims.episode(o, 1).owed, 0);
    }

    /// A flood of sybil claimants takes at most the whole fee: o still loses (1 - finderFee) of
    /// the penalty, every honest claimant with an open claim keeps a share.
    function test_Attack_SybilFloodStillLosesThePenaltyLessTheFee() public {
        address[3] memory sybils = [newBroadcaster("sybil0"), newBroadcaster("sybil1"), newBroadcaster("sybil2")];
        uint256 honest = file(result(o, bcast, 1));
        uint256[3] memory own;
        for (uint256 i; i < 3; ++i) {
            own[i] = file(result(o, sybils[i], 1));
        }
        uint256 before = staking.pendingStake(o);
        uint256 honestBefore = token.balanceOf(bcast);
        uint256 toSybils;
        for (uint256 i; i < 3; ++i) {
            uint256 b = token.balanceOf(sybils[i]);
            uphold(own[i]);
            toSybils += token.balanceOf(sybils[i]) - b - BOND;
        }
        uphold(honest);
        uint256 toHonest = token.balanceOf(bcast) - honestBefore - BOND;
        assertEq(toHonest, 3.125 ether, "one share of four");
        assertEq(toSybils + toHonest, 12.5 ether, "the fee, all of it paid");
        assertGe(before - staking.pendingStake(o) - toSybils, 12.5 ether, "o loses at least the burned half");
    }

    /// The accused and its delegators cannot be claimants (they would pay the fee to themselves).
    function test_Attack_AccusedOrItsDelegatorAsClaimant_Refused() public {
        // o as the broadcaster of its own result.
        give(o, BOND);
        vm.prank(o);
        token.approve(address(faultClaims), type(uint256).max);
        SegmentResultHash.SegmentResult memory r = result(o, o, 1);
        bytes memory sig = signWith(keyOf[o], r);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.ClaimantTiedToAccused.selector, o, o));
        vm.prank(o);
        faultClaims.fileClaim(r, sig, 1, WRONG_RESOLUTION, bytes32(0), "");

        address delegator = newBroadcaster("delegator");
        bondAs(delegator, 1 ether, o);
        r = result(o, delegator, 1);
        sig = signWith(keyOf[o], r);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.ClaimantTiedToAccused.selector, delegator, o));
        vm.prank(delegator);
        faultClaims.fileClaim(r, sig, 1, WRONG_RESOLUTION, bytes32(0), "");
        assertEq(faultClaims.claimCount(), 0);
    }

    /// A claimant whose claims all end without an uphold after the slash forfeits its share: it is
    /// burned at once, never left for whoever is paid last.
    function test_FinderShare_ForfeitedSharesAreBurned() public {
        address b2 = newBroadcaster("b2");
        address b3 = newBroadcaster("b3");
        uint256 first_ = file(result(o, bcast, 1));
        uint256 second = file(result(o, b2, 1));
        uint256 third = file(result(o, b3, 1));
        uphold(first_); // 12.5 held for 3: 4.1666… paid now
        uint256 share = uint256(12.5 ether) / 3;
        uint256 rest = 12.5 ether - share;
        assertEq(faultClaims.episode(o, 1).pot, rest);

        uint256 b2Before = token.balanceOf(b2);
        uint256 supply = token.totalSupply();
        castVote(m1, second, false);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.Voted(second, m2, false, 0, 2);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.FinderShareForfeited(o, 1, b2);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.FinderFeeBurned(o, 1, rest / 2);
        castVote(m2, second, false);
        assertEq(token.balanceOf(b2), b2Before, "bond to the accused, no share");
        assertEq(supply - token.totalSupply(), rest / 2);
        assertEq(faultClaims.episode(o, 1).owed, 1);

        vm.warp(block.timestamp + VOTING_PERIOD);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.FinderFeeBurned(o, 1, rest - rest / 2);
        faultClaims.expire(third);
        assertEq(supply - token.totalSupply(), rest, "every forfeited share burned");
        assertEq(token.balanceOf(address(faultClaims)), 0);
        assertEq(faultClaims.episode(o, 1).pot, 0);
    }

    /// The accused files claims meant to be rejected (their bonds come back to it) beside one real
    /// sybil claim decided last, hoping the shares the rejected ones forfeit roll over to its sybil.
    /// They are burned instead: its sybil gets one share of three, as the honest finder does.
    function test_Attack_BogusClaimsForfeitToTheSybilPaidLast_Burned() public {
        address bogus = newBroadcaster("o's bogus claimant");
        address sybil = newBroadcaster("o's sybil");
        uint256 honest = file(result(o, bcast, 1));
        uint256 rejected = file(result(o, bogus, 1));
        uint256 own = file(result(o, sybil, 1));
        uint256 honestBefore = token.balanceOf(bcast);
        uint256 sybilBefore = token.balanceOf(sybil);
        uphold(honest);
        reject(rejected);
        uphold(own);
        uint256 share = uint256(12.5 ether) / 3;
        assertEq(token.balanceOf(bcast) - honestBefore - BOND, share, "the honest finder: one share");
        uint256 rest = 12.5 ether - share;
        assertEq(token.balanceOf(sybil) - sybilBefore - BOND, rest - rest / 2, "the sybil: one share, not two");
        assertEq(token.balanceOf(o), BOND, "the rejected bond, back to the accused, and nothing more");
    }

    /// Claims filed after the slash (o re-bonded and re-registered) open a new episode and slash again.
    function test_FinderShare_ClaimsAfterTheSlashOpenANewEpisode() public {
        uint256 id = file(result(o, bcast, 1));
        uphold(id);
        // Staking holds a slashed orchestrator out until its slash can no longer be escaped.
        rollRounds(staking.slashedUntil(o) - staking.currentRound());
        vm.prank(o);
        staking.registerOrchestrator(100_000, 500_000);
        assertTrue(staking.isRegistered(o));
        uint256 later = file(result(o, bcast, 2));
        assertEq(faultClaims.claim(later).episode, 2);
        uint256 before = token.balanceOf(bcast);
        uphold(later);
        assertEq(token.balanceOf(bcast) - before - BOND, 75 ether / 4 / 2, "a new slash, its fee to the lone finder");
    }

    /* FREEZE GRIEFING */

    /// Before the fix 31 chained claims froze any stake for 31 days and every bond came back at
    /// expiry (cost: gas). Now the bond is 4% of what a claim can slash and each expiry pays 10%
    /// of it to the accused: freezing a 1,000,000 self-stake for 31 days costs the griefer
    /// 31 × 1,000 = 31,000 tokens, all paid to the frozen orchestrator.
    function test_Attack_ChainedExpiringClaimsFreezeCostsTheGriefer() public {
        address whale = newSigner("whale", 1_000_000 ether);
        address griefer = newBroadcaster("griefer");
        give(griefer, 60_000 ether);
        uint256 bond = faultClaims.bondFor(whale);
        assertEq(bond, 10_000 ether, "4% of the 250,000 a claim can slash");
        uint256 start = token.balanceOf(griefer);
        uint256 id = file(result(whale, griefer, 0));
        for (uint256 day = 1; day <= 31; ++day) {
            vm.warp(block.timestamp + VOTING_PERIOD - 1);
            uint256 next = file(result(whale, griefer, day)); // the next claim before the last expires
            vm.warp(block.timestamp + 1);
            assertTrue(staking.frozen(whale));
            faultClaims.expire(id);
            id = next;
        }
        vm.warp(block.timestamp + VOTING_PERIOD);
        faultClaims.expire(id);
        assertFalse(staking.frozen(whale));
        uint256 cost = start - token.balanceOf(griefer);
        assertEq(cost, 32 * 1_000 ether, "a tenth of each bond");
        assertEq(token.balanceOf(whale), cost, "paid to the frozen orchestrator");
    }

    /// Unbonding everything does not make the stake cheap to freeze: the locks stay slashable, so
    /// the bond still scales with them (before the fix only the bonded self-stake counted, and a
    /// claim froze 1,000,000 in locks for the base bond).
    function test_Attack_StakeOnlyInLocksStillCostsTheScaledBond() public {
        address whale = newSigner("whale", 1_000_000 ether);
        vm.prank(whale);
        staking.unbond(1_000_000 ether);
        assertEq(staking.pendingStake(whale), 0);
        assertEq(staking.slashableStake(whale), 1_000_000 ether, "the lock is still slashable");
        assertEq(faultClaims.bondFor(whale), 10_000 ether, "4% of the 250,000 a claim can slash");
        address griefer = newBroadcaster("griefer");
        give(griefer, 10_000 ether);
        uint256 start = token.balanceOf(griefer);
        uint256 id = file(result(whale, griefer, 0));
        assertEq(start - token.balanceOf(griefer), 10_000 ether, "the scaled bond was taken");
        assertTrue(staking.frozen(whale));
        vm.warp(block.timestamp + VOTING_PERIOD);
        faultClaims.expire(id);
        assertEq(start - token.balanceOf(griefer), 1_000 ether, "a tenth kept for the freeze");
    }

    /// A griefing claim the committee rejects costs the whole bond, paid to the accused.
    function test_Attack_RejectedGriefingClaimCostsTheWholeBond() public {
        uint256 before = token.balanceOf(bcast);
        uint256 id = file(result(o, bcast, 1));
        castVote(m1, id, false);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.Voted(id, m2, false, 0, 2);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.BondReleased(id, 0, BOND);
        castVote(m2, id, false);
        assertEq(before - token.balanceOf(bcast), BOND);
        assertEq(token.balanceOf(o), BOND);
    }

    /* VERIFIER ROTATION */

    /// Governance moves Staking's verifier while claims are open. Before the fix every vote and
    /// expiry reverted (NotVerifier from unfreeze) and the bonds stayed here forever. Now they
    /// resolve: no slash (reported), the bond moves, a freeze Staking refuses is reported.
    function test_Attack_VerifierRotationDoesNotStrandClaims() public {
        uint256 upheld = file(result(o, bcast, 1));
        uint256 expired = file(result(o, bcast, 2));
        address successor = makeAddr("new verifier");
        vm.prank(governance());
        staking.setVerifier(successor);

        uint256 before = token.balanceOf(bcast);
        castVote(m1, upheld, true);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.Voted(upheld, m2, true, 2, 0);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.StakingDetached(upheld, successor);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.ClaimResolved(upheld, IFaultClaims.ClaimStatus.Upheld, 0, 0);
        castVote(m2, upheld, true);
        assertEq(token.balanceOf(bcast), before + BOND, "the bond back");
        assertEq(staking.pendingStake(o), 100 ether, "no slash by a detached verifier");

        vm.warp(block.timestamp + VOTING_PERIOD);
        faultClaims.expire(expired);
        assertEq(uint8(statusOf(expired)), uint8(IFaultClaims.ClaimStatus.Expired));
        assertEq(token.balanceOf(address(faultClaims)), 0, "no bond stranded");
        assertEq(faultClaims.record(o).open, 0);
        // Whether Staking lets the verifier that froze release its freezes is Staking's part: either
        // the freezes are gone or each stranded one was reported (FreezeNotReleased).
        assertLe(staking.freezeCount(o), 2);

        // New claims are refused while detached, by name.
        SegmentResultHash.SegmentResult memory r = result(o, bcast, 3);
        bytes memory sig = signWith(keyOf[o], r);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.NotStakingVerifier.selector, successor));
        vm.prank(bcast);
        faultClaims.fileClaim(r, sig, 1, WRONG_RESOLUTION, bytes32(0), "");
    }

    /* EQUIVALENT FINDINGS */

    /// Jurors uphold on any fault they prove in the named rendition: the fault code the claimant
    /// named changes nothing in what an upheld claim does.
    function testFuzz_AnyNamedFaultUpholdsTheSame(uint8 fault) public {
        fault = uint8(bound(fault, 1, 10));
        SegmentResultHash.SegmentResult memory r = result(o, bcast, 1);
        bytes memory sig = signWith(keyOf[o], r);
        vm.prank(bcast);
        uint256 id = faultClaims.fileClaim(r, sig, 1, fault, keccak256("frame_count report"), "");
        uint256 before = token.balanceOf(bcast);
        castVote(m1, id, true);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.Voted(id, m2, true, 2, 0);
        vm.expectEmit(address(faultClaims));
        emit IFaultClaims.ClaimResolved(id, IFaultClaims.ClaimStatus.Upheld, 25 ether, 12.5 ether);
        castVote(m2, id, true);
        assertEq(token.balanceOf(bcast), before + BOND + 12.5 ether);
    }

    /* HOT KEYS: RESULTS SIGNED BY THE ORCHESTRATOR'S REDEEMER (ITS STAKE KEY STAYS OFFLINE) */

    /// @dev Files a claim as `r.broadcaster` on a result signed with `key`.
    function fileSignedBy(uint256 key, SegmentResultHash.SegmentResult memory r) internal returns (uint256) {
        bytes memory sig = signWith(key, r);
        vm.prank(r.broadcaster);
        return faultClaims.fileClaim(r, sig, 1, WRONG_RESOLUTION, keccak256("evidence"), "");
    }

    /// A result signed by o's hot key is o's: the claim is filed and upheld, and o's stake pays.
    function test_HotKeySignedResult_SlashesTheOrchestrator() public {
        (address hot, uint256 hotKey) = makeAddrAndKey("o's hot key");
        vm.prank(o);
        staking.setRedeemer(hot);
        uint256 stakeBefore = staking.pendingStake(o);
        uint256 id = fileSignedBy(hotKey, result(o, bcast, 1));
        uphold(id);
        assertEq(uint256(statusOf(id)), uint256(IFaultClaims.ClaimStatus.Upheld));
        assertEq(stakeBefore - staking.pendingStake(o), 25 ether, "o's own stake is slashed");
    }

    /// o cheats with its hot key, then names a new one before the broadcaster files: the replaced
    /// key still answers for o until its stake could have left (unbonding period), so the claim
    /// is filed and upheld; after that the old key signs nothing for o (a leaked old key cannot
    /// frame it for ever).
    function test_Attack_ReplacingTheHotKeyDoesNotEscapeTheClaim() public {
        (address hot, uint256 hotKey) = makeAddrAndKey("o's hot key");
        vm.prank(o);
        staking.setRedeemer(hot);
        SegmentResultHash.SegmentResult memory cheat = result(o, bcast, 1);
        bytes memory sig = signWith(hotKey, cheat);
        vm.prank(o);
        staking.setRedeemer(makeAddr("o's next hot key"));
        rollRounds(params.unbondingPeriod - 1);
        assertTrue(staking.signsResultsFor(o, hot), "answerable for the unbonding period");
        vm.prank(bcast);
        uint256 id = faultClaims.fileClaim(cheat, sig, 1, WRONG_RESOLUTION, keccak256("evidence"), "");
        uphold(id);
        assertEq(uint256(statusOf(id)), uint256(IFaultClaims.ClaimStatus.Upheld));

        rollRounds(1);
        assertFalse(staking.signsResultsFor(o, hot), "the replaced key's time is over");
        SegmentResultHash.SegmentResult memory framed = result(o, bcast, 2);
        sig = signWith(hotKey, framed);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.NotSignedByOrchestrator.selector, hot, o));
        vm.prank(bcast);
        faultClaims.fileClaim(framed, sig, 1, WRONG_RESOLUTION, bytes32(0), "");
    }

    /// Naming the same key again, or clearing it and naming it back, keeps it o's, and clearing
    /// the key starts the same countdown as replacing it.
    function test_HotKey_ClearedStaysAnswerableThenNot() public {
        (address hot,) = makeAddrAndKey("o's hot key");
        vm.startPrank(o);
        staking.setRedeemer(hot);
        staking.setRedeemer(hot);
        staking.setRedeemer(address(0));
        vm.stopPrank();
        assertTrue(staking.signsResultsFor(o, hot));
        rollRounds(params.unbondingPeriod);
        assertFalse(staking.signsResultsFor(o, hot));
        vm.prank(o);
        staking.setRedeemer(hot);
        assertTrue(staking.signsResultsFor(o, hot));
        assertFalse(staking.signsResultsFor(o, address(0)), "the zero address signs nothing");
    }

    /// A key another orchestrator named, or no one named, signs nothing for o: a broadcaster holding
    /// such a key cannot make a result o never signed into a claim against o.
    function test_Attack_KeyNamedByAnotherOrchestratorCannotFrame() public {
        address other = newSigner("other", 100 ether);
        (address hot, uint256 hotKey) = makeAddrAndKey("other's hot key");
        vm.prank(other);
        staking.setRedeemer(hot);
        SegmentResultHash.SegmentResult memory framed = result(o, bcast, 1);
        bytes memory sig = signWith(hotKey, framed);
        vm.expectRevert(abi.encodeWithSelector(IFaultClaims.NotSignedByOrchestrator.selector, hot, o));
        vm.prank(bcast);
        faultClaims.fileClaim(framed, sig, 1, WRONG_RESOLUTION, bytes32(0), "");
        assertEq(faultClaims.claimCount(), 0);
    }

    /// o cheats the broadcaster, then names the broadcaster's own address as its hot key (no
    /// consent is asked of a named key) hoping the claim is refused as filed by one of o's keys:
    /// the claim is filed and upheld, the broadcaster paid.
    function test_Attack_NamingTheBroadcasterAsHotKeyDoesNotBlockItsClaim() public {
        SegmentResultHash.SegmentResult memory cheat = result(o, bcast, 1);
        bytes memory sig = signWith(keyOf[o], cheat);
        vm.startPrank(o);
        staking.setRedeemer(bcast);
        staking.setRedeemer(makeAddr("o's next hot key")); // and replaced: bcast stays "answerable"
        vm.stopPrank();
        assertTrue(staking.signsResultsFor(o, bcast));
        uint256 before = token.balanceOf(bcast);
        vm.prank(bcast);
        uint256 id = faultClaims.fileClaim(cheat, sig, 1, WRONG_RESOLUTION, keccak256("evidence"), "");
        uphold(id);
        assertEq(uint256(statusOf(id)), uint256(IFaultClaims.ClaimStatus.Upheld));
        assertEq(token.balanceOf(bcast), before + 12.5 ether, "the bond back and the whole finder's fee");
    }
}
