// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IServiceRegistry
/// @notice Where registered orchestrators advertise their endpoint, services, regions and an optional
///         price, and where clients discover the whole active set in one call.
interface IServiceRegistry {
    /// @notice An orchestrator's advertisement.
    struct Service {
        string uri; // e.g. https://o1.example:8935
        bytes32[] serviceIds; // e.g. "transcode:h264", "transcode:av1", "compute:docker"
        bytes32[] regions; // e.g. "eu-west", "us-east"
        uint256 pricePerUnit; // optional advertised price (fee-token wei per pixel or per unit); 0: none
        uint64 version; // increments on every update
    }

    /// @notice One member of the active set, with its stake, rates and advertisement. `stake` is
    ///         its whole pool (delegations included); `atRisk` is what a fault claim can slash
    ///         (`IStaking.slashableStake`: its own bonded stake and its unbonding locks), the
    ///         security a broadcaster actually holds against it.
    struct Listing {
        address orchestrator;
        uint256 stake;
        uint256 atRisk;
        uint32 rewardCut;
        uint32 feeShare;
        bool activeThisRound;
        /// @dev Its hot key (`IStaking.redeemerOf`; zero: none), which may sign its segment results.
        address hotKey;
        Service service;
    }

    event ServiceUpdated(
        address indexed orchestrator,
        string uri,
        bytes32[] serviceIds,
        bytes32[] regions,
        uint256 pricePerUnit,
        uint64 version
    );
    event ServiceCleared(address indexed orchestrator);

    error NotOrchestrator(address caller);
    error EmptyUri();
    error UriTooLong(uint256 length, uint256 max);
    error TooManyServiceIds(uint256 count, uint256 max);
    error TooManyRegions(uint256 count, uint256 max);
    error ZeroServiceId();
    error ZeroRegion();
    error NoService(address orchestrator);

    /// @notice Sets the caller's advertisement. Registered orchestrators only.
    /// @param uri Endpoint URI, 1 to MAX_URI_LENGTH bytes.
    /// @param serviceIds Offered services, at most MAX_SERVICE_IDS, none zero.
    /// @param regions Served regions, at most MAX_REGIONS, none zero.
    /// @param pricePerUnit Optional advertised price; 0 for none.
    function setService(
        string calldata uri,
        bytes32[] calldata serviceIds,
        bytes32[] calldata regions,
        uint256 pricePerUnit
    ) external;

    /// @notice Removes the caller's advertisement.
    function clearService() external;

    /// @notice An orchestrator's advertisement (empty URI if none).
    function getService(address orchestrator) external view returns (Service memory);

    /// @notice Every member of the active set with stake, rates and advertisement: discovery in one RPC.
    function getActiveSet() external view returns (Listing[] memory);

    /// @notice Up to `limit` listings of the active set from position `offset` (the order of
    ///         `IStaking.activeSet`), and the set's size: a client reads a large set in pages.
    function getActiveSetPage(uint256 offset, uint256 limit)
        external
        view
        returns (Listing[] memory listings, uint256 total);
}
