// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IStreamSupport
/// @notice Viewers support streamers in one ERC-20 fixed at deployment (the work token on the devnet):
///         one-off tips with a short public message, and subscriptions bought by the period (30 days)
///         at the price the streamer set. Nothing is custodied: every payment is one `transferFrom`
///         from the payer straight to the streamer (approve this contract first), and the contract's
///         own balance stays zero. No owner, no admin, no fee. A subscription is a public record
///         (`subscribedUntil`) that the streamer's paywall reads; paying extends it from its current
///         end, or from now if it has lapsed, and it never shrinks: a streamer that changes its price
///         or closes subscriptions leaves the periods already paid for in place.
///         Tokens that deliver less than the amount transferred (transfer fees) are refused: every
///         event states exactly what the streamer received.
interface IStreamSupport {
    /* EVENTS */

    /// @notice `from` paid `amount` to `streamer`, with `message` (at most MAX_MESSAGE_BYTES bytes of
    ///         UTF-8 as given: not validated, display it as untrusted text).
    event Tipped(address indexed streamer, address indexed from, uint256 amount, string message);
    /// @notice `streamer` set its price per PERIOD; 0 closes new subscriptions and extensions.
    event SubscriptionPriceSet(address indexed streamer, uint256 pricePerPeriod);
    /// @notice `subscriber` paid `paid` (= price × periods) to `streamer`; its subscription now runs
    ///         until `until` (unix seconds, exclusive).
    event Subscribed(
        address indexed streamer, address indexed subscriber, uint256 periods, uint256 paid, uint256 until
    );

    /* ERRORS */

    /// @notice The constructor was given the zero address as token.
    error ZeroToken();
    /// @notice A tip of 0.
    error ZeroAmount();
    /// @notice The streamer is the zero address, the caller itself or this contract.
    error InvalidStreamer(address streamer);
    /// @notice The tip's message has `length` bytes, more than `max`.
    error MessageTooLong(uint256 length, uint256 max);
    /// @notice `streamer` has no subscription price (never set, or set to 0).
    error SubscriptionsClosed(address streamer);
    /// @notice The streamer's price is above the most the subscriber agreed to pay per period (it
    ///         was raised after the subscriber quoted it, perhaps in the same block).
    error PriceAboveMax(uint256 pricePerPeriod, uint256 maxPricePerPeriod);
    /// @notice `periods` is 0 or more than `max`.
    error InvalidPeriods(uint256 periods, uint256 max);
    /// @notice A price per period above `max` (MAX_PRICE_PER_PERIOD), so that price × MAX_PERIODS
    ///         cannot overflow.
    error PriceTooHigh(uint256 pricePerPeriod, uint256 max);
    /// @notice The streamer's balance went from `balanceBefore` to `balanceAfter` instead of growing
    ///         by `amount` (a fee-on-transfer or rebasing token): nothing is paid.
    error UnsupportedToken(uint256 amount, uint256 balanceBefore, uint256 balanceAfter);

    /* CONSTANTS */

    /// @notice Length of one subscription period: 30 days.
    function PERIOD() external view returns (uint256);
    /// @notice Most periods bought in one `subscribe`: 12.
    function MAX_PERIODS() external view returns (uint256);
    /// @notice Longest tip message, in bytes: 280.
    function MAX_MESSAGE_BYTES() external view returns (uint256);
    /// @notice Highest price per period: type(uint256).max / MAX_PERIODS.
    function MAX_PRICE_PER_PERIOD() external view returns (uint256);

    /* TIPS */

    /// @notice Pays `amount` from the caller to `streamer` at once, with `message` for the stream.
    ///         Reverts `InvalidStreamer` (zero, the caller, this contract), `ZeroAmount`, `MessageTooLong`.
    function tip(address streamer, uint256 amount, string calldata message) external;

    /* SUBSCRIPTIONS */

    /// @notice Sets the caller's price per PERIOD for new subscriptions and extensions (any account
    ///         can be a streamer). 0 closes them; periods already paid for are untouched either way.
    ///         Reverts `PriceTooHigh` above MAX_PRICE_PER_PERIOD.
    function setSubscriptionPrice(uint256 pricePerPeriod) external;
    /// @notice Pays `streamer`'s current price × `periods` from the caller to `streamer`, and extends
    ///         the caller's subscription by `periods` × PERIOD from its current end, or from now if it
    ///         has lapsed or never existed. `maxPricePerPeriod` is the most the caller agrees to pay per
    ///         period: a price raised after the caller read it (front-running included) reverts
    ///         `PriceAboveMax` instead of charging more; a lower price is charged as it is.
    ///         Reverts `InvalidStreamer`, `InvalidPeriods` (0 or above MAX_PERIODS),
    ///         `SubscriptionsClosed` (price 0).
    /// @return until The new end of the subscription (unix seconds, exclusive).
    function subscribe(address streamer, uint256 periods, uint256 maxPricePerPeriod) external returns (uint256 until);

    /* VIEWS */

    /// @notice The ERC-20 in which tips and subscriptions are paid.
    function token() external view returns (address);
    /// @notice `streamer`'s price per PERIOD; 0: subscriptions closed.
    function subscriptionPrice(address streamer) external view returns (uint256);
    /// @notice When `subscriber`'s subscription to `streamer` ends (unix seconds, exclusive); 0: never
    ///         subscribed. Never decreases.
    function subscribedUntil(address streamer, address subscriber) external view returns (uint256);
    /// @notice Whether `subscriber` is subscribed to `streamer` now: `subscribedUntil > block.timestamp`.
    function isSubscribed(address streamer, address subscriber) external view returns (bool);
}
