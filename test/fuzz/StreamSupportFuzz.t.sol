// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StreamSupportTestBase} from "../utils/StreamSupportTestBase.sol";
import {IStreamSupport} from "../../contracts/interfaces/IStreamSupport.sol";

/// @notice Issue 19: fuzzing of amounts, messages, periods, prices and price changes.
contract StreamSupportFuzzTest is StreamSupportTestBase {
    /// @notice Any tip within the viewer's funds moves exactly its amount, viewer to streamer.
    function testFuzz_Tip_MovesExactlyTheAmount(uint256 amount, uint256 length) public {
        amount = _bound(amount, 1, VIEWER_FUNDS);
        length = _bound(length, 0, 280);
        tipAs(viewer, streamer, amount, message(length));
        assertEq(token.balanceOf(streamer), amount);
        assertEq(token.balanceOf(viewer), VIEWER_FUNDS - amount);
        assertEq(token.balanceOf(address(streamSupport)), 0);
    }

    /// @notice A message longer than 280 bytes is refused, whatever the amount.
    function testFuzz_Tip_LongMessagesRefused(uint256 amount, uint256 length) public {
        amount = _bound(amount, 1, VIEWER_FUNDS);
        length = _bound(length, 281, 2000);
        vm.prank(viewer);
        vm.expectRevert(abi.encodeWithSelector(IStreamSupport.MessageTooLong.selector, length, 280));
        streamSupport.tip(streamer, amount, message(length));
    }

    /// @notice subscribe charges price × periods and adds periods × PERIOD to max(now, until).
    function testFuzz_Subscribe_ChargesAndExtends(uint256 price, uint256 periods, uint256 wait, uint256 firstPeriods)
        public
    {
        price = _bound(price, 1, VIEWER_FUNDS / 24);
        periods = _bound(periods, 1, 12);
        firstPeriods = _bound(firstPeriods, 0, 12);
        wait = _bound(wait, 0, 800 days);
        setPrice(streamer, price);
        if (firstPeriods > 0) subscribeAs(viewer, streamer, firstPeriods);
        vm.warp(block.timestamp + wait);
        uint256 before = streamSupport.subscribedUntil(streamer, viewer);
        uint256 paidBefore = token.balanceOf(streamer);
        uint256 until = subscribeAs(viewer, streamer, periods);
        uint256 from = before > block.timestamp ? before : block.timestamp;
        assertEq(until, from + periods * PERIOD);
        assertEq(streamSupport.subscribedUntil(streamer, viewer), until);
        assertEq(token.balanceOf(streamer) - paidBefore, price * periods);
        assertTrue(streamSupport.isSubscribed(streamer, viewer));
        assertEq(token.balanceOf(address(streamSupport)), 0);
    }

    /// @notice Whatever the streamer's price moves between the viewer's quote and its subscription,
    ///         the viewer pays the current price if it is within its max, else nothing.
    function testFuzz_Subscribe_NeverAboveTheSubscribersMax(uint256 quoted, uint256 current, uint256 periods) public {
        quoted = _bound(quoted, 1, VIEWER_FUNDS / 12);
        current = _bound(current, 0, VIEWER_FUNDS / 12 * 2);
        periods = _bound(periods, 1, 12);
        setPrice(streamer, quoted);
        setPrice(streamer, current); // the streamer's change lands first
        vm.prank(viewer);
        (bool ok, bytes memory err) =
            address(streamSupport).call(abi.encodeCall(IStreamSupport.subscribe, (streamer, periods, quoted)));
        uint256 paid = VIEWER_FUNDS - token.balanceOf(viewer);
        if (current == 0) {
            assertEq(err, abi.encodeWithSelector(IStreamSupport.SubscriptionsClosed.selector, streamer));
        } else if (current > quoted) {
            assertEq(err, abi.encodeWithSelector(IStreamSupport.PriceAboveMax.selector, current, quoted));
        }
        assertEq(ok, current != 0 && current <= quoted);
        assertEq(paid, ok ? current * periods : 0);
        assertLe(paid, quoted * periods);
    }

    /// @notice Periods outside 1..12 are refused before anything is read or paid.
    function testFuzz_Subscribe_PeriodsOutOfRange(uint256 periods) public {
        vm.assume(periods == 0 || periods > 12);
        setPrice(streamer, 1 ether);
        vm.prank(viewer);
        vm.expectRevert(_errPeriods(periods));
        streamSupport.subscribe(streamer, periods, type(uint256).max);
    }

    /// @notice Any price up to the cap can be set; above it, refused.
    function testFuzz_SetSubscriptionPrice(uint256 price) public {
        uint256 max = streamSupport.MAX_PRICE_PER_PERIOD();
        vm.prank(streamer);
        (bool ok, bytes memory err) =
            address(streamSupport).call(abi.encodeCall(IStreamSupport.setSubscriptionPrice, (price)));
        assertEq(ok, price <= max);
        if (!ok) assertEq(err, abi.encodeWithSelector(IStreamSupport.PriceTooHigh.selector, price, max));
        assertEq(streamSupport.subscriptionPrice(streamer), ok ? price : 0);
    }
}
