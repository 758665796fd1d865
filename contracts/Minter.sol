// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IMinter} from "./interfaces/IMinter.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {IWorkToken} from "./interfaces/IWorkToken.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title Minter
/// @notice The only minter of the work token after genesis: per-round inflation toward a target
///         bonding rate, paid out through Staking.reward().
contract Minter is IMinter {
    using SafeCast for uint256;
    /* CONSTANTS */

    uint256 internal constant PPB = 1_000_000_000;

    /* IMMUTABLES */

    IWorkToken public immutable token;
    IStaking public immutable staking;
    /// @inheritdoc IMinter
    uint256 public immutable inflationChange;
    /// @inheritdoc IMinter
    uint256 public immutable targetBondingRate;

    /* STORAGE */

    /// @inheritdoc IMinter
    uint128 public currentMintable;
    /// @inheritdoc IMinter
    uint128 public currentMinted;
    /// @inheritdoc IMinter
    uint64 public inflation;
    /// @dev Last initialized round plus one (zero: none yet).
    uint64 internal _initializedRoundPlusOne;

    /* CONSTRUCTOR */

    /// @param token_ The work token (this contract must be set as its minter).
    /// @param staking_ The staking contract, the only caller of mintReward.
    /// @param inflation_ Initial inflation per round, parts per billion.
    /// @param inflationChange_ Per-round step toward the target, parts per billion.
    /// @param targetBondingRate_ Target bonded share of supply, parts per billion.
    constructor(
        IWorkToken token_,
        IStaking staking_,
        uint256 inflation_,
        uint256 inflationChange_,
        uint256 targetBondingRate_
    ) {
        if (address(token_) == address(0) || address(staking_) == address(0)) revert InvalidParameters();
        if (inflation_ > PPB || inflationChange_ > PPB || targetBondingRate_ > PPB) revert InvalidParameters();
        token = token_;
        staking = staking_;
        inflation = uint64(inflation_);
        inflationChange = inflationChange_;
        targetBondingRate = targetBondingRate_;
    }

    /* ROUNDS */

    /// @inheritdoc IMinter
    function initializeRound() external {
        uint256 round = staking.currentRound();
        if (!_initialize(round)) revert RoundAlreadyInitialized(round);
    }

    /* MINTING */

    /// @inheritdoc IMinter
    function mintReward(uint256 stake, uint256 totalStake) external returns (uint256 minted) {
        if (msg.sender != address(staking)) revert NotStaking(msg.sender);
        uint256 round = staking.currentRound();
        _initialize(round);
        if (totalStake == 0) return 0;
        minted = currentMintable * stake / totalStake;
        uint256 total = currentMinted + minted;
        if (total > currentMintable) revert MintableExceeded(round, total, currentMintable);
        currentMinted = uint128(total);
        emit RewardMinted(round, msg.sender, minted);
        if (minted > 0) token.mint(msg.sender, minted);
    }

    /* VIEWS */

    /// @inheritdoc IMinter
    function lastInitializedRound() external view returns (uint256) {
        return _initializedRoundPlusOne == 0 ? 0 : _initializedRoundPlusOne - 1;
    }

    /// @inheritdoc IMinter
    function roundInitialized(uint256 round) external view returns (bool) {
        return _initializedRoundPlusOne == round + 1;
    }

    /* INTERNAL */

    /// @dev Moves inflation one step toward the target bonding rate and fixes the round's mintable.
    function _initialize(uint256 round) internal returns (bool) {
        if (_initializedRoundPlusOne == round + 1) return false;
        uint256 supply = token.totalSupply();
        uint256 bondingRate = supply == 0 ? 0 : staking.totalBonded() * PPB / supply;
        uint256 next = inflation;
        if (bondingRate < targetBondingRate) {
            next += inflationChange;
            if (next > PPB) next = PPB;
        } else if (bondingRate > targetBondingRate) {
            next = next > inflationChange ? next - inflationChange : 0;
        }
        uint256 mintable = supply * next / PPB;
        inflation = uint64(next); // ≤ PPB
        currentMintable = mintable.toUint128();
        currentMinted = 0;
        _initializedRoundPlusOne = uint64(round + 1);
        emit RoundInitialized(round, next, mintable, bondingRate);
        return true;
    }
}
