// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC5805} from "@openzeppelin/contracts/interfaces/IERC5805.sol";
import {IStakeVotes} from "./IStakeVotes.sol";

/// @title IVotePower
/// @notice The governor's vote source: tokens held (the work token's ERC20Votes checkpoints, counted
///         for the account they are delegated to) plus bonded stake (counted for the orchestrator it is
///         bonded to, which delegators may override). Shaped as OpenZeppelin's VotesExtended, so that
///         GovernorVotes, GovernorVotesQuorumFraction and GovernorCountingOverridable read it as their
///         token. Timepoints are block numbers.
/// @dev Delegation is done where the units live: `WorkToken.delegate` for held tokens, `Staking.bond`
///      for stake. The IVotes delegation calls of this contract revert with `DelegateAtSource`.
interface IVotePower is IERC5805 {
    /// @notice Delegation happens on the work token (held tokens) or in Staking (bonded stake).
    error DelegateAtSource();
    /// @notice The token's clock is not the block number (ERC-6372 `mode=blocknumber&from=default`).
    error ClockMismatch(string tokenClockMode);
    /// @notice The token or the staking contract is the zero address.
    error ZeroSource();

    /// @notice The work token (ERC20Votes).
    function token() external view returns (IERC5805);

    /// @notice The staking contract (bonded stake votes).
    function staking() external view returns (IStakeVotes);

    /// @notice `account`'s own bonded stake at `timepoint`: the weight of its override vote
    ///         (GovernorCountingOverridable).
    function getPastBalanceOf(address account, uint256 timepoint) external view returns (uint256);

    /// @notice The orchestrator whose vote `account`'s override vote reduces, at `timepoint`.
    function getPastDelegate(address account, uint256 timepoint) external view returns (address);
}
