// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IWorkToken
/// @notice ERC-20 work token with EIP-2612 permit; after genesis only the staking minter mints.
/// @dev The token is also an ERC20Votes token (IERC5805, block-number clock): a holder's balance votes
///      once it delegates (`delegate`, `delegateBySig`), to itself or to another account; nobody's does
///      before. Governance reads these votes, plus bonded stake, through VotePower.
interface IWorkToken is IERC20 {
    /// @notice Emitted once, when the deployer hands minting to the staking minter.
    event MinterSet(address indexed minter);

    /// @notice Holders and amounts passed to the constructor differ in length.
    error GenesisLengthMismatch(uint256 holders, uint256 amounts);
    /// @notice Only the deployer may set the minter, and only once.
    error MinterAlreadySetOrNotDeployer(address caller);
    /// @notice The minter cannot be the zero address.
    error ZeroMinter();
    /// @notice Only the minter may mint.
    error NotMinter(address caller);

    /// @notice The only address allowed to mint (the staking Minter).
    function minter() external view returns (address);

    /// @notice Sets the minter. Callable once, by the deployer.
    /// @param minter_ The staking Minter contract.
    function setMinter(address minter_) external;

    /// @notice Mints `amount` to `to`. Only the minter.
    function mint(address to, uint256 amount) external;

    /// @notice Burns `amount` of the caller's tokens.
    function burn(uint256 amount) external;
}
