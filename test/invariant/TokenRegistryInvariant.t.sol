// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {Fixture} from "../utils/Fixture.sol";
import {WorkToken} from "../../contracts/WorkToken.sol";
import {Staking} from "../../contracts/Staking.sol";
import {ServiceRegistry} from "../../contracts/ServiceRegistry.sol";
import {IServiceRegistry} from "../../contracts/interfaces/IServiceRegistry.sol";

/// @notice Drives token transfers, rewards (the only minting path), slashing (burns) and registry writes.
contract TokenRegistryHandler is Test {
    WorkToken internal token;
    Staking internal staking;
    ServiceRegistry internal registry;
    address internal verifier;
    address[] public actors;
    uint256 public ghostMinted;
    uint256 public ghostBurned;
    mapping(address => uint64) public lastVersion;
    bool public versionWentBack;

    constructor(WorkToken token_, Staking staking_, ServiceRegistry registry_, address verifier_, address[] memory actors_) {
        (token, staking, registry, verifier, actors) = (token_, staking_, registry_, verifier_, actors_);
    }

    function actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function transfer(uint256 from, uint256 to, uint256 amount) external {
        address a = actor(from);
        amount = bound(amount, 0, token.balanceOf(a));
        vm.prank(a);
        token.transfer(actor(to), amount);
    }

    function reward(uint256 who, uint256 blocks) external {
        vm.roll(block.number + bound(blocks, 0, 250));
        address o = actor(who);
        uint256 supply = token.totalSupply();
        vm.prank(o);
        try staking.reward() {
            ghostMinted += token.totalSupply() - supply;
        } catch {}
    }

    function slash(uint256 who, uint32 ppm) external {
        address o = actor(who);
        uint256 supply = token.totalSupply();
        vm.prank(verifier);
        try staking.slash(o, address(0), uint32(bound(ppm, 0, 1_000_000)), 0) {
            ghostBurned += supply - token.totalSupply();
        } catch {}
    }

    function setService(uint256 who, uint256 uriLength) external {
        address o = actor(who);
        vm.prank(o);
        try registry.setService(string(new bytes(bound(uriLength, 1, 256))), new bytes32[](1), new bytes32[](0), 1) {
            _checkVersion(o);
        } catch {}
    }

    function clearService(uint256 who) external {
        address o = actor(who);
        vm.prank(o);
        try registry.clearService() {
            _checkVersion(o);
        } catch {}
    }

    function _checkVersion(address o) internal {
        uint64 v = registry.getService(o).version;
        if (v <= lastVersion[o]) versionWentBack = true;
        lastVersion[o] = v;
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }
}

/// @notice Supply moves only by rewards (mint) and slashing (burn); registry entries belong to
///         registered orchestrators and their versions only grow.
contract TokenRegistryInvariantTest is Fixture {
    TokenRegistryHandler internal handler;
    uint256 internal genesisSupply;

    function setUp() public override {
        super.setUp();
        address[] memory actors = new address[](4);
        for (uint256 i; i < 4; ++i) {
            actors[i] = newOrchestrator(string.concat("o", vm.toString(i)), 10 ether + i * 1 ether, 100_000, 500_000);
            give(actors[i], 100 ether);
        }
        genesisSupply = token.totalSupply();
        handler = new TokenRegistryHandler(token, staking, registry, verifier, actors);
        targetContract(address(handler));
    }

    function invariant_SupplyChangesOnlyByRewardsAndSlashing() public view {
        assertEq(token.totalSupply(), genesisSupply + handler.ghostMinted() - handler.ghostBurned());
    }

    function invariant_OnlyTheMinterIsMinter() public view {
        assertEq(token.minter(), address(minter));
    }

    function invariant_ServiceVersionsOnlyGrow() public view {
        assertFalse(handler.versionWentBack());
    }

    function invariant_ActiveListingsAreRegisteredOrchestrators() public view {
        IServiceRegistry.Listing[] memory listings = registry.getActiveSet();
        for (uint256 i; i < listings.length; ++i) {
            assertTrue(staking.isRegistered(listings[i].orchestrator));
            assertGe(listings[i].stake, staking.minActiveStake());
        }
    }
}
