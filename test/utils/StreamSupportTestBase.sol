// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "./Fixture.sol";
import {IStreamSupport} from "../../contracts/interfaces/IStreamSupport.sol";

/// @notice Helpers shared by the StreamSupport unit, fuzz and attack tests: a streamer, viewers with
///         tokens and approval, and balance probes.
abstract contract StreamSupportTestBase is Fixture {
    uint256 internal constant PERIOD = 30 days;
    uint256 internal constant VIEWER_FUNDS = 100_000 ether;

    address internal streamer;
    address internal viewer;
    address internal viewer2;

    function setUp() public virtual override {
        super.setUp();
        streamer = makeAddr("streamer");
        viewer = newViewer("viewer");
        viewer2 = newViewer("viewer2");
        vm.warp(1_700_000_000);
    }

    /// @dev An account holding VIEWER_FUNDS that approved StreamSupport for all of it.
    function newViewer(string memory name) internal returns (address v) {
        v = makeAddr(name);
        give(v, VIEWER_FUNDS);
        vm.prank(v);
        token.approve(address(streamSupport), type(uint256).max);
    }

    function setPrice(address who, uint256 price) internal {
        vm.prank(who);
        streamSupport.setSubscriptionPrice(price);
    }

    function subscribeAs(address who, address to, uint256 periods) internal returns (uint256 until) {
        vm.prank(who);
        until = streamSupport.subscribe(to, periods, type(uint256).max);
    }

    function tipAs(address who, address to, uint256 amount, string memory text) internal {
        vm.prank(who);
        streamSupport.tip(to, amount, text);
    }

    function message(uint256 length) internal pure returns (string memory) {
        bytes memory b = new bytes(length);
        for (uint256 i; i < length; ++i) {
            b[i] = "a";
        }
        return string(b);
    }

    function _errPeriods(uint256 periods) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IStreamSupport.InvalidPeriods.selector, periods, 12);
    }
}
