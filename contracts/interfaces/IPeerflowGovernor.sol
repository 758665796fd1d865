// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IPeerflowGovernor
/// @notice The peerflow governor's own surface (on top of OpenZeppelin's IGovernor, GovernorSettings,
///         GovernorVotesQuorumFraction, GovernorCountingOverridable, GovernorStorage and
///         GovernorTimelockControl): the bounds within which governance may move its own settings.
///         Votes come from the vote source (IVotePower: held tokens plus bonded stake, block-number
///         clock); a delegator may override its orchestrator's stake vote (`castOverrideVote`).
///         Proposals pass through the PeerflowTimelock, which owns every contract of the suite.
/// @dev The bounds are immutables chosen at deployment (the devnet uses short periods); every setting,
///      at construction and when governance changes it (`setVotingDelay`, `setVotingPeriod`,
///      `setProposalThreshold`, `updateQuorumNumerator`, all only through an executed proposal), must
///      lie within them, so a passed proposal can never leave the governor unable to pass another:
///      - `votingDelay ≤ maxVotingDelay` (a huge delay would postpone every vote for ever);
///      - `1 ≤ minVotingPeriod ≤ votingPeriod ≤ maxVotingPeriod` (no vote without time to vote, nor
///        a vote that never ends);
///      - `proposalThreshold ≤ maxProposalThreshold` (a threshold above what anyone holds would stop
///        all proposals);
///      - `1 ≤ minQuorumNumerator ≤ quorumNumerator ≤ maxQuorumNumerator ≤ 100` percent of the vote
///        source's past total supply (quorum 0 would let one vote pass anything; 100% nothing).
interface IPeerflowGovernor {
    /// @notice Bounds of the governor's settings, fixed at construction.
    struct Bounds {
        uint48 maxVotingDelay; // blocks
        uint32 minVotingPeriod; // blocks, ≥ 1
        uint32 maxVotingPeriod; // blocks
        uint256 maxProposalThreshold; // votes (token wei)
        uint256 minQuorumNumerator; // percent, ≥ 1
        uint256 maxQuorumNumerator; // percent, ≤ 100
    }

    /// @notice The bounds given to the constructor are inconsistent (see above).
    error InvalidGovernorBounds();
    /// @notice A setting outside its bounds `[min, max]` (voting delay: min 0; proposal threshold: min 0).
    error SettingOutOfBounds(uint256 value, uint256 min, uint256 max);

    /// @notice Longest voting delay governance may set (blocks).
    function maxVotingDelay() external view returns (uint48);
    /// @notice Shortest voting period governance may set (blocks).
    function minVotingPeriod() external view returns (uint32);
    /// @notice Longest voting period governance may set (blocks).
    function maxVotingPeriod() external view returns (uint32);
    /// @notice Largest proposal threshold governance may set (votes).
    function maxProposalThreshold() external view returns (uint256);
    /// @notice Smallest quorum numerator governance may set (percent of the past total supply).
    function minQuorumNumerator() external view returns (uint256);
    /// @notice Largest quorum numerator governance may set (percent of the past total supply).
    function maxQuorumNumerator() external view returns (uint256);
}
