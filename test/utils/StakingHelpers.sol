// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "./Fixture.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice Helpers shared by the Staking, Minter and WorkToken tests: fee payments through real
///         ticket redemptions, filling the active set, owner-error encoding and constants.
abstract contract StakingHelpers is Fixture {
    uint256 internal constant PPM = 1_000_000;
    uint256 internal constant PPB = 1_000_000_000;
    uint256 internal constant PRECISION = 1e27;
    /// @dev Genesis supply: 10M liquid + 2M team + 3M treasury.
    uint256 internal constant GENESIS_SUPPLY = 15_000_000 ether;
    /// @dev Minter parameters of the deployment (ppb).
    uint256 internal constant INFLATION = 218_500;
    uint256 internal constant INFLATION_CHANGE = 500;
    uint256 internal constant TARGET_BONDING_RATE = 500_000_000;

    address internal bcast;
    uint256 internal bcastKey;
    mapping(address recipient => uint256) internal ticketNonce;

    function setUp() public virtual override {
        super.setUp();
        (bcast, bcastKey) = makeAddrAndKey("broadcaster");
    }

    /* TICKETS */

    /// @dev Funds the broadcaster's deposit with `faceValue` and returns a winning ticket for `recipient`
    ///      created in the current round. Tickets to one recipient must be redeemed in creation order.
    function signedTicket(address recipient, uint256 faceValue) internal returns (ITicketBroker.SignedTicket memory) {
        fundSender(bcast, faceValue, 0);
        uint256 nonce = ticketNonce[recipient]++;
        bytes32 rand = keccak256(abi.encode(recipient, nonce));
        return sign(bcastKey, ticketFor(recipient, bcast, faceValue, nonce, rand), rand);
    }

    function redeem(address recipient, ITicketBroker.SignedTicket memory st) internal {
        vm.prank(recipient);
        broker.redeemWinningTicket(st);
    }

    /// @dev Pays `faceValue` of fees to `orchestrator` through a redeemed ticket.
    function payFees(address orchestrator, uint256 faceValue) internal {
        redeem(orchestrator, signedTicket(orchestrator, faceValue));
    }

    /* ACCOUNTS */

    /// @dev Gives `who` tokens and approves Staking for them.
    function fund(address who, uint256 amount) internal {
        give(who, amount);
        vm.prank(who);
        token.approve(address(staking), amount);
    }

    /// @dev `n` registered orchestrators with `stake` each (rates 0/0), named `prefix`0..n-1.
    function fillOrchestrators(string memory prefix, uint256 n, uint256 stake) internal returns (address[] memory os) {
        os = new address[](n);
        for (uint256 i; i < n; ++i) {
            os[i] = newOrchestrator(string.concat(prefix, vm.toString(i)), stake, 0, 0);
        }
    }

    function inActiveSet(address o) internal view returns (bool) {
        address[] memory set = staking.activeSet();
        for (uint256 i; i < set.length; ++i) {
            if (set[i] == o) return true;
        }
        return false;
    }

    /// @dev Rolls to `offset` blocks into the current round.
    function rollToOffset(uint256 offset) internal {
        uint256 r = staking.currentRound();
        vm.roll(staking.startBlock() + r * params.roundLength + offset);
    }

    /* ERRORS FROM OPENZEPPELIN */

    function ownableUnauthorized(address account) internal pure returns (bytes memory) {
        return abi.encodeWithSignature("OwnableUnauthorizedAccount(address)", account);
    }

    function erc20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)
        internal
        pure
        returns (bytes memory)
    {
        return
            abi.encodeWithSignature("ERC20InsufficientAllowance(address,uint256,uint256)", spender, allowance, needed);
    }

    function erc20InsufficientBalance(address sender, uint256 balance, uint256 needed)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodeWithSignature("ERC20InsufficientBalance(address,uint256,uint256)", sender, balance, needed);
    }
}
