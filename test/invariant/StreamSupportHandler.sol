// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {Vm} from "forge-std/Vm.sol";
import {WorkToken} from "../../contracts/WorkToken.sol";
import {StreamSupport} from "../../contracts/StreamSupport.sol";
import {IStreamSupport} from "../../contracts/interfaces/IStreamSupport.sol";

/// @notice Drives StreamSupport with bounded inputs over 5 accounts, each both a streamer and a
///         viewer, and keeps ghost accounting from the events (Tipped, Subscribed) for the invariants
///         in StreamSupportInvariants.t.sol.
contract StreamSupportHandler is Test {
    uint256 public constant FUND = 1_000_000 ether;

    WorkToken public immutable token;
    StreamSupport public immutable support;
    address[] public actors;

    /* GHOSTS */

    mapping(address => uint256) public receivedByEvents; // Σ Tipped.amount + Σ Subscribed.paid to it
    mapping(address => uint256) public spentByEvents; // Σ of the same, paid by it
    mapping(address streamer => mapping(address subscriber => uint256)) public lastUntil;
    bool public untilDecreased;
    bool public subscriptionMisbilled; // paid ≠ price × periods, until ≠ max(now, until) + periods × PERIOD
    bool public paidAboveMax; // a subscriber charged more per period than it agreed to
    bool public eventMismatch; // a successful call without its one event, or with other values
    mapping(bytes32 => uint256) public succeeded;

    constructor(WorkToken token_, StreamSupport support_) {
        (token, support) = (token_, support_);
        for (uint256 i; i < 5; ++i) {
            actors.push(makeAddr(string.concat("support-actor", vm.toString(i))));
        }
    }

    /// @dev Every actor approves StreamSupport once; the test gives them FUND each.
    function approveAll() external {
        for (uint256 i; i < actors.length; ++i) {
            vm.prank(actors[i]);
            token.approve(address(support), type(uint256).max);
        }
    }

    function actorsLength() external view returns (uint256) {
        return actors.length;
    }

    /// @dev After each step: no subscription of any pair went down.
    modifier checked() {
        vm.recordLogs();
        _;
        _scanLogs();
        for (uint256 i; i < actors.length; ++i) {
            for (uint256 j; j < actors.length; ++j) {
                uint256 until = support.subscribedUntil(actors[i], actors[j]);
                if (until < lastUntil[actors[i]][actors[j]]) untilDecreased = true;
                lastUntil[actors[i]][actors[j]] = until;
            }
        }
    }

    /* ACTIONS */

    function tip(uint256 fromSeed, uint256 toSeed, uint256 amount, uint256 length) external checked {
        (address from, address to) = _pair(fromSeed, toSeed);
        amount = _b(amount, 0, 1000 ether); // 0 is refused
        length = _b(length, 0, 300); // above 280 is refused
        vm.prank(from);
        try support.tip(to, amount, _message(length)) {
            succeeded["tip"]++;
        } catch {}
    }

    function setPrice(uint256 streamerSeed, uint256 price) external checked {
        address s = actors[streamerSeed % actors.length];
        uint256 k = price % 8;
        // mostly affordable prices, sometimes 0 (closed), sometimes beyond the cap (refused)
        price = k == 0 ? 0 : k == 1 ? type(uint256).max - (price >> 8) % 3 : _b(price >> 8, 1, 100 ether);
        vm.prank(s);
        try support.setSubscriptionPrice(price) {
            succeeded["setPrice"]++;
        } catch {}
    }

    /// @notice A subscription at the price the viewer quotes; the streamer may change its price just
    ///         before it lands (a front-run), within the viewer's max or above it.
    function subscribe(uint256 fromSeed, uint256 toSeed, uint256 periods, uint256 slack, uint256 frontRun)
        external
        checked
    {
        (address from, address to) = _pair(fromSeed, toSeed);
        periods = _b(periods, 0, 13); // 0 and 13 are refused
        uint256 quoted = support.subscriptionPrice(to);
        uint256 maxPrice = quoted + (slack % 3 == 0 ? 0 : _b(slack >> 2, 0, 10 ether));
        if (frontRun % 4 == 0) {
            vm.prank(to);
            try support.setSubscriptionPrice(_b(frontRun >> 2, 0, 120 ether)) {} catch {}
        }
        uint256 price = support.subscriptionPrice(to);
        uint256 before = support.subscribedUntil(to, from);
        uint256 balanceBefore = token.balanceOf(from);
        vm.prank(from);
        try support.subscribe(to, periods, maxPrice) returns (uint256 until) {
            succeeded["subscribe"]++;
            uint256 paid = balanceBefore - token.balanceOf(from);
            uint256 start = before > block.timestamp ? before : block.timestamp;
            if (paid != price * periods || until != start + periods * support.PERIOD()) subscriptionMisbilled = true;
            if (support.subscribedUntil(to, from) != until) subscriptionMisbilled = true;
            if (paid > maxPrice * periods || price > maxPrice) paidAboveMax = true;
        } catch {}
    }

    function warp(uint256 secondsAhead) external checked {
        vm.warp(block.timestamp + _b(secondsAhead, 1, 90 days));
    }

    /* EVENTS */

    function _scanLogs() internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            Vm.Log memory log = logs[i];
            if (log.emitter != address(support)) continue;
            bytes32 sig = log.topics[0];
            if (sig == IStreamSupport.Tipped.selector) {
                (uint256 amount,) = abi.decode(log.data, (uint256, string));
                _credit(address(uint160(uint256(log.topics[1]))), address(uint160(uint256(log.topics[2]))), amount);
            } else if (sig == IStreamSupport.Subscribed.selector) {
                (, uint256 paid,) = abi.decode(log.data, (uint256, uint256, uint256));
                _credit(address(uint160(uint256(log.topics[1]))), address(uint160(uint256(log.topics[2]))), paid);
            }
        }
    }

    function _credit(address streamer, address from, uint256 amount) internal {
        receivedByEvents[streamer] += amount;
        spentByEvents[from] += amount;
    }

    /* HELPERS */

    /// @dev Two accounts, distinct most of the time (the same one is refused: paying oneself).
    function _pair(uint256 fromSeed, uint256 toSeed) internal view returns (address, address) {
        address from = actors[fromSeed % actors.length];
        address to = toSeed % 16 == 0 ? from : actors[(fromSeed % actors.length + 1 + toSeed % 4) % actors.length];
        return (from, to);
    }

    function _message(uint256 length) internal pure returns (string memory) {
        bytes memory b = new bytes(length);
        for (uint256 i; i < length; ++i) {
            b[i] = bytes1(uint8(0x61 + i % 26));
        }
        return string(b);
    }

    function _b(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        return min + x % (max - min + 1);
    }
}
