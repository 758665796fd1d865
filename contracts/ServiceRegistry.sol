// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IServiceRegistry} from "./interfaces/IServiceRegistry.sol";
import {IStaking} from "./interfaces/IStaking.sol";

/// @title ServiceRegistry
/// @notice Typed, length-limited service advertisements written only by registered orchestrators.
contract ServiceRegistry is IServiceRegistry {
    /* CONSTANTS */

    uint256 public constant MAX_URI_LENGTH = 256;
    uint256 public constant MAX_SERVICE_IDS = 16;
    uint256 public constant MAX_REGIONS = 16;

    /* IMMUTABLES */

    IStaking public immutable staking;

    /* STORAGE */

    mapping(address => Service) internal _services;

    /* CONSTRUCTOR */

    /// @param staking_ Staking, which says who is a registered orchestrator and who is active.
    constructor(IStaking staking_) {
        staking = staking_;
    }

    /* ADVERTISEMENTS */

    /// @inheritdoc IServiceRegistry
    function setService(
        string calldata uri,
        bytes32[] calldata serviceIds,
        bytes32[] calldata regions,
        uint256 pricePerUnit
    ) external {
        if (!staking.isRegistered(msg.sender)) revert NotOrchestrator(msg.sender);
        uint256 length = bytes(uri).length;
        if (length == 0) revert EmptyUri();
        if (length > MAX_URI_LENGTH) revert UriTooLong(length, MAX_URI_LENGTH);
        if (serviceIds.length > MAX_SERVICE_IDS) revert TooManyServiceIds(serviceIds.length, MAX_SERVICE_IDS);
        if (regions.length > MAX_REGIONS) revert TooManyRegions(regions.length, MAX_REGIONS);
        for (uint256 i; i < serviceIds.length; ++i) {
            if (serviceIds[i] == bytes32(0)) revert ZeroServiceId();
        }
        for (uint256 i; i < regions.length; ++i) {
            if (regions[i] == bytes32(0)) revert ZeroRegion();
        }

        Service storage service = _services[msg.sender];
        uint64 version = service.version + 1;
        service.uri = uri;
        service.serviceIds = serviceIds;
        service.regions = regions;
        service.pricePerUnit = pricePerUnit;
        service.version = version;
        emit ServiceUpdated(msg.sender, uri, serviceIds, regions, pricePerUnit, version);
    }

    /// @inheritdoc IServiceRegistry
    function clearService() external {
        Service storage service = _services[msg.sender];
        if (bytes(service.uri).length == 0) revert NoService(msg.sender);
        uint64 version = service.version + 1;
        delete _services[msg.sender];
        _services[msg.sender].version = version;
        emit ServiceCleared(msg.sender);
    }

    /* VIEWS */

    /// @inheritdoc IServiceRegistry
    function getService(address orchestrator) external view returns (Service memory) {
        return _services[orchestrator];
    }

    /// @inheritdoc IServiceRegistry
    function getActiveSet() external view returns (Listing[] memory) {
        return _listings(staking.activeSet());
    }

    /// @inheritdoc IServiceRegistry
    function getActiveSetPage(uint256 offset, uint256 limit)
        external
        view
        returns (Listing[] memory listings, uint256 total)
    {
        address[] memory members;
        (members, total) = staking.activeSetPage(offset, limit);
        listings = _listings(members);
    }

    /* INTERNAL */

    function _listings(address[] memory members) internal view returns (Listing[] memory listings) {
        listings = new Listing[](members.length);
        for (uint256 i; i < members.length; ++i) {
            IStaking.OrchestratorInfo memory info = staking.orchestratorInfo(members[i]);
            listings[i] = Listing({
                orchestrator: members[i],
                stake: info.stake,
                atRisk: staking.slashableStake(members[i]),
                rewardCut: info.rewardCut,
                feeShare: info.feeShare,
                activeThisRound: info.activeThisRound,
                hotKey: staking.redeemerOf(members[i]),
                service: _services[members[i]]
            });
        }
    }
}
