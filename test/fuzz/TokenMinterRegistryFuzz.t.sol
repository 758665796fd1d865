// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "../utils/Fixture.sol";
import {IWorkToken} from "../../contracts/interfaces/IWorkToken.sol";
import {IServiceRegistry} from "../../contracts/interfaces/IServiceRegistry.sol";
import {Minter} from "../../contracts/Minter.sol";
import {IMinter} from "../../contracts/interfaces/IMinter.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice Fuzz tests for WorkToken, Minter and ServiceRegistry: amounts, rates and input lengths.
contract TokenMinterRegistryFuzzTest is Fixture {
    function testFuzz_OnlyMinterMints(address caller, address to, uint256 amount) public {
        vm.assume(caller != address(minter));
        vm.expectRevert(abi.encodeWithSelector(IWorkToken.NotMinter.selector, caller));
        vm.prank(caller);
        token.mint(to, amount);
    }

    function testFuzz_PermitThenTransferFrom(uint256 ownerKey, uint256 amount, uint256 deadlineOffset) public {
        ownerKey = bound(ownerKey, 1, SECP256K1_N - 1);
        amount = bound(amount, 0, 1_000_000 ether);
        deadlineOffset = bound(deadlineOffset, 0, 365 days);
        address owner = vm.addr(ownerKey);
        address spender = makeAddr("spender");
        give(owner, amount);
        uint256 deadline = block.timestamp + deadlineOffset;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                owner,
                spender,
                amount,
                token.nonces(owner),
                deadline
            )
        );
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(ownerKey, keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash)));
        token.permit(owner, spender, amount, deadline, v, r, s);
        assertEq(token.allowance(owner, spender), amount);
        vm.prank(spender);
        assertTrue(token.transferFrom(owner, spender, amount));
        assertEq(token.balanceOf(spender), amount);
    }

    /// Inflation moves by exactly one step toward the target each initialized round, never below 0.
    function testFuzz_InflationMovesTowardTarget(uint256 bonded, uint64 inflation, uint64 change) public {
        inflation = uint64(bound(inflation, 0, 1_000_000_000));
        change = uint64(bound(change, 0, 1_000_000_000));
        Minter m = new Minter(token, staking, inflation, change, 500_000_000, address(this));
        bonded = bound(bonded, 0, 5_000_000 ether);
        if (bonded > 0) bondAs(makeAddr("holder"), bonded, makeAddr("holder"));
        uint256 supply = token.totalSupply();
        uint256 rate = bonded * 1e9 / supply;
        m.initializeRound();
        uint256 expected = rate < 500_000_000
            ? (inflation + change > 1e9 ? 1e9 : inflation + change)
            : rate > 500_000_000 ? (inflation > change ? inflation - change : 0) : inflation;
        assertEq(m.inflation(), expected);
        assertEq(m.currentMintable(), supply * expected / 1e9);
        assertEq(m.currentMinted(), 0);
    }

    function testFuzz_MintRewardOnlyStaking(address caller, uint256 stake, uint256 total) public {
        vm.assume(caller != address(staking));
        vm.expectRevert(abi.encodeWithSelector(IMinter.NotStaking.selector, caller));
        vm.prank(caller);
        minter.mintReward(stake, total);
    }

    function testFuzz_SetServiceLengthLimits(uint256 uriLength, uint8 services, uint8 regions, uint256 price) public {
        address o = newOrchestrator("o", 10 ether, 0, 0);
        uriLength = bound(uriLength, 0, 300);
        bytes32[] memory ids = new bytes32[](bound(services, 0, 20));
        bytes32[] memory regs = new bytes32[](bound(regions, 0, 20));
        for (uint256 i; i < ids.length; ++i) {
            ids[i] = bytes32(i + 1);
        }
        for (uint256 i; i < regs.length; ++i) {
            regs[i] = bytes32(i + 1);
        }
        string memory uri = string(new bytes(uriLength));
        if (uriLength == 0) {
            vm.expectRevert(IServiceRegistry.EmptyUri.selector);
        } else if (uriLength > 256) {
            vm.expectRevert(abi.encodeWithSelector(IServiceRegistry.UriTooLong.selector, uriLength, 256));
        } else if (ids.length > 16) {
            vm.expectRevert(abi.encodeWithSelector(IServiceRegistry.TooManyServiceIds.selector, ids.length, 16));
        } else if (regs.length > 16) {
            vm.expectRevert(abi.encodeWithSelector(IServiceRegistry.TooManyRegions.selector, regs.length, 16));
        }
        vm.prank(o);
        registry.setService(uri, ids, regs, price);
        if (uriLength > 0 && uriLength <= 256 && ids.length <= 16 && regs.length <= 16) {
            IServiceRegistry.Service memory s = registry.getService(o);
            assertEq(bytes(s.uri).length, uriLength);
            assertEq(s.serviceIds.length, ids.length);
            assertEq(s.regions.length, regs.length);
            assertEq(s.pricePerUnit, price);
            assertEq(s.version, 1);
        }
    }

    function testFuzz_RevertWhen_UnregisteredWritesService(address caller) public {
        vm.assume(!staking.isRegistered(caller));
        vm.expectRevert(abi.encodeWithSelector(IServiceRegistry.NotOrchestrator.selector, caller));
        vm.prank(caller);
        registry.setService("https://o.example", new bytes32[](0), new bytes32[](0), 0);
    }

    function testFuzz_SlashedOrchestratorCannotWriteService(uint32 slashPpm) public {
        slashPpm = uint32(bound(slashPpm, 0, 1_000_000));
        address o = newOrchestrator("o", 10 ether, 0, 0);
        vm.prank(verifier);
        staking.slash(o, address(0), slashPpm, 0);
        assertFalse(staking.isRegistered(o));
        vm.expectRevert(abi.encodeWithSelector(IServiceRegistry.NotOrchestrator.selector, o));
        vm.prank(o);
        registry.setService("https://o.example", new bytes32[](0), new bytes32[](0), 0);
        assertEq(staking.orchestratorInfo(o).stake, 10 ether - 10 ether * uint256(slashPpm) / 1e6);
        IStaking.OrchestratorInfo memory info = staking.orchestratorInfo(o);
        assertFalse(info.inActiveSet);
    }
}
