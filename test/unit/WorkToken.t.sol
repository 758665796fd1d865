// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StakingHelpers} from "../utils/StakingHelpers.sol";
import {WorkToken} from "../../contracts/WorkToken.sol";
import {IWorkToken} from "../../contracts/interfaces/IWorkToken.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice WorkToken: genesis allocation, one-time minter hand-off, minter-only minting, burning and
///         EIP-2612 permit.
contract WorkTokenTest is StakingHelpers {
    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    address internal alice;
    uint256 internal aliceKey;
    address internal bob = makeAddr("bob");

    function setUp() public override {
        super.setUp();
        (alice, aliceKey) = makeAddrAndKey("alice");
    }

    function genesis(address a, uint256 x, address b, uint256 y) internal returns (WorkToken) {
        address[] memory holders = new address[](2);
        uint256[] memory amounts = new uint256[](2);
        (holders[0], amounts[0], holders[1], amounts[1]) = (a, x, b, y);
        return new WorkToken("T", "T", holders, amounts);
    }

    function permitDigest(address owner, address spender, uint256 value, uint256 nonce, uint256 deadline)
        internal
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, owner, spender, value, nonce, deadline));
        return keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
    }

    /* GENESIS */

    function test_Genesis_AllocatesFixedSupply() public view {
        assertEq(token.name(), "peerflow Work Token");
        assertEq(token.symbol(), "FLOW");
        assertEq(token.decimals(), 18);
        assertEq(token.totalSupply(), GENESIS_SUPPLY);
        assertEq(token.balanceOf(address(this)), 10_000_000 ether);
    }

    function test_Genesis_MintsToEachHolder() public {
        vm.expectEmit();
        emit IERC20.Transfer(address(0), alice, 7);
        vm.expectEmit();
        emit IERC20.Transfer(address(0), bob, 9);
        WorkToken t = genesis(alice, 7, bob, 9);
        assertEq(t.balanceOf(alice), 7);
        assertEq(t.balanceOf(bob), 9);
        assertEq(t.totalSupply(), 16);
        assertEq(t.minter(), address(0));
    }

    function test_Genesis_EmptyAllocation() public {
        WorkToken t = new WorkToken("T", "T", new address[](0), new uint256[](0));
        assertEq(t.totalSupply(), 0);
    }

    function test_RevertWhen_GenesisLengthsDiffer() public {
        address[] memory holders = new address[](2);
        uint256[] memory amounts = new uint256[](1);
        vm.expectRevert(abi.encodeWithSelector(IWorkToken.GenesisLengthMismatch.selector, 2, 1));
        new WorkToken("T", "T", holders, amounts);
    }

    /* SET MINTER */

    function test_SetMinter_ByDeployerOnce() public {
        WorkToken t = genesis(alice, 1, bob, 1);
        vm.expectEmit(address(t));
        emit IWorkToken.MinterSet(bob);
        t.setMinter(bob);
        assertEq(t.minter(), bob);
        vm.expectRevert(abi.encodeWithSelector(IWorkToken.MinterAlreadySetOrNotDeployer.selector, address(this)));
        t.setMinter(alice);
    }

    function test_RevertWhen_SetMinterNotDeployer() public {
        WorkToken t = genesis(alice, 1, bob, 1);
        vm.expectRevert(abi.encodeWithSelector(IWorkToken.MinterAlreadySetOrNotDeployer.selector, alice));
        vm.prank(alice);
        t.setMinter(alice);
    }

    function test_RevertWhen_SetMinterZero() public {
        WorkToken t = genesis(alice, 1, bob, 1);
        vm.expectRevert(IWorkToken.ZeroMinter.selector);
        t.setMinter(address(0));
    }

    function test_RevertWhen_SetMinterAgainOnDeployment() public {
        assertEq(token.minter(), address(minter));
        vm.expectRevert(abi.encodeWithSelector(IWorkToken.MinterAlreadySetOrNotDeployer.selector, address(this)));
        token.setMinter(address(this));
        vm.expectRevert(abi.encodeWithSelector(IWorkToken.MinterAlreadySetOrNotDeployer.selector, address(minter)));
        vm.prank(address(minter));
        token.setMinter(address(this));
    }

    /* MINT */

    function test_Mint_ByMinter() public {
        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(0), alice, 5 ether);
        vm.prank(address(minter));
        token.mint(alice, 5 ether);
        assertEq(token.balanceOf(alice), 5 ether);
        assertEq(token.totalSupply(), GENESIS_SUPPLY + 5 ether);
    }

    function test_RevertWhen_MintNotMinter() public {
        vm.expectRevert(abi.encodeWithSelector(IWorkToken.NotMinter.selector, address(this)));
        token.mint(alice, 1);
        vm.expectRevert(abi.encodeWithSelector(IWorkToken.NotMinter.selector, address(staking)));
        vm.prank(address(staking));
        token.mint(alice, 1);
    }

    function test_RevertWhen_MintBeforeMinterSet() public {
        WorkToken t = genesis(alice, 1, bob, 1);
        vm.expectRevert(abi.encodeWithSelector(IWorkToken.NotMinter.selector, address(this)));
        t.mint(alice, 1);
    }

    /* BURN */

    function test_Burn_ReducesBalanceAndSupply() public {
        give(alice, 10 ether);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(alice, address(0), 4 ether);
        vm.prank(alice);
        token.burn(4 ether);
        assertEq(token.balanceOf(alice), 6 ether);
        assertEq(token.totalSupply(), GENESIS_SUPPLY - 4 ether);
    }

    function test_RevertWhen_BurnMoreThanBalance() public {
        give(alice, 1 ether);
        vm.expectRevert(erc20InsufficientBalance(alice, 1 ether, 1 ether + 1));
        vm.prank(alice);
        token.burn(1 ether + 1);
    }

    function test_BurnFrom_UsesAllowance() public {
        give(alice, 10 ether);
        vm.prank(alice);
        token.approve(bob, 3 ether);
        vm.prank(bob);
        token.burnFrom(alice, 3 ether);
        assertEq(token.balanceOf(alice), 7 ether);
        assertEq(token.allowance(alice, bob), 0);
        assertEq(token.totalSupply(), GENESIS_SUPPLY - 3 ether);
        vm.expectRevert(erc20InsufficientAllowance(bob, 0, 1));
        vm.prank(bob);
        token.burnFrom(alice, 1);
    }

    /* ERC-20 */

    function test_TransferAndTransferFrom() public {
        give(alice, 10 ether);
        vm.prank(alice);
        assertTrue(token.transfer(bob, 4 ether));
        vm.prank(bob);
        token.approve(alice, 1 ether);
        vm.prank(alice);
        assertTrue(token.transferFrom(bob, alice, 1 ether));
        assertEq(token.balanceOf(alice), 7 ether);
        assertEq(token.balanceOf(bob), 3 ether);
    }

    /* PERMIT */

    function test_Permit_SetsAllowanceFromSignature() public {
        give(alice, 10 ether);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(aliceKey, permitDigest(alice, bob, 6 ether, 0, deadline));
        vm.expectEmit(address(token));
        emit IERC20.Approval(alice, bob, 6 ether);
        token.permit(alice, bob, 6 ether, deadline, v, r, s);
        assertEq(token.allowance(alice, bob), 6 ether);
        assertEq(token.nonces(alice), 1);

        vm.prank(bob);
        assertTrue(token.transferFrom(alice, bob, 6 ether));
        assertEq(token.balanceOf(bob), 6 ether);
    }

    function test_Permit_LetsStakingPullABond() public {
        address o = newOrchestrator("o", 1 ether, 0, 0);
        give(alice, 10 ether);
        uint256 deadline = block.timestamp;
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(aliceKey, permitDigest(alice, address(staking), 10 ether, 0, deadline));
        token.permit(alice, address(staking), 10 ether, deadline, v, r, s);
        vm.prank(alice);
        staking.bond(10 ether, o);
        assertEq(staking.pendingStake(alice), 10 ether);
    }

    function test_RevertWhen_PermitExpired() public {
        vm.warp(1000);
        uint256 deadline = 999;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(aliceKey, permitDigest(alice, bob, 1, 0, deadline));
        vm.expectRevert(abi.encodeWithSignature("ERC2612ExpiredSignature(uint256)", deadline));
        token.permit(alice, bob, 1, deadline, v, r, s);
    }

    function test_RevertWhen_PermitSignedByAnotherKey() public {
        (address eve, uint256 eveKey) = makeAddrAndKey("eve");
        uint256 deadline = block.timestamp;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(eveKey, permitDigest(alice, bob, 1, 0, deadline));
        vm.expectRevert(abi.encodeWithSignature("ERC2612InvalidSigner(address,address)", eve, alice));
        token.permit(alice, bob, 1, deadline, v, r, s);
    }

    function test_RevertWhen_PermitReplayed() public {
        uint256 deadline = block.timestamp;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(aliceKey, permitDigest(alice, bob, 1, 0, deadline));
        token.permit(alice, bob, 1, deadline, v, r, s);
        // the nonce moved on: the same signature now recovers to some other address
        vm.expectPartialRevert(bytes4(keccak256("ERC2612InvalidSigner(address,address)")));
        token.permit(alice, bob, 1, deadline, v, r, s);
    }

    function test_Permit_DomainIsNameVersionChainAndToken() public view {
        bytes32 expected = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("peerflow Work Token"),
                keccak256("1"),
                block.chainid,
                address(token)
            )
        );
        assertEq(token.DOMAIN_SEPARATOR(), expected);
    }
}
