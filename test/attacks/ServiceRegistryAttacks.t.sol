// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "../utils/Fixture.sol";
import {IServiceRegistry} from "../../contracts/interfaces/IServiceRegistry.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice Attacks on discovery through the ServiceRegistry (issue 14, medium items): an active set
///         grown past what one view call can return, and slashed or held orchestrators advertising.
contract ServiceRegistryAttacksTest is Fixture {
    function _advertise(address o, string memory uri) internal {
        bytes32[] memory ids = new bytes32[](1);
        ids[0] = "transcode:av1";
        vm.prank(o);
        registry.setService(uri, ids, new bytes32[](0), 1);
    }

    /// @notice Governance cannot grow the active set (and so getActiveSet) without bound.
    function test_Attack_MaxActiveBeyondLimit_Refused() public {
        uint256 limit = staking.MAX_ACTIVE_LIMIT();
        vm.expectRevert(abi.encodeWithSelector(IStaking.MaxActiveTooLarge.selector, limit + 1, limit));
        vm.prank(governance());
        staking.setMaxActive(limit + 1);
        vm.expectRevert(abi.encodeWithSelector(IStaking.MaxActiveTooLarge.selector, type(uint256).max, limit));
        vm.prank(governance());
        staking.setMaxActive(type(uint256).max);
        vm.prank(governance());
        staking.setMaxActive(limit);
        assertEq(staking.maxActive(), limit);
    }

    /// @notice A client pages through the set: the pages together are exactly getActiveSet, in order,
    ///         with every listing's stake, rates and advertisement.
    function test_GetActiveSetPage_PagesCoverTheWholeSet() public {
        uint256 n = 7;
        for (uint256 i; i < n; ++i) {
            address o = newOrchestrator(string.concat("o", vm.toString(i)), (i + 1) * 1 ether, 0, 0);
            _advertise(o, string.concat("https://o", vm.toString(i), ".example"));
        }
        IServiceRegistry.Listing[] memory all = registry.getActiveSet();
        assertEq(all.length, n);
        uint256 seen;
        for (uint256 offset; offset < n; offset += 3) {
            (IServiceRegistry.Listing[] memory page, uint256 total) = registry.getActiveSetPage(offset, 3);
            assertEq(total, n);
            assertEq(page.length, offset + 3 <= n ? 3 : n - offset);
            for (uint256 i; i < page.length; ++i) {
                assertEq(page[i].orchestrator, all[offset + i].orchestrator);
                assertEq(page[i].stake, all[offset + i].stake);
                assertEq(page[i].service.uri, all[offset + i].service.uri);
                seen++;
            }
        }
        assertEq(seen, n);
        (IServiceRegistry.Listing[] memory none, uint256 size) = registry.getActiveSetPage(n, 3);
        assertEq(none.length, 0);
        assertEq(size, n);
        (none,) = registry.getActiveSetPage(type(uint256).max, type(uint256).max);
        assertEq(none.length, 0);
    }

    /// @notice A slashed orchestrator leaves discovery at once, cannot advertise, and cannot come back
    ///         (register again) while the slash holds it.
    function test_Attack_SlashedOrchestratorKeepsAdvertising_Refused() public {
        address o = newOrchestrator("cheat", 10 ether, 0, 0);
        _advertise(o, "https://cheat.example");
        assertEq(registry.getActiveSet().length, 1);
        vm.prank(verifier);
        staking.slash(o, address(0), 100_000, 0);
        assertEq(registry.getActiveSet().length, 0);
        bytes32[] memory ids = new bytes32[](1);
        ids[0] = "transcode:av1";
        vm.prank(o);
        vm.expectRevert(abi.encodeWithSelector(IServiceRegistry.NotOrchestrator.selector, o));
        registry.setService("https://cheat.example", ids, new bytes32[](0), 1);
        uint256 until = staking.slashedUntil(o);
        vm.prank(o);
        vm.expectRevert(abi.encodeWithSelector(IStaking.RecentlySlashed.selector, o, until));
        staking.registerOrchestrator(0, 0);
    }
}
