// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IGovernor, Governor} from "@openzeppelin/contracts/governance/Governor.sol";
import {GovernorSettings} from "@openzeppelin/contracts/governance/extensions/GovernorSettings.sol";
import {
    GovernorCountingOverridable
} from "@openzeppelin/contracts/governance/extensions/GovernorCountingOverridable.sol";
import {GovernorStorage} from "@openzeppelin/contracts/governance/extensions/GovernorStorage.sol";
import {GovernorVotes} from "@openzeppelin/contracts/governance/extensions/GovernorVotes.sol";
import {
    GovernorVotesQuorumFraction
} from "@openzeppelin/contracts/governance/extensions/GovernorVotesQuorumFraction.sol";
import {GovernorTimelockControl} from "@openzeppelin/contracts/governance/extensions/GovernorTimelockControl.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {IPeerflowGovernor} from "./interfaces/IPeerflowGovernor.sol";
import {IVotePower} from "./interfaces/IVotePower.sol";

/// @dev The bounds, stored first: this contract comes first in PeerflowGovernor's linearization, so
///      its constructor runs before GovernorSettings' and GovernorVotesQuorumFraction's, which call the
///      bounded setters with the initial settings.
abstract contract PeerflowGovernorBounds is IPeerflowGovernor {
    /// @inheritdoc IPeerflowGovernor
    uint48 public immutable maxVotingDelay;
    /// @inheritdoc IPeerflowGovernor
    uint32 public immutable minVotingPeriod;
    /// @inheritdoc IPeerflowGovernor
    uint32 public immutable maxVotingPeriod;
    /// @inheritdoc IPeerflowGovernor
    uint256 public immutable maxProposalThreshold;
    /// @inheritdoc IPeerflowGovernor
    uint256 public immutable minQuorumNumerator;
    /// @inheritdoc IPeerflowGovernor
    uint256 public immutable maxQuorumNumerator;

    constructor(Bounds memory b) {
        if (
            b.minVotingPeriod == 0 || b.minVotingPeriod > b.maxVotingPeriod || b.minQuorumNumerator == 0
                || b.minQuorumNumerator > b.maxQuorumNumerator || b.maxQuorumNumerator > 100
        ) revert InvalidGovernorBounds();
        maxVotingDelay = b.maxVotingDelay;
        minVotingPeriod = b.minVotingPeriod;
        maxVotingPeriod = b.maxVotingPeriod;
        maxProposalThreshold = b.maxProposalThreshold;
        minQuorumNumerator = b.minQuorumNumerator;
        maxQuorumNumerator = b.maxQuorumNumerator;
    }

    /// @dev Reverts unless `min ≤ value ≤ max`.
    function _checkBounds(uint256 value, uint256 min, uint256 max) internal pure {
        if (value < min || value > max) revert SettingOutOfBounds(value, min, max);
    }
}

/// @title PeerflowGovernor
/// @notice Token-and-stake governance of peerflow: OpenZeppelin's Governor with settings, quorum as a
///         fraction of the vote source's supply, bravo counting with delegator overrides, on-chain
///         proposal storage (`proposalCount`, `proposalDetailsAt`) and the PeerflowTimelock as executor.
///         See IPeerflowGovernor for the bounds of its own settings.
/// @dev Votes: `token()` is the IVotePower (held work tokens delegated on the token, plus bonded stake
///      voted by the orchestrator it is bonded to). Its clock is block numbers. A delegator's
///      `castOverrideVote` takes its own bonded stake out of its orchestrator's vote (before or after the
///      orchestrator votes) and casts it itself; GovernorCountingOverridable reads that weight and the
///      orchestrator from `getPastBalanceOf`/`getPastDelegate` at the proposal's snapshot.
contract PeerflowGovernor is
    PeerflowGovernorBounds,
    Governor,
    GovernorSettings,
    GovernorStorage,
    GovernorVotes,
    GovernorCountingOverridable,
    GovernorVotesQuorumFraction,
    GovernorTimelockControl
{
    /// @notice The initial settings of a deployment.
    struct Settings {
        uint48 votingDelay; // blocks
        uint32 votingPeriod; // blocks
        uint256 proposalThreshold; // votes
        uint256 quorumNumerator; // percent
    }

    /// @param votePower The vote source (IVotePower).
    /// @param timelock_ The PeerflowTimelock this governor proposes to and executes through.
    /// @param settings Initial settings, within `bounds`.
    /// @param bounds The bounds of every later setting (see IPeerflowGovernor).
    constructor(IVotePower votePower, TimelockController timelock_, Settings memory settings, Bounds memory bounds)
        PeerflowGovernorBounds(bounds)
        Governor("PeerflowGovernor")
        GovernorSettings(settings.votingDelay, settings.votingPeriod, settings.proposalThreshold)
        GovernorVotes(IVotes(address(votePower)))
        GovernorVotesQuorumFraction(settings.quorumNumerator)
        GovernorTimelockControl(timelock_)
    {}

    /* BOUNDED SETTINGS */

    /// @dev Refuses a delay above `maxVotingDelay`.
    function _setVotingDelay(uint48 newVotingDelay) internal override {
        _checkBounds(newVotingDelay, 0, maxVotingDelay);
        super._setVotingDelay(newVotingDelay);
    }

    /// @dev Refuses a period outside `[minVotingPeriod, maxVotingPeriod]`.
    function _setVotingPeriod(uint32 newVotingPeriod) internal override {
        _checkBounds(newVotingPeriod, minVotingPeriod, maxVotingPeriod);
        super._setVotingPeriod(newVotingPeriod);
    }

    /// @dev Refuses a threshold above `maxProposalThreshold`.
    function _setProposalThreshold(uint256 newProposalThreshold) internal override {
        _checkBounds(newProposalThreshold, 0, maxProposalThreshold);
        super._setProposalThreshold(newProposalThreshold);
    }

    /// @dev Refuses a numerator outside `[minQuorumNumerator, maxQuorumNumerator]`.
    function _updateQuorumNumerator(uint256 newQuorumNumerator) internal override {
        _checkBounds(newQuorumNumerator, minQuorumNumerator, maxQuorumNumerator);
        super._updateQuorumNumerator(newQuorumNumerator);
    }

    /* RESOLUTION OF THE BASES */

    /// @inheritdoc IGovernor
    function votingDelay() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.votingDelay();
    }

    /// @inheritdoc IGovernor
    function votingPeriod() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.votingPeriod();
    }

    /// @inheritdoc IGovernor
    function proposalThreshold() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.proposalThreshold();
    }

    /// @inheritdoc IGovernor
    function quorum(uint256 timepoint) public view override(Governor, GovernorVotesQuorumFraction) returns (uint256) {
        return super.quorum(timepoint);
    }

    /// @inheritdoc IGovernor
    function state(uint256 proposalId) public view override(Governor, GovernorTimelockControl) returns (ProposalState) {
        return super.state(proposalId);
    }

    /// @inheritdoc IGovernor
    function proposalNeedsQueuing(uint256 proposalId)
        public
        view
        override(Governor, GovernorTimelockControl)
        returns (bool)
    {
        return super.proposalNeedsQueuing(proposalId);
    }

    function _propose(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        string memory description,
        address proposer
    ) internal override(Governor, GovernorStorage) returns (uint256) {
        return super._propose(targets, values, calldatas, description, proposer);
    }

    function _queueOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) returns (uint48) {
        return super._queueOperations(proposalId, targets, values, calldatas, descriptionHash);
    }

    function _executeOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) {
        super._executeOperations(proposalId, targets, values, calldatas, descriptionHash);
    }

    function _cancel(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) returns (uint256) {
        return super._cancel(targets, values, calldatas, descriptionHash);
    }

    function _executor() internal view override(Governor, GovernorTimelockControl) returns (address) {
        return super._executor();
    }
}
