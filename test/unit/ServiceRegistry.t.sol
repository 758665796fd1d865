// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "../utils/Fixture.sol";
import {IServiceRegistry} from "../../contracts/interfaces/IServiceRegistry.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

contract ServiceRegistryTest is Fixture {
    string internal constant URI = "https://o1.example:8935";

    address internal o1;
    address internal o2;

    function setUp() public override {
        super.setUp();
        o1 = newOrchestrator("o1", 10 ether, 100_000, 200_000);
        o2 = newOrchestrator("o2", 20 ether, 300_000, 400_000);
    }

    function _ids(uint256 n) internal pure returns (bytes32[] memory ids) {
        ids = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            ids[i] = bytes32(i + 1);
        }
    }

    function _services() internal pure returns (bytes32[] memory ids) {
        ids = new bytes32[](2);
        ids[0] = "transcode:h264";
        ids[1] = "compute:docker";
    }

    function _regions() internal pure returns (bytes32[] memory r) {
        r = new bytes32[](1);
        r[0] = "eu-west";
    }

    function _set(address who, string memory uri, bytes32[] memory ids, bytes32[] memory regions, uint256 price)
        internal
    {
        vm.prank(who);
        registry.setService(uri, ids, regions, price);
    }

    function _uri(uint256 length) internal pure returns (string memory) {
        bytes memory b = new bytes(length);
        for (uint256 i; i < length; ++i) {
            b[i] = "a";
        }
        return string(b);
    }

    /* SET */

    function test_SetService_StoresAdvertisementAndEmits() public {
        vm.expectEmit(address(registry));
        emit IServiceRegistry.ServiceUpdated(o1, URI, _services(), _regions(), 7, 1);
        _set(o1, URI, _services(), _regions(), 7);
        IServiceRegistry.Service memory s = registry.getService(o1);
        assertEq(s.uri, URI);
        assertEq(s.serviceIds, _services());
        assertEq(s.regions, _regions());
        assertEq(s.pricePerUnit, 7);
        assertEq(s.version, 1);
    }

    function test_SetService_VersionIncrementsOnEveryUpdate() public {
        _set(o1, URI, _services(), _regions(), 7);
        bytes32[] memory none = new bytes32[](0);
        vm.expectEmit(address(registry));
        emit IServiceRegistry.ServiceUpdated(o1, "https://new", none, none, 0, 2);
        _set(o1, "https://new", none, none, 0);
        IServiceRegistry.Service memory s = registry.getService(o1);
        assertEq(s.version, 2);
        assertEq(s.uri, "https://new");
        assertEq(s.serviceIds.length, 0, "lists are replaced, not appended");
        assertEq(s.regions.length, 0);
        assertEq(s.pricePerUnit, 0);
        _set(o1, URI, _services(), _regions(), 1);
        assertEq(registry.getService(o1).version, 3);
        assertEq(registry.getService(o2).version, 0, "per orchestrator");
    }

    function test_SetService_ByAnyRegisteredOrchestratorEvenIfNotActiveYet() public {
        assertFalse(staking.isActive(o1, staking.currentRound()));
        _set(o1, URI, _services(), _regions(), 0);
        // Registered with too little stake for the active set.
        address small = makeAddr("small");
        bondAs(small, 0.5 ether, small);
        vm.prank(small);
        staking.registerOrchestrator(0, 0);
        assertFalse(staking.orchestratorInfo(small).inActiveSet);
        _set(small, URI, _services(), _regions(), 0);
        assertEq(registry.getService(small).version, 1);
    }

    function test_RevertWhen_SetServiceByNonOrchestrator() public {
        address d = makeAddr("d");
        bondAs(d, 5 ether, o1); // a delegator is not an orchestrator
        vm.prank(d);
        vm.expectRevert(abi.encodeWithSelector(IServiceRegistry.NotOrchestrator.selector, d));
        registry.setService(URI, _services(), _regions(), 0);
        vm.prank(makeAddr("stranger"));
        vm.expectRevert(abi.encodeWithSelector(IServiceRegistry.NotOrchestrator.selector, makeAddr("stranger")));
        registry.setService(URI, _services(), _regions(), 0);
    }

    function test_RevertWhen_SetServiceBySlashedOrchestrator() public {
        _set(o1, URI, _services(), _regions(), 0);
        vm.prank(verifier);
        staking.slash(o1, address(0), 100_000, 0);
        vm.prank(o1);
        vm.expectRevert(abi.encodeWithSelector(IServiceRegistry.NotOrchestrator.selector, o1));
        registry.setService(URI, _services(), _regions(), 0);
    }

    function test_RevertWhen_UriIsEmpty() public {
        vm.prank(o1);
        vm.expectRevert(IServiceRegistry.EmptyUri.selector);
        registry.setService("", _services(), _regions(), 0);
    }

    function test_SetService_UriOfMaxLength() public {
        assertEq(registry.MAX_URI_LENGTH(), 256);
        _set(o1, _uri(256), _services(), _regions(), 0);
        assertEq(bytes(registry.getService(o1).uri).length, 256);
        _set(o1, "x", _services(), _regions(), 0);
        assertEq(registry.getService(o1).uri, "x");
    }

    function test_RevertWhen_UriTooLong() public {
        string memory uri = _uri(257);
        vm.prank(o1);
        vm.expectRevert(abi.encodeWithSelector(IServiceRegistry.UriTooLong.selector, 257, 256));
        registry.setService(uri, _services(), _regions(), 0);
    }

    function test_SetService_MaxServiceIdsAndRegions() public {
        assertEq(registry.MAX_SERVICE_IDS(), 16);
        assertEq(registry.MAX_REGIONS(), 16);
        _set(o1, URI, _ids(16), _ids(16), 0);
        assertEq(registry.getService(o1).serviceIds.length, 16);
        assertEq(registry.getService(o1).regions.length, 16);
    }

    function test_RevertWhen_TooManyServiceIds() public {
        bytes32[] memory ids = _ids(17);
        vm.prank(o1);
        vm.expectRevert(abi.encodeWithSelector(IServiceRegistry.TooManyServiceIds.selector, 17, 16));
        registry.setService(URI, ids, _regions(), 0);
    }

    function test_RevertWhen_TooManyRegions() public {
        bytes32[] memory regions = _ids(17);
        vm.prank(o1);
        vm.expectRevert(abi.encodeWithSelector(IServiceRegistry.TooManyRegions.selector, 17, 16));
        registry.setService(URI, _services(), regions, 0);
    }

    function test_RevertWhen_ServiceIdIsZero() public {
        bytes32[] memory ids = _ids(3);
        ids[2] = bytes32(0);
        vm.prank(o1);
        vm.expectRevert(IServiceRegistry.ZeroServiceId.selector);
        registry.setService(URI, ids, _regions(), 0);
    }

    function test_RevertWhen_RegionIsZero() public {
        bytes32[] memory regions = _ids(3);
        regions[0] = bytes32(0);
        vm.prank(o1);
        vm.expectRevert(IServiceRegistry.ZeroRegion.selector);
        registry.setService(URI, _services(), regions, 0);
    }

    function test_RevertWhen_InvalidUpdateKeepsPreviousAdvertisement() public {
        _set(o1, URI, _services(), _regions(), 3);
        bytes32[] memory ids = _ids(2);
        ids[1] = bytes32(0);
        vm.prank(o1);
        vm.expectRevert(IServiceRegistry.ZeroServiceId.selector);
        registry.setService("https://other", ids, _regions(), 4);
        IServiceRegistry.Service memory s = registry.getService(o1);
        assertEq(s.uri, URI);
        assertEq(s.pricePerUnit, 3);
        assertEq(s.version, 1);
    }

    /* CLEAR */

    function test_ClearService_RemovesAdvertisementAndKeepsVersion() public {
        _set(o1, URI, _services(), _regions(), 7);
        vm.expectEmit(address(registry));
        emit IServiceRegistry.ServiceCleared(o1);
        vm.prank(o1);
        registry.clearService();
        IServiceRegistry.Service memory s = registry.getService(o1);
        assertEq(s.uri, "");
        assertEq(s.serviceIds.length, 0);
        assertEq(s.regions.length, 0);
        assertEq(s.pricePerUnit, 0);
        assertEq(s.version, 2, "clearing is an update");
        _set(o1, URI, _services(), _regions(), 7);
        assertEq(registry.getService(o1).version, 3, "versions never go back");
    }

    function test_RevertWhen_ClearServiceWithoutService() public {
        vm.prank(o1);
        vm.expectRevert(abi.encodeWithSelector(IServiceRegistry.NoService.selector, o1));
        registry.clearService();
        _set(o1, URI, _services(), _regions(), 7);
        vm.prank(o1);
        registry.clearService();
        vm.prank(o1);
        vm.expectRevert(abi.encodeWithSelector(IServiceRegistry.NoService.selector, o1));
        registry.clearService();
    }

    function test_ClearService_AfterDeregistration() public {
        // Anyone with a stored advertisement may remove it, even after losing registration.
        _set(o1, URI, _services(), _regions(), 7);
        vm.prank(verifier);
        staking.slash(o1, address(0), 0, 0);
        vm.prank(o1);
        registry.clearService();
        assertEq(registry.getService(o1).uri, "");
    }

    /* DISCOVERY */

    function test_GetService_UnknownIsEmpty() public {
        IServiceRegistry.Service memory s = registry.getService(makeAddr("nobody"));
        assertEq(s.uri, "");
        assertEq(s.version, 0);
    }

    function test_GetActiveSet_ListsEveryMemberWithStakeRatesAndService() public {
        _set(o1, URI, _services(), _regions(), 7);
        address d = makeAddr("d");
        bondAs(d, 5 ether, o2);

        IServiceRegistry.Listing[] memory list = registry.getActiveSet();
        assertEq(list.length, 2);
        for (uint256 i; i < list.length; ++i) {
            assertFalse(list[i].activeThisRound, "joined this round: active from the next");
        }

        nextRound();
        address o3 = newOrchestrator("o3", 30 ether, 0, 1_000_000); // joins now, active next round
        list = registry.getActiveSet();
        assertEq(list.length, 3);
        bool seen1;
        bool seen2;
        bool seen3;
        for (uint256 i; i < list.length; ++i) {
            IServiceRegistry.Listing memory l = list[i];
            if (l.orchestrator == o1) {
                seen1 = true;
                assertEq(l.stake, 10 ether);
                assertEq(l.atRisk, 10 ether, "all its own");
                assertEq(l.rewardCut, 100_000);
                assertEq(l.feeShare, 200_000);
                assertTrue(l.activeThisRound);
                assertEq(l.service.uri, URI);
                assertEq(l.service.serviceIds, _services());
                assertEq(l.service.regions, _regions());
                assertEq(l.service.pricePerUnit, 7);
                assertEq(l.service.version, 1);
            } else if (l.orchestrator == o2) {
                seen2 = true;
                assertEq(l.stake, 25 ether, "delegated stake included");
                assertEq(l.atRisk, staking.slashableStake(o2), "what a claim can slash");
                assertLt(l.atRisk, l.stake, "delegations are not at risk");
                assertEq(l.rewardCut, 300_000);
                assertEq(l.feeShare, 400_000);
                assertTrue(l.activeThisRound);
                assertEq(l.service.uri, "", "no advertisement");
                assertEq(l.service.version, 0);
            } else if (l.orchestrator == o3) {
                seen3 = true;
                assertEq(l.stake, 30 ether);
                assertEq(l.feeShare, 1_000_000);
                assertFalse(l.activeThisRound);
            }
        }
        assertTrue(seen1 && seen2 && seen3);
    }

    function test_GetActiveSet_DropsMembersThatLeave() public {
        _set(o1, URI, _services(), _regions(), 7);
        nextRound();
        vm.prank(verifier);
        staking.slash(o1, address(0), 0, 0);
        IServiceRegistry.Listing[] memory list = registry.getActiveSet();
        assertEq(list.length, 1);
        assertEq(list[0].orchestrator, o2);
        // An orchestrator below the minimum active stake is registered but not listed.
        vm.prank(o2);
        staking.unbond(19.5 ether);
        assertEq(registry.getActiveSet().length, 0);
        assertTrue(staking.isRegistered(o2));
    }

    function test_GetActiveSet_EmptyWithoutOrchestrators() public {
        vm.startPrank(verifier);
        staking.slash(o1, address(0), 0, 0);
        staking.slash(o2, address(0), 0, 0);
        vm.stopPrank();
        assertEq(registry.getActiveSet().length, 0);
    }

    function test_GetActiveSet_MatchesStakingActiveSet() public {
        for (uint256 i; i < 5; ++i) {
            newOrchestrator(string.concat("x", vm.toString(i)), (i + 1) * 1 ether, 0, 0);
        }
        address[] memory members = staking.activeSet();
        IServiceRegistry.Listing[] memory list = registry.getActiveSet();
        assertEq(list.length, members.length);
        assertEq(list.length, 7);
        for (uint256 i; i < list.length; ++i) {
            assertEq(list[i].orchestrator, members[i]);
            IStaking.OrchestratorInfo memory info = staking.orchestratorInfo(members[i]);
            assertEq(list[i].stake, info.stake);
            assertEq(list[i].rewardCut, info.rewardCut);
            assertEq(list[i].feeShare, info.feeShare);
        }
    }
}
