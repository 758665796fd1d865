// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IStakeVotes
/// @notice Bonded stake's voting record, read by the governance vote source (IVotePower) at a past
///         block. Timepoints are block numbers (ERC-6372 `mode=blocknumber&from=default`), like the
///         work token's ERC20Votes checkpoints, and must be in the past (`< block.number`).
/// @dev Bonded stake votes through the orchestrator it is delegated to: an orchestrator's stake votes
///      are its whole pool (its own stake and its delegators'). A delegator may override its
///      orchestrator's vote with its own position (OpenZeppelin's GovernorCountingOverridable), which
///      takes that weight out of the orchestrator's vote. For every orchestrator `o` and past block
///      `t`: Σ getPastBondedStake(d, t) over the accounts `d` with getPastDelegateOf(d, t) == o is at
///      most getPastPoolStake(o, t), so overrides never count stake twice nor eat into other votes.
interface IStakeVotes {
    /// @notice Thrown when a lookup asks for the current block or a later one.
    error FutureLookup(uint256 timepoint, uint256 currentBlock);

    /// @notice The stake bonded to `orchestrator`'s pool now (what `getPastPoolStake` will return for
    ///         this block once it is past).
    function getPoolStake(address orchestrator) external view returns (uint256);

    /// @notice The stake bonded to `orchestrator`'s pool at the end of block `timepoint` (its own and
    ///         its delegators', rewards included): the stake votes it casts.
    function getPastPoolStake(address orchestrator, uint256 timepoint) external view returns (uint256);

    /// @notice `account`'s own bonded position now, as last settled (what `getPastBondedStake` will
    ///         return for this block once it is past).
    function getBondedStake(address account) external view returns (uint256);

    /// @notice `account`'s own bonded position at the end of block `timepoint` as last settled (a
    ///         lower bound of its value: rewards not yet claimed are left out): the weight it may
    ///         override its orchestrator's vote with.
    function getPastBondedStake(address account, uint256 timepoint) external view returns (uint256);

    /// @notice The orchestrator `account`'s stake was delegated to at the end of block `timepoint`
    ///         (zero: none).
    function getPastDelegateOf(address account, uint256 timepoint) external view returns (address);
}
