// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC5805} from "@openzeppelin/contracts/interfaces/IERC5805.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {IVotePower} from "../../contracts/interfaces/IVotePower.sol";
import {IStakeVotes} from "../../contracts/interfaces/IStakeVotes.sol";

/// @notice A test double of the governor's vote source (IVotePower), block-number clock: held votes
///         (`giveVotes`, `moveVotes`) and bonded stake voted by an orchestrator (`bond`, `unbond`), each
///         checkpointed per block like the real source. Stake bonded by `d` to `o` counts in `o`'s votes
///         and is `d`'s override weight (`getPastBalanceOf`) with `o` as its `getPastDelegate`.
contract MockVotePower is IVotePower {
    using Checkpoints for Checkpoints.Trace208;

    error FutureLookup(uint256 timepoint, uint256 currentBlock);

    mapping(address => Checkpoints.Trace208) internal _votes;
    mapping(address => Checkpoints.Trace208) internal _stake;
    mapping(address => Checkpoints.Trace208) internal _stakeDelegate;
    Checkpoints.Trace208 internal _total;

    /* TEST CONTROLS */

    function giveVotes(address account, uint256 amount) external {
        _add(_votes[account], amount);
        _add(_total, amount);
    }

    /// @dev Moves held votes (a transfer or a change of token delegation).
    function moveVotes(address from, address to, uint256 amount) external {
        _sub(_votes[from], amount);
        _add(_votes[to], amount);
    }

    function bond(address delegator, address orchestrator, uint256 amount) external {
        address current = address(uint160(_stakeDelegate[delegator].latest()));
        require(current == address(0) || current == orchestrator, "bonded elsewhere");
        _stakeDelegate[delegator].push(_clock(), uint160(orchestrator));
        _add(_stake[delegator], amount);
        _add(_votes[orchestrator], amount);
        _add(_total, amount);
    }

    function unbond(address delegator) external {
        address orchestrator = address(uint160(_stakeDelegate[delegator].latest()));
        uint256 amount = _stake[delegator].latest();
        _sub(_stake[delegator], amount);
        _sub(_votes[orchestrator], amount);
        _sub(_total, amount);
        _stakeDelegate[delegator].push(_clock(), 0);
    }

    /* IVotePower */

    function token() external pure returns (IERC5805) {
        return IERC5805(address(0));
    }

    function staking() external pure returns (IStakeVotes) {
        return IStakeVotes(address(0));
    }

    function getPastBalanceOf(address account, uint256 timepoint) external view returns (uint256) {
        _past(timepoint);
        return _stake[account].upperLookupRecent(uint48(timepoint));
    }

    function getPastDelegate(address account, uint256 timepoint) external view returns (address) {
        _past(timepoint);
        return address(uint160(_stakeDelegate[account].upperLookupRecent(uint48(timepoint))));
    }

    function getVotes(address account) external view returns (uint256) {
        return _votes[account].latest();
    }

    function getPastVotes(address account, uint256 timepoint) external view returns (uint256) {
        _past(timepoint);
        return _votes[account].upperLookupRecent(uint48(timepoint));
    }

    function getPastTotalSupply(uint256 timepoint) external view returns (uint256) {
        _past(timepoint);
        return _total.upperLookupRecent(uint48(timepoint));
    }

    function delegates(address account) external pure returns (address) {
        return account;
    }

    function delegate(address) external pure {
        revert DelegateAtSource();
    }

    function delegateBySig(address, uint256, uint256, uint8, bytes32, bytes32) external pure {
        revert DelegateAtSource();
    }

    function clock() external view returns (uint48) {
        return _clock();
    }

    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() external pure returns (string memory) {
        return "mode=blocknumber&from=default";
    }

    /* INTERNAL */

    function _clock() internal view returns (uint48) {
        return uint48(block.number);
    }

    function _past(uint256 timepoint) internal view {
        if (timepoint >= block.number) revert FutureLookup(timepoint, block.number);
    }

    function _add(Checkpoints.Trace208 storage t, uint256 amount) internal {
        t.push(_clock(), uint208(t.latest() + amount));
    }

    function _sub(Checkpoints.Trace208 storage t, uint256 amount) internal {
        t.push(_clock(), uint208(t.latest() - amount));
    }
}
