// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {StreamSupportTestBase} from "../utils/StreamSupportTestBase.sol";
import {StreamSupport} from "../../contracts/StreamSupport.sol";
import {IStreamSupport} from "../../contracts/interfaces/IStreamSupport.sol";

/// @notice A plain token whose holders may hold up to type(uint256).max (for price × periods at the cap).
contract HugeToken is ERC20 {
    constructor(address to) ERC20("Huge", "HUGE") {
        _mint(to, type(uint256).max);
    }
}

/// @notice Keeps 1% of every transfer between two holders (a fee-on-transfer token).
contract FeeToken is ERC20 {
    constructor(address to) ERC20("Fee", "FEE") {
        _mint(to, 1_000_000 ether);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            uint256 fee = value / 100;
            super._update(from, address(0xFEE), fee);
            value -= fee;
        }
        super._update(from, to, value);
    }
}

/// @notice A token that calls back into StreamSupport from inside a transfer (a hostile token the
///         work token is not: the test shows reentrancy gains nothing even then).
contract ReentrantToken is ERC20 {
    IStreamSupport public target;
    address public reenterTo;
    bool internal entered;

    constructor() ERC20("Reenter", "REE") {
        _mint(address(this), 1_000_000 ether);
    }

    function mintTo(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(IStreamSupport target_, address reenterTo_) external {
        (target, reenterTo) = (target_, reenterTo_);
        _approve(address(this), address(target_), type(uint256).max);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (address(target) != address(0) && !entered && from != address(0) && to != address(0)) {
            entered = true;
            target.subscribe(reenterTo, 1, type(uint256).max); // paid by this token contract
            entered = false;
        }
    }
}

/// @notice Issue 19: attacks on StreamSupport. Every function is public and takes no signature: the
///         attacker knows every price, subscription and pending transaction, and may be the streamer.
contract StreamSupportAttacksTest is StreamSupportTestBase {
    address internal mallory;

    function setUp() public override {
        super.setUp();
        mallory = newViewer("mallory");
    }

    /// @notice The streamer sees a subscribe at 5 per period in the mempool and raises its price to 50
    ///         in the same block, before it: the subscription reverts and the viewer pays nothing.
    ///         Lowering the price back after (a sandwich) gains it nothing either.
    function test_Attack_StreamerFrontRunsASubscribeWithAPriceRaise() public {
        setPrice(streamer, 5 ether);
        uint256 quoted = streamSupport.subscriptionPrice(streamer);
        setPrice(streamer, 50 ether); // front-run
        vm.prank(viewer);
        vm.expectRevert(abi.encodeWithSelector(IStreamSupport.PriceAboveMax.selector, 50 ether, quoted));
        streamSupport.subscribe(streamer, 12, quoted);
        setPrice(streamer, 5 ether); // back-run
        assertEq(token.balanceOf(viewer), VIEWER_FUNDS, "the viewer paid nothing");
        assertEq(token.balanceOf(streamer), 0);
        assertEq(streamSupport.subscribedUntil(streamer, viewer), 0);
    }

    /// @notice Nobody makes another account pay: tips and subscriptions always draw on the caller,
    ///         even when a viewer approved StreamSupport for everything it holds.
    function test_Attack_SpendingAnotherViewersApproval() public {
        setPrice(streamer, 1 ether);
        vm.startPrank(mallory);
        streamSupport.tip(streamer, 1 ether, "from viewer?");
        streamSupport.subscribe(streamer, 1, 1 ether);
        vm.stopPrank();
        assertEq(token.balanceOf(viewer), VIEWER_FUNDS, "the approving viewer paid nothing");
        assertEq(token.balanceOf(mallory), VIEWER_FUNDS - 2 ether);
        assertEq(streamSupport.subscribedUntil(streamer, viewer), 0, "and got no subscription");
    }

    /// @notice Another account cannot shorten, move or end a viewer's subscription: only the
    ///         subscriber's own payments write its record, and only upwards.
    function test_Attack_NobodyShortensAnothersSubscription() public {
        setPrice(streamer, 1 ether);
        uint256 until = subscribeAs(viewer, streamer, 3);
        subscribeAs(mallory, streamer, 1);
        setPrice(streamer, 0); // even the streamer: closing leaves paid time in place
        setPrice(streamer, 1 ether);
        assertEq(streamSupport.subscribedUntil(streamer, viewer), until);
    }

    /// @notice Extension arithmetic: buying 1 period 12 times, spread over time, ends where one
    ///         purchase of 12 periods would, as long as it never lapsed; and a lapse is never billed.
    function test_Attack_ExtensionArithmetic() public {
        setPrice(streamer, 1 ether);
        uint256 start = block.timestamp;
        for (uint256 i; i < 12; ++i) {
            subscribeAs(viewer, streamer, 1);
            vm.warp(block.timestamp + 7 days); // buys early each time
        }
        assertEq(streamSupport.subscribedUntil(streamer, viewer), start + 12 * PERIOD);
        vm.warp(start);
        subscribeAs(viewer2, streamer, 12);
        assertEq(streamSupport.subscribedUntil(streamer, viewer2), start + 12 * PERIOD);
        assertEq(token.balanceOf(streamer), 24 ether);
    }

    /// @notice price × periods at the very top of the range: the price is capped at
    ///         type(uint256).max / 12, so the product is exact for every period count (no wrap to a
    ///         small charge), and a price above the cap is refused when set, with its own error.
    function test_Attack_PriceTimesPeriodsCannotWrap() public {
        HugeToken huge = new HugeToken(viewer);
        StreamSupport support = new StreamSupport(address(huge));
        vm.prank(viewer);
        huge.approve(address(support), type(uint256).max);
        uint256 max = support.MAX_PRICE_PER_PERIOD();
        vm.prank(streamer);
        vm.expectRevert(abi.encodeWithSelector(IStreamSupport.PriceTooHigh.selector, max + 1, max));
        support.setSubscriptionPrice(max + 1);
        vm.prank(streamer);
        vm.expectRevert(abi.encodeWithSelector(IStreamSupport.PriceTooHigh.selector, type(uint256).max, max));
        support.setSubscriptionPrice(type(uint256).max);
        vm.prank(streamer);
        support.setSubscriptionPrice(max);
        vm.expectEmit(address(support));
        emit IStreamSupport.Subscribed(streamer, viewer, 12, max * 12, block.timestamp + 12 * PERIOD);
        vm.prank(viewer);
        support.subscribe(streamer, 12, max);
        assertEq(huge.balanceOf(streamer), max * 12, "charged the full product");
        assertGt(max * 12, type(uint256).max - 12);
    }

    /// @notice A fee-on-transfer token would deliver less than the event says: refused, nothing moves.
    function test_Attack_FeeOnTransferTokenIsRefused() public {
        FeeToken fee = new FeeToken(viewer);
        StreamSupport support = new StreamSupport(address(fee));
        vm.prank(viewer);
        fee.approve(address(support), type(uint256).max);
        vm.prank(viewer);
        vm.expectRevert(abi.encodeWithSelector(IStreamSupport.UnsupportedToken.selector, 100 ether, 0, 99 ether));
        support.tip(streamer, 100 ether, "");
        assertEq(fee.balanceOf(streamer), 0);
    }

    /// @notice A hostile token re-enters StreamSupport from inside the payment. Re-entering to pay
    ///         another streamer: both payments are exact and separately recorded, nothing stays in
    ///         the contract. Re-entering to pay the same streamer would make the outer payment look
    ///         larger than it is: refused as a whole.
    function test_Attack_ReentrantTokenGainsNothing() public {
        ReentrantToken ree = new ReentrantToken();
        StreamSupport support = new StreamSupport(address(ree));
        address other = makeAddr("otherStreamer");
        ree.mintTo(viewer, 100 ether);
        vm.prank(viewer);
        ree.approve(address(support), type(uint256).max);
        vm.prank(other);
        support.setSubscriptionPrice(2 ether);
        vm.prank(streamer);
        support.setSubscriptionPrice(2 ether);

        ree.arm(support, other);
        vm.prank(viewer);
        support.tip(streamer, 3 ether, "");
        assertEq(ree.balanceOf(streamer), 3 ether);
        assertEq(ree.balanceOf(other), 2 ether);
        assertEq(support.subscribedUntil(other, address(ree)), block.timestamp + PERIOD);
        assertEq(ree.balanceOf(address(support)), 0);

        ree.arm(support, streamer);
        vm.prank(viewer);
        vm.expectRevert(abi.encodeWithSelector(IStreamSupport.UnsupportedToken.selector, 3 ether, 3 ether, 8 ether));
        support.tip(streamer, 3 ether, "");
        assertEq(ree.balanceOf(streamer), 3 ether, "the whole reentrant tip reverted");
    }

    /// @notice Tips to the contract itself would be stuck for ever (it has no owner and no way out):
    ///         refused, so the contract never holds a token.
    function test_Attack_PaymentsToTheContractItselfAreRefused() public {
        vm.prank(viewer);
        vm.expectRevert(abi.encodeWithSelector(IStreamSupport.InvalidStreamer.selector, address(streamSupport)));
        streamSupport.tip(address(streamSupport), 1 ether, "");
        assertEq(token.balanceOf(address(streamSupport)), 0);
    }
}
