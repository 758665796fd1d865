// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title PeerflowTimelock
/// @notice The owner of every peerflow contract and the treasury: OpenZeppelin's TimelockController,
///         whose proposer, canceller and executor is the PeerflowGovernor once deployment is done
///         (script/SuiteDeployer.sol), and whose only admin is itself. Its delay is governable, within
///         bounds fixed at construction: `updateDelay` (only through an executed operation of this
///         timelock) refuses a delay below `MIN_DELAY` (holders could not react to a passed proposal
///         before it runs) or above `MAX_DELAY` (governance could lock itself out for years).
/// @dev The constructor accepts an initial delay of 0 (below `MIN_DELAY`) so that a deployer holding
///      the temporary roles can accept ownerships and set the real delay in one batch at once; the
///      first `updateDelay` brings it inside the bounds, and every later one keeps it there.
contract PeerflowTimelock is TimelockController {
    /// @notice Largest `MAX_DELAY` a deployment may choose (beyond it a mistaken bound locks the suite).
    uint256 public constant DELAY_BOUND_LIMIT = 365 days;

    /// @notice Smallest delay `updateDelay` accepts (seconds).
    uint256 public immutable MIN_DELAY;
    /// @notice Largest delay `updateDelay` accepts (seconds).
    uint256 public immutable MAX_DELAY;

    /// @notice The bounds given to the constructor are inconsistent: `0 < min ≤ max ≤ DELAY_BOUND_LIMIT`.
    error InvalidDelayBounds(uint256 min, uint256 max);
    /// @notice A delay outside `[min, max]` (an initial one may also be 0).
    error DelayOutOfBounds(uint256 delay, uint256 min, uint256 max);

    /// @param minDelay Initial delay: 0 (bootstrap, see above) or within `[minDelayBound, maxDelayBound]`.
    /// @param proposers Accounts granted the proposer and canceller roles.
    /// @param executors Accounts granted the executor role (address(0): anyone).
    /// @param admin Optional extra admin (address(0): none), to be renounced after setup.
    /// @param minDelayBound `MIN_DELAY` (> 0).
    /// @param maxDelayBound `MAX_DELAY` (≥ `minDelayBound`, ≤ `DELAY_BOUND_LIMIT`).
    constructor(
        uint256 minDelay,
        address[] memory proposers,
        address[] memory executors,
        address admin,
        uint256 minDelayBound,
        uint256 maxDelayBound
    ) TimelockController(minDelay, proposers, executors, admin) {
        if (minDelayBound == 0 || minDelayBound > maxDelayBound || maxDelayBound > DELAY_BOUND_LIMIT) {
            revert InvalidDelayBounds(minDelayBound, maxDelayBound);
        }
        if (minDelay != 0 && (minDelay < minDelayBound || minDelay > maxDelayBound)) {
            revert DelayOutOfBounds(minDelay, minDelayBound, maxDelayBound);
        }
        MIN_DELAY = minDelayBound;
        MAX_DELAY = maxDelayBound;
    }

    /// @notice Changes the delay of operations scheduled from now on. Only the timelock itself (an
    ///         executed operation); `MIN_DELAY ≤ newDelay ≤ MAX_DELAY`. Emits `MinDelayChange`.
    function updateDelay(uint256 newDelay) public override {
        if (msg.sender != address(this)) revert TimelockUnauthorizedCaller(msg.sender);
        if (newDelay < MIN_DELAY || newDelay > MAX_DELAY) revert DelayOutOfBounds(newDelay, MIN_DELAY, MAX_DELAY);
        super.updateDelay(newDelay);
    }
}
