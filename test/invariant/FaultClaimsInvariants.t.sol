// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {FaultClaimsTestBase} from "../utils/FaultClaimsTestBase.sol";
import {IFaultClaims} from "../../contracts/interfaces/IFaultClaims.sol";
import {FaultClaimsHandler} from "./FaultClaimsHandler.sol";

/// @notice Invariants of FaultClaims under random claims, votes, expiries, time warps, verifier
///         rotations and governance changes: the contract holds exactly the bonds of open claims
///         plus the finder's-fee pots still owed (every bond and fee is returned, paid or burned
///         with an event), a claim resolves at most once and its final status never changes, the
///         token supply moves only by the burned part of penalties and forfeited pots, every open
///         claim holds one Staking freeze on its accused (which therefore never unbonds nor
///         re-delegates while a claim is open) unless the release was reported refused, and every
///         open claim past its deadline can be closed.
/// forge-config: default.invariant.runs = 64
/// forge-config: default.invariant.depth = 64
contract FaultClaimsInvariants is FaultClaimsTestBase {
    FaultClaimsHandler internal handler;
    uint256 internal initialSupply;

    function setUp() public override {
        super.setUp();
        address[] memory orchestrators = new address[](3);
        uint256[] memory keys = new uint256[](3);
        for (uint256 i; i < 3; ++i) {
            orchestrators[i] = newSigner(string.concat("inv-orchestrator", vm.toString(i)), 100 ether + i);
            keys[i] = keyOf[orchestrators[i]];
        }
        address[] memory broadcasters = new address[](2);
        broadcasters[0] = bcast;
        broadcasters[1] = newBroadcaster("inv-broadcaster");
        address[] memory voters = new address[](6);
        (voters[0], voters[1], voters[2]) = (m1, m2, m3);
        (voters[3], voters[4], voters[5]) = (makeAddr("member4"), makeAddr("member5"), makeAddr("outsider"));
        handler = new FaultClaimsHandler(
            token, staking, faultClaims, address(timelock), orchestrators, keys, broadcasters, voters
        );
        initialSupply = token.totalSupply();

        bytes4[] memory selectors = new bytes4[](10);
        selectors[0] = FaultClaimsHandler.fileClaim.selector;
        selectors[1] = FaultClaimsHandler.fileClaim.selector; // filed twice as often as governed
        selectors[2] = FaultClaimsHandler.vote.selector;
        selectors[3] = FaultClaimsHandler.expire.selector;
        selectors[4] = FaultClaimsHandler.warp.selector;
        selectors[5] = FaultClaimsHandler.setCommittee.selector;
        selectors[6] = FaultClaimsHandler.setParameters.selector;
        selectors[7] = FaultClaimsHandler.unbond.selector;
        selectors[8] = FaultClaimsHandler.redelegate.selector;
        selectors[9] = FaultClaimsHandler.rotateVerifier.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @dev Σ of the pots still held, over every episode of the three orchestrators.
    function pots() internal view returns (uint256 sum) {
        for (uint256 i; i < 3; ++i) {
            address o = handler.orchestrators(i);
            uint256 last = faultClaims.currentEpisode(o);
            for (uint256 e; e <= last; ++e) {
                IFaultClaims.Episode memory ep = faultClaims.episode(o, e);
                sum += ep.pot;
                if (ep.owed == 0) assertEq(ep.pot, 0, "a pot nobody is owed");
            }
        }
    }

    function invariant_HoldsExactlyTheBondsOfOpenClaimsAndThePotsOwed() public view {
        uint256 open;
        uint256 count = faultClaims.claimCount();
        for (uint256 id = 1; id <= count; ++id) {
            IFaultClaims.Claim memory c = faultClaims.claim(id);
            if (c.status == IFaultClaims.ClaimStatus.Open) open += c.bond;
        }
        assertEq(token.balanceOf(address(faultClaims)), open + pots());
    }

    /// @dev Every open claim whose deadline has passed closes with `expire` (tried, then undone).
    function invariant_EveryOpenClaimPastItsDeadlineCanClose() public {
        uint256 count = faultClaims.claimCount();
        for (uint256 id = 1; id <= count; ++id) {
            IFaultClaims.Claim memory c = faultClaims.claim(id);
            if (c.status != IFaultClaims.ClaimStatus.Open || block.timestamp < c.deadline) continue;
            uint256 snap = vm.snapshotState();
            faultClaims.expire(id);
            assertEq(uint8(faultClaims.claim(id).status), uint8(IFaultClaims.ClaimStatus.Expired));
            vm.revertToState(snap);
        }
    }

    function invariant_AClaimResolvesAtMostOnceAndStaysResolved() public view {
        assertFalse(handler.resolvedTwice(), "resolved twice");
        uint256 count = faultClaims.claimCount();
        for (uint256 id = 1; id <= count; ++id) {
            IFaultClaims.ClaimStatus status = faultClaims.claim(id).status;
            if (handler.resolutions(id) == 0) {
                assertEq(uint8(status), uint8(IFaultClaims.ClaimStatus.Open), "unresolved but not open");
            } else {
                assertEq(uint8(status), uint8(handler.finalStatus(id)), "final status changed");
            }
        }
    }

    function invariant_SupplyMovesOnlyByBurnedPenalties() public view {
        // Penalties leave the supply except the fees paid and the pots still held.
        assertEq(initialSupply - token.totalSupply() + handler.feesPaid() + pots(), handler.penalties());
        assertFalse(handler.penaltyMismatch(), "event amounts differ from the token movements");
    }

    function invariant_RecordsCountEveryClaim() public view {
        uint256 total;
        for (uint256 i; i < 3; ++i) {
            IFaultClaims.Record memory r = faultClaims.record(handler.orchestrators(i));
            total += r.upheld + r.rejected + r.open + r.expired;
        }
        assertEq(total, faultClaims.claimCount());
    }

    function invariant_FreezesMatchOpenClaims() public view {
        for (uint256 i; i < 3; ++i) {
            address o = handler.orchestrators(i);
            assertEq(
                staking.freezeCount(o),
                faultClaims.record(o).open + handler.strandedFreezes(o),
                "freezes differ from open claims and the releases reported refused"
            );
        }
        assertFalse(handler.escapedWhileFrozen(), "an accused moved its stake out during a claim");
    }
}
