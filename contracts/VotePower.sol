// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC5805} from "@openzeppelin/contracts/interfaces/IERC5805.sol";
import {IERC6372} from "@openzeppelin/contracts/interfaces/IERC6372.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {IVotePower} from "./interfaces/IVotePower.sol";
import {IStakeVotes} from "./interfaces/IStakeVotes.sol";

/// @title VotePower
/// @notice The governor's vote source: an account's votes are the work tokens delegated to it (the
///         token's ERC20Votes checkpoints) plus the stake bonded to its pool if it is an orchestrator
///         (Staking's checkpoints). A delegator's own bonded stake is its override weight, taken out
///         of its orchestrator's vote (GovernorCountingOverridable). Stateless: it reads both sources.
/// @dev Quorum is a fraction of the token's total supply, which counts every token once whether it
///      is held or bonded (bonded tokens are Staking's balance, which never delegates). A token bonded
///      in Staking therefore never votes as held tokens, and Σ votes ≤ total supply at every block.
contract VotePower is IVotePower {
    /* CONSTANTS */

    string internal constant BLOCK_NUMBER_MODE = "mode=blocknumber&from=default";

    /* IMMUTABLES */

    /// @inheritdoc IVotePower
    IERC5805 public immutable token;
    /// @inheritdoc IVotePower
    IStakeVotes public immutable staking;

    /* CONSTRUCTOR */

    /// @param token_ The work token (ERC20Votes, block-number clock).
    /// @param staking_ Staking (IStakeVotes, block numbers).
    constructor(IERC5805 token_, IStakeVotes staking_) {
        if (address(token_) == address(0) || address(staking_) == address(0)) revert ZeroSource();
        string memory mode = token_.CLOCK_MODE();
        if (keccak256(bytes(mode)) != keccak256(bytes(BLOCK_NUMBER_MODE))) revert ClockMismatch(mode);
        token = token_;
        staking = staking_;
    }

    /* CLOCK */

    /// @inheritdoc IERC6372
    function clock() external view returns (uint48) {
        return uint48(block.number);
    }

    /// @inheritdoc IERC6372
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() external pure returns (string memory) {
        return BLOCK_NUMBER_MODE;
    }

    /* VOTES */

    /// @inheritdoc IVotes
    function getVotes(address account) external view returns (uint256) {
        return token.getVotes(account) + staking.getPoolStake(account);
    }

    /// @inheritdoc IVotes
    function getPastVotes(address account, uint256 timepoint) external view returns (uint256) {
        return token.getPastVotes(account, timepoint) + staking.getPastPoolStake(account, timepoint);
    }

    /// @inheritdoc IVotes
    function getPastTotalSupply(uint256 timepoint) external view returns (uint256) {
        return token.getPastTotalSupply(timepoint);
    }

    /// @inheritdoc IVotePower
    function getPastBalanceOf(address account, uint256 timepoint) external view returns (uint256) {
        return staking.getPastBondedStake(account, timepoint);
    }

    /// @inheritdoc IVotePower
    function getPastDelegate(address account, uint256 timepoint) external view returns (address) {
        return staking.getPastDelegateOf(account, timepoint);
    }

    /* DELEGATION */

    /// @inheritdoc IVotes
    function delegates(address account) external view returns (address) {
        return token.delegates(account);
    }

    /// @inheritdoc IVotes
    function delegate(address) external pure {
        revert DelegateAtSource();
    }

    /// @inheritdoc IVotes
    function delegateBySig(address, uint256, uint256, uint8, bytes32, bytes32) external pure {
        revert DelegateAtSource();
    }
}
