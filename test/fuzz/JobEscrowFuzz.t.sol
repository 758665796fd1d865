// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EscrowTestBase} from "../utils/EscrowTestBase.sol";
import {IJobEscrow} from "../../contracts/interfaces/IJobEscrow.sol";

/// @notice JobEscrow under random prices, charges, collateral, replica and checkpoint counts: every
///         token that enters a job leaves it exactly once, to the party the rules name.
contract JobEscrowFuzzTest is EscrowTestBase {
    address[] internal provs;

    function setUp() public override {
        super.setUp();
        for (uint256 i; i < 16; ++i) {
            provs.push(makeAddr(string.concat("fuzzProvider", vm.toString(i))));
        }
    }

    function _total(uint256 n) internal view returns (uint256 sum) {
        sum = bal(buyer) + bal(address(escrow)) + bal(escrow.BURN_ADDRESS());
        for (uint256 i; i < n; ++i) {
            sum += bal(provs[i]);
        }
    }

    function testFuzz_FixedJob_ConservationAndPayouts(
        uint96 price,
        uint96 collateral,
        uint8 replicas,
        uint8 checkpoints,
        uint8 filled,
        uint256 seed
    ) public {
        price = uint96(bound(price, 1, 1e23));
        collateral = uint96(bound(collateral, (uint256(price) + 9) / 10, 1e23));
        replicas = uint8(bound(replicas, 1, 16));
        checkpoints = uint8(bound(checkpoints, 0, 16));
        filled = uint8(bound(filled, 0, replicas));

        IJobEscrow.JobParams memory p = fixedParams(replicas, checkpoints);
        p.price = price;
        p.collateral = collateral;
        uint256 id = create(p);
        uint256 total = uint256(price) * replicas + uint256(collateral) * filled;

        uint96[] memory charges = new uint96[](filled);
        bool[] memory good = new bool[](filled);
        bool[] memory committed = new bool[](filled);
        uint256 goodCount;
        uint256 badCount;
        for (uint256 i; i < filled; ++i) {
            accept(id, provs[i]);
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            for (uint256 c; c < (r % (uint256(checkpoints) + 1)); ++c) {
                vm.prank(buyer);
                escrow.releaseCheckpoint(id, provs[i]);
            }
            committed[i] = (r >> 8) % 5 != 0;
            good[i] = (r >> 16) % 4 != 0;
            charges[i] = uint96((r >> 32) % (uint256(price) + 1));
            if (committed[i]) {
                commit(id, provs[i], good[i] ? GOOD : BAD, charges[i]);
                // Some never reveal their sealed result: they count for nothing and are slashed.
                if ((r >> 24) % 6 == 0) {
                    delete sealedResult[id][provs[i]];
                    committed[i] = false;
                } else if (good[i]) {
                    ++goodCount;
                } else {
                    ++badCount;
                }
            }
        }
        assertEq(_total(filled), total, "tokens in = tokens held before settlement");
        assertEscrowSolvent();

        toFinalizable(id);
        escrow.finalize(id);
        assertEq(bal(address(escrow)), 0, "escrow empty");
        assertEq(job(id).escrowed, 0);
        assertEq(_total(filled), total, "every token accounted for");

        // A strict majority of the revealed results (a lone BAD reveal is one).
        uint256 revealedCount = goodCount + badCount;
        bytes32 majority = 2 * goodCount > revealedCount ? GOOD : 2 * badCount > revealedCount ? BAD : bytes32(0);
        for (uint256 i; i < filled; ++i) {
            _checkPayout(id, provs[i], Outcome(committed[i], good[i] ? GOOD : BAD, majority, charges[i]));
        }
    }

    struct Outcome {
        bool committed; // committed and revealed
        bytes32 result;
        bytes32 majority;
        uint96 charge;
    }

    /// @dev A provider's balance after finalize: it started with exactly the collateral.
    function _checkPayout(uint256 id, address who, Outcome memory o) internal view {
        IJobEscrow.JobParams memory p = job(id).params;
        uint256 released = slot(id, who).checkpointsReleased;
        uint256 paidOut = released * (uint256(p.price) / (uint256(p.checkpoints) + 1));
        uint256 collShare = released * (uint256(p.collateral) / (uint256(p.checkpoints) + 1));
        IJobEscrow.SlotStatus st = slotStatus(id, who);
        if (o.committed && o.result == o.majority) {
            assertEq(uint8(st), uint8(IJobEscrow.SlotStatus.Paid));
            uint256 owed = o.charge > paidOut ? o.charge : paidOut;
            assertEq(bal(who), owed + p.collateral, "paid: charge (or more if released) + collateral");
        } else if (o.committed && o.majority == bytes32(0)) {
            assertEq(uint8(st), uint8(IJobEscrow.SlotStatus.Refunded));
            assertEq(bal(who), paidOut + p.collateral, "refunded: keeps releases + collateral");
        } else {
            assertEq(uint8(st), uint8(IJobEscrow.SlotStatus.Slashed));
            assertEq(bal(who), paidOut + collShare, "slashed: keeps only what was released");
        }
    }

    function testFuzz_Auction_VickreyPriceAndConservation(uint8 replicas, uint8 bidders, uint256 seed) public {
        replicas = uint8(bound(replicas, 1, 16));
        bidders = uint8(bound(bidders, 0, 16));
        uint256 id = create(sealedParams(replicas));
        uint96[] memory bids = new uint96[](bidders);
        bool[] memory revealed = new bool[](bidders);
        for (uint256 i; i < bidders; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            bids[i] = uint96(r % 8) * 1 ether; // few distinct values: many ties
            revealed[i] = (r >> 8) % 4 != 0;
            bid(id, provs[i], bids[i]);
        }
        vm.warp(job(id).params.bidDeadline);
        uint256 nRevealed;
        for (uint256 i; i < bidders; ++i) {
            if (!revealed[i]) continue;
            reveal(id, provs[i], bids[i]);
            ++nRevealed;
        }
        uint256 total = uint256(PRICE) * replicas + uint256(COLLATERAL) * bidders;
        vm.warp(job(id).params.revealDeadline);
        escrow.closeAuction(id);
        IJobEscrow.Job memory j = job(id);
        uint256 winners = nRevealed < replicas ? nRevealed : replicas;
        assertEq(j.filled, winners);

        // Clearing price: the (winners+1)-th lowest revealed bid, or the maximum.
        uint256 expected = PRICE;
        if (nRevealed > winners) {
            uint256 below; // revealed bids strictly below each candidate
            for (uint256 i; i < bidders; ++i) {
                if (!revealed[i]) continue;
                below = 0;
                uint256 atOrBelow;
                for (uint256 k; k < bidders; ++k) {
                    if (!revealed[k]) continue;
                    if (bids[k] < bids[i]) ++below;
                    if (bids[k] <= bids[i]) ++atOrBelow;
                }
                if (below <= winners && winners < atOrBelow) expected = bids[i];
            }
        }
        assertEq(j.clearingPrice, expected, "clearing price");
        // Every winner bid at most the clearing price; every revealed loser at least.
        for (uint256 i; i < bidders; ++i) {
            IJobEscrow.SlotStatus st = slotStatus(id, provs[i]);
            if (st == IJobEscrow.SlotStatus.Accepted) assertLe(bids[i], j.clearingPrice);
            else if (revealed[i]) assertGe(bids[i], j.clearingPrice);
            if (!revealed[i]) assertEq(uint8(st), uint8(IJobEscrow.SlotStatus.Lost));
        }
        assertEq(_total(bidders), total);
        assertEscrowSolvent();

        for (uint256 i; i < bidders; ++i) {
            if (slotStatus(id, provs[i]) == IJobEscrow.SlotStatus.Accepted) {
                commit(id, provs[i], GOOD, j.clearingPrice);
            }
        }
        toFinalizable(id);
        escrow.finalize(id);
        assertEq(bal(address(escrow)), 0);
        assertEq(_total(bidders), total, "every token accounted for");
    }
}

/// @notice announceEndpoint's URI bound: 1..MAX_ENDPOINT_URI bytes accepted, anything else refused.
contract JobEscrowEndpointFuzzTest is EscrowTestBase {
    function testFuzz_AnnounceEndpoint_UriLengthBound(uint256 length, bytes1 fill) public {
        length = bound(length, 0, 600);
        uint256 id = createFixed(1);
        accept(id, p1);
        bytes memory b = new bytes(length);
        for (uint256 i; i < length; ++i) {
            b[i] = fill;
        }
        uint256 max = escrow.MAX_ENDPOINT_URI();
        if (length == 0) {
            vm.expectRevert(IJobEscrow.EmptyUri.selector);
        } else if (length > max) {
            vm.expectRevert(abi.encodeWithSelector(IJobEscrow.UriTooLong.selector, length, max));
        } else {
            vm.expectEmit(address(escrow));
            emit IJobEscrow.EndpointAnnounced(id, p1, string(b));
        }
        vm.prank(p1);
        escrow.announceEndpoint(id, string(b));
    }
}
