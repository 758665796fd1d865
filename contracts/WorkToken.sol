// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IWorkToken} from "./interfaces/IWorkToken.sol";

/// @title WorkToken
/// @notice The peerflow work token: staked by orchestrators and delegators, minted as inflation by the
///         staking minter only. The genesis allocation (including vesting wallets) is fixed at deployment.
///         Held tokens vote (ERC20Votes, block-number clock) once their holder delegates them, to itself
///         or to another account; bonded tokens vote through Staking (see VotePower).
contract WorkToken is IWorkToken, ERC20, ERC20Permit, ERC20Votes, ERC20Burnable {
    /* STORAGE */

    /// @inheritdoc IWorkToken
    address public minter;
    /// @dev The deployer may set the minter exactly once; cleared afterwards.
    address private _minterSetter;

    /* CONSTRUCTOR */

    /// @param name_ Token name.
    /// @param symbol_ Token symbol.
    /// @param holders Genesis recipients (e.g. vesting wallets for team and treasury).
    /// @param amounts Genesis amounts, one per holder.
    constructor(string memory name_, string memory symbol_, address[] memory holders, uint256[] memory amounts)
        ERC20(name_, symbol_)
        ERC20Permit(name_)
    {
        if (holders.length != amounts.length) revert GenesisLengthMismatch(holders.length, amounts.length);
        for (uint256 i; i < holders.length; ++i) {
            _mint(holders[i], amounts[i]);
        }
        _minterSetter = msg.sender;
    }

    /* MINTING */

    /// @inheritdoc IWorkToken
    function setMinter(address minter_) external {
        if (msg.sender != _minterSetter) revert MinterAlreadySetOrNotDeployer(msg.sender);
        if (minter_ == address(0)) revert ZeroMinter();
        _minterSetter = address(0);
        minter = minter_;
        emit MinterSet(minter_);
    }

    /// @inheritdoc IWorkToken
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        _mint(to, amount);
    }

    /// @inheritdoc IWorkToken
    function burn(uint256 amount) public override(IWorkToken, ERC20Burnable) {
        super.burn(amount);
    }

    /* OVERRIDES */

    /// @dev Balances move, then the votes of the holders' delegates (ERC20Votes).
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }

    /// @dev One nonce per owner, shared by permit and delegateBySig.
    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
