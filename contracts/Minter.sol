// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IMinter} from "./interfaces/IMinter.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {IWorkToken} from "./interfaces/IWorkToken.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title Minter
/// @notice The only minter of the work token after genesis: per-round inflation toward a target
///         bonding rate, a governable share of it to the treasury (up to a ceiling), the rest paid out
///         through Staking.reward().
/// @dev Mint invariants: in a round, treasury share + rewards ≤ the round's inflation (`mintable`);
///      the treasury share never takes the treasury's balance above `treasuryBalanceCeiling`.
contract Minter is IMinter, Ownable2Step {
    using SafeCast for uint256;
    /* CONSTANTS */

    uint256 internal constant PPB = 1_000_000_000;
    /// @inheritdoc IMinter
    uint256 public constant MAX_TREASURY_REWARD_CUT_RATE = PPB / 2;

    /* IMMUTABLES */

    IWorkToken public immutable token;
    IStaking public immutable staking;

    /* STORAGE */

    /// @inheritdoc IMinter
    uint128 public currentMintable;
    /// @inheritdoc IMinter
    uint128 public currentMinted;
    /// @inheritdoc IMinter
    uint64 public inflation;
    /// @dev Last initialized round plus one (zero: none yet).
    uint64 internal _initializedRoundPlusOne;
    uint64 internal _inflationChange;
    uint64 internal _targetBondingRate;
    /// @inheritdoc IMinter
    address public treasury;
    uint64 internal _treasuryRewardCutRate;
    /// @inheritdoc IMinter
    uint256 public treasuryBalanceCeiling;

    /* CONSTRUCTOR */

    /// @param token_ The work token (this contract must be set as its minter).
    /// @param staking_ The staking contract, the only caller of mintReward.
    /// @param inflation_ Initial inflation per round, parts per billion.
    /// @param inflationChange_ Per-round step toward the target, parts per billion.
    /// @param targetBondingRate_ Target bonded share of supply, parts per billion.
    /// @param owner_ Governance owner (rates and treasury); no treasury and a zero cut until it sets them.
    constructor(
        IWorkToken token_,
        IStaking staking_,
        uint256 inflation_,
        uint256 inflationChange_,
        uint256 targetBondingRate_,
        address owner_
    ) Ownable(owner_) {
        if (address(token_) == address(0) || address(staking_) == address(0)) {
            revert InvalidParameters();
        }
        if (inflation_ > PPB || inflationChange_ > PPB || targetBondingRate_ > PPB) revert InvalidParameters();
        token = token_;
        staking = staking_;
        inflation = uint64(inflation_);
        _inflationChange = uint64(inflationChange_);
        _targetBondingRate = uint64(targetBondingRate_);
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

    /* GOVERNANCE */

    /// @inheritdoc IMinter
    function setInflationChange(uint256 inflationChange_) external onlyOwner {
        if (inflationChange_ > PPB) revert RateOutOfBounds(inflationChange_, PPB);
        _inflationChange = uint64(inflationChange_);
        emit InflationChangeSet(inflationChange_);
    }

    /// @inheritdoc IMinter
    function setTargetBondingRate(uint256 targetBondingRate_) external onlyOwner {
        if (targetBondingRate_ > PPB) revert RateOutOfBounds(targetBondingRate_, PPB);
        _targetBondingRate = uint64(targetBondingRate_);
        emit TargetBondingRateSet(targetBondingRate_);
    }

    /// @inheritdoc IMinter
    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert ZeroTreasury();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    /// @inheritdoc IMinter
    function setTreasuryRewardCutRate(uint256 rate) external onlyOwner {
        if (rate > MAX_TREASURY_REWARD_CUT_RATE) revert RateOutOfBounds(rate, MAX_TREASURY_REWARD_CUT_RATE);
        if (rate != 0 && treasury == address(0)) revert TreasuryNotSet();
        _treasuryRewardCutRate = uint64(rate);
        emit TreasuryRewardCutRateSet(rate);
    }

    /// @inheritdoc IMinter
    function setTreasuryBalanceCeiling(uint256 ceiling) external onlyOwner {
        treasuryBalanceCeiling = ceiling;
        emit TreasuryBalanceCeilingSet(ceiling);
    }

    /* VIEWS */

    /// @inheritdoc IMinter
    function inflationChange() external view returns (uint256) {
        return _inflationChange;
    }

    /// @inheritdoc IMinter
    function targetBondingRate() external view returns (uint256) {
        return _targetBondingRate;
    }

    /// @inheritdoc IMinter
    function treasuryRewardCutRate() external view returns (uint256) {
        return _treasuryRewardCutRate;
    }

    /// @inheritdoc IMinter
    function lastInitializedRound() external view returns (uint256) {
        return _initializedRoundPlusOne == 0 ? 0 : _initializedRoundPlusOne - 1;
    }

    /// @inheritdoc IMinter
    function roundInitialized(uint256 round) external view returns (bool) {
        return _initializedRoundPlusOne == round + 1;
    }

    /* INTERNAL */

    /// @dev Moves inflation one step toward the target bonding rate, fixes the round's mintable and
    ///      mints the treasury's share (state written first; the token is fixed at construction).
    function _initialize(uint256 round) internal returns (bool) {
        if (_initializedRoundPlusOne == round + 1) return false;
        uint256 supply = token.totalSupply();
        uint256 bondingRate = supply == 0 ? 0 : staking.totalBonded() * PPB / supply;
        uint256 next = inflation;
        uint256 step = _inflationChange;
        uint256 target = _targetBondingRate;
        if (bondingRate < target) {
            next += step;
            if (next > PPB) next = PPB;
        } else if (bondingRate > target) {
            next = next > step ? next - step : 0;
        }
        uint256 mintable = supply * next / PPB;
        (address to, uint256 toTreasury) = _treasuryShare(round, mintable);
        inflation = uint64(next); // ≤ PPB
        currentMintable = (mintable - toTreasury).toUint128();
        currentMinted = 0;
        _initializedRoundPlusOne = uint64(round + 1);
        emit RoundInitialized(round, next, mintable, bondingRate);
        if (toTreasury > 0) {
            emit TreasuryRewardMinted(round, to, toTreasury);
            token.mint(to, toTreasury);
        }
        return true;
    }

    /// @dev The treasury's share of `mintable`: `rate` of it, capped at `ceiling − balance` (0 once the
    ///      balance is at or above the ceiling). When the balance reaches the ceiling with this share,
    ///      the rate is set to zero until governance sets it again. (A rate is non-zero only with a
    ///      treasury set.)
    function _treasuryShare(uint256 round, uint256 mintable) internal returns (address to, uint256 share) {
        uint256 rate = _treasuryRewardCutRate;
        if (rate == 0) return (address(0), 0);
        to = treasury;
        uint256 balance = token.balanceOf(to);
        uint256 ceiling = treasuryBalanceCeiling;
        uint256 room = ceiling > balance ? ceiling - balance : 0;
        share = mintable * rate / PPB;
        if (share > room) share = room;
        if (balance + share >= ceiling) {
            _treasuryRewardCutRate = 0;
            emit TreasuryCeilingReached(round, balance + share, ceiling);
            emit TreasuryRewardCutRateSet(0);
        }
    }
}
