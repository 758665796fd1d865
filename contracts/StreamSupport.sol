// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {SafeERC20, IERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IStreamSupport} from "./interfaces/IStreamSupport.sol";

/// @title StreamSupport
/// @notice Tips and subscriptions from viewers to streamers, paid payer to streamer in one token.
/// @dev Accounting model: none of the tokens. Each payment is a single `transferFrom(payer, streamer)`
///      checked by the streamer's balance difference, so the contract never holds a token and has
///      nothing to withdraw, rescue or own. State is two public records per streamer: its price per
///      period, and per subscriber the end of the paid time, which only ever grows.
contract StreamSupport is IStreamSupport {
    using SafeERC20 for IERC20;

    /* CONSTANTS */

    /// @inheritdoc IStreamSupport
    uint256 public constant PERIOD = 30 days;
    /// @inheritdoc IStreamSupport
    uint256 public constant MAX_PERIODS = 12;
    /// @inheritdoc IStreamSupport
    uint256 public constant MAX_MESSAGE_BYTES = 280;
    /// @inheritdoc IStreamSupport
    uint256 public constant MAX_PRICE_PER_PERIOD = type(uint256).max / MAX_PERIODS;

    /* IMMUTABLES */

    IERC20 internal immutable _token;

    /* STORAGE */

    /// @dev Written only by the streamer itself (setSubscriptionPrice); read by subscribe.
    mapping(address streamer => uint256) internal _prices;
    /// @dev Written only by the subscriber's own subscribe, always upwards.
    mapping(address streamer => mapping(address subscriber => uint256)) internal _until;

    /* CONSTRUCTOR */

    /// @param token_ The ERC-20 in which viewers pay (the devnet uses the work token).
    constructor(address token_) {
        if (token_ == address(0)) revert ZeroToken();
        _token = IERC20(token_);
    }

    /* TIPS */

    /// @inheritdoc IStreamSupport
    function tip(address streamer, uint256 amount, string calldata message) external {
        _requireStreamer(streamer);
        if (amount == 0) revert ZeroAmount();
        uint256 length = bytes(message).length;
        if (length > MAX_MESSAGE_BYTES) revert MessageTooLong(length, MAX_MESSAGE_BYTES);
        emit Tipped(streamer, msg.sender, amount, message);
        _pay(streamer, amount);
    }

    /* SUBSCRIPTIONS */

    /// @inheritdoc IStreamSupport
    function setSubscriptionPrice(uint256 pricePerPeriod) external {
        if (pricePerPeriod > MAX_PRICE_PER_PERIOD) revert PriceTooHigh(pricePerPeriod, MAX_PRICE_PER_PERIOD);
        _prices[msg.sender] = pricePerPeriod;
        emit SubscriptionPriceSet(msg.sender, pricePerPeriod);
    }

    /// @inheritdoc IStreamSupport
    function subscribe(address streamer, uint256 periods, uint256 maxPricePerPeriod) external returns (uint256 until) {
        _requireStreamer(streamer);
        if (periods == 0 || periods > MAX_PERIODS) revert InvalidPeriods(periods, MAX_PERIODS);
        uint256 price = _prices[streamer];
        if (price == 0) revert SubscriptionsClosed(streamer);
        if (price > maxPricePerPeriod) revert PriceAboveMax(price, maxPricePerPeriod);

        // Cannot overflow: price ≤ MAX_PRICE_PER_PERIOD = max / MAX_PERIODS and periods ≤ MAX_PERIODS.
        uint256 paid = price * periods;
        uint256 current = _until[streamer][msg.sender];
        // A lapsed subscription restarts now: time that passed unpaid is not sold again.
        until = (current > block.timestamp ? current : block.timestamp) + periods * PERIOD;
        _until[streamer][msg.sender] = until;
        emit Subscribed(streamer, msg.sender, periods, paid, until);
        _pay(streamer, paid);
    }

    /* VIEWS */

    /// @inheritdoc IStreamSupport
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IStreamSupport
    function subscriptionPrice(address streamer) external view returns (uint256) {
        return _prices[streamer];
    }

    /// @inheritdoc IStreamSupport
    function subscribedUntil(address streamer, address subscriber) external view returns (uint256) {
        return _until[streamer][subscriber];
    }

    /// @inheritdoc IStreamSupport
    function isSubscribed(address streamer, address subscriber) external view returns (bool) {
        return _until[streamer][subscriber] > block.timestamp;
    }

    /* INTERNAL */

    /// @dev This contract is no streamer either: a payment to it would be held here for ever.
    function _requireStreamer(address streamer) internal view {
        if (streamer == address(0) || streamer == msg.sender || streamer == address(this)) {
            revert InvalidStreamer(streamer);
        }
    }

    /// @dev Moves `amount` from the caller straight to `streamer` (after every state write and event);
    ///      the streamer's balance must grow by exactly `amount`, so no event overstates a payment.
    function _pay(address streamer, uint256 amount) internal {
        uint256 balanceBefore = _token.balanceOf(streamer);
        _token.safeTransferFrom(msg.sender, streamer, amount);
        uint256 balanceAfter = _token.balanceOf(streamer);
        if (balanceAfter != balanceBefore + amount) revert UnsupportedToken(amount, balanceBefore, balanceAfter);
    }
}
