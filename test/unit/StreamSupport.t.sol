// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StreamSupportTestBase} from "../utils/StreamSupportTestBase.sol";
import {StreamSupport} from "../../contracts/StreamSupport.sol";
import {IStreamSupport} from "../../contracts/interfaces/IStreamSupport.sol";

/// @notice Issue 19: tips and subscriptions, paid payer to streamer, never held.
contract StreamSupportTest is StreamSupportTestBase {
    /* DEPLOYMENT */

    function test_Deployment_OnTheWorkTokenWithTheDocumentedConstants() public view {
        assertEq(streamSupport.token(), address(token));
        assertEq(streamSupport.PERIOD(), 30 days);
        assertEq(streamSupport.MAX_PERIODS(), 12);
        assertEq(streamSupport.MAX_MESSAGE_BYTES(), 280);
        assertEq(streamSupport.MAX_PRICE_PER_PERIOD(), type(uint256).max / 12);
    }

    function test_RevertWhen_DeployedOnTheZeroToken() public {
        vm.expectRevert(IStreamSupport.ZeroToken.selector);
        new StreamSupport(address(0));
    }

    /* TIPS */

    function test_Tip_MovesTheAmountFromViewerToStreamer() public {
        vm.expectEmit(address(streamSupport));
        emit IStreamSupport.Tipped(streamer, viewer, 3 ether, "great stream!");
        tipAs(viewer, streamer, 3 ether, "great stream!");
        assertEq(token.balanceOf(streamer), 3 ether);
        assertEq(token.balanceOf(viewer), VIEWER_FUNDS - 3 ether);
        assertEq(token.balanceOf(address(streamSupport)), 0, "nothing held");
    }

    function test_Tip_EmptyAndLongestMessages() public {
        tipAs(viewer, streamer, 1, "");
        string memory longest = message(280);
        vm.expectEmit(address(streamSupport));
        emit IStreamSupport.Tipped(streamer, viewer, 1, longest);
        tipAs(viewer, streamer, 1, longest);
        assertEq(token.balanceOf(streamer), 2);
    }

    function test_Tip_MessageLengthCountsBytesNotCharacters() public {
        // 70 four-byte characters: 280 bytes, accepted; one more byte is refused.
        bytes memory emoji = bytes(unicode"🎉");
        assertEq(emoji.length, 4);
        bytes memory m;
        for (uint256 i; i < 70; ++i) {
            m = bytes.concat(m, emoji);
        }
        tipAs(viewer, streamer, 1, string(m));
        vm.prank(viewer);
        vm.expectRevert(abi.encodeWithSelector(IStreamSupport.MessageTooLong.selector, 281, 280));
        streamSupport.tip(streamer, 1, string(bytes.concat(m, "!")));
    }

    function test_RevertWhen_TipMessageTooLong() public {
        vm.prank(viewer);
        vm.expectRevert(abi.encodeWithSelector(IStreamSupport.MessageTooLong.selector, 281, 280));
        streamSupport.tip(streamer, 1 ether, message(281));
    }

    function test_RevertWhen_TipIsZero() public {
        vm.prank(viewer);
        vm.expectRevert(IStreamSupport.ZeroAmount.selector);
        streamSupport.tip(streamer, 0, "hi");
    }

    function test_RevertWhen_TipToZeroSelfOrTheContract() public {
        address[3] memory bad = [address(0), viewer, address(streamSupport)];
        for (uint256 i; i < bad.length; ++i) {
            vm.prank(viewer);
            vm.expectRevert(abi.encodeWithSelector(IStreamSupport.InvalidStreamer.selector, bad[i]));
            streamSupport.tip(bad[i], 1 ether, "hi");
        }
    }

    function test_RevertWhen_TipWithoutAllowanceOrBalance() public {
        address broke = makeAddr("broke");
        vm.prank(broke);
        token.approve(address(streamSupport), type(uint256).max);
        vm.prank(broke);
        vm.expectRevert(); // the token's own ERC20InsufficientBalance
        streamSupport.tip(streamer, 1, "");
        address stingy = makeAddr("stingy");
        give(stingy, 10 ether);
        vm.prank(stingy);
        vm.expectRevert(); // ERC20InsufficientAllowance
        streamSupport.tip(streamer, 1, "");
        assertEq(token.balanceOf(streamer), 0);
    }

    /* PRICES */

    function test_SetSubscriptionPrice_ByTheStreamerForItself() public {
        assertEq(streamSupport.subscriptionPrice(streamer), 0);
        vm.expectEmit(address(streamSupport));
        emit IStreamSupport.SubscriptionPriceSet(streamer, 5 ether);
        setPrice(streamer, 5 ether);
        assertEq(streamSupport.subscriptionPrice(streamer), 5 ether);
        assertEq(streamSupport.subscriptionPrice(viewer), 0, "per streamer");
        vm.expectEmit(address(streamSupport));
        emit IStreamSupport.SubscriptionPriceSet(streamer, 0);
        setPrice(streamer, 0);
        assertEq(streamSupport.subscriptionPrice(streamer), 0);
    }

    function test_SetSubscriptionPrice_UpToTheMaximum() public {
        uint256 max = streamSupport.MAX_PRICE_PER_PERIOD();
        setPrice(streamer, max);
        assertEq(streamSupport.subscriptionPrice(streamer), max);
        vm.prank(streamer);
        vm.expectRevert(abi.encodeWithSelector(IStreamSupport.PriceTooHigh.selector, max + 1, max));
        streamSupport.setSubscriptionPrice(max + 1);
        assertEq(streamSupport.subscriptionPrice(streamer), max);
    }

    /* SUBSCRIPTIONS */

    function test_Subscribe_PaysPriceTimesPeriodsAndRunsFromNow() public {
        setPrice(streamer, 5 ether);
        uint256 until = block.timestamp + 3 * PERIOD;
        vm.expectEmit(address(streamSupport));
        emit IStreamSupport.Subscribed(streamer, viewer, 3, 15 ether, until);
        vm.prank(viewer);
        assertEq(streamSupport.subscribe(streamer, 3, 5 ether), until);
        assertEq(streamSupport.subscribedUntil(streamer, viewer), until);
        assertTrue(streamSupport.isSubscribed(streamer, viewer));
        assertFalse(streamSupport.isSubscribed(streamer, viewer2));
        assertEq(streamSupport.subscribedUntil(streamer, viewer2), 0);
        assertEq(token.balanceOf(streamer), 15 ether);
        assertEq(token.balanceOf(viewer), VIEWER_FUNDS - 15 ether);
        assertEq(token.balanceOf(address(streamSupport)), 0);
    }

    function test_Subscribe_EndsExactlyAtUntil() public {
        setPrice(streamer, 1 ether);
        uint256 until = subscribeAs(viewer, streamer, 1);
        vm.warp(until - 1);
        assertTrue(streamSupport.isSubscribed(streamer, viewer));
        vm.warp(until);
        assertFalse(streamSupport.isSubscribed(streamer, viewer));
    }

    function test_Subscribe_ExtendsFromTheCurrentEnd() public {
        setPrice(streamer, 1 ether);
        uint256 first = subscribeAs(viewer, streamer, 2);
        vm.warp(block.timestamp + 10 days);
        uint256 second = subscribeAs(viewer, streamer, 1);
        assertEq(second, first + PERIOD, "paid time is never lost");
        assertEq(streamSupport.subscribedUntil(streamer, viewer), second);
        assertEq(token.balanceOf(streamer), 3 ether);
    }

    function test_Subscribe_ALapsedSubscriptionRestartsNow() public {
        setPrice(streamer, 1 ether);
        uint256 first = subscribeAs(viewer, streamer, 1);
        vm.warp(first + 5 days);
        uint256 second = subscribeAs(viewer, streamer, 1);
        assertEq(second, block.timestamp + PERIOD, "lapsed time is not sold again");
    }

    function test_Subscribe_MaxPeriodsAtOnceAndPerSubscriber() public {
        setPrice(streamer, 1 ether);
        uint256 until = subscribeAs(viewer, streamer, 12);
        assertEq(until, block.timestamp + 12 * PERIOD);
        // Periods per call are bounded, not the total: a loyal viewer may prepay again.
        assertEq(subscribeAs(viewer, streamer, 12), until + 12 * PERIOD);
        subscribeAs(viewer2, streamer, 1);
        assertEq(streamSupport.subscribedUntil(streamer, viewer2), block.timestamp + PERIOD);
        assertEq(token.balanceOf(streamer), 25 ether);
    }

    function test_Subscribe_ChargesALoweredPrice() public {
        setPrice(streamer, 5 ether);
        setPrice(streamer, 2 ether);
        vm.prank(viewer);
        streamSupport.subscribe(streamer, 2, 5 ether);
        assertEq(token.balanceOf(streamer), 4 ether);
    }

    function test_Subscribe_PaidTimeSurvivesAPriceChangeOrClosing() public {
        setPrice(streamer, 1 ether);
        uint256 until = subscribeAs(viewer, streamer, 2);
        setPrice(streamer, 100 ether);
        assertEq(streamSupport.subscribedUntil(streamer, viewer), until);
        setPrice(streamer, 0);
        assertEq(streamSupport.subscribedUntil(streamer, viewer), until);
        assertTrue(streamSupport.isSubscribed(streamer, viewer));
    }

    function test_Subscribe_SubscriptionsArePerStreamer() public {
        address streamer2 = makeAddr("streamer2");
        setPrice(streamer, 1 ether);
        setPrice(streamer2, 1 ether);
        subscribeAs(viewer, streamer, 1);
        assertFalse(streamSupport.isSubscribed(streamer2, viewer));
    }

    function test_RevertWhen_SubscriptionsClosed() public {
        vm.prank(viewer);
        vm.expectRevert(abi.encodeWithSelector(IStreamSupport.SubscriptionsClosed.selector, streamer));
        streamSupport.subscribe(streamer, 1, 1 ether);
        setPrice(streamer, 1 ether);
        setPrice(streamer, 0);
        vm.prank(viewer);
        vm.expectRevert(abi.encodeWithSelector(IStreamSupport.SubscriptionsClosed.selector, streamer));
        streamSupport.subscribe(streamer, 1, 1 ether);
    }

    function test_RevertWhen_PriceAboveTheSubscribersMax() public {
        setPrice(streamer, 5 ether);
        vm.prank(viewer);
        vm.expectRevert(abi.encodeWithSelector(IStreamSupport.PriceAboveMax.selector, 5 ether, 5 ether - 1));
        streamSupport.subscribe(streamer, 1, 5 ether - 1);
    }

    function test_RevertWhen_PeriodsZeroOrAboveMax() public {
        setPrice(streamer, 1 ether);
        vm.startPrank(viewer);
        vm.expectRevert(_errPeriods(0));
        streamSupport.subscribe(streamer, 0, 1 ether);
        vm.expectRevert(_errPeriods(13));
        streamSupport.subscribe(streamer, 13, 1 ether);
        vm.expectRevert(_errPeriods(type(uint256).max));
        streamSupport.subscribe(streamer, type(uint256).max, 1 ether);
        vm.stopPrank();
    }

    function test_RevertWhen_SubscribingToZeroSelfOrTheContract() public {
        setPrice(viewer, 1 ether);
        address[3] memory bad = [address(0), viewer, address(streamSupport)];
        for (uint256 i; i < bad.length; ++i) {
            vm.prank(viewer);
            vm.expectRevert(abi.encodeWithSelector(IStreamSupport.InvalidStreamer.selector, bad[i]));
            streamSupport.subscribe(bad[i], 1, 1 ether);
        }
    }

    function test_RevertWhen_SubscriberCannotPay() public {
        setPrice(streamer, VIEWER_FUNDS);
        vm.prank(viewer);
        vm.expectRevert(); // the token's ERC20InsufficientBalance: all or nothing
        streamSupport.subscribe(streamer, 2, VIEWER_FUNDS);
        assertEq(streamSupport.subscribedUntil(streamer, viewer), 0);
    }
}
