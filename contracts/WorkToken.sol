// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {IWorkToken} from "./interfaces/IWorkToken.sol";

/// @title WorkToken
/// @notice The peerflow work token: staked by orchestrators and delegators, minted as inflation by the
///         staking minter only. The genesis allocation (including vesting wallets) is fixed at deployment.
contract WorkToken is IWorkToken, ERC20, ERC20Permit, ERC20Burnable {
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
}
