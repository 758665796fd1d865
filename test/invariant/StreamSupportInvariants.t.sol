// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "../utils/Fixture.sol";
import {StreamSupportHandler} from "./StreamSupportHandler.sol";

/// @notice Issue 19: invariants of StreamSupport under random tips, price changes (front-runs
///         included), subscriptions and time warps.
/// forge-config: default.invariant.runs = 64
/// forge-config: default.invariant.depth = 80
contract StreamSupportInvariants is Fixture {
    StreamSupportHandler internal handler;

    function setUp() public override {
        super.setUp();
        vm.warp(1_700_000_000);
        handler = new StreamSupportHandler(token, streamSupport);
        for (uint256 i; i < handler.actorsLength(); ++i) {
            give(handler.actors(i), handler.FUND());
        }
        handler.approveAll();

        bytes4[] memory selectors = new bytes4[](5);
        selectors[0] = StreamSupportHandler.tip.selector;
        selectors[1] = StreamSupportHandler.setPrice.selector;
        selectors[2] = StreamSupportHandler.subscribe.selector;
        selectors[3] = StreamSupportHandler.subscribe.selector; // the main path, twice as likely
        selectors[4] = StreamSupportHandler.warp.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice Nothing is ever custodied: every payment goes straight from payer to streamer.
    function invariant_holdsNoTokens() public view {
        assertEq(token.balanceOf(address(streamSupport)), 0, "StreamSupport holds tokens");
    }

    /// @notice Every account's balance moved by exactly what the events say it received (Tipped and
    ///         Subscribed naming it as streamer) minus what it paid (naming it as payer).
    function invariant_balancesMoveExactlyByTheEvents() public view {
        uint256 total;
        for (uint256 i; i < handler.actorsLength(); ++i) {
            address a = handler.actors(i);
            assertEq(
                token.balanceOf(a) + handler.spentByEvents(a),
                handler.FUND() + handler.receivedByEvents(a),
                "balance change != Tipped + Subscribed received - paid"
            );
            total += token.balanceOf(a);
        }
        assertEq(total, handler.FUND() * handler.actorsLength(), "tokens appeared or vanished");
    }

    /// @notice subscribedUntil never decreases, and isSubscribed is exactly `subscribedUntil > now`.
    function invariant_subscriptionsNeverShrink() public view {
        assertFalse(handler.untilDecreased(), "a subscription's end moved back");
        for (uint256 i; i < handler.actorsLength(); ++i) {
            for (uint256 j; j < handler.actorsLength(); ++j) {
                (address s, address v) = (handler.actors(i), handler.actors(j));
                assertEq(streamSupport.isSubscribed(s, v), streamSupport.subscribedUntil(s, v) > block.timestamp);
                if (i == j) assertEq(streamSupport.subscribedUntil(s, v), 0, "subscribed to oneself");
            }
        }
    }

    /// @notice A subscription is billed price × periods at the streamer's current price, never more per
    ///         period than the subscriber's max, and runs from max(now, its end) for periods × PERIOD.
    function invariant_subscriptionsBilledExactly() public view {
        assertFalse(handler.subscriptionMisbilled(), "a subscription was misbilled or mis-extended");
        assertFalse(handler.paidAboveMax(), "a subscriber paid above its max price");
    }
}
